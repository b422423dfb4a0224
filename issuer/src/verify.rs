//! `issuer verify`: the filter's own answer for a token, and the reason behind a "no".
//!
//! The verdict is never computed here. The settings become a filter configuration (a profile's,
//! exactly what `issuer config` prints, or the operator's own file), a request carrying the token
//! is built the way that profile's clients send it, and [`Gate::decide`] answers. This module only
//! adds the explanation: which claim, which value, which setting made the engine say no.

use crate::cli::{VerifyArgs, EXIT_REJECTED};
use crate::decode::{decode, read_token, Decoded};
use crate::output;
use crate::profile::{self, Profile, Settings, VIDEOCALL_ISSUER};
use crate::secret::{self, SecretSource};
use crate::time;
use anyhow::{anyhow, bail, Context as _};
use roomgate_filter::config::{RawConfig, MIN_SECRET_BYTES};
use roomgate_filter::engine::{Edit, Gate, Verdict};
use roomgate_filter::sources::Source;
use roomgate_filter::{ConfigError, Denial, Mode};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::process::ExitCode;

/// What the configuration accepts, for explanations only (the decision is the engine's).
#[derive(Debug, Default)]
struct Accepts {
    issuers: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    leeway: i64,
    max_lifetime: i64,
    kids: Vec<String>,
    requires: Vec<(String, Value)>,
    case_insensitive: bool,
    key_origin: String,
    closed_rooms: Vec<String>,
    revoked_jtis: Vec<String>,
    cutoffs: Vec<(String, i64)>,
}

/// Environment lookups for the engine, owning what they return.
type Env = Box<dyn Fn(&str) -> Option<String>>;

/// A configuration and the request to send through it.
struct Setup {
    config: Vec<u8>,
    env: Env,
    path: String,
    headers: Vec<(String, String)>,
    accepts: Accepts,
}

