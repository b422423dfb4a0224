//! Soak: a million requests (allowed and denied, mixed) through Envoy and roomgate.wasm on
//! keep-alive connections. Every response must have exactly its expected status, nothing may go
//! wrong in Envoy (no 5xx, no reset, no VM failure), and the VM's memory must stay flat: the
//! filter's `roomgate.vm_memory_bytes` gauge (its linear memory, which can only grow) is read from
//! Envoy's /stats after a warm-up and at the end, next to Envoy's own allocator stats and RSS.
//!
//! `ROOMGATE_SOAK_REQUESTS` changes the count (default 1,000,000); the run is bounded by a generous
//! deadline so a hang fails instead of stalling CI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::envoy::{Envoy, EnvoyConfig};
use roomgate_tests::hosts::drop_host_env_keys;
use roomgate_tests::http::read_response;
use roomgate_tests::table::{self, Token};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 8;
const PIPELINE: usize = 1;
const WARM_UP: u64 = 50_000;
const DEADLINE: Duration = Duration::from_secs(30 * 60);

/// An upstream that answers every request `200 ok` on keep-alive connections and keeps nothing.
fn sink() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            thread::spawn(move || {
                let _ = conn.set_nodelay(true);
                let mut writer = conn.try_clone().unwrap();
                let mut reader = BufReader::new(conn);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => {
                            // GET requests only: the head is the whole request.
                            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if writer.write_all(ok).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    port
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn jwt(secret: &'static str, room: &str, exp: &str) -> String {
    Token::Jwt {
        secret,
        kid: None,
        claims: json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": room, "exp": exp,
                       "context": {"user": {"name": "Alice", "moderator": true}}}),
    }
    .render(now())
}

/// The mix: (raw request, expected status). Four of ten allowed.
fn mix() -> Vec<(Vec<u8>, u16)> {
    let good = jwt(table::JITSI_SECRET, "standup", "@now+7200");
    let expired = jwt(table::JITSI_SECRET, "standup", "@now-600");
    let forged = jwt(table::OTHER_SECRET, "standup", "@now+7200");
    let get = |target: &str, headers: &str| {
        format!("GET {target} HTTP/1.1\r\nhost: soak\r\n{headers}\r\n").into_bytes()
    };
    vec![
        (get(&format!("/standup?jwt={good}"), ""), 200),
        (
            get("/libs/app.bundle.min.js", "x-roomgate-admin: true\r\n"),
            200,
        ),
        (get("/xmpp-websocket?room=standup", ""), 401),
        (get(&format!("/standup?jwt={expired}"), ""), 401),
        (get(&format!("/retro?jwt={good}"), ""), 403),
        (get(&format!("/standup?jwt={forged}"), ""), 401),
        (get(&format!("/libs/../standup?jwt={good}"), ""), 400),
        (
            get(
                &format!("/xmpp-websocket?room=standup&token={good}"),
                "x-roomgate-room: retro\r\n",
            ),
            200,
        ),
        (get("/admin/x/y", ""), 403),
        (
            get("/StandUp", &format!("authorization: Bearer {good}\r\n")),
            200,
        ),
    ]
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    reconnects: AtomicU64,
    by_status: [AtomicU64; 6], // 200, 400, 401, 403, other, wrong
}

fn slot(status: u16) -> usize {
    match status {
        200 => 0,
        400 => 1,
        401 => 2,
        403 => 3,
        _ => 4,
    }
}

fn connect(port: u16) -> Result<(TcpStream, BufReader<TcpStream>), String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let writer = stream.try_clone().map_err(|e| e.to_string())?;
    Ok((writer, BufReader::with_capacity(64 * 1024, stream)))
}

/// Sends requests `from..to` of the endless mix on keep-alive connections, `PIPELINE` at a time.
/// Envoy closes the connection after a 400 (as HTTP/1.1 allows), so a batch ends with a request
/// expected to get 400 and the next batch opens a new connection.
fn drive(
    port: u16,
    from: u64,
    to: u64,
    mix: &[(Vec<u8>, u16)],
    tally: &Tally,
) -> Result<(), String> {
    let (mut writer, mut reader) = connect(port)?;
    let mut i = from;
    let mut batch = Vec::with_capacity(PIPELINE * 1024);
    let mut expected = Vec::with_capacity(PIPELINE);
    while i < to {
        batch.clear();
        expected.clear();
        while i < to && expected.len() < PIPELINE {
            let (req, want) = &mix[(i % mix.len() as u64) as usize];
            batch.extend_from_slice(req);
            expected.push(*want);
            i += 1;
            if *want == 400 {
                break;
            }
        }
        writer
            .write_all(&batch)
            .map_err(|e| format!("write: {e}"))?;
        let mut closed = false;
        for (k, want) in expected.iter().enumerate() {
            let r = read_response(&mut reader, false).map_err(|e| format!("read: {e}"))?;
            tally.by_status[slot(r.status)].fetch_add(1, Ordering::Relaxed);
            if r.status != *want {
                tally.by_status[5].fetch_add(1, Ordering::Relaxed);
            }
            if r.header("connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close"))
            {
                if k + 1 != expected.len() || r.status != 400 {
                    return Err(format!("envoy closed the connection after a {}", r.status));
                }
                closed = true;
            }
        }
        tally
            .sent
            .fetch_add(expected.len() as u64, Ordering::Relaxed);
        if closed {
            tally.reconnects.fetch_add(1, Ordering::Relaxed);
            (writer, reader) = connect(port)?;
        }
    }
    Ok(())
}

