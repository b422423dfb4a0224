//! The real `issuer` binary, subcommand by subcommand: what goes to stdout, what to stderr, and
//! the exit status, for good input and for each kind of bad input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use roomgate_filter::Gate;
use serde_json::{json, Value};

fn is_token(text: &str) -> bool {
    text.split('.').count() == 3 && !text.contains(char::is_whitespace)
}

// ---------------------------------------------------------------------------------------------
// help, usage, completions

#[test]
fn top_level_help_documents_exit_codes_environment_and_examples() {
    let r = issuer(&["--help"]);
    let help = r.ok();
    for text in [
        "Exit status",
        "JWT_APP_SECRET",
        "JWT_ACCEPTED_ISSUERS",
        "Examples:",
        "0  success",
        "3  a file",
    ] {
        assert!(help.contains(text), "{text}");
    }
    assert!(r.stderr.is_empty());
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for cmd in [
        "mint",
        "room-id",
        "secret",
        "static-token",
        "inspect",
        "verify",
        "config",
        "revoke",
        "rooms",
        "completions",
    ] {
        let r = issuer(&[cmd, "--help"]);
        let help = r.ok();
        assert!(help.contains("Examples:"), "{cmd}: {help}");
        assert!(help.contains("issuer "), "{cmd}");
    }
}

#[test]
fn unknown_subcommands_and_flags_exit_2() {
    issuer(&["frobnicate"]).code(2);
    issuer(&["mint", "jitsi", "r", "--frob"]).code(2);
    issuer(&[]).code(2);
}

#[test]
fn version_prints_the_crate_version() {
    assert!(issuer(&["--version"])
        .ok()
        .contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions_are_generated_for_common_shells() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = issuer(&["completions", shell]);
        let script = r.ok();
        assert!(
            script.contains("mint") && script.contains("static-token"),
            "{shell}"
        );
    }
    issuer(&["completions", "tcsh"]).code(2);
}

// ---------------------------------------------------------------------------------------------
// mint: jitsi

