//! The behaviour table and the attack corpus through the built roomgate.wasm inside a real nginx
//! with Kong's ngx_wasm_module, configured from the shipped `deploy/nginx/nginx.conf`. CI has no
//! such nginx (ngx_wasm_module is on no package registry): set `ROOMGATE_NGINX=/path/to/nginx`
//! to run these; without it they print that they were skipped and pass.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::nginx::{self, nginx_binary, NginxHost};
use roomgate_tests::table::{self, Case};

/// Says a check was skipped, past the test harness's output capture (so `cargo test` shows it).
fn skipped(what: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {what} in a real nginx: set ROOMGATE_NGINX to an nginx built with \
         ngx_wasm_module (README, \"nginx\") to run it"
    );
}

fn run(what: &str, cases: &[Case]) {
    let Some(binary) = nginx_binary() else {
        skipped(what);
        return;
    };
    let mut host = NginxHost::new(binary).unwrap();
    match nginx::run_all(cases, &mut host) {
        Ok(()) => eprintln!(
            "{what} in a real nginx: all {} cases hold ({} of them refused by nginx itself, \
             see roomgate_tests::nginx::REFUSED_BY_NGINX)",
            cases.len(),
            cases
                .iter()
                .filter(|c| nginx::REFUSED_BY_NGINX.iter().any(|(n, _)| *n == c.name))
                .count()
        ),
        Err(e) => panic!("{what} in a real nginx: {e}"),
    }
}

#[test]
fn every_case_of_the_behaviour_table_holds_in_a_real_nginx() {
    run("the behaviour table", &table::cases());
}

#[test]
fn every_attack_of_the_corpus_gets_its_status_in_a_real_nginx() {
    run("the attack corpus", &roomgate_tests::attacks::cases());
}

/// The shipped example logs at `crit`: nothing nginx writes during a request (where it appends
/// the request line, query token included) reaches the error log.
#[test]
fn with_the_shipped_error_log_level_no_request_line_reaches_the_error_log() {
    let Some(binary) = nginx_binary() else {
        skipped("the error-log check");
        return;
    };
    let mut host = NginxHost::new(binary).unwrap();
    let mut cases = table::cases();
    cases.extend(roomgate_tests::attacks::cases());
    // Denials, nginx's own 400s and duplicate headers all log inside a request at lower levels.
    let _ = nginx::run_all(&cases, &mut host);
    for (config, server) in host.servers() {
        let logs = server.logs();
        assert!(
            !logs.contains("request: \""),
            "{config}: the error log has request lines:\n{logs}"
        );
        // JWTs start with `eyJ` (`{"`); the static tokens are the table's constants.
        let access = server.access_log();
        for secret in [
            "eyJ",
            table::GLOBAL_TOKEN,
            table::ADMIN_TOKEN,
            table::ROOM1_TOKEN,
            table::ROOM2_TOKEN,
        ] {
            assert!(
                !access.contains(secret) && !logs.contains(secret),
                "{config}: a token in nginx's logs"
            );
        }
    }
}

/// Jitsi's `/xmpp-websocket` through the shipped example: the upgrade reaches an upstream that
/// answers 101, the tunnel carries bytes both ways, the token is stripped and the identity set.
#[test]
fn a_websocket_upgrade_passes_through_a_real_nginx() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    let Some(binary) = nginx_binary() else {
        skipped("the websocket check");
        return;
    };
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let upstream_port = listener.local_addr().unwrap().port();
    let upstream = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut conn = conn;
        conn.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        )
        .unwrap();
        let mut frame = [0u8; 4];
        reader.read_exact(&mut frame).unwrap();
        conn.write_all(b"echo:").unwrap();
        conn.write_all(&frame).unwrap();
        head
    });
    let server = nginx::Nginx::start(
        &binary,
        upstream_port,
        &table::config("jitsi").unwrap(),
        &table::env("jitsi"),
        None,
        &[],
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = table::Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: serde_json::json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi",
                                   "room": "standup", "exp": "@now+600"}),
    }
    .render(now);
    let mut client = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        client,
        "GET /xmpp-websocket?room=standup&token={token} HTTP/1.1\r\nHost: meet.example.com\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Roomgate-Admin: true\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
    }
    client.write_all(b"ping").unwrap();
    let mut echo = [0u8; 9];
    reader.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"echo:ping");
    let head = upstream.join().unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("get /xmpp-websocket?room=standup http/1.1"),
        "{head}"
    );
    assert!(head.contains("\r\nupgrade: websocket\r\n"), "{head}");
    assert!(head.contains("\r\nconnection: upgrade\r\n"), "{head}");
    assert!(head.contains("\r\nx-roomgate-room: standup\r\n"), "{head}");
    assert!(head.contains("\r\nx-roomgate-admin: false\r\n"), "{head}");
    assert!(!head.contains("x-roomgate-admin: true"), "{head}");
    assert!(!head.contains(&token.to_ascii_lowercase()), "{head}");
}

/// With `ignore_invalid_headers off` (the example keeps nginx's default, on), a header line whose
/// name is not UTF-8 reaches the filter. It is refused with 400 `bad_request`, like a value that is
/// not UTF-8: the VM does not trap (no `panicked` in the error log), and the next request is served.
#[test]
fn a_header_name_that_is_not_utf8_is_a_400_in_a_real_nginx_that_keeps_invalid_headers() {
    let Some(binary) = nginx_binary() else {
        skipped("the invalid-header-name check");
        return;
    };
    let upstream = roomgate_tests::upstream::EchoUpstream::start(0).unwrap();
    let server = nginx::Nginx::start(
        &binary,
        upstream.port(),
        &table::config("jitsi").unwrap(),
        &table::env("jitsi"),
        None,
        &["ignore_invalid_headers off;"],
    )
    .unwrap();
    let token = table::Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: serde_json::json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi",
                                   "room": "standup", "exp": "@now+600"}),
    }
    .render(roomgate_tests::support::unix_now());
    let send = |target: &str, header: &[u8]| {
        let mut req = format!("GET {target} HTTP/1.1\r\nHost: meet.example.com\r\n").into_bytes();
        req.extend_from_slice(header);
        req.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        roomgate_tests::http::send_raw(server.port(), &req).unwrap()
    };
    let guarded = format!("/xmpp-websocket?room=standup&token={token}");
    for (target, header) in [
        ("/libs/x.js", &b"X-Na\xffme: 1"[..]),
        (guarded.as_str(), b"X-\xc3(: 1"),
        ("/libs/x.js", b"X-Name: \xff"),
    ] {
        let r = send(target, header);
        assert_eq!(r.status, 400, "{target}: {}", r.body);
        assert_eq!(r.json().unwrap()["error"], "bad_request", "{}", r.body);
    }
    assert_eq!(upstream.request_count(), 0);
    let r = send(&guarded, b"X-Fine: 1");
    assert_eq!(r.status, 200, "{}", r.body);
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "the VM trapped:\n{logs}");
    assert!(!logs.contains(&token), "a token in the error log");
}
