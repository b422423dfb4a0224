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

/// Which members of a token payload the gate reads: a tree of member names, where a leaf keeps the
/// member's whole value and an inner node keeps only the listed members of an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    members: Vec<(String, Option<Selector>)>,
}

impl Selector {
    /// Adds a member path (`["context", "user", "name"]`); a path that is also a prefix of another
    /// keeps the whole value.
    pub fn add(&mut self, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        match self.members.iter_mut().find(|(name, _)| name == first) {
            None => {
                let sub = (!rest.is_empty()).then(|| {
                    let mut sub = Selector::default();
                    sub.add(rest);
                    sub
                });
                self.members.push((first.clone(), sub));
            }
            Some((_, whole @ Some(_))) if rest.is_empty() => *whole = None,
            Some((_, Some(sub))) => sub.add(rest),
            Some((_, None)) => {}
        }
    }

    fn member(&self, name: &str) -> Option<&Option<Selector>> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, sub)| sub)
    }
}

/// Parses `bytes` as one JSON object as strictly as [`parse_object`] (any JSON error or duplicate key
/// at any depth refuses it), but builds only the members `selector` names: the rest is checked and
/// skipped without being kept.
pub fn parse_selected(bytes: &[u8], selector: &Selector) -> Option<Map<String, Value>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = de::DeserializeSeed::deserialize(Select(selector), &mut de).ok()?;
    de.end().ok()?;
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The keys of one JSON object seen so far: a short list for the usual handful, a hash set past
/// that, so the check stays linear however many keys an object has.
#[derive(Default)]
struct Keys<'de> {
    few: Vec<Cow<'de, str>>,
    many: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Keys<'de> {
    /// Records `key`; false if it was already there.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if let Some(set) = &mut self.many {
            return set.insert(key);
        }
        if self.few.contains(&key) {
            return false;
        }
        if self.few.len() < 16 {
            self.few.push(key);
        } else {
            let mut set: HashSet<Cow<'de, str>> = self.few.drain(..).collect();
            set.insert(key);
            self.many = Some(set);
        }
        true
    }
}

struct Select<'s>(&'s Selector);

impl<'de> de::DeserializeSeed<'de> for Select<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(SelectVisitor(self.0))
    }
}

struct SelectVisitor<'s>(&'s Selector);

impl<'de> Visitor<'de> for SelectVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        StrictVisitor.visit_bool(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        StrictVisitor.visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        StrictVisitor.visit_u64(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        StrictVisitor.visit_f64(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        StrictVisitor.visit_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        StrictVisitor.visit_string(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        StrictVisitor.visit_unit()
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        StrictVisitor.visit_none()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        StrictVisitor.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        let mut seen = Keys::default();
        while let Some(Key(key)) = access.next_key::<Key<'de>>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom("duplicate key"));
            }
            match self.0.member(&key) {
                Some(None) => {
                    let Strict(value) = access.next_value()?;
                    map.insert(key.into_owned(), value);
                }
                Some(Some(sub)) => {
                    let value = access.next_value_seed(Select(sub))?;
                    map.insert(key.into_owned(), value);
                }
                None => {
                    access.next_value::<Skip>()?;
                }
            }
        }
        Ok(Value::Object(map))
    }
}

/// Any JSON value, checked (duplicate keys at any depth) and dropped.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor).map(|()| Skip)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        StrictVisitor.visit_f64::<E>(v).map(drop)
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut seen = Keys::default();
        while let Some(Key(key)) = access.next_key::<Key<'de>>()? {
            if !seen.insert(key) {
                return Err(de::Error::custom("duplicate key"));
            }
            access.next_value::<Skip>()?;
        }
        Ok(())
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
        // The header is read before the signature is checked, so the work per key must not grow
        // with the number of keys (an 8 KiB header holds ~900): `Keys` turns into a set.
        let mut seen = Keys::default();
        while let Some(Key(key)) = access.next_key::<Key<'de>>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom("duplicate key"));
            }
            let slot = match key.as_ref() {
                "alg" => &mut header.alg,
                "typ" => &mut header.typ,
                "kid" => &mut header.kid,
                other => {
                    header.crit |= other == "crit";
                    access.next_value::<Skip>()?;
                    continue;
                }
            };
            let Strict(value) = access.next_value()?;
            *slot = Some(value);
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
    use super::{parse_header, parse_object, parse_selected, Selector};
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

    fn selector(paths: &[&str]) -> Selector {
        let mut s = Selector::default();
        for p in paths {
            let parts: Vec<String> = p.split('.').map(str::to_owned).collect();
            s.add(&parts);
        }
        s
    }

    #[test]
    fn a_selected_parse_keeps_only_the_selected_members() {
        let s = selector(&["room", "context.user.name", "aud"]);
        let text = br#"{"room":"a","x":{"y":[1,{"z":2}]},"aud":["j"],
                        "context":{"user":{"name":"N","email":"e"},"features":{"f":true}}}"#;
        let map = parse_selected(text, &s).unwrap_or_else(|| unreachable!());
        let all = parse_object(text).unwrap_or_else(|| unreachable!());
        assert_eq!(map.get("room"), all.get("room"));
        assert_eq!(map.get("aud"), all.get("aud"));
        assert!(map.get("x").is_none());
        assert_eq!(
            Value::Object(map).to_string(),
            r#"{"aud":["j"],"context":{"user":{"name":"N"}},"room":"a"}"#
        );
        // A path that is also a prefix keeps the whole value.
        let s = selector(&["context.user.name", "context"]);
        let map = parse_selected(text, &s).unwrap_or_else(|| unreachable!());
        assert_eq!(map.get("context"), all.get("context"));
    }

    #[test]
    fn a_selected_parse_is_as_strict_as_a_full_one_in_skipped_members() {
        let s = selector(&["room"]);
        for text in [
            &br#"{"room":"a","room":"b"}"#[..],
            br#"{"room":"a","x":{"k":1,"k":2}}"#,
            br#"{"room":"a","x":[{"k":1,"k":2}]}"#,
            br#"{"room":"a","x":1e999}"#,
            br#"{"room":"a","x":}"#,
            br#"{"room":"a"} x"#,
            b"[]",
            b"",
        ] {
            assert!(
                parse_selected(text, &s).is_none(),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        let wide: Vec<String> = (0..100).map(|i| format!(r#""k{i}":{i}"#)).collect();
        let dup = format!(r#"{{"room":"a","x":{{{},"k7":0}}}}"#, wide.join(","));
        assert!(parse_selected(dup.as_bytes(), &s).is_none());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(parse_selected(deep.as_bytes(), &s).is_none());
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
