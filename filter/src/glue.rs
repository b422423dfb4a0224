//! What every host's glue shares, so the hosts cannot drift apart: how a request head handed over
//! as bytes becomes the engine's plain types, the counters a verdict bumps, the log lines, and the
//! order edits are applied in.
//!
//! A host (the proxy-wasm plugin, the Envoy dynamic module) only moves data: it reads the request
//! into [`RequestHead::read`], asks [`RequestHead::decide`], sends [`Verdict::response`] or hands
//! [`Verdict::edits`] to [`apply_edits`] through its own [`RequestEditor`], bumps the counters that
//! [`counted`] names, and logs [`denial_line`]. Nothing here calls a host.

use crate::config::{LogLevel, Mode};
use crate::engine::{header_safe, response_for, Edit, Gate, Response, RouteKind, Verdict};
use crate::error::{ConfigError, Denial};
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

/// The token sources, by the label the engine reports in [`Verdict::source`].
pub const SOURCES: [&str; 5] = ["bearer", "x_auth_token", "header", "query", "cookie"];

const FIRST_REASON: usize = 2;
const FIRST_SOURCE: usize = FIRST_REASON + Denial::ALL.len();
const FIRST_KIND: usize = FIRST_SOURCE + SOURCES.len();

/// Every counter roomgate exports, in a fixed order: `roomgate.allowed`, `roomgate.denied`,
/// `roomgate.denied.<reason>`, `roomgate.source.<source>`, `roomgate.route.<kind>`. A host defines
/// them once, in this order, and keeps its ids in the same order: [`counted`] answers with
/// positions in this list.
pub fn counter_names() -> Vec<String> {
    let mut names = vec!["roomgate.allowed".to_owned(), "roomgate.denied".to_owned()];
    names.extend(
        Denial::ALL
            .iter()
            .map(|d| format!("roomgate.denied.{}", d.reason())),
    );
    names.extend(SOURCES.iter().map(|s| format!("roomgate.source.{s}")));
    names.extend(
        RouteKind::ALL
            .iter()
            .map(|k| format!("roomgate.route.{}", k.label())),
    );
    names
}

fn reason_counter(denial: Denial) -> Option<usize> {
    Denial::ALL
        .iter()
        .position(|d| *d == denial)
        .map(|i| FIRST_REASON + i)
}

/// The counters (positions in [`counter_names`]) one verdict bumps by one each.
pub fn counted(verdict: &Verdict) -> impl Iterator<Item = usize> {
    let (outcome, reason) = match verdict.denial {
        Some(denial) => (1, reason_counter(denial)),
        None => (0, None),
    };
    let source = verdict
        .source
        .and_then(|s| SOURCES.iter().position(|x| *x == s))
        .map(|i| FIRST_SOURCE + i);
    let kind = RouteKind::ALL
        .iter()
        .position(|k| *k == verdict.kind)
        .map(|i| FIRST_KIND + i);
    [Some(outcome), reason, source, kind].into_iter().flatten()
}

/// The counters an internal failure (the host could not run the engine) bumps.
pub fn counted_internal() -> impl Iterator<Item = usize> {
    [Some(1), reason_counter(Denial::Internal)]
        .into_iter()
        .flatten()
}

/// A log level as hosts know it (`Critical` only for a rejected configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
    /// Critical.
    Critical,
}

/// The one line logged when a configuration loads.
pub const CONFIG_LOADED: &str = "roomgate: configuration loaded";

/// The one line logged (at [`Level::Critical`]) when a configuration is refused.
pub fn config_rejected(error: &ConfigError) -> String {
    format!("roomgate: configuration rejected: {error}")
}

/// The line logged (at [`Level::Error`]) when the host could not run the engine, and why.
pub fn internal_line(why: &str) -> String {
    format!("roomgate: denied: reason=internal_error ({why})")
}

/// The local response for an internal failure (500, the same JSON as every denial).
pub fn internal_response() -> Response {
    response_for(Denial::Internal, Denial::Internal.message())
}

