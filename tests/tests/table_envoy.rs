//! The behaviour table through the built roomgate.wasm inside a real Envoy (V8).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::hosts::EnvoyHost;
use roomgate_tests::table::cases;

#[test]
fn every_case_of_the_behaviour_table_holds_in_envoy() {
    let mut host = EnvoyHost::new().unwrap();
    roomgate_tests::table::run_all(&cases(), &mut host).unwrap_or_else(|e| panic!("{e}"));
}
