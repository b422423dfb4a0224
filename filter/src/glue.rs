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

/// A request head as the engine reads it: the target, the headers as text, and whether every
/// byte the host handed over was text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The request target (`:path`).
    pub path: String,
    /// Every header as the host listed it (pseudo-headers included), names as given.
    pub headers: Vec<(String, String)>,
    /// False if a name or value was not UTF-8: such a request is refused with 400, unread.
    pub readable: bool,
}

impl RequestHead {
    /// Reads the header list a host hands over as bytes; the target is the `:path` entry. A
    /// request without one (`CONNECT host:port`) is no request for anything the gate guards: it
    /// is read as unreadable, so it is refused with 400. (`Option` for hosts that may fail.)
    pub fn read<'a>(raw: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Option<Self> {
        let mut readable = true;
        let mut text = |bytes: &[u8]| match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => {
                readable = false;
                String::from_utf8_lossy(bytes).into_owned()
            }
        };
        let headers: Vec<(String, String)> = raw
            .into_iter()
            .map(|(name, value)| (text(name), text(value)))
            .collect();
        let path = match headers.iter().find(|(n, _)| n == ":path") {
            Some((_, p)) => p.clone(),
            None => {
                readable = false;
                String::new()
            }
        };
        Some(Self {
            path,
            headers,
            readable,
        })
    }

    /// The verdict: [`Gate::decide`] on a readable request, a 400 ([`Gate::refuse`]) otherwise.
    pub fn decide(&self, gate: &Gate, now: i64) -> Verdict {
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
        let v = gate().decide("/standup", &[(":path".into(), "/standup".into())], 0);
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
        let v = gate().decide("/libs/a.js", &[], 0);
        assert_eq!(names(&v), ["roomgate.allowed", "roomgate.route.public"]);
        assert!(denial_line(&gate(), &v).is_none());
    }

    #[test]
    fn the_denial_line_names_labels_not_tokens() {
        let headers = vec![("authorization".to_owned(), "Bearer a.b.c".to_owned())];
        let v = gate().decide("/standup", &headers, 0);
        let (level, line) = denial_line(&gate(), &v).unwrap();
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
        let v = head.decide(&gate(), 0);
        assert_eq!(v.denial, Some(Denial::BadRequest));
        assert!(v.edits.contains(&Edit::Remove("x-roomgate-admin".into())));
        // No `:path` (CONNECT): refused with 400 as well.
        let head = RequestHead::read(vec![(&b"x"[..], &b"y"[..])]).unwrap();
        assert_eq!(head.decide(&gate(), 0).denial, Some(Denial::BadRequest));
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
            Edit::Set("fail".into(), "1".into()),
            Edit::Remove("never".into()),
        ];
        let mut log = Log::default();
        assert!(apply_edits(&edits, &mut log).is_err());
        assert_eq!(log.0, ["remove a", "target /x", "set b=1"]);
    }

    #[test]
    fn unix_seconds_saturates_before_the_epoch() {
        assert_eq!(unix_seconds(UNIX_EPOCH), 0);
        let before = UNIX_EPOCH - std::time::Duration::from_secs(5);
        assert_eq!(unix_seconds(before), 0);
    }
}
