//! HS256 JWTs: verification for the filter, signing for `issuer`.
//!
//! Verification runs its checks in a fixed order (shape, header, algorithm, signature, then claims)
//! and only a token that passed all of them becomes a [`Verified`]. The accepted algorithm comes from
//! the configuration, never from the token: any `alg` other than `HS256` is refused before a key is
//! touched. HMAC keys are prepared once at configuration load (the inner and outer pads are hashed
//! then), so a request costs one HMAC over the token, not a key setup.
//!
//! Signing uses jwt-compact's `Hs256`, an independent implementation, so every token `issuer` mints
//! also cross-checks this verifier.

use crate::error::Denial;
use crate::json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;

/// The only algorithm this gate accepts.
pub const ALGORITHM: &str = "HS256";
/// Longest `kid` accepted in a token header.
const MAX_KID_BYTES: usize = 256;

/// One verification key, ready to use.
#[derive(Clone)]
pub struct Key {
    /// The key ID tokens name in their `kid` header; `None` means the key is tried for any token.
    pub kid: Option<String>,
    mac: Hmac<Sha256>,
}

impl Key {
    /// Prepares a key from its raw secret bytes.
    pub fn new(kid: Option<String>, secret: &[u8]) -> Self {
        // HMAC accepts keys of any length; the error branch cannot happen but must not panic.
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
        Self { kid, mac }
    }

    fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(signing_input);
        mac.verify_slice(signature).is_ok()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A dotted claim path such as `context.user.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// Parses `a.b.c`; empty parts are refused.
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<String> = text.split('.').map(str::to_owned).collect();
        (!parts.iter().any(String::is_empty)).then_some(Self(parts))
    }

    /// A one-part path.
    pub fn single(name: &str) -> Self {
        Self(vec![name.to_owned()])
    }

    /// The member names, outermost first.
    pub fn parts(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// Everything the verifier checks, compiled from the `jwt` configuration section.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Keys in the order they are tried.
    pub keys: Vec<Key>,
    /// Accepted `iss` values (`*`: any, but present); `None` does not check the issuer.
    pub issuers: Option<Vec<String>>,
    /// Accepted `aud` values (`*`: any, but present); `None` does not check the audience.
    pub audiences: Option<Vec<String>>,
    /// The header's `typ` must be present and exactly `JWT`.
    pub typ_required: bool,
    /// An `aud` array may name the accepted audience.
    pub audience_arrays: bool,
    /// Allowed clock skew in seconds for `exp`, `nbf` and `iat`.
    pub leeway: i64,
    /// Longest accepted lifetime (`exp` minus `iat`, else `nbf`) in seconds.
    pub max_lifetime: Option<i64>,
    /// With a maximum lifetime, a token with neither `iat` nor `nbf` is measured from now (its
    /// remaining lifetime) instead of refused.
    pub lifetime_from_now: bool,
    /// Claim values every token must carry.
    pub require: Vec<(ClaimPath, Value)>,
    /// Alternatives: every token must carry all the values of at least one (none: no check).
    pub require_any: Vec<Vec<(ClaimPath, Value)>>,
    /// The JSON type named claims must have.
    pub claim_types: Vec<(ClaimPath, ClaimType)>,
    /// The claims the gate reads (set when the configuration is compiled); only these are kept
    /// from a payload, the rest is checked and skipped. `None` keeps every claim.
    pub selector: Option<Arc<json::Selector>>,
    /// Tokens that passed every check, so a token seen again is only checked against the clock.
    pub cache: VerifiedCache,
}

/// The tokens a [`Policy`] verified lately, by their exact text: a token seen again skips the
/// base64, JSON and HMAC work and is only checked against the clock (the rest of its checks do not
/// depend on it). Only tokens that passed every check are kept, so no one can fill it without a
/// valid signature; it holds at most `capacity` tokens (expired ones are dropped first, then an
/// arbitrary one) and is empty again when the configuration is reloaded. Envoy's `jwt_authn`
/// keeps such a cache too (`jwt_cache_config`, 100 tokens by default).
#[derive(Default)]
pub struct VerifiedCache {
    capacity: usize,
    entries: std::sync::Mutex<Entries>,
}

/// Tokens by their hash: a lookup hashes the token once and compares it with the one token kept
/// under that hash (two tokens with one hash share a slot: the later one stays).
type Entries = std::collections::HashMap<
    u64,
    (Box<str>, Verified),
    std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>,
>;

fn token_hash(token: &str) -> u64 {
    use std::hash::Hasher as _;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(token.as_bytes());
    h.finish()
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens (0: none is kept).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: std::sync::Mutex::default(),
        }
    }

    fn get(&self, token: &str) -> Option<Verified> {
        if self.capacity == 0 {
            return None;
        }
        let hash = token_hash(token);
        // A poisoned lock (a panic elsewhere while it was held) only means no cache.
        let entries = self.entries.lock().ok()?;
        let (kept, verified) = entries.get(&hash)?;
        crate::bytes::equal(kept.as_bytes(), token.as_bytes()).then(|| verified.clone())
    }

    fn put(&self, token: &str, verified: &Verified, now: i64) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let hash = token_hash(token);
        if entries.len() >= self.capacity && !entries.contains_key(&hash) {
            entries.retain(|_, (_, v)| v.0.times.exp > now);
            if entries.len() >= self.capacity {
                if let Some(any) = entries.keys().next().copied() {
                    entries.remove(&any);
                }
            }
        }
        entries.insert(hash, (token.into(), verified.clone()));
    }

    /// How many tokens it holds.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Clone for VerifiedCache {
    /// A clone starts empty (a cache is per configuration, never shared by copying).
    fn clone(&self) -> Self {
        Self::new(self.capacity)
    }
}

impl fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("capacity", &self.capacity)
            .field("tokens", &self.len())
            .finish()
    }
}

/// The JSON type a claim must have (`jwt.claim_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimType {
    kind: Kind,
    optional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Boolean,
    Integer,
    Number,
    Object,
    Array,
    Absent,
}

impl ClaimType {
    /// `string`, `boolean`, `integer`, `number`, `object`, `array` (with `?`: may be missing), or
    /// `absent`.
    pub fn parse(text: &str) -> Option<Self> {
        let (name, optional) = match text.strip_suffix('?') {
            Some(name) => (name, true),
            None => (text, false),
        };
        let kind = match name {
            "string" => Kind::String,
            "boolean" => Kind::Boolean,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "object" => Kind::Object,
            "array" => Kind::Array,
            "absent" if !optional => Kind::Absent,
            _ => return None,
        };
        Some(Self { kind, optional })
    }

    /// Whether `value` (the claim, if present) has this type.
    pub fn admits(self, value: Option<&Value>) -> bool {
        match (value, self.kind) {
            (None, Kind::Absent) => true,
            (None, _) => self.optional,
            (Some(_), Kind::Absent) => false,
            (Some(v), Kind::String) => v.is_string(),
            (Some(v), Kind::Boolean) => v.is_boolean(),
            (Some(v), Kind::Integer) => v.is_i64() || v.is_u64(),
            (Some(v), Kind::Number) => v.is_number(),
            (Some(v), Kind::Object) => v.is_object(),
            (Some(v), Kind::Array) => v.is_array(),
        }
    }
}

/// A JWT whose structure, signature and time, issuer, audience and required claims were checked.
/// A cheap handle: the claims are shared with the cache of verified tokens.
#[derive(Debug, Clone)]
pub struct Verified(Arc<Checked>);

/// What verification kept of a token: its claims and the times it is valid between.
#[derive(Debug)]
struct Checked {
    claims: Claims,
    times: Times,
}

/// A token's NumericDates.
#[derive(Debug, Clone, Copy)]
struct Times {
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
}

/// A payload's claims: all of them, or those the gate's [`json::Selector`] names.
#[derive(Debug)]
enum Claims {
    All(Map<String, Value>),
    Selected(Arc<json::Selector>, json::Selected),
}

impl Claims {
    fn get<S: AsRef<str>>(&self, path: &[S]) -> Option<&Value> {
        match self {
            Claims::All(map) => {
                let (first, rest) = path.split_first()?;
                let mut value = map.get(first.as_ref())?;
                for part in rest {
                    value = value.as_object()?.get(part.as_ref())?;
                }
                Some(value)
            }
            Claims::Selected(selector, selected) => selected.get(selector, path),
        }
    }

