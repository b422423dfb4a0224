//! `issuer room-id`, `issuer secret` and `issuer static-token`: random things operators hand out.
//!
//! Everything comes from the operating system's CSPRNG. Static tokens are checked by compiling the
//! very configuration snippet printed for them and sending a request through the filter's engine,
//! so a printed digest is one the filter has just accepted.

use crate::cli::{RoomIdArgs, SecretGenArgs, StaticTokenArgs};
use crate::output;
use crate::profile::{self, Profile};
use crate::room_id::{random_bytes, Spec};
use crate::secret::SecretSource;
use anyhow::{anyhow, bail, Context as _};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use roomgate_filter::config::{hex, token_digest, MIN_SECRET_BYTES};
use roomgate_filter::Gate;
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Read as _;
use std::process::ExitCode;

/// Runs `issuer room-id`.
pub fn room_id(a: &RoomIdArgs) -> anyhow::Result<ExitCode> {
    let spec = Spec::new(a.variant, a.sections, a.symbols)?;
    let ids = (0..a.count)
        .map(|_| spec.generate())
        .collect::<anyhow::Result<Vec<_>>>()?;
    output::product(&ids.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `issuer secret`.
pub fn secret(a: &SecretGenArgs) -> anyhow::Result<ExitCode> {
    let n = usize::from(a.bytes);
    if n < MIN_SECRET_BYTES && !a.allow_weak_secret {
        bail!(
            "--bytes {n} is under {MIN_SECRET_BYTES}: HS256 needs at least {MIN_SECRET_BYTES} random bytes \
             (RFC 7518 section 3.2) and the filter refuses shorter keys; pass --allow-weak-secret to make one anyway"
        );
    }
    let bytes = random_bytes(n)?;
    let (text, encoding) = if a.hex {
        (hex(&bytes), "hex")
    } else {
        (STANDARD.encode(&bytes), "base64")
    };
    output::note(&format!(
        "{n} random bytes as {encoding}. Used as text (encoding utf8, the default, as Jitsi does) the key is \
         these {} characters; to use the decoded bytes set the filter key's \"encoding\": \"{encoding}\" \
         and mint with --secret-encoding {encoding}",
        text.len()
    ));
    output::product(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The scope of a static token.
enum Scope<'a> {
    Room(&'a str),
    Global,
    Admin,
}

/// `static-token --json`.
#[derive(Serialize)]
struct StaticOutput<'a> {
    token: &'a str,
    sha256: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    config: &'a Value,
}

/// Runs `issuer static-token`.
pub fn static_token(a: &StaticTokenArgs) -> anyhow::Result<ExitCode> {
    let scope = match (&a.room, a.global, a.admin) {
        (Some(room), _, _) => Scope::Room(room),
        (None, true, _) => Scope::Global,
        _ => Scope::Admin,
    };
    if let Scope::Room(room) = scope {
        profile::check_room(Profile::Generic, room).map_err(|e| anyhow!(e))?;
    }
    let token = match &a.from {
        None => hex(&random_bytes(usize::from(a.bytes))?),
        Some(source) => {
            let text = match source {
                SecretSource::Stdin => {
                    let mut t = String::new();
                    std::io::stdin()
                        .read_to_string(&mut t)
                        .context("cannot read the token from standard input")?;
                    t
                }
                SecretSource::File(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the token file {}", path.display()))?,
            };
            text.trim().to_owned()
        }
    };
    let digest = hex(&token_digest(&token));
    let entry = json!({ "sha256": digest });
    let (scope_name, snippet) = match scope {
        Scope::Room(room) => (
            "room",
            json!({ "static_tokens": { "rooms": { room: entry } } }),
        ),
        Scope::Global => ("global", json!({ "static_tokens": { "global": entry } })),
        Scope::Admin => ("admin", json!({ "static_tokens": { "admin": entry } })),
    };
    check_in_engine(&scope, &token, &snippet)?;

    if a.json {
        output::product(&serde_json::to_string_pretty(&StaticOutput {
            token: &token,
            sha256: &digest,
            scope: scope_name,
            room: a.room.as_deref(),
            config: &snippet,
        })?)?;
    } else {
        output::note(&format!("sha256 {digest}"));
        output::note(&format!("filter config: {snippet}"));
        // With --from the operator has the token already: the digest is what was asked for.
        output::product(if a.from.is_some() { &digest } else { &token })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Compiles the printed snippet in the filter and sends the token through it.
fn check_in_engine(scope: &Scope<'_>, token: &str, snippet: &Value) -> anyhow::Result<()> {
    let (route, path) = match scope {
        Scope::Room(room) => (
            json!({"match": {"pattern": "/{room}"}, "kind": "room"}),
            format!("/{}", profile::encode_segment(room)),
        ),
        Scope::Global => (
            json!({"match": {"prefix": "/"}, "kind": "authenticated"}),
            "/".into(),
        ),
        Scope::Admin => (
            json!({"match": {"prefix": "/"}, "kind": "admin"}),
            "/".into(),
        ),
    };
    let mut config = json!({ "token_sources": ["bearer"], "routes": [route], "default": "deny" });
    if let (Value::Object(c), Some(st)) = (&mut config, snippet.get("static_tokens")) {
        c.insert("static_tokens".into(), st.clone());
    }
    // The digest alone passes any text; the filter's rules for the token itself are checked by
    // compiling it as `{"token": …}` too.
    let mut plain = config.clone();
    if let Some(slot) = plain.pointer_mut(match scope {
        Scope::Room(_) => "/static_tokens/rooms",
        Scope::Global => "/static_tokens/global",
        Scope::Admin => "/static_tokens/admin",
    }) {
        *slot = match scope {
            Scope::Room(room) => json!({ *room: { "token": token } }),
            _ => json!({ "token": token }),
        };
    }
    Gate::from_json(plain.to_string().as_bytes(), &|_| None)
        .map_err(|e| anyhow!("the filter would refuse this token: {e}"))?;
    let gate = Gate::from_json(config.to_string().as_bytes(), &|_| None)
        .map_err(|e| anyhow!("the filter refuses the config snippet: {e}"))?;
    let headers = [("authorization".to_owned(), format!("Bearer {token}"))];
    if let Some(d) = gate.decide(&path, &headers, 0).denial {
        bail!("the filter does not accept the token with its digest: {d}");
    }
    Ok(())
}
