//! Configuration load: what is refused, and with which message. An unusable configuration must
//! never run open, and no message may contain a secret.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_filter::{ConfigError, Gate};
use serde_json::{json, Value};

const SECRET: &str = "a-perfectly-fine-secret-of-40-bytes-long";

fn env(name: &str) -> Option<String> {
    match name {
        "JWT_APP_SECRET" => Some(SECRET.into()),
        "SHORT" => Some("short-secret".into()),
        _ => None,
    }
}

fn load(config: Value) -> Result<Gate, ConfigError> {
    Gate::from_json(config.to_string().as_bytes(), &env)
}

fn refused(config: Value) -> String {
    match load(config) {
        Ok(_) => panic!("configuration was accepted"),
        Err(e) => {
            let text = e.to_string();
            assert!(
                !text.contains(SECRET) && !text.contains("short-secret"),
                "message leaks a secret: {text}"
            );
            text
        }
    }
}

fn room_route() -> Value {
    json!([{"match": {"pattern": "/{room}"}, "kind": "room"}])
}

#[test]
fn the_shipped_examples_load() {
    for file in ["jitsi.json", "videocall.json"] {
        let text =
            std::fs::read_to_string(format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let env = |k: &str| match k {
            "JWT_APP_SECRET" | "JWT_SECRET" => Some(SECRET.to_owned()),
            _ => None,
        };
        Gate::from_json(text.as_bytes(), &env).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn an_empty_jwt_section_reads_the_secret_from_jwt_app_secret() {
    load(json!({"jwt": {}, "routes": room_route()})).unwrap();
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    assert!(
        refused(json!({"jwt": {}, "routes": room_route(), "modee": "report"}))
            .contains("unknown field")
    );
    assert!(
        refused(json!({"jwt": {"keyz": []}, "routes": room_route()})).contains("unknown field")
    );
    let routes = json!([{"match": {"pattern": "/{room}"}, "kind": "room", "roomfrom": "path"}]);
    assert!(refused(json!({"jwt": {}, "routes": routes})).contains("unknown field"));
}

#[test]
fn malformed_json_is_refused() {
    assert!(Gate::from_json(b"{\"jwt\": ", &env).is_err());
    assert!(Gate::from_json(b"", &env).is_err());
}

#[test]
fn a_secret_under_32_bytes_is_refused_without_being_echoed() {
    let msg = refused(json!({"jwt": {"keys": [{"secret_env": "SHORT"}]}, "routes": room_route()}));
    assert!(msg.contains("at least 32"), "{msg}");
    let msg =
        refused(json!({"jwt": {"keys": [{"secret": "short-secret"}]}, "routes": room_route()}));
    assert!(msg.contains("12 bytes"), "{msg}");
}

#[test]
fn a_missing_environment_variable_is_named() {
    let msg = refused(json!({"jwt": {"keys": [{"secret_env": "NOPE"}]}, "routes": room_route()}));
    assert!(
        msg.contains("NOPE") && msg.contains("environment_variables"),
        "{msg}"
    );
}

#[test]
fn a_secret_needs_exactly_one_source() {
    refused(json!({"jwt": {"keys": [{}]}, "routes": room_route()}));
    refused(
        json!({"jwt": {"keys": [{"secret": SECRET, "secret_env": "JWT_APP_SECRET"}]}, "routes": room_route()}),
    );
}

#[test]
fn encoded_secrets_are_decoded_before_the_length_check() {
    // 32 bytes as hex is 64 characters; 16 bytes as hex is 32 characters and must be refused.
    let ok = "00".repeat(32);
    load(json!({"jwt": {"keys": [{"secret": ok, "encoding": "hex"}]}, "routes": room_route()}))
        .unwrap();
    let weak = "00".repeat(16);
    refused(
        json!({"jwt": {"keys": [{"secret": weak, "encoding": "hex"}]}, "routes": room_route()}),
    );
    refused(
        json!({"jwt": {"keys": [{"secret": "zz", "encoding": "hex"}]}, "routes": room_route()}),
    );
}

#[test]
fn routes_needing_tokens_without_any_credential_are_refused() {
    assert!(matches!(
        load(json!({"routes": room_route()})),
        Err(ConfigError::NoCredentials)
    ));
    assert!(matches!(
        load(json!({"default": "authenticated"})),
        Err(ConfigError::NoCredentials)
    ));
}

#[test]
fn a_config_of_only_public_routes_needs_no_credentials() {
    load(json!({"routes": [{"match": {"prefix": "/"}, "kind": "public"}]})).unwrap();
}

#[test]
fn only_hs256_is_accepted_as_the_algorithm() {
    let msg = refused(json!({"jwt": {"algorithm": "none"}, "routes": room_route()}));
    assert!(msg.contains("HS256"), "{msg}");
    refused(json!({"jwt": {"algorithm": "RS256"}, "routes": room_route()}));
}

#[test]
fn duplicate_kids_are_refused() {
    let keys =
        json!([{"kid": "a", "secret_env": "JWT_APP_SECRET"}, {"kid": "a", "secret": SECRET}]);
    assert!(refused(json!({"jwt": {"keys": keys}, "routes": room_route()})).contains("kid"));
}

#[test]
fn an_empty_key_list_is_refused() {
    refused(json!({"jwt": {"keys": []}, "routes": room_route()}));
}

#[test]
fn a_rule_shadowed_by_an_earlier_one_is_refused() {
    let routes = json!([
        {"match": {"prefix": "/static/"}, "kind": "public"},
        {"match": {"exact": "/static/secret.js"}, "kind": "room", "room_from": "query"}
    ]);
    let msg = refused(json!({"jwt": {}, "routes": routes}));
    assert!(
        msg.contains("routes[1]") && msg.contains("never applies"),
        "{msg}"
    );
    let routes = json!([
        {"match": {"pattern": "/{room}"}, "kind": "room"},
        {"match": {"exact": "/health"}, "kind": "public"}
    ]);
    refused(json!({"jwt": {}, "routes": routes}));
}

#[test]
fn a_room_route_needs_a_room_source() {
    let routes = json!([{"match": {"exact": "/join"}, "kind": "room"}]);
    assert!(refused(json!({"jwt": {}, "routes": routes})).contains("room_from"));
    let routes = json!([{"match": {"pattern": "/x/{id}"}, "kind": "room", "room_from": "path"}]);
    assert!(refused(json!({"jwt": {}, "routes": routes})).contains("{room}"));
    let routes = json!([{"match": {"pattern": "/x/{id}"}, "kind": "room", "room_param": "id"}]);
    load(json!({"jwt": {}, "routes": routes})).unwrap();
}

#[test]
fn room_settings_on_other_kinds_are_contradictions() {
    let routes = json!([{"match": {"exact": "/a"}, "kind": "public", "room_from": "query"}]);
    refused(json!({"jwt": {}, "routes": routes}));
    let routes = json!([{"match": {"exact": "/a"}, "kind": "public", "require": {"x": 1}}]);
    refused(json!({"jwt": {}, "routes": routes}));
    let routes =
        json!([{"match": {"exact": "/a"}, "kind": "room", "room_from": "query", "message": "x"}]);
    refused(json!({"jwt": {}, "routes": routes}));
}

#[test]
fn the_default_cannot_be_a_room_route() {
    refused(json!({"jwt": {}, "default": "room"}));
}

#[test]
fn malformed_patterns_and_paths_are_refused() {
    for m in [
        json!({"pattern": "{room}"}),
        json!({"pattern": "/**/x"}),
        json!({"exact": "health"}),
        json!({"prefix": ""}),
    ] {
        refused(json!({"jwt": {}, "routes": [{"match": m, "kind": "public"}]}));
    }
}

#[test]
fn admin_routes_need_an_admin_credential() {
    let routes = json!([{"match": {"prefix": "/admin/"}, "kind": "admin"}]);
    let statics = json!({"global": {"token": "g".repeat(40)}});
    let msg = refused(json!({"static_tokens": statics, "routes": routes}));
    assert!(msg.contains("admin"), "{msg}");
}

#[test]
fn static_tokens_must_be_strong_and_distinct() {
    let routes = json!([{"match": {"prefix": "/"}, "kind": "authenticated"}]);
    refused(json!({"static_tokens": {"global": {"token": "short"}}, "routes": routes}));
    let same = "s".repeat(40);
    refused(
        json!({"static_tokens": {"global": {"token": same}, "admin": {"token": same}}, "routes": routes}),
    );
    refused(
        json!({"static_tokens": {"rooms": {"a": {"token": same}, "b": {"token": same}}}, "routes": routes}),
    );
    refused(json!({"static_tokens": {"global": {"sha256": "abc"}}, "routes": routes}));
    load(json!({"static_tokens": {"global": {"sha256": "ab".repeat(32)}}, "routes": routes}))
        .unwrap();
}

#[test]
fn out_of_range_numbers_are_refused() {
    refused(json!({"jwt": {"leeway_seconds": 3600}, "routes": room_route()}));
    refused(json!({"jwt": {"max_lifetime_seconds": -1}, "routes": room_route()}));
    refused(json!({"jwt": {}, "routes": room_route(), "max_token_bytes": 10}));
}

#[test]
fn forward_headers_must_be_distinct_lower_case_names() {
    refused(json!({"jwt": {}, "routes": room_route(), "forward": {"room": "X-Room"}}));
    refused(
        json!({"jwt": {}, "routes": room_route(), "forward": {"room": "x-a", "subject": "x-a"}}),
    );
}

#[test]
fn token_sources_must_be_usable() {
    refused(json!({"jwt": {}, "routes": room_route(), "token_sources": []}));
    refused(json!({"jwt": {}, "routes": room_route(), "token_sources": ["bearer", "bearer"]}));
    refused(
        json!({"jwt": {}, "routes": room_route(), "token_sources": [{"header": "Authorization"}]}),
    );
    refused(json!({"jwt": {}, "routes": room_route(), "token_sources": ["basic"]}));
}

#[test]
fn config_errors_never_carry_secret_material_in_debug_output() {
    let err = load(json!({"jwt": {"keys": [{"secret": "short-secret"}]}, "routes": room_route()}))
        .unwrap_err();
    assert!(!format!("{err:?}").contains("short-secret"));
}

#[test]
fn a_secret_pasted_into_the_wrong_place_is_not_echoed() {
    let token = "a-real-token-that-must-never-leak-0123456789";
    let routes = json!([{"match": {"prefix": "/"}, "kind": "authenticated"}]);
    for config in [
        json!({"static_tokens": {"global": token}, "routes": routes}),
        json!({"jwt": {"keys": [{"secret": SECRET, "encoding": token}]}, "routes": room_route()}),
        json!({"jwt": {"leeway_seconds": token}, "routes": room_route()}),
        json!({"mode": token}),
    ] {
        let msg = load(config)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!msg.is_empty() && !msg.contains(token), "{msg}");
    }
}

#[test]
fn schema_errors_still_name_the_field() {
    let msg = refused(json!({"jwt": {}, "routes": room_route(), "mode": "block"}));
    assert!(
        msg.contains("unknown variant") && msg.contains("enforce"),
        "{msg}"
    );
}

fn with_env(config: Value, vars: &[(&str, &str)]) -> Result<Gate, ConfigError> {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| env(name))
    };
    Gate::from_json(config.to_string().as_bytes(), &lookup)
}

