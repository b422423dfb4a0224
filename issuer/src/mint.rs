//! `issuer mint`: one token for one room, by profile, and its self-check through the filter.
//!
//! After signing, the token is run through the filter's engine with the profile's configuration
//! for the same settings (see [`crate::profile::filter_config`]). A token the default filter would
//! refuse (a lifetime over its 24 h maximum, say) is still printed, since the operator's filter
//! may be configured differently, but with a warning that says why.

use crate::cli::{MintArgs, NotBefore};
use crate::ledger::{self, Entry, Minted};
use crate::output;
use crate::profile::{self, Identity, Profile, Settings, FILTER_MAX_LIFETIME};
use crate::room_id::{random_bytes, Spec};
use crate::secret::{self, Secret};
use crate::time;
use anyhow::{anyhow, bail, Context as _};
use roomgate_filter::config::hex;
use roomgate_filter::Gate;
use serde::Serialize;
use serde_json::{Map, Value};
use std::process::ExitCode;

/// The first entry of a comma-separated list variable such as `JWT_ACCEPTED_ISSUERS`.
fn first_of(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    env(var)?
        .split(',')
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Refuses flags that mean nothing for the chosen profile, instead of silently dropping them.
fn check_flags(a: &MintArgs) -> anyhow::Result<()> {
    let misplaced: &[(bool, &str, &str)] = match a.profile {
        Profile::Jitsi => &[
            (
                a.host,
                "--host",
                "jitsi participants are moderators unless --no-moderator",
            ),
            (
                a.role.is_some(),
                "--role",
                "use --claim role=… for an extra claim",
            ),
            (
                a.admin,
                "--admin",
                "use --claim admin=true for an extra claim",
            ),
        ],
        Profile::Videocall => &[
            (
                a.no_moderator,
                "--no-moderator",
                "videocall participants are hosts only with --host",
            ),
            (
                a.role.is_some(),
                "--role",
                "use --claim role=… for an extra claim",
            ),
            (
                a.admin,
                "--admin",
                "use --claim admin=true for an extra claim",
            ),
        ],
        Profile::Generic => &[
            (a.no_moderator, "--no-moderator", "use --role or --admin"),
            (a.host, "--host", "use --role or --admin"),
            (
                a.name.is_some(),
                "--name",
                "use --claim name=… for an extra claim",
            ),
            (
                a.email.is_some(),
                "--email",
                "use --sub for the user ID, or --claim email=…",
            ),
        ],
    };
    if let Some((_, flag, hint)) = misplaced.iter().find(|(set, _, _)| *set) {
        bail!(
            "{flag} does not apply to {} tokens: {hint}",
            a.profile.name()
        );
    }
    if a.profile == Profile::Videocall {
        match (&a.email, &a.sub) {
            (Some(_), Some(_)) => {
                bail!("videocall tokens carry the email as sub: give --email or --sub, not both")
            }
            (None, None) => bail!(
                "videocall tokens identify the participant by email: pass --email alice@example.com"
            ),
            _ => {}
        }
        // The media server's `decode_room_token` accepts one issuer, `RoomAccessTokenClaims::ISSUER`,
        // and jsonwebtoken refuses an audience it was not told to expect.
        if let Some(iss) = a.iss.as_deref().filter(|i| *i != profile::VIDEOCALL_ISSUER) {
            bail!(
                "--iss {iss:?}: the videocall.rs media server accepts only its meeting backend's \
                 issuer, {:?}",
                profile::VIDEOCALL_ISSUER
            );
        }
        if a.claims.iter().any(|(k, _)| k == "aud") {
            bail!(
                "--claim aud: the videocall.rs media server refuses tokens with an aud claim \
                 (its validator expects none)"
            );
        }
    }
    Ok(())
}

/// Deep-merges `value` into `claims[key]`; refuses to overwrite what the profile set.
fn add_claim(
    claims: &mut Map<String, Value>,
    key: &str,
    value: Value,
    profile: Profile,
) -> anyhow::Result<()> {
    fn merge(
        into: &mut Map<String, Value>,
        from: Map<String, Value>,
        at: &str,
    ) -> Result<(), String> {
        for (k, v) in from {
            let path = format!("{at}.{k}");
            match (into.get_mut(&k), v) {
                (Some(Value::Object(a)), Value::Object(b)) => merge(a, b, &path)?,
                (Some(_), _) => return Err(path),
                (None, v) => {
                    into.insert(k, v);
                }
            }
        }
        Ok(())
    }
    match (claims.get_mut(key), value) {
        (None, v) => {
            claims.insert(key.to_owned(), v);
            Ok(())
        }
        (Some(Value::Object(existing)), Value::Object(extra)) => merge(existing, extra, key)
            .map_err(|path| {
                anyhow!(
                    "--claim {key}: {path} is already set by the {} profile; use its flag",
                    profile.name()
                )
            }),
        (Some(_), _) => {
            let flag = match key {
                "iss" => "--iss",
                "aud" => "--aud",
                "sub" => "--sub",
                "jti" => "--jti",
                "role" => "--role",
                "admin" => "--admin",
                "is_host" => "--host",
                "display_name" => "--name",
                _ => "its flag",
            };
            bail!(
                "--claim {key}: the {} profile already sets {key}; use {flag}",
                profile.name()
            )
        }
    }
}

/// `--json`: the room-whitelist service's `POST /api/rooms` answer, plus the token.
#[derive(Serialize)]
struct MintOutput<'a> {
    success: bool,
    room_id: &'a str,
    url: Option<&'a str>,
    token: &'a str,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<String>,
    profile: &'a str,
}

