//! Issue 3's round trip in the real Envoy: every profile minted by the real `issuer` binary passes
//! roomgate for its room and fails for another; the join links it prints work when requested as
//! printed; static tokens work through their printed digests; and `issuer config … --envoy` is a
//! filter entry Envoy loads and enforces.
//!
//! The binary is `target/release/issuer` (built by `make build`, which `make test` runs first).
//! Secrets and accepted issuers/audiences reach `issuer` through exactly the environment variables
//! the filter reads them from (`table::env`), so the two sides agree only if the names and
//! defaults agree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use roomgate_tests::envoy::{Envoy, EnvoyConfig};
use roomgate_tests::hosts::drop_host_env_keys;
use roomgate_tests::http::Response;
use roomgate_tests::table;
use roomgate_tests::upstream::EchoUpstream;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn issuer_bin() -> PathBuf {
    roomgate_tests::support::issuer_bin().unwrap()
}

/// Runs `issuer ARGS` with only `env`; returns (exit code, stdout, stderr).
fn issuer(args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let out = Command::new(issuer_bin())
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `issuer ARGS`, which must succeed; its stdout without the trailing newline.
fn product(args: &[&str], env: &[(&str, String)]) -> String {
    let (code, out, err) = issuer(args, env);
    assert_eq!(code, 0, "issuer {args:?} failed: {err}");
    out.trim_end_matches('\n').to_owned()
}

/// Envoy (from envoy.yaml) running `plugin` with exactly `env` as the VM's environment.
fn envoy(upstream: &EchoUpstream, plugin: &str, env: &[(&str, String)]) -> Envoy {
    let mut cfg = EnvoyConfig::new(upstream.port())
        .unwrap()
        .plugin_config(plugin)
        .mutate(drop_host_env_keys);
    for (k, v) in env {
        cfg = cfg.env(k, v);
    }
    Envoy::start(cfg).unwrap()
}

fn get(envoy: &Envoy, target: &str, headers: &[(&str, &str)]) -> Response {
    envoy.send("GET", target, headers).unwrap()
}

fn bearer(envoy: &Envoy, target: &str, token: &str) -> Response {
    get(
        envoy,
        target,
        &[("authorization", &format!("Bearer {token}"))],
    )
}

/// Asserts a local denial with this status and `error` code, which never reached the upstream.
fn denied(r: &Response, status: u16, error: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.json().unwrap()["error"], error, "{r:?}");
    assert!(r.echoed().is_none());
}

/// Asserts the request reached the upstream for `room`; returns what the upstream saw.
fn allowed(r: &Response, room: &str) -> roomgate_tests::upstream::Echoed {
    assert_eq!(r.status, 200, "{r:?}");
    let seen = r.echoed().expect("the upstream's echo");
    assert_eq!(seen.header("x-roomgate-room"), Some(room), "{seen:?}");
    seen
}

