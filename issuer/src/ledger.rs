//! The ledger: an optional append-only file of what `issuer` minted and revoked, one JSON object
//! per line, and `issuer rooms`, which reads it back as the room-whitelist service's list of active
//! rooms.
//!
//! The filter keeps no state and never reads the ledger; it is the operator's record, so that
//! "which rooms are open right now, until when?" has an answer and a single token can be revoked by
//! its `jti`. A line never holds a token or a secret: only the room, times, profile, `jti` and
//! subject of a mint, and what a revocation did.
//!
//! Writers open the file for appending and write each line with one `write` call, so concurrent
//! `issuer` runs interleave whole lines. Readers skip (with a warning) a line they cannot parse —
//! a line cut short by a crash, say — rather than refusing the whole record.

use crate::cli::RoomsArgs;
use crate::output;
use crate::time;
use anyhow::{anyhow, Context as _};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    /// A token was minted.
    Mint(Minted),
    /// `issuer revoke` changed the filter configuration.
    Revoke(Revoked),
    /// `issuer revoke --undo` changed it back.
    Undo(Revoked),
}

/// What the ledger knows of a minted token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minted {
    /// The room the token opens.
    pub room_id: String,
    /// When it was minted (RFC 3339, UTC).
    pub created: String,
    /// Its `exp`.
    pub expires: String,
    /// Its `nbf`, when it starts later than it was minted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// What a room's cut-off (`revoked.issued_before`) is compared with: the token's `iat`, else
    /// its `nbf`; `None` when it carries neither (a cut-off then refuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<String>,
    /// `jitsi`, `videocall` or `generic`.
    pub profile: String,
    /// The token's `jti`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The token's `sub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

/// What a revocation (or its undo) did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Revoked {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The room closed (or reopened); with `issued_before`, the room whose older tokens are cut off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    /// The cut-off: the room's tokens issued strictly before it are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_before: Option<String>,
    /// The revoked token ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Whether the filter configuration compares rooms ignoring ASCII case.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub case_insensitive: bool,
}

/// The variable naming the ledger when `--ledger` is not given.
pub const LEDGER_ENV: &str = "ROOMGATE_LEDGER";

/// The ledger to use: `--ledger`, else a non-empty `$ROOMGATE_LEDGER`, else none.
pub fn path(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        env(LEDGER_ENV)
            .filter(|v| !v.trim().is_empty())
            .map(PathBuf::from)
    })
}

/// Appends `entry` as one line, creating the file (readable by its owner only) if needed.
pub fn append(path: &Path, entry: &Entry) -> anyhow::Result<()> {
    let mut line = serde_json::to_string(entry)?;
    line.push('\n');
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot open the ledger {}", path.display()))?;
    // One write per line: appends from concurrent runs do not interleave within a line.
    file.write_all(line.as_bytes())
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write to the ledger {}", path.display()))
}

/// Reads every entry; lines that do not parse are reported on stderr and skipped.
pub fn read(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the ledger {} (it is created by `issuer mint --ledger`)",
            path.display()
        )
    })?;
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => entries.push(e),
            Err(e) => output::warn(&format!(
                "{}:{}: skipped a line that is not a ledger entry ({e})",
                path.display(),
                i + 1
            )),
        }
    }
    Ok(entries)
}

fn instant(text: &str) -> Option<i64> {
    time::parse_instant(text).ok()
}

/// Why a token no longer opens its room, as far as the ledger knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenState {
    /// Valid (or not valid yet) and not revoked.
    Active,
    /// Its `exp` has passed.
    Expired,
    /// Its `jti` is revoked, or it was issued before its room's cut-off.
    Revoked,
    /// Its room is closed.
    Closed,
}

/// One room, summarised over its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Room {
    /// The room.
    pub room_id: String,
    /// The earliest mint among the counted tokens.
    pub created: String,
    /// The latest expiry among the counted tokens.
    pub expires: String,
    /// Tokens counted: the active ones (every one with `--all`).
    pub tokens: usize,
    /// With `--all`: active tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_tokens: Option<usize>,
    /// With `--all`: `active`, `closed`, `revoked` (every token revoked) or `expired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

/// `issuer rooms --json`: the room-whitelist service's room list.
#[derive(Debug, Serialize)]
pub struct RoomList {
    /// Rooms with at least one active token that are not closed.
    pub active_rooms: usize,
    /// The rooms listed.
    pub rooms: Vec<Room>,
}

/// The revocations in force after replaying the ledger in order.
#[derive(Default)]
struct Revocations {
    /// Closed rooms, with whether the comparison ignores case.
    rooms: Vec<(String, bool)>,
    /// Cut-offs per room.
    cutoffs: Vec<(String, bool, i64)>,
    jtis: Vec<String>,
}

