//! The attack corpus on the native engine, with a fixed clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::attacks;
use roomgate_tests::hosts::Native;
use roomgate_tests::table;

#[test]
fn every_attack_gets_its_expected_status_on_the_native_engine() {
    let mut host = Native::new(1_800_000_000);
    let cases = attacks::cases();
    roomgate_tests::table::run_all(&cases, &mut host).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_corpus_has_at_least_a_hundred_attacks_with_names_unique_across_both_tables() {
    let attacks = attacks::cases();
    assert!(attacks.len() >= 100, "{}", attacks.len());
    let mut names: Vec<&str> = attacks
        .iter()
        .chain(table::cases().iter())
        .map(|c| c.name)
        .collect::<Vec<_>>();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "duplicate case names");
}

#[test]
fn most_attacks_are_denials() {
    let attacks = attacks::cases();
    let denied = attacks.iter().filter(|c| c.status >= 400).count();
    assert!(
        denied * 10 >= attacks.len() * 8,
        "{denied} of {}",
        attacks.len()
    );
}