/// Runs `count` requests over `CONNECTIONS` connections.
fn run(port: u16, count: u64, tally: &Arc<Tally>) {
    let mix = Arc::new(mix());
    let per = count / CONNECTIONS as u64;
    let handles: Vec<_> = (0..CONNECTIONS as u64)
        .map(|c| {
            let (mix, tally) = (Arc::clone(&mix), Arc::clone(tally));
            let to = if c + 1 == CONNECTIONS as u64 {
                count
            } else {
                (c + 1) * per
            };
            // Start each connection at a different point of the mix.
            thread::spawn(move || drive(port, c * per, to, &mix, &tally))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
}

struct Memory {
    vm: u64,
    allocated: u64,
    heap: u64,
    rss_kib: u64,
}

fn memory(envoy: &Envoy) -> Memory {
    let stats = envoy.admin_get("/stats").unwrap();
    let get = |name: &str| {
        stats
            .lines()
            .filter_map(|l| l.split_once(": "))
            .find(|(n, _)| n.ends_with(name))
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no stat {name}"))
    };
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", envoy.pid())).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    Memory {
        vm: get("roomgate.vm_memory_bytes"),
        allocated: get("server.memory_allocated"),
        heap: get("server.memory_heap_size"),
        rss_kib,
    }
}

#[test]
fn a_million_mixed_requests_get_their_statuses_and_the_vm_memory_stays_flat() {
    let total: u64 = std::env::var("ROOMGATE_SOAK_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let upstream = sink();
    let mut cfg = EnvoyConfig::new(upstream)
        .unwrap()
        .plugin_config(&table::config("jitsi").unwrap())
        .mutate(drop_host_env_keys);
    for (k, v) in table::env("jitsi") {
        cfg = cfg.env(k, &v);
    }
    let envoy = Envoy::start(cfg).unwrap();
    let started = Instant::now();

    let tally = Arc::new(Tally::default());
    let warm = WARM_UP.min(total / 10);
    run(envoy.port(), warm, &tally);
    let before = memory(&envoy);
    run(envoy.port(), total - warm, &tally);
    let after = memory(&envoy);
    let elapsed = started.elapsed();
    assert!(elapsed < DEADLINE, "the soak took {elapsed:?}");

    let n = |i: usize| tally.by_status[i].load(Ordering::Relaxed);
    let sent = tally.sent.load(Ordering::Relaxed);
    eprintln!(
        "soak: {sent} requests in {:.1} s ({:.0}/s): 200={} 400={} 401={} 403={} other={} unexpected={}",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        n(0),
        n(1),
        n(2),
        n(3),
        n(4),
        n(5)
    );
    eprintln!(
        "soak: {} connections reopened after a 400",
        tally.reconnects.load(Ordering::Relaxed)
    );
    eprintln!(
        "soak: roomgate.vm_memory_bytes {} -> {}; server.memory_allocated {} -> {}; \
         server.memory_heap_size {} -> {}; envoy VmRSS {} kB -> {} kB",
        before.vm,
        after.vm,
        before.allocated,
        after.allocated,
        before.heap,
        after.heap,
        before.rss_kib,
        after.rss_kib
    );
    assert_eq!(sent, total);
    assert_eq!(n(5), 0, "responses with an unexpected status");
    assert_eq!(n(4), 0, "statuses outside 200/400/401/403");
    // Envoy counted every request, and none failed inside Envoy.
    let stat = |name: &str| envoy.stat(name).unwrap().unwrap_or(0);
    assert_eq!(stat("http.rooms.downstream_rq_5xx"), 0);
    assert_eq!(
        stat("wasmcustom.roomgate.allowed") + stat("wasmcustom.roomgate.denied"),
        total
    );
    assert_eq!(stat("wasmcustom.roomgate.allowed"), n(0));
    assert_eq!(stat("wasm.roomgate.vm_reload"), 0);
    // The VM's memory is flat after warm-up: no page grown for the last ~95% of the requests.
    assert_eq!(after.vm, before.vm, "the VM's linear memory grew");
    // Envoy's own heap does not grow with the request count either (slack for stats and buffers).
    assert!(
        after.allocated < before.allocated + 16 * 1024 * 1024,
        "envoy's heap grew from {} to {}",
        before.allocated,
        after.allocated
    );
}
