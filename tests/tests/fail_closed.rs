//! roomgate fails closed inside Envoy: a trap in the filter refuses the request (and, without a
//! reload policy, every later one) instead of letting it through; a configuration that cannot be
//! used keeps the plugin, and the listener, from serving; no secret or token reaches any log line.
//!
//! The trap comes from a test-only build, `dist/roomgate-trap.wasm` (`--features test-trap`, built
//! here into target/trap if missing): a request carrying `x-roomgate-test-trap` executes
//! `unreachable`. The default build has no such hook, which is checked too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::attacks;
use roomgate_tests::envoy::{Envoy, EnvoyConfig};
use roomgate_tests::hosts::{drop_host_env_keys, EnvoyHost};
use roomgate_tests::table::{self, Host, Token};
use roomgate_tests::upstream::EchoUpstream;
use roomgate_tests::{http, repo_root};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TRAP_HEADER: &str = "x-roomgate-test-trap";

/// Builds dist/roomgate-trap.wasm once (separate target dir, so the default build is untouched).
fn trap_wasm() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    built
        .get_or_insert_with(|| {
            let args = [
                "--release",
                "--locked",
                "-p",
                "roomgate-filter",
                "--target",
                "wasm32-wasip1",
                "--features",
                "test-trap",
                "--target-dir",
                "target/trap",
            ];
            let wasm = "target/trap/wasm32-wasip1/release/roomgate_filter.wasm";
            roomgate_tests::support::build_test_artifact(&args, wasm, "dist/roomgate-trap.wasm")
                .unwrap_or_else(|e| panic!("building the trap wasm: {e}"))
        })
        .clone()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn token() -> String {
    Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup", "exp": "@now+600"}),
    }
    .render(now())
}

fn jitsi(upstream: &EchoUpstream, wasm: Option<&PathBuf>) -> EnvoyConfig {
    let mut cfg = EnvoyConfig::new(upstream.port())
        .unwrap()
        .plugin_config(&table::config("jitsi").unwrap())
        .mutate(drop_host_env_keys);
    for (k, v) in table::env("jitsi") {
        cfg = cfg.env(k, &v);
    }
    match wasm {
        Some(w) => cfg.wasm(w),
        None => cfg,
    }
}

/// Sets `failure_policy` (and a fast reload) on roomgate's plugin config.
fn failure_policy(policy: &'static str) -> impl FnOnce(&mut serde_json::Value) {
    move |v| {
        let filters = v
            .pointer_mut(
                "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters",
            )
            .and_then(serde_json::Value::as_array_mut)
            .unwrap();
        let cfg = filters
            .iter_mut()
            .find(|f| f["name"] == "roomgate")
            .and_then(|f| f.pointer_mut("/typed_config/config"))
            .unwrap();
        cfg["failure_policy"] = json!(policy);
        if let Some(o) = cfg.as_object_mut() {
            o.remove("fail_open");
        }
        if policy == "FAIL_RELOAD" {
            cfg["reload_config"] =
                json!({"backoff": {"base_interval": "0.01s", "max_interval": "0.05s"}});
        }
    }
}

#[test]
fn a_trap_inside_the_filter_refuses_the_request_and_every_later_one() {
    let wasm = trap_wasm();
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = Envoy::start(jitsi(&upstream, Some(&wasm))).unwrap();
    let t = token();
    let good = format!("/standup?jwt={t}");
    // The trap build is otherwise the real filter.
    assert_eq!(envoy.send("GET", &good, &[]).unwrap().status, 200);
    assert_eq!(
        envoy
            .send("GET", "/xmpp-websocket?room=standup", &[])
            .unwrap()
            .status,
        401
    );
    let served = upstream.request_count();

    let r = envoy.send("GET", &good, &[(TRAP_HEADER, "1")]).unwrap();
    assert!(r.status >= 500, "a trapped request got {}: {r:?}", r.status);
    assert!(r.echoed().is_none());
    // fail_open: false — the dead VM refuses everything after it, valid tokens and public paths
    // included; nothing reaches the upstream.
    for target in [good.as_str(), "/libs/app.js", "/"] {
        let r = envoy.send("GET", target, &[]).unwrap();
        assert!(r.status >= 500, "{target} after the trap got {}", r.status);
    }
    assert_eq!(upstream.request_count(), served);
    assert!(
        envoy.wait_for_log("unreachable", Duration::from_secs(10)),
        "no trap in the log:\n{}",
        envoy.logs()
    );
}

#[test]
fn with_fail_reload_a_trap_refuses_only_its_request_and_the_vm_comes_back() {
    let wasm = trap_wasm();
    let upstream = EchoUpstream::start(0).unwrap();
    let cfg = jitsi(&upstream, Some(&wasm)).mutate(failure_policy("FAIL_RELOAD"));
    let envoy = Envoy::start(cfg).unwrap();
    let t = token();
    let good = format!("/standup?jwt={t}");
    assert_eq!(envoy.send("GET", &good, &[]).unwrap().status, 200);
    let served = upstream.request_count();
    let r = envoy.send("GET", &good, &[(TRAP_HEADER, "1")]).unwrap();
    assert!(r.status >= 500, "a trapped request got {}", r.status);
    assert_eq!(
        upstream.request_count(),
        served,
        "the trapped request was forwarded"
    );
    // After the reload backoff, a fresh VM serves again, still enforcing.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = 0;
    while Instant::now() < deadline {
        last = envoy.send("GET", &good, &[]).unwrap().status;
        if last == 200 {
            break;
        }
        assert!(last >= 500, "while reloading: {last}");
        std::thread::yield_now();
    }
    assert_eq!(last, 200, "the VM did not come back");
    assert_eq!(
        envoy
            .send("GET", "/xmpp-websocket?room=standup", &[])
            .unwrap()
            .status,
        401
    );
    assert!(envoy.stat("wasm.roomgate.vm_reload_success").unwrap() >= Some(1));
}

