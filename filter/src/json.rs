//! Strict JSON for untrusted token segments.
//!
//! `serde_json::Value` silently keeps the last of two duplicate keys, while other JWT libraries keep
//! the first: a token with `room` twice would mean different rooms to different parsers. Token
//! headers and payloads are therefore parsed here, where a duplicate key anywhere is an error.
//! serde_json's own recursion limit (128 levels) bounds nesting.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// Parses `bytes` as one JSON object, rejecting duplicate keys at any depth.
pub fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(Value::Object(map))) => Some(map),
        _ => None,
    }
}

/// The members of a JOSE header that the verifier reads. The header is parsed as strictly as
/// [`parse_object`] (one JSON object, no duplicate key at any depth), but only these members are
/// kept: no map is built for a header that is read once and thrown away.
#[derive(Debug, Default)]
pub struct JoseHeader {
    /// `alg`, whatever its type.
    pub alg: Option<Value>,
    /// `typ`, whatever its type.
    pub typ: Option<Value>,
    /// `kid`, whatever its type.
    pub kid: Option<Value>,
    /// Whether `crit` is present (with any value).
    pub crit: bool,
}

/// Parses `bytes` as a JOSE header: one JSON object, rejecting duplicate keys at any depth.
pub fn parse_header(bytes: &[u8]) -> Option<JoseHeader> {
    serde_json::from_slice::<StrictHeader>(bytes)
        .ok()
        .map(|h| h.0)
}

struct StrictHeader(JoseHeader);

impl<'de> Deserialize<'de> for StrictHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(HeaderVisitor)
            .map(StrictHeader)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = JoseHeader;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<JoseHeader, A::Error> {
        let mut header = JoseHeader::default();
        // A set, not a list: the header is read before the signature is checked, so the work per
        // key must not grow with the number of keys (an 8 KiB header holds ~900 keys).
        let mut seen: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(Key(key)) = access.next_key::<Key<'de>>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom("duplicate key"));
            }
            let Strict(value) = access.next_value()?;
            match key.as_ref() {
                "alg" => header.alg = Some(value),
                "typ" => header.typ = Some(value),
                "kid" => header.kid = Some(value),
                "crit" => header.crit = true,
                _ => {}
            }
            seen.insert(key);
        }
        Ok(header)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor).map(Key)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom("duplicate key"));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_header, parse_object};
    use serde_json::Value;

    #[test]
    fn a_header_keeps_the_members_the_verifier_reads() {
        let h = parse_header(br#"{"alg":"HS256","typ":"JWT","kid":"k1","x5u":{"a":[1]}}"#);
        let h = h.unwrap_or_else(|| unreachable!());
        assert_eq!(h.alg, Some(Value::from("HS256")));
        assert_eq!(h.typ, Some(Value::from("JWT")));
        assert_eq!(h.kid, Some(Value::from("k1")));
        assert!(!h.crit);
        let h = parse_header(br#"{"alg":5,"crit":null}"#).unwrap_or_else(|| unreachable!());
        assert_eq!(h.alg, Some(Value::from(5)));
        assert!(h.crit);
        // An escaped key is the same key: `"al\u0067"` is `alg`.
        let h = parse_header(br#"{"al\u0067":"none"}"#).unwrap_or_else(|| unreachable!());
        assert_eq!(h.alg, Some(Value::from("none")));
    }

    #[test]
    fn a_header_is_as_strict_as_any_object() {
        for text in [
            &br#"{"alg":"HS256","alg":"none"}"#[..],
            br#"{"alg":"HS256","al\u0067":"none"}"#,
            br#"{"alg":"HS256","jwk":{"k":"a","k":"b"}}"#,
            br#"{"alg":"HS256","x":[{"a":1,"a":2}]}"#,
            b"[]",
            b"\"x\"",
            b"",
            b"{",
            br#"{"alg":"HS256"} x"#,
        ] {
            assert!(
                parse_header(text).is_none(),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(parse_header(deep.as_bytes()).is_none());
    }

    #[test]
    fn accepts_a_plain_object() {
        let map = parse_object(br#"{"room":"a","n":[1,{"x":null}]}"#);
        assert_eq!(map.and_then(|m| m.get("room").cloned()), Some("a".into()));
    }

    #[test]
    fn rejects_duplicate_top_level_keys() {
        assert!(parse_object(br#"{"room":"a","room":"b"}"#).is_none());
    }

    #[test]
    fn rejects_duplicate_nested_keys() {
        assert!(parse_object(br#"{"context":{"user":{"name":"a","name":"b"}}}"#).is_none());
    }

    #[test]
    fn rejects_anything_but_an_object() {
        for text in [&b"[]"[..], b"\"x\"", b"1", b"null", b"", b"{", b"{} x"] {
            assert!(
                parse_object(text).is_none(),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn rejects_nesting_beyond_the_recursion_limit() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(parse_object(deep.as_bytes()).is_none());
    }
}
