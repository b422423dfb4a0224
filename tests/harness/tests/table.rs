//! The behaviour table and the attack corpus through the compiled filter on the harness, as Envoy
//! and as nginx.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_harness::table_host::HarnessHost;
use roomgate_harness::Profile;
use roomgate_tests::table::{cases, Case};

const NOW: i64 = 1_800_000_000;

fn run(profile: Profile) {
    run_cases(profile, &cases());
}

fn run_cases(profile: Profile, cases: &[Case]) {
    let mut host = HarnessHost::new(profile, NOW).unwrap_or_else(|e| panic!("{e}"));
    let result = if profile.is_nginx() {
        // As in a real nginx: the requests nginx refuses itself never reach the module.
        roomgate_tests::nginx::run_all(cases, &mut host)
    } else {
        roomgate_tests::table::run_all(cases, &mut host)
    };
    result.unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_case_of_the_behaviour_table_holds_on_the_harness_as_envoy() {
    run(Profile::Envoy);
}

#[test]
fn every_case_of_the_behaviour_table_holds_on_the_harness_in_strict_nginx_mode() {
    run(Profile::NgxWasm);
}

#[test]
fn every_attack_of_the_corpus_gets_its_status_on_the_harness_as_envoy() {
    run_cases(Profile::Envoy, &roomgate_tests::attacks::cases());
}

#[test]
fn every_attack_of_the_corpus_gets_its_status_on_the_harness_in_strict_nginx_mode() {
    run_cases(Profile::NgxWasm, &roomgate_tests::attacks::cases());
}
