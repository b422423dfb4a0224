//! Engine rules the behaviour table does not cover: options other than the examples', exact
//! instants, and what a verdict contains.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_filter::jwt::sign;
use roomgate_filter::{Denial, Edit, Gate, Verdict};
use serde_json::{json, Value};

const SECRET: &str = "engine-test-secret-0123456789abcdefghijkl";
const NOW: i64 = 1_800_000_000;

fn gate(config: Value) -> Gate {
    Gate::from_json(config.to_string().as_bytes(), &|_| None).unwrap()
}

fn jwt(claims: Value) -> String {
    sign(claims.as_object().unwrap(), SECRET.as_bytes(), None).unwrap()
}

fn base(extra: Value) -> Value {
    let mut config = json!({
        "jwt": {"keys": [{"secret": SECRET}]},
        "routes": [
            {"match": {"exact": "/health"}, "kind": "public"},
            {"match": {"pattern": "/rooms/{room}/**"}, "kind": "room"}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn decide<'g>(g: &'g Gate, path: &str, pairs: &[(&str, &str)], now: i64) -> Verdict<'g> {
    g.decide(path, &headers(pairs), now)
}

fn room_token(room: &str) -> String {
    jwt(json!({"room": room, "sub": "u1", "exp": NOW + 600}))
}

#[test]
fn strip_token_false_forwards_the_token_untouched() {
    let g = gate(base(json!({"strip_token": false})));
    let t = room_token("a");
    let v = decide(&g, &format!("/rooms/a/x?jwt={t}"), &[], NOW);
    assert_eq!(v.denial, None);
    assert!(!v
        .edits
        .iter()
        .any(|e| matches!(e, Edit::Set(n, _) if n == ":path")));
    let v = decide(
        &g,
        "/rooms/a/x",
        &[("authorization", &format!("Bearer {t}"))],
        NOW,
    );
    assert!(!v.edits.contains(&Edit::Remove("authorization".into())));
}

#[test]
fn forward_header_names_are_configurable_and_defaults_are_then_not_special() {
    let g = gate(base(json!({"forward": {"room": "x-meeting-room"}})));
    let t = room_token("a");
    let v = decide(
        &g,
        "/rooms/a/x",
        &[
            ("authorization", &format!("Bearer {t}")),
            ("x-meeting-room", "b"),
        ],
        NOW,
    );
    assert!(v.edits.contains(&Edit::Remove("x-meeting-room".into())));
    assert!(v
        .edits
        .contains(&Edit::Add("x-meeting-room".into(), "a".into())));
}

#[test]
fn a_custom_header_source_is_read_and_stripped() {
    let g = gate(base(json!({"token_sources": [{"header": "x-room-token"}]})));
    let t = room_token("a");
    let v = decide(&g, "/rooms/a/x", &[("x-room-token", &t)], NOW);
    assert_eq!(v.denial, None);
    assert_eq!(v.source, Some("header"));
    assert!(v.edits.contains(&Edit::Remove("x-room-token".into())));
    // Sources not configured are not read.
    let v = decide(
        &g,
        "/rooms/a/x",
        &[("authorization", &format!("Bearer {t}"))],
        NOW,
    );
    assert_eq!(v.denial, Some(Denial::MissingToken));
}

#[test]
fn expiry_is_decided_at_the_exact_second_with_the_configured_leeway() {
    let g = gate(base(
        json!({"jwt": {"keys": [{"secret": SECRET}], "leeway_seconds": 0}}),
    ));
    let t = jwt(json!({"room": "a", "exp": NOW}));
    let auth = format!("Bearer {t}");
    assert_eq!(
        decide(&g, "/rooms/a/x", &[("authorization", &auth)], NOW - 1).denial,
        None
    );
    assert_eq!(
        decide(&g, "/rooms/a/x", &[("authorization", &auth)], NOW).denial,
        Some(Denial::Expired)
    );
}

#[test]
fn a_deny_rule_answers_403_with_its_message() {
    let mut config = base(json!({}));
    config["routes"] = json!([{"match": {"prefix": "/internal/"}, "kind": "deny", "message": "not here"},
                              {"match": {"pattern": "/rooms/{room}/**"}, "kind": "room"}]);
    let g = gate(config);
    let v = decide(&g, "/internal/x", &[], NOW);
    let r = v.response.unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({"error": "forbidden", "message": "not here"})
    );
}

#[test]
fn an_authenticated_default_accepts_any_valid_token() {
    let g = gate(base(json!({"default": "authenticated"})));
    let t = room_token("a");
    let v = decide(
        &g,
        "/somewhere/else",
        &[("authorization", &format!("Bearer {t}"))],
        NOW,
    );
    assert_eq!(v.denial, None);
    assert_eq!(v.room.as_deref(), Some("a"));
    assert_eq!(
        decide(&g, "/somewhere/else", &[], NOW).denial,
        Some(Denial::MissingToken)
    );
}

#[test]
fn tokens_over_the_size_bound_are_refused_undecoded() {
    let g = gate(base(json!({"max_token_bytes": 256})));
    let big = "a".repeat(257);
    assert_eq!(
        decide(&g, &format!("/rooms/a/x?jwt={big}"), &[], NOW).denial,
        Some(Denial::TokenTooLarge)
    );
}

#[test]
fn a_room_route_with_pattern_room_param_uses_that_variable() {
    let config = json!({
        "jwt": {"keys": [{"secret": SECRET}]},
        "routes": [{"match": {"pattern": "/m/{meeting}"}, "kind": "room", "room_param": "meeting"}]
    });
    let g = gate(config);
    let auth = format!("Bearer {}", room_token("standup"));
    assert_eq!(
        decide(&g, "/m/standup", &[("authorization", &auth)], NOW).denial,
        None
    );
    assert_eq!(
        decide(&g, "/m/retro", &[("authorization", &auth)], NOW).denial,
        Some(Denial::RoomMismatch)
    );
}

#[test]
fn a_kid_less_key_and_a_kid_key_can_live_together_for_rotation() {
    let old = "old-engine-secret-0123456789abcdefghijkl";
    let config = json!({
        "jwt": {"keys": [{"kid": "2026-11", "secret": SECRET}, {"kid": "2026-10", "secret": old}]},
        "routes": [{"match": {"pattern": "/{room}"}, "kind": "room"}]
    });
    let g = gate(config);
    let claims = json!({"room": "a", "exp": NOW + 60});
    for (secret, kid) in [(SECRET, "2026-11"), (old, "2026-10")] {
        let t = sign(claims.as_object().unwrap(), secret.as_bytes(), Some(kid)).unwrap();
        assert_eq!(
            decide(&g, "/a", &[("authorization", &format!("Bearer {t}"))], NOW).denial,
            None
        );
    }
    let t = sign(claims.as_object().unwrap(), old.as_bytes(), Some("2026-11")).unwrap();
    assert_eq!(
        decide(&g, "/a", &[("authorization", &format!("Bearer {t}"))], NOW).denial,
        Some(Denial::BadSignature)
    );
}

#[test]
fn the_verdict_of_a_denial_carries_no_edits_that_would_forward_identity() {
    let g = gate(base(json!({})));
    let v = decide(&g, "/rooms/a/x", &[("x-roomgate-room", "a")], NOW);
    assert_eq!(v.denial, Some(Denial::MissingToken));
    assert!(v.response.is_some());
    assert!(!v.edits.iter().any(|e| matches!(e, Edit::Set(..))));
}

#[test]
fn every_denial_has_a_status_code_and_message() {
    let all = [
        Denial::MissingToken,
        Denial::AmbiguousToken,
        Denial::TokenTooLarge,
        Denial::MalformedToken,
        Denial::AlgorithmNotAllowed,
        Denial::UnsupportedHeader,
        Denial::UnknownKey,
        Denial::BadSignature,
        Denial::InvalidClaims,
        Denial::Expired,
        Denial::NotYetValid,
        Denial::LifetimeTooLong,
        Denial::IssuerNotAccepted,
        Denial::AudienceNotAccepted,
        Denial::RequiredClaim,
        Denial::UnknownStaticToken,
        Denial::RoomMismatch,
        Denial::RoomNotInToken,
        Denial::AdminRequired,
        Denial::Forbidden,
        Denial::Gone,
        Denial::BadRequest,
        Denial::Internal,
    ];
    for d in all {
        assert!([400, 401, 403, 410, 500].contains(&d.status()));
        assert!(!d.code().is_empty() && !d.message().is_empty() && !d.reason().is_empty());
        let r = roomgate_filter::engine::response_for(d, d.message());
        assert_eq!(
            r.headers.iter().any(|(n, _)| n == "www-authenticate"),
            d.status() == 401
        );
    }
}

#[test]
fn deciding_arbitrary_bytes_never_panics() {
    let g = gate(base(
        json!({"token_sources": ["bearer", {"query": "jwt"}, {"cookie": "t"}]}),
    ));
    let nasty = [
        "",
        "?",
        "/%",
        "/%%",
        "/\u{0}",
        "/rooms/%ff/x",
        "/rooms/a/x?jwt=%",
        "/rooms/a/x?jwt=a.b.c",
        "/rooms/a/x?jwt=...",
        "/rooms/a/x?=&&=",
        "/rooms/\u{202e}/x",
        "//",
        "/.",
        "/rooms/a/x?jwt=e30.e30.e30",
    ];
    for path in nasty {
        for auth in [
            "",
            "Bearer",
            "Bearer  ",
            "bearer x.y.z",
            "Bearer \u{7f}",
            "Bearer a.b",
        ] {
            let v = decide(
                &g,
                path,
                &[("authorization", auth), ("cookie", "t=;t")],
                NOW,
            );
            assert!(v.denial.is_some(), "{path:?} {auth:?} was allowed");
        }
    }
}

fn with_revoked(revoked: Value) -> Gate {
    let mut config = base(json!({"rooms": {"case_insensitive": true}}));
    config["revoked"] = revoked;
    gate(config)
}

#[test]
fn a_closed_room_refuses_even_valid_tokens() {
    let g = with_revoked(json!({"rooms": ["Standup"]}));
    let auth = format!("Bearer {}", room_token("standup"));
    let v = decide(&g, "/rooms/STANDUP/x", &[("authorization", &auth)], NOW);
    assert_eq!(v.denial, Some(Denial::RoomClosed));
    assert_eq!(v.response.unwrap().status, 403);
    let auth = format!("Bearer {}", room_token("retro"));
    assert_eq!(
        decide(&g, "/rooms/retro/x", &[("authorization", &auth)], NOW).denial,
        None
    );
}

#[test]
fn a_revoked_jti_is_401_everywhere() {
    let g = with_revoked(json!({"jtis": ["t-1"]}));
    let t = jwt(json!({"room": "a", "jti": "t-1", "exp": NOW + 600}));
    let v = decide(
        &g,
        "/rooms/a/x",
        &[("authorization", &format!("Bearer {t}"))],
        NOW,
    );
    assert_eq!(v.denial, Some(Denial::TokenRevoked));
    assert_eq!(v.response.unwrap().status, 401);
    let t = jwt(json!({"room": "a", "jti": "t-2", "exp": NOW + 600}));
    assert_eq!(
        decide(
            &g,
            "/rooms/a/x",
            &[("authorization", &format!("Bearer {t}"))],
            NOW
        )
        .denial,
        None
    );
}

#[test]
fn tokens_issued_before_a_rooms_cut_off_are_revoked() {
    let g = with_revoked(json!({"issued_before": {"a": NOW - 10}}));
    let old = jwt(json!({"room": "a", "iat": NOW - 11, "exp": NOW + 600}));
    let new = jwt(json!({"room": "a", "iat": NOW - 10, "exp": NOW + 600}));
    let undated = jwt(json!({"room": "a", "exp": NOW + 600}));
    let nbf_only = jwt(json!({"room": "a", "nbf": NOW - 5, "exp": NOW + 600}));
    let run = |t: &str| {
        decide(
            &g,
            "/rooms/a/x",
            &[("authorization", &format!("Bearer {t}"))],
            NOW,
        )
        .denial
    };
    assert_eq!(run(&old), Some(Denial::TokenRevoked));
    assert_eq!(run(&new), None);
    assert_eq!(
        run(&undated),
        Some(Denial::TokenRevoked),
        "no issue time cannot prove it is new enough"
    );
    assert_eq!(run(&nbf_only), None);
    let other_room = jwt(json!({"room": "b", "iat": NOW - 11, "exp": NOW + 600}));
    assert_eq!(
        decide(
            &g,
            "/rooms/b/x",
            &[("authorization", &format!("Bearer {other_room}"))],
            NOW
        )
        .denial,
        None
    );
}

#[test]
fn underscore_spellings_of_token_headers_are_the_same_source() {
    let g = gate(base(
        json!({"token_sources": ["x-auth-token", {"header": "x-room-token"}]}),
    ));
    let a = room_token("a");
    let b = room_token("b");
    // Two spellings, two tokens: ambiguous, as an upstream folding both would see two.
    let v = decide(
        &g,
        "/rooms/a/x",
        &[("x-auth-token", &a), ("x_auth_token", &b)],
        NOW,
    );
    assert_eq!(v.denial, Some(Denial::AmbiguousToken));
    // One token under an underscore spelling is read, and stripped under that spelling.
    let v = decide(&g, "/rooms/a/x", &[("X_Room_Token", &a)], NOW);
    assert_eq!(v.denial, None);
    assert!(v.edits.contains(&Edit::Remove("X_Room_Token".into())));
    let v = decide(
        &g,
        "/rooms/a/x",
        &[("x-auth-token", &a), ("x_auth_token", &a)],
        NOW,
    );
    assert_eq!(
        v.denial,
        Some(Denial::AmbiguousToken),
        "one source sent twice"
    );
}

#[test]
fn a_denial_names_the_room_the_request_was_for() {
    let g = gate(base(json!({})));
    let auth = format!("Bearer {}", room_token("a"));
    let v = decide(&g, "/rooms/b/x", &[("authorization", &auth)], NOW);
    assert_eq!(v.denial, Some(Denial::RoomMismatch));
    assert_eq!(v.room.as_deref(), Some("b"));
    let v = decide(&g, "/rooms/c/x", &[], NOW);
    assert_eq!(v.denial, Some(Denial::MissingToken));
    assert_eq!(v.room.as_deref(), Some("c"));
    // A token-bound route names the token's room once the token is verified.
    let g = gate(base(json!({"routes": [
        {"match": {"exact": "/lobby"}, "kind": "room", "room_from": "token",
         "require": {"room_join": true}}
    ]})));
    let t = jwt(json!({"room": "standup", "exp": NOW + 600}));
    let v = decide(&g, &format!("/lobby?jwt={t}"), &[], NOW);
    assert_eq!(v.denial, Some(Denial::RequiredClaim));
    assert_eq!(v.room.as_deref(), Some("standup"));
}

#[test]
fn an_identity_header_an_earlier_edit_set_is_replaced_not_added() {
    // A configuration naming a token source's header as an identity header: stripping the token
    // from `cookie` sets the cookies kept, so the identity replaces that value instead of adding a
    // second `cookie`.
    let g = gate(base(
        json!({"token_sources": [{"cookie": "jwt"}], "forward": {"name": "cookie"}}),
    ));
    let t = jwt(json!({"room": "a", "sub": "u1", "name": "Ann", "exp": NOW + 600}));
    let v = decide(
        &g,
        "/rooms/a/x",
        &[("cookie", &format!("jwt={t}; theme=dark"))],
        NOW,
    );
    assert_eq!(v.denial, None);
    let cookies: Vec<&Edit> = v
        .edits
        .iter()
        .filter(|e| matches!(e, Edit::Set(n, _) | Edit::Add(n, _) if n == "cookie"))
        .collect();
    assert_eq!(cookies.len(), 2, "{:?}", v.edits);
    assert!(
        cookies.iter().all(|e| matches!(e, Edit::Set(..))),
        "{:?}",
        v.edits
    );
    assert!(v
        .edits
        .iter()
        .any(|e| matches!(e, Edit::Add(n, _) if n == "x-roomgate-room")));
}
