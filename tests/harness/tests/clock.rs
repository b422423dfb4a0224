//! Expiry, not-before and clock skew at exact instants: the harness owns the clock the filter
//! reads (`proxy_get_current_time_nanoseconds`), so no test sleeps and every edge is the edge.
//! The Jitsi example uses the default 30-second leeway.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_harness::fuel::sign_jwt;
use roomgate_harness::{Harness, Vm};
use roomgate_tests::table::{self, JITSI_SECRET};
use serde_json::{json, Value};

type R = Result<(), Box<dyn std::error::Error>>;

const T: i64 = 1_800_000_000;
const LEEWAY: i64 = 30;

fn vm() -> Vm {
    Harness::load()
        .unwrap_or_else(|e| panic!("{e}"))
        .envs(table::env("jitsi"))
        .at(T)
        .configure(&table::config("jitsi").unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn token(extra: Value) -> String {
    let mut claims =
        json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup"});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    sign_jwt(&claims, JITSI_SECRET).unwrap()
}

fn status_at(vm: &mut Vm, at: i64, token: &str) -> u16 {
    vm.at(at)
        .get(&format!("/standup?jwt={token}"))
        .send()
        .unwrap()
        .status()
        .unwrap()
}

#[test]
fn a_token_is_accepted_until_the_last_second_of_its_leeway_after_exp() -> R {
    let t = token(json!({"exp": T}));
    let mut vm = vm();
    assert_eq!(status_at(&mut vm, T, &t), 200);
    assert_eq!(status_at(&mut vm, T + LEEWAY - 1, &t), 200);
    vm.at(T + LEEWAY)
        .get(&format!("/standup?jwt={t}"))
        .send()?
        .expect_local(401)?
        .error("token_expired")?;
    Ok(())
}

#[test]
fn the_filter_reads_whole_seconds_so_the_last_nanosecond_before_expiry_still_passes() {
    let t = token(json!({"exp": T}));
    let mut vm = vm();
    let edge = u64::try_from(T + LEEWAY).unwrap() * 1_000_000_000;
    vm.at_nanos(edge - 1);
    let before = vm.get(&format!("/standup?jwt={t}")).send().unwrap();
    assert_eq!(before.status(), Some(200));
    vm.at_nanos(edge);
    let at = vm.get(&format!("/standup?jwt={t}")).send().unwrap();
    assert_eq!(at.status(), Some(401));
}

#[test]
fn a_token_whose_nbf_is_within_the_leeway_is_accepted_and_one_second_more_is_not() -> R {
    let t = token(json!({"nbf": T, "exp": T + 600}));
    let mut vm = vm();
    assert_eq!(status_at(&mut vm, T - LEEWAY, &t), 200);
    vm.at(T - LEEWAY - 1)
        .get(&format!("/standup?jwt={t}"))
        .send()?
        .expect_local(401)?
        .error("token_not_yet_valid")?;
    Ok(())
}

#[test]
fn a_token_issued_in_the_future_beyond_the_skew_is_not_yet_valid() -> R {
    let t = token(json!({"iat": T + LEEWAY + 1, "exp": T + 600}));
    let mut vm = vm();
    vm.at(T)
        .get(&format!("/standup?jwt={t}"))
        .send()?
        .expect_local(401)?
        .error("token_not_yet_valid")?;
    assert_eq!(status_at(&mut vm, T + 1, &t), 200);
    Ok(())
}

#[test]
fn the_same_vm_follows_the_clock_forward_and_back() {
    let t = token(json!({"exp": T + 100}));
    let mut vm = vm();
    assert_eq!(status_at(&mut vm, T, &t), 200);
    vm.advance(200);
    assert_eq!(vm.now(), T + 200);
    assert_eq!(
        vm.get(&format!("/standup?jwt={t}"))
            .send()
            .unwrap()
            .status(),
        Some(401)
    );
    vm.advance(-200);
    assert_eq!(
        vm.get(&format!("/standup?jwt={t}"))
            .send()
            .unwrap()
            .status(),
        Some(200)
    );
}

#[test]
fn a_lifetime_one_second_over_the_maximum_is_refused_whatever_the_clock() {
    let ok = token(json!({"iat": T, "exp": T + 86_400}));
    let long = token(json!({"iat": T, "exp": T + 86_401}));
    let mut vm = vm();
    assert_eq!(status_at(&mut vm, T, &ok), 200);
    assert_eq!(status_at(&mut vm, T, &long), 401);
}
