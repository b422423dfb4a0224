//! videocall.rs's token dialect, row by row: every token is judged by roomgate's videocall.rs
//! example (`examples/videocall.json`, natively) and by a restatement of the media server's own
//! check (`decode_room_token` in its token validator: jsonwebtoken 9 with `Validation::default()`,
//! `exp` and `sub` required, issuer `videocall-meeting-backend`, the `RoomAccessTokenClaims`
//! struct's field types, a NATS-safe room `^[a-zA-Z0-9_-]*$`, and `room_join || observer`).
//! The two must agree on every row, except the deliberate differences listed here and in README.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use roomgate_filter::Gate;
use roomgate_tests::table::{self, SHARED_SECRET};
use serde::Deserialize;
use serde_json::{json, Value};

/// The media server's `RoomAccessTokenClaims`, as its deserializer reads a payload.
#[derive(Deserialize)]
#[allow(dead_code)]
struct MediaServerClaims {
    sub: String,
    room: String,
    room_join: bool,
    is_host: bool,
    #[serde(default)]
    is_guest: bool,
    display_name: String,
    #[serde(default)]
    observer: bool,
    #[serde(default = "yes")]
    end_on_host_leave: bool,
    exp: i64,
    iss: String,
}

fn yes() -> bool {
    true
}

/// The media server's decision on `token` (its `decode_room_token`), at the system clock.
fn media_server_accepts(token: &str) -> bool {
    let mut validation = Validation::default();
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation.set_issuer(&["videocall-meeting-backend"]);
    validation.validate_exp = true;
    let Ok(data) = decode::<MediaServerClaims>(
        token,
        &DecodingKey::from_secret(SHARED_SECRET.as_bytes()),
        &validation,
    ) else {
        return false;
    };
    let c = data.claims;
    let nats_safe = c
        .room
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    nats_safe && (c.room_join || c.observer)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// roomgate's decision with the shipped videocall.rs example, at `now`.
fn roomgate_accepts(gate: &Gate, token: &str, now: i64) -> bool {
    gate.decide_pairs(&format!("/lobby?token={token}"), &[], now)
        .denial
        .is_none()
}

/// The meeting backend's token for room `standup-2024`, with `change` applied to its claims.
fn claims(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let now = now();
    let mut c = json!({
        "sub": "alice@example.com", "room": "standup-2024", "room_join": true, "is_host": false,
        "display_name": "Alice", "observer": false, "exp": now + 600,
        "iss": "videocall-meeting-backend"
    });
    change(c.as_object_mut().unwrap());
    c
}

fn sign(claims: &Value, header: Header) -> String {
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(SHARED_SECRET.as_bytes()),
    )
    .unwrap()
}

fn set(key: &'static str, value: Value) -> impl FnOnce(&mut serde_json::Map<String, Value>) {
    move |c| {
        if value.is_null() {
            c.remove(key);
        } else {
            c.insert(key.into(), value);
        }
    }
}

/// Where roomgate decides differently on purpose, and why (README lists the same rows).
const DELIBERATE: &[(&str, &str)] = &[
    (
        "an_empty_room",
        "roomgate needs a room to bind; the media server's pattern admits \"\"",
    ),
    (
        "nbf_in_the_future",
        "roomgate honours nbf; the media server does not check it",
    ),
    (
        "iat_in_the_future",
        "roomgate refuses tokens issued in the future",
    ),
    (
        "a_two_day_token",
        "roomgate's maximum lifetime (24 h by default)",
    ),
    (
        "a_foreign_typ",
        "roomgate refuses a typ other than JWT; jsonwebtoken ignores typ",
    ),
];

