//! Cost per request, in wasmtime fuel (one unit per wasm instruction, deterministic across
//! machines and runs), for each main path through the filter. Wall-clock timings on shared CI
//! runners are noise; fuel is exact, so a test can fence it and `make bench` can print it.

use crate::harness::{Error, Harness};
use roomgate_tests::table::{self, GLOBAL_TOKEN, JITSI_SECRET, OTHER_SECRET};
use serde_json::{json, Value};

/// The clock every measured request runs at.
pub const AT: i64 = 1_800_000_000;

/// The fuel one path costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuelRow {
    /// What the request exercises.
    pub path: &'static str,
    /// The configuration it runs under.
    pub config: &'static str,
    /// The status it produced (200: continued).
    pub status: u16,
    /// Fuel for `proxy_on_request_headers`.
    pub request_headers: u64,
    /// Fuel for the whole request (context create to delete).
    pub total: u64,
}

/// Signs `claims` with `secret` as an HS256 JWT (the filter's own signer).
pub fn sign_jwt(claims: &Value, secret: &str) -> Result<String, Error> {
    let map = claims.as_object().cloned().unwrap_or_default();
    roomgate_filter::jwt::sign(&map, secret.as_bytes(), None)
        .map_err(|e| Error::Host(format!("cannot sign a test token: {e:?}")))
}

fn jitsi_claims(room: &str) -> Value {
    json!({
        "iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": room,
        "nbf": AT, "exp": AT + 600,
        "context": {"user": {"name": "Alice", "moderator": true}}
    })
}

struct Path {
    name: &'static str,
    config: &'static str,
    target: String,
    /// The target of the reported (second) run, when it differs: a token the VM has not seen.
    second: Option<String>,
    headers: Vec<(&'static str, String)>,
    status: u16,
}

fn paths() -> Result<Vec<Path>, Error> {
    let good = sign_jwt(&jitsi_claims("standup"), JITSI_SECRET)?;
    let forged = sign_jwt(&jitsi_claims("standup"), OTHER_SECRET)?;
    let mut fresh = jitsi_claims("standup");
    if let Some(user) = fresh.pointer_mut("/context/user/name") {
        *user = json!("Bob");
    }
    Ok(vec![
        Path {
            name: "public route",
            config: "jitsi",
            target: "/libs/app.bundle.min.js".into(),
            second: None,
            headers: vec![],
            status: 200,
        },
        Path {
            name: "static token allowed",
            config: "multi-layer",
            target: "/api/rooms/room9/state".into(),
            second: None,
            headers: vec![("authorization", format!("Bearer {GLOBAL_TOKEN}"))],
            status: 200,
        },
        Path {
            name: "JWT allowed (token seen before)",
            config: "jitsi",
            target: format!("/standup?jwt={good}"),
            second: None,
            headers: vec![],
            status: 200,
        },
        Path {
            name: "JWT allowed (first sight of the token)",
            config: "jitsi",
            target: format!("/standup?jwt={good}"),
            second: Some(format!("/standup?jwt={}", sign_jwt(&fresh, JITSI_SECRET)?)),
            headers: vec![],
            status: 200,
        },
        Path {
            name: "JWT denied (bad signature)",
            config: "jitsi",
            target: format!("/standup?jwt={forged}"),
            second: None,
            headers: vec![],
            status: 401,
        },
        Path {
            name: "JWT denied (wrong room)",
            config: "jitsi",
            target: format!("/retro?jwt={good}"),
            second: None,
            headers: vec![],
            status: 403,
        },
    ])
}

/// Fuel per main path on the default module, Envoy profile.
pub fn fuel_report() -> Result<Vec<FuelRow>, Error> {
    fuel_report_with(&Harness::load()?)
}

/// Fuel per main path with `base`. Each path runs twice on a fresh VM and the second run is
/// reported (steady state: the first request also pays for one-time allocations). A token's
/// second request is answered from the cache of verified tokens; the "first sight" row sends
/// another token the second time, to show the full verification.
pub fn fuel_report_with(base: &Harness) -> Result<Vec<FuelRow>, Error> {
    let mut rows = Vec::new();
    for p in paths()? {
        let config = table::config(p.config).map_err(Error::Host)?;
        let mut vm = base
            .clone()
            .envs(table::env(p.config))
            .at(AT)
            .configure(&config)?;
        let mut last = None;
        for run in 0..2 {
            let target = match (&p.second, run) {
                (Some(second), 1) => second,
                _ => &p.target,
            };
            let ex = vm
                .get(target)
                .headers(p.headers.iter().map(|(k, v)| (*k, v.as_str())))
                .send()?;
            last = Some(ex);
        }
        let ex = last.ok_or_else(|| Error::Host("no request ran".into()))?;
        let status = ex.status().unwrap_or(0);
        if status != p.status {
            return Err(Error::Mismatch(format!(
                "{}: status {status} instead of {} ({:?})",
                p.name, p.status, ex.outcome
            )));
        }
        rows.push(FuelRow {
            path: p.name,
            config: p.config,
            status,
            request_headers: ex.fuel.request_headers,
            total: ex.fuel.total,
        });
    }
    Ok(rows)
}

/// Fuel to start a VM and load each example configuration (`_initialize` to `on_configure`).
pub fn configure_fuel(base: &Harness) -> Result<Vec<(&'static str, u64)>, Error> {
    let mut rows = Vec::new();
    for name in ["jitsi", "videocall", "multi-layer", "demo"] {
        let config = table::config(name).map_err(Error::Host)?;
        let vm = base
            .clone()
            .envs(table::env(name))
            .at(AT)
            .configure(&config)?;
        rows.push((name, vm.start_fuel()));
    }
    Ok(rows)
}

/// The report as a Markdown table.
pub fn markdown(rows: &[FuelRow]) -> String {
    let mut out = String::from(
        "| path | config | status | on_request_headers | whole request |\n|---|---|---|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.path, r.config, r.status, r.request_headers, r.total
        ));
    }
    out
}