    fn member(&self, name: &str) -> Option<&Value> {
        self.get(&[name])
    }
}

impl Verified {
    /// A claim by path.
    pub fn claim(&self, path: &ClaimPath) -> Option<&Value> {
        self.0.claims.get(path.parts())
    }

    /// Whether all the pairs of at least one alternative are present (true when there are none).
    pub fn has_any(&self, alternatives: &[Vec<(ClaimPath, Value)>]) -> bool {
        alternatives.is_empty() || alternatives.iter().any(|a| self.has_all(a))
    }

    /// Whether every `(path, value)` pair is present with exactly that value.
    pub fn has_all(&self, required: &[(ClaimPath, Value)]) -> bool {
        required
            .iter()
            .all(|(path, want)| self.claim(path) == Some(want))
    }
}

fn decode_segment(segment: &str) -> Result<Vec<u8>, Denial> {
    // URL_SAFE_NO_PAD refuses padding, `+`, `/`, whitespace and non-canonical trailing bits.
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Denial::MalformedToken)
}

/// Reads a NumericDate: a non-negative integer number of seconds.
fn numeric_date(claims: &Claims, name: &str) -> Result<Option<i64>, Denial> {
    match claims.member(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if v >= 0 => Ok(Some(v)),
            _ => Err(Denial::InvalidClaims),
        },
        Some(_) => Err(Denial::InvalidClaims),
    }
}

