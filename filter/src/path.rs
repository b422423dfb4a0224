//! The request target as the gate understands it, and the route patterns matched against it.
//!
//! A token for room A must never open room B, so the path is read once, strictly: it is split into
//! segments, each segment is percent-decoded, and anything whose meaning could differ between this
//! gate and the upstream (dot-segments, empty segments, an encoded `/` or `\`, a `;` — Tomcat,
//! Jetty and Spring cut path parameters at it, so `/libs/..;/standup` is `/standup` to them —,
//! control bytes, invalid UTF-8) is refused with 400 instead of being guessed at.

use crate::error::Denial;
use std::borrow::Cow;

/// A parsed request target: the decoded path segments and the raw query.
#[derive(Debug)]
pub struct Target<'a> {
    /// The path with every segment percent-decoded, joined by `/` (the raw path itself when it
    /// has nothing to decode).
    pub normalized: Cow<'a, str>,
    /// The decoded segments; a trailing slash gives a final empty segment.
    pub segments: Vec<Cow<'a, str>>,
    /// The raw path as received (before `?`).
    pub raw_path: &'a str,
    /// The raw query (after `?`), if any.
    pub raw_query: Option<&'a str>,
    /// The raw query has a `;` (which some servers split parameters on).
    pub query_semicolon: bool,
}

impl<'a> Target<'a> {
    /// Parses a request target such as `/rooms/a%20b?jwt=...`.
    pub fn parse(target: &'a str) -> Result<Self, Denial> {
        // One pass over the target (a query token makes it long): printable ASCII only, no `#`
        // anywhere, no backslash in the path, and where the query starts.
        let (raw_path, raw_query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        if raw_path
            .bytes()
            .any(|b| matches!(b, b'#' | b'\\') || !(0x21..=0x7e).contains(&b))
        {
            return Err(Denial::BadRequest);
        }
        let scan = crate::bytes::scan_query(raw_query.unwrap_or_default().as_bytes());
        if !scan.plain {
            return Err(Denial::BadRequest);
        }
        if !raw_path.starts_with('/') {
            return Err(Denial::BadRequest);
        }
        let mut segments = Vec::new();
        let body = raw_path.get(1..).unwrap_or_default();
        if !body.is_empty() {
            let mut parts = body.split('/').peekable();
            while let Some(raw) = parts.next() {
                if raw.is_empty() && parts.peek().is_some() {
                    return Err(Denial::BadRequest);
                }
                let seg = decode_segment(raw)?;
                if seg == "." || seg == ".." {
                    return Err(Denial::BadRequest);
                }
                segments.push(seg);
            }
        }
        // Segments decode only where there is a `%`: without one, joining them gives the path.
        let normalized = if raw_path.contains('%') {
            let mut joined = String::with_capacity(raw_path.len());
            for seg in &segments {
                joined.push('/');
                joined.push_str(seg);
            }
            if joined.is_empty() {
                joined.push('/');
            }
            Cow::Owned(joined)
        } else {
            Cow::Borrowed(raw_path)
        };
        Ok(Self {
            normalized,
            segments,
            raw_path,
            raw_query,
            query_semicolon: scan.semicolon,
        })
    }

    /// Every query parameter, in order.
    pub fn query_params(&self) -> impl Iterator<Item = QueryParam<'a>> {
        self.raw_query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                QueryParam { pair, name, value }
            })
    }

    /// The path to forward when the query parameters named `drop` are removed.
    pub fn without_params(&self, drop: &[&str]) -> String {
        let kept: Vec<&str> = self
            .query_params()
            .filter(|p| !drop.iter().any(|d| p.name_is(d)))
            .map(|p| p.pair)
            .collect();
        if kept.is_empty() {
            self.raw_path.to_owned()
        } else {
            format!("{}?{}", self.raw_path, kept.join("&"))
        }
    }
}

/// One `name=value` pair of the query, still encoded.
#[derive(Debug, Clone, Copy)]
pub struct QueryParam<'a> {
    pair: &'a str,
    name: &'a str,
    value: &'a str,
}

impl<'a> QueryParam<'a> {
    /// Whether the decoded name equals `name` (so `%6Awt` is `jwt`: no hiding a second token).
    pub fn name_is(&self, name: &str) -> bool {
        if self.name == name {
            return true;
        }
        self.name.contains(['%', '+'])
            && decode_form(self.name).is_some_and(|decoded| decoded == name)
    }

