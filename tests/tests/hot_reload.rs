//! Hot reload through Envoy's own ECDS: the deploy/envoy-ecds example, a changed file taking
//! effect in a running Envoy with no restart and no failed request, and a bad file refused while
//! the previous configuration stays in force.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::envoy::Envoy;
use roomgate_tests::support::{self, ecds_resource, start_ecds, unix_now};
use roomgate_tests::table::{self, Token};
use roomgate_tests::upstream::EchoUpstream;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn now() -> i64 {
    unix_now()
}

fn resource(edit: impl FnOnce(&mut Value)) -> Value {
    ecds_resource(edit).unwrap()
}

fn publish(dir: &Path, v: &Value) {
    support::publish(dir, v).unwrap();
}

fn start(dir: &Path, upstream: &EchoUpstream) -> Envoy {
    start_ecds(dir, upstream, table::JITSI_SECRET).unwrap()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    support::temp_dir(name).unwrap()
}

fn token(room: &str) -> String {
    Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: json!({"iss": "roomgate-demo", "room": room, "iat": "@now", "exp": "@now+600"}),
    }
    .render(now())
}

fn status(envoy: &Envoy, room: &str, token: &str) -> u16 {
    envoy
        .send(
            "GET",
            &format!("/{room}"),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .unwrap()
        .status
}

#[test]
fn a_revoked_room_is_closed_in_a_running_envoy_without_restart_or_failed_requests() {
    let dir = temp_dir("ecds");
    publish(&dir, &resource(|_| {}));
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = start(&dir, &upstream);
    let pid = envoy.pid();
    let standup = token("standup");
    assert_eq!(status(&envoy, "standup", &standup), 200);

    // Traffic keeps flowing while the configuration changes underneath it.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let port = envoy.port();
    let load = {
        let (stop, sent, standup) = (Arc::clone(&stop), Arc::clone(&sent), standup.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while (seen.len() < 1_000 || !stop.load(Ordering::Relaxed)) && seen.len() < 50_000 {
                sent.fetch_add(1, Ordering::Relaxed);
                let auth = format!("Bearer {standup}");
                let r = roomgate_tests::http::send(
                    port,
                    "GET",
                    "/standup",
                    &[("authorization", &auth)],
                );
                seen.push(r.map(|r| r.status).unwrap_or(0));
            }
            seen
        })
    };

    while sent.load(Ordering::Relaxed) < 300 {
        std::thread::yield_now();
    }
    publish(
        &dir,
        &resource(|p| p["revoked"]["rooms"] = json!(["standup"])),
    );
    let published = Instant::now();
    let mut closed_after = None;
    while published.elapsed() < Duration::from_secs(5) {
        if status(&envoy, "standup", &standup) == 403 {
            closed_after = Some(published.elapsed());
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let seen = load.join().unwrap();
    let closed_after = closed_after.expect("the room was never closed");
    let allowed = seen.iter().filter(|s| **s == 200).count();
    eprintln!(
        "room closed {closed_after:?} after publishing; {} requests: {allowed} let in, {} closed out",
        seen.len(),
        seen.len() - allowed
    );
    assert!(
        allowed >= 300 && seen.len() > allowed,
        "the traffic did not span the update: {:?}",
        &seen[..40]
    );
    assert!(
        closed_after < Duration::from_secs(1),
        "closing took {closed_after:?}"
    );
    assert!(
        seen.iter().all(|s| *s == 200 || *s == 403),
        "unexpected statuses: {:?}",
        {
            let mut odd: Vec<u16> = seen
                .iter()
                .copied()
                .filter(|s| *s != 200 && *s != 403)
                .collect();
            odd.dedup();
            odd
        }
    );
    assert_eq!(envoy.pid(), pid);
    assert_eq!(
        status(&envoy, "retro", &token("retro")),
        200,
        "other rooms stay open"
    );
    let body = envoy
        .send(
            "GET",
            "/standup",
            &[("authorization", &format!("Bearer {standup}"))],
        )
        .unwrap()
        .body;
    assert!(body.contains("room_closed"), "{body}");
}

#[test]
fn a_rejected_update_keeps_the_previous_configuration_in_force() {
    let dir = temp_dir("ecds-bad");
    publish(
        &dir,
        &resource(|p| p["revoked"]["rooms"] = json!(["standup"])),
    );
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = start(&dir, &upstream);
    assert_eq!(status(&envoy, "standup", &token("standup")), 403);

    // A weak secret: roomgate refuses it, so Envoy refuses the update.
    publish(
        &dir,
        &resource(|p| p["jwt"]["keys"] = json!([{"secret": "too-short"}])),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failed = 0;
    while Instant::now() < deadline && failed == 0 {
        failed = envoy
            .stat("extension_config_discovery.http_filter.roomgate.config_fail")
            .unwrap()
            .unwrap_or(0);
    }
    assert!(failed >= 1, "the bad update was not refused");
    assert!(envoy.logs().contains("roomgate: configuration rejected"));
    assert_eq!(
        status(&envoy, "standup", &token("standup")),
        403,
        "the previous revocation still holds"
    );
    assert_eq!(status(&envoy, "retro", &token("retro")), 200);
    assert_eq!(status(&envoy, "retro", "not-a-token"), 401);
}

#[test]
fn keys_rotate_without_downtime_old_tokens_work_until_their_key_is_removed() {
    const NEW: &str = "the-new-key-of-november-0123456789abcdef";
    let dir = temp_dir("ecds-rotate");
    let old_key = json!({"kid": "2026-10", "secret_env": "JWT_APP_SECRET"});
    let new_key = json!({"kid": "2026-11", "secret": NEW});
    publish(&dir, &resource(|p| p["jwt"]["keys"] = json!([old_key])));
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = start(&dir, &upstream);
    let claims =
        json!({"iss": "roomgate-demo", "room": "standup", "iat": "@now", "exp": "@now+600"});
    let mint = |secret: &'static str, kid: &'static str| {
        Token::Jwt {
            secret,
            kid: Some(kid),
            claims: claims.clone(),
        }
        .render(now())
    };
    let old_token = mint(table::JITSI_SECRET, "2026-10");
    let new_token = mint(NEW, "2026-11");
    assert_eq!(status(&envoy, "standup", &old_token), 200);
    assert_eq!(
        status(&envoy, "standup", &new_token),
        401,
        "the new key is not deployed yet"
    );

    // Step 1: deploy the new key next to the old one (newest first); both kinds of token work.
    publish(
        &dir,
        &resource(|p| p["jwt"]["keys"] = json!([new_key, old_key])),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while status(&envoy, "standup", &new_token) != 200 && Instant::now() < deadline {}
    assert_eq!(status(&envoy, "standup", &new_token), 200);
    assert_eq!(status(&envoy, "standup", &old_token), 200);

    // Step 2: once old tokens have expired (or are to be cut off), remove the old key.
    publish(&dir, &resource(|p| p["jwt"]["keys"] = json!([new_key])));
    let deadline = Instant::now() + Duration::from_secs(5);
    while status(&envoy, "standup", &old_token) != 401 && Instant::now() < deadline {}
    assert_eq!(status(&envoy, "standup", &old_token), 401);
    assert_eq!(status(&envoy, "standup", &new_token), 200);
}
