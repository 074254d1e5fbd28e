use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    latchkey::server::cli::run(latchkey::server::config::Cli::parse()).await
}