/// The path and query of an absolute link, as a client would request it.
fn target_of(link: &str) -> String {
    let rest = link.split_once("://").unwrap().1;
    format!("/{}", rest.split_once('/').unwrap().1)
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[test]
fn jitsi_tokens_and_links_open_their_room_and_no_other() {
    let env = table::env("jitsi");
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = envoy(&upstream, &table::config("jitsi").unwrap(), &env);

    // issuer takes the issuer and audience from the same variables as the filter.
    let token = product(&["mint", "jitsi", "standup"], &env);
    assert_eq!(claims(&token)["iss"], "roomgate");
    assert_eq!(claims(&token)["aud"], "jitsi");
    let seen = allowed(&bearer(&envoy, "/standup", &token), "standup");
    assert_eq!(seen.header("x-roomgate-moderator"), Some("true"));
    // Jitsi names the room as its MUC does: `StandUp` is `standup`.
    allowed(&bearer(&envoy, "/StandUp", &token), "standup");
    denied(&bearer(&envoy, "/retro", &token), 403, "room_mismatch");

    // The join link, requested exactly as printed.
    let link = product(
        &[
            "mint",
            "jitsi",
            "standup",
            "--iss",
            "meet.example.com",
            "--url",
            "https://meet.example.com",
        ],
        &env,
    );
    let target = target_of(&link);
    assert!(target.starts_with("/standup?jwt="), "{link}");
    let seen = allowed(&get(&envoy, &target, &[]), "standup");
    assert_eq!(seen.path, "/standup", "the token is stripped from the link");
    let stolen = target.replacen("/standup", "/retro", 1);
    denied(&get(&envoy, &stolen, &[]), 403, "room_mismatch");

    // The same token on the XMPP websocket, room in the query.
    let jwt = target.split_once("jwt=").unwrap().1;
    allowed(
        &get(
            &envoy,
            &format!("/xmpp-websocket?room=standup&token={jwt}"),
            &[],
        ),
        "standup",
    );
    denied(
        &get(
            &envoy,
            &format!("/xmpp-websocket?room=retro&token={jwt}"),
            &[],
        ),
        403,
        "room_mismatch",
    );

    // A room name that needs encoding survives the link.
    let link = product(
        &[
            "mint",
            "jitsi",
            "Daily Standup",
            "--url",
            "https://meet.example.com/",
        ],
        &env,
    );
    let target = target_of(&link);
    assert!(target.starts_with("/Daily%20Standup?jwt="), "{link}");
    // The token names the room as Prosody's MUC does.
    assert_eq!(
        claims(target.split_once("jwt=").unwrap().1)["room"],
        "daily%20standup"
    );
    allowed(&get(&envoy, &target, &[]), "daily%20standup");

    // issuer refuses to mint for an issuer outside JWT_ACCEPTED_ISSUERS (Prosody would refuse
    // it); minted where that list is not known, the filter refuses it.
    let (code, _, err) = issuer(&["mint", "jitsi", "standup", "--iss", "elsewhere"], &env);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("JWT_ACCEPTED_ISSUERS"), "{err}");
    let unlisted: Vec<(&str, String)> = env
        .iter()
        .filter(|(k, _)| *k != "JWT_ACCEPTED_ISSUERS")
        .cloned()
        .collect();
    let foreign = product(
        &["mint", "jitsi", "standup", "--iss", "elsewhere"],
        &unlisted,
    );
    denied(&bearer(&envoy, "/standup", &foreign), 401, "invalid_token");
}

#[test]
fn videocall_tokens_and_lobby_links_open_the_room_they_name() {
    let env = table::env("videocall");
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = envoy(&upstream, &table::config("videocall").unwrap(), &env);
    let args = |room: &'static str| {
        vec![
            "mint",
            "videocall",
            room,
            "--email",
            "alice@example.com",
            "--host",
            "--secret-env",
            "JWT_SECRET",
            "--url",
            "wss://media.example.com:8080",
        ]
    };
    let link = product(&args("standup-2024"), &env);
    let target = target_of(&link);
    assert!(target.starts_with("/lobby?token="), "{link}");
    let seen = allowed(&get(&envoy, &target, &[]), "standup-2024");
    assert_eq!(seen.header("x-roomgate-subject"), Some("alice@example.com"));
    assert_eq!(seen.header("x-roomgate-moderator"), Some("true"));
    // In front of the media server, which reads `?token=` itself: the token is passed on.
    assert_eq!(seen.path, target);

    // videocall.rs takes the room from the token, and the media server is told that room. A
    // request that also names a room must name the token's.
    allowed(
        &get(&envoy, &format!("{target}&room=standup-2024"), &[]),
        "standup-2024",
    );
    denied(
        &get(&envoy, &format!("{target}&room=retro-2024"), &[]),
        403,
        "room_mismatch",
    );
    let retro = target_of(&product(&args("retro-2024"), &env));
    allowed(&get(&envoy, &retro, &[]), "retro-2024");
    // The retired path answers 410, whatever the token.
    let token = target.split_once("token=").unwrap().1;
    denied(
        &get(
            &envoy,
            &format!("/lobby/alice@example.com/retro-2024?token={token}"),
            &[],
        ),
        410,
        "gone",
    );
    // Signed with the Jitsi secret instead: refused.
    let mut wrong = table::env("videocall");
    wrong.push(("JWT_APP_SECRET", table::JITSI_SECRET.into()));
    let foreign = product(
        &[
            "mint",
            "videocall",
            "standup-2024",
            "--email",
            "alice@example.com",
            "--secret-env",
            "JWT_APP_SECRET",
        ],
        &wrong,
    );
    denied(
        &get(&envoy, &format!("/lobby?token={foreign}"), &[]),
        401,
        "invalid_token",
    );
}

