//! Interop with an independent HS256 implementation, both ways: tokens the `jsonwebtoken` crate
//! signs pass `issuer verify` (the filter's engine), tokens `issuer mint` signs pass
//! `jsonwebtoken`'s validation, and RFC 7515 appendix A.1's example passes both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde_json::{json, Value};

fn sign(claims: &Value, secret: &[u8], kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn validation(iss: Option<&str>, aud: Option<&str>) -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = 0;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp"]);
    match iss {
        Some(i) => v.set_issuer(&[i]),
        None => v.iss = None,
    }
    match aud {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    v
}

fn theirs(profile: &str, room: &str) -> Value {
    let now = now();
    match profile {
        "jitsi" => json!({
            "iss": "meet", "aud": "jitsi", "sub": "meet.jitsi", "room": room,
            "nbf": now, "exp": now + 600,
            "context": {"user": {"name": "Alice", "moderator": true}}
        }),
        "videocall" => json!({
            "sub": "alice@example.com", "room": room, "room_join": true, "is_host": true,
            "display_name": "Alice", "exp": now + 600, "iss": "videocall-meeting-backend"
        }),
        _ => json!({
            "sub": "user123", "room": room, "role": "user", "admin": false,
            "exp": now + 3600, "iat": now
        }),
    }
}

#[test]
fn jsonwebtoken_tokens_pass_the_filter_for_their_room_and_fail_for_another() {
    for profile in ["jitsi", "videocall", "generic"] {
        let token = sign(&theirs(profile, "standup"), SECRET.as_bytes(), None);
        let mut args = vec![
            "verify",
            token.as_str(),
            "--profile",
            profile,
            "--room",
            "standup",
        ];
        if profile == "jitsi" {
            args.extend(["--iss", "meet", "--aud", "jitsi"]);
        }
        issuer(&args).code(0);
        args[5] = "other";
        issuer(&args).code(1).says("room_mismatch");
    }
}

#[test]
fn jsonwebtoken_tokens_with_a_kid_select_the_key() {
    let token = sign(&theirs("generic", "r"), SECRET.as_bytes(), Some("2025-10"));
    issuer(&["verify", &token, "--kid", "2025-10"]).code(0);
    issuer(&["verify", &token, "--kid", "2025-09"])
        .code(1)
        .says("unknown_key");
}

#[test]
fn jsonwebtoken_tokens_with_another_key_or_algorithm_are_refused() {
    let token = sign(&theirs("generic", "r"), OTHER_SECRET.as_bytes(), None);
    issuer(&["verify", &token]).code(1).says("bad_signature");
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &theirs("generic", "r"),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    issuer(&["verify", &hs512])
        .code(1)
        .says("algorithm_not_allowed")
        .says("\"HS512\"");
}

#[test]
fn a_tampered_jsonwebtoken_token_is_refused() {
    let token = sign(&theirs("jitsi", "standup"), SECRET.as_bytes(), None);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["room"] = json!("other");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    issuer(&[
        "verify",
        &parts.join("."),
        "--profile",
        "jitsi",
        "--room",
        "other",
    ])
    .code(1)
    .says("bad_signature");
}

#[test]
fn issuer_tokens_pass_jsonwebtoken_validation() {
    let key = DecodingKey::from_secret(SECRET.as_bytes());
    let jitsi = issuer(&[
        "mint", "jitsi", "standup", "--iss", "meet", "--name", "Alice",
    ])
    .ok()
    .to_owned();
    let c = decode::<Value>(&jitsi, &key, &validation(Some("meet"), Some("jitsi")))
        .unwrap()
        .claims;
    assert_eq!(c["room"], "standup");
    assert_eq!(c["context"]["user"]["moderator"], true);

    let vc = issuer(&["mint", "videocall", "standup", "--email", "a@b", "--host"])
        .ok()
        .to_owned();
    let c = decode::<Value>(
        &vc,
        &key,
        &validation(Some("videocall-meeting-backend"), None),
    )
    .unwrap()
    .claims;
    assert_eq!(c["room_join"], true);
    assert_eq!(c["is_host"], true);

    let generic = issuer(&[
        "mint",
        "generic",
        "standup",
        "--sub",
        "u1",
        "--aud",
        "rooms-api",
        "--kid",
        "k1",
    ])
    .ok()
    .to_owned();
    let data = decode::<Value>(&generic, &key, &validation(None, Some("rooms-api"))).unwrap();
    assert_eq!(data.header.kid.as_deref(), Some("k1"));
    assert_eq!(data.header.alg, Algorithm::HS256);
    assert_eq!(data.claims["sub"], "u1");

    let wrong = DecodingKey::from_secret(OTHER_SECRET.as_bytes());
    let err = decode::<Value>(&generic, &wrong, &validation(None, Some("rooms-api"))).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidSignature);
}