/// Runs `issuer mint`.
pub fn run(a: &MintArgs, now: i64) -> anyhow::Result<ExitCode> {
    let env = |name: &str| std::env::var(name).ok();
    let profile = a.profile;
    check_flags(a)?;

    let (room, generated) = match &a.room {
        Some(room) => (room.clone(), false),
        None => {
            let spec = Spec::new(a.room_id.unwrap_or_default(), a.sections, a.symbols)?;
            (spec.generate()?, true)
        }
    };
    profile::check_room(profile, &room).map_err(|e| anyhow!(e))?;

    let secret = secret::load(
        a.secret.secret.as_ref(),
        a.secret.secret_file.as_ref(),
        &a.secret.key.env_name(Some(profile)),
        a.secret.key.secret_encoding,
        &env,
    )?;
    secret::check_strength(&secret, a.allow_weak_secret)?;

    let start = match a.not_before {
        None => None,
        Some(NotBefore::At(t)) => Some(t),
        Some(NotBefore::In(d)) => Some(now.saturating_add(d)),
    };
    let valid_from = start.unwrap_or(now);
    let expires = match a.expires {
        Some(t) => t,
        None => valid_from.saturating_add(a.lifetime.unwrap_or(profile.default_lifetime())),
    };
    if expires <= now {
        bail!(
            "--expires {} is in the past; the token would be born expired",
            time::rfc3339(expires)
        );
    }
    if expires <= valid_from {
        bail!(
            "the token would expire ({}) before it becomes valid ({})",
            time::rfc3339(expires),
            time::rfc3339(valid_from)
        );
    }
    let lifetime = expires - valid_from;
    if lifetime > FILTER_MAX_LIFETIME {
        output::warn(&format!(
            "the token lives {}; the filter refuses lifetimes over {} unless its jwt.max_lifetime_seconds is raised",
            time::span(lifetime),
            time::span(FILTER_MAX_LIFETIME)
        ));
    }

    let iss = match profile {
        Profile::Jitsi => Some(
            a.iss
                .clone()
                .or_else(|| first_of(&env, "JWT_ACCEPTED_ISSUERS"))
                .ok_or_else(|| {
                    anyhow!(
                        "jitsi tokens need an issuer that Jitsi (and the filter) accept: pass --iss or set JWT_ACCEPTED_ISSUERS"
                    )
                })?,
        ),
        Profile::Videocall => Some(a.iss.clone().unwrap_or_else(|| profile::VIDEOCALL_ISSUER.into())),
        Profile::Generic => a.iss.clone().or_else(|| first_of(&env, "JWT_ACCEPTED_ISSUERS")),
    };
    let aud = match profile {
        Profile::Jitsi => Some(
            a.aud
                .clone()
                .or_else(|| first_of(&env, "JWT_ACCEPTED_AUDIENCES"))
                .unwrap_or_else(|| profile::JITSI_AUDIENCE.into()),
        ),
        Profile::Videocall => {
            if a.aud.is_some() {
                return Err(anyhow!(
                    "--aud: the videocall.rs media server refuses every token with an aud claim \
                     (its validator expects none)"
                ));
            }
            None
        }
        Profile::Generic => a
            .aud
            .clone()
            .or_else(|| first_of(&env, "JWT_ACCEPTED_AUDIENCES")),
    };
    // With the accepted lists set, a value outside them makes a token Prosody (and the filter)
    // refuse: refused here instead of minted.
    if profile != Profile::Videocall {
        for (value, var, flag) in [
            (&iss, "JWT_ACCEPTED_ISSUERS", "--iss"),
            (&aud, "JWT_ACCEPTED_AUDIENCES", "--aud"),
        ] {
            if let (Some(value), Some(list)) = (value, env(var)) {
                let accepted: Vec<&str> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                if !accepted.is_empty() && !accepted.iter().any(|x| *x == "*" || x == value) {
                    bail!(
                        "{flag} {value:?} is not in {var} ({}): Jitsi's Prosody and the filter \
                         would refuse the token",
                        accepted.join(", ")
                    );
                }
            }
        }
    }
    let ledger_path = ledger::path(a.ledger.as_deref(), &env);
    // A ledgered token gets a jti, so that it can be revoked alone.
    let jti = match (a.jti.as_deref(), &ledger_path) {
        (None, None) => None,
        (None, Some(_)) | (Some(""), _) => Some(hex(&random_bytes(16)?)),
        (Some(id), _) => Some(id.to_owned()),
    };
    let identity = Identity {
        room: room.clone(),
        iss: iss.clone(),
        aud: aud.clone(),
        sub: a.sub.clone(),
        name: a.name.clone(),
        email: a.email.clone(),
        moderator: match profile {
            Profile::Jitsi => !a.no_moderator,
            _ => a.host,
        },
        role: a.role.clone(),
        admin: a.admin,
        observer: a.observer,
        issued_at: now,
        not_before: start,
        expires,
        jti,
    };
    let mut claims = profile::claims(profile, &identity);
    for (key, value) in &a.claims {
        add_claim(&mut claims, key, value.clone(), profile)?;
    }
    let token = roomgate_filter::jwt::sign(&claims, &secret.bytes, a.kid.as_deref())
        .context("cannot sign the token")?;
    if let Some(path) = &ledger_path {
        // Before the token is printed: a token the ledger does not know could not be listed or
        // revoked by its jti.
        ledger::append(path, &ledger_entry(&claims, profile, &room, now))?;
    }

    self_check(a, &secret, &room, &token, valid_from.max(now), iss, aud);

    if generated {
        output::note(&format!("room {room}"));
    }
    let url = a
        .url
        .as_deref()
        .map(|base| profile.link(base, &room, &token));
    let text = if a.json {
        serde_json::to_string_pretty(&MintOutput {
            success: true,
            room_id: &room,
            url: url.as_deref(),
            token: &token,
            expires_at: time::rfc3339(expires),
            not_before: start.map(time::rfc3339),
            profile: profile.name(),
        })?
    } else {
        url.unwrap_or(token)
    };
    output::product(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The ledger's record of a token: its room, times, profile, jti and subject, from its claims.
fn ledger_entry(claims: &Map<String, Value>, profile: Profile, room: &str, now: i64) -> Entry {
    let int = |k: &str| claims.get(k).and_then(Value::as_i64);
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let nbf = int("nbf");
    Entry::Mint(Minted {
        room_id: room.to_owned(),
        created: time::rfc3339(now),
        expires: time::rfc3339(int("exp").unwrap_or(now)),
        not_before: nbf.filter(|t| *t > now).map(time::rfc3339),
        issued: int("iat").or(nbf).map(time::rfc3339),
        profile: profile.name().to_owned(),
        jti: text("jti"),
        sub: text("sub"),
    })
}

/// Runs the token through the filter's engine with the profile's configuration; warns on denial.
fn self_check(
    a: &MintArgs,
    secret: &Secret,
    room: &str,
    token: &str,
    at: i64,
    iss: Option<String>,
    aud: Option<String>,
) {
    if secret.bytes.len() < roomgate_filter::config::MIN_SECRET_BYTES {
        return;
    }
    let settings = Settings {
        issuers: iss.into_iter().collect(),
        audiences: aud.into_iter().collect(),
        secret_env: a.secret.key.env_name(Some(a.profile)),
        encoding: a.secret.key.secret_encoding,
        kid: a.kid.clone(),
        ..Settings::default()
    };
    let config = profile::filter_config(Some(a.profile), &settings).to_string();
    let var = settings.secret_env.as_str();
    let env = |name: &str| (name == var).then(|| secret.text.clone());
    match Gate::from_json(config.as_bytes(), &env) {
        Ok(gate) => {
            let (path, headers) = profile::request(Some(a.profile), room, token);
            if let Some(denial) = gate.decide(&path, &headers, at).denial {
                output::warn(&format!(
                    "the default {} filter configuration would refuse this token: {} ({})",
                    a.profile.name(),
                    denial.message(),
                    denial.reason()
                ));
            }
        }
        Err(e) => output::warn(&format!("could not self-check the token: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_claims_merge_into_objects_but_never_overwrite() -> anyhow::Result<()> {
        let mut c = Map::new();
        c.insert("context".into(), json!({"user": {"name": "A"}}));
        c.insert("iss".into(), json!("x"));
        add_claim(
            &mut c,
            "context",
            json!({"features": {"rec": true}}),
            Profile::Jitsi,
        )?;
        assert_eq!(
            c.get("context"),
            Some(&json!({"user": {"name": "A"}, "features": {"rec": true}}))
        );
        assert!(add_claim(
            &mut c,
            "context",
            json!({"user": {"name": "B"}}),
            Profile::Jitsi
        )
        .is_err());
        let e = add_claim(&mut c, "iss", json!("y"), Profile::Jitsi).err();
        assert!(e.is_some_and(|e| e.to_string().contains("--iss")));
        add_claim(&mut c, "group", json!(3), Profile::Jitsi)?;
        assert_eq!(c.get("group"), Some(&json!(3)));
        Ok(())
    }

    #[test]
    fn lists_give_their_first_non_empty_entry() {
        let env = |_: &str| Some(" , roomgate, meet".to_owned());
        assert_eq!(first_of(&env, "X").as_deref(), Some("roomgate"));
        assert_eq!(first_of(&|_: &str| None, "X"), None);
    }
}