#[test]
fn generic_tokens_open_their_room_and_admin_tokens_the_admin_api() {
    let env = table::env("multi-layer");
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = envoy(&upstream, &table::config("multi-layer").unwrap(), &env);
    // The multi-layer token scheme names its audience variable JWT_AUDIENCE, which issuer does
    // not read: --aud.
    let mint_for = |aud: &str, extra: &[&str]| {
        let mut args = vec![
            "mint",
            "generic",
            "--aud",
            aud,
            "--secret-env",
            "JWT_SECRET",
        ];
        args.extend_from_slice(extra);
        product(&args, &env)
    };
    let mint = |extra: &[&str]| mint_for("rooms-api", extra);
    let token = mint(&["room1", "--sub", "user123"]);
    let seen = allowed(&bearer(&envoy, "/api/rooms/room1/state", &token), "room1");
    assert_eq!(seen.header("x-roomgate-subject"), Some("user123"));
    assert_eq!(seen.header("x-roomgate-auth"), Some("jwt"));
    denied(
        &bearer(&envoy, "/api/rooms/room2/state", &token),
        403,
        "room_mismatch",
    );
    denied(
        &bearer(&envoy, "/api/admin/rooms", &token),
        403,
        "admin_required",
    );
    let seen = allowed(
        &get(
            &envoy,
            "/api/rooms/room1/state",
            &[("x-auth-token", &token)],
        ),
        "room1",
    );
    assert!(seen.header("x-auth-token").is_none(), "stripped");

    // A generated strong room ID, the room-whitelist service's JSON answer.
    let out: Value = serde_json::from_str(&mint(&["--room-id", "strong", "--json"])).unwrap();
    let room = out["room_id"].as_str().unwrap();
    let token = out["token"].as_str().unwrap();
    allowed(
        &bearer(&envoy, &format!("/api/rooms/{room}/x"), token),
        room,
    );
    denied(
        &bearer(&envoy, "/api/rooms/room1/x", token),
        403,
        "room_mismatch",
    );

    // --admin opens the admin API (admin_when), and still only its own room.
    let admin = mint(&["room1", "--sub", "root", "--role", "admin", "--admin"]);
    let r = bearer(&envoy, "/api/admin/rooms", &admin);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.echoed().unwrap().header("x-roomgate-admin"), Some("true"));
    allowed(&bearer(&envoy, "/api/rooms/room1/x", &admin), "room1");
    denied(
        &bearer(&envoy, "/api/rooms/room2/x", &admin),
        403,
        "room_mismatch",
    );

    // The wrong audience: the filter refuses it.
    let foreign = mint_for("other-api", &["room1"]);
    denied(
        &bearer(&envoy, "/api/rooms/room1/state", &foreign),
        401,
        "invalid_token",
    );
}