/// The settings shared with `issuer config`, so both build the same configuration.
pub fn settings(
    profile: Option<Profile>,
    policy: &crate::cli::PolicyArgs,
    key: &crate::cli::KeyArgs,
    report: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Settings {
    // Flags first; the environment only when no flag was given (clap's own `env` would make an
    // exported variable conflict with --config).
    let clean = |list: &[String], var: &str| {
        let from_env: Vec<String> = if list.is_empty() {
            env(var)
                .map(|v| v.split(',').map(str::to_owned).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut out: Vec<String> = Vec::new();
        for item in list
            .iter()
            .chain(&from_env)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            if !out.iter().any(|o| o == item) {
                out.push(item.to_owned());
            }
        }
        out
    };
    let mut issuers = clean(&policy.issuers, "JWT_ACCEPTED_ISSUERS");
    if issuers.is_empty() && profile == Some(Profile::Videocall) {
        issuers.push(VIDEOCALL_ISSUER.into());
    }
    Settings {
        issuers,
        audiences: clean(&policy.audiences, "JWT_ACCEPTED_AUDIENCES"),
        secret_env: key.env_name(profile),
        encoding: key.secret_encoding,
        kid: policy.kid.clone(),
        leeway: policy.leeway.unwrap_or(match profile {
            Some(Profile::Videocall) => profile::VIDEOCALL_LEEWAY,
            _ => profile::FILTER_LEEWAY,
        }),
        max_lifetime: policy.max_lifetime,
        report,
        case_sensitive: policy.case_sensitive_rooms,
        policy_from_env: false,
    }
}

fn profile_setup(a: &VerifyArgs, token: &str, room: &str) -> anyhow::Result<Setup> {
    let env = |name: &str| std::env::var(name).ok();
    let key = &a.secret.key;
    let secret = secret::load(
        a.secret.secret.as_ref(),
        a.secret.secret_file.as_ref(),
        &key.env_name(a.profile),
        key.secret_encoding,
        &env,
    )?;
    if secret.bytes.len() < MIN_SECRET_BYTES {
        bail!(
            "the secret from {} is {} bytes; the filter refuses keys under {MIN_SECRET_BYTES} bytes, \
             so it accepts no token signed with it",
            secret.origin,
            secret.bytes.len()
        );
    }
    let s = settings(a.profile, &a.policy, key, false, &env);
    let config = profile::filter_config(a.profile, &s)
        .to_string()
        .into_bytes();
    let (path, headers) = profile::request(a.profile, room, token);
    let mut requires = Vec::new();
    if a.profile == Some(Profile::Videocall) {
        requires.push(("room_join".to_owned(), Value::Bool(true)));
    }
    let accepts = Accepts {
        issuers: (!s.issuers.is_empty()).then(|| s.issuers.clone()),
        audiences: (!s.audiences.is_empty()).then(|| s.audiences.clone()),
        leeway: s.leeway,
        max_lifetime: s.max_lifetime,
        kids: s.kid.clone().into_iter().collect(),
        requires,
        case_insensitive: !s.case_sensitive,
        key_origin: format!(
            "the secret from {} (--secret-encoding {})",
            secret.origin,
            key.secret_encoding.name()
        ),
        ..Accepts::default()
    };
    let var = key.env_name(a.profile);
    let text = secret.text.clone();
    Ok(Setup {
        config,
        env: Box::new(move |name| (name == var).then(|| text.clone())),
        path,
        headers,
        accepts,
    })
}

fn file_setup(
    a: &VerifyArgs,
    file: &std::path::Path,
    token: &str,
    room: Option<&str>,
) -> anyhow::Result<Setup> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the configuration {}", file.display()))?;
    let (_, config) = crate::revoke::locate(&text)
        .with_context(|| format!("{}: cannot find the roomgate configuration", file.display()))?;
    let config = config.into_bytes();
    let raw: RawConfig = serde_json::from_slice(&config)
        .map_err(|e| anyhow!("{}: {}", file.display(), ConfigError::Syntax(e.to_string())))?;
    // The operator's environment, with the secret given on the command line (if any) in the
    // variable --secret-env names.
    let key = &a.secret.key;
    let given = if a.secret.secret.is_some() || a.secret.secret_file.is_some() {
        let s = secret::load(
            a.secret.secret.as_ref(),
            a.secret.secret_file.as_ref(),
            &key.env_name(None),
            key.secret_encoding,
            &|_| None,
        )?;
        Some((key.env_name(None), s.text))
    } else {
        None
    };
    let env = move |name: &str| match &given {
        Some((var, text)) if var == name => Some(text.clone()),
        _ => std::env::var(name).ok(),
    };

    let mut path = match (&a.path, room) {
        (Some(p), _) => p.clone(),
        (None, Some(r)) => format!("/{}", profile::encode_segment(r)),
        (None, None) => {
            bail!("with --config, give the request --path (e.g. /standup or /lobby) or --room")
        }
    };
    let mut headers = Vec::new();
    match raw.token_sources.first() {
        Some(Source::Bearer) | None => {
            headers.push(("authorization".to_owned(), format!("Bearer {token}")))
        }
        Some(Source::XAuthToken) => headers.push(("x-auth-token".to_owned(), token.to_owned())),
        Some(Source::Header(h)) => headers.push((h.clone(), token.to_owned())),
        Some(Source::Query(name)) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            path = format!("{path}{sep}{name}={token}");
        }
        Some(Source::Cookie(name)) => {
            headers.push(("cookie".to_owned(), format!("{name}={token}")))
        }
    }

    let mut accepts = Accepts {
        case_insensitive: raw.rooms.case_insensitive,
        key_origin: "the configured keys".into(),
        ..Accepts::default()
    };
    if let Some(j) = &raw.jwt {
        // The lists as the filter compiled them (a configuration that loads has valid ones).
        let env_fn = |name: &str| env(name);
        accepts.issuers = roomgate_filter::config::accepted_list(
            j.issuers.as_ref(),
            &env_fn,
            &j.issuers_env,
            j.issuers_default.as_ref(),
            "issuers",
        )
        .ok()
        .flatten();
        accepts.audiences = roomgate_filter::config::accepted_list(
            j.audiences.as_ref(),
            &env_fn,
            &j.audiences_env,
            j.audiences_default.as_ref(),
            "audiences",
        )
        .ok()
        .flatten();
        accepts.leeway = j.leeway_seconds;
        accepts.max_lifetime = j.max_lifetime_seconds;
        accepts.kids = j.keys.iter().filter_map(|k| k.kid.clone()).collect();
        accepts.requires = j
            .require
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    accepts.closed_rooms = raw.revoked.rooms.clone();
    accepts.revoked_jtis = raw.revoked.jtis.clone();
    accepts.cutoffs = raw
        .revoked
        .issued_before
        .iter()
        .map(|(r, t)| (r.clone(), *t))
        .collect();
    for r in &raw.routes {
        accepts
            .requires
            .extend(r.require.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(Setup {
        config,
        env: Box::new(env),
        path,
        headers,
        accepts,
    })
}

fn listed(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn claim_path<'v>(claims: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// The specific reason behind a denial, from the token's own claims and the settings.
fn explain(
    denial: Denial,
    d: Result<&Decoded, &String>,
    s: &Accepts,
    at: i64,
    room: Option<&str>,
) -> Option<String> {
    let d = match d {
        Ok(d) => d,
        Err(why) => return Some(why.clone()),
    };
    let when = |t: i64| {
        format!(
            "{} ({} at check time)",
            time::rfc3339(t),
            time::relative(t, at)
        )
    };
    let shown = |v: Option<&Value>| v.map_or_else(|| "missing".to_owned(), Value::to_string);
    Some(match denial {
        Denial::AlgorithmNotAllowed => format!(
            "the header's alg is {}; only HS256 is accepted, whatever the header says",
            shown(d.header.get("alg"))
        ),
        Denial::UnsupportedHeader => format!(
            "the header has crit or a typ other than JWT (typ is {})",
            shown(d.header.get("typ"))
        ),
        Denial::UnknownKey => format!(
            "the token names kid {}; the configured key IDs are {}",
            shown(d.header.get("kid")),
            if s.kids.is_empty() {
                "none".into()
            } else {
                listed(&s.kids)
            }
        ),
        Denial::BadSignature => format!(
            "the signature does not match {}: the token was signed with another secret, \
             or with this text in another encoding",
            s.key_origin
        ),
        Denial::InvalidClaims => {
            if d.duplicate_keys {
                "a claim appears twice; parsers disagree on which one counts, so the token is refused".into()
            } else if d.time_claim("exp").is_none_or(|t| t < 0) {
                format!(
                    "exp is {}; it must be whole Unix seconds",
                    shown(d.claims.get("exp"))
                )
            } else {
                "a registered claim has the wrong type (nbf/iat must be whole seconds, iss a string, \
                 aud a string or a list of strings, room a non-empty string)"
                    .into()
            }
        }
        Denial::Expired => format!(
            "exp is {}; allowed clock skew {}s",
            when(d.time_claim("exp").unwrap_or_default()),
            s.leeway
        ),
        Denial::NotYetValid => {
            let (name, t) = ["nbf", "iat"]
                .iter()
                .find_map(|n| d.time_claim(n).filter(|t| *t > at).map(|t| (*n, t)))
                .unwrap_or(("nbf", at));
            format!("{name} is {}; allowed clock skew {}s", when(t), s.leeway)
        }
        Denial::LifetimeTooLong => {
            let exp = d.time_claim("exp").unwrap_or_default();
            let start = d
                .time_claim("iat")
                .or_else(|| d.time_claim("nbf"))
                .unwrap_or(at);
            format!(
                "the token lives {} (exp minus iat, nbf or now); the maximum is {} (--max-lifetime)",
                time::span(exp - start),
                time::span(s.max_lifetime)
            )
        }
        Denial::IssuerNotAccepted => format!(
            "iss is {}; accepted: {} (--iss or JWT_ACCEPTED_ISSUERS)",
            shown(d.claims.get("iss")),
            listed(s.issuers.as_deref().unwrap_or_default())
        ),
        Denial::AudienceNotAccepted => format!(
            "aud is {}; accepted: {} (--aud or JWT_ACCEPTED_AUDIENCES)",
            shown(d.claims.get("aud")),
            listed(s.audiences.as_deref().unwrap_or_default())
        ),
        Denial::RequiredClaim => {
            let unmet: Vec<String> = s
                .requires
                .iter()
                .filter(|(k, v)| claim_path(&d.claims, k) != Some(v))
                .map(|(k, v)| {
                    format!(
                        "{k} must be {v}, the token has {}",
                        shown(claim_path(&d.claims, k))
                    )
                })
                .collect();
            if unmet.is_empty() {
                return None;
            }
            unmet.join("; ")
        }
        Denial::RoomMismatch => format!(
            "the token is for room {}, the request for {} (compared {})",
            shown(d.claims.get("room")),
            room.map_or_else(|| "another room".into(), |r| format!("{r:?}")),
            if s.case_insensitive {
                "ignoring case"
            } else {
                "exactly"
            }
        ),
        Denial::RoomNotInToken => "the token has no room claim, and this route needs one".into(),
        Denial::RoomClosed => format!(
            "room {} is closed (revoked.rooms: {}); `issuer revoke --room ROOM --undo` reopens it",
            room.map_or_else(|| shown(d.claims.get("room")), |r| format!("{r:?}")),
            listed(&s.closed_rooms)
        ),
        Denial::TokenRevoked => {
            let jti = d.str_claim("jti");
            if let Some(j) = jti.filter(|j| s.revoked_jtis.iter().any(|r| r == j)) {
                format!("its jti {j:?} is listed in revoked.jtis")
            } else {
                let issued = d.time_claim("iat").or_else(|| d.time_claim("nbf"));
                let cut = d.str_claim("room").and_then(|r| {
                    s.cutoffs
                        .iter()
                        .find(|(c, _)| c == r || (s.case_insensitive && c.eq_ignore_ascii_case(r)))
                });
                match (issued, cut) {
                    (Some(t), Some((r, c))) => format!(
                        "it was issued {}, before room {r:?}'s cut-off {} (revoked.issued_before); mint a new one",
                        time::rfc3339(t),
                        time::rfc3339(*c)
                    ),
                    (None, Some((r, _))) => format!(
                        "room {r:?} has a cut-off and the token carries neither iat nor nbf"
                    ),
                    _ => return None,
                }
            }
        }
        Denial::LifetimeUnknown => {
            "the token carries neither iat nor nbf, and the configuration refuses such tokens under \
             its maximum lifetime (jwt.max_lifetime_without_iat: refuse); mint it with iat or nbf"
                .into()
        }
        Denial::AdminTokenOutsideAdmin => {
            "this is the admin static token, which opens admin routes only".into()
        }
        Denial::CaseVariant => {
            "the path matches a route only when letter case is ignored; use the route's exact \
             spelling (or set route_case: insensitive for a case-insensitive upstream)"
                .into()
        }
        _ => return None,
    })
}

/// Runs `issuer verify`.
pub fn run(a: &VerifyArgs, now: i64) -> anyhow::Result<ExitCode> {
    if a.token == "-" && a.secret.secret == Some(SecretSource::Stdin) {
        bail!("standard input can carry the token or the secret, not both: put the secret in a file (--secret @PATH)");
    }
    let token = read_token(&a.token)?;
    let at = a.at.unwrap_or(now);
    let decoded = decode(&token);
    let token_room = decoded
        .as_ref()
        .ok()
        .and_then(|d| d.str_claim("room"))
        .map(str::to_owned);

    let setup = match &a.config {
        Some(file) => file_setup(a, file, &token, a.room.as_deref().or(token_room.as_deref()))?,
        None => {
            let room = match (&a.room, &token_room) {
                (Some(r), _) => r.clone(),
                (None, Some(r)) => {
                    if profile::room_in_request(a.profile) {
                        output::note(&format!(
                            "checking a request for the token's own room {r:?} (--room checks another)"
                        ));
                    }
                    r.clone()
                }
                (None, None) => "room".to_owned(),
            };
            if profile::room_in_request(a.profile) {
                if let Some(p) = a.profile {
                    profile::check_room(p, &room).map_err(|e| anyhow!(e))?;
                }
            }
            profile_setup(a, &token, &room)?
        }
    };
    let gate = Gate::from_json(&setup.config, &*setup.env).map_err(|e| match e {
        ConfigError::MissingEnv { var, .. } => anyhow!(
            "the configuration reads the secret from {var}, which is not set: export it, \
             or pass --secret-file PATH (with --secret-env {var})"
        ),
        e => anyhow!("the filter refuses this configuration: {e}"),
    })?;
    let verdict = gate.decide(&setup.path, &setup.headers, at);
    let report = gate.mode() == Mode::Report;

    let mut denial = verdict.denial;
    let mut detail =
        denial.and_then(|dn| explain(dn, decoded.as_ref(), &setup.accepts, at, a.room.as_deref()));
    // A room carried by the token (videocall's /lobby, token checks only) is not compared by the
    // route itself; --room asks whether it is the room the operator expects.
    if let (None, Some(want)) = (denial, &a.room) {
        let same = verdict.room.as_deref().is_some_and(|got| {
            if setup.accepts.case_insensitive {
                got.eq_ignore_ascii_case(want)
            } else {
                got == want
            }
        });
        if !same {
            denial = Some(Denial::RoomMismatch);
            detail = Some(match &verdict.room {
                Some(got) => {
                    format!("the filter accepts this token, but for room {got:?}, not {want:?}")
                }
                None => {
                    format!("the filter accepts this token, but it names no room, not {want:?}")
                }
            });
        }
    }
    print(a.json, denial, detail.as_deref(), &verdict, report)
}

/// `--json`: the verdict; `error`, `reason` and `message` are the filter's own.
#[derive(Serialize)]
struct VerifyOutput<'a> {
    accepted: bool,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<&'a Map<String, Value>>,
}

fn print(
    json: bool,
    denial: Option<Denial>,
    detail: Option<&str>,
    verdict: &Verdict,
    report: bool,
) -> anyhow::Result<ExitCode> {
    let headers: Map<String, Value> = verdict
        .edits
        .iter()
        .filter_map(|e| match e {
            Edit::Set(name, value) | Edit::Add(name, value) if name != ":path" => {
                Some((name.to_string(), json!(value)))
            }
            _ => None,
        })
        .collect();
    match denial {
        None => {
            if json {
                output::product(&serde_json::to_string_pretty(&VerifyOutput {
                    accepted: true,
                    status: 200,
                    error: None,
                    reason: None,
                    message: None,
                    detail: None,
                    room: verdict.room.as_deref(),
                    headers: Some(&headers),
                })?)?;
            } else {
                let mut text = match &verdict.room {
                    Some(room) => format!("accepted: room {room:?}"),
                    None => "accepted".to_owned(),
                };
                for (name, value) in &headers {
                    text.push_str(&format!(
                        "\n  {name}: {}",
                        value.as_str().unwrap_or_default()
                    ));
                }
                output::product(&text)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(d) => {
            output::note(&format!(
                "rejected: {} {} ({}): {}",
                d.status(),
                d.code(),
                d.reason(),
                d.message()
            ));
            if let Some(detail) = detail {
                output::note(&format!("  {detail}"));
            }
            if report {
                output::note("  (report mode: the request would pass, marked with the verdict)");
            }
            if json {
                output::product(&serde_json::to_string_pretty(&VerifyOutput {
                    accepted: false,
                    status: d.status(),
                    error: Some(d.code()),
                    reason: Some(d.reason()),
                    message: Some(d.message()),
                    detail,
                    room: None,
                    headers: None,
                })?)?;
            }
            Ok(ExitCode::from(EXIT_REJECTED))
        }
    }
}
