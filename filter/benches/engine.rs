//! Micro-benchmarks of the native engine: `cargo bench -p roomgate-filter` (ns/op).
//!
//! The configuration and requests are those of `make bench` (`bench/roomgate.json`, a Jitsi-style
//! HS256 token for `/standup`), so these numbers are the engine's share of the Envoy figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{criterion_group, criterion_main, Criterion};
use roomgate_filter::config::token_digest;
use roomgate_filter::jwt::{sign, Key, Policy, VerifiedCache};
use roomgate_filter::path::Target;
use roomgate_filter::Gate;
use serde_json::{json, Map, Value};
use std::hint::black_box;

const SECRET: &str = "bench-secret-0123456789abcdefghijklmnopqrstuv";
const STANDUP_TOKEN: &str = "standup-room-token-0123456789abcdef0123456";
const NOW: i64 = 1_800_000_000;

/// The `make bench` configuration; `cache_size` replaces its `jwt.cache_size` when given.
fn gate_with(cache_size: Option<usize>) -> Gate {
    let config = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bench/roomgate.json"
    ))
    .expect("bench/roomgate.json");
    let mut config: Value = serde_json::from_slice(&config).expect("bench/roomgate.json is JSON");
    if let Some(size) = cache_size {
        config["jwt"]["cache_size"] = json!(size);
    }
    let config = config.to_string().into_bytes();
    Gate::from_json(&config, &|name| match name {
        "JWT_APP_SECRET" => Some(SECRET.into()),
        "STANDUP_TOKEN" => Some(STANDUP_TOKEN.into()),
        _ => None,
    })
    .expect("bench configuration")
}

fn token(secret: &str) -> String {
    let claims = json!({
        "aud": "jitsi", "iss": "roomgate-demo", "sub": "meet.example.com", "room": "standup",
        "iat": NOW, "nbf": NOW - 10, "exp": NOW + 3 * 3600,
        "context": {"user": {"name": "Alice Example", "email": "alice@example.com",
                             "moderator": true, "id": "alice"}}
    });
    let claims: Map<String, Value> = claims.as_object().cloned().unwrap_or_default();
    sign(&claims, secret.as_bytes(), None).expect("token")
}

fn request(path: &str, auth: Option<&str>) -> (String, Vec<(String, String)>) {
    let mut headers = vec![
        (":authority".to_owned(), "127.0.0.1:8080".to_owned()),
        (":path".to_owned(), path.to_owned()),
        (":method".to_owned(), "GET".to_owned()),
        (":scheme".to_owned(), "http".to_owned()),
        ("x-forwarded-proto".to_owned(), "http".to_owned()),
        (
            "x-request-id".to_owned(),
            "5e1c5a9e-3b6b-4f2e-9d0e-0b7c2a1f9e11".to_owned(),
        ),
    ];
    if let Some(token) = auth {
        headers.push(("authorization".to_owned(), format!("Bearer {token}")));
    }
    (path.to_owned(), headers)
}

fn gate() -> Gate {
    gate_with(None)
}

fn engine(c: &mut Criterion) {
    let gate = gate();
    let first_sight = gate_with(Some(0));
    let good = token(SECRET);
    let forged = token("not-the-bench-secret-0123456789abcdefghijkl");
    let cases = [
        ("decide/jwt_allowed", request("/standup", Some(&good)), None),
        (
            "decide/static_allowed",
            request("/standup", Some(STANDUP_TOKEN)),
            None,
        ),
        (
            "decide/jwt_forged_401",
            request("/standup", Some(&forged)),
            Some(401),
        ),
        (
            "decide/other_room_403",
            request("/retro", Some(&good)),
            Some(403),
        ),
        ("decide/public", request("/health", None), None),
        ("decide/missing_401", request("/standup", None), Some(401)),
    ];
    // Every token new to the gate (no cache of verified tokens): what a first request costs.
    let (path, headers) = request("/standup", Some(&good));
    assert_eq!(first_sight.decide(&path, &headers, NOW).denial, None);
    c.bench_function("decide/jwt_allowed_first_sight", |b| {
        b.iter(|| first_sight.decide(black_box(&path), black_box(&headers), NOW))
    });
    for (name, (path, headers), status) in &cases {
        let v = gate.decide(path, headers, NOW);
        assert_eq!(v.response.as_ref().map(|r| r.status), *status, "{name}");
        c.bench_function(name, |b| {
            b.iter(|| gate.decide(black_box(path), black_box(headers), NOW))
        });
    }

    // The pieces, on their own.
    let policy = Policy {
        keys: vec![Key::new(None, SECRET.as_bytes())],
        issuers: Some(vec![
            "roomgate-demo".into(),
            "videocall-meeting-backend".into(),
        ]),
        audiences: None,
        leeway: 30,
        max_lifetime: Some(86_400),
        lifetime_from_now: true,
        typ_required: false,
        audience_arrays: true,
        require: Vec::new(),
        require_any: Vec::new(),
        claim_types: Vec::new(),
        selector: None,
        cache: VerifiedCache::new(0),
    };
    assert!(policy.verify(&good, NOW).is_ok());
    let remembering = Policy {
        cache: VerifiedCache::new(100),
        ..policy.clone()
    };
    c.bench_function("jwt/verify_seen_again", |b| {
        b.iter(|| remembering.verify(black_box(&good), NOW))
    });
    c.bench_function("jwt/verify", |b| {
        b.iter(|| policy.verify(black_box(&good), NOW))
    });
    c.bench_function("path/parse", |b| {
        b.iter(|| Target::parse(black_box("/standup?room=standup")).map(|t| t.segments.len()))
    });
    c.bench_function("static/digest", |b| {
        b.iter(|| token_digest(black_box(STANDUP_TOKEN)))
    });
}

criterion_group!(benches, engine);
criterion_main!(benches);
