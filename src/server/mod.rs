//! Server-only infrastructure: configuration, database, sessions, HTTP wiring.

pub mod api;
pub mod api_error;
pub mod audit;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod form_errors;
pub mod html;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod request;
pub mod sealing;
pub mod security;
pub mod session_store;
pub mod startup;
pub mod state;
