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

/// Which members of a token payload the gate reads: a tree of member names, where a leaf keeps the
/// member's whole value and an inner node keeps only the listed members of an object. Every member
/// has a slot: [`parse_selected`] fills the slots of the leaves it finds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    members: Vec<Member>,
    /// Slots handed out so far (at the root: the length of [`Selected`]'s slot list).
    slots: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct Member {
    name: String,
    slot: usize,
    /// `None`: a leaf (the whole value is kept).
    sub: Option<Selector>,
}

impl Selector {
    /// Adds a member path (`["context", "user", "name"]`); a path that is also a prefix of another
    /// keeps the whole value.
    pub fn add(&mut self, path: &[String]) {
        let mut slots = self.slots;
        self.add_counted(path, &mut slots);
        self.slots = slots;
    }

    fn add_counted(&mut self, path: &[String], slots: &mut usize) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        match self.members.iter_mut().find(|m| m.name == *first) {
            None => {
                let sub = (!rest.is_empty()).then(|| {
                    let mut sub = Selector::default();
                    sub.add_counted(rest, slots);
                    sub
                });
                self.members.push(Member {
                    name: first.clone(),
                    slot: *slots,
                    sub,
                });
                *slots += 1;
            }
            Some(m) if rest.is_empty() => m.sub = None,
            Some(Member { sub: Some(sub), .. }) => sub.add_counted(rest, slots),
            Some(_) => {}
        }
    }

    fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The slot of the leaf `path` reaches and the part of `path` below it, or `None` if the
    /// selector does not reach that far (the claim was not selected).
    fn leaf<'p, S: AsRef<str>>(&self, path: &'p [S]) -> Option<(usize, &'p [S])> {
        let (first, rest) = path.split_first()?;
        let m = self.member(first.as_ref())?;
        match &m.sub {
            None => Some((m.slot, rest)),
            Some(sub) => sub.leaf(rest),
        }
    }
}

/// The members of a token payload a [`Selector`] named, by slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    slots: Vec<Option<Value>>,
}

impl Selected {
    /// The value at `path` (`["context", "user", "name"]`), if `selector` (the one it was parsed
    /// with) selected it and the payload has it.
    pub fn get<'v, S: AsRef<str>>(&'v self, selector: &Selector, path: &[S]) -> Option<&'v Value> {
        let (slot, rest) = selector.leaf(path)?;
        let mut value = self.slots.get(slot)?.as_ref()?;
        for part in rest {
            value = value.as_object()?.get(part.as_ref())?;
        }
        Some(value)
    }
}