/// The denial log line for `verdict` and its level, unless it allowed the request or the
/// configuration turned denial logs off. Never contains a token: only labels and the room.
pub fn denial_line(gate: &Gate, verdict: &Verdict) -> Option<(Level, String)> {
    let denial = verdict.denial?;
    let level = match gate.log_denials() {
        LogLevel::Off => return None,
        LogLevel::Trace => Level::Trace,
        LogLevel::Debug => Level::Debug,
        LogLevel::Info => Level::Info,
        LogLevel::Warn => Level::Warn,
        LogLevel::Error => Level::Error,
    };
    let mode = if gate.mode() == Mode::Report {
        " (report mode: not blocked)"
    } else {
        ""
    };
    let room = verdict
        .room
        .as_deref()
        .map(header_safe)
        .unwrap_or_else(|| "-".into());
    Some((
        level,
        format!(
            "roomgate: denied{mode}: status={} reason={} route={} kind={} source={} room={room}",
            denial.status(),
            denial.reason(),
            gate.route_label(verdict.route),
            verdict.kind.label(),
            verdict.source.unwrap_or("-"),
        ),
    ))
}

/// Unix seconds of `time` (0 before the epoch, saturating far after it).
pub fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The pairs of a proxy-wasm serialized header map, as `proxy_get_header_map_pairs` hands it
/// over: a little-endian `u32` count, then a name length and a value length (`u32` each) per pair,
/// then every name and value, each followed by a NUL. Names and values are bytes: nothing here
/// assumes UTF-8 (the SDK's own reader panics on a name that is not, which traps the VM).
/// `None` if the bytes are not such a map; an empty buffer is an empty map.
pub fn proxy_wasm_pairs(map: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
        let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(b)).ok()
    }
    if map.is_empty() {
        return Some(Vec::new());
    }
    let count = u32_at(map, 0)?;
    let mut data = count.checked_mul(8)?.checked_add(4)?;
    if data > map.len() {
        return None;
    }
    let mut pairs = Vec::with_capacity(count);
    let mut take = |len: usize| -> Option<&[u8]> {
        let end = data.checked_add(len)?;
        let bytes = map.get(data..end)?;
        // Each name and value is followed by a NUL.
        if map.get(end) != Some(&0) {
            return None;
        }
        data = end + 1;
        Some(bytes)
    };
    for i in 0..count {
        let sizes = 4 + i * 8;
        let (name_len, value_len) = (u32_at(map, sizes)?, u32_at(map, sizes + 4)?);
        let name = take(name_len)?;
        let value = take(value_len)?;
        pairs.push((name, value));
    }
    Some(pairs)
}

/// The serialized proxy-wasm header map of `pairs`, the inverse of [`proxy_wasm_pairs`] (the
/// filter only reads maps; this is for tests and fuzzing). `None` if a length exceeds `u32`.
pub fn proxy_wasm_map(pairs: &[(&[u8], &[u8])]) -> Option<Vec<u8>> {
    let len = |n: usize| u32::try_from(n).ok().map(u32::to_le_bytes);
    let mut out = len(pairs.len())?.to_vec();
    for (name, value) in pairs {
        out.extend(len(name.len())?);
        out.extend(len(value.len())?);
    }
    for part in pairs.iter().flat_map(|(n, v)| [n, v]) {
        out.extend_from_slice(part);
        out.push(0);
    }
    Some(out)
}

/// A request head as the engine reads it: the target, the headers as text (borrowed from the
/// host's bytes wherever they are text), and whether every byte the host handed over was text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// The request target (`:path`).
    pub path: Cow<'a, str>,
    /// Every header as the host listed it (pseudo-headers included), names as given.
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// False if a name or value was not UTF-8: such a request is refused with 400, unread.
    pub readable: bool,
}

impl<'a> RequestHead<'a> {
    /// Reads the header list a host hands over as bytes; the target is the `:path` entry. A
    /// request without one (`CONNECT host:port`) is no request for anything the gate guards: it
    /// is read as unreadable, so it is refused with 400. (`Option` for hosts that may fail.)
    pub fn read(raw: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Option<Self> {
        let mut readable = true;
        let mut text = |bytes: &'a [u8]| match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                readable = false;
                String::from_utf8_lossy(bytes)
            }
        };
        let headers: Vec<(Cow<'a, str>, Cow<'a, str>)> = raw
            .into_iter()
            .map(|(name, value)| (text(name), text(value)))
            .collect();
        let path = match headers.iter().find(|(n, _)| n == ":path") {
            Some((_, p)) => p.clone(),
            None => {
                readable = false;
                Cow::Borrowed("")
            }
        };
        Some(Self {
            path,
            headers,
            readable,
        })
    }

    /// The verdict: [`Gate::decide`] on a readable request, a 400 ([`Gate::refuse`]) otherwise.
    pub fn decide<'g>(&self, gate: &'g Gate, now: i64) -> Verdict<'g> {
        if self.readable {
            gate.decide(&self.path, &self.headers, now)
        } else {
            gate.refuse(Denial::BadRequest, &self.headers)
        }
    }
}

