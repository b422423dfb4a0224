//! Proves the end-to-end infrastructure on its own, without roomgate: the echo upstream, the raw
//! client and the Envoy harness. If these fail, a failing roomgate suite says nothing about roomgate.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use roomgate_tests::envoy::{Envoy, EnvoyConfig};
use roomgate_tests::http;
use roomgate_tests::upstream::EchoUpstream;

#[test]
fn the_echo_upstream_echoes_method_raw_path_and_repeated_headers() {
    let upstream = EchoUpstream::start(0).unwrap();
    let r = http::send(
        upstream.port(),
        "DELETE",
        "/a%2Fb/../c?x=1&x=2",
        &[("X-Dup", "one"), ("x-other", "o"), ("x-dup", "two")],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let echoed = r.echoed().expect("an echo");
    assert_eq!(echoed.method, "DELETE");
    assert_eq!(echoed.path, "/a%2Fb/../c?x=1&x=2");
    assert_eq!(echoed.header_all("x-dup"), vec!["one", "two"]);
    assert_eq!(echoed.header("host"), Some("localhost"));
    let names: Vec<&str> = echoed.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["host", "x-dup", "x-other", "x-dup", "connection"]);
    assert_eq!(upstream.request_count(), 1);
    assert_eq!(upstream.requests()[0], echoed);
}

#[test]
fn the_echo_upstream_keeps_connections_alive_and_reads_request_bodies() {
    let upstream = EchoUpstream::start(0).unwrap();
    // Three requests on one connection: a Content-Length body, a chunked body, then a close.
    let raw = b"POST /one HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello\
                POST /two HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
                GET /three HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n";
    let r = http::send_raw(upstream.port(), raw).unwrap();
    assert_eq!(r.echoed().unwrap().path, "/one");
    // All three were served on the same connection, in order.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while upstream.request_count() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let paths: Vec<String> = upstream.requests().into_iter().map(|e| e.path).collect();
    assert_eq!(paths, ["/one", "/two", "/three"]);
}

#[test]
fn a_head_request_gets_headers_without_a_body() {
    let upstream = EchoUpstream::start(0).unwrap();
    let r = http::send(upstream.port(), "HEAD", "/x", &[]).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert!(r.header("content-length").is_some());
}

#[test]
fn envoy_without_roomgate_proxies_the_exact_raw_target_to_the_echo_upstream() {
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = Envoy::start(
        EnvoyConfig::new(upstream.port())
            .unwrap()
            .without_roomgate(),
    )
    .unwrap();
    assert_ne!(envoy.port(), 0);
    assert_ne!(envoy.admin_port(), 0);

    let r = envoy
        .send("GET", "/a%2Fb?x=1&x=2", &[("x-dup", "1"), ("x-dup", "2")])
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let echoed = r.echoed().expect("an echo");
    assert_eq!(echoed.method, "GET");
    assert_eq!(echoed.path, "/a%2Fb?x=1&x=2");
    assert_eq!(echoed.header_all("x-dup"), vec!["1", "2"]);

    // envoy.yaml turns off path normalisation and slash merging, and the upstream sees that.
    let r = envoy.send("GET", "//x/./y/../z", &[]).unwrap();
    assert_eq!(r.echoed().expect("an echo").path, "//x/./y/../z");

    // Envoy reuses its upstream connection across requests (keep-alive on the echo upstream).
    for _ in 0..3 {
        assert_eq!(envoy.send("GET", "/again", &[]).unwrap().status, 200);
    }
    let connections = envoy.stat("cluster.upstream.upstream_cx_total").unwrap();
    assert_eq!(connections, Some(1));
    assert_eq!(upstream.request_count(), 5);

    assert_eq!(envoy.admin_get("/ready").unwrap().trim(), "LIVE");
    assert!(envoy.wait_for_log("starting main dispatch loop", Duration::from_secs(5)));
}

#[test]
fn envoy_answers_a_local_reply_when_the_upstream_is_down() {
    // A port with nothing listening: Envoy must answer 503 itself.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let envoy = Envoy::start(EnvoyConfig::new(port).unwrap().without_roomgate()).unwrap();
    let r = envoy.send("GET", "/x", &[]).unwrap();
    assert_eq!(r.status, 503);
    assert!(r.echoed().is_none());
}

#[test]
fn envoy_validate_rejects_a_wasm_filename_that_does_not_exist() {
    let cfg = EnvoyConfig::new(1)
        .unwrap()
        .wasm("/nonexistent/roomgate.wasm");
    let err = Envoy::validate(cfg).unwrap_err();
    assert!(err.contains("/nonexistent/roomgate.wasm"), "{err}");
}

#[test]
fn envoy_validate_accepts_the_configuration_without_roomgate() {
    let out = Envoy::validate(EnvoyConfig::new(1).unwrap().without_roomgate()).unwrap();
    assert!(out.contains("OK"), "{out}");
}

#[test]
fn envoy_refusing_its_configuration_is_reported_with_its_logs() {
    let cfg = EnvoyConfig::new(1)
        .unwrap()
        .wasm("/nonexistent/roomgate.wasm");
    let logs = Envoy::start_expect_failure(cfg).unwrap();
    assert!(
        logs.contains("Invalid path: /nonexistent/roomgate.wasm"),
        "{logs}"
    );

    let err = Envoy::start(
        EnvoyConfig::new(1)
            .unwrap()
            .wasm("/nonexistent/roomgate.wasm"),
    )
    .unwrap_err();
    assert!(err.contains("Invalid path"), "{err}");

    let err =
        Envoy::start_expect_failure(EnvoyConfig::new(1).unwrap().without_roomgate()).unwrap_err();
    assert!(err.contains("became ready"), "{err}");
}