impl Policy {
    /// Verifies a compact JWT at time `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Verified, Denial> {
        self.verify_with_grace(token, now, 0)
    }

    /// [`Policy::verify`], but a token that expired at most `grace` seconds ago (beyond the
    /// leeway) still passes: for routes that keep a meeting going which started with a valid
    /// token (BOSH and websocket reconnects), where the server behind checks `exp` at join.
    pub fn verify_with_grace(&self, token: &str, now: i64, grace: i64) -> Result<Verified, Denial> {
        // A token seen before passed every check that does not depend on the clock: only those
        // that do are run again.
        if let Some(seen) = self.cache.get(token) {
            self.check_times(seen.0.times, now, grace)?;
            return Ok(seen);
        }
        let verified = self.verify_uncached(token, now, grace)?;
        self.cache.put(token, &verified, now);
        Ok(verified)
    }

    /// The checks that depend on the clock, in their order: expiry (with leeway and the route's
    /// grace), not before, issued in the future, and the longest lifetime.
    fn check_times(&self, t: Times, now: i64, grace: i64) -> Result<(), Denial> {
        if now >= t.exp.saturating_add(self.leeway).saturating_add(grace) {
            return Err(Denial::Expired);
        }
        let future = now.saturating_add(self.leeway);
        if t.nbf.is_some_and(|n| n > future) || t.iat.is_some_and(|i| i > future) {
            return Err(Denial::NotYetValid);
        }
        if let Some(max) = self.max_lifetime {
            let start = match t.iat.or(t.nbf) {
                Some(start) => start,
                None if self.lifetime_from_now => now,
                None => return Err(Denial::LifetimeUnknown),
            };
            if t.exp.saturating_sub(start) > max {
                return Err(Denial::LifetimeTooLong);
            }
        }
        Ok(())
    }

    fn verify_uncached(&self, token: &str, now: i64, grace: i64) -> Result<Verified, Denial> {
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Denial::MalformedToken);
        };
        if h64.is_empty() || p64.is_empty() || s64.is_empty() {
            return Err(Denial::MalformedToken);
        }

        let header = json::parse_header(&decode_segment(h64)?).ok_or(Denial::MalformedToken)?;
        match &header.alg {
            Some(Value::String(alg)) if alg == ALGORITHM => {}
            _ => return Err(Denial::AlgorithmNotAllowed),
        }
        if header.crit {
            return Err(Denial::UnsupportedHeader);
        }
        match &header.typ {
            None if !self.typ_required => {}
            Some(Value::String(t)) if t == "JWT" => {}
            Some(Value::String(t)) if !self.typ_required && t.eq_ignore_ascii_case("JWT") => {}
            _ => return Err(Denial::UnsupportedHeader),
        }
        let kid = match &header.kid {
            None => None,
            Some(Value::String(k)) if !k.is_empty() && k.len() <= MAX_KID_BYTES => Some(k.as_str()),
            Some(_) => return Err(Denial::MalformedToken),
        };

        let signature = decode_segment(s64)?;
        if signature.len() != 32 {
            return Err(Denial::BadSignature);
        }
        let signing_input = token
            .get(..h64.len() + 1 + p64.len())
            .ok_or(Denial::MalformedToken)?
            .as_bytes();
        let mut candidates = self
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.is_none() || k.kid.as_deref() == kid)
            .peekable();
        if candidates.peek().is_none() {
            return Err(Denial::UnknownKey);
        }
        if !candidates.any(|k| k.verifies(signing_input, &signature)) {
            return Err(Denial::BadSignature);
        }

        let payload = decode_segment(p64)?;
        let claims = match &self.selector {
            Some(selector) => json::parse_selected(&payload, selector)
                .map(|selected| Claims::Selected(Arc::clone(selector), selected)),
            None => json::parse_object(&payload).map(Claims::All),
        }
        .ok_or(Denial::InvalidClaims)?;
        let times = Times {
            exp: numeric_date(&claims, "exp")?.ok_or(Denial::InvalidClaims)?,
            nbf: numeric_date(&claims, "nbf")?,
            iat: numeric_date(&claims, "iat")?,
        };
        self.check_times(times, now, grace)?;

        let issuer = match claims.member("iss") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(Denial::InvalidClaims),
        };
        if let Some(accepted) = &self.issuers {
            if !issuer.is_some_and(|iss| accepted.iter().any(|a| a == "*" || a == iss)) {
                return Err(Denial::IssuerNotAccepted);
            }
        }
        let any_audience = self
            .audiences
            .as_ref()
            .is_some_and(|a| a.iter().any(|a| a == "*"));
        let audiences: Vec<&str> = match claims.member("aud") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(_)) if !self.audience_arrays && !any_audience => {
                return Err(Denial::AudienceNotAccepted)
            }
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_str().ok_or(Denial::InvalidClaims))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(Denial::InvalidClaims),
        };
        if let Some(accepted) = &self.audiences {
            if !audiences
                .iter()
                .any(|aud| accepted.iter().any(|a| a == "*" || a == aud))
            {
                return Err(Denial::AudienceNotAccepted);
            }
        }

        let verified = Verified(Arc::new(Checked { claims, times }));
        if !self
            .claim_types
            .iter()
            .all(|(path, kind)| kind.admits(verified.claim(path)))
        {
            return Err(Denial::InvalidClaims);
        }
        if !verified.has_all(&self.require) || !verified.has_any(&self.require_any) {
            return Err(Denial::RequiredClaim);
        }
        Ok(verified)
    }
}

/// Why a token could not be signed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignError {
    /// The claims could not be serialized.
    Claims(String),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Claims(why) => write!(f, "cannot encode the claims: {why}"),
        }
    }
}

impl std::error::Error for SignError {}

