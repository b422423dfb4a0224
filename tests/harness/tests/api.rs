//! The fluent API on the compiled filter: configure, send, expect — and the harness's own
//! guarantees (a missing module says how to build it, unknown imports fail loudly, a refused
//! configuration is reported with the plugin's log line).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_harness::fuel::sign_jwt;
use roomgate_harness::{Error, Harness};
use roomgate_tests::table::{self, JITSI_SECRET};
use serde_json::json;

type R = Result<(), Box<dyn std::error::Error>>;

const NOW: i64 = 1_800_000_000;

fn jitsi() -> Harness {
    Harness::load()
        .unwrap_or_else(|e| panic!("{e}"))
        .envs(table::env("jitsi"))
        .at(NOW)
}

fn link(room: &str) -> String {
    let claims = json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": room,
                        "exp": NOW + 600, "context": {"user": {"name": "Alice"}}});
    sign_jwt(&claims, JITSI_SECRET).unwrap()
}

#[test]
fn a_room_page_without_a_token_gets_a_401_with_a_bearer_challenge() -> R {
    let mut vm = jitsi().configure(&table::config("jitsi")?)?;
    // The websocket needs a token (the room page itself loads without one).
    vm.get("/xmpp-websocket?room=standup")
        .send()?
        .expect_local(401)?
        .error("missing_token")?
        .header_contains("www-authenticate", "error=\"invalid_token\"")?
        .header_contains("content-type", "application/json")?
        .header("cache-control", "no-store")?;
    Ok(())
}

#[test]
fn a_valid_link_continues_with_identity_headers_and_without_its_token() -> R {
    let token = link("standup");
    let mut vm = jitsi().configure(&table::config("jitsi")?)?;
    vm.get(&format!("/standup?jwt={token}"))
        .header("x-roomgate-room", "spoofed")
        .send()?
        .expect_continue()?
        .path("/standup")?
        .header("x-roomgate-room", "standup")?
        .header("x-roomgate-subject", "meet.jitsi")?
        .header("x-roomgate-auth", "jwt")?
        .nowhere(&token)?;
    Ok(())
}

#[test]
fn a_bearer_token_is_removed_before_the_request_continues() -> R {
    let token = link("standup");
    let mut vm = jitsi().configure(&table::config("jitsi")?)?;
    vm.get("/standup")
        .header("Authorization", &format!("Bearer {token}"))
        .send()?
        .expect_continue()?
        .no_header("authorization")?
        .header("x-roomgate-room", "standup")?;
    Ok(())
}

#[test]
fn a_token_for_another_room_gets_a_403_whose_body_does_not_echo_it() -> R {
    let token = link("retro");
    let mut vm = jitsi().configure(&table::config("jitsi")?)?;
    vm.get(&format!("/standup?jwt={token}"))
        .send()?
        .expect_local(403)?
        .error("room_mismatch")?
        .body_lacks(&token)?;
    Ok(())
}

#[test]
fn the_configuration_is_read_from_the_plugin_configuration_buffer() -> R {
    let vm = jitsi().configure(&table::config("jitsi")?)?;
    let reads: Vec<_> = vm.trace().named("proxy_get_buffer_bytes").collect();
    assert!(
        reads.iter().any(|c| c.args.starts_with("type=7")),
        "{}",
        vm.trace()
    );
    assert!(vm
        .logs()
        .iter()
        .any(|l| l.message == "roomgate: configuration loaded"));
    Ok(())
}

#[test]
fn allowed_and_denied_requests_are_counted_in_metrics() -> R {
    let mut vm = jitsi().configure(&table::config("jitsi")?)?;
    vm.get("/libs/x.js").send()?.expect_continue()?;
    vm.get("/xmpp-websocket?room=standup")
        .send()?
        .expect_local(401)?;
    vm.get("/xmpp-websocket?room=standup")
        .send()?
        .expect_local(401)?;
    assert_eq!(vm.metric("roomgate.allowed"), Some(1));
    assert_eq!(vm.metric("roomgate.denied"), Some(2));
    Ok(())
}

