//! What command lines mean, checked with `Cli::try_parse_from`: no process, no secret, no clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::{CommandFactory as _, Parser as _};
use roomgate_issuer::cli::{Cli, Command, NotBefore};
use roomgate_issuer::profile::Profile;
use roomgate_issuer::room_id::Variant;
use roomgate_issuer::secret::{SecretEncoding, SecretSource};
use serde_json::json;

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    let mut full = vec!["issuer"];
    full.extend_from_slice(args);
    Cli::try_parse_from(full).map(|c| c.cmd)
}

fn fails(args: &[&str]) -> clap::Error {
    parse(args).expect_err("should not parse")
}

#[test]
fn the_command_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn mint_reads_profile_room_and_claims() {
    let Ok(Command::Mint(m)) = parse(&[
        "mint",
        "jitsi",
        "standup",
        "--iss",
        "meet",
        "--name",
        "Alice",
        "--no-moderator",
        "--claim",
        "level=3",
        "--claim",
        "team=dev",
        "--kid",
        "k1",
        "--jti",
    ]) else {
        panic!("not mint")
    };
    assert_eq!(m.profile, Profile::Jitsi);
    assert_eq!(m.room.as_deref(), Some("standup"));
    assert_eq!(m.iss.as_deref(), Some("meet"));
    assert!(m.no_moderator);
    assert_eq!(
        m.claims,
        vec![("level".into(), json!(3)), ("team".into(), json!("dev"))]
    );
    assert_eq!(m.kid.as_deref(), Some("k1"));
    assert_eq!(m.jti.as_deref(), Some(""));
    // Jitsi's variable unless --secret-env says otherwise (videocall.rs: JWT_SECRET).
    assert_eq!(m.secret.key.env_name(Some(m.profile)), "JWT_APP_SECRET");
    assert_eq!(
        m.secret.key.env_name(Some(Profile::Videocall)),
        "JWT_SECRET"
    );
    assert_eq!(m.secret.key.secret_encoding, SecretEncoding::Utf8);
}

#[test]
fn mint_times_parse_into_seconds() {
    let Ok(Command::Mint(m)) = parse(&[
        "mint",
        "generic",
        "r",
        "-l",
        "1h30m",
        "--not-before",
        "+15m",
    ]) else {
        panic!()
    };
    assert_eq!(m.lifetime, Some(5400));
    assert_eq!(m.not_before, Some(NotBefore::In(900)));
    let Ok(Command::Mint(m)) = parse(&[
        "mint",
        "generic",
        "r",
        "--expires",
        "2025-10-16T20:30:00Z",
        "--not-before",
        "2025-10-16",
    ]) else {
        panic!()
    };
    assert_eq!(m.expires, Some(1_760_646_600));
    assert_eq!(m.not_before, Some(NotBefore::At(1_760_572_800)));
}

#[test]
fn mint_generated_rooms_exclude_a_named_room() {
    let Ok(Command::Mint(m)) =
        parse(&["mint", "generic", "--room-id", "strong", "--sections", "3"])
    else {
        panic!()
    };
    assert_eq!(
        (m.room, m.room_id, m.sections),
        (None, Some(Variant::Strong), Some(3))
    );
    fails(&["mint", "generic", "r", "--room-id", "strong"]);
    fails(&["mint", "generic", "r", "--sections", "3"]);
}

#[test]
fn mint_value_errors_say_what_to_type() {
    let e = fails(&["mint", "generic", "r", "--lifetime", "10"]).to_string();
    assert!(e.contains("10m"), "{e}");
    let e = fails(&["mint", "generic", "r", "--expires", "next tuesday"]).to_string();
    assert!(e.contains("2025-10-16T20:30:00Z"), "{e}");
    let e = fails(&["mint", "generic", "r", "--url", "meet.example.com"]).to_string();
    assert!(e.contains("https://meet.example.com"), "{e}");
    let e = fails(&["mint", "generic", "r", "--secret", "hunter2"]).to_string();
    assert!(e.contains("@PATH"), "{e}");
    fails(&[
        "mint",
        "generic",
        "r",
        "--lifetime",
        "1h",
        "--expires",
        "2100-01-01",
    ]);
    fails(&["mint", "zoom", "r"]);
    fails(&["mint", "generic", "r", "--kid", ""]);
}

