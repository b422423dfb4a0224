//! The byte-level attacks only an HTTP codec can receive (raw NUL, CR, non-ASCII and non-UTF-8
//! bytes, fragments), sent byte for byte to a real Envoy running roomgate (wasm or native module).
//! For those the status may be Envoy's own (its codec refuses the request before any filter runs),
//! so they are checked here rather than in the shared corpus; what must hold on every one of them:
//! no 2xx, nothing reaches the upstream, and the filter keeps serving afterwards.

use crate::envoy::Envoy;
use crate::hosts::EnvoyHost;
use crate::table::{self, Token};

/// (what, target, extra header lines, expected status)
type RawCase = (&'static str, Vec<u8>, Vec<Vec<u8>>, u16);

fn good_token(now: i64) -> String {
    Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: table::jitsi_claims("standup"),
    }
    .render(now)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn request(target: &[u8], headers: &[&[u8]]) -> Vec<u8> {
    let mut r = b"GET ".to_vec();
    r.extend_from_slice(target);
    r.extend_from_slice(b" HTTP/1.1\r\nhost: localhost\r\n");
    for h in headers {
        r.extend_from_slice(h);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"connection: close\r\n\r\n");
    r
}

fn allowed(envoy: &Envoy, token: &str) -> u16 {
    envoy
        .send("GET", &format!("/standup?jwt={token}"), &[])
        .map_or(0, |r| r.status)
}

/// Sends every raw case through `host`'s Envoy for the `jitsi` configuration; the error lists
/// each case that did not hold.
pub fn raw_bytes_are_refused_and_the_filter_keeps_serving(
    host: &mut EnvoyHost,
) -> Result<(), String> {
    let token = good_token(now());
    let auth = format!("authorization: Bearer {token}");
    let t = token.as_bytes();
    let with_token = |prefix: &[u8]| {
        let mut v = prefix.to_vec();
        v.extend_from_slice(b"?jwt=");
        v.extend_from_slice(t);
        v
    };
    // (what, target, extra header lines, expected status; 0 = any 4xx; 200 = forwarded as
    // /standup with no injected header)
    let cases: Vec<RawCase> = vec![
        (
            "a raw NUL in the path",
            with_token(b"/stand\x00up"),
            vec![],
            400,
        ),
        (
            "raw UTF-8 in the path",
            with_token(b"/caf\xc3\xa9"),
            vec![],
            400,
        ),
        (
            "a raw 0xFF in the path",
            with_token(b"/standup\xff"),
            vec![],
            400,
        ),
        (
            "a raw 0xFF in the query",
            b"/standup?jwt=\xff".to_vec(),
            vec![],
            400,
        ),
        (
            "a raw tab in the path",
            with_token(b"/stand\tup"),
            vec![],
            400,
        ),
        (
            "a fragment in the target",
            with_token(b"/standup#x"),
            vec![],
            0,
        ),
        (
            "a raw backslash in the path",
            with_token(b"/libs\\..\\standup"),
            vec![],
            400,
        ),
        // Envoy reduces an absolute-form target to its path: the gate and the upstream agree on it.
        (
            "an absolute-form target",
            with_token(b"http://evil.example/standup"),
            vec![],
            200,
        ),
        (
            "a raw NUL in a header",
            with_token(b"/standup"),
            vec![b"x-a: a\x00b".to_vec()],
            400,
        ),
        // Envoy drops a bare CR inside a value: no header is injected.
        (
            "a bare CR in a header",
            with_token(b"/standup"),
            vec![b"x-a: a\rx-injected: 1".to_vec()],
            200,
        ),
        (
            "a non-UTF-8 header value (obs-text)",
            with_token(b"/standup"),
            vec![b"x-a: \xff\xfe".to_vec()],
            400,
        ),
        (
            "a non-UTF-8 identity header",
            with_token(b"/standup"),
            vec![b"x-roomgate-admin: \xe9".to_vec()],
            400,
        ),
        (
            "a non-UTF-8 byte after a bearer token",
            b"/standup".to_vec(),
            vec![[auth.as_bytes(), b"\xff"].concat()],
            400,
        ),
        (
            "a non-UTF-8 cookie",
            with_token(b"/standup"),
            vec![b"cookie: a=\xc0\xaf".to_vec()],
            400,
        ),
        (
            "a non-UTF-8 header on a public route",
            b"/libs/x.js".to_vec(),
            vec![b"user-agent: \x80".to_vec()],
            400,
        ),
        (
            "a non-ASCII header name",
            with_token(b"/standup"),
            vec![b"x-\xe9: 1".to_vec()],
            400,
        ),
        // The folded line is part of x-a, not an Authorization header.
        (
            "an obs-folded header line",
            b"/xmpp-websocket?room=standup".to_vec(),
            vec![b"x-a: 1".to_vec(), [b" ", auth.as_bytes()].concat()],
            401,
        ),
        (
            "a header name with a space",
            b"/standup".to_vec(),
            vec![b"authorization : Bearer x.y.z".to_vec()],
            400,
        ),
    ];
    let first = allowed(host.envoy("jitsi")?, &token);
    if first != 200 {
        return Err(format!("a good request got {first} before any raw case"));
    }
    let mut failures = Vec::new();
    for (what, target, headers, want) in &cases {
        let envoy = host.envoy("jitsi")?;
        let lines: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        let r = envoy.send_raw(&request(target, &lines));
        let status = r.as_ref().map_or(0, |r| r.status);
        let ok = match want {
            0 => (400..500).contains(&status),
            s => status == *s,
        };
        if !ok {
            failures.push(format!("{what}: status {status} (want {want}): {r:?}"));
        }
        let echoed = r.as_ref().ok().and_then(|r| r.echoed());
        match (want, &echoed) {
            (200, Some(e)) if e.path == "/standup" && e.header("x-injected").is_none() => {}
            (200, _) => failures.push(format!("{what}: not forwarded as /standup: {echoed:?}")),
            (_, Some(_)) => failures.push(format!("{what}: reached the upstream")),
            (_, None) => {}
        }
        // The VM survived: a good request is still allowed.
        let after = allowed(envoy, &token);
        if after != 200 {
            failures.push(format!("{what}: the next good request got {after}"));
        }
    }
    let logs = host.envoy("jitsi")?.logs();
    if logs.contains("panicked") {
        failures.push(format!("the filter panicked:\n{logs}"));
    }
    if logs.contains(&token) {
        failures.push("a token in the log".into());
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}
