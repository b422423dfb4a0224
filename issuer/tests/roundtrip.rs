//! Round trip through the configurations operators actually run: `envoy.yaml`'s demo config and
//! the README's `examples/`. Tokens minted by the real binary go through the filter's engine
//! (`Gate::decide`) with those exact files, for their room and for another. (The same round trip
//! through a real Envoy lives in the workspace's `tests/` suites.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use roomgate_filter::{Denial, Gate};

/// The plugin configuration embedded in envoy.yaml (`value: |` block).
fn demo_config() -> String {
    let yaml = std::fs::read_to_string(repo().join("envoy.yaml")).unwrap();
    let lines: Vec<&str> = yaml.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end().ends_with("value: |"))
        .expect("value: | in envoy.yaml");
    let body = &lines[start + 1..];
    let indent = body[0].len() - body[0].trim_start().len();
    body.iter()
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent)
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn example(name: &str) -> String {
    std::fs::read_to_string(repo().join("examples").join(name)).unwrap()
}

fn gate(config: &str, env: &[(&str, &str)]) -> Gate {
    let owned: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Gate::from_json(config.as_bytes(), &move |name| {
        owned
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap_or_else(|e| panic!("config does not load: {e}"))
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("authorization".to_owned(), format!("Bearer {token}"))]
}

fn denial(g: &Gate, path: &str, headers: &[(String, String)]) -> Option<Denial> {
    g.decide(path, headers, now()).denial
}

#[test]
fn demo_jitsi_tokens_open_their_room_only() {
    let g = gate(&demo_config(), &[("JWT_APP_SECRET", SECRET)]);
    let token = issuer(&["mint", "jitsi", "standup", "--iss", "roomgate-demo"])
        .ok()
        .to_owned();
    assert_eq!(denial(&g, &format!("/standup?jwt={token}"), &[]), None);
    assert_eq!(denial(&g, &format!("/StandUp?jwt={token}"), &[]), None);
    assert_eq!(denial(&g, "/standup", &bearer(&token)), None);
    assert_eq!(
        denial(
            &g,
            &format!("/xmpp-websocket?room=standup&token={token}"),
            &[]
        ),
        None
    );
    assert_eq!(
        denial(&g, &format!("/other?jwt={token}"), &[]),
        Some(Denial::RoomMismatch)
    );
    assert_eq!(
        denial(&g, &format!("/lobby?token={token}"), &[]),
        Some(Denial::RequiredClaim)
    );
}

#[test]
fn demo_join_links_work_as_printed() {
    let g = gate(&demo_config(), &[("JWT_APP_SECRET", SECRET)]);
    let link = issuer(&[
        "mint",
        "jitsi",
        "Team Sync",
        "--iss",
        "roomgate-demo",
        "--url",
        "http://127.0.0.1:8080",
    ])
    .ok()
    .to_owned();
    let path = link.strip_prefix("http://127.0.0.1:8080").unwrap();
    let v = g.decide_pairs(path, &[], now());
    assert_eq!(v.denial, None);
    // Rooms named as Jitsi's MUC names them.
    assert_eq!(v.room.as_deref(), Some("team%20sync"));

    let link = issuer(&[
        "mint",
        "videocall",
        "standup-2024",
        "--email",
        "a@b",
        "--url",
        "http://127.0.0.1:8080",
    ])
    .ok()
    .to_owned();
    let v = g.decide_pairs(
        link.strip_prefix("http://127.0.0.1:8080").unwrap(),
        &[],
        now(),
    );
    assert_eq!(v.denial, None);
    assert_eq!(v.room.as_deref(), Some("standup-2024"));
}

#[test]
fn demo_videocall_tokens_enter_the_lobby_and_not_the_retired_path() {
    let g = gate(&demo_config(), &[("JWT_APP_SECRET", SECRET)]);
    let token = issuer(&["mint", "videocall", "standup-2024", "--email", "a@b"])
        .ok()
        .to_owned();
    assert_eq!(denial(&g, &format!("/lobby?token={token}"), &[]), None);
    assert_eq!(
        denial(&g, &format!("/lobby/a@b/standup-2024?token={token}"), &[]),
        Some(Denial::Gone)
    );
    // Its room is its own: the same token on another room's path is refused.
    assert_eq!(
        denial(&g, &format!("/other?token={token}"), &[]),
        Some(Denial::RoomMismatch)
    );
}

#[test]
fn demo_refuses_other_issuers_and_other_secrets() {
    let g = gate(&demo_config(), &[("JWT_APP_SECRET", SECRET)]);
    let token = issuer(&["mint", "jitsi", "standup", "--iss", "someone-else"])
        .ok()
        .to_owned();
    assert_eq!(
        denial(&g, &format!("/standup?jwt={token}"), &[]),
        Some(Denial::IssuerNotAccepted)
    );
    let token = issuer_with(
        &["mint", "jitsi", "standup", "--iss", "roomgate-demo"],
        &[("JWT_APP_SECRET", OTHER_SECRET)],
        None,
    )
    .ok()
    .to_owned();
    assert_eq!(
        denial(&g, &format!("/standup?jwt={token}"), &[]),
        Some(Denial::BadSignature)
    );
}

#[test]
fn jitsi_example_accepts_tokens_minted_from_the_same_environment() {
    let env = [
        ("JWT_APP_SECRET", SECRET),
        ("JWT_ACCEPTED_ISSUERS", "roomgate, meet.example.com"),
        ("JWT_ACCEPTED_AUDIENCES", "jitsi"),
    ];
    let g = gate(&example("jitsi.json"), &env);
    let token = issuer_with(&["mint", "jitsi", "standup"], &env, None)
        .ok()
        .to_owned();
    assert_eq!(denial(&g, &format!("/standup?jwt={token}"), &[]), None);
    assert_eq!(
        denial(&g, &format!("/http-bind?room=standup&token={token}"), &[]),
        None
    );
    assert_eq!(
        denial(&g, &format!("/other?jwt={token}"), &[]),
        Some(Denial::RoomMismatch)
    );
    let wildcard = issuer_with(&["mint", "jitsi", "*"], &env, None)
        .ok()
        .to_owned();
    assert_eq!(denial(&g, &format!("/anything?jwt={wildcard}"), &[]), None);
}

#[test]
fn videocall_example_accepts_tokens_signed_with_its_jwt_secret() {
    let env = [("JWT_SECRET", SECRET)];
    let g = gate(&example("videocall.json"), &env);
    let token = issuer_with(
        &[
            "mint",
            "videocall",
            "standup-2024",
            "--email",
            "a@b",
            "--secret-env",
            "JWT_SECRET",
        ],
        &env,
        None,
    )
    .ok()
    .to_owned();
    let v = g.decide_pairs(&format!("/lobby?token={token}"), &[], now());
    assert_eq!(v.denial, None);
    assert_eq!(v.room.as_deref(), Some("standup-2024"));
    let long = issuer_with(
        &[
            "mint",
            "videocall",
            "r",
            "--email",
            "a@b",
            "--secret-env",
            "JWT_SECRET",
            "--lifetime",
            "2d",
        ],
        &env,
        None,
    )
    .ok()
    .to_owned();
    // The media server sets no maximum; the example keeps the filter's 24 h one.
    assert_eq!(
        denial(&g, &format!("/lobby?token={long}"), &[]),
        Some(Denial::LifetimeTooLong)
    );
}

#[test]
fn multi_layer_example_takes_generic_tokens_for_rooms_and_admin() {
    let env = [
        ("JWT_SECRET", SECRET),
        ("JWT_AUDIENCE", "rooms-api"),
        ("AUTH_TOKEN", "global-token-0123456789abcdef0123456789"),
        ("ADMIN_TOKEN", "admin-token-0123456789abcdef0123456789a"),
        (
            "ROOM_TOKENS",
            "room1:room1-token-0123456789abcdef01234567890",
        ),
    ];
    let g = gate(&example("multi-layer.json"), &env);
    let mint = |extra: &[&str]| {
        let mut args = vec![
            "mint",
            "generic",
            "demo",
            "--sub",
            "user123",
            "--aud",
            "rooms-api",
            "--secret-env",
            "JWT_SECRET",
        ];
        args.extend_from_slice(extra);
        issuer_with(&args, &env, None).ok().to_owned()
    };
    let user = mint(&[]);
    assert_eq!(denial(&g, "/api/rooms/demo/join", &bearer(&user)), None);
    assert_eq!(
        denial(&g, "/api/rooms/other/join", &bearer(&user)),
        Some(Denial::RoomMismatch)
    );
    assert_eq!(
        denial(&g, "/api/admin/rooms/demo/close", &bearer(&user)),
        Some(Denial::AdminRequired)
    );
    let admin = mint(&["--role", "admin", "--admin"]);
    assert_eq!(
        denial(&g, "/api/admin/rooms/demo/close", &bearer(&admin)),
        None
    );
    let x_auth = vec![("x-auth-token".to_owned(), user)];
    assert_eq!(denial(&g, "/api/rooms/demo/join", &x_auth), None);
}

#[test]
fn multi_layer_static_tokens_from_issuer_pass_by_digest() {
    let r = issuer(&["static-token", "--room", "room9", "--json"]);
    let v: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&example("multi-layer.json")).unwrap();
    config["static_tokens"]["rooms"] = v["config"]["static_tokens"]["rooms"].clone();
    let env = [
        ("JWT_SECRET", SECRET),
        ("AUTH_TOKEN", "global-token-0123456789abcdef0123456789"),
        ("ADMIN_TOKEN", "admin-token-0123456789abcdef0123456789a"),
        (
            "ROOM_TOKENS",
            "room1:room1-token-0123456789abcdef01234567890",
        ),
    ];
    let g = gate(&config.to_string(), &env);
    let token = v["token"].as_str().unwrap();
    assert_eq!(denial(&g, "/api/rooms/room9/join", &bearer(token)), None);
    assert_eq!(
        denial(&g, "/api/rooms/room1/join", &bearer(token)),
        Some(Denial::RoomMismatch)
    );
}
