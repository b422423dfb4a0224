//! `authsvc PORT`: the auth service of bench configuration D, the architecture roomgate replaces
//! (nginx `auth_request` → a token service; here Envoy `ext_authz` → this service).
//!
//! Envoy forwards each request head as `GET /auth<original path>` with its `Authorization` header.
//! The service verifies the HS256 JWT the way roomgate does for the same token: the algorithm is
//! fixed (`alg` must be `HS256`), the HMAC is prepared once and compared in constant time, `exp` is
//! required and checked with a 30 s leeway, `nbf` honoured, the issuer must be accepted, and the
//! token's `room` claim must name the room of the path (`/{room}`, ASCII case-insensitively).
//! It answers `200` with `x-roomgate-room` / `x-roomgate-subject` (forwarded upstream by Envoy) or
//! `401`. Secret: `JWT_APP_SECRET`; accepted issuers: `AUTHSVC_ISSUERS` (comma-separated, default
//! `roomgate-demo`). One thread per kept-alive connection.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

const LEEWAY: i64 = 30;
const DENY: &[u8] = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n";

struct Verifier {
    mac: Hmac<Sha256>,
    issuers: Vec<String>,
}

struct Identity {
    room: String,
    subject: String,
}

fn decode_json(segment: &str) -> Option<serde_json::Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

impl Verifier {
    fn verify(&self, token: &str, room: &str, now: i64) -> Option<Identity> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let header = decode_json(h)?;
        if header.get("alg").and_then(Value::as_str) != Some("HS256") || header.contains_key("crit")
        {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
        let mut mac = self.mac.clone();
        mac.update(token.get(..h.len() + 1 + p.len())?.as_bytes());
        mac.verify_slice(&signature).ok()?;

        let claims = decode_json(p)?;
        let exp = claims.get("exp")?.as_i64()?;
        if now >= exp + LEEWAY {
            return None;
        }
        if let Some(nbf) = claims.get("nbf") {
            if nbf.as_i64()? > now + LEEWAY {
                return None;
            }
        }
        let iss = claims.get("iss").and_then(Value::as_str)?;
        if !self.issuers.iter().any(|a| a == iss) {
            return None;
        }
        let granted = claims.get("room").and_then(Value::as_str)?;
        if granted != "*" && !granted.eq_ignore_ascii_case(room) {
            return None;
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Some(Identity {
            room: room.to_owned(),
            subject: subject.to_owned(),
        })
    }
}

/// The answer to one check request (`head` is the request head without the final CRLFCRLF).
fn check(verifier: &Verifier, head: &str) -> Vec<u8> {
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default();
    let path = target.strip_prefix("/auth").unwrap_or(target);
    let path = path.split('?').next().unwrap_or_default();
    // Only `/{room}`: one non-empty segment.
    let room = path.strip_prefix('/').filter(|r| !r.is_empty() && !r.contains('/'));
    let mut token = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                if token.is_some() {
                    return DENY.to_vec(); // two Authorization headers: ambiguous
                }
                let value = value.trim();
                token = value
                    .get(..7)
                    .filter(|s| s.eq_ignore_ascii_case("bearer "))
                    .and_then(|_| value.get(7..));
            }
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match (room, token) {
        (Some(room), Some(token)) => match verifier.verify(token.trim(), room, now) {
            Some(id) => format!(
                "HTTP/1.1 200 OK\r\nx-roomgate-room: {}\r\nx-roomgate-subject: {}\r\ncontent-length: 0\r\n\r\n",
                id.room, id.subject
            )
            .into_bytes(),
            None => DENY.to_vec(),
        },
        _ => DENY.to_vec(),
    }
}

fn content_length(head: &str) -> usize {
    head.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn serve(verifier: &Verifier, mut conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut buf = vec![0u8; 32 * 1024];
    let mut filled = 0;
    loop {
        let n = conn.read(buf.get_mut(filled..).unwrap_or_default())?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        loop {
            let data = buf.get(..filled).unwrap_or_default();
            let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            let head = String::from_utf8_lossy(data.get(..end).unwrap_or_default()).into_owned();
            let total = end + 4 + content_length(&head);
            if total > filled {
                if total > buf.len() {
                    return Ok(()); // a body this service never expects
                }
                break; // wait for the rest of the body
            }
            conn.write_all(&check(verifier, &head))?;
            buf.copy_within(total..filled, 0);
            filled -= total;
        }
        if filled == buf.len() {
            return Ok(());
        }
    }
}

fn main() -> ExitCode {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: authsvc PORT   (secret in JWT_APP_SECRET)");
            return ExitCode::from(2);
        }
    };
    let secret = std::env::var("JWT_APP_SECRET").unwrap_or_default();
    if secret.len() < 32 {
        eprintln!("authsvc: JWT_APP_SECRET must hold at least 32 bytes");
        return ExitCode::from(2);
    }
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return ExitCode::FAILURE;
    };
    let issuers = std::env::var("AUTHSVC_ISSUERS")
        .unwrap_or_else(|_| "roomgate-demo".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let verifier = Arc::new(Verifier { mac, issuers });
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("authsvc: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for conn in listener.incoming().flatten() {
        let verifier = Arc::clone(&verifier);
        thread::spawn(move || serve(&verifier, conn));
    }
    ExitCode::SUCCESS
}