#[test]
fn generic_links_work_with_the_config_issuer_prints() {
    // examples/multi-layer.json reads no query parameter (the multi-layer token scheme sent tokens
    // in headers and cookies), so the generic link (BASE/ROOM?token=) is checked against `issuer
    // config generic`, whose token sources include it.
    let env = vec![("JWT_SECRET", table::SHARED_SECRET.to_owned())];
    let plugin = product(
        &[
            "config",
            "generic",
            "--aud",
            "rooms-api",
            "--secret-env",
            "JWT_SECRET",
        ],
        &env,
    );
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = envoy(&upstream, &plugin, &env);
    let link = product(
        &[
            "mint",
            "generic",
            "room1",
            "--aud",
            "rooms-api",
            "--secret-env",
            "JWT_SECRET",
            "--url",
            "https://api.example.com/api/rooms",
        ],
        &env,
    );
    let target = target_of(&link);
    assert!(target.starts_with("/api/rooms/room1?token="), "{link}");
    let seen = allowed(&get(&envoy, &target, &[]), "room1");
    assert_eq!(seen.path, "/api/rooms/room1");
    denied(
        &get(&envoy, &target.replacen("room1", "room2", 1), &[]),
        403,
        "room_mismatch",
    );
}

/// The digest `issuer static-token` prints on stderr (`issuer: sha256 HEX`), and the token.
fn static_token(scope: &[&str]) -> (String, String) {
    let mut args = vec!["static-token"];
    args.extend_from_slice(scope);
    let (code, out, err) = issuer(&args, &[]);
    assert_eq!(code, 0, "{err}");
    let digest = err
        .lines()
        .find_map(|l| l.strip_prefix("issuer: sha256 "))
        .unwrap_or_else(|| panic!("no digest printed: {err}"))
        .to_owned();
    (out.trim_end().to_owned(), digest)
}

