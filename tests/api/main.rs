//! One integration-test binary: each test starts the real app on port 0 with a
//! fresh database, on SQLite and (when reachable) on PostgreSQL.

mod helpers;

mod accounts;
mod authorization;
mod cli;
mod hardening;
mod instances;
mod oauth;
mod org_tokens;
mod orgs;
mod pages;
mod people;
mod scopes;
mod spec;
mod token_lifecycle;
mod tokens;
mod two_factor;
