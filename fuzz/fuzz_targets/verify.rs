//! Token verification. The first byte picks the mode:
//! - even: the rest is the token text, verified as received (no valid signature: nothing passes);
//! - odd: the rest is `header \0 payload`, signed with the right key first, so the fuzzer reaches
//!   every check that runs after the signature (claims, times, issuer, audience, duplicates).
//!
//! Checked: no panic; a token that verifies is a well-formed compact HS256 JWT whose `exp` lies
//! ahead, and whose header names HS256 and no `crit`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomgate_filter::jwt::{ClaimPath, Key, Policy, VerifiedCache};
use roomgate_fuzz::{sign_raw, NOW, SECRET};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        }
    } else {
        let mut parts = rest.splitn(2, |&b| b == 0);
        let header = parts.next().unwrap_or_default();
        let payload = parts.next().unwrap_or_default();
        sign_raw(header, payload)
    };
    let policy = Policy {
        keys: vec![Key::new(None, SECRET.as_bytes())],
        issuers: if mode & 2 == 0 {
            None
        } else {
            Some(vec!["roomgate".into()])
        },
        audiences: if mode & 4 == 0 {
            None
        } else {
            Some(vec!["jitsi".into()])
        },
        leeway: 30,
        max_lifetime: if mode & 8 == 0 { Some(86_400) } else { None },
        lifetime_from_now: mode & 16 == 0,
        selector: None,
        typ_required: mode & 32 != 0,
        audience_arrays: mode & 64 == 0,
        require_any: Vec::new(),
        claim_types: Vec::new(),
        require: Vec::new(),
        cache: VerifiedCache::new(4),
    };
    let first = policy.verify(&token, NOW).map(|v| v.claim(&ClaimPath::single("room")).cloned());
    // Seen again (from the cache of verified tokens when it passed): the same verdict, and later
    // on the clock the verdict a fresh policy gives.
    let again = policy.verify(&token, NOW).map(|v| v.claim(&ClaimPath::single("room")).cloned());
    assert_eq!(first, again, "a token seen again changed its verdict");
    let later = NOW + 100_000;
    let fresh = Policy { cache: VerifiedCache::new(0), ..policy.clone() };
    assert_eq!(
        policy.verify(&token, later).err(),
        fresh.verify(&token, later).err(),
        "a remembered token escaped the clock"
    );
    if first.is_ok() {
        assert_eq!(token.split('.').count(), 3);
        let header = token.split('.').next().unwrap_or_default();
        let header = base64_json(header);
        assert_eq!(header.get("alg").and_then(|v| v.as_str()), Some("HS256"));
        assert!(header.get("crit").is_none());
        let payload = base64_json(token.split('.').nth(1).unwrap_or_default());
        let exp = payload.get("exp").and_then(serde_json::Value::as_i64);
        assert!(
            exp.is_some_and(|e| e + 30 > NOW),
            "verified without a live exp"
        );
    }
});

fn base64_json(segment: &str) -> serde_json::Map<String, serde_json::Value> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or_default()
}