#[test]
fn secret_sources_parse_to_file_or_stdin() {
    let Ok(Command::Mint(m)) = parse(&["mint", "generic", "r", "--secret", "@/run/jwt"]) else {
        panic!()
    };
    assert_eq!(m.secret.secret, Some(SecretSource::File("/run/jwt".into())));
    let Ok(Command::Mint(m)) = parse(&[
        "mint",
        "generic",
        "r",
        "--secret",
        "-",
        "--secret-encoding",
        "base64url",
    ]) else {
        panic!()
    };
    assert_eq!(m.secret.secret, Some(SecretSource::Stdin));
    assert_eq!(m.secret.key.secret_encoding, SecretEncoding::Base64url);
    fails(&[
        "mint",
        "generic",
        "r",
        "--secret",
        "-",
        "--secret-file",
        "x",
    ]);
    fails(&["mint", "generic", "r", "--secret-encoding", "rot13"]);
}

#[test]
fn verify_defaults_match_the_filter_defaults() {
    let Ok(Command::Verify(v)) = parse(&["verify", "TOKEN"]) else {
        panic!()
    };
    assert_eq!(
        v.policy.leeway, None,
        "30 s, or the media server's 60 s for videocall.rs"
    );
    assert_eq!(v.policy.max_lifetime, 86_400);
    assert!(v.policy.issuers.is_empty());
    assert_eq!(v.profile, None);
    let Ok(Command::Verify(v)) = parse(&[
        "verify",
        "-",
        "--iss",
        "a,b",
        "--iss",
        "c",
        "--max-lifetime",
        "0",
        "--at",
        "1300819000",
    ]) else {
        panic!()
    };
    assert_eq!(v.policy.issuers, ["a", "b", "c"]);
    assert_eq!(v.policy.max_lifetime, 0);
    assert_eq!(v.at, Some(1_300_819_000));
    fails(&["verify", "T", "--leeway", "601"]);
    fails(&["verify", "T", "--path", "/x"]);
    fails(&["verify", "T", "--config", "c.json", "--profile", "jitsi"]);
}

#[test]
fn generators_parse_their_bounds() {
    let Ok(Command::RoomId(r)) = parse(&["room-id"]) else {
        panic!()
    };
    assert_eq!((r.variant, r.count), (Variant::Simple, 1));
    fails(&["room-id", "-n", "1001"]);
    let Ok(Command::Secret(s)) = parse(&["secret", "--hex"]) else {
        panic!()
    };
    assert_eq!((s.bytes, s.hex), (32, true));
    fails(&["secret", "--hex", "--base64"]);
    let Ok(Command::StaticToken(s)) = parse(&["static-token", "--room", "room1"]) else {
        panic!()
    };
    assert_eq!(s.room.as_deref(), Some("room1"));
    fails(&["static-token"]);
    fails(&["static-token", "--global", "--bytes", "8"]);
    fails(&["static-token", "--global", "--from", "-", "--bytes", "64"]);
}

#[test]
fn config_and_completions_parse() {
    let Ok(Command::Config(c)) = parse(&[
        "config",
        "videocall",
        "--envoy",
        "--secret-env",
        "JWT_SECRET",
    ]) else {
        panic!()
    };
    assert_eq!(c.profile, Profile::Videocall);
    assert!(c.envoy);
    assert_eq!(c.wasm, "dist/roomgate.wasm");
    assert_eq!(c.key.secret_env.as_deref(), Some("JWT_SECRET"));
    fails(&["config"]);
    fails(&["config", "jitsi", "--wasm", "x"]);
    assert!(matches!(
        parse(&["completions", "zsh"]),
        Ok(Command::Completions(_))
    ));
}
