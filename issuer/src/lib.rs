//! `issuer`: mints roomgate room tokens and join links, and checks them with the filter's engine.
//!
//! The binary is a thin `main`; everything lives here so tests can parse command lines
//! ([`cli::Cli`]) and call the modules directly. Every token is signed by
//! [`roomgate_filter::jwt::sign`] and every acceptance question is answered by
//! [`roomgate_filter::Gate::decide`], so issuer and filter share one claim model and one verifier.
//!
//! Exit status: 0 success (verify: accepted), 1 verify rejected / inspect cannot decode,
//! 2 usage or input error, 3 I/O error. See `issuer --help`.

pub mod cli;
pub mod config_cmd;
pub mod decode;
pub mod generate;
pub mod inspect;
pub mod ledger;
pub mod mint;
pub mod output;
pub mod platform;
pub mod profile;
pub mod revoke;
pub mod room_id;
pub mod secret;
pub mod time;
pub mod verify;

use clap::CommandFactory as _;
use cli::{Cli, Command, EXIT_IO, EXIT_USAGE};
use std::process::ExitCode;

/// Runs a parsed command line; `Ok` carries the exit status of a command that ran to its end.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let now = time::now();
    match cli.cmd {
        Command::Mint(a) => mint::run(&a, now),
        Command::RoomId(a) => generate::room_id(&a),
        Command::Secret(a) => generate::secret(&a),
        Command::StaticToken(a) => generate::static_token(&a),
        Command::Inspect(a) => inspect::run(&a, now),
        Command::Verify(a) => verify::run(&a, now),
        Command::Config(a) => config_cmd::run(&a),
        Command::Revoke(a) => revoke::run(&a, now),
        Command::Rooms(a) => ledger::run(&a, now),
        Command::Completions(a) => {
            let mut out = Vec::new();
            clap_complete::generate(a.shell, &mut Cli::command(), "issuer", &mut out);
            output::product(String::from_utf8_lossy(&out).trim_end())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether the error is stdout having been closed (`issuer … | head`): not worth a message.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit status for an error: 3 when reading or writing failed, 2 for everything else.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|e| e.is::<std::io::Error>()) {
        ExitCode::from(EXIT_IO)
    } else {
        ExitCode::from(EXIT_USAGE)
    }
}