#[test]
fn mint_prints_only_the_token_and_one_newline() {
    let r = issuer(&["mint", "jitsi", "standup", "--iss", "roomgate-demo"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.ends_with('\n') && !r.stdout.ends_with("\n\n"));
    assert!(is_token(r.out()), "{}", r.stdout);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn jitsi_tokens_carry_jitsi_meet_claims_and_a_ten_minute_window() {
    let t0 = now();
    let r = issuer(&[
        "mint",
        "jitsi",
        "standup",
        "--iss",
        "meet",
        "--name",
        "Alice",
        "--email",
        "a@example.com",
    ]);
    let c = claims(r.ok());
    assert_eq!(c["iss"], "meet");
    assert_eq!(c["aud"], "jitsi");
    assert_eq!(c["sub"], "*");
    assert_eq!(c["room"], "standup");
    assert_eq!(
        c["context"],
        json!({"user": {"name": "Alice", "email": "a@example.com", "moderator": true}})
    );
    let nbf = c["nbf"].as_i64().unwrap();
    assert!((t0..=t0 + 5).contains(&nbf));
    assert_eq!(c["exp"].as_i64().unwrap() - nbf, 600);
    assert_eq!(header(r.out())["alg"], "HS256");
    assert_eq!(header(r.out())["typ"], "JWT");
}

#[test]
fn jitsi_issuer_and_audience_come_from_the_jitsi_variables() {
    let r = issuer_with(
        &["mint", "jitsi", "standup"],
        &[
            ("JWT_APP_SECRET", SECRET),
            ("JWT_ACCEPTED_ISSUERS", " roomgate, meet.example.com"),
            ("JWT_ACCEPTED_AUDIENCES", "aud1,aud2"),
        ],
        None,
    );
    let c = claims(r.ok());
    assert_eq!(c["iss"], "roomgate");
    assert_eq!(c["aud"], "aud1");
}

#[test]
fn jitsi_without_an_issuer_is_a_usage_error_that_names_the_fix() {
    issuer(&["mint", "jitsi", "standup"])
        .code(2)
        .says("--iss")
        .says("JWT_ACCEPTED_ISSUERS");
}

#[test]
fn jitsi_no_moderator_makes_ordinary_participants() {
    let r = issuer(&[
        "mint",
        "jitsi",
        "r",
        "--iss",
        "i",
        "--no-moderator",
        "--sub",
        "meet.jitsi",
    ]);
    let c = claims(r.ok());
    assert_eq!(c["context"]["user"]["moderator"], false);
    assert_eq!(c["sub"], "meet.jitsi");
}

#[test]
fn jitsi_url_is_the_room_link_with_the_jwt_parameter() {
    let r = issuer(&[
        "mint",
        "jitsi",
        "Daily Standup",
        "--iss",
        "i",
        "--url",
        "https://meet.example.com/",
    ]);
    let link = r.ok();
    let token = link
        .strip_prefix("https://meet.example.com/Daily%20Standup?jwt=")
        .expect(link);
    // The claim is the MUC name Prosody compares with (Jitsi's web app's naming).
    assert_eq!(claims(token)["room"], "daily%20standup");
}

#[test]
fn rooms_that_are_not_one_path_segment_are_refused() {
    issuer(&["mint", "jitsi", "a/b", "--iss", "i"])
        .code(2)
        .says("path segment");
    issuer(&["mint", "generic", "..", "--sub", "u"]).code(2);
}

// ---------------------------------------------------------------------------------------------
// mint: videocall

#[test]
fn videocall_tokens_carry_videocall_rs_claims() {
    let t0 = now();
    let r = issuer(&[
        "mint",
        "videocall",
        "standup-2024",
        "--email",
        "alice@example.com",
        "--name",
        "Alice",
        "--host",
    ]);
    let c = claims(r.ok());
    assert_eq!(c["sub"], "alice@example.com");
    assert_eq!(c["room"], "standup-2024");
    assert_eq!(c["room_join"], true);
    assert_eq!(c["is_host"], true);
    assert_eq!(c["display_name"], "Alice");
    assert_eq!(c["iss"], "videocall-meeting-backend");
    let exp = c["exp"].as_i64().unwrap();
    assert!((t0 + 600..=t0 + 605).contains(&exp));
    assert!(c.get("aud").is_none());
}

#[test]
fn videocall_defaults_display_name_to_the_email_and_is_not_host() {
    let c = claims(issuer(&["mint", "videocall", "r", "--email", "bob@example.com"]).ok());
    assert_eq!(c["display_name"], "bob@example.com");
    assert_eq!(c["is_host"], false);
}

#[test]
fn videocall_needs_an_email() {
    issuer(&["mint", "videocall", "r"]).code(2).says("--email");
    issuer(&["mint", "videocall", "r", "--email", "a@b", "--sub", "c@d"]).code(2);
}

#[test]
fn videocall_url_is_the_lobby_link() {
    let link = issuer(&[
        "mint",
        "videocall",
        "r",
        "--email",
        "a@b",
        "--url",
        "wss://media.example.com:8080",
    ])
    .ok()
    .to_owned();
    assert!(
        link.starts_with("wss://media.example.com:8080/lobby?token=ey"),
        "{link}"
    );
}

// ---------------------------------------------------------------------------------------------
// mint: generic

#[test]
fn generic_tokens_carry_multi_layer_scheme_claims_and_live_an_hour() {
    let r = issuer(&[
        "mint",
        "generic",
        "demo",
        "--sub",
        "user123",
        "--role",
        "admin",
        "--admin",
        "--aud",
        "rooms-api",
    ]);
    let c = claims(r.ok());
    assert_eq!(c["sub"], "user123");
    assert_eq!(c["room"], "demo");
    assert_eq!(c["role"], "admin");
    assert_eq!(c["admin"], true);
    assert_eq!(c["aud"], "rooms-api");
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    assert!(c.get("iss").is_none());
}

#[test]
fn generic_role_defaults_to_user_without_admin() {
    let c = claims(issuer(&["mint", "generic", "demo"]).ok());
    assert_eq!(c["role"], "user");
    assert_eq!(c["admin"], false);
}

#[test]
fn flags_of_another_profile_are_refused_not_ignored() {
    issuer(&["mint", "jitsi", "r", "--iss", "i", "--host"])
        .code(2)
        .says("--host does not apply");
    issuer(&["mint", "videocall", "r", "--email", "a@b", "--admin"]).code(2);
    issuer(&["mint", "generic", "r", "--email", "a@b"])
        .code(2)
        .says("--sub");
}

// ---------------------------------------------------------------------------------------------
// mint: rooms, times, extra claims, output

#[test]
fn mint_without_a_room_generates_a_simple_id_and_says_so_on_stderr() {
    let r = issuer(&["mint", "generic", "--sub", "u"]);
    let room = claims(r.ok())["room"].as_str().unwrap().to_owned();
    assert!(room.len() == 9 && room.as_bytes()[4] == b'-', "{room}");
    assert!(r.stderr.contains(&format!("room {room}")), "{}", r.stderr);
}

#[test]
fn mint_generates_strong_room_ids_within_room_whitelist_bounds() {
    let r = issuer(&[
        "mint",
        "jitsi",
        "--iss",
        "i",
        "--room-id",
        "strong",
        "--sections",
        "3",
        "--symbols",
        "8",
    ]);
    let room = claims(r.ok())["room"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = room.split('-').collect();
    assert_eq!(parts.len(), 3);
    assert!(parts
        .iter()
        .all(|p| p.len() == 8 && p.chars().all(|c| c.is_ascii_hexdigit())));
    issuer(&[
        "mint",
        "jitsi",
        "--iss",
        "i",
        "--room-id",
        "strong",
        "--sections",
        "6",
    ])
    .code(2)
    .says("between 1 and 5");
    issuer(&[
        "mint",
        "jitsi",
        "--iss",
        "i",
        "--room-id",
        "simple",
        "--sections",
        "9",
    ])
    .code(2)
    .says("between 1 and 8");
    issuer(&[
        "mint",
        "jitsi",
        "named",
        "--iss",
        "i",
        "--room-id",
        "simple",
    ])
    .code(2);
}

#[test]
fn lifetime_expires_and_not_before_set_the_window() {
    let c = claims(issuer(&["mint", "jitsi", "r", "--iss", "i", "--lifetime", "2h"]).ok());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["nbf"].as_i64().unwrap(),
        7200
    );
    let c = claims(issuer(&["mint", "jitsi", "r", "--iss", "i", "--ttl", "1h30m"]).ok());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["nbf"].as_i64().unwrap(),
        5400
    );

    let t0 = now();
    let c = claims(issuer(&["mint", "jitsi", "r", "--iss", "i", "--not-before", "+1h"]).ok());
    let nbf = c["nbf"].as_i64().unwrap();
    assert!((t0 + 3600..=t0 + 3605).contains(&nbf));
    assert_eq!(c["exp"].as_i64().unwrap(), nbf + 600);

    let c = claims(
        issuer(&[
            "mint",
            "videocall",
            "r",
            "--email",
            "a@b",
            "--expires",
            "2100-01-01T00:00:00Z",
        ])
        .ok(),
    );
    assert_eq!(c["exp"], 4_102_444_800i64);
    let c = claims(
        issuer(&[
            "mint",
            "generic",
            "r",
            "--expires",
            "2100-01-01T01:00:00+01:00",
        ])
        .ok(),
    );
    assert_eq!(c["exp"], 4_102_444_800i64);
}

#[test]
fn times_that_cannot_work_are_usage_errors_with_a_hint() {
    issuer(&["mint", "jitsi", "r", "--iss", "i", "--lifetime", "600"])
        .code(2)
        .says("600m");
    issuer(&["mint", "jitsi", "r", "--iss", "i", "--lifetime", "soon"])
        .code(2)
        .says("10m, 2h or 1d");
    issuer(&[
        "mint",
        "jitsi",
        "r",
        "--iss",
        "i",
        "--expires",
        "2001-01-01T00:00:00Z",
    ])
    .code(2)
    .says("past");
    issuer(&[
        "mint",
        "jitsi",
        "r",
        "--iss",
        "i",
        "--expires",
        "2100-01-01T00:00:00",
    ])
    .code(2)
    .says("time zone");
    issuer(&[
        "mint",
        "jitsi",
        "r",
        "--iss",
        "i",
        "--lifetime",
        "1h",
        "--expires",
        "2100-01-01",
    ])
    .code(2);
    issuer(&[
        "mint",
        "jitsi",
        "r",
        "--iss",
        "i",
        "--not-before",
        "2100-01-02T00:00:00Z",
        "--expires",
        "2100-01-01T00:00:00Z",
    ])
    .code(2)
    .says("before it becomes valid");
}

#[test]
fn lifetimes_over_the_filter_maximum_are_minted_with_a_warning() {
    let r = issuer(&["mint", "generic", "r", "--lifetime", "2d"]);
    assert!(is_token(r.ok()));
    assert!(
        r.stderr.contains("warning") && r.stderr.contains("lifetime"),
        "{}",
        r.stderr
    );
}

#[test]
fn extra_claims_are_json_when_they_parse_and_strings_otherwise() {
    let r = issuer(&[
        "mint",
        "jitsi",
        "r",
        "--iss",
        "i",
        "--claim",
        "level=3",
        "--claim",
        "team=dev",
        "--claim",
        "flags=[1,\"a\"]",
        "--claim",
        "context={\"features\":{\"recording\":true}}",
    ]);
    let c = claims(r.ok());
    assert_eq!(c["level"], 3);
    assert_eq!(c["team"], "dev");
    assert_eq!(c["flags"], json!([1, "a"]));
    assert_eq!(c["context"]["features"]["recording"], true);
    assert_eq!(c["context"]["user"]["moderator"], true);
}

#[test]
fn extra_claims_cannot_overwrite_the_profile_or_the_clock() {
    issuer(&["mint", "jitsi", "r", "--iss", "i", "--claim", "iss=x"])
        .code(2)
        .says("--iss");
    issuer(&["mint", "jitsi", "r", "--iss", "i", "--claim", "exp=1"])
        .code(2)
        .says("--lifetime");
    issuer(&["mint", "jitsi", "r", "--iss", "i", "--claim", "room=b"]).code(2);
    issuer(&["mint", "jitsi", "r", "--iss", "i", "--claim", "noequals"])
        .code(2)
        .says("KEY=VALUE");
    issuer(&[
        "mint",
        "jitsi",
        "r",
        "--iss",
        "i",
        "--claim",
        "context={\"user\":{\"moderator\":false}}",
    ])
    .code(2)
    .says("context.user.moderator");
}

#[test]
fn kid_goes_in_the_header_and_jti_in_the_claims() {
    let r = issuer(&[
        "mint", "jitsi", "r", "--iss", "i", "--kid", "2025-10", "--jti", "abc",
    ]);
    assert_eq!(header(r.ok())["kid"], "2025-10");
    assert_eq!(claims(r.ok())["jti"], "abc");
    let c = claims(issuer(&["mint", "jitsi", "r", "--iss", "i", "--jti"]).ok());
    let jti = c["jti"].as_str().unwrap();
    assert!(
        jti.len() == 32 && jti.chars().all(|c| c.is_ascii_hexdigit()),
        "{jti}"
    );
}

#[test]
fn json_output_has_the_room_whitelist_shape_plus_the_token() {
    let r = issuer(&[
        "mint",
        "jitsi",
        "1234-5678",
        "--iss",
        "i",
        "--json",
        "--url",
        "https://meet.example.com",
    ]);
    let text = r.ok();
    let keys: Vec<usize> = [
        "\"success\"",
        "\"room_id\"",
        "\"url\"",
        "\"token\"",
        "\"expires_at\"",
    ]
    .iter()
    .map(|k| text.find(k).expect(k))
    .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "key order: {text}");
    let v: Value = serde_json::from_str(text).unwrap();
    assert_eq!(v["success"], true);
    assert_eq!(v["room_id"], "1234-5678");
    let token = v["token"].as_str().unwrap();
    assert_eq!(
        v["url"],
        format!("https://meet.example.com/1234-5678?jwt={token}")
    );
    let exp = claims(token)["exp"].as_i64().unwrap();
    let expires_at = v["expires_at"].as_str().unwrap();
    assert!(expires_at.ends_with(".000Z"), "{expires_at}");
    let back = issuer(&["inspect", "--json", token]);
    let times: Value = serde_json::from_str(back.ok()).unwrap();
    assert_eq!(times["times"]["exp"], expires_at);
    assert!(exp > now());

    let v: Value = serde_json::from_str(issuer(&["mint", "generic", "r", "--json"]).ok()).unwrap();
    assert_eq!(v["url"], Value::Null);
}