#[test]
fn the_default_build_has_no_trap_hook() {
    let wasm = std::fs::read(repo_root().join("dist/roomgate.wasm")).unwrap();
    assert!(
        !wasm
            .windows(TRAP_HEADER.len())
            .any(|w| w == TRAP_HEADER.as_bytes()),
        "dist/roomgate.wasm contains the test trap"
    );
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = Envoy::start(jitsi(&upstream, None)).unwrap();
    let good = format!("/standup?jwt={}", token());
    let r = envoy.send("GET", &good, &[(TRAP_HEADER, "1")]).unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn an_unusable_configuration_keeps_envoy_from_serving_anything() {
    for (why, plugin) in [
        (
            "weak secret",
            json!({"jwt": {"keys": [{"secret": "short"}]},
                                "routes": [{"match": {"pattern": "/{room}"}, "kind": "room"}]}),
        ),
        ("not json", json!("{")),
        (
            "unknown field",
            json!({"jwt": {}, "default": "public", "rooms": {"wildcards": true}}),
        ),
        (
            "max_token_bytes out of range",
            json!({"jwt": {"keys": [{"secret_env": "JWT_APP_SECRET"}]},
                                "max_token_bytes": 100}),
        ),
    ] {
        let upstream = EchoUpstream::start(0).unwrap();
        let text = match &plugin {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let cfg = EnvoyConfig::new(upstream.port())
            .unwrap()
            .plugin_config(&text)
            .mutate(drop_host_env_keys)
            .env("JWT_APP_SECRET", table::JITSI_SECRET);
        let logs = Envoy::start_expect_failure(cfg).unwrap_or_else(|e| panic!("{why}: {e}"));
        assert!(
            logs.contains("roomgate: configuration rejected"),
            "{why}: {logs}"
        );
        assert_eq!(upstream.request_count(), 0, "{why}");
    }
}

#[test]
fn no_secret_or_token_appears_in_any_log_line_at_trace_level() {
    let mut host = EnvoyHost::new().unwrap();
    let cases: Vec<table::Case> = table::cases().into_iter().chain(attacks::cases()).collect();
    let mut configs: Vec<&str> = cases.iter().map(|c| c.config).collect();
    configs.sort_unstable();
    configs.dedup();
    // Every component, roomgate's VM included, at trace.
    for name in &configs {
        let admin = host.envoy(name).unwrap().admin_port();
        let r = http::send(admin, "POST", "/logging?level=trace", &[]).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
    }
    let mut tokens = Vec::new();
    for c in &cases {
        let token = c.token.as_ref().map(|t| t.render(host.now()));
        host.send(c.config, &c.request(token.as_deref())).unwrap();
        tokens.extend(token);
    }
    // Key secrets never travel in requests: they may appear nowhere in any log.
    let keys = [
        table::JITSI_SECRET,
        table::SHARED_SECRET,
        table::OTHER_SECRET,
    ];
    // Static tokens are secrets too, but clients send them, so Envoy's own trace of request
    // headers shows them (as it shows JWTs); roomgate's lines must not.
    let statics = [
        table::GLOBAL_TOKEN,
        table::ADMIN_TOKEN,
        table::ROOM1_TOKEN,
        table::ROOM2_TOKEN,
    ];
    let mut problems = Vec::new();
    for name in &configs {
        let logs = host.envoy(name).unwrap().logs();
        // roomgate's own lines: everything the VM logged, at any level.
        let ours: Vec<&str> = logs.lines().filter(|l| l.contains("wasm log")).collect();
        assert!(!ours.is_empty(), "{name}: no roomgate log lines");
        assert!(
            logs.contains("][trace]["),
            "{name}: the log is not at trace level"
        );
        for line in &ours {
            for s in keys.iter().chain(&statics) {
                if line.contains(s) {
                    problems.push(format!("{name}: a secret in: {line}"));
                }
            }
            for t in &tokens {
                let sig = t.rsplit('.').next().unwrap_or_default();
                if (t.len() >= 16 && line.contains(t.as_str()))
                    || (sig.len() >= 16 && line.contains(sig))
                {
                    problems.push(format!("{name}: a token in: {line}"));
                }
            }
        }
        // Envoy's own trace output prints request headers (tokens included; that is Envoy's
        // business), but no key may appear anywhere in the log, configuration dumps included.
        for s in keys {
            if logs.contains(s) {
                let line = logs.lines().find(|l| l.contains(s)).unwrap_or_default();
                problems.push(format!(
                    "{name}: a secret in Envoy's log: {}",
                    &line[..line.len().min(300)]
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
