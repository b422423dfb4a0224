//! The behaviour table through the native module (dist/libroomgate.so) inside a real Envoy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::hosts::EnvoyHost;
use roomgate_tests::table::cases;

#[test]
fn every_case_of_the_behaviour_table_holds_in_envoy_on_the_native_module() {
    let mut host = EnvoyHost::module().unwrap();
    roomgate_tests::table::run_all(&cases(), &mut host).unwrap_or_else(|e| panic!("{e}"));
}
