//! A regression fence on the cost of each main path, in wasmtime fuel (instructions, exact and
//! machine-independent). The bounds are about five times what the paths cost when the fence was
//! set: they catch an accidental quadratic loop or per-request key setup, not noise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_harness::fuel::{fuel_report, markdown};

/// Whole-request fuel bounds (measured: 14 043, 33 415, 72 150, 127 409, 87 931, 65 746).
const BOUNDS: &[(&str, u64)] = &[
    ("public route", 75_000),
    ("static token allowed", 175_000),
    ("JWT allowed (token seen before)", 360_000),
    ("JWT allowed (first sight of the token)", 630_000),
    ("JWT denied (bad signature)", 470_000),
    ("JWT denied (wrong room)", 635_000),
];

#[test]
fn every_main_path_stays_under_its_fuel_fence() {
    let rows = fuel_report().unwrap_or_else(|e| panic!("{e}"));
    println!("{}", markdown(&rows));
    assert_eq!(rows.len(), BOUNDS.len());
    for (row, (name, bound)) in rows.iter().zip(BOUNDS) {
        assert_eq!(row.path, *name);
        assert!(
            row.total <= *bound,
            "{name}: {} fuel, over the fence of {bound}\n{}",
            row.total,
            markdown(&rows)
        );
        assert!(row.request_headers > 0 && row.request_headers <= row.total);
    }
}

#[test]
fn fuel_is_deterministic_across_runs() {
    let a = fuel_report().unwrap_or_else(|e| panic!("{e}"));
    let b = fuel_report().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
}