    /// The decoded value (`+` is a space, as in HTML forms); `None` if the encoding is invalid.
    pub fn value(&self) -> Option<Cow<'a, str>> {
        decode_form(self.value)
    }
}

/// `url` (a `Referer`) without the query parameters whose decoded names are in `drop`, split on
/// `&` and `;`; the other parameters stay verbatim. Unchanged when none is there.
pub fn url_without_params(url: &str, drop: &[&str]) -> String {
    let Some((base, rest)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query = rest.split_once('#').map_or(rest, |(q, _)| q);
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    let mut dropped = false;
    let mut separator = '?';
    for pair in query.split(['&', ';']).filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        let param = QueryParam {
            pair,
            name,
            value: "",
        };
        if drop.iter().any(|d| param.name_is(d)) {
            dropped = true;
            continue;
        }
        out.push(separator);
        separator = '&';
        out.push_str(pair);
    }
    if !dropped {
        return url.to_owned();
    }
    // A `Referer` carries no fragment (RFC 9110, 10.1.3): one that does loses it.
    out
}

fn decode_form(raw: &str) -> Option<Cow<'_, str>> {
    if !crate::bytes::contains_either(raw.as_bytes(), b'%', b'+') {
        return Some(Cow::Borrowed(raw));
    }
    if raw.contains('+') {
        percent_decode(&raw.replace('+', " ")).map(Cow::Owned)
    } else {
        decode(raw)
    }
}

/// Decodes one path segment; refuses what would change the path's structure once decoded.
fn decode_segment(raw: &str) -> Result<Cow<'_, str>, Denial> {
    let seg = decode(raw).ok_or(Denial::BadRequest)?;
    if seg.contains(['/', '\\', ';']) || seg.chars().any(char::is_control) {
        return Err(Denial::BadRequest);
    }
    Ok(seg)
}

/// Strict percent-decoding: every `%` must start a valid escape and the result must be UTF-8.
pub fn percent_decode(raw: &str) -> Option<String> {
    decode(raw).map(Cow::into_owned)
}

/// [`percent_decode`], borrowing `raw` when it has no escape.
fn decode(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('%') {
        return Some(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// How a route rule matches the normalized path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// The whole path equals this.
    Exact(String),
    /// The path starts with this.
    Prefix(String),
    /// Segment by segment: literals, `{name}` (one non-empty segment), `*` (one segment) and a final
    /// `**` (the rest, possibly nothing).
    Pattern(Pattern),
}

/// How literals compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Byte for byte.
    Exact,
    /// Ignoring letter case (Unicode lower-casing, as case-insensitive routers compare).
    Ignored,
}

impl Case {
    fn eq(self, literal: &str, actual: &str) -> bool {
        match self {
            Self::Exact => literal == actual,
            // ASCII text lower-cases as ASCII; anything else (the Kelvin sign is a `k`) the long way.
            Self::Ignored if literal.is_ascii() && actual.is_ascii() => {
                literal.eq_ignore_ascii_case(actual)
            }
            Self::Ignored => lower(literal).eq(lower(actual)),
        }
    }

    fn starts_with(self, actual: &str, literal: &str) -> bool {
        match self {
            Self::Exact => actual.starts_with(literal),
            Self::Ignored if literal.is_ascii() && actual.is_ascii() => actual
                .as_bytes()
                .get(..literal.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(literal.as_bytes())),
            Self::Ignored => {
                let mut rest = lower(actual);
                lower(literal).all(|c| rest.next() == Some(c))
            }
        }
    }
}

fn lower(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().flat_map(char::to_lowercase)
}

impl PathMatch {
    /// Whether this rule matches `target`; on a match, the value of the variable `var`, if any.
    pub fn matches(&self, target: &Target<'_>, var: Option<&str>) -> Option<Option<String>> {
        self.matches_with(target, var, Case::Exact)
            .map(|room| room.map(str::to_owned))
    }

    /// [`PathMatch::matches`], with literals compared as `case` says.
    pub fn matches_with<'t>(
        &self,
        target: &'t Target<'_>,
        var: Option<&str>,
        case: Case,
    ) -> Option<Option<&'t str>> {
        match self {
            Self::Exact(p) => case.eq(p, &target.normalized).then_some(None),
            Self::Prefix(p) => case.starts_with(&target.normalized, p).then_some(None),
            Self::Pattern(p) => p.matches(&target.segments, var, case),
        }
    }

    /// The literal text every matching path starts with (used to find shadowed rules).
    pub fn literal_prefix(&self) -> String {
        match self {
            Self::Exact(p) | Self::Prefix(p) => p.clone(),
            Self::Pattern(p) => p.literal_prefix(),
        }
    }

    /// Whether this rule matches every path that `later` matches, so `later` can never apply.
    pub fn shadows(&self, later: &PathMatch) -> bool {
        match (self, later) {
            (Self::Exact(a), Self::Exact(b)) => a == b,
            (Self::Prefix(a), _) => later.literal_prefix().starts_with(a.as_str()),
            (Self::Pattern(a), Self::Pattern(b)) => a == b,
            (Self::Pattern(a), Self::Exact(b)) => {
                Target::parse(b).is_ok_and(|t| a.matches(&t.segments, None, Case::Exact).is_some())
            }
            _ => false,
        }
    }
}

