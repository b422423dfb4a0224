//! The full request decision on the example configurations. The input is text:
//! the first byte picks the configuration, then the first line is the request target and each
//! further line a `name: value` header. `{jwt}` becomes a valid Jitsi token for room `standup`,
//! `{global}`, `{room1}` and `{admin}` the multi-layer token scheme's static
//! tokens, so allowed paths are reached too.
//!
//! Checked on every verdict: no panic; a denial in enforce mode is a local response with a
//! 400/401/403/410 status and a JSON body that never contains a token; an allowed request sets no
//! header value with bytes outside visible ASCII and space; client-sent identity headers are
//! always removed or replaced, and a header the gate adds is one the request no longer carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomgate_filter::sources::same_header;
use roomgate_filter::{Edit, Mode};
use roomgate_fuzz::{gates, good_jwt, ADMIN_TOKEN, GLOBAL_TOKEN, IDENTITY, NOW, ROOM1_TOKEN};
use std::sync::OnceLock;

struct Fixture {
    gates: Vec<roomgate_filter::Gate>,
    jwt: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        gates: gates(),
        jwt: good_jwt(),
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some(gate) = f.gates.get(usize::from(pick) % f.gates.len()) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let text = text
        .replace("{jwt}", &f.jwt)
        .replace("{global}", GLOBAL_TOKEN)
        .replace("{room1}", ROOM1_TOKEN)
        .replace("{admin}", ADMIN_TOKEN);
    let mut lines = text.split('\n');
    let target = lines.next().unwrap_or_default();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let v = gate.decide(target, &headers, NOW);

    let tokens = [f.jwt.as_str(), GLOBAL_TOKEN, ROOM1_TOKEN, ADMIN_TOKEN];
    match (&v.denial, &v.response) {
        (Some(d), Some(r)) => {
            assert_eq!(gate.mode(), Mode::Enforce);
            assert_eq!(r.status, d.status());
            assert!(matches!(r.status, 400 | 401 | 403 | 410), "{}", r.status);
            let body: serde_json::Value =
                serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null);
            assert!(body.get("error").is_some_and(serde_json::Value::is_string));
            for t in tokens {
                assert!(!r.body.contains(t), "a token in a response body");
                assert!(r.headers.iter().all(|(_, hv)| !hv.contains(t)));
            }
        }
        (Some(_), None) => assert_eq!(gate.mode(), Mode::Report),
        (None, Some(_)) => panic!("a response without a denial"),
        (None, None) => {}
    }
    if v.response.is_none() {
        for (i, edit) in v.edits.iter().enumerate() {
            if let Edit::Set(name, value) | Edit::Add(name, value) = edit {
                if name != ":path" && name != "cookie" {
                    assert!(
                        value.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                        "unsafe header value {value:?}"
                    );
                }
            }
            // An added header is one the request no longer carries: every client-sent spelling
            // was removed before, and no earlier edit wrote it.
            if let Edit::Add(name, value) = edit {
                assert!(!value.is_empty(), "empty {name} added");
                let before = &v.edits[..i];
                for (sent, _) in &headers {
                    if same_header(sent, name) {
                        assert!(
                            before.iter().any(|e| matches!(e, Edit::Remove(n) if n == sent)),
                            "{name} added while the request still carries {sent}"
                        );
                    }
                }
                assert!(
                    !before.iter().any(|e| matches!(e, Edit::Set(n, _) | Edit::Add(n, _) if n == name)),
                    "{name} added twice"
                );
            }
        }
        // Every client-sent identity header is removed (and possibly set again by the gate).
        for (name, _) in &headers {
            if IDENTITY.contains(&name.as_str()) {
                assert!(
                    v.edits
                        .iter()
                        .any(|e| matches!(e, Edit::Remove(n) if n == name)),
                    "spoofed {name} not removed"
                );
            }
        }
    }
});
