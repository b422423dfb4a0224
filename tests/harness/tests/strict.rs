//! nginx portability: in strict mode the harness offers only what Kong's ngx_wasm_module
//! implements, so a filter that calls anything else traps here as it would there. These tests
//! show the filter stays inside that set on every path, and that the strict host really does
//! refuse the missing functions (or the table passing in strict mode would prove nothing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_harness::profile::{METRIC_FUNCTIONS, NGX_WASM_MISSING};
use roomgate_harness::table_host::HarnessHost;
use roomgate_harness::{Error, Harness, Profile};
use roomgate_tests::table::{self, cases};

const NOW: i64 = 1_800_000_000;

#[test]
fn the_strict_profile_refuses_exactly_the_functions_ngx_wasm_module_lacks() {
    for f in NGX_WASM_MISSING {
        assert!(Profile::Envoy.implements(f));
        assert!(!Profile::NgxWasm.implements(f), "{f}");
    }
    for f in [
        "proxy_log",
        "proxy_send_local_response",
        "proxy_replace_header_map_value",
        "proxy_get_current_time_nanoseconds",
        "proxy_define_metric",
        "proxy_http_call",
    ] {
        assert!(Profile::NgxWasm.implements(f), "{f}");
    }
    for f in METRIC_FUNCTIONS {
        assert!(!Profile::NgxWasmLegacy.implements(f), "{f}");
    }
}

#[test]
fn a_host_function_missing_in_nginx_traps_when_called_in_strict_mode() {
    let h = Harness::load()
        .unwrap()
        .profile(Profile::NgxWasmLegacy)
        .envs(table::env("jitsi"))
        .at(NOW);
    // roomgate defines its counters in on_configure: ngx_wasm_module up to 0.3.0 traps there.
    match h.configure(&table::config("jitsi").unwrap()) {
        Err(Error::Trapped { during, message }) => {
            assert_eq!(during, "proxy_on_configure");
            assert!(message.contains("proxy_define_metric"), "{message}");
        }
        other => panic!("expected a trap in on_configure, got {other:?}"),
    }
}

#[test]
fn no_table_case_calls_a_function_ngx_wasm_module_lacks() {
    let mut host = HarnessHost::new(Profile::NgxWasm, NOW).unwrap();
    for c in cases() {
        c.run(&mut host).unwrap_or_else(|e| panic!("{e}"));
    }
    for (config, vm) in host.vms() {
        assert!(vm.failure().is_none(), "{config}: {:?}", vm.failure());
        for name in vm.trace().names() {
            assert!(
                !NGX_WASM_MISSING.contains(&name),
                "{config}: calls {name}, which traps on nginx"
            );
        }
    }
}

#[test]
fn the_headers_phase_reports_no_end_of_stream_in_strict_mode() {
    assert!(Profile::Envoy.headers_end_of_stream(false));
    assert!(!Profile::NgxWasm.headers_end_of_stream(false));
    assert!(!Profile::NgxWasm.headers_end_of_stream(true));
}

#[test]
fn header_names_keep_the_clients_spelling_in_strict_mode_and_the_filter_still_finds_them() {
    let mut vm = Harness::load()
        .unwrap()
        .strict()
        .envs(table::env("multi-layer"))
        .at(NOW)
        .configure(&table::config("multi-layer").unwrap())
        .unwrap();
    let ex = vm
        .get("/api/rooms/room9/state")
        .header("Authorization", &format!("Bearer {}", table::GLOBAL_TOKEN))
        .send()
        .unwrap();
    assert!(ex.request.iter().any(|(k, _)| k == "Authorization"));
    ex.expect_continue()
        .unwrap()
        .no_header("authorization")
        .unwrap()
        .header("x-roomgate-room", "room9")
        .unwrap();
}

/// The `:path` rule of ngx_wasm_module up to prerelease-0.5.0 (`ngx_proxy_wasm_maps_set_path`):
/// setting `:path` changes `$uri` only — the query string, token included, still goes upstream —
/// and a value with `?` traps. roomgate never sets `:path` on nginx: it strips query tokens
/// through the `request.query` property (`$args`), so the table holds under that rule too.
#[test]
fn every_case_of_the_behaviour_table_holds_under_nginx_path_rules() {
    let base = Harness::load().unwrap().strict().ngx_paths(true);
    let mut host = HarnessHost::with(base, NOW);
    roomgate_tests::table::run_all(&cases(), &mut host).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn under_nginx_path_rules_a_query_token_is_stripped_through_request_query_without_a_trap() {
    let mut vm = Harness::load()
        .unwrap()
        .strict()
        .ngx_paths(true)
        .envs(table::env("jitsi"))
        .at(NOW)
        .configure(&table::config("jitsi").unwrap())
        .unwrap();
    let claims = serde_json::json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup",
                                    "exp": NOW + 600});
    let t = roomgate_harness::fuel::sign_jwt(&claims, table::JITSI_SECRET).unwrap();
    let ex = vm
        .get(&format!("/xmpp-websocket?room=standup&token={t}"))
        .send()
        .unwrap();
    let names = ex.trace.names();
    assert!(names.contains(&"proxy_set_property"), "{names:?}");
    ex.expect_continue()
        .unwrap()
        .path("/xmpp-websocket?room=standup")
        .unwrap()
        .nowhere(&t)
        .unwrap();
    assert_eq!(vm.restarts(), 0);
}

fn jitsi_vm(base: Harness) -> roomgate_harness::Vm {
    base.envs(table::env("jitsi"))
        .at(NOW)
        .configure(&table::config("jitsi").unwrap())
        .unwrap()
}

/// nginx's `ignore_invalid_headers on` (its default, kept by the shipped example) drops a header
/// line whose name is not a token before any filter runs (measured: 200 through a real nginx).
#[test]
fn a_header_name_that_is_not_utf8_never_reaches_the_filter_under_the_shipped_example() {
    let mut vm = jitsi_vm(Harness::load().unwrap().strict());
    let ex = vm
        .get("/libs/x.js")
        .raw_header(b"x-na\xffme", b"1")
        .send()
        .unwrap();
    ex.expect_continue().unwrap();
}

/// With `ignore_invalid_headers off` such a name reaches the module. The filter reads the header
/// map as bytes, names included (the proxy-wasm SDK's reader panics on such a name, which trapped
/// the VM and answered 500): the request is refused with 400 `bad_request`, like a value that is not
/// UTF-8, and the instance lives on.
#[test]
fn with_invalid_headers_kept_a_name_or_value_that_is_not_utf8_is_a_400_not_a_trap() {
    let mut vm = jitsi_vm(Harness::load().unwrap().strict().ngx_invalid_headers(false));
    for (name, value) in [(&b"x-na\xffme"[..], &b"1"[..]), (b"x-name", b"\xff")] {
        vm.get("/libs/x.js")
            .raw_header(name, value)
            .send()
            .unwrap()
            .expect_local(400)
            .unwrap()
            .error("bad_request")
            .unwrap();
    }
    // A guarded route too, with a valid token: still 400, never a trap.
    let claims = serde_json::json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup",
                                    "exp": NOW + 600});
    let jwt = roomgate_harness::fuel::sign_jwt(&claims, table::JITSI_SECRET).unwrap();
    vm.get(&format!("/xmpp-websocket?room=standup&token={jwt}"))
        .raw_header(b"X-\xc3(", b"1")
        .send()
        .unwrap()
        .expect_local(400)
        .unwrap();
    vm.get("/libs/x.js")
        .send()
        .unwrap()
        .expect_continue()
        .unwrap();
    assert_eq!(vm.restarts(), 0);
}