#[test]
fn bad_base_urls_are_refused() {
    for bad in [
        "meet.example.com",
        "ftp://x",
        "https://",
        "https://x/?a=b",
        "https://x y",
    ] {
        issuer(&["mint", "jitsi", "r", "--iss", "i", "--url", bad]).code(2);
    }
}

// ---------------------------------------------------------------------------------------------
// secrets

#[test]
fn secrets_come_from_a_file_stdin_or_a_named_variable() {
    let file = temp_file("secret-sources.txt", &format!("{SECRET}\n"));
    let env: &[(&str, &str)] = &[];
    let from_file = issuer_with(&["mint", "generic", "r", "--secret-file", &file], env, None);
    let at_file = issuer_with(
        &["mint", "generic", "r", "--secret", &format!("@{file}")],
        env,
        None,
    );
    let stdin = issuer_with(
        &["mint", "generic", "r", "--secret", "-"],
        env,
        Some(SECRET),
    );
    let named = issuer_with(
        &["mint", "generic", "r", "--secret-env", "JWT_SECRET"],
        &[("JWT_SECRET", SECRET)],
        None,
    );
    for r in [&from_file, &at_file, &stdin, &named] {
        let token = r.ok();
        issuer(&["verify", token]).code(0);
        issuer_with(
            &["verify", token],
            &[("JWT_APP_SECRET", OTHER_SECRET)],
            None,
        )
        .code(1);
    }
}

#[test]
fn a_secret_on_the_command_line_is_refused() {
    issuer(&["mint", "generic", "r", "--secret", SECRET])
        .code(2)
        .says("shell history");
}

#[test]
fn a_missing_secret_says_where_to_put_one() {
    issuer_with(&["mint", "generic", "r"], &[], None)
        .code(2)
        .says("JWT_APP_SECRET")
        .says("--secret-file");
}

#[test]
fn an_unreadable_secret_file_is_an_io_error() {
    issuer(&[
        "mint",
        "generic",
        "r",
        "--secret-file",
        "/nonexistent/issuer/secret",
    ])
    .code(3)
    .says("cannot read the secret file");
}