/// Signs `claims` as an HS256 compact JWT with `typ: JWT` and an optional `kid`.
pub fn sign(
    claims: &Map<String, Value>,
    secret: &[u8],
    kid: Option<&str>,
) -> Result<String, SignError> {
    use jwt_compact::{alg::Hs256, alg::Hs256Key, AlgorithmExt, Claims, Header};
    let mut header = Header::empty().with_token_type("JWT");
    if let Some(kid) = kid {
        header = header.with_key_id(kid);
    }
    Hs256
        .token(&header, &Claims::new(claims), &Hs256Key::new(secret))
        .map_err(|e| SignError::Claims(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn policy() -> Policy {
        Policy {
            keys: vec![Key::new(None, SECRET)],
            issuers: None,
            audiences: None,
            leeway: 30,
            max_lifetime: Some(86_400),
            lifetime_from_now: true,
            typ_required: false,
            audience_arrays: true,
            require: Vec::new(),
            require_any: Vec::new(),
            claim_types: Vec::new(),
            selector: None,
            cache: VerifiedCache::default(),
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn token(v: Value) -> String {
        sign(&claims(v), SECRET, None).unwrap_or_default()
    }

    fn raw(header: &str, payload: &str, secret: &[u8]) -> String {
        let h = URL_SAFE_NO_PAD.encode(header);
        let p = URL_SAFE_NO_PAD.encode(payload);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        mac.update(format!("{h}.{p}").as_bytes());
        let s = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{h}.{p}.{s}")
    }

    #[test]
    fn accepts_a_token_signed_by_jwt_compact() {
        let t = token(json!({"room": "a", "exp": NOW + 60}));
        let v = policy()
            .verify(&t, NOW)
            .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(v.claim(&ClaimPath(vec!["room".into()])), Some(&json!("a")));
    }

    #[test]
    fn accepts_the_rfc_7515_a1_hs256_example() {
        let jwk_k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
        let key = URL_SAFE_NO_PAD.decode(jwk_k).unwrap_or_default();
        let t = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.\
                 eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.\
                 dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let p = Policy {
            keys: vec![Key::new(None, &key)],
            max_lifetime: None,
            lifetime_from_now: false,
            ..policy()
        };
        assert!(p.verify(t, 1_300_819_000).is_ok());
        assert_eq!(p.verify(t, 1_300_819_380 + 30).err(), Some(Denial::Expired));
    }

    #[test]
    fn rejects_alg_none_and_every_other_algorithm() {
        for alg in [
            "none", "None", "NONE", "", "HS384", "HS512", "RS256", "ES256", "hs256",
        ] {
            let t = raw(
                &format!(r#"{{"alg":"{alg}"}}"#),
                &format!(r#"{{"exp":{}}}"#, NOW + 60),
                SECRET,
            );
            assert_eq!(
                policy().verify(&t, NOW).err(),
                Some(Denial::AlgorithmNotAllowed),
                "{alg}"
            );
        }
        let t = raw(
            r#"{"typ":"JWT"}"#,
            &format!(r#"{{"exp":{}}}"#, NOW + 60),
            SECRET,
        );
        assert_eq!(
            policy().verify(&t, NOW).err(),
            Some(Denial::AlgorithmNotAllowed)
        );
    }

    #[test]
    fn rejects_crit_and_foreign_typ() {
        let p = format!(r#"{{"exp":{}}}"#, NOW + 60);
        let t = raw(r#"{"alg":"HS256","crit":["b64"]}"#, &p, SECRET);
        assert_eq!(
            policy().verify(&t, NOW).err(),
            Some(Denial::UnsupportedHeader)
        );
        let t = raw(r#"{"alg":"HS256","typ":"at+jwt"}"#, &p, SECRET);
        assert_eq!(
            policy().verify(&t, NOW).err(),
            Some(Denial::UnsupportedHeader)
        );
    }

    #[test]
    fn rejects_another_keys_signature() {
        let t = sign(
            &claims(json!({"exp": NOW + 60})),
            b"another-secret-another-secret-xx",
            None,
        )
        .unwrap_or_default();
        assert_eq!(policy().verify(&t, NOW).err(), Some(Denial::BadSignature));
    }

    #[test]
    fn rejects_wrong_segment_counts_and_empty_signatures() {
        let t = token(json!({"exp": NOW + 60}));
        let (hp, _) = t.rsplit_once('.').unwrap_or_default();
        for bad in [
            hp.to_owned(),
            format!("{hp}."),
            format!("{t}."),
            format!("{t}.x"),
            String::new(),
        ] {
            assert!(policy().verify(&bad, NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_non_canonical_base64() {
        let t = token(json!({"exp": NOW + 60}));
        assert!(policy().verify(&format!("{t}="), NOW).is_err());
        assert!(policy().verify(&t.replacen('-', "+", 1), NOW).is_err() || !t.contains('-'));
    }

    #[test]
    fn selects_keys_by_kid_and_tries_all_without_one() {
        let old = b"old-secret-old-secret-old-secret";
        let p = Policy {
            keys: vec![
                Key::new(Some("new".into()), SECRET),
                Key::new(Some("old".into()), old),
            ],
            ..policy()
        };
        let c = claims(json!({"exp": NOW + 60}));
        assert!(p
            .verify(&sign(&c, old, Some("old")).unwrap_or_default(), NOW)
            .is_ok());
        assert!(p
            .verify(&sign(&c, old, None).unwrap_or_default(), NOW)
            .is_ok());
        assert_eq!(
            p.verify(&sign(&c, old, Some("new")).unwrap_or_default(), NOW)
                .err(),
            Some(Denial::BadSignature)
        );
        assert_eq!(
            p.verify(&sign(&c, old, Some("gone")).unwrap_or_default(), NOW)
                .err(),
            Some(Denial::UnknownKey)
        );
    }

    #[test]
    fn exp_is_required_and_must_be_a_non_negative_integer() {
        for exp in [
            json!(null),
            json!("1900000000"),
            json!(1.9e9),
            json!(-1),
            json!(1e30),
        ] {
            let t = token(json!({"exp": exp}));
            assert_eq!(
                policy().verify(&t, NOW).err(),
                Some(Denial::InvalidClaims),
                "{exp}"
            );
        }
        assert_eq!(
            policy().verify(&token(json!({"room": "a"})), NOW).err(),
            Some(Denial::InvalidClaims)
        );
    }

    #[test]
    fn expiry_honours_the_leeway_at_the_exact_second() {
        let t = token(json!({"exp": NOW}));
        assert!(policy().verify(&t, NOW + 29).is_ok());
        assert_eq!(policy().verify(&t, NOW + 30).err(), Some(Denial::Expired));
    }

    #[test]
    fn nbf_and_iat_in_the_future_are_not_yet_valid() {
        let t = token(json!({"exp": NOW + 600, "nbf": NOW + 31}));
        assert_eq!(policy().verify(&t, NOW).err(), Some(Denial::NotYetValid));
        assert!(policy().verify(&t, NOW + 1).is_ok());
        let t = token(json!({"exp": NOW + 600, "iat": NOW + 31}));
        assert_eq!(policy().verify(&t, NOW).err(), Some(Denial::NotYetValid));
    }

    #[test]
    fn lifetime_over_the_maximum_is_refused() {
        let t = token(json!({"exp": NOW + 86_401, "iat": NOW}));
        assert_eq!(
            policy().verify(&t, NOW).err(),
            Some(Denial::LifetimeTooLong)
        );
        let t = token(json!({"exp": NOW + 86_400, "iat": NOW}));
        assert!(policy().verify(&t, NOW).is_ok());
    }

    #[test]
    fn without_iat_or_nbf_a_maximum_lifetime_refuses_unless_measured_from_now() {
        // A one-year token without iat or nbf: with `remaining`, only its last day is accepted.
        let t = token(json!({"exp": NOW + 365 * 86_400}));
        assert_eq!(
            policy().verify(&t, NOW).err(),
            Some(Denial::LifetimeTooLong)
        );
        assert!(policy().verify(&t, NOW + 364 * 86_400).is_ok());
        let strict = Policy {
            lifetime_from_now: false,
            ..policy()
        };
        assert_eq!(
            strict.verify(&t, NOW + 364 * 86_400).err(),
            Some(Denial::LifetimeUnknown)
        );
        let t = token(json!({"exp": NOW + 600, "nbf": NOW}));
        assert!(strict.verify(&t, NOW).is_ok());
        let unlimited = Policy {
            max_lifetime: None,
            ..strict
        };
        assert!(unlimited
            .verify(&token(json!({"exp": NOW + 600})), NOW)
            .is_ok());
    }

    #[test]
    fn issuer_and_audience_must_be_accepted() {
        let p = Policy {
            issuers: Some(vec!["meet".into()]),
            audiences: Some(vec!["jitsi".into()]),
            ..policy()
        };
        let ok = token(json!({"exp": NOW + 60, "iss": "meet", "aud": ["x", "jitsi"]}));
        assert!(p.verify(&ok, NOW).is_ok());
        let ok = token(json!({"exp": NOW + 60, "iss": "meet", "aud": "jitsi"}));
        assert!(p.verify(&ok, NOW).is_ok());
        let bad_iss = token(json!({"exp": NOW + 60, "iss": "other", "aud": "jitsi"}));
        assert_eq!(
            p.verify(&bad_iss, NOW).err(),
            Some(Denial::IssuerNotAccepted)
        );
        let bad_aud = token(json!({"exp": NOW + 60, "iss": "meet", "aud": "other"}));
        assert_eq!(
            p.verify(&bad_aud, NOW).err(),
            Some(Denial::AudienceNotAccepted)
        );
        for aud in [json!([]), json!(5), json!([1]), json!({"a": 1})] {
            let t = token(json!({"exp": NOW + 60, "iss": "meet", "aud": aud}));
            assert_eq!(
                p.verify(&t, NOW).err(),
                Some(Denial::InvalidClaims),
                "{aud}"
            );
        }
    }

    #[test]
    fn required_claim_values_must_match_exactly() {
        let p = Policy {
            require: vec![(ClaimPath(vec!["room_join".into()]), json!(true))],
            ..policy()
        };
        assert!(p
            .verify(&token(json!({"exp": NOW + 60, "room_join": true})), NOW)
            .is_ok());
        for v in [json!(false), json!("true"), json!(1)] {
            let t = token(json!({"exp": NOW + 60, "room_join": v}));
            assert_eq!(p.verify(&t, NOW).err(), Some(Denial::RequiredClaim));
        }
        assert_eq!(
            p.verify(&token(json!({"exp": NOW + 60})), NOW).err(),
            Some(Denial::RequiredClaim)
        );
    }

    #[test]
    fn duplicate_claims_are_refused() {
        let t = raw(
            r#"{"alg":"HS256"}"#,
            &format!(r#"{{"exp":{},"room":"a","room":"b"}}"#, NOW + 60),
            SECRET,
        );
        assert_eq!(policy().verify(&t, NOW).err(), Some(Denial::InvalidClaims));
    }

    #[test]
    fn key_debug_output_hides_the_secret() {
        let text = format!("{:?}", Key::new(Some("k1".into()), SECRET));
        assert!(!text.contains("0123456789") && text.contains("redacted"));
    }

    fn remembering(capacity: usize) -> Policy {
        Policy {
            cache: VerifiedCache::new(capacity),
            ..policy()
        }
    }

    #[test]
    fn a_token_seen_again_is_still_checked_against_the_clock() {
        let p = remembering(8);
        let t = token(json!({"exp": NOW + 60, "nbf": NOW - 10, "room": "a"}));
        assert!(p.verify(&t, NOW).is_ok());
        assert_eq!(p.cache.len(), 1);
        // Remembered, and still expired once its time is up (leeway 30), and still not valid
        // before its nbf.
        assert!(p.verify(&t, NOW + 89).is_ok());
        assert_eq!(p.verify(&t, NOW + 90).err(), Some(Denial::Expired));
        assert_eq!(p.verify(&t, NOW - 100).err(), Some(Denial::NotYetValid));
        assert_eq!(p.verify_with_grace(&t, NOW + 90, 60).err(), None);
        let hit = p.verify(&t, NOW).unwrap_or_else(|_| unreachable!());
        assert_eq!(hit.claim(&ClaimPath::single("room")), Some(&json!("a")));
    }

    #[test]
    fn only_tokens_that_pass_every_check_are_remembered() {
        let p = Policy {
            issuers: Some(vec!["roomgate".into()]),
            ..remembering(8)
        };
        let wrong_issuer = token(json!({"exp": NOW + 60, "iss": "other"}));
        let expired = token(json!({"exp": NOW - 600, "iss": "roomgate"}));
        let forged = {
            let good = token(json!({"exp": NOW + 60, "iss": "roomgate"}));
            let (head, _) = good.rsplit_once('.').unwrap_or_default();
            format!("{head}.{}", "A".repeat(43))
        };
        for t in [&wrong_issuer, &expired, &forged] {
            let first = p.verify(t, NOW).err();
            assert!(first.is_some());
            assert_eq!(p.verify(t, NOW).err(), first);
        }
        assert!(p.cache.is_empty());
    }

    #[test]
    fn a_token_is_remembered_only_under_its_own_bytes() {
        // Two tokens under one hash (forced here): the one asked for is not the one kept, so it
        // is not taken for verified.
        let p = remembering(4);
        let kept = token(json!({"exp": NOW + 600, "n": "kept"}));
        let other = token(json!({"exp": NOW + 600, "n": "other"}));
        let Ok(verified) = p.verify(&kept, NOW) else {
            unreachable!("a good token")
        };
        if let Ok(mut e) = p.cache.entries.lock() {
            e.clear();
            e.insert(token_hash(&other), (kept.as_str().into(), verified));
        }
        assert!(p.cache.get(&other).is_none());
        assert!(p.cache.get(&kept).is_none());
        // Same length, one byte apart.
        let mut near = kept.clone().into_bytes();
        if let Some(b) = near.get_mut(kept.len() / 2) {
            *b = if *b == b'A' { b'B' } else { b'A' };
        }
        let near = String::from_utf8(near).unwrap_or_default();
        assert!(p.verify(&kept, NOW).is_ok());
        assert!(p.cache.get(&kept).is_some());
        assert!(p.cache.get(&near).is_none());
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_and_none_with_zero() {
        let p = remembering(3);
        for i in 0..10 {
            let t = token(json!({"exp": NOW + 60, "n": i}));
            assert!(p.verify(&t, NOW).is_ok());
            assert!(p.cache.len() <= 3);
        }
        // Full: an expired token makes room first, the live ones stay remembered.
        let p = remembering(2);
        let short = token(json!({"exp": NOW + 5, "n": "short"}));
        let long = token(json!({"exp": NOW + 600, "n": "long"}));
        assert!(p.verify(&short, NOW).is_ok() && p.verify(&long, NOW).is_ok());
        let third = token(json!({"exp": NOW + 600, "n": "third"}));
        assert!(p.verify(&third, NOW + 10).is_ok());
        let held = (
            p.cache.get(&short).is_some(),
            p.cache.get(&long).is_some(),
            p.cache.len(),
        );
        assert_eq!(held, (false, true, 2));
        let off = remembering(0);
        assert!(off.verify(&token(json!({"exp": NOW + 60})), NOW).is_ok());
        assert!(off.cache.is_empty());
        // A clone (a reloaded configuration) starts empty.
        assert!(p.clone().cache.is_empty());
    }
}
