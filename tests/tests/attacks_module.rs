//! The attack corpus, and the byte-level attacks only an HTTP codec can receive
//! ([`roomgate_tests::codec`]), through the native module (dist/libroomgate.so) inside a real Envoy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::attacks;
use roomgate_tests::hosts::EnvoyHost;

#[test]
fn every_attack_gets_its_expected_status_in_envoy_on_the_native_module() {
    let mut host = EnvoyHost::module().unwrap();
    roomgate_tests::table::run_all(&attacks::cases(), &mut host).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn raw_bytes_an_http_codec_sees_are_refused_and_the_module_keeps_serving() {
    let mut host = EnvoyHost::module().unwrap();
    roomgate_tests::codec::raw_bytes_are_refused_and_the_filter_keeps_serving(&mut host)
        .unwrap_or_else(|e| panic!("{e}"));
}
