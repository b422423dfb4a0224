//! `make bench`: prints the wasmtime fuel each main path through roomgate.wasm costs, as a
//! Markdown table, on the Envoy profile and in strict nginx mode.

use roomgate_harness::fuel::{configure_fuel, fuel_report_with, markdown};
use roomgate_harness::{Harness, Profile};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fuel: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), roomgate_harness::Error> {
    let base = Harness::load()?;
    println!("## roomgate.wasm: wasmtime fuel per request (1 unit ≈ 1 wasm instruction)\n");
    println!("{}", markdown(&fuel_report_with(&base)?));
    println!("Strict nginx profile:\n");
    println!(
        "{}",
        markdown(&fuel_report_with(&base.clone().profile(Profile::NgxWasm))?)
    );
    println!("Start + configure, per example:\n");
    println!("| config | fuel |\n|---|---:|");
    for (name, fuel) in configure_fuel(&base)? {
        println!("| {name} | {fuel} |");
    }
    Ok(())
}