#[test]
fn weak_secrets_are_refused_unless_forced() {
    let env = [("JWT_APP_SECRET", "short-secret")];
    issuer_with(&["mint", "generic", "r"], &env, None)
        .code(2)
        .says("12 bytes")
        .says("--allow-weak-secret");
    let r = issuer_with(&["mint", "generic", "r", "--allow-weak-secret"], &env, None);
    assert!(is_token(r.ok()));
    assert!(r.stderr.contains("warning"), "{}", r.stderr);
}

#[test]
fn encoded_secrets_are_decoded_like_the_filter_decodes_them() {
    // 32 bytes as hex text is 64 characters: with --secret-encoding hex the key is the 32 bytes.
    let hex_secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let env = [("JWT_APP_SECRET", hex_secret)];
    let token = issuer_with(
        &["mint", "generic", "r", "--secret-encoding", "hex"],
        &env,
        None,
    )
    .ok()
    .to_owned();
    issuer_with(&["verify", &token, "--secret-encoding", "hex"], &env, None).code(0);
    issuer_with(&["verify", &token], &env, None)
        .code(1)
        .says("bad_signature")
        .says("another encoding");
    issuer_with(
        &["mint", "generic", "r", "--secret-encoding", "base64"],
        &[("JWT_APP_SECRET", "***")],
        None,
    )
    .code(2)
    .says("base64");
}

// ---------------------------------------------------------------------------------------------
// room-id, secret, static-token

#[test]
fn room_id_prints_room_whitelist_ids() {
    let id = issuer(&["room-id"]).ok().to_owned();
    assert!(
        id.len() == 9 && id.chars().all(|c| c.is_ascii_digit() || c == '-'),
        "{id}"
    );
    let ids = issuer(&[
        "room-id",
        "strong",
        "--sections",
        "5",
        "--symbols",
        "3",
        "-n",
        "4",
    ])
    .ok()
    .to_owned();
    let lines: Vec<&str> = ids.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l.len() == 5 * 3 + 4));
    assert!(issuer(&["room-id", "simple", "--sections", "8"]).ok().len() == 8 * 5 - 1);
}

#[test]
fn room_id_bounds_are_usage_errors() {
    issuer(&["room-id", "simple", "--sections", "0"]).code(2);
    issuer(&["room-id", "strong", "--symbols", "9"])
        .code(2)
        .says("between 3 and 8");
    issuer(&["room-id", "simple", "--symbols", "5"])
        .code(2)
        .says("strong room IDs only");
    issuer(&["room-id", "-n", "0"]).code(2);
    issuer(&["room-id", "medium"]).code(2);
}

#[test]
fn secret_prints_32_random_bytes_as_base64_by_default() {
    use base64::Engine as _;
    let a = issuer(&["secret"]);
    let b = issuer(&["secret"]);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(a.ok())
        .unwrap();
    assert_eq!(bytes.len(), 32);
    assert_ne!(a.ok(), b.ok());
    assert!(a.stderr.contains("encoding"), "{}", a.stderr);
    let hex = issuer(&["secret", "--hex", "--bytes", "40"])
        .ok()
        .to_owned();
    assert!(hex.len() == 80 && hex.chars().all(|c| c.is_ascii_hexdigit()));
    issuer(&["secret", "--hex", "--base64"]).code(2);
}

#[test]
fn secret_refuses_short_keys_unless_forced() {
    issuer(&["secret", "--bytes", "16"])
        .code(2)
        .says("under 32");
    assert_eq!(
        issuer(&["secret", "--hex", "--bytes", "16", "--allow-weak-secret"])
            .ok()
            .len(),
        32
    );
    issuer(&["secret", "--bytes", "5000"]).code(2);
}

#[test]
fn a_generated_secret_works_end_to_end() {
    let secret = issuer(&["secret"]).ok().to_owned();
    let env = [("JWT_APP_SECRET", secret.as_str())];
    let token = issuer_with(&["mint", "jitsi", "r", "--iss", "i"], &env, None)
        .ok()
        .to_owned();
    issuer_with(
        &[
            "verify",
            &token,
            "--profile",
            "jitsi",
            "--room",
            "r",
            "--iss",
            "i",
        ],
        &env,
        None,
    )
    .code(0);
}

fn sha256_hex(text: &str) -> String {
    roomgate_filter::config::hex(&roomgate_filter::config::token_digest(text))
}