#[test]
fn an_empty_or_blank_issuer_or_audience_list_is_refused_never_read_as_any() {
    for field in ["issuers", "audiences"] {
        for list in [json!([]), json!([""]), json!(["meet", " "])] {
            let text = refused(json!({"jwt": {field: list}, "routes": room_route()}));
            assert!(text.contains(field), "{text}");
        }
        let var = if field == "issuers" {
            "JWT_ACCEPTED_ISSUERS"
        } else {
            "JWT_ACCEPTED_AUDIENCES"
        };
        for blank in ["", " ", " , ", ",,"] {
            let e = with_env(json!({"jwt": {}, "routes": room_route()}), &[(var, blank)])
                .err()
                .unwrap_or_else(|| panic!("{var}={blank:?} was accepted"));
            assert!(e.to_string().contains(var), "{e}");
        }
        // `*` says "any" explicitly, and must stand alone.
        assert!(load(json!({"jwt": {field: ["*"]}, "routes": room_route()})).is_ok());
        assert!(with_env(json!({"jwt": {}, "routes": room_route()}), &[(var, " * ")]).is_ok());
        let text = refused(json!({"jwt": {field: ["*", "meet"]}, "routes": room_route()}));
        assert!(text.contains("stand alone"), "{text}");
    }
}

#[test]
fn route_case_and_lifetime_without_iat_take_only_their_values() {
    for (field, good) in [("route_case", ["refuse", "insensitive"])] {
        for v in good {
            assert!(load(json!({field: v, "jwt": {}, "routes": room_route()})).is_ok());
        }
        refused(json!({field: "sensitive", "jwt": {}, "routes": room_route()}));
    }
    for v in ["refuse", "remaining"] {
        assert!(
            load(json!({"jwt": {"max_lifetime_without_iat": v}, "routes": room_route()})).is_ok()
        );
    }
    refused(json!({"jwt": {"max_lifetime_without_iat": "now"}, "routes": room_route()}));
}

#[test]
fn a_route_with_a_semicolon_is_refused_since_no_request_can_match_it() {
    for m in [
        json!({"exact": "/a;b"}),
        json!({"prefix": "/x;/"}),
        json!({"pattern": "/a;b/{room}"}),
    ] {
        let text = refused(json!({"routes": [{"match": m, "kind": "public"}]}));
        assert!(text.contains("';'"), "{text}");
    }
}
