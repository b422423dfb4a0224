//! What the filter does behind the response, from the host-call trace: it never calls out, never
//! emits a token or a secret (logs, stdout/stderr, header edits, local responses), and when a host
//! call fails — a missing header map, a failing read or edit — the request is refused (the
//! filter's own 500, or a trap the proxy turns into a failure response), never let through.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_harness::abi::Status;
use roomgate_harness::fuel::sign_jwt;
use roomgate_harness::table_host::HarnessHost;
use roomgate_harness::{Exchange, Harness, Outcome, Profile, Vm};
use roomgate_tests::table::{self, cases, JITSI_SECRET};
use serde_json::json;

type R = Result<(), Box<dyn std::error::Error>>;

const NOW: i64 = 1_800_000_000;

/// The whole table, run on a host whose VMs are then inspected.
fn table_host(profile: Profile) -> HarnessHost {
    let mut host = HarnessHost::new(profile, NOW).unwrap_or_else(|e| panic!("{e}"));
    for c in cases() {
        c.run(&mut host).unwrap_or_else(|e| panic!("{e}"));
    }
    host
}

/// Secrets: every environment value named like a secret or token, and each token in
/// `room:token;…` lists.
fn secrets(config: &str) -> Vec<String> {
    table::env(config)
        .into_iter()
        .filter(|(k, _)| k.contains("SECRET") || k.contains("TOKEN"))
        .flat_map(|(_, v)| {
            let mut all = vec![v.clone()];
            all.extend(
                v.split(';')
                    .filter_map(|p| p.split_once(':').map(|(_, t)| t.to_owned())),
            );
            all
        })
        .filter(|s| s.len() >= 8)
        .collect()
}

/// Every token the table sends (rendering is deterministic).
fn tokens() -> Vec<String> {
    cases()
        .iter()
        .filter_map(|c| c.token.as_ref().map(|t| t.render(NOW)))
        .filter(|t| t.len() >= 8)
        .collect()
}

#[test]
fn no_table_case_makes_the_filter_call_out() {
    for profile in [Profile::Envoy, Profile::NgxWasm] {
        let host = table_host(profile);
        for (config, vm) in host.vms() {
            let outs = vm.trace().call_outs();
            assert!(
                outs.is_empty(),
                "{config} on {profile:?} called out: {outs:?}"
            );
        }
    }
}

#[test]
fn no_secret_appears_in_anything_the_filter_emits() {
    let host = table_host(Profile::Envoy);
    for (config, vm) in host.vms() {
        for secret in secrets(config) {
            let hits = vm.trace().mentioning(&secret);
            assert!(hits.is_empty(), "{config}: a secret in {hits:?}");
        }
    }
}

#[test]
fn no_token_appears_in_a_log_line_or_in_the_filters_output() {
    let host = table_host(Profile::Envoy);
    let tokens = tokens();
    assert!(tokens.len() > 20, "the table sends tokens");
    for (config, vm) in host.vms() {
        let output = vm.trace().output();
        for t in &tokens {
            for line in vm.logs() {
                assert!(
                    !line.message.contains(t.as_str()),
                    "{config}: token logged: {line:?}"
                );
            }
            assert!(
                !output.contains(t.as_str()),
                "{config}: token written to stdout/stderr"
            );
            let responses = vm.trace().named("proxy_send_local_response");
            for r in responses {
                assert!(
                    !r.text.contains(t.as_str()),
                    "{config}: token in a local response"
                );
            }
        }
    }
}

#[test]
fn every_denial_is_logged_once_with_its_reason() {
    let host = table_host(Profile::Envoy);
    let (_, vm) = host.vms().find(|(c, _)| *c == "jitsi").unwrap();
    let denials: Vec<_> = vm
        .logs()
        .into_iter()
        .filter(|l| l.message.starts_with("roomgate: denied"))
        .collect();
    let refused = vm.trace().named("proxy_send_local_response").count();
    assert_eq!(denials.len(), refused);
    assert!(denials.iter().all(|l| l.message.contains("reason=")));
}

fn jitsi() -> Vm {
    Harness::load()
        .unwrap_or_else(|e| panic!("{e}"))
        .envs(table::env("jitsi"))
        .at(NOW)
        .configure(&table::config("jitsi").unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn valid_link() -> String {
    let claims = json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup",
                        "exp": NOW + 600});
    format!("/standup?jwt={}", sign_jwt(&claims, JITSI_SECRET).unwrap())
}

