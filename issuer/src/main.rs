//! The `issuer` binary: parse, run, map the outcome to an exit status (see `issuer --help`).

use clap::Parser as _;
use roomgate_issuer::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with status 2.
    let cli = Cli::parse();
    match roomgate_issuer::run(cli) {
        Ok(code) => code,
        Err(err) if roomgate_issuer::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("issuer: error: {err:#}");
            roomgate_issuer::exit_code(&err)
        }
    }
}