#[test]
fn roomgate_and_the_media_server_agree_on_every_token_but_the_listed_ones() {
    let config = table::config("videocall").unwrap();
    let env = table::env("videocall");
    let gate = Gate::from_json(config.as_bytes(), &|k| {
        env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let now = now();
    let hs256 = Header::default;
    let rows: Vec<(&str, String)> = vec![
        ("a_participant_token", sign(&claims(|_| {}), hs256())),
        (
            "a_host_token",
            sign(&claims(set("is_host", json!(true))), hs256()),
        ),
        (
            "an_observer_token",
            sign(
                &claims(|c| {
                    c.insert("room_join".into(), json!(false));
                    c.insert("observer".into(), json!(true));
                }),
                hs256(),
            ),
        ),
        (
            "a_guest_token",
            sign(&claims(set("is_guest", json!(true))), hs256()),
        ),
        (
            "room_join_false",
            sign(&claims(set("room_join", json!(false))), hs256()),
        ),
        (
            "room_join_missing",
            sign(&claims(set("room_join", Value::Null)), hs256()),
        ),
        (
            "room_join_a_string",
            sign(&claims(set("room_join", json!("true"))), hs256()),
        ),
        (
            "observer_a_string",
            sign(&claims(set("observer", json!("yes"))), hs256()),
        ),
        (
            "is_host_missing",
            sign(&claims(set("is_host", Value::Null)), hs256()),
        ),
        (
            "is_guest_a_number",
            sign(&claims(set("is_guest", json!(1))), hs256()),
        ),
        (
            "end_on_host_leave_a_string",
            sign(&claims(set("end_on_host_leave", json!("no"))), hs256()),
        ),
        (
            "display_name_missing",
            sign(&claims(set("display_name", Value::Null)), hs256()),
        ),
        (
            "display_name_a_number",
            sign(&claims(set("display_name", json!(7))), hs256()),
        ),
        (
            "sub_missing",
            sign(&claims(set("sub", Value::Null)), hs256()),
        ),
        ("sub_a_number", sign(&claims(set("sub", json!(7))), hs256())),
        (
            "another_issuer",
            sign(&claims(set("iss", json!("someone-else"))), hs256()),
        ),
        ("no_issuer", sign(&claims(set("iss", Value::Null)), hs256())),
        (
            "an_audience",
            sign(&claims(set("aud", json!("videocall"))), hs256()),
        ),
        (
            "an_audience_list",
            sign(&claims(set("aud", json!(["a", "b"]))), hs256()),
        ),
        (
            "a_room_with_dots",
            sign(&claims(set("room", json!("room.sub.topic"))), hs256()),
        ),
        (
            "a_room_with_a_space",
            sign(&claims(set("room", json!("my room"))), hs256()),
        ),
        (
            "a_room_with_a_star",
            sign(&claims(set("room", json!("room-*"))), hs256()),
        ),
        (
            "a_room_with_a_gt",
            sign(&claims(set("room", json!("room->"))), hs256()),
        ),
        (
            "a_mixed_case_room",
            sign(&claims(set("room", json!("My_Room-123"))), hs256()),
        ),
        (
            "a_non_ascii_room",
            sign(&claims(set("room", json!("m\u{fc}nchen"))), hs256()),
        ),
        (
            "an_empty_room",
            sign(&claims(set("room", json!(""))), hs256()),
        ),
        ("no_room", sign(&claims(set("room", Value::Null)), hs256())),
        (
            "expired_within_the_leeway",
            sign(&claims(set("exp", json!(now - 30))), hs256()),
        ),
        (
            "expired_beyond_the_leeway",
            sign(&claims(set("exp", json!(now - 90))), hs256()),
        ),
        ("no_exp", sign(&claims(set("exp", Value::Null)), hs256())),
        (
            "nbf_in_the_future",
            sign(&claims(set("nbf", json!(now + 300))), hs256()),
        ),
        (
            "iat_in_the_future",
            sign(&claims(set("iat", json!(now + 300))), hs256()),
        ),
        (
            "a_two_day_token",
            sign(&claims(set("exp", json!(now + 2 * 86_400))), hs256()),
        ),
        (
            "extra_claims",
            sign(&claims(set("meeting", json!({"id": 1}))), hs256()),
        ),
        (
            "a_kid",
            sign(
                &claims(|_| {}),
                Header {
                    kid: Some("k1".into()),
                    ..hs256()
                },
            ),
        ),
        (
            "a_foreign_typ",
            sign(
                &claims(|_| {}),
                Header {
                    typ: Some("at+jwt".into()),
                    ..hs256()
                },
            ),
        ),
        (
            "hs384_with_the_same_key",
            sign(&claims(|_| {}), Header::new(Algorithm::HS384)),
        ),
        (
            "another_secret",
            encode(
                &hs256(),
                &claims(|_| {}),
                &EncodingKey::from_secret(b"not-the-media-server-secret-0123456789"),
            )
            .unwrap(),
        ),
    ];
    // What `issuer` mints for videocall.rs: the media server must take each.
    let mint = |extra: &[&str]| -> String {
        let out = std::process::Command::new(roomgate_tests::support::issuer_bin().unwrap())
            .args([
                "mint",
                "videocall",
                "standup-2024",
                "--email",
                "alice@example.com",
            ])
            .args(extra)
            .env("JWT_SECRET", SHARED_SECRET)
            .env_remove("JWT_APP_SECRET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let mut rows = rows;
    rows.extend([
        ("issuer_mints_a_participant", mint(&[])),
        ("issuer_mints_a_host", mint(&["--host", "--name", "Alice"])),
        ("issuer_mints_an_observer", mint(&["--observer"])),
    ]);
    for name in [
        "issuer_mints_a_participant",
        "issuer_mints_a_host",
        "issuer_mints_an_observer",
    ] {
        let (_, token) = rows.iter().find(|(n, _)| *n == name).unwrap();
        assert!(
            media_server_accepts(token),
            "{name}: the media server refuses what issuer mints"
        );
    }
    let mut disagreements = Vec::new();
    for (name, token) in &rows {
        let theirs = media_server_accepts(token);
        let ours = roomgate_accepts(&gate, token, now);
        let deliberate = DELIBERATE.iter().find(|(n, _)| n == name);
        match (ours == theirs, deliberate) {
            (true, None) => {}
            (false, Some((_, why))) => {
                // Every deliberate difference is roomgate being stricter.
                assert!(
                    !ours && theirs,
                    "{name}: roomgate admits what the media server refuses"
                );
                println!("deliberate: {name}: {why}");
            }
            (true, Some(_)) => disagreements.push(format!(
                "{name}: listed as a difference, but both agree ({ours})"
            )),
            (false, None) => {
                disagreements.push(format!("{name}: roomgate {ours}, media server {theirs}"))
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // The rows cover both answers.
    assert!(rows.iter().any(|(_, t)| media_server_accepts(t)));
    assert!(rows.iter().any(|(_, t)| !media_server_accepts(t)));
}
