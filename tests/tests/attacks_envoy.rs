//! The attack corpus through dist/roomgate.wasm inside a real Envoy (V8), and the byte-level
//! attacks only an HTTP codec can receive ([`roomgate_tests::codec`]): no 2xx, nothing reaches the
//! upstream, and the VM keeps serving afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::attacks;
use roomgate_tests::hosts::EnvoyHost;

#[test]
fn every_attack_gets_its_expected_status_in_envoy() {
    let mut host = EnvoyHost::new().unwrap();
    let cases = attacks::cases();
    roomgate_tests::table::run_all(&cases, &mut host).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn raw_bytes_an_http_codec_sees_are_refused_and_the_vm_keeps_serving() {
    let mut host = EnvoyHost::new().unwrap();
    roomgate_tests::codec::raw_bytes_are_refused_and_the_filter_keeps_serving(&mut host)
        .unwrap_or_else(|e| panic!("{e}"));
}
