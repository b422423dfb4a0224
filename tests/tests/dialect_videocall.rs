//! videocall.rs's token dialect, row by row: every token is judged by roomgate's videocall.rs
//! example (`examples/videocall.json`, natively) and by a restatement of the media server's own
//! check (`decode_room_token` in its token validator: jsonwebtoken 9 with `Validation::default()`,
//! `exp` and `sub` required, issuer `videocall-meeting-backend`, the `RoomAccessTokenClaims`
//! struct's field types, a NATS-safe room `^[a-zA-Z0-9_-]*$`, and `room_join || observer`).
//! The two must agree on every row, except the deliberate differences listed here and in README.
//!
//! The same rows also go through the real videocall.rs code when `ROOMGATE_VIDEOCALL_VERIFIER`
//! names an adapter binary built around it (README, "videocall.rs"): it reads one JSON line per
//! row, `{"token": …, "secret": …}`, and answers one JSON line, `{"accepted": bool, "error": …,
//! "now": …, "claims": {"room": …, …}}`. The real code must agree with the restatement on every
//! row. CI cannot build videocall.rs, so without the variable that test says it was skipped.
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
use std::io::{BufRead as _, Write as _};

/// The media server's `RoomAccessTokenClaims` (videocall-meeting-types), as its deserializer reads
/// a payload: it has no `deny_unknown_fields`, so a claim it does not name (`is_guest`, `nbf`,
/// `meeting`, …) is not read, whatever its type.
#[derive(Deserialize)]
#[allow(dead_code)]
struct MediaServerClaims {
    sub: String,
    room: String,
    room_join: bool,
    is_host: bool,
    display_name: String,
    #[serde(default)]
    observer: bool,
    exp: i64,
    iss: String,
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

/// The shipped videocall.rs example, natively.
fn gate() -> Gate {
    let config = table::config("videocall").unwrap();
    let env = table::env("videocall");
    Gate::from_json(config.as_bytes(), &|k| {
        env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap()
}

/// roomgate's decision with the shipped videocall.rs example, at `now`: the room it binds, if it
/// admits.
fn roomgate_admits(gate: &Gate, token: &str, now: i64) -> Option<String> {
    let verdict = gate.decide_pairs(&format!("/lobby?token={token}"), &[], now);
    match verdict.denial {
        None => Some(verdict.room.unwrap_or_default()),
        Some(_) => None,
    }
}

/// The meeting backend's token for room `standup-2024`, with `change` applied to its claims.
fn claims(now: i64, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
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

/// What `issuer mint videocall standup-2024 --email alice@example.com` is run with, per row: every
/// kind of token issuer mints for videocall.rs. The media server must take each.
const ISSUER_MINTS: &[(&str, &[&str])] = &[
    ("issuer_mints_a_participant", &[]),
    ("issuer_mints_a_host", &["--host", "--name", "Alice"]),
    ("issuer_mints_an_observer", &["--observer"]),
    ("issuer_mints_an_observing_host", &["--observer", "--host"]),
    (
        "issuer_mints_a_non_ascii_name",
        &["--name", "Zo\u{eb} M\u{fc}ller"],
    ),
    ("issuer_mints_a_kid", &["--kid", "k1"]),
    ("issuer_mints_a_jti", &["--jti", "j-1"]),
    ("issuer_mints_a_23_hour_token", &["--lifetime", "23h"]),
    ("issuer_mints_a_later_start", &["--not-before", "+5m"]),
    (
        "issuer_mints_extra_claims",
        &["--claim", "meeting={\"id\":1}"],
    ),
    ("issuer_mints_a_link", &["--url", "ws://host:8080"]),
    ("issuer_mints_json", &["--json"]),
];

/// `key: null` in the claims.
fn set_null(key: &'static str) -> impl FnOnce(&mut serde_json::Map<String, Value>) {
    move |c| {
        c.insert(key.into(), Value::Null);
    }
}

/// An HS256 token over exactly `payload` (for JSON that serde_json would not write, such as a
/// duplicate key).
fn sign_raw(payload: &str) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(SHARED_SECRET.as_bytes()),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{message}.{signature}")
}

/// What issuer refuses to mint for videocall.rs (`issuer mint videocall ROOM --email … EXTRA…`),
/// with the table row whose token shows that the media server refuses it too.
const ISSUER_REFUSES: &[(&str, &str, &[&str], &str)] = &[
    (
        "a room with dots",
        "room.sub.topic",
        &[],
        "a_room_with_dots",
    ),
    ("a room with a space", "my room", &[], "a_room_with_a_space"),
    ("a non-ASCII room", "m\u{fc}nchen", &[], "a_non_ascii_room"),
    (
        "an audience",
        "standup-2024",
        &["--aud", "videocall"],
        "an_audience",
    ),
    (
        "an audience as an extra claim",
        "standup-2024",
        &["--claim", "aud=videocall"],
        "an_audience",
    ),
    (
        "another issuer",
        "standup-2024",
        &["--iss", "someone-else"],
        "another_issuer",
    ),
];

/// `issuer mint videocall ROOM --email alice@example.com EXTRA…`: its stdout, or its stderr if it
/// failed.
fn mint(room: &str, extra: &[&str]) -> Result<String, String> {
    let mut args = vec!["mint", "videocall", room, "--email", "alice@example.com"];
    args.extend_from_slice(extra);
    roomgate_tests::support::issuer_output(&args, &[("JWT_SECRET", SHARED_SECRET)])
}

/// The token in what issuer printed: the bare token, a `…/lobby?token=` link, or `--json`.
fn token_of(printed: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(printed) {
        return v["token"].as_str().unwrap().to_owned();
    }
    match printed.split_once("/lobby?token=") {
        Some((_, token)) => token.to_owned(),
        None => printed.to_owned(),
    }
}

/// Every row of the table: its name and its token, made at `now` (no edge time is closer than
/// 30 s to a boundary, so a few seconds between making and judging change nothing).
fn rows(now: i64) -> Vec<(&'static str, String)> {
    let hs256 = Header::default;
    let mut rows: Vec<(&str, String)> = vec![
        ("a_participant_token", sign(&claims(now, |_| {}), hs256())),
        (
            "a_host_token",
            sign(&claims(now, set("is_host", json!(true))), hs256()),
        ),
        (
            "an_observer_token",
            sign(
                &claims(now, |c| {
                    c.insert("room_join".into(), json!(false));
                    c.insert("observer".into(), json!(true));
                }),
                hs256(),
            ),
        ),
        (
            "a_guest_token",
            sign(&claims(now, set("is_guest", json!(true))), hs256()),
        ),
        (
            "room_join_false",
            sign(&claims(now, set("room_join", json!(false))), hs256()),
        ),
        (
            "room_join_missing",
            sign(&claims(now, set("room_join", Value::Null)), hs256()),
        ),
        (
            "room_join_a_string",
            sign(&claims(now, set("room_join", json!("true"))), hs256()),
        ),
        (
            "observer_a_string",
            sign(&claims(now, set("observer", json!("yes"))), hs256()),
        ),
        (
            "is_host_missing",
            sign(&claims(now, set("is_host", Value::Null)), hs256()),
        ),
        (
            "is_guest_a_number",
            sign(&claims(now, set("is_guest", json!(1))), hs256()),
        ),
        (
            "end_on_host_leave_a_string",
            sign(&claims(now, set("end_on_host_leave", json!("no"))), hs256()),
        ),
        (
            "display_name_missing",
            sign(&claims(now, set("display_name", Value::Null)), hs256()),
        ),
        (
            "display_name_a_number",
            sign(&claims(now, set("display_name", json!(7))), hs256()),
        ),
        (
            "sub_missing",
            sign(&claims(now, set("sub", Value::Null)), hs256()),
        ),
        (
            "sub_a_number",
            sign(&claims(now, set("sub", json!(7))), hs256()),
        ),
        (
            "another_issuer",
            sign(&claims(now, set("iss", json!("someone-else"))), hs256()),
        ),
        (
            "no_issuer",
            sign(&claims(now, set("iss", Value::Null)), hs256()),
        ),
        (
            "an_audience",
            sign(&claims(now, set("aud", json!("videocall"))), hs256()),
        ),
        (
            "an_audience_list",
            sign(&claims(now, set("aud", json!(["a", "b"]))), hs256()),
        ),
        (
            "a_room_with_dots",
            sign(&claims(now, set("room", json!("room.sub.topic"))), hs256()),
        ),
        (
            "a_room_with_a_space",
            sign(&claims(now, set("room", json!("my room"))), hs256()),
        ),
        (
            "a_room_with_a_star",
            sign(&claims(now, set("room", json!("room-*"))), hs256()),
        ),
        (
            "a_room_with_a_gt",
            sign(&claims(now, set("room", json!("room->"))), hs256()),
        ),
        (
            "a_mixed_case_room",
            sign(&claims(now, set("room", json!("My_Room-123"))), hs256()),
        ),
        (
            "a_non_ascii_room",
            sign(&claims(now, set("room", json!("m\u{fc}nchen"))), hs256()),
        ),
        (
            "an_empty_room",
            sign(&claims(now, set("room", json!(""))), hs256()),
        ),
        (
            "no_room",
            sign(&claims(now, set("room", Value::Null)), hs256()),
        ),
        (
            "expired_within_the_leeway",
            sign(&claims(now, set("exp", json!(now - 30))), hs256()),
        ),
        (
            "expired_beyond_the_leeway",
            sign(&claims(now, set("exp", json!(now - 90))), hs256()),
        ),
        (
            "no_exp",
            sign(&claims(now, set("exp", Value::Null)), hs256()),
        ),
        (
            "nbf_in_the_future",
            sign(&claims(now, set("nbf", json!(now + 300))), hs256()),
        ),
        (
            "iat_in_the_future",
            sign(&claims(now, set("iat", json!(now + 300))), hs256()),
        ),
        (
            "a_two_day_token",
            sign(&claims(now, set("exp", json!(now + 2 * 86_400))), hs256()),
        ),
        (
            "extra_claims",
            sign(&claims(now, set("meeting", json!({"id": 1}))), hs256()),
        ),
        (
            "a_kid",
            sign(
                &claims(now, |_| {}),
                Header {
                    kid: Some("k1".into()),
                    ..hs256()
                },
            ),
        ),
        (
            "a_foreign_typ",
            sign(
                &claims(now, |_| {}),
                Header {
                    typ: Some("at+jwt".into()),
                    ..hs256()
                },
            ),
        ),
        (
            "hs384_with_the_same_key",
            sign(&claims(now, |_| {}), Header::new(Algorithm::HS384)),
        ),
        (
            "an_observer_token_without_room_join",
            sign(
                &claims(now, |c| {
                    c.remove("room_join");
                    c.insert("observer".into(), json!(true));
                }),
                hs256(),
            ),
        ),
        (
            "observer_null",
            sign(&claims(now, set_null("observer")), hs256()),
        ),
        (
            "room_join_null",
            sign(&claims(now, set_null("room_join")), hs256()),
        ),
        (
            "is_guest_null",
            sign(&claims(now, set_null("is_guest")), hs256()),
        ),
        (
            "sub_empty",
            sign(&claims(now, set("sub", json!(""))), hs256()),
        ),
        (
            "display_name_empty",
            sign(&claims(now, set("display_name", json!(""))), hs256()),
        ),
        (
            "an_issuer_list",
            sign(
                &claims(now, set("iss", json!(["videocall-meeting-backend"]))),
                hs256(),
            ),
        ),
        (
            "an_audience_number",
            sign(&claims(now, set("aud", json!(7))), hs256()),
        ),
        (
            "an_audience_null",
            sign(&claims(now, set_null("aud")), hs256()),
        ),
        (
            "an_empty_audience_list",
            sign(&claims(now, set("aud", json!([]))), hs256()),
        ),
        (
            "exp_a_float",
            sign(&claims(now, set("exp", json!(now as f64 + 600.5))), hs256()),
        ),
        (
            "exp_a_string",
            sign(
                &claims(now, set("exp", json!((now + 600).to_string()))),
                hs256(),
            ),
        ),
        (
            "exp_negative",
            sign(&claims(now, set("exp", json!(-1))), hs256()),
        ),
        (
            "a_duplicate_room",
            sign_raw(&format!(
                r#"{{"sub":"alice@example.com","room":"standup-2024","room":"other-room","room_join":true,"is_host":false,"display_name":"Alice","exp":{},"iss":"videocall-meeting-backend"}}"#,
                now + 600
            )),
        ),
        (
            "a_duplicate_room_join",
            sign_raw(&format!(
                r#"{{"sub":"alice@example.com","room":"standup-2024","room_join":false,"room_join":true,"is_host":false,"display_name":"Alice","exp":{},"iss":"videocall-meeting-backend"}}"#,
                now + 600
            )),
        ),
        (
            "another_secret",
            encode(
                &hs256(),
                &claims(now, |_| {}),
                &EncodingKey::from_secret(b"not-the-media-server-secret-0123456789"),
            )
            .unwrap(),
        ),
    ];
    for (name, extra) in ISSUER_MINTS {
        let printed =
            mint("standup-2024", extra).unwrap_or_else(|e| panic!("{name}: issuer refused: {e}"));
        rows.push((name, token_of(&printed)));
    }
    rows
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
        "issuer_mints_a_later_start",
        "roomgate honours nbf (issuer --not-before); the media server does not check it",
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
    (
        "an_audience_number",
        "roomgate refuses every aud; jsonwebtoken skips an aud that is not a string or a list",
    ),
    (
        "an_audience_null",
        "roomgate refuses every aud; jsonwebtoken reads aud: null as no aud",
    ),
];

/// Compares roomgate with the media server (`theirs`) on every row; the disagreements that are not
/// deliberate (and deliberate ones that do not happen).
fn compare_with_roomgate(
    rows: &[(&str, String)],
    now: i64,
    theirs: impl Fn(usize) -> bool,
) -> Vec<String> {
    let gate = gate();
    let mut disagreements = Vec::new();
    for (i, (name, token)) in rows.iter().enumerate() {
        let theirs = theirs(i);
        let ours = roomgate_admits(&gate, token, now).is_some();
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
    disagreements
}

#[test]
fn roomgate_and_the_media_server_agree_on_every_token_but_the_listed_ones() {
    let now = now();
    let rows = rows(now);
    for (name, _) in ISSUER_MINTS {
        let (_, token) = rows.iter().find(|(n, _)| n == name).unwrap();
        assert!(
            media_server_accepts(token),
            "{name}: the media server refuses what issuer mints"
        );
    }
    let disagreements = compare_with_roomgate(&rows, now, |i| media_server_accepts(&rows[i].1));
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // The rows cover both answers.
    assert!(rows.iter().any(|(_, t)| media_server_accepts(t)));
    assert!(rows.iter().any(|(_, t)| !media_server_accepts(t)));
}

#[test]
fn issuer_refuses_to_mint_what_the_media_server_refuses() {
    let rows = rows(now());
    for (what, room, extra, row) in ISSUER_REFUSES {
        assert!(mint(room, extra).is_err(), "issuer mints {what}");
        // The row's token is refused by the media server (and so by roomgate).
        let (_, token) = rows.iter().find(|(n, _)| n == row).unwrap();
        assert!(
            !media_server_accepts(token),
            "{row}: the media server admits it"
        );
    }
}

/// One answer of the adapter around the real videocall.rs code.
#[derive(Deserialize)]
struct RealAnswer {
    accepted: bool,
    error: Option<String>,
    now: Option<i64>,
    claims: Option<Value>,
}

/// Every row through the adapter at `verifier`, in order.
fn run_real(verifier: &str, rows: &[(&str, String)]) -> Vec<RealAnswer> {
    let mut child = std::process::Command::new(verifier)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {verifier}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    for (_, token) in rows {
        writeln!(
            stdin,
            "{}",
            json!({"token": token, "secret": SHARED_SECRET, "room": null})
        )
        .unwrap();
    }
    drop(stdin);
    let answers: Vec<RealAnswer> = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success(), "{verifier} failed");
    assert_eq!(answers.len(), rows.len(), "{verifier}: one answer per row");
    answers
}

#[test]
fn the_real_media_server_code_agrees_with_the_restatement_on_every_row() {
    let Some(verifier) = std::env::var("ROOMGATE_VIDEOCALL_VERIFIER")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: the videocall.rs table against the real media server's code: set \
             ROOMGATE_VIDEOCALL_VERIFIER to an adapter built around videocall.rs's \
             decode_room_token (README, \"videocall.rs\") to run it"
        );
        return;
    };
    let now = now();
    let rows = rows(now);
    let real = run_real(&verifier, &rows);
    let gate = gate();
    let mut disagreements = Vec::new();
    for ((name, token), answer) in rows.iter().zip(&real) {
        // The real code reads the system clock; the table's edge times are 30 s from any boundary.
        let drift = answer.now.map_or(i64::MAX, |t| (t - now).abs());
        assert!(drift <= 20, "{name}: the adapter's clock is {drift} s away");
        let restated = media_server_accepts(token);
        println!(
            "{name}: real {}",
            answer.error.as_deref().unwrap_or("admitted")
        );
        if answer.accepted != restated {
            disagreements.push(format!(
                "{name}: real {} ({}), restatement {restated}",
                answer.accepted,
                answer.error.as_deref().unwrap_or("admitted")
            ));
        }
        // Where both admit, roomgate binds the room the media server opens.
        if let (true, Some(ours)) = (answer.accepted, roomgate_admits(&gate, token, now)) {
            let theirs = answer.claims.as_ref().and_then(|c| c["room"].as_str());
            assert_eq!(Some(ours.as_str()), theirs, "{name}: another room");
        }
    }
    for (name, _) in ISSUER_MINTS {
        let i = rows.iter().position(|(n, _)| n == name).unwrap();
        assert!(
            real[i].accepted,
            "{name}: the real media server code refuses what issuer mints: {:?}",
            real[i].error
        );
    }
    let with_roomgate = compare_with_roomgate(&rows, now, |i| real[i].accepted);
    disagreements.extend(with_roomgate.into_iter().map(|d| format!("roomgate: {d}")));
    assert!(
        disagreements.is_empty(),
        "the real videocall.rs code disagrees:\n{}",
        disagreements.join("\n")
    );
    let _ = writeln!(
        std::io::stderr(),
        "the real videocall.rs code agrees with the restatement on all {} rows ({} admitted), \
         and with roomgate on all but the {} deliberate differences",
        rows.len(),
        real.iter().filter(|a| a.accepted).count(),
        DELIBERATE.len()
    );
}
