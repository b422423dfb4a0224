//! Jitsi Meet's own token check, run for real: `tests/lua/jitsi_token_check.lua` loads Jitsi's
//! Prosody plugins (`luajwtjitsi.lib.lua`, `token/util.lib.lua`, unmodified) on Prosody's own
//! util libraries and judges rows as Prosody does at login (`process_and_verify_token`) and at
//! the MUC join (`verify_room`). A restatement of Prosody's rules counts only once a run against
//! the real code confirmed it, and CI has neither Prosody nor Jitsi's plugins, so this runs when
//! `ROOMGATE_JITSI_PLUGINS` names a directory holding Jitsi's `resources/prosody-plugins`; the
//! suites that use it say clearly that they were skipped otherwise.
//!
//! `ROOMGATE_PROSODY_LUA` is the Lua interpreter (default `lua5.4`, the one Debian's Prosody 0.12
//! runs on); `ROOMGATE_PROSODY_LIBS` is Prosody's library directory (default `/usr/lib/prosody`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The directory of Jitsi's Prosody plugins from `$ROOMGATE_JITSI_PLUGINS`, if set.
pub fn jitsi_plugins() -> Option<PathBuf> {
    std::env::var_os("ROOMGATE_JITSI_PLUGINS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// The Lua interpreter: `$ROOMGATE_PROSODY_LUA`, else `lua5.4`.
pub fn lua() -> PathBuf {
    std::env::var_os("ROOMGATE_PROSODY_LUA")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("lua5.4"), PathBuf::from)
}

/// Prosody's libraries: `$ROOMGATE_PROSODY_LIBS`, else `/usr/lib/prosody`.
pub fn prosody_libs() -> PathBuf {
    std::env::var_os("ROOMGATE_PROSODY_LIBS")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("/usr/lib/prosody"), PathBuf::from)
}

/// What was run: Prosody's version (its `prosody.version`), the interpreter's, and the plugins'
/// directory, for the test's report.
pub fn versions(plugins: &Path) -> String {
    let prosody = std::fs::read_to_string(prosody_libs().join("prosody.version"))
        .map_or_else(|e| format!("unknown ({e})"), |v| v.trim().to_owned());
    let lua = Command::new(lua()).arg("-v").output().map_or_else(
        |e| format!("unknown ({e})"),
        |o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text).trim().to_owned()
        },
    );
    format!(
        "Prosody {prosody} libraries ({}), {lua}, Jitsi plugins from {}",
        prosody_libs().display(),
        plugins.display()
    )
}

/// How Prosody is configured on the XMPP domain (`meet.jitsi`, MUC `conference.meet.jitsi`,
/// domain verification on, no empty tokens, a room claim required).
#[derive(Debug, Clone)]
pub struct JitsiConfig<'a> {
    /// `app_id`.
    pub app_id: &'a str,
    /// `app_secret`.
    pub app_secret: &'a str,
    /// `asap_accepted_issuers`; `None` leaves it unset (Jitsi's default: the app id).
    pub issuers: Option<&'a [&'a str]>,
    /// `asap_accepted_audiences`; `None` leaves it unset (Jitsi's default: `*`).
    pub audiences: Option<&'a [&'a str]>,
}

/// One participant: a token, the MUC node the web app joins, and the tenant, if any.
#[derive(Debug, Clone)]
pub struct Participant<'a> {
    /// The row's name.
    pub name: &'a str,
    /// The token (`?token=` on the websocket).
    pub token: &'a str,
    /// The MUC node (the room name as Jitsi's web app sends it).
    pub muc_node: &'a str,
    /// The tenant (`/tenant/room`), joined as `room@conference.tenant.meet.jitsi`.
    pub tenant: Option<&'a str>,
}

/// Prosody's verdict on one participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Logged in and joined the room.
    Admit,
    /// Refused at `stage` (`login` or `join`) with Jitsi's reason.
    Refuse {
        /// `login` (SASL) or `join` (the MUC join).
        stage: String,
        /// What Jitsi's code returned.
        reason: String,
    },
}

impl Verdict {
    /// Whether the participant got in.
    pub fn admitted(&self) -> bool {
        *self == Self::Admit
    }
}

fn list(items: Option<&[&str]>) -> String {
    items.map_or_else(|| "-".to_owned(), |l| l.join(","))
}

/// Runs every participant through Jitsi's code, minted for `now` (the real code reads the clock
/// itself; the driver refuses to run when it is more than 5 s away from `now`). One verdict per
/// participant, in order.
pub fn judge(
    plugins: &Path,
    config: &JitsiConfig<'_>,
    now: i64,
    participants: &[Participant<'_>],
) -> Result<Vec<Verdict>, String> {
    let driver = crate::repo_root().join("tests/lua/jitsi_token_check.lua");
    let mut input = String::new();
    for p in participants {
        for field in [p.name, p.token, p.muc_node, p.tenant.unwrap_or("-")] {
            if field.contains(['\t', '\n']) || field.is_empty() {
                return Err(format!(
                    "{}: a field is empty or has a tab or newline",
                    p.name
                ));
            }
        }
        let _ = writeln!(
            input,
            "{}\t{}\t{}\t{}",
            p.name,
            p.token,
            p.muc_node,
            p.tenant.unwrap_or("-")
        );
    }
    let mut child = Command::new(lua())
        .arg(&driver)
        .arg(plugins)
        .arg(prosody_libs())
        .arg(config.app_id)
        .arg(config.app_secret)
        .arg(list(config.issuers))
        .arg(list(config.audiences))
        .arg(now.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", lua().display()))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(input.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed ({}): {}",
            lua().display(),
            driver.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    if lines.len() != participants.len() {
        return Err(format!(
            "{} verdicts for {} rows:\n{stdout}",
            lines.len(),
            participants.len()
        ));
    }
    participants
        .iter()
        .zip(lines)
        .map(|(p, line)| {
            let mut fields = line.split('\t');
            if fields.next() != Some(p.name) {
                return Err(format!("expected {}, got {line}", p.name));
            }
            match (fields.next(), fields.next(), fields.next()) {
                (Some("admit"), None, None) => Ok(Verdict::Admit),
                (Some("refuse"), Some(stage), Some(reason)) => Ok(Verdict::Refuse {
                    stage: stage.to_owned(),
                    reason: reason.to_owned(),
                }),
                _ => Err(format!("unreadable verdict: {line}")),
            }
        })
        .collect()
}
