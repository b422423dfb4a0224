//! Work before the signature check is linear in the token's size: an unauthenticated client must
//! not be able to buy quadratic work with a wide JOSE header. Measured in wasmtime fuel (exact,
//! machine-independent), as a ratio: doubling the header's members may at most about double the
//! request's cost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_harness::Harness;
use roomgate_tests::attacks::wide_header_token;
use roomgate_tests::table::{self, OTHER_SECRET};

const AT: i64 = 1_800_000_000;

fn fuel_for(keys: usize) -> u64 {
    let config = table::config("attack-jitsi-wide").unwrap();
    let mut vm = Harness::load()
        .unwrap()
        .envs(table::env("attack-jitsi-wide"))
        .at(AT)
        .configure(&config)
        .unwrap();
    let token = wide_header_token(keys, OTHER_SECRET, AT);
    let auth = format!("Bearer {token}");
    let mut fuel = 0;
    // The second request is the steady state (the first also pays one-time allocations).
    for _ in 0..2 {
        let ex = vm
            .get("/standup")
            .headers([("authorization", auth.as_str())])
            .send()
            .unwrap();
        assert_eq!(ex.status(), Some(401), "{keys} keys");
        fuel = ex.fuel.total;
    }
    fuel
}

#[test]
fn a_wide_jose_header_costs_linear_work_before_the_signature_check() {
    let (small, large) = (fuel_for(1000), fuel_for(2000));
    println!("fuel: 1000 header members {small}, 2000 members {large}");
    // Linear: ~2x. The duplicate-key scan this replaces was quadratic (~4x here, ~30x at 8 KiB).
    assert!(
        large * 10 <= small * 25,
        "2000 members cost {large} fuel, 1000 cost {small}: more than 2.5x"
    );
}