fn same(a: &str, b: &str, ci: bool) -> bool {
    if ci {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

impl Revocations {
    fn apply(&mut self, r: &Revoked, undo: bool) {
        let ci = r.case_insensitive;
        if let Some(jti) = &r.jti {
            self.jtis.retain(|j| j != jti);
            if !undo {
                self.jtis.push(jti.clone());
            }
            return;
        }
        let Some(room) = &r.room_id else { return };
        match (undo, r.issued_before.as_deref().and_then(instant)) {
            (true, _) => {
                // As in the configuration: reopening drops the closure and the cut-off.
                self.rooms.retain(|(x, c)| !same(x, room, ci || *c));
                self.cutoffs.retain(|(x, c, _)| !same(x, room, ci || *c));
            }
            (false, Some(t)) => {
                self.cutoffs.retain(|(x, c, _)| !same(x, room, ci || *c));
                self.cutoffs.push((room.clone(), ci, t));
            }
            (false, None) => self.rooms.push((room.clone(), ci)),
        }
    }

    fn state(&self, m: &Minted, now: i64) -> TokenState {
        if self.rooms.iter().any(|(r, ci)| same(r, &m.room_id, *ci)) {
            return TokenState::Closed;
        }
        if m.jti.as_ref().is_some_and(|j| self.jtis.contains(j)) {
            return TokenState::Revoked;
        }
        let issued = m.issued.as_deref().and_then(instant);
        let cut = self
            .cutoffs
            .iter()
            .any(|(r, ci, t)| same(r, &m.room_id, *ci) && issued.is_none_or(|i| i < *t));
        if cut {
            return TokenState::Revoked;
        }
        match instant(&m.expires) {
            Some(exp) if exp > now => TokenState::Active,
            _ => TokenState::Expired,
        }
    }
}

/// The rooms of `entries` as of `now`: the active ones, or with `all` every room ever minted.
pub fn rooms(entries: &[Entry], now: i64, all: bool) -> RoomList {
    let mut revocations = Revocations::default();
    let mut minted = Vec::new();
    for e in entries {
        match e {
            Entry::Mint(m) => minted.push(m),
            Entry::Revoke(r) => revocations.apply(r, false),
            Entry::Undo(r) => revocations.apply(r, true),
        }
    }
    let mut by_room: BTreeMap<&str, Vec<(&Minted, TokenState)>> = BTreeMap::new();
    for m in minted {
        by_room
            .entry(m.room_id.as_str())
            .or_default()
            .push((m, revocations.state(m, now)));
    }
    let mut active_rooms = 0;
    let mut list = Vec::new();
    for (room, tokens) in by_room {
        let active: Vec<&Minted> = tokens
            .iter()
            .filter(|(_, s)| *s == TokenState::Active)
            .map(|(m, _)| *m)
            .collect();
        if !active.is_empty() {
            active_rooms += 1;
        }
        let counted: Vec<&Minted> = if all {
            tokens.iter().map(|(m, _)| *m).collect()
        } else {
            active.clone()
        };
        let (Some(created), Some(expires)) = (
            counted
                .iter()
                .min_by_key(|m| instant(&m.created))
                .map(|m| m.created.clone()),
            counted
                .iter()
                .max_by_key(|m| instant(&m.expires))
                .map(|m| m.expires.clone()),
        ) else {
            continue;
        };
        let status = all.then(|| {
            let best = tokens
                .iter()
                .map(|(_, s)| *s)
                .min()
                .unwrap_or(TokenState::Expired);
            match best {
                TokenState::Active => "active",
                TokenState::Expired => "expired",
                TokenState::Revoked => "revoked",
                TokenState::Closed => "closed",
            }
        });
        list.push(Room {
            room_id: room.to_owned(),
            created,
            expires,
            tokens: counted.len(),
            active_tokens: all.then_some(active.len()),
            status,
        });
    }
    list.sort_by(|a, b| {
        instant(&a.created)
            .cmp(&instant(&b.created))
            .then_with(|| a.room_id.cmp(&b.room_id))
    });
    RoomList {
        active_rooms,
        rooms: list,
    }
}

fn table(list: &RoomList, all: bool) -> String {
    let mut rows = vec![if all {
        vec!["ROOM", "CREATED", "EXPIRES", "TOKENS", "ACTIVE", "STATUS"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    } else {
        vec!["ROOM", "CREATED", "EXPIRES", "TOKENS"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    }];
    for r in &list.rooms {
        let mut row = vec![
            r.room_id.clone(),
            r.created.clone(),
            r.expires.clone(),
            r.tokens.to_string(),
        ];
        if all {
            row.push(r.active_tokens.unwrap_or(0).to_string());
            row.push(r.status.unwrap_or("").to_owned());
        }
        rows.push(row);
    }
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `issuer rooms`.
pub fn run(a: &RoomsArgs, now: i64) -> anyhow::Result<ExitCode> {
    let env = |name: &str| std::env::var(name).ok();
    let path = path(a.ledger.as_deref(), &env)
        .ok_or_else(|| anyhow!("give the ledger: --ledger FILE or {LEDGER_ENV}=FILE"))?;
    let entries = read(&path)?;
    let at = a.at.unwrap_or(now);
    let list = rooms(&entries, at, a.all);
    if a.json {
        output::product(&serde_json::to_string_pretty(&list)?)?;
    } else {
        output::product(&table(&list, a.all))?;
        output::note(&format!(
            "{} active room{} in {}",
            list.active_rooms,
            if list.active_rooms == 1 { "" } else { "s" },
            path.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    fn mint(room: &str, created: i64, expires: i64, jti: Option<&str>) -> Entry {
        Entry::Mint(Minted {
            room_id: room.into(),
            created: time::rfc3339(created),
            expires: time::rfc3339(expires),
            not_before: None,
            issued: Some(time::rfc3339(created)),
            profile: "jitsi".into(),
            jti: jti.map(str::to_owned),
            sub: None,
        })
    }

    fn revoke(f: impl FnOnce(&mut Revoked)) -> Entry {
        let mut r = Revoked {
            at: time::rfc3339(0),
            ..Revoked::default()
        };
        f(&mut r);
        Entry::Revoke(r)
    }

    #[test]
    fn lines_round_trip_and_never_carry_unknown_fields() -> anyhow::Result<()> {
        let e = mint("standup", 100, 700, Some("j1"));
        let line = serde_json::to_string(&e)?;
        assert!(
            line.starts_with(r#"{"event":"mint","room_id":"standup""#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Entry>(&line)?, e);
        let r = revoke(|r| r.room_id = Some("a".into()));
        let line = serde_json::to_string(&r)?;
        assert_eq!(
            line,
            r#"{"event":"revoke","at":"1970-01-01T00:00:00.000Z","room_id":"a"}"#
        );
        Ok(())
    }

    #[test]
    fn active_rooms_exclude_expired_closed_and_revoked_tokens() {
        let entries = vec![
            mint("a", 100, 1000, Some("a1")),
            mint("a", 200, 2000, Some("a2")),
            mint("old", 100, 300, None),
            mint("closed", 100, 1000, None),
            mint("cut", 100, 1000, None),
            mint("jti", 100, 1000, Some("j")),
            revoke(|r| {
                r.room_id = Some("CLOSED".into());
                r.case_insensitive = true;
            }),
            revoke(|r| {
                r.room_id = Some("cut".into());
                r.issued_before = Some(time::rfc3339(150));
            }),
            revoke(|r| r.jti = Some("j".into())),
            revoke(|r| r.jti = Some("a1".into())),
        ];
        let list = rooms(&entries, 500, false);
        assert_eq!(list.active_rooms, 1);
        assert_eq!(list.rooms.len(), 1);
        let a = &list.rooms[0];
        assert_eq!(
            (a.room_id.as_str(), a.tokens, a.created.as_str()),
            ("a", 1, time::rfc3339(200).as_str())
        );
        assert_eq!(a.expires, time::rfc3339(2000));

        let all = rooms(&entries, 500, true);
        let status: Vec<(&str, &str)> = all
            .rooms
            .iter()
            .map(|r| (r.room_id.as_str(), r.status.unwrap_or("")))
            .collect();
        assert!(status.contains(&("a", "active")));
        assert!(status.contains(&("old", "expired")));
        assert!(status.contains(&("closed", "closed")));
        assert!(status.contains(&("cut", "revoked")));
        assert!(status.contains(&("jti", "revoked")));
        assert_eq!(all.active_rooms, 1);
    }

    #[test]
    fn undo_reopens_and_a_later_cut_off_replaces_an_earlier_one() {
        let mut entries = vec![
            mint("r", 100, 1000, None),
            revoke(|r| r.room_id = Some("r".into())),
        ];
        assert_eq!(rooms(&entries, 500, false).active_rooms, 0);
        entries.push(Entry::Undo(Revoked {
            room_id: Some("r".into()),
            ..Revoked::default()
        }));
        assert_eq!(rooms(&entries, 500, false).active_rooms, 1);
        entries.push(revoke(|r| {
            r.room_id = Some("r".into());
            r.issued_before = Some(time::rfc3339(101));
        }));
        assert_eq!(rooms(&entries, 500, false).active_rooms, 0);
        entries.push(revoke(|r| {
            r.room_id = Some("r".into());
            r.issued_before = Some(time::rfc3339(50));
        }));
        assert_eq!(rooms(&entries, 500, false).active_rooms, 1);
    }

    #[test]
    fn a_token_that_cannot_prove_its_age_is_cut_off() {
        let Entry::Mint(mut m) = mint("v", 100, 1000, None) else {
            return;
        };
        m.issued = None;
        let entries = vec![
            Entry::Mint(m),
            revoke(|r| {
                r.room_id = Some("v".into());
                r.issued_before = Some(time::rfc3339(10));
            }),
        ];
        assert_eq!(rooms(&entries, 500, false).active_rooms, 0);
    }

    #[test]
    fn the_table_lines_up() {
        let list = rooms(&[mint("standup", 0, 600, None)], 10, false);
        let t = table(&list, false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("ROOM     CREATED"), "{t}");
        assert!(
            lines[1].starts_with("standup  1970-01-01T00:00:00.000Z"),
            "{t}"
        );
    }
}