/// Parses `bytes` as one JSON object as strictly as [`parse_object`] (any JSON error or duplicate key
/// at any depth refuses it, nesting is bounded as serde_json bounds it), but builds only the members
/// `selector` names: the rest is checked in place and never built.
pub fn parse_selected(bytes: &[u8], selector: &Selector) -> Option<Selected> {
    let mut slots = vec![None; selector.slots];
    Scan::document(bytes, selector, &mut slots)?;
    Some(Selected { slots })
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

/// Parses `bytes` as a JOSE header: one JSON object, rejecting duplicate keys at any depth. The
/// work per key does not grow with the number of keys (the header is read before the signature is
/// checked, and an 8 KiB header holds ~900).
pub fn parse_header(bytes: &[u8]) -> Option<JoseHeader> {
    static SELECTOR: std::sync::OnceLock<Selector> = std::sync::OnceLock::new();
    let selector = SELECTOR.get_or_init(|| {
        let mut s = Selector::default();
        for name in ["alg", "typ", "kid", "crit"] {
            s.add(&[name.to_owned()]);
        }
        s
    });
    let mut slots = [None, None, None, None];
    Scan::document(bytes, selector, &mut slots)?;
    let [alg, typ, kid, crit] = slots;
    Some(JoseHeader {
        alg,
        typ,
        kid,
        crit: crit.is_some(),
    })
}

/// serde_json's nesting limit: 127 levels of arrays and objects parse, 128 do not.
const MAX_DEPTH: usize = 127;

/// A strict JSON scanner (RFC 8259, as serde_json reads it: no trailing commas, no leading zeros,
/// no raw control characters in strings, `\u` escapes with paired surrogates, numbers that fit an
/// f64) that validates a whole document in place, refuses duplicate keys at any depth, and builds
/// a `Value` only for the members a [`Selector`] names.
struct Scan<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<'a> Scan<'a> {
    /// Scans `bytes` as one object, filling `slots` for the leaves of `selector`.
    fn document(bytes: &'a [u8], selector: &Selector, slots: &mut [Option<Value>]) -> Option<()> {
        // Outside strings only ASCII is valid JSON, so the whole document is UTF-8 exactly when
        // every string in it is: checked once, and every slice below is text.
        let text = std::str::from_utf8(bytes).ok()?;
        let mut scan = Scan {
            text,
            at: 0,
            depth: 0,
        };
        scan.space();
        if scan.peek()? != b'{' {
            return None;
        }
        scan.object(Some(selector), slots)?;
        scan.space();
        (scan.at == text.len()).then_some(())
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// One value; `selector` applies if it is an object.
    fn value(&mut self, selector: Option<&Selector>, slots: &mut [Option<Value>]) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(selector, slots),
            b'[' => self.array(),
            b'"' => self.string().map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.get(self.at..)?;
        rest.starts_with(word).then(|| self.at += word.len())
    }

    fn array(&mut self) -> Option<()> {
        self.nest()?;
        self.eat(b'[')?;
        self.space();
        if self.eat(b']').is_none() {
            loop {
                self.value(None, &mut [])?;
                self.space();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.space();
                    }
                    b']' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn object(&mut self, selector: Option<&Selector>, slots: &mut [Option<Value>]) -> Option<()> {
        self.nest()?;
        self.eat(b'{')?;
        self.space();
        let mut seen = Keys::default();
        if self.eat(b'}').is_none() {
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                let key = self.string()?;
                self.space();
                self.eat(b':')?;
                self.space();
                let member = selector.and_then(|s| s.member(&key));
                if !seen.insert(key) {
                    return None;
                }
                match member {
                    Some(Member {
                        slot, sub: None, ..
                    }) => {
                        let start = self.at;
                        self.value(None, &mut [])?;
                        let raw = self.text.get(start..self.at)?;
                        *slots.get_mut(*slot)? = Some(build(raw)?);
                    }
                    Some(Member { sub: Some(sub), .. }) => self.value(Some(sub), slots)?,
                    None => self.value(None, &mut [])?,
                }
                self.space();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.space();
                    }
                    b'}' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A string at `"`; its text, borrowed unless it has escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.at;
        let bytes = self.text.as_bytes();
        loop {
            match *bytes.get(self.at)? {
                b'"' => {
                    let s = self.text.get(start..self.at)?;
                    self.at += 1;
                    return Some(Cow::Borrowed(s));
                }
                b'\\' => break,
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        // Escapes: decode into an owned string.
        let mut out = String::from(self.text.get(start..self.at)?);
        loop {
            let b = *bytes.get(self.at)?;
            match b {
                b'"' => {
                    self.at += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    self.at += 1;
                    let e = *bytes.get(self.at)?;
                    self.at += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    out.push(c);
                }
                0..=0x1f => return None,
                _ => {
                    // Copy one whole character (the text is UTF-8; `at` is on a boundary).
                    let c = self.text.get(self.at..)?.chars().next()?;
                    out.push(c);
                    self.at += c.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at.checked_add(4)?)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// After `\u`: one code point; a surrogate must be a high one followed by `\u` and a low one.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                self.eat(b'\\')?;
                self.eat(b'u')?;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return None;
                }
                0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return None,
            other => other,
        };
        char::from_u32(code)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, and within an f64's range.
    fn number(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        let mut at = self.at;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        match bytes.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => {
                digits(&mut at);
            }
            _ => return None,
        }
        let mut plain = true;
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            plain = false;
            if !digits(&mut at) {
                return None;
            }
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            plain = false;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if !digits(&mut at) {
                return None;
            }
        }
        self.at = at;
        // A short integer always fits; anything else is range-checked as serde_json reads it
        // (`1e400` is refused, a 30-digit integer becomes an f64).
        if plain && at - start <= 18 {
            return Some(());
        }
        let raw = self.text.get(start..at)?;
        serde_json::from_str::<Value>(raw).ok().map(drop)
    }
}

/// The `Value` of a member already scanned (valid, no duplicate keys): strings without escapes
/// and short integers directly, the rest through serde_json.
fn build(raw: &str) -> Option<Value> {
    let plain = |s: &str| !s.bytes().any(|b| b == b'\\' || b == b'"');
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if plain(inner) {
            return Some(Value::String(inner.to_owned()));
        }
    }
    // `-0` is serde_json's float -0.0: only unsigned integers take the short way.
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = raw.parse::<u64>() {
            return Some(Value::Number(n.into()));
        }
    }
    serde_json::from_str::<Value>(raw).ok()
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

    fn get<'v>(sel: &Selector, v: &'v super::Selected, path: &str) -> Option<&'v Value> {
        let parts: Vec<&str> = path.split('.').collect();
        v.get(sel, &parts)
    }

    #[test]
    fn a_selected_parse_keeps_only_the_selected_members() {
        let s = selector(&["room", "context.user.name", "aud"]);
        let text = br#"{"room":"a","x":{"y":[1,{"z":2}]},"aud":["j"],
                        "context":{"user":{"name":"N","email":"e"},"features":{"f":true}}}"#;
        let v = parse_selected(text, &s).unwrap_or_else(|| unreachable!());
        let all = parse_object(text).unwrap_or_else(|| unreachable!());
        assert_eq!(get(&s, &v, "room"), all.get("room"));
        assert_eq!(get(&s, &v, "aud"), all.get("aud"));
        assert_eq!(get(&s, &v, "context.user.name"), Some(&Value::from("N")));
        assert_eq!(get(&s, &v, "x"), None);
        assert_eq!(get(&s, &v, "context.user.email"), None);
        // A path that is also a prefix keeps the whole value.
        let s = selector(&["context.user.name", "context"]);
        let v = parse_selected(text, &s).unwrap_or_else(|| unreachable!());
        assert_eq!(get(&s, &v, "context"), all.get("context"));
        assert_eq!(get(&s, &v, "context.user.email"), Some(&Value::from("e")));
    }

    /// The scanner against serde_json (`parse_object`, which builds everything): the same
    /// documents are accepted, and every selected member has the same value.
    #[test]
    fn the_scanner_accepts_exactly_what_serde_json_accepts() {
        let s = selector(&["a", "b.c", "n", "s"]);
        let docs: &[&str] = &[
            r#"{"a":1}"#,
            r#" {"a" : [1, 2 ,{"x":null}] , "b":{"c":true,"d":false}} "#,
            r#"{"s":"\u00e9\n\"\\\/\b\f\r\t","a":"\ud83d\ude00"}"#,
            r#"{"s":"\ud800"}"#,
            r#"{"s":"\udc00"}"#,
            r#"{"s":"\ud800\u0041"}"#,
            r#"{"s":"\u00"}"#,
            r#"{"s":"\x"}"#,
            "{\"s\":\"a\tb\"}",
            "{\"s\":\"\u{7f}é€😀\"}",
            r#"{"n":-0}"#,
            r#"{"n":01}"#,
            r#"{"n":1.}"#,
            r#"{"n":.5}"#,
            r#"{"n":-}"#,
            r#"{"n":1e400}"#,
            r#"{"n":-1e400}"#,
            r#"{"n":1e-400}"#,
            r#"{"n":1E+2}"#,
            r#"{"n":2.5e-3}"#,
            r#"{"n":123456789012345678901234567890}"#,
            r#"{"n":18446744073709551615}"#,
            r#"{"n":-9223372036854775808}"#,
            r#"{"n":-9223372036854775809}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{,}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"{"a":1}}"#,
            r#"{"a":1} 2"#,
            "{\"a\":1}\u{0}",
            r#"{"a":1,"\u0061":2}"#,
            r#"{"b":{"c":1,"c":2}}"#,
            r#"{}"#,
            "{\u{a0}}",
            "",
            "[]",
        ];
        for doc in docs {
            let ours = parse_selected(doc.as_bytes(), &s);
            let theirs = parse_object(doc.as_bytes());
            assert_eq!(ours.is_some(), theirs.is_some(), "{doc}");
            if let (Some(ours), Some(theirs)) = (ours, theirs) {
                for path in ["a", "b.c", "n", "s"] {
                    let mut want = Some(&Value::Object(theirs.clone())).cloned();
                    for part in path.split('.') {
                        want = want.and_then(|w| w.get(part).cloned());
                    }
                    assert_eq!(get(&s, &ours, path).cloned(), want, "{doc} {path}");
                }
            }
        }
        for depth in [120, 125, 126, 127, 128, 129] {
            let doc = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
            assert_eq!(
                parse_selected(doc.as_bytes(), &s).is_some(),
                parse_object(doc.as_bytes()).is_some(),
                "depth {depth}"
            );
            let doc = format!(r#"{{"x":{}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
            assert_eq!(
                parse_selected(doc.as_bytes(), &s).is_some(),
                parse_object(doc.as_bytes()).is_some(),
                "array depth {depth}"
            );
        }
        assert!(parse_selected(b"{\"s\":\"\xff\"}", &s).is_none());
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
