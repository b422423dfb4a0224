//! roomgate inside a real Envoy: what the behaviour table cannot express — configurations Envoy
//! must refuse, logs, metrics, and the demo `make run` serves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::envoy::{Envoy, EnvoyConfig};
use roomgate_tests::hosts::drop_host_env_keys;
use roomgate_tests::table::{self, Token};
use roomgate_tests::upstream::EchoUpstream;
use serde_json::json;
use std::time::Duration;

fn now() -> i64 {
    roomgate_tests::support::unix_now()
}

fn jitsi_envoy(upstream: &EchoUpstream) -> Envoy {
    let mut cfg = EnvoyConfig::new(upstream.port())
        .unwrap()
        .plugin_config(&table::config("jitsi").unwrap());
    cfg = cfg.mutate(drop_host_env_keys);
    for (k, val) in table::env("jitsi") {
        cfg = cfg.env(k, &val);
    }
    Envoy::start(cfg).unwrap()
}

fn bad_config(plugin: serde_json::Value) -> EnvoyConfig {
    EnvoyConfig::new(1)
        .unwrap()
        .plugin_config(&plugin.to_string())
        .mutate(drop_host_env_keys)
}

#[test]
fn envoy_refuses_to_start_with_a_weak_secret_and_logs_why() {
    let cfg = bad_config(json!({"jwt": {"keys": [{"secret": "too-short"}]},
                                "routes": [{"match": {"pattern": "/{room}"}, "kind": "room"}]}));
    let logs = Envoy::start_expect_failure(cfg).unwrap();
    assert!(
        logs.contains("roomgate: configuration rejected: jwt.keys[0] is 9 bytes long"),
        "{logs}"
    );
    assert!(!logs.contains("too-short"), "the secret appears in the log");
}

#[test]
fn envoy_validate_mode_refuses_unknown_fields() {
    let cfg = bad_config(json!({"jwt": {}, "routez": []}));
    let out = Envoy::validate(cfg).unwrap_err();
    assert!(out.contains("unknown field `routez`"), "{out}");
}

#[test]
fn envoy_refuses_a_config_that_needs_credentials_it_does_not_have() {
    let cfg = bad_config(json!({"routes": [{"match": {"pattern": "/{room}"}, "kind": "room"}]}));
    let logs = Envoy::start_expect_failure(cfg).unwrap();
    assert!(logs.contains("no credentials are configured"), "{logs}");
}

#[test]
fn envoy_refuses_a_missing_secret_variable() {
    let cfg = bad_config(json!({"jwt": {"keys": [{"secret_env": "NOT_PASSED"}]},
                                "routes": [{"match": {"pattern": "/{room}"}, "kind": "room"}]}));
    let logs = Envoy::start_expect_failure(cfg).unwrap();
    assert!(logs.contains("NOT_PASSED"), "{logs}");
}

#[test]
fn the_shipped_envoy_yaml_validates() {
    let cfg = EnvoyConfig::new(1)
        .unwrap()
        .process_env("JWT_APP_SECRET", table::JITSI_SECRET);
    Envoy::validate(cfg).unwrap();
}

#[test]
fn logs_name_the_denial_but_never_the_token_or_secret() {
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = jitsi_envoy(&upstream);
    let good = Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup", "exp": "@now+600"}),
    }
    .render(now());
    let expired = Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup", "exp": "@now-600"}),
    }
    .render(now());
    assert_eq!(
        envoy
            .send("GET", &format!("/standup?jwt={good}"), &[])
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        envoy
            .send("GET", &format!("/retro?jwt={good}"), &[])
            .unwrap()
            .status,
        403
    );
    let auth = format!("Bearer {expired}");
    assert_eq!(
        envoy
            .send("GET", "/standup", &[("authorization", &auth)])
            .unwrap()
            .status,
        401
    );
    assert!(envoy.wait_for_log("reason=token_expired", Duration::from_secs(10)));
    let logs = envoy.logs();
    assert!(logs.contains("roomgate: denied: status=403 reason=room_mismatch route=pattern:/{room} kind=room source=query"), "{logs}");
    for secret in [good.as_str(), expired.as_str(), table::JITSI_SECRET] {
        assert!(
            !logs.contains(secret),
            "a token or secret appears in the log"
        );
    }
    // The signature alone must not appear either (a partial token is still a leak).
    let sig = good.rsplit('.').next().unwrap();
    assert!(!logs.contains(sig));
}

#[test]
fn allowed_and_denied_requests_are_counted_in_envoy_stats() {
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = jitsi_envoy(&upstream);
    for _ in 0..3 {
        assert_eq!(
            envoy
                .send("GET", "/xmpp-websocket?room=standup", &[])
                .unwrap()
                .status,
            401
        );
    }
    assert_eq!(envoy.send("GET", "/libs/x.js", &[]).unwrap().status, 200);
    let stats = envoy.admin_get("/stats").unwrap();
    let value = |name: &str| {
        stats
            .lines()
            .filter_map(|l| l.split_once(": "))
            .find(|(n, _)| n.ends_with(name))
            .map(|(_, v)| v.trim().parse::<u64>().unwrap())
    };
    assert_eq!(value("roomgate.denied"), Some(3), "{stats}");
    assert_eq!(value("roomgate.allowed"), Some(1), "{stats}");
    assert_eq!(value("roomgate.denied.missing_token"), Some(3), "{stats}");
    assert_eq!(value("roomgate.denied.token_expired"), Some(0), "{stats}");
    assert_eq!(value("roomgate.route.room"), Some(3), "{stats}");
    assert_eq!(value("roomgate.route.public"), Some(1), "{stats}");
    let token = Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup", "exp": "@now+600"}),
    }
    .render(now());
    assert_eq!(
        envoy
            .send("GET", &format!("/standup?jwt={token}"), &[])
            .unwrap()
            .status,
        200
    );
    let prometheus = envoy.admin_get("/stats/prometheus").unwrap();
    for line in [
        "roomgate_allowed{} 2",
        "roomgate_source_query{} 1",
        "roomgate_denied_missing_token{} 3",
    ] {
        assert!(
            prometheus.lines().any(|l| l == line),
            "{line} not in:\n{prometheus}"
        );
    }
}

#[test]
fn a_denied_request_never_reaches_the_upstream() {
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = jitsi_envoy(&upstream);
    for target in [
        "/xmpp-websocket?room=standup",
        "/a/../b",
        "/standup?jwt=x.y.z",
        "/xmpp-websocket?room=a&room=b",
    ] {
        assert!(
            envoy.send("GET", target, &[]).unwrap().status >= 400,
            "{target}"
        );
    }
    assert_eq!(upstream.request_count(), 0);
}

#[test]
fn the_demo_script_serves_its_documented_examples() {
    roomgate_tests::support::run_demo_check(&[]).unwrap_or_else(|e| panic!("{e}"));
}
