//! `echo-upstream [--port N]`: the echo upstream as a standalone process, for `make run`, where
//! Envoy's `upstream` cluster points at 127.0.0.1:8081. Every request is answered with a JSON echo
//! of what arrived, so a person trying roomgate by hand sees what Envoy forwarded.

use std::process::ExitCode;
use std::thread;

use roomgate_tests::upstream::EchoUpstream;

const USAGE: &str = "usage: echo-upstream [--port N]   (default 8081)";

fn parse_port(args: &[String]) -> Result<u16, String> {
    let mut port = 8081;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = if arg == "--port" {
            args.next()
                .ok_or_else(|| "--port needs a value".to_string())?
        } else if let Some(v) = arg.strip_prefix("--port=") {
            v
        } else if arg == "-h" || arg == "--help" {
            return Err(USAGE.into());
        } else {
            return Err(format!("unknown argument {arg:?}\n{USAGE}"));
        };
        port = value
            .parse()
            .map_err(|_| format!("bad port {value:?}\n{USAGE}"))?;
    }
    Ok(port)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = match parse_port(&args) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let upstream = match EchoUpstream::start(port) {
        Ok(upstream) => upstream,
        Err(e) => {
            eprintln!("echo-upstream: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("echo-upstream listening on 127.0.0.1:{}", upstream.port());
    loop {
        thread::park();
    }
}
