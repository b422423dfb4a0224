//! `issuer revoke`: close a room, revoke one token, or cut off a room's older tokens, early.
//!
//! JWTs cannot be recalled once handed out; what can change is the filter configuration that judges
//! them. This command edits its `revoked` section (the room-whitelist service's "delete a room
//! before it expires") in the file the proxy loads: a plain JSON configuration, an ECDS
//! DiscoveryResponse (`deploy/envoy-ecds/roomgate.yaml`, in YAML or JSON), or any YAML file with
//! one `value: |` block holding the configuration (such as `envoy.yaml`). In YAML everything
//! outside that block is left byte for byte as it was; JSON is re-printed in schema order. The
//! edited configuration is compiled by the filter's engine before anything is written, and the new
//! file replaces the old one by rename, so a watching Envoy (ECDS) never reads a half-written file
//! and never receives a configuration the filter would refuse.

use crate::cli::{Cutoff, RevokeArgs};
use crate::decode::{decode, read_token};
use crate::ledger::{self, Entry, Revoked};
use crate::output;
use crate::time;
use anyhow::{anyhow, bail, Context as _};
use roomgate_filter::config::RawConfig;
use roomgate_filter::{ConfigError, Gate};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::ExitCode;

/// Where the configuration sits inside the file.
pub(crate) enum Holder {
    /// The file is the configuration (JSON).
    Plain,
    /// A JSON DiscoveryResponse; the configuration is the string at `resources[index]`'s value.
    Resources { doc: Value, index: usize },
    /// Text with one `value: |` block: the block's lines `[start, end)`, indented by `indent`.
    Block {
        text: String,
        start: usize,
        end: usize,
        indent: usize,
    },
}

fn value_of(resource: &Value) -> Option<&str> {
    resource
        .pointer("/typed_config/config/configuration/value")
        .and_then(Value::as_str)
}

fn value_of_mut(resource: &mut Value) -> Option<&mut Value> {
    resource.pointer_mut("/typed_config/config/configuration/value")
}

/// Finds the configuration in `text`; returns the holder and the configuration's JSON text.
pub(crate) fn locate(text: &str) -> anyhow::Result<(Holder, String)> {
    if let Ok(doc) = serde_json::from_str::<Value>(text) {
        if let Some(resources) = doc.get("resources").and_then(Value::as_array) {
            let index = resources
                .iter()
                .position(|r| value_of(r).is_some())
                .ok_or_else(|| {
                    anyhow!("no resource holds typed_config.config.configuration.value")
                })?;
            let config = resources
                .get(index)
                .and_then(value_of)
                .unwrap_or_default()
                .to_owned();
            return Ok((Holder::Resources { doc, index }, config));
        }
        if doc.is_object() {
            let config = doc.to_string();
            return Ok((Holder::Plain, config));
        }
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_end();
            t.ends_with("value: |") || t.ends_with("value: |-") || t.ends_with("value: |+")
        })
        .map(|(i, _)| i)
        .collect();
    let [at] = starts.as_slice() else {
        bail!(
            "expected a JSON configuration, an ECDS DiscoveryResponse, or YAML with exactly one \
             `value: |` block holding the configuration; found {} such blocks",
            starts.len()
        );
    };
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let owner = lines.get(*at).map_or(0, |l| indent_of(l));
    let start = at + 1;
    let mut end = start;
    let mut indent = usize::MAX;
    while let Some(line) = lines.get(end) {
        if line.trim().is_empty() {
            end += 1;
            continue;
        }
        let i = indent_of(line);
        if i <= owner {
            break;
        }
        indent = indent.min(i);
        end += 1;
    }
    // Trailing blank lines belong to what follows.
    while end > start && lines.get(end - 1).is_some_and(|l| l.trim().is_empty()) {
        end -= 1;
    }
    if indent == usize::MAX {
        bail!("the `value: |` block is empty");
    }
    let config: String = lines
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|l| l.get(indent..).unwrap_or("\n"))
        .collect();
    Ok((
        Holder::Block {
            text: text.to_owned(),
            start,
            end,
            indent,
        },
        config,
    ))
}

/// Renders the file with `config` put back where it was found.
fn render(holder: Holder, config: &Value) -> anyhow::Result<String> {
    Ok(match holder {
        Holder::Plain => format!("{}\n", output::config_json(config)),
        Holder::Resources { mut doc, index } => {
            let slot = doc
                .get_mut("resources")
                .and_then(|r| r.get_mut(index))
                .and_then(value_of_mut)
                .ok_or_else(|| anyhow!("the resource disappeared"))?;
            *slot = Value::String(output::config_json(config));
            format!("{}\n", serde_json::to_string_pretty(&doc)?)
        }
        Holder::Block {
            text,
            start,
            end,
            indent,
        } => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let pad = " ".repeat(indent);
            let mut out: String = lines.get(..start).unwrap_or_default().concat();
            for line in output::config_json(config).lines() {
                out.push_str(&pad);
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(&lines.get(end..).unwrap_or_default().concat());
            out
        }
    })
}

