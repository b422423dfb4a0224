//! The hosts the behaviour table runs on: the native engine, and the real Envoy with roomgate.wasm
//! or with the native module (libroomgate.so).

use crate::envoy::{Envoy, EnvoyConfig};
use crate::table::{self, Host, Observed, Request};
use crate::upstream::{EchoUpstream, Echoed};
use roomgate_filter::{Edit, Gate};
use std::collections::HashMap;

/// The engine called directly, with an injected clock; edits applied the way the plugin applies
/// them, so what "the upstream" sees is computed, not assumed.
pub struct Native {
    gates: HashMap<String, Gate>,
    now: i64,
}

impl Native {
    /// A native host whose clock reads `now`.
    pub fn new(now: i64) -> Self {
        Self {
            gates: HashMap::new(),
            now,
        }
    }

    fn gate(&mut self, name: &str) -> Result<&Gate, String> {
        if !self.gates.contains_key(name) {
            let env = table::env(name);
            let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
            let gate = Gate::from_json(table::config(name)?.as_bytes(), &lookup)
                .map_err(|e| e.to_string())?;
            self.gates.insert(name.to_owned(), gate);
        }
        self.gates
            .get(name)
            .ok_or_else(|| "gate vanished".to_owned())
    }
}

impl Host for Native {
    fn now(&self) -> i64 {
        self.now
    }

    fn send(&mut self, config: &str, req: &Request) -> Result<Observed, String> {
        let now = self.now;
        let gate = self.gate(config)?;
        let verdict = gate.decide(&req.target, &req.headers, now);
        if let Some(r) = verdict.response.map(std::borrow::Cow::into_owned) {
            return Ok(Observed {
                status: r.status,
                headers: r.headers,
                body: r.body,
                upstream: None,
            });
        }
        let mut path = req.target.clone();
        let mut headers = req.headers.clone();
        for edit in verdict.edits {
            match edit {
                Edit::Set(name, value) if name == ":path" => path = value.into_owned(),
                Edit::Set(name, value) => {
                    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                    headers.push((name.into_owned(), value.into_owned()));
                }
                // Appended as the hosts append: the engine promises the header is absent.
                Edit::Add(name, value) => headers.push((name.into_owned(), value.into_owned())),
                Edit::Remove(name) => headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name)),
            }
        }
        let upstream = Echoed {
            method: req.method.clone(),
            path,
            headers,
        };
        Ok(Observed {
            status: 200,
            headers: Vec::new(),
            body: String::new(),
            upstream: Some(upstream),
        })
    }
}

/// A real Envoy per configuration, in front of one echo upstream.
pub struct EnvoyHost {
    upstream: EchoUpstream,
    envoys: HashMap<String, Envoy>,
    module: bool,
}

impl EnvoyHost {
    /// Starts the echo upstream; Envoys (with roomgate.wasm) start on first use of each
    /// configuration.
    pub fn new() -> Result<Self, String> {
        let upstream = EchoUpstream::start(0).map_err(|e| e.to_string())?;
        Ok(Self {
            upstream,
            envoys: HashMap::new(),
            module: false,
        })
    }

    /// Like [`EnvoyHost::new`], but every Envoy runs roomgate as the native module
    /// (`envoy-module.yaml`, dist/libroomgate.so).
    pub fn module() -> Result<Self, String> {
        Ok(Self {
            module: true,
            ..Self::new()?
        })
    }

    /// The Envoy serving `config`, started if needed.
    pub fn envoy(&mut self, config: &str) -> Result<&Envoy, String> {
        if !self.envoys.contains_key(config) {
            let port = self.upstream.port();
            let mut cfg = if self.module {
                EnvoyConfig::module(port)?
            } else {
                EnvoyConfig::new(port)?
            };
            if config == "demo" {
                // The demo reads JWT_APP_SECRET from Envoy's own environment (host_env_keys).
                cfg = cfg.process_env("JWT_APP_SECRET", table::JITSI_SECRET);
            } else {
                cfg = cfg
                    .plugin_config(&table::config(config)?)
                    .mutate(drop_host_env_keys);
                for (k, v) in table::env(config) {
                    cfg = cfg.env(k, &v);
                }
            }
            let envoy = Envoy::start(cfg)?;
            self.envoys.insert(config.to_owned(), envoy);
        }
        self.envoys
            .get(config)
            .ok_or_else(|| "envoy vanished".to_owned())
    }
}

impl Host for EnvoyHost {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
    }

    fn send(&mut self, config: &str, req: &Request) -> Result<Observed, String> {
        let envoy = self.envoy(config)?;
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = envoy
            .send(&req.method, &req.target, &headers)
            .map_err(|e| e.to_string())?;
        let upstream = if r.status == 200 { r.echoed() } else { None };
        Ok(Observed {
            status: r.status,
            headers: r.headers,
            body: r.body,
            upstream,
        })
    }
}

/// Removes `host_env_keys` (envoy.yaml's demo passes JWT_APP_SECRET that way), so the table's
/// `key_values` are the VM's only environment.
pub fn drop_host_env_keys(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("host_env_keys");
            m.values_mut().for_each(drop_host_env_keys);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_host_env_keys),
        _ => {}
    }
}