/// One segment of a [`Pattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Must equal this decoded text.
    Literal(String),
    /// `{name}`: any one non-empty segment, captured.
    Var(String),
    /// `*`: any one non-empty segment.
    Any,
    /// `**`: the rest of the path (only last).
    Rest,
}

/// A parsed path pattern such as `/rooms/{room}/**`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    segments: Vec<Segment>,
}

impl Pattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let body = text
            .strip_prefix('/')
            .ok_or_else(|| format!("pattern {text:?} must start with '/'"))?;
        let mut segments = Vec::new();
        if !body.is_empty() {
            let parts: Vec<&str> = body.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                let seg = if *part == "**" {
                    if i + 1 != parts.len() {
                        return Err(format!(
                            "pattern {text:?}: '**' may only be the last segment"
                        ));
                    }
                    Segment::Rest
                } else if *part == "*" {
                    Segment::Any
                } else if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
                {
                    if name.is_empty()
                        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        return Err(format!(
                            "pattern {text:?}: variable names are letters, digits and '_'"
                        ));
                    }
                    if segments.contains(&Segment::Var(name.to_owned())) {
                        return Err(format!(
                            "pattern {text:?}: variable {{{name}}} appears twice"
                        ));
                    }
                    Segment::Var(name.to_owned())
                } else if part.is_empty()
                    || part.contains(['{', '}', '*', '%', '?'])
                    || *part == "."
                    || *part == ".."
                {
                    return Err(format!("pattern {text:?}: segment {part:?} is not a literal, {{name}}, '*' or '**'"));
                } else {
                    Segment::Literal((*part).to_owned())
                };
                segments.push(seg);
            }
        }
        Ok(Self { segments })
    }

    /// Whether the pattern has the variable `name`.
    pub fn has_var(&self, name: &str) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Var(v) if v == name))
    }

    fn literal_prefix(&self) -> String {
        let mut out = String::from("/");
        for seg in &self.segments {
            match seg {
                Segment::Literal(l) => {
                    out.push_str(l);
                    out.push('/');
                }
                _ => return out,
            }
        }
        out.pop();
        if out.is_empty() {
            out.push('/');
        }
        out
    }

    fn matches<'t>(
        &self,
        path: &'t [Cow<'_, str>],
        var: Option<&str>,
        case: Case,
    ) -> Option<Option<&'t str>> {
        let mut captured = None;
        let mut rest = path.iter();
        for seg in &self.segments {
            match seg {
                Segment::Rest => return Some(captured),
                _ => {
                    let actual = rest.next()?;
                    match seg {
                        Segment::Literal(l) if case.eq(l, actual) => {}
                        Segment::Var(name) if !actual.is_empty() => {
                            if var == Some(name.as_str()) {
                                captured = Some(actual.as_ref());
                            }
                        }
                        Segment::Any if !actual.is_empty() => {}
                        _ => return None,
                    }
                }
            }
        }
        rest.next().is_none().then_some(captured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(target: &str) -> bool {
        Target::parse(target).is_err()
    }

    #[test]
    fn decodes_each_segment_once() {
        let t = Target::parse("/rooms/%41b%20c?x=1").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(t.segments, ["rooms", "Ab c"]);
        assert_eq!(t.normalized, "/rooms/Ab c");
        assert_eq!(t.raw_query, Some("x=1"));
    }

    #[test]
    fn keeps_a_trailing_slash_as_an_empty_last_segment() {
        let t = Target::parse("/static/").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(t.normalized, "/static/");
    }

    #[test]
    fn refuses_dot_segments_plain_or_encoded() {
        for p in ["/a/../b", "/a/./b", "/..", "/%2e%2e/b", "/%2E/b", "/a/.%2e"] {
            assert!(bad(p), "{p}");
        }
    }

    #[test]
    fn refuses_double_slashes_and_encoded_separators() {
        for p in [
            "//b", "/a//b", "/a%2Fb", "/a%2fb", "/a%5Cb", "/a\\b", "/a%00b", "/a%0Ab",
        ] {
            assert!(bad(p), "{p}");
        }
    }

    #[test]
    fn refuses_raw_bytes_outside_visible_ascii_and_bad_escapes() {
        for p in [
            "/a b",
            "/a\u{0}b",
            "/caf\u{e9}",
            "/a%zz",
            "/a%4",
            "/%ff",
            "",
            "a",
            "/a#b",
        ] {
            assert!(bad(p), "{p:?}");
        }
    }

    #[test]
    fn accepts_encoded_utf8() {
        let t = Target::parse("/caf%C3%A9").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(t.segments, ["café"]);
    }

    #[test]
    fn query_names_match_after_decoding() {
        let t = Target::parse("/x?%6Awt=a&jwt=b").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(t.query_params().filter(|p| p.name_is("jwt")).count(), 2);
    }

    #[test]
    fn removing_a_parameter_keeps_the_others_verbatim() {
        let t = Target::parse("/r?a=%41&jwt=x&b=2").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(t.without_params(&["jwt"]), "/r?a=%41&b=2");
        let t = Target::parse("/r?jwt=x").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(t.without_params(&["jwt"]), "/r");
    }

    #[test]
    fn patterns_capture_one_segment_variables() {
        let p = Pattern::parse("/rooms/{room}/**").unwrap_or_else(|e| unreachable!("{e}"));
        let t = Target::parse("/rooms/abc/x/y").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(
            p.matches(&t.segments, Some("room"), Case::Exact),
            Some(Some("abc"))
        );
        let t = Target::parse("/rooms/").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(p.matches(&t.segments, Some("room"), Case::Exact), None);
    }

    #[test]
    fn a_single_variable_pattern_does_not_match_a_trailing_slash() {
        let p = Pattern::parse("/{room}").unwrap_or_else(|e| unreachable!("{e}"));
        let t = Target::parse("/abc/").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(p.matches(&t.segments, Some("room"), Case::Exact), None);
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for p in [
            "rooms", "/**/x", "/{}", "/{a}/{a}", "/a//b", "/{a-b}", "/a%20",
        ] {
            assert!(Pattern::parse(p).is_err(), "{p}");
        }
    }

    #[test]
    fn literals_compare_ignoring_case_only_when_asked() {
        let t = Target::parse("/API/Rooms/x").unwrap_or_else(|e| unreachable!("{e:?}"));
        let exact = PathMatch::Exact("/api/rooms/x".into());
        assert!(exact.matches(&t, None).is_none());
        assert!(exact.matches_with(&t, None, Case::Ignored).is_some());
        let prefix = PathMatch::Prefix("/api/".into());
        assert!(prefix.matches_with(&t, None, Case::Ignored).is_some());
        let p = Pattern::parse("/api/rooms/{room}").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            PathMatch::Pattern(p).matches_with(&t, Some("room"), Case::Ignored),
            Some(Some("x"))
        );
        // The Kelvin sign lower-cases to `k`, as Unicode-aware routers fold it.
        let t = Target::parse("/%E2%84%AAey").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert!(PathMatch::Exact("/key".into())
            .matches_with(&t, None, Case::Ignored)
            .is_some());
        assert!(PathMatch::Prefix("/ke".into())
            .matches_with(&t, None, Case::Ignored)
            .is_some());
    }

    #[test]
    fn an_earlier_prefix_shadows_later_rules_under_it() {
        let pre = PathMatch::Prefix("/static/".into());
        assert!(pre.shadows(&PathMatch::Exact("/static/app.js".into())));
        assert!(!pre.shadows(&PathMatch::Exact("/health".into())));
        let any =
            PathMatch::Pattern(Pattern::parse("/{room}").unwrap_or_else(|e| unreachable!("{e}")));
        assert!(any.shadows(&PathMatch::Exact("/health".into())));
        assert!(!any.shadows(&PathMatch::Exact("/".into())));
    }
}