fn list<'a>(revoked: &'a mut Map<String, Value>, key: &str) -> anyhow::Result<&'a mut Vec<Value>> {
    revoked
        .entry(key)
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(|| anyhow!("revoked.{key} is not a list"))
}

/// The cut-off instant: the filter revokes tokens issued strictly before it, so "now" must include
/// the link minted a moment ago in this same second.
fn cutoff_time(cutoff: Cutoff, now: i64) -> i64 {
    match cutoff {
        Cutoff::Now => now + 1,
        Cutoff::At(t) => t,
    }
}

/// The ledger's record of this revocation.
fn ledger_entry(a: &RevokeArgs, config: &Value, jti: Option<&str>, now: i64) -> Entry {
    let record = Revoked {
        at: time::rfc3339(now),
        room_id: if jti.is_some() { None } else { a.room.clone() },
        issued_before: a
            .issued_before
            .filter(|_| jti.is_none())
            .map(|c| time::rfc3339(cutoff_time(c, now))),
        jti: jti.map(str::to_owned),
        case_insensitive: config
            .pointer("/rooms/case_insensitive")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    if a.undo {
        Entry::Undo(record)
    } else {
        Entry::Revoke(record)
    }
}

/// Applies the change; returns a description, or `None` when there was nothing to change.
fn edit(
    a: &RevokeArgs,
    config: &mut Value,
    jti: Option<&str>,
    now: i64,
) -> anyhow::Result<Option<String>> {
    let ci = config
        .pointer("/rooms/case_insensitive")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let same = |x: &str, y: &str| {
        if ci {
            x.eq_ignore_ascii_case(y)
        } else {
            x == y
        }
    };
    let root = config
        .as_object_mut()
        .ok_or_else(|| anyhow!("the configuration is not a JSON object"))?;
    let revoked = root
        .entry("revoked")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| anyhow!("revoked is not an object"))?;

    if let Some(jti) = jti {
        let jtis = list(revoked, "jtis")?;
        let present = jtis.iter().any(|j| j.as_str() == Some(jti));
        return Ok(match (a.undo, present) {
            (false, false) => {
                jtis.push(json!(jti));
                Some(format!("token {jti:?} revoked"))
            }
            (true, true) => {
                jtis.retain(|j| j.as_str() != Some(jti));
                Some(format!("token {jti:?} no longer revoked"))
            }
            (false, true) => None,
            (true, false) => None,
        });
    }
    let Some(room) = a.room.as_deref() else {
        bail!("give --room, --jti or --token");
    };
    if room.is_empty() {
        bail!("the room name is empty");
    }
    if a.undo {
        let rooms = list(revoked, "rooms")?;
        let before = rooms.len();
        rooms.retain(|r| !r.as_str().is_some_and(|r| same(r, room)));
        let reopened = rooms.len() != before;
        let cutoffs = revoked
            .entry("issued_before")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .ok_or_else(|| anyhow!("revoked.issued_before is not an object"))?;
        let before = cutoffs.len();
        cutoffs.retain(|r, _| !same(r, room));
        let uncut = cutoffs.len() != before;
        return Ok((reopened || uncut).then(|| format!("room {room:?} reopened")));
    }
    match a.issued_before {
        None => {
            let rooms = list(revoked, "rooms")?;
            if rooms
                .iter()
                .any(|r| r.as_str().is_some_and(|r| same(r, room)))
            {
                return Ok(None);
            }
            rooms.push(json!(room));
            Ok(Some(format!("room {room:?} closed")))
        }
        Some(cutoff) => {
            let t = cutoff_time(cutoff, now);
            let cutoffs = revoked
                .entry("issued_before")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or_else(|| anyhow!("revoked.issued_before is not an object"))?;
            let key = cutoffs
                .keys()
                .find(|r| same(r, room))
                .cloned()
                .unwrap_or_else(|| room.to_owned());
            if cutoffs.get(&key).and_then(Value::as_i64) == Some(t) {
                return Ok(None);
            }
            cutoffs.insert(key, json!(t));
            Ok(Some(format!(
                "tokens for room {room:?} issued before {} revoked; tokens minted from then on work",
                time::rfc3339(t)
            )))
        }
    }
}

/// Compiles the configuration as the filter would; a missing environment variable is not this
/// machine's business (the proxy has its own environment).
fn check(config: &Value) -> anyhow::Result<()> {
    let text = config.to_string();
    serde_json::from_str::<RawConfig>(&text)
        .map_err(|e| anyhow!("the edited configuration is not valid: {e}"))?;
    let env = |name: &str| std::env::var(name).ok();
    match Gate::from_json(text.as_bytes(), &env) {
        Ok(_) | Err(ConfigError::MissingEnv { .. }) => Ok(()),
        Err(e) => {
            bail!("the filter would refuse the edited configuration, so it was not written: {e}")
        }
    }
}