#[test]
fn static_tokens_work_through_their_printed_digests() {
    let (room1, room1_digest) = static_token(&["--room", "room1"]);
    let (global, global_digest) = static_token(&["--global"]);
    // --json carries the snippet itself: use it as printed.
    let (code, out, err) = issuer(&["static-token", "--admin", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let admin_json: Value = serde_json::from_str(&out).unwrap();
    let admin = admin_json["token"].as_str().unwrap().to_owned();

    let mut plugin: Value = serde_json::from_str(&table::config("multi-layer").unwrap()).unwrap();
    plugin["static_tokens"] = json!({
        "rooms": {"room1": {"sha256": room1_digest}},
        "global": {"sha256": global_digest},
        "admin": admin_json["config"]["static_tokens"]["admin"],
    });
    let text = plugin.to_string();
    for token in [&room1, &global, &admin] {
        assert!(
            !text.contains(token.as_str()),
            "the config holds digests only"
        );
    }
    let env = vec![("JWT_SECRET", table::SHARED_SECRET.to_owned())];
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = envoy(&upstream, &text, &env);

    let seen = allowed(&bearer(&envoy, "/api/rooms/room1/state", &room1), "room1");
    assert_eq!(seen.header("x-roomgate-auth"), Some("static"));
    denied(
        &bearer(&envoy, "/api/rooms/room2/state", &room1),
        403,
        "room_mismatch",
    );
    allowed(&bearer(&envoy, "/api/rooms/room2/state", &global), "room2");
    allowed(&bearer(&envoy, "/api/rooms/room9/x", &global), "room9");
    let r = bearer(&envoy, "/api/admin/rooms", &admin);
    assert_eq!(r.status, 200, "{r:?}");
    denied(
        &bearer(&envoy, "/api/admin/rooms", &room1),
        403,
        "admin_required",
    );
    denied(
        &bearer(&envoy, "/api/admin/rooms", &global),
        403,
        "admin_required",
    );
    let cookie = format!("room_token={room1}");
    allowed(
        &get(&envoy, "/api/rooms/room1/state", &[("cookie", &cookie)]),
        "room1",
    );
}

/// Envoy with roomgate's filter replaced by what `issuer config PROFILE --envoy` printed.
fn envoy_with_snippet(upstream: &EchoUpstream, snippet: &str, secret: (&str, &str)) -> Envoy {
    let entries: Vec<Value> = serde_yaml::from_str(snippet).unwrap();
    let [entry] = entries.as_slice() else {
        panic!("expected one filter entry: {snippet}")
    };
    let entry = entry.clone();
    let cfg = EnvoyConfig::new(upstream.port())
        .unwrap()
        .mutate(move |v| {
            let filters = v["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
                ["typed_config"]["http_filters"]
                .as_array_mut()
                .unwrap();
            let at = filters
                .iter()
                .position(|f| f["name"] == "roomgate")
                .unwrap();
            filters[at] = entry;
        })
        .process_env(secret.0, secret.1);
    assert!(cfg.has_roomgate());
    let validated = Envoy::validate(cfg.clone());
    assert!(validated.is_ok(), "envoy --mode validate: {validated:?}");
    Envoy::start(cfg).unwrap()
}

#[test]
fn config_envoy_snippets_load_in_envoy_and_enforce_what_issuer_mints() {
    let upstream = EchoUpstream::start(0).unwrap();

    // jitsi: the secret from Envoy's own environment (host_env_keys), as the snippet says.
    let env = vec![("JWT_APP_SECRET", table::JITSI_SECRET.to_owned())];
    let snippet = product(
        &[
            "config",
            "jitsi",
            "--iss",
            "meet.example.com",
            "--aud",
            "jitsi",
            "--envoy",
        ],
        &env,
    );
    assert!(
        snippet.contains("host_env_keys: [JWT_APP_SECRET]"),
        "{snippet}"
    );
    let envoy = envoy_with_snippet(&upstream, &snippet, ("JWT_APP_SECRET", table::JITSI_SECRET));
    let link = product(
        &[
            "mint",
            "jitsi",
            "standup",
            "--iss",
            "meet.example.com",
            "--url",
            "https://meet.example.com",
        ],
        &env,
    );
    let target = target_of(&link);
    allowed(&get(&envoy, &target, &[]), "standup");
    denied(
        &get(&envoy, &target.replacen("standup", "retro", 1), &[]),
        403,
        "room_mismatch",
    );
    let other_iss = product(&["mint", "jitsi", "standup", "--iss", "x"], &env);
    denied(
        &bearer(&envoy, "/standup", &other_iss),
        401,
        "invalid_token",
    );
    drop(envoy);

    // videocall, secret in JWT_SECRET.
    let env = vec![("JWT_SECRET", table::SHARED_SECRET.to_owned())];
    let snippet = product(
        &[
            "config",
            "videocall",
            "--secret-env",
            "JWT_SECRET",
            "--envoy",
        ],
        &env,
    );
    let envoy = envoy_with_snippet(&upstream, &snippet, ("JWT_SECRET", table::SHARED_SECRET));
    let link = product(
        &[
            "mint",
            "videocall",
            "standup-2024",
            "--email",
            "bob@example.com",
            "--secret-env",
            "JWT_SECRET",
            "--url",
            "ws://127.0.0.1:8080",
        ],
        &env,
    );
    allowed(&get(&envoy, &target_of(&link), &[]), "standup-2024");
    denied(&get(&envoy, "/lobby?token=nope", &[]), 401, "invalid_token");
    drop(envoy);

    // generic, report mode: nothing is blocked, every denial is marked.
    let snippet = product(
        &[
            "config",
            "generic",
            "--aud",
            "rooms-api",
            "--secret-env",
            "JWT_SECRET",
            "--report",
            "--envoy",
        ],
        &env,
    );
    let envoy = envoy_with_snippet(&upstream, &snippet, ("JWT_SECRET", table::SHARED_SECRET));
    let token = product(
        &[
            "mint",
            "generic",
            "room1",
            "--aud",
            "rooms-api",
            "--secret-env",
            "JWT_SECRET",
        ],
        &env,
    );
    let seen = allowed(&bearer(&envoy, "/api/rooms/room1/x", &token), "room1");
    assert_eq!(seen.header("x-roomgate-report"), Some("allow"));
    let r = bearer(&envoy, "/api/rooms/room2/x", &token);
    assert_eq!(r.status, 200, "report mode forwards: {r:?}");
    let report = r.echoed().unwrap();
    let mark = report.header("x-roomgate-report").unwrap_or_default();
    assert!(
        mark.contains("status=403") && mark.contains("room_mismatch"),
        "{mark}"
    );
}