#[test]
fn issuer_tokens_with_a_future_not_before_are_immature_for_jsonwebtoken_too() {
    let token = issuer(&["mint", "jitsi", "r", "--iss", "meet", "--not-before", "+1h"])
        .ok()
        .to_owned();
    let err = decode::<Value>(
        &token,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &validation(Some("meet"), Some("jitsi")),
    )
    .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::ImmatureSignature);
    issuer(&["verify", &token])
        .code(1)
        .says("token_not_yet_valid");
}

#[test]
fn encoded_secrets_mean_the_same_key_bytes_to_both_implementations() {
    let raw: Vec<u8> = (0u8..48).collect();
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
    let b64url = URL_SAFE_NO_PAD.encode(&raw);
    for (encoding, text) in [
        ("hex", hex.as_str()),
        ("base64", b64.as_str()),
        ("base64url", b64url.as_str()),
    ] {
        let env = [("JWT_APP_SECRET", text)];
        let token = issuer_with(
            &["mint", "generic", "r", "--secret-encoding", encoding],
            &env,
            None,
        )
        .ok()
        .to_owned();
        decode::<Value>(
            &token,
            &DecodingKey::from_secret(&raw),
            &validation(None, None),
        )
        .unwrap_or_else(|e| panic!("{encoding}: {e}"));
        let theirs = sign(&theirs("generic", "r"), &raw, None);
        issuer_with(
            &["verify", &theirs, "--secret-encoding", encoding],
            &env,
            None,
        )
        .code(0);
    }
}

fn rfc_key() -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(RFC7515_A1_K).unwrap()
}

#[test]
fn rfc_7515_a1_passes_issuer_verify_at_its_own_time_and_expires_after() {
    let key = temp_file("rfc7515-a1.key", RFC7515_A1_K);
    let base = [
        "verify",
        RFC7515_A1_TOKEN,
        "--secret-file",
        &key,
        "--secret-encoding",
        "base64url",
    ];
    let mut at = base.to_vec();
    at.extend(["--at", "2011-03-22T18:40:00Z", "--iss", "joe"]);
    issuer_with(&at, &[], None).code(0);
    let mut late = base.to_vec();
    late.extend(["--at", "1300819410"]);
    issuer_with(&late, &[], None).code(1).says("token_expired");
    // The same key read as text is another key.
    issuer_with(
        &[
            "verify",
            RFC7515_A1_TOKEN,
            "--secret-file",
            &key,
            "--at",
            "1300819000",
        ],
        &[],
        None,
    )
    .code(1)
    .says("bad_signature");
}

#[test]
fn rfc_7515_a1_passes_jsonwebtoken_and_issuer_signs_the_same_claims_verifiably() {
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.set_required_spec_claims::<&str>(&[]);
    let c = decode::<Value>(RFC7515_A1_TOKEN, &DecodingKey::from_secret(&rfc_key()), &v)
        .unwrap()
        .claims;
    assert_eq!(c["iss"], "joe");
    assert_eq!(c["http://example.com/is_root"], true);

    // issuer signs the RFC's claims with the RFC's key; jsonwebtoken must accept the result.
    let key = temp_file("rfc7515-a1-mint.key", RFC7515_A1_K);
    let token = issuer_with(
        &[
            "mint",
            "generic",
            "r",
            "--secret-file",
            &key,
            "--secret-encoding",
            "base64url",
            "--iss",
            "joe",
            "--claim",
            "http://example.com/is_root=true",
        ],
        &[],
        None,
    )
    .ok()
    .to_owned();
    let c = decode::<Value>(
        &token,
        &DecodingKey::from_secret(&rfc_key()),
        &validation(Some("joe"), None),
    )
    .unwrap()
    .claims;
    assert_eq!(c["http://example.com/is_root"], true);
}

#[test]
fn the_reference_implementation_itself_reproduces_rfc_7515_a1() {
    // A control: the independent implementation the tests above trust agrees with the RFC's
    // signature byte for byte. (issuer's own tokens cannot be byte-identical to the RFC's: the
    // RFC's header and payload contain CR LF whitespace that no serializer emits.)
    let (input, sig) = RFC7515_A1_TOKEN.rsplit_once('.').unwrap();
    let ours = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(&rfc_key()),
        Algorithm::HS256,
    )
    .unwrap();
    assert_eq!(ours, sig);
}