/// Where a host writes a verdict's edits.
pub trait RequestEditor {
    /// Why a write failed.
    type Error;
    /// Replaces the request target (`:path`).
    fn set_target(&mut self, target: &str) -> Result<(), Self::Error>;
    /// Replaces every value of `name` with `value`.
    fn set_header(&mut self, name: &str, value: &str) -> Result<(), Self::Error>;
    /// Adds `name: value` to a request that no longer carries `name` ([`Edit::Add`]): the host's
    /// append, which need not search the request for a value to replace.
    fn add_header(&mut self, name: &str, value: &str) -> Result<(), Self::Error>;
    /// Removes every value of `name`.
    fn remove_header(&mut self, name: &str) -> Result<(), Self::Error>;
}

/// Applies `edits` in their order (removals of client-sent identity headers first, then token
/// stripping, then the identity the gate forwards), stopping at the first failed write.
pub fn apply_edits<E: RequestEditor>(edits: &[Edit], host: &mut E) -> Result<(), E::Error> {
    for edit in edits {
        match edit {
            Edit::Set(name, value) if name == ":path" => host.set_target(value)?,
            Edit::Set(name, value) => host.set_header(name, value)?,
            Edit::Add(name, value) => host.add_header(name, value)?,
            Edit::Remove(name) => host.remove_header(name)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn gate() -> Gate {
        let config = r#"{"jwt":{"keys":[{"secret":"0123456789abcdef0123456789abcdef"}]},
            "token_sources":["bearer"],
            "routes":[{"match":{"prefix":"/libs/"},"kind":"public"},
                      {"match":{"pattern":"/{room}"},"kind":"room"}]}"#;
        Gate::from_json(config.as_bytes(), &|_| None).unwrap()
    }

    fn names(v: &Verdict) -> Vec<String> {
        let all = counter_names();
        counted(v).map(|i| all[i].clone()).collect()
    }

    #[test]
    fn counter_names_are_unique_and_start_with_the_totals() {
        let all = counter_names();
        assert_eq!(all[0], "roomgate.allowed");
        assert_eq!(all[1], "roomgate.denied");
        assert!(all.contains(&"roomgate.denied.token_expired".to_owned()));
        assert!(all.contains(&"roomgate.source.bearer".to_owned()));
        assert!(all.contains(&"roomgate.route.public".to_owned()));
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
    }

    #[test]
    fn a_denial_bumps_denied_its_reason_and_its_route_kind() {
        let g = gate();
        let v = g.decide("/standup", &[(":path", "/standup")], 0);
        assert_eq!(
            names(&v),
            [
                "roomgate.denied",
                "roomgate.denied.missing_token",
                "roomgate.route.room"
            ]
        );
        let all = counter_names();
        let internal: Vec<&str> = counted_internal().map(|i| all[i].as_str()).collect();
        assert_eq!(
            internal,
            ["roomgate.denied", "roomgate.denied.internal_error"]
        );
    }

    #[test]
    fn an_allowed_public_request_bumps_allowed_and_public() {
        let g = gate();
        let v = g.decide_pairs("/libs/a.js", &[], 0);
        assert_eq!(names(&v), ["roomgate.allowed", "roomgate.route.public"]);
        assert!(denial_line(&gate(), &v).is_none());
    }

    #[test]
    fn the_denial_line_names_labels_not_tokens() {
        let headers = vec![("authorization".to_owned(), "Bearer a.b.c".to_owned())];
        let g = gate();
        let v = g.decide("/standup", &headers, 0);
        let (level, line) = denial_line(&g, &v).unwrap();
        assert_eq!(level, Level::Info);
        assert!(
            line.starts_with("roomgate: denied: status=401 reason="),
            "{line}"
        );
        assert!(line.contains("source=bearer"), "{line}");
        assert!(!line.contains("a.b.c"), "{line}");
    }

    #[test]
    fn a_head_that_is_not_text_is_refused_with_400_unread() {
        let raw: Vec<(&[u8], &[u8])> = vec![
            (b":path", b"/standup"),
            (b"x-a", b"\xff"),
            (b"x-roomgate-admin", b"true"),
        ];
        let head = RequestHead::read(raw).unwrap();
        assert!(!head.readable);
        let g = gate();
        let v = head.decide(&g, 0);
        assert_eq!(v.denial, Some(Denial::BadRequest));
        assert!(v.edits.contains(&Edit::Remove("x-roomgate-admin".into())));
        // No `:path` (CONNECT): refused with 400 as well.
        let head = RequestHead::read(vec![(&b"x"[..], &b"y"[..])]).unwrap();
        assert_eq!(head.decide(&gate(), 0).denial, Some(Denial::BadRequest));
    }

    #[test]
    fn a_proxy_wasm_map_is_read_as_bytes_names_included() {
        let pairs: Vec<(&[u8], &[u8])> = vec![
            (b":path", b"/standup"),
            (b"x-na\xffme", b"1"),
            (b"x-empty", b""),
            (b"x-b", b"\xfe"),
        ];
        let map = proxy_wasm_map(&pairs).unwrap();
        assert_eq!(proxy_wasm_pairs(&map).unwrap(), pairs);
        assert_eq!(proxy_wasm_pairs(&[]).unwrap(), Vec::<(&[u8], &[u8])>::new());
        let head = RequestHead::read(proxy_wasm_pairs(&map).unwrap()).unwrap();
        assert!(!head.readable);
        assert_eq!(head.decide(&gate(), 0).denial, Some(Denial::BadRequest));
    }

    #[test]
    fn a_malformed_proxy_wasm_map_is_refused_not_read_past_its_end() {
        let map = proxy_wasm_map(&[(b"a", b"b"), (b"c", b"d")]).unwrap();
        for cut in 1..map.len() {
            assert_eq!(proxy_wasm_pairs(&map[..cut]), None, "cut at {cut}");
        }
        // A count far beyond the buffer, and a missing NUL terminator.
        assert_eq!(proxy_wasm_pairs(&u32::MAX.to_le_bytes()), None);
        let mut bad = map.clone();
        let nul = bad.len() - 1;
        bad[nul] = b'x';
        assert_eq!(proxy_wasm_pairs(&bad), None);
    }

    #[derive(Default)]
    struct Log(Vec<String>);

    impl RequestEditor for Log {
        type Error = ();
        fn set_target(&mut self, target: &str) -> Result<(), ()> {
            self.0.push(format!("target {target}"));
            Ok(())
        }
        fn set_header(&mut self, name: &str, value: &str) -> Result<(), ()> {
            if name == "fail" {
                return Err(());
            }
            self.0.push(format!("set {name}={value}"));
            Ok(())
        }
        fn add_header(&mut self, name: &str, value: &str) -> Result<(), ()> {
            self.0.push(format!("add {name}={value}"));
            Ok(())
        }
        fn remove_header(&mut self, name: &str) -> Result<(), ()> {
            self.0.push(format!("remove {name}"));
            Ok(())
        }
    }

    #[test]
    fn edits_apply_in_order_and_stop_at_the_first_failure() {
        let edits = [
            Edit::Remove("a".into()),
            Edit::Set(":path".into(), "/x".into()),
            Edit::Set("b".into(), "1".into()),
            Edit::Add("c".into(), "2".into()),
            Edit::Set("fail".into(), "1".into()),
            Edit::Remove("never".into()),
        ];
        let mut log = Log::default();
        assert!(apply_edits(&edits, &mut log).is_err());
        assert_eq!(log.0, ["remove a", "target /x", "set b=1", "add c=2"]);
    }

    #[test]
    fn unix_seconds_saturates_before_the_epoch() {
        assert_eq!(unix_seconds(UNIX_EPOCH), 0);
        let before = UNIX_EPOCH - std::time::Duration::from_secs(5);
        assert_eq!(unix_seconds(before), 0);
    }
}