/// Writes `text` next to `path` and renames it over `path`, keeping the file's permissions.
fn replace(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.issuer-tmp", name.to_string_lossy()));
    let permissions = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions();
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::set_permissions(&tmp, permissions.clone())?;
        std::fs::rename(&tmp, path)
    };
    write()
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("cannot replace {}", path.display()))
}

/// Runs `issuer revoke`.
pub fn run(a: &RevokeArgs, now: i64) -> anyhow::Result<ExitCode> {
    let jti = match (&a.jti, &a.token) {
        (Some(j), _) => Some(j.clone()),
        (None, Some(arg)) => {
            let token = read_token(arg)?;
            let d = decode(&token).map_err(|e| anyhow!(e))?;
            let room = d.str_claim("room").unwrap_or("(none)").to_owned();
            match d.str_claim("jti") {
                Some(j) => {
                    if let Some(exp) = d.time_claim("exp").filter(|e| *e < now) {
                        output::note(&format!(
                            "this token expired {}; revoking it changes nothing for the filter",
                            time::relative(exp, now)
                        ));
                    }
                    Some(j.to_owned())
                }
                None => bail!(
                    "this token has no jti, so it cannot be revoked alone (mint with --jti). Instead \
                     revoke every token of its room {room:?} issued until now: \
                     --room {room} --issued-before, or close the room: --room {room}"
                ),
            }
        }
        (None, None) => None,
    };
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("cannot read {}", a.config.display()))?;
    let (holder, config_text) = locate(&text).with_context(|| {
        format!(
            "{}: cannot find the roomgate configuration",
            a.config.display()
        )
    })?;
    let mut config: Value = serde_json::from_str(&config_text)
        .map_err(|e| anyhow!("{}: the configuration is not JSON: {e}", a.config.display()))?;
    let entry = ledger_entry(a, &config, jti.as_deref(), now);
    let Some(change) = edit(a, &mut config, jti.as_deref(), now)? else {
        output::note(&format!("nothing to change in {}", a.config.display()));
        if a.dry_run {
            output::product(text.trim_end())?;
        } else {
            record(a, &entry)?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    check(&config)?;
    let new_text = render(holder, &config)?;
    if a.dry_run {
        output::note(&format!(
            "{change} (dry run: {} not written)",
            a.config.display()
        ));
        output::product(new_text.trim_end())?;
    } else {
        replace(&a.config, &new_text)?;
        output::note(&format!("{change} in {}", a.config.display()));
        record(a, &entry)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Appends the revocation to the ledger, when there is one. The configuration is what the proxy
/// enforces, so it is written first; the ledger only follows it.
fn record(a: &RevokeArgs, entry: &Entry) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok();
    let Some(path) = ledger::path(a.ledger.as_deref(), &env) else {
        return Ok(());
    };
    ledger::append(&path, entry).context(
        "the configuration was changed, but the ledger was not: run the same command again to record it",
    )?;
    output::note(&format!("recorded in {}", path.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    const ECDS: &str = "# comment kept\nresources:\n- name: roomgate\n  typed_config:\n    config:\n      configuration:\n        value: |\n          {\n            \"jwt\": {\"keys\": [{\"secret_env\": \"S\"}]},\n\n            \"routes\": []\n          }\n      other: 1\n";

    #[test]
    fn a_value_block_is_found_and_put_back_with_the_rest_untouched() -> anyhow::Result<()> {
        let (holder, text) = locate(ECDS)?;
        let mut v: Value = serde_json::from_str(&text)?;
        v["revoked"] = json!({"rooms": ["a"]});
        let out = render(holder, &v)?;
        assert!(out.starts_with("# comment kept\nresources:\n"), "{out}");
        assert!(out.ends_with("          }\n      other: 1\n"), "{out}");
        assert!(
            out.contains("          \"revoked\": {\"rooms\": [\"a\"]}"),
            "{out}"
        );
        Ok(())
    }

    #[test]
    fn two_value_blocks_are_ambiguous() {
        let twice = format!("{ECDS}{ECDS}");
        assert!(locate(&twice).is_err());
        assert!(locate("just: yaml\n").is_err());
    }

    #[test]
    fn json_discovery_responses_keep_their_shape() -> anyhow::Result<()> {
        let doc = json!({"resources": [{"typed_config": {"config": {"configuration": {"value": "{\"routes\": []}"}}}}]});
        let (holder, text) = locate(&doc.to_string())?;
        assert_eq!(text, "{\"routes\": []}");
        let out = render(holder, &json!({"routes": [], "revoked": {"jtis": ["x"]}}))?;
        let back: Value = serde_json::from_str(&out)?;
        let inner = back["resources"][0]["typed_config"]["config"]["configuration"]["value"]
            .as_str()
            .unwrap_or_default();
        assert!(inner.contains("\"jtis\": [\"x\"]"));
        Ok(())
    }
}