/// A refusal the client sees as a failure: a local 4xx/5xx or the proxy's answer to a trap.
fn refused(ex: &Exchange) {
    ex.expect_refused().unwrap_or_else(|e| panic!("{e}"));
    assert!(ex.status().is_some_and(|s| s >= 400), "{:?}", ex.outcome);
}

#[test]
fn a_request_allowed_when_the_host_works_is_refused_when_reading_its_headers_fails() {
    let mut vm = jitsi();
    assert_eq!(vm.get(&valid_link()).send().unwrap().status(), Some(200));
    let mut vm = jitsi();
    vm.fail("proxy_get_header_map_pairs", Status::InternalFailure);
    refused(&vm.get(&valid_link()).send().unwrap());
}

#[test]
fn a_missing_request_header_map_refuses_the_request() {
    let mut vm = jitsi();
    refused(&vm.get(&valid_link()).without_header_map().send().unwrap());
}

#[test]
fn a_failing_header_edit_refuses_a_request_that_would_have_been_allowed() {
    // A bearer token: allowing it needs the identity headers added and Authorization removed; a
    // query token needs the target rewritten.
    let link = valid_link();
    let token = link.split_once("jwt=").unwrap().1.to_owned();
    let bearer = format!("Bearer {token}");
    let by_header = ("/standup", Some(bearer.as_str()));
    let by_query = (link.as_str(), None);
    for (f, (target, authorization)) in [
        ("proxy_add_header_map_value", by_header),
        ("proxy_remove_header_map_value", by_header),
        ("proxy_replace_header_map_value", by_query),
    ] {
        let send = |vm: &mut Vm| {
            let mut req = vm.get(target);
            if let Some(a) = authorization {
                req = req.header("authorization", a);
            }
            req.send().unwrap()
        };
        let ok = send(&mut jitsi());
        ok.expect_continue().unwrap();
        assert!(ok.trace.named(f).count() >= 1, "{f} is on the allow path");
        for status in [
            Status::InternalFailure,
            Status::BadArgument,
            Status::NotFound,
        ] {
            let mut vm = jitsi();
            vm.fail(f, status);
            refused(&send(&mut vm));
        }
    }
}

#[test]
fn a_failing_clock_refuses_the_request() {
    let mut vm = jitsi();
    vm.fail(
        "proxy_get_current_time_nanoseconds",
        Status::InternalFailure,
    );
    refused(&vm.get(&valid_link()).send().unwrap());
}

#[test]
fn a_trapping_host_call_fails_the_vm_and_every_later_request_is_refused() {
    let mut vm = jitsi();
    vm.trap_in("proxy_get_header_map_pairs");
    let ex = vm.get("/libs/x.js").send().unwrap();
    ex.expect_trap().unwrap();
    assert_eq!(ex.status(), Some(503));
    vm.heal();
    assert!(vm.failure().is_some());
    let later = vm.get("/libs/x.js").send().unwrap();
    refused(&later);
}

#[test]
fn a_failing_metric_increment_does_not_change_the_verdict() {
    let mut vm = jitsi();
    vm.fail("proxy_increment_metric", Status::NotFound);
    vm.get(&valid_link())
        .send()
        .unwrap()
        .expect_continue()
        .unwrap();
    vm.get("/xmpp-websocket?room=standup")
        .send()
        .unwrap()
        .expect_local(401)
        .unwrap();
}

#[test]
fn a_host_that_cannot_define_metrics_never_gets_a_plugin_that_lets_requests_through() {
    let config = table::config("jitsi").unwrap();
    for status in [Status::InternalFailure, Status::BadArgument] {
        let h = Harness::load()
            .unwrap()
            .envs(table::env("jitsi"))
            .at(NOW)
            .fail("proxy_define_metric", status);
        // Either the start fails (the SDK treats the status as fatal) or the plugin runs and
        // still checks every request.
        if let Ok(mut vm) = h.start(&config) {
            let ex = vm.get("/xmpp-websocket?room=standup").send().unwrap();
            refused(&ex);
        }
    }
}

#[test]
fn request_callbacks_run_in_the_request_context_not_the_root() -> R {
    let mut vm = jitsi();
    let ex = vm.get(&valid_link()).send()?;
    assert!(matches!(ex.outcome, Outcome::Continue { .. }));
    let contexts: Vec<u32> = ex.trace.calls().iter().map(|c| c.context).collect();
    assert!(!contexts.is_empty());
    assert!(contexts.iter().all(|c| *c >= 2), "{}", ex.trace);
    Ok(())
}
