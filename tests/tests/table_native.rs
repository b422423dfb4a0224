//! The behaviour table on the native engine, with a fixed clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::hosts::Native;
use roomgate_tests::table::cases;

#[test]
fn every_case_of_the_behaviour_table_holds_on_the_native_engine() {
    let mut host = Native::new(1_800_000_000);
    roomgate_tests::table::run_all(&cases(), &mut host).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn case_names_are_unique() {
    let mut names: Vec<&str> = cases().iter().map(|c| c.name).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n);
}