#[test]
fn static_room_tokens_print_the_token_and_its_digest() {
    let r = issuer(&["static-token", "--room", "room1"]);
    let token = r.ok();
    assert!(token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()));
    let digest = sha256_hex(token);
    assert!(
        r.stderr.contains(&format!("sha256 {digest}")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(r#""rooms":{"room1":{"sha256""#),
        "{}",
        r.stderr
    );
}

#[test]
fn static_token_json_holds_a_config_snippet_the_filter_accepts() {
    for scope in [&["--room", "room1"][..], &["--global"], &["--admin"]] {
        let mut args = vec!["static-token", "--json"];
        args.extend_from_slice(scope);
        let v: Value = serde_json::from_str(issuer(&args).ok()).unwrap();
        let token = v["token"].as_str().unwrap();
        assert_eq!(v["sha256"], sha256_hex(token));
        let kind = if scope == ["--admin"] {
            "admin"
        } else {
            "room"
        };
        let config = json!({
            "token_sources": ["bearer"],
            "static_tokens": v["config"]["static_tokens"],
            "routes": [{"match": {"pattern": "/{room}"}, "kind": kind}],
            "default": "deny"
        });
        let gate = Gate::from_json(config.to_string().as_bytes(), &|_| None).unwrap();
        let headers = [("authorization".to_owned(), format!("Bearer {token}"))];
        let verdict = gate.decide("/room1", &headers, now());
        assert_eq!(verdict.denial, None, "{scope:?}");
        let wrong = [("authorization".to_owned(), format!("Bearer {token}x"))];
        assert!(gate.decide("/room1", &wrong, now()).denial.is_some());
    }
}

#[test]
fn static_token_from_an_existing_token_prints_its_digest() {
    let token = "room1-token-0123456789abcdef01234567890";
    let r = issuer_with(
        &["static-token", "--room", "room1", "--from", "-"],
        &[],
        Some(&format!("{token}\n")),
    );
    assert_eq!(r.ok(), sha256_hex(token));
    issuer_with(
        &["static-token", "--global", "--from", "-"],
        &[],
        Some("short"),
    )
    .code(2)
    .says("32");
    issuer_with(
        &["static-token", "--global", "--from", "-"],
        &[],
        Some("a.b.c-0123456789abcdef0123456789abcdef"),
    )
    .code(2)
    .says("JWT-shaped");
}

#[test]
fn static_token_needs_exactly_one_scope() {
    issuer(&["static-token"]).code(2);
    issuer(&["static-token", "--global", "--admin"]).code(2);
    issuer(&["static-token", "--room", "a/b"]).code(2);
}

// ---------------------------------------------------------------------------------------------
// inspect

#[test]
fn inspect_shows_header_claims_and_human_times() {
    let token = issuer(&["mint", "jitsi", "standup", "--iss", "i"])
        .ok()
        .to_owned();
    let r = issuer(&["inspect", &token]);
    let text = r.ok();
    for part in [
        "header",
        "\"alg\": \"HS256\"",
        "claims",
        "\"room\": \"standup\"",
        "times (UTC)",
        "exp",
        "in 10m",
        "lifetime 10m",
        "not checked",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn inspect_reads_stdin_and_prints_json() {
    let token = issuer(&["mint", "videocall", "r", "--email", "a@b"])
        .ok()
        .to_owned();
    let r = issuer_with(&["inspect", "--json", "-"], &[], Some(&token));
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(v["claims"]["room_join"], true);
    assert_eq!(v["header"]["typ"], "JWT");
    assert!(v["times"]["exp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn inspect_decodes_the_rfc_7515_example_at_its_own_time() {
    let r = issuer(&["inspect", RFC7515_A1_TOKEN, "--at", "2011-03-22T18:38:00Z"]);
    let text = r.ok();
    assert!(text.contains("\"iss\": \"joe\""));
    assert!(text.contains("\"http://example.com/is_root\": true"));
    assert!(text.contains("2011-03-22T18:43:00.000Z  in 5m"), "{text}");
}

#[test]
fn inspect_cannot_decode_garbage_and_exits_1() {
    issuer(&["inspect", "not-a-token"])
        .code(1)
        .says("not a JWT");
    issuer(&["inspect", "a.b.c.d.e"]).code(1).says("JWE");
    issuer(&["inspect", "!!!.e30.AA"]).code(1).says("header");
}

#[test]
fn inspect_flags_what_the_filter_would_refuse_whatever_the_key() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let token = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(r#"{"room":"a"}"#));
    let r = issuer(&["inspect", &token]);
    r.code(0).says("HS256 only").says("no exp");
}

// ---------------------------------------------------------------------------------------------
// verify

#[test]
fn verify_accepts_a_fresh_token_for_its_room_and_shows_what_goes_upstream() {
    let token = issuer(&[
        "mint", "jitsi", "standup", "--iss", "meet", "--name", "Alice",
    ])
    .ok()
    .to_owned();
    let r = issuer(&[
        "verify",
        &token,
        "--profile",
        "jitsi",
        "--room",
        "StandUp",
        "--iss",
        "meet",
        "--aud",
        "jitsi",
    ]);
    let text = r.ok();
    // Jitsi names the room as its MUC does: `StandUp` is `standup`.
    assert!(text.starts_with("accepted: room \"standup\""), "{text}");
    assert!(
        text.contains("x-roomgate-name: Alice") && text.contains("x-roomgate-moderator: true"),
        "{text}"
    );
}

#[test]
fn verify_rejects_a_token_for_another_room_with_exit_1() {
    for (profile, mint) in [
        ("jitsi", vec!["mint", "jitsi", "room-a", "--iss", "i"]),
        (
            "videocall",
            vec!["mint", "videocall", "room-a", "--email", "a@b"],
        ),
        ("generic", vec!["mint", "generic", "room-a"]),
    ] {
        let token = issuer(&mint).ok().to_owned();
        issuer(&["verify", &token, "--profile", profile, "--room", "room-a"]).code(0);
        issuer(&["verify", &token, "--profile", profile, "--room", "room-b"])
            .code(1)
            .says("room_mismatch")
            .says("room-a");
    }
}

#[test]
fn verify_says_which_issuer_or_audience_is_wrong() {
    let token = issuer(&["mint", "jitsi", "r", "--iss", "meet", "--aud", "jitsi"])
        .ok()
        .to_owned();
    issuer(&[
        "verify",
        &token,
        "--profile",
        "jitsi",
        "--iss",
        "other,another",
    ])
    .code(1)
    .says("issuer_not_accepted")
    .says(r#"iss is "meet"; accepted: "other", "another""#);
    issuer(&[
        "verify",
        &token,
        "--profile",
        "jitsi",
        "--iss",
        "meet",
        "--aud",
        "prosody",
    ])
    .code(1)
    .says("audience_not_accepted")
    .says(r#"aud is "jitsi""#);
    issuer_with(
        &["verify", &token, "--profile", "jitsi"],
        &[("JWT_APP_SECRET", SECRET), ("JWT_ACCEPTED_ISSUERS", "x")],
        None,
    )
    .code(1)
    .says("issuer_not_accepted");
}

#[test]
fn verify_uses_the_clock_it_is_given() {
    let r = issuer(&["mint", "jitsi", "r", "--iss", "i", "--json"]);
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    let token = v["token"].as_str().unwrap();
    let exp = claims(token)["exp"].as_i64().unwrap();
    let at = |t: i64| t.to_string();
    issuer(&["verify", token, "--at", &at(exp + 29)]).code(0);
    issuer(&["verify", token, "--at", &at(exp + 30)])
        .code(1)
        .says("token_expired")
        .says("allowed clock skew 30s");
    issuer(&["verify", token, "--at", &at(exp + 30), "--leeway", "60"]).code(0);
    issuer(&["verify", token, "--at", &at(exp - 3600)])
        .code(1)
        .says("token_not_yet_valid")
        .says("nbf is");
}

#[test]
fn verify_refuses_lifetimes_over_the_maximum() {
    let token = issuer(&["mint", "generic", "r", "--lifetime", "2d"])
        .ok()
        .to_owned();
    issuer(&["verify", &token])
        .code(1)
        .says("lifetime_too_long")
        .says("2d");
    issuer(&["verify", &token, "--max-lifetime", "3d"]).code(0);
    issuer(&["verify", &token, "--max-lifetime", "0"]).code(0);
}

#[test]
fn verify_explains_a_bad_signature() {
    let token = issuer(&["mint", "generic", "r"]).ok().to_owned();
    issuer_with(
        &["verify", &token],
        &[("JWT_APP_SECRET", OTHER_SECRET)],
        None,
    )
    .code(1)
    .says("bad_signature")
    .says("$JWT_APP_SECRET");
}

#[test]
fn verify_as_videocall_requires_room_join() {
    let token = issuer(&["mint", "jitsi", "r", "--iss", "videocall-meeting-backend"])
        .ok()
        .to_owned();
    // A Jitsi token lacks what the media server's claims struct needs (display_name, is_host,
    // room_join).
    issuer(&["verify", &token, "--profile", "videocall"])
        .code(1)
        .says("invalid_claims");
}

#[test]
fn verify_kid_must_name_the_key() {
    let token = issuer(&["mint", "generic", "r", "--kid", "k2"])
        .ok()
        .to_owned();
    issuer(&["verify", &token, "--kid", "k2"]).code(0);
    issuer(&["verify", &token, "--kid", "k1"])
        .code(1)
        .says("unknown_key")
        .says(r#""k2""#);
}

#[test]
fn verify_json_reports_the_filter_verdict_on_stdout() {
    let token = issuer(&["mint", "videocall", "r", "--email", "a@b"])
        .ok()
        .to_owned();
    let ok: Value =
        serde_json::from_str(issuer(&["verify", &token, "--profile", "videocall", "--json"]).ok())
            .unwrap();
    assert_eq!(ok["accepted"], true);
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["room"], "r");
    assert_eq!(ok["headers"]["x-roomgate-subject"], "a@b");
    let r = issuer(&[
        "verify",
        &token,
        "--profile",
        "videocall",
        "--json",
        "--iss",
        "x",
    ]);
    r.code(1);
    let no: Value = serde_json::from_str(r.out()).unwrap();
    assert_eq!(no["accepted"], false);
    assert_eq!(no["status"], 401);
    assert_eq!(no["error"], "invalid_token");
    assert_eq!(no["reason"], "issuer_not_accepted");
}

#[test]
fn verify_reads_the_token_from_stdin_but_not_the_secret_too() {
    let token = issuer(&["mint", "generic", "r"]).ok().to_owned();
    issuer_with(
        &["verify", "-"],
        &[("JWT_APP_SECRET", SECRET)],
        Some(&token),
    )
    .code(0);
    issuer_with(&["verify", "-", "--secret", "-"], &[], Some(&token))
        .code(2)
        .says("not both");
}

#[test]
fn verify_refuses_weak_keys_because_the_filter_does() {
    let env = [("JWT_APP_SECRET", "short")];
    let token = issuer_with(&["mint", "generic", "r", "--allow-weak-secret"], &env, None)
        .ok()
        .to_owned();
    issuer_with(&["verify", &token], &env, None)
        .code(2)
        .says("refuses keys under 32 bytes");
}

#[test]
fn verify_malformed_tokens_are_rejected_with_the_reason() {
    issuer(&["verify", "not.a.jwt"])
        .code(1)
        .says("malformed_token");
    issuer(&["verify", "static-token-without-dots-0123456789abcdef"]).code(1);
}

#[test]
fn verify_against_a_real_config_file() {
    let config = repo().join("examples").join("jitsi.json");
    let config = config.to_str().unwrap();
    let env = [
        ("JWT_APP_SECRET", SECRET),
        ("JWT_ACCEPTED_ISSUERS", "roomgate, meet.example.com"),
        ("JWT_ACCEPTED_AUDIENCES", "jitsi"),
    ];
    let token = issuer_with(&["mint", "jitsi", "standup"], &env, None)
        .ok()
        .to_owned();
    issuer_with(
        &["verify", &token, "--config", config, "--path", "/standup"],
        &env,
        None,
    )
    .code(0);
    issuer_with(
        &["verify", &token, "--config", config, "--room", "STANDUP"],
        &env,
        None,
    )
    .code(0);
    issuer_with(
        &[
            "verify",
            &token,
            "--config",
            config,
            "--path",
            "/xmpp-websocket?room=standup",
        ],
        &env,
        None,
    )
    .code(0);
    issuer_with(
        &["verify", &token, "--config", config, "--path", "/other"],
        &env,
        None,
    )
    .code(1)
    .says("room_mismatch");
    issuer_with(&["verify", &token, "--config", config], &env, None).code(0);
    let bad = temp_file("bad-config.json", r#"{"mode": "enforce", "nonsense": 1}"#);
    issuer_with(
        &["verify", &token, "--config", &bad, "--path", "/x"],
        &env,
        None,
    )
    .code(2)
    .says("nonsense");
    issuer_with(
        &[
            "verify",
            &token,
            "--config",
            "/nonexistent.json",
            "--path",
            "/x",
        ],
        &env,
        None,
    )
    .code(3);
    issuer_with(
        &[
            "verify",
            &token,
            "--config",
            config,
            "--path",
            "/x",
            "--profile",
            "jitsi",
        ],
        &env,
        None,
    )
    .code(2);
}

#[test]
fn verify_with_a_config_file_names_a_missing_secret_variable() {
    let config = repo().join("examples").join("videocall.json");
    let token = issuer(&["mint", "videocall", "r", "--email", "a@b"])
        .ok()
        .to_owned();
    issuer_with(
        &[
            "verify",
            &token,
            "--config",
            config.to_str().unwrap(),
            "--path",
            "/lobby",
        ],
        &[],
        None,
    )
    .code(2)
    .says("JWT_SECRET");
    let file = temp_file("videocall-secret.txt", SECRET);
    issuer_with(
        &[
            "verify",
            &token,
            "--config",
            config.to_str().unwrap(),
            "--path",
            "/lobby",
            "--secret-file",
            &file,
            "--secret-env",
            "JWT_SECRET",
        ],
        &[],
        None,
    )
    .code(0);
}

// ---------------------------------------------------------------------------------------------
// config

#[test]
fn config_prints_a_configuration_the_filter_loads_and_that_accepts_minted_tokens() {
    let env = [("JWT_APP_SECRET", SECRET), ("JWT_SECRET", SECRET)];
    for (profile, mint, path, headers) in [
        (
            "jitsi",
            vec!["mint", "jitsi", "standup", "--iss", "meet"],
            "/standup",
            true,
        ),
        (
            "videocall",
            vec!["mint", "videocall", "standup", "--email", "a@b"],
            "/lobby?token=",
            false,
        ),
        (
            "generic",
            vec![
                "mint", "generic", "standup", "--aud", "api", "--iss", "meet",
            ],
            "/api/rooms/standup/join",
            true,
        ),
    ] {
        let mut args = vec!["config", profile];
        if profile != "videocall" {
            args.extend(["--iss", "meet"]);
        }
        if profile == "generic" {
            args.extend(["--aud", "api"]);
        }
        let text = issuer(&args).ok().to_owned();
        let gate = Gate::from_json(text.as_bytes(), &|n| {
            (n == "JWT_APP_SECRET" || n == "JWT_SECRET").then(|| SECRET.to_owned())
        })
        .unwrap_or_else(|e| panic!("{profile}: {e}\n{text}"));
        let token = issuer_with(&mint, &env, None).ok().to_owned();
        let (path, hs) = if headers {
            (
                path.to_owned(),
                vec![("authorization".to_owned(), format!("Bearer {token}"))],
            )
        } else {
            (format!("{path}{token}"), vec![])
        };
        assert_eq!(gate.decide(&path, &hs, now()).denial, None, "{profile}");
        let other = path.replace("standup", "other");
        if headers {
            assert!(
                gate.decide(&other, &hs, now()).denial.is_some(),
                "{profile}"
            );
        }
    }
}

#[test]
fn config_takes_issuers_from_the_environment_and_warns_without_any() {
    let r = issuer_with(
        &["config", "jitsi"],
        &[("JWT_ACCEPTED_ISSUERS", "a, b")],
        None,
    );
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(v["jwt"]["issuers"], json!(["a", "b"]));
    issuer_with(&["config", "jitsi"], &[], None)
        .code(0)
        .says("any issuer");
    let v: Value =
        serde_json::from_str(issuer_with(&["config", "videocall"], &[], None).ok()).unwrap();
    assert_eq!(v["jwt"]["issuers"], json!(["videocall-meeting-backend"]));
}

#[test]
fn config_reflects_key_and_policy_settings() {
    let r = issuer(&[
        "config",
        "generic",
        "--iss",
        "x",
        "--secret-env",
        "JWT_SECRET",
        "--secret-encoding",
        "base64",
        "--kid",
        "k1",
        "--leeway",
        "5",
        "--max-lifetime",
        "2h",
        "--report",
        "--case-sensitive-rooms",
    ]);
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(v["mode"], "report");
    assert_eq!(
        v["jwt"]["keys"],
        json!([{"kid": "k1", "secret_env": "JWT_SECRET", "encoding": "base64"}])
    );
    assert_eq!(v["jwt"]["leeway_seconds"], 5);
    assert_eq!(v["jwt"]["max_lifetime_seconds"], 7200);
    assert_eq!(v["rooms"]["case_insensitive"], false);
    issuer(&["config", "generic", "--leeway", "601"]).code(2);
    issuer(&["config", "generic", "--secret-env", "9BAD"])
        .code(2)
        .says("environment variable name");
}

#[test]
fn config_envoy_wraps_the_configuration_in_the_wasm_filter() {
    let r = issuer(&[
        "config",
        "videocall",
        "--envoy",
        "--secret-env",
        "JWT_SECRET",
        "--wasm",
        "/opt/roomgate.wasm",
    ]);
    let yaml = r.ok();
    for part in [
        "envoy.extensions.filters.http.wasm.v3.Wasm",
        "fail_open: false",
        "host_env_keys: [JWT_SECRET]",
        "filename: \"/opt/roomgate.wasm\"",
        "google.protobuf.StringValue",
        "\"secret_env\": \"JWT_SECRET\"",
    ] {
        assert!(yaml.contains(part), "{part}: {yaml}");
    }
    // The embedded JSON is the plain config, indented.
    let plain = issuer(&["config", "videocall", "--secret-env", "JWT_SECRET"])
        .ok()
        .to_owned();
    let embedded: String = yaml
        .lines()
        .skip_while(|l| !l.ends_with("value: |"))
        .skip(1)
        .map(|l| l.trim_start_matches("          "))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(embedded, plain);
    issuer(&["config", "jitsi", "--wasm", "x.wasm"]).code(2);
}

// ---------------------------------------------------------------------------------------------
// revoke

fn copy_of(repo_file: &str, name: &str) -> String {
    temp_file(
        name,
        &std::fs::read_to_string(repo().join(repo_file)).unwrap(),
    )
}

#[test]
fn verify_reads_the_config_inside_envoy_and_ecds_yaml() {
    let token = issuer(&["mint", "jitsi", "standup", "--iss", "roomgate-demo"])
        .ok()
        .to_owned();
    for file in ["envoy.yaml", "deploy/envoy-ecds/roomgate.yaml"] {
        let path = repo().join(file);
        let path = path.to_str().unwrap();
        issuer(&["verify", &token, "--config", path]).code(0);
        issuer(&["verify", &token, "--config", path, "--path", "/other"])
            .code(1)
            .says("room_mismatch");
    }
}

#[test]
fn revoke_closes_a_room_in_the_ecds_file_and_leaves_the_rest_as_it_was() {
    let file = copy_of("deploy/envoy-ecds/roomgate.yaml", "ecds-close.yaml");
    let before = std::fs::read_to_string(&file).unwrap();
    let token = issuer(&["mint", "jitsi", "standup", "--iss", "roomgate-demo"])
        .ok()
        .to_owned();
    let r = issuer(&["revoke", "--config", &file, "--room", "StandUp"]);
    assert_eq!(r.ok(), "", "only notes, no product");
    r.says("room \"StandUp\" closed");
    let after = std::fs::read_to_string(&file).unwrap();
    let head = before.find("value: |").unwrap();
    assert_eq!(
        after[..head],
        before[..head],
        "text before the block is kept"
    );
    assert!(after.contains("\"rooms\": [\"StandUp\"]"), "{after}");
    issuer(&["verify", &token, "--config", &file])
        .code(1)
        .says("room_closed")
        .says("--undo");
    issuer(&["revoke", "--config", &file, "--room", "standup"])
        .code(0)
        .says("nothing to change");
    issuer(&["revoke", "--config", &file, "--room", "standup", "--undo"])
        .code(0)
        .says("reopened");
    issuer(&["verify", &token, "--config", &file]).code(0);
}

#[test]
fn revoke_by_token_uses_its_jti_and_leaves_other_tokens_alone() {
    let file = copy_of("examples/jitsi.json", "jitsi-jti.json");
    let env = [
        ("JWT_APP_SECRET", SECRET),
        ("JWT_ACCEPTED_ISSUERS", "roomgate"),
        ("JWT_ACCEPTED_AUDIENCES", "jitsi"),
    ];
    let run = |args: &[&str]| issuer_with(args, &env, None);
    let doomed = run(&["mint", "jitsi", "standup", "--jti"]).ok().to_owned();
    let kept = run(&["mint", "jitsi", "standup", "--jti"]).ok().to_owned();
    run(&["revoke", "--config", &file, "--token", &doomed])
        .code(0)
        .says("revoked");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["revoked"]["jtis"], json!([claims(&doomed)["jti"]]));
    run(&["verify", &doomed, "--config", &file])
        .code(1)
        .says("token_revoked")
        .says("revoked.jtis");
    run(&["verify", &kept, "--config", &file]).code(0);
    let jti = claims(&doomed)["jti"].as_str().unwrap().to_owned();
    run(&["revoke", "--config", &file, "--jti", &jti, "--undo"]).code(0);
    run(&["verify", &doomed, "--config", &file]).code(0);
}

#[test]
fn revoking_a_token_without_jti_points_to_the_room_cut_off() {
    let file = copy_of("examples/jitsi.json", "jitsi-nojti.json");
    let token = issuer(&["mint", "jitsi", "standup", "--iss", "i"])
        .ok()
        .to_owned();
    issuer(&["revoke", "--config", &file, "--token", &token])
        .code(2)
        .says("no jti")
        .says("--room standup --issued-before");
}

#[test]
fn a_room_cut_off_revokes_older_tokens_and_not_later_ones() {
    let file = copy_of("deploy/envoy-ecds/roomgate.yaml", "ecds-cutoff.yaml");
    let t0 = now();
    let old = issuer(&["mint", "jitsi", "standup", "--iss", "roomgate-demo"])
        .ok()
        .to_owned();
    let later = issuer(&[
        "mint",
        "jitsi",
        "standup",
        "--iss",
        "roomgate-demo",
        "--not-before",
        "+2h",
    ])
    .ok()
    .to_owned();
    let cut = (t0 + 3600).to_string();
    issuer(&[
        "revoke",
        "--config",
        &file,
        "--room",
        "standup",
        "--issued-before",
        &cut,
    ])
    .code(0);
    issuer(&["verify", &old, "--config", &file])
        .code(1)
        .says("token_revoked")
        .says("cut-off");
    let at = (t0 + 7200 + 5).to_string();
    issuer(&["verify", &later, "--config", &file, "--at", &at]).code(0);
}

#[test]
fn revoke_issued_before_now_includes_a_token_minted_this_second() {
    let file = copy_of("deploy/envoy-ecds/roomgate.yaml", "ecds-now.yaml");
    let token = issuer(&["mint", "jitsi", "standup", "--iss", "roomgate-demo"])
        .ok()
        .to_owned();
    issuer(&[
        "revoke",
        "--config",
        &file,
        "--room",
        "standup",
        "--issued-before",
    ])
    .code(0);
    issuer(&["verify", &token, "--config", &file])
        .code(1)
        .says("token_revoked");
}

#[test]
fn revoke_dry_run_prints_the_new_file_and_writes_nothing() {
    let file = copy_of("examples/videocall.json", "videocall-dry.json");
    let before = std::fs::read_to_string(&file).unwrap();
    let r = issuer(&[
        "revoke",
        "--config",
        &file,
        "--room",
        "standup-2024",
        "--dry-run",
    ]);
    let printed: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(printed["revoked"]["rooms"], json!(["standup-2024"]));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
}

#[test]
fn revoke_refuses_files_it_cannot_safely_edit() {
    let bad = temp_file("revoke-bad.json", r#"{"routes": [], "surprise": true}"#);
    issuer(&["revoke", "--config", &bad, "--room", "r"])
        .code(2)
        .says("surprise");
    assert!(std::fs::read_to_string(&bad).unwrap().contains("surprise"));
    let yaml = temp_file("revoke-none.yaml", "a: 1\nb: 2\n");
    issuer(&["revoke", "--config", &yaml, "--room", "r"])
        .code(2)
        .says("value: |");
    issuer(&[
        "revoke",
        "--config",
        "/nonexistent/roomgate.yaml",
        "--room",
        "r",
    ])
    .code(3);
    issuer(&["revoke", "--config", &bad]).code(2);
    issuer(&["revoke", "--config", &bad, "--jti", "x", "--issued-before"]).code(2);
}

#[test]
fn videocall_tokens_are_refused_where_the_media_server_would_refuse_them() {
    // The media server expects no aud, and NATS-safe rooms only; the secret is JWT_SECRET there.
    let env = [("JWT_SECRET", SECRET)];
    issuer_with(
        &[
            "mint",
            "videocall",
            "standup",
            "--email",
            "a@b",
            "--aud",
            "x",
        ],
        &env,
        None,
    )
    .code(2)
    .says("aud");
    for extra in [["--claim", "aud=x"], ["--claim", "aud=7"]] {
        issuer_with(
            &[
                &["mint", "videocall", "standup", "--email", "a@b"][..],
                &extra[..],
            ]
            .concat(),
            &env,
            None,
        )
        .code(2)
        .says("aud");
    }
    // Its one issuer: another is refused, the meeting backend's own is the default.
    issuer_with(
        &[
            "mint",
            "videocall",
            "standup",
            "--email",
            "a@b",
            "--iss",
            "someone-else",
        ],
        &env,
        None,
    )
    .code(2)
    .says("videocall-meeting-backend");
    let token = issuer_with(
        &[
            "mint",
            "videocall",
            "standup",
            "--email",
            "a@b",
            "--iss",
            "videocall-meeting-backend",
        ],
        &env,
        None,
    )
    .ok()
    .to_owned();
    assert_eq!(claims(&token)["iss"], "videocall-meeting-backend");
    for room in ["room.sub", "my room", "room-*", "r>"] {
        issuer_with(&["mint", "videocall", room, "--email", "a@b"], &env, None)
            .code(2)
            .says("letters, digits");
    }
    let token = issuer_with(
        &[
            "mint",
            "videocall",
            "standup",
            "--email",
            "a@b",
            "--observer",
        ],
        &env,
        None,
    )
    .ok()
    .to_owned();
    let c = claims(&token);
    assert_eq!(c["room_join"], false);
    assert_eq!(c["observer"], true);
}
