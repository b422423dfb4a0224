//! The host glue's own parsing: a request head handed over as raw bytes (what Envoy's dynamic
//! module ABI gives the native module) read into the engine's plain types
//! (`glue::RequestHead::read`) and decided. The input is bytes, not text: the first byte picks the
//! configuration, then the first line is the `:path` value and each further line a `name:value`
//! header, split at the first `:`, not trimmed, any bytes. `{jwt}` becomes a valid Jitsi token.
//!
//! The same bytes are also read as a proxy-wasm serialized header map (`glue::proxy_wasm_pairs`,
//! what the wasm filter parses itself): no panic, and a map it accepts serializes back to exactly
//! the input.
//!
//! Checked on every input: no panic; every header reaches the engine, in order; a head with a name
//! or value that is not UTF-8 is refused with 400 (in enforce mode) and still loses its client-sent
//! identity headers; a readable head gets exactly the verdict `Gate::decide` gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomgate_filter::glue::{proxy_wasm_map, proxy_wasm_pairs, RequestHead};
use roomgate_filter::{Denial, Edit, Mode};
use roomgate_fuzz::{gates, good_jwt, IDENTITY, NOW};
use std::sync::OnceLock;

struct Fixture {
    gates: Vec<roomgate_filter::Gate>,
    jwt: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        gates: gates(),
        jwt: good_jwt().into_bytes(),
    })
}

fn with_jwt(line: &[u8], jwt: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.windows(5).position(|w| w == b"{jwt}") {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(jwt);
        rest = &rest[i + 5..];
    }
    out.extend_from_slice(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    if let Some(pairs) = proxy_wasm_pairs(data) {
        if !data.is_empty() {
            let back = proxy_wasm_map(&pairs).expect("lengths read from a u32");
            assert_eq!(&data[..back.len()], back.as_slice(), "pairs read from outside the map");
        }
    }
    let f = fixture();
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some(gate) = f.gates.get(usize::from(pick) % f.gates.len()) else {
        return;
    };
    let lines: Vec<Vec<u8>> = rest.split(|&b| b == b'\n').map(|l| with_jwt(l, &f.jwt)).collect();
    let mut raw: Vec<(&[u8], &[u8])> = Vec::new();
    if let Some((path, headers)) = lines.split_first() {
        raw.push((b":path", path));
        for line in headers {
            if let Some(i) = line.iter().position(|&b| b == b':') {
                raw.push((&line[..i], &line[i + 1..]));
            }
        }
    }
    let Some(head) = RequestHead::read(raw.iter().copied()) else {
        assert!(raw.is_empty(), "a head with :path was not read");
        return;
    };
    assert_eq!(head.headers.len(), raw.len());
    let text = raw
        .iter()
        .all(|(n, v)| std::str::from_utf8(n).is_ok() && std::str::from_utf8(v).is_ok());
    assert_eq!(head.readable, text);
    let v = head.decide(gate, NOW);
    if text {
        assert_eq!(v, gate.decide(&head.path, &head.headers, NOW));
        return;
    }
    assert_eq!(v.denial, Some(Denial::BadRequest));
    match gate.mode() {
        Mode::Enforce => assert_eq!(v.response.as_ref().map(|r| r.status), Some(400)),
        Mode::Report => assert!(v.response.is_none()),
    }
    for (name, _) in &head.headers {
        if IDENTITY.contains(&name.as_ref()) {
            assert!(
                v.edits.iter().any(|e| matches!(e, Edit::Remove(n) if n == name)),
                "spoofed {name} not removed from an unreadable head"
            );
        }
    }
});
