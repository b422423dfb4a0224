//! The token JSON scanner (`json::parse_selected`, `json::parse_header`: validates in place and
//! builds only the selected members) against serde_json building every member (`json::parse_object`,
//! strict about duplicate keys at any depth): on every input the two accept the same documents,
//! and every selected member, at any depth, has the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomgate_filter::json::{parse_header, parse_object, parse_selected, Selector};
use serde_json::Value;
use std::sync::OnceLock;

const PATHS: [&str; 8] = ["a", "room", "b.c", "b.c.d", "exp", "context.user.name", "s", "n"];

fn selector() -> &'static Selector {
    static S: OnceLock<Selector> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = Selector::default();
        for p in PATHS {
            let parts: Vec<String> = p.split('.').map(str::to_owned).collect();
            s.add(&parts);
        }
        s
    })
}

fn at<'v>(root: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(root, |v, part| v.get(part))
}

fuzz_target!(|data: &[u8]| {
    let s = selector();
    let ours = parse_selected(data, s);
    let theirs = parse_object(data);
    assert_eq!(ours.is_some(), theirs.is_some(), "acceptance differs");
    let header = parse_header(data);
    assert_eq!(header.is_some(), theirs.is_some(), "header acceptance differs");
    let (Some(ours), Some(theirs), Some(header)) = (ours, theirs, header) else {
        return;
    };
    let root = Value::Object(theirs);
    for p in PATHS {
        let parts: Vec<&str> = p.split('.').collect();
        assert_eq!(ours.get(s, &parts), at(&root, &parts), "{p}");
    }
    assert_eq!(header.alg.as_ref(), root.get("alg"));
    assert_eq!(header.typ.as_ref(), root.get("typ"));
    assert_eq!(header.kid.as_ref(), root.get("kid"));
    assert_eq!(header.crit, root.get("crit").is_some());
});
