//! The ledger through the real binary: `mint --ledger` records, `rooms` lists, `revoke --ledger`
//! records what it revoked; exit statuses and help.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use serde_json::{json, Value};

/// A fresh, empty path for a ledger (the file itself does not exist yet).
fn ledger_path(name: &str) -> String {
    let path = temp_file(name, "");
    std::fs::remove_file(&path).unwrap();
    path
}

fn lines(path: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn rooms_json(ledger: &str, extra: &[&str]) -> Value {
    let mut args = vec!["rooms", "--ledger", ledger, "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(issuer(&args).ok()).unwrap()
}

fn listed(ledger: &str) -> Vec<String> {
    rooms_json(ledger, &[])["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["room_id"].as_str().unwrap().to_owned())
        .collect()
}

fn mint(ledger: &str, room: &str) -> String {
    issuer(&[
        "mint",
        "jitsi",
        room,
        "--iss",
        "roomgate-demo",
        "--ledger",
        ledger,
    ])
    .ok()
    .to_owned()
}

#[test]
fn mint_appends_one_line_per_token_without_the_token_or_the_secret() {
    let ledger = ledger_path("ledger-mint.jsonl");
    let t0 = now();
    let token = mint(&ledger, "standup");
    let with_jti = issuer(&[
        "mint", "generic", "r2", "--sub", "bob", "--jti", "my-id", "--ledger", &ledger,
    ])
    .ok()
    .to_owned();
    let later = issuer(&[
        "mint",
        "videocall",
        "lobby-1",
        "--email",
        "a@example.com",
        "--not-before",
        "+5m",
        "--ledger",
        &ledger,
    ])
    .ok()
    .to_owned();
    let text = std::fs::read_to_string(&ledger).unwrap();
    for secret_or_token in [SECRET, &token, &with_jti, &later] {
        assert!(!text.contains(secret_or_token));
    }
    let l = lines(&ledger);
    assert_eq!(l.len(), 3, "{text}");

    let jti = claims(&token)["jti"].as_str().unwrap().to_owned();
    assert_eq!(
        jti.len(),
        32,
        "a random 128-bit jti is added for the ledger"
    );
    assert_eq!(l[0]["event"], "mint");
    assert_eq!(l[0]["room_id"], "standup");
    assert_eq!(l[0]["profile"], "jitsi");
    assert_eq!(l[0]["jti"], json!(jti));
    assert_eq!(l[0]["sub"], "*");
    assert!(l[0].get("not_before").is_none());
    let created = l[0]["created"].as_str().unwrap();
    assert!(created.ends_with(".000Z"), "{created}");
    let exp = claims(&token)["exp"].as_i64().unwrap();
    assert!((exp - t0 - 600).abs() <= 2);

    assert_eq!(l[1]["jti"], "my-id", "an explicit --jti is kept");
    assert_eq!(l[1]["sub"], "bob");
    assert_eq!(l[1]["profile"], "generic");

    assert_eq!(l[2]["room_id"], "lobby-1");
    assert_eq!(l[2]["sub"], "a@example.com");
    assert!(l[2]["not_before"].is_string(), "{}", l[2]);
    assert_eq!(
        l[2]["issued"], l[2]["not_before"],
        "videocall: nbf is what a cut-off sees"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&ledger).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the ledger is private to its owner: {mode:o}"
        );
    }
}

#[test]
fn without_a_ledger_mint_adds_no_jti() {
    let token = issuer(&["mint", "jitsi", "standup", "--iss", "i"])
        .ok()
        .to_owned();
    assert!(claims(&token).get("jti").is_none());
}

#[test]
fn roomgate_ledger_names_the_ledger_and_an_empty_value_means_none() {
    let ledger = ledger_path("ledger-env.jsonl");
    let env = [("JWT_APP_SECRET", SECRET), ("ROOMGATE_LEDGER", &ledger)];
    issuer_with(&["mint", "jitsi", "envroom", "--iss", "i"], &env, None).ok();
    let out = issuer_with(&["rooms", "--json"], &env, None);
    let v: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(v["rooms"][0]["room_id"], "envroom");

    let empty = [("JWT_APP_SECRET", SECRET), ("ROOMGATE_LEDGER", "")];
    let token = issuer_with(&["mint", "jitsi", "x", "--iss", "i"], &empty, None);
    assert!(claims(token.ok()).get("jti").is_none());
    issuer_with(&["rooms"], &empty, None)
        .code(2)
        .says("--ledger FILE or ROOMGATE_LEDGER");
}

#[test]
fn rooms_lists_active_rooms_in_the_room_whitelist_shape() {
    let ledger = ledger_path("ledger-rooms.jsonl");
    mint(&ledger, "standup");
    mint(&ledger, "standup");
    mint(&ledger, "retro");
    let v = rooms_json(&ledger, &[]);
    assert_eq!(v["active_rooms"], 2);
    let rooms = v["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 2);
    let standup = rooms.iter().find(|r| r["room_id"] == "standup").unwrap();
    assert_eq!(standup["tokens"], 2);
    let keys: Vec<&str> = standup
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{standup}");
    for k in ["room_id", "created", "expires", "tokens"] {
        assert!(keys.contains(&k), "{k}");
    }

    // The table: a header and one line per room; the count on stderr.
    let r = issuer(&["rooms", "--ledger", &ledger]);
    let table = r.ok();
    assert!(table.starts_with("ROOM "), "{table}");
    assert!(table.contains("TOKENS"));
    assert_eq!(table.lines().count(), 3, "{table}");
    r.says("2 active rooms");

    // In 11 minutes every 10-minute token has expired.
    let later = (now() + 660).to_string();
    let v = rooms_json(&ledger, &["--at", &later]);
    assert_eq!(v, json!({"active_rooms": 0, "rooms": []}));
    let all = rooms_json(&ledger, &["--at", &later, "--all"]);
    assert_eq!(all["rooms"].as_array().unwrap().len(), 2);
    assert!(all["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "expired" && r["active_tokens"] == 0));
}

#[test]
fn revoke_with_a_ledger_records_rooms_tokens_and_cut_offs() {
    let ledger = ledger_path("ledger-revoke.jsonl");
    let config = temp_file(
        "ledger-revoke.yaml",
        &std::fs::read_to_string(repo().join("deploy/envoy-ecds/roomgate.yaml")).unwrap(),
    );
    mint(&ledger, "standup");
    let one = mint(&ledger, "retro");
    mint(&ledger, "retro");
    mint(&ledger, "planning");
    assert_eq!(listed(&ledger).len(), 3);

    // Close a room (the config compares rooms ignoring case, and so does the ledger).
    issuer(&[
        "revoke", "--config", &config, "--room", "StandUp", "--ledger", &ledger,
    ])
    .code(0)
    .says("closed")
    .says("recorded in");
    assert!(!listed(&ledger).contains(&"standup".to_owned()));
    let last = lines(&ledger).pop().unwrap();
    assert_eq!(
        last,
        json!({"event": "revoke", "at": last["at"], "room_id": "StandUp", "case_insensitive": true})
    );

    // One token by its jti: the room stays, with one token fewer.
    let jti = claims(&one)["jti"].as_str().unwrap().to_owned();
    issuer(&[
        "revoke", "--config", &config, "--jti", &jti, "--ledger", &ledger,
    ])
    .code(0);
    let v = rooms_json(&ledger, &[]);
    let retro = v["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["room_id"] == "retro")
        .unwrap()
        .clone();
    assert_eq!(retro["tokens"], 1);

    // A cut-off: every token of the room minted until now.
    issuer(&[
        "revoke",
        "--config",
        &config,
        "--room",
        "planning",
        "--issued-before",
        "--ledger",
        &ledger,
    ])
    .code(0);
    assert_eq!(listed(&ledger), ["retro"]);
    assert!(lines(&ledger).pop().unwrap()["issued_before"].is_string());
    // A token minted after the cut-off opens the room again, in the ledger as in the filter.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let fresh = mint(&ledger, "planning");
    issuer(&["verify", &fresh, "--config", &config]).code(0);
    assert!(listed(&ledger).contains(&"planning".to_owned()));

    // Undo reopens the room.
    issuer(&[
        "revoke", "--config", &config, "--room", "standup", "--undo", "--ledger", &ledger,
    ])
    .code(0);
    assert!(listed(&ledger).contains(&"standup".to_owned()));
    assert_eq!(rooms_json(&ledger, &[])["active_rooms"], 3);

    // A dry run records nothing.
    let before = std::fs::read_to_string(&ledger).unwrap();
    issuer(&[
        "revoke",
        "--config",
        &config,
        "--room",
        "retro",
        "--dry-run",
        "--ledger",
        &ledger,
    ])
    .code(0);
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), before);
}

#[test]
fn a_refused_revocation_is_not_recorded() {
    let ledger = ledger_path("ledger-refused.jsonl");
    mint(&ledger, "r");
    let bad = temp_file("ledger-refused.json", r#"{"routes": [], "surprise": true}"#);
    issuer(&[
        "revoke", "--config", &bad, "--room", "r", "--ledger", &ledger,
    ])
    .code(2);
    assert_eq!(lines(&ledger).len(), 1);
}

#[test]
fn ledger_errors_have_their_exit_status() {
    // No ledger named: a usage error.
    issuer(&["rooms"]).code(2).says("--ledger");
    // A ledger that is not there, or cannot be written: an I/O error, and no token is printed.
    issuer(&["rooms", "--ledger", "/nonexistent/ledger.jsonl"])
        .code(3)
        .says("cannot read the ledger");
    let r = issuer(&[
        "mint",
        "jitsi",
        "r",
        "--iss",
        "i",
        "--ledger",
        "/nonexistent/dir/ledger.jsonl",
    ]);
    r.code(3).says("cannot open the ledger");
    assert!(r.stdout.is_empty(), "an unrecorded token is not handed out");
    issuer(&["rooms", "--ledger", "x", "--at", "yesterday"]).code(2);
}

#[test]
fn a_line_that_is_not_an_entry_is_skipped_with_a_warning() {
    let ledger = ledger_path("ledger-torn.jsonl");
    mint(&ledger, "ok");
    let mut text = std::fs::read_to_string(&ledger).unwrap();
    text.push_str("{\"event\":\"mint\",\"room_id\":\"tor\n");
    std::fs::write(&ledger, text).unwrap();
    mint(&ledger, "ok2");
    let r = issuer(&["rooms", "--ledger", &ledger, "--json"]);
    r.says(":2: skipped");
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(v["active_rooms"], 2);
}

#[test]
fn concurrent_mints_write_whole_lines() {
    let ledger = ledger_path("ledger-concurrent.jsonl");
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let ledger = ledger.clone();
            std::thread::spawn(move || mint(&ledger, &format!("room{i}")))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(lines(&ledger).len(), 8);
    assert_eq!(rooms_json(&ledger, &[])["active_rooms"], 8);
}

#[test]
fn help_shows_the_ledger_flags_with_examples() {
    let top = issuer(&["--help"]).ok().to_owned();
    assert!(
        top.contains("rooms") && top.contains("ROOMGATE_LEDGER"),
        "{top}"
    );
    let rooms = issuer(&["rooms", "--help"]).ok().to_owned();
    for text in [
        "Examples:",
        "issuer rooms --ledger",
        "--all",
        "--json",
        "active_rooms",
    ] {
        assert!(rooms.contains(text), "{text}: {rooms}");
    }
    for cmd in ["mint", "revoke"] {
        let help = issuer(&[cmd, "--help"]).ok().to_owned();
        assert!(help.contains("--ledger <FILE>"), "{cmd}");
        assert!(
            help.contains(&format!("issuer {cmd} ")) && help.contains("--ledger "),
            "{cmd}"
        );
    }
}