#[test]
fn a_refused_configuration_is_reported_with_the_plugins_log_line() {
    let err = jitsi().configure(r#"{"routes": 7}"#).unwrap_err();
    match &err {
        Error::Rejected { logs } => assert!(
            logs.iter()
                .any(|l| l.message.starts_with("roomgate: configuration rejected")),
            "{err}"
        ),
        other => panic!("{other}"),
    }
}

#[test]
fn a_plugin_that_refused_its_configuration_answers_500_instead_of_running_open() -> R {
    let mut vm = jitsi().start(r#"{"routes": 7}"#)?;
    assert!(!vm.configured());
    vm.get("/libs/x.js")
        .send()?
        .expect_local(500)?
        .error("internal_error")?;
    Ok(())
}

#[test]
fn a_request_without_a_path_is_a_clear_400_from_the_filter_itself() -> R {
    // `CONNECT host:port` has no `:path`: nothing the gate guards, never forwarded.
    let mut vm = jitsi().configure(&table::config("jitsi")?)?;
    vm.request()
        .without_path()
        .send()?
        .expect_local(400)?
        .error("bad_request")?;
    Ok(())
}

#[test]
fn a_missing_module_tells_you_to_run_make_wasm() {
    let err = Harness::load_from("/nonexistent/roomgate.wasm").unwrap_err();
    assert!(matches!(err, Error::Missing { .. }));
    assert!(err.to_string().contains("make wasm"), "{err}");
}

/// A module importing one function nobody implements: (import "env" "proxy_teleport").
fn module_with_unknown_import() -> Vec<u8> {
    let name = b"proxy_teleport";
    let mut import = vec![0x01, 0x03];
    import.extend_from_slice(b"env");
    import.push(name.len() as u8);
    import.extend_from_slice(name);
    import.extend_from_slice(&[0x00, 0x00]);
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]);
    m.push(0x02);
    m.push(import.len() as u8);
    m.extend(import);
    m
}

#[test]
fn a_module_importing_an_unimplemented_host_function_fails_loudly() {
    let path = std::env::temp_dir().join(format!("roomgate-unknown-{}.wasm", std::process::id()));
    std::fs::write(&path, module_with_unknown_import()).unwrap();
    let err = Harness::load_from(&path).unwrap().start("{}").unwrap_err();
    let _ = std::fs::remove_file(&path);
    match &err {
        Error::UnknownImports(names) => assert_eq!(names, &["env::proxy_teleport"]),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("does not implement"), "{err}");
}

#[test]
fn every_import_of_roomgate_wasm_is_implemented_by_the_harness() -> R {
    let h = Harness::load()?;
    let imports = h.imports();
    assert!(imports.contains(&"env::proxy_send_local_response".to_owned()));
    assert!(imports
        .iter()
        .any(|i| i.starts_with("wasi_snapshot_preview1::")));
    h.envs(table::env("jitsi"))
        .configure(&table::config("jitsi")?)?;
    Ok(())
}

fn jitsi_with_log(level: &str) -> serde_json::Value {
    let mut config: serde_json::Value =
        serde_json::from_str(&table::config("jitsi").unwrap()).unwrap();
    config["log"] = json!({"denials": level});
    config
}

#[test]
fn each_denial_is_logged_once_at_the_configured_level_and_off_means_silent() -> R {
    use roomgate_harness::abi::LogLevel;
    for (setting, level) in [
        ("warn", Some(LogLevel::Warn)),
        ("debug", Some(LogLevel::Debug)),
        ("off", None),
    ] {
        let mut vm = jitsi().configure(&jitsi_with_log(setting).to_string())?;
        let ex = vm.get("/xmpp-websocket?room=standup").send()?;
        ex.expect_local(401)?;
        let denials: Vec<_> = ex
            .trace
            .logs()
            .into_iter()
            .filter(|l| l.message.contains("roomgate: denied"))
            .collect();
        match level {
            Some(level) => {
                assert_eq!(denials.len(), 1, "{setting}: {denials:?}");
                assert_eq!(denials[0].level, level, "{setting}");
                assert!(denials[0]
                    .message
                    .contains("reason=missing_token route=exact:/xmpp-websocket kind=room source=- room=standup"));
            }
            None => assert!(denials.is_empty(), "{setting}: {denials:?}"),
        }
    }
    Ok(())
}
