//! `issuer inspect`: what a token says, in a form a person can read at 3 a.m.
//!
//! Nothing here is verified (that is `issuer verify`); findings that would make the filter refuse
//! the token whatever its key (a foreign `alg`, no `exp`, duplicate claims) are noted on stderr.

use crate::cli::{InspectArgs, EXIT_REJECTED};
use crate::decode::{decode, read_token, Decoded};
use crate::output;
use crate::profile::FILTER_MAX_LIFETIME;
use crate::time;
use serde_json::{json, Map, Value};
use std::process::ExitCode;

const TIME_CLAIMS: [&str; 3] = ["iat", "nbf", "exp"];

/// Runs `issuer inspect`.
pub fn run(a: &InspectArgs, now: i64) -> anyhow::Result<ExitCode> {
    let token = read_token(&a.token)?;
    let decoded = match decode(&token) {
        Ok(d) => d,
        Err(why) => {
            output::note(&format!("cannot decode: {why}"));
            return Ok(ExitCode::from(EXIT_REJECTED));
        }
    };
    let at = a.at.unwrap_or(now);
    for finding in findings(&decoded) {
        output::warn(&finding);
    }
    let text = if a.json {
        let mut times = Map::new();
        for name in TIME_CLAIMS {
            if let Some(t) = decoded.time_claim(name) {
                times.insert(name.into(), json!(time::rfc3339(t)));
            }
        }
        if let Some(l) = lifetime(&decoded) {
            times.insert("lifetime_seconds".into(), json!(l));
        }
        serde_json::to_string_pretty(&json!({
            "header": decoded.header,
            "claims": decoded.claims,
            "times": times,
        }))?
    } else {
        human(&decoded, at)
    };
    output::product(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn lifetime(d: &Decoded) -> Option<i64> {
    let exp = d.time_claim("exp")?;
    let start = d.time_claim("iat").or_else(|| d.time_claim("nbf"))?;
    Some(exp - start)
}

fn human(d: &Decoded, at: i64) -> String {
    let pretty =
        |m: &Map<String, Value>| serde_json::to_string_pretty(m).unwrap_or_else(|_| "{}".into());
    let mut out = format!(
        "header\n{}\nclaims\n{}\ntimes (UTC)",
        pretty(&d.header),
        pretty(&d.claims)
    );
    let mut any = false;
    for name in TIME_CLAIMS {
        if let Some(t) = d.time_claim(name) {
            any = true;
            out.push_str(&format!(
                "\n  {name:<8} {}  {}",
                time::rfc3339(t),
                time::relative(t, at)
            ));
        }
    }
    if let Some(l) = lifetime(d) {
        out.push_str(&format!("\n  lifetime {}", time::span(l)));
    }
    if !any {
        out.push_str("\n  (none)");
    }
    out.push_str(&format!(
        "\nsignature\n  {} bytes, not checked (issuer verify checks it)",
        d.signature_bytes
    ));
    out
}

/// What makes the filter refuse this token whatever key it holds.
pub fn findings(d: &Decoded) -> Vec<String> {
    let mut out = Vec::new();
    match d.header.get("alg").and_then(Value::as_str) {
        Some("HS256") => {}
        Some(alg) => out.push(format!("alg is {alg:?}: the filter accepts HS256 only")),
        None => out.push("the header has no alg: the filter refuses it".into()),
    }
    if d.header.contains_key("crit") {
        out.push("the header has crit: the filter refuses it".into());
    }
    match d.claims.get("exp") {
        None => {
            out.push("there is no exp claim: the filter refuses tokens that never expire".into())
        }
        Some(v) if v.as_i64().is_none_or(|t| t < 0) => out.push(format!(
            "exp is {v}, not whole Unix seconds: the filter refuses it"
        )),
        Some(_) => {}
    }
    if d.duplicate_keys {
        out.push(
            "a key appears twice in the header or claims: the filter refuses such tokens".into(),
        );
    }
    if let Some(l) = lifetime(d).filter(|l| *l > FILTER_MAX_LIFETIME) {
        out.push(format!(
            "the lifetime is {}: over the filter's default maximum of {}",
            time::span(l),
            time::span(FILTER_MAX_LIFETIME)
        ));
    }
    if d.header.get("alg").and_then(Value::as_str) == Some("HS256") && d.signature_bytes != 32 {
        out.push(format!(
            "the signature is {} bytes; an HS256 signature is 32",
            d.signature_bytes
        ));
    }
    out
}
