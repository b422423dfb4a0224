//! The behaviour table's [`Host`] on this harness: each configuration gets its own VM (started
//! with that configuration's environment, as `vm_config.environment_variables` would give it),
//! the VM's clock is the time the host reports, and a continued request becomes the
//! [`Echoed`] the upstream would have seen — built from the final header map and `:path` (under
//! nginx, from nginx's header list and `$uri`/`$args` through the shipped example's proxy
//! settings, see [`crate::ngx`]), not assumed.

use crate::harness::{Error, Harness, Outcome, Vm};
use crate::ngx::ProxyConf;
use crate::profile::Profile;
use roomgate_tests::table::{self, Host, Observed, Request};
use roomgate_tests::upstream::Echoed;
use std::collections::HashMap;

/// The harness as a table host.
#[derive(Debug)]
pub struct HarnessHost {
    base: Harness,
    now: i64,
    vms: HashMap<String, Vm>,
    proxy: Option<ProxyConf>,
}

impl HarnessHost {
    /// A host imitating `profile` whose clock reads `now`.
    pub fn new(profile: Profile, now: i64) -> Result<Self, Error> {
        Ok(Self::with(Harness::load()?.profile(profile), now))
    }

    /// A host starting its VMs from `base` (profile, extra knobs) at `now`.
    pub fn with(base: Harness, now: i64) -> Self {
        Self {
            base,
            now,
            vms: HashMap::new(),
            proxy: None,
        }
    }

    /// The VM serving configuration `name`, started on first use.
    pub fn vm(&mut self, name: &str) -> Result<&mut Vm, String> {
        if !self.vms.contains_key(name) {
            let vm = self
                .base
                .clone()
                .envs(table::env(name))
                .at(self.now)
                .configure(&table::config(name)?)
                .map_err(|e| format!("{name}: {e}"))?;
            self.vms.insert(name.to_owned(), vm);
        }
        self.vms
            .get_mut(name)
            .ok_or_else(|| "VM vanished".to_owned())
    }
}

impl HarnessHost {
    /// The VMs started so far, by configuration name.
    pub fn vms(&self) -> impl Iterator<Item = (&str, &Vm)> {
        self.vms.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// What the upstream would receive for a continued request with `headers` as the final map.
pub fn echoed(method: &str, headers: &[(String, String)]) -> Echoed {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut forwarded = Vec::new();
    if let Some(host) = get(":authority") {
        forwarded.push(("host".to_owned(), host));
    }
    forwarded.extend(
        headers
            .iter()
            .filter(|(k, _)| !k.starts_with(':'))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
    );
    Echoed {
        method: get(":method").unwrap_or_else(|| method.to_owned()),
        path: get(":path").unwrap_or_default(),
        headers: forwarded,
    }
}

impl Host for HarnessHost {
    fn now(&self) -> i64 {
        self.now
    }

    fn send(&mut self, config: &str, req: &Request) -> Result<Observed, String> {
        let now = self.now;
        let profile = self.base.current_profile();
        if profile.is_nginx() && self.proxy.is_none() {
            self.proxy = Some(ProxyConf::shipped()?);
        }
        let proxy = self.proxy.clone();
        let vm = self.vm(config)?;
        vm.at(now);
        let ex = vm
            .request()
            .method(&req.method)
            .path(&req.target)
            .headers(req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .send()
            .map_err(|e| e.to_string())?;
        let ngx = ex.ngx.clone();
        match ex.outcome {
            Outcome::Local(r) => Ok(Observed {
                status: r.status,
                headers: r
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
                body: String::from_utf8_lossy(&r.body).into_owned(),
                upstream: None,
            }),
            Outcome::Continue { headers } => {
                // Under nginx the upstream request is built by nginx's proxy module from its own
                // header list and `$uri`/`$args`, as the shipped example configures it.
                let upstream = match (ngx, proxy) {
                    (Some(ngx), Some(proxy)) => {
                        let authority = headers
                            .iter()
                            .find(|(k, _)| k == ":authority")
                            .map_or("", |(_, v)| v.as_str());
                        proxy.forward(&ngx, &req.method, authority, None)?
                    }
                    _ => echoed(&req.method, &headers),
                };
                // The echo upstream answers with the JSON of what reached it, as on a real host.
                Ok(Observed {
                    status: 200,
                    headers: Vec::new(),
                    body: serde_json::to_string(&upstream).map_err(|e| e.to_string())?,
                    upstream: Some(upstream),
                })
            }
            Outcome::Trapped(why) => Ok(Observed {
                status: profile.trap_status(),
                headers: Vec::new(),
                body: format!("VM trapped: {why}"),
                upstream: None,
            }),
            Outcome::Paused => Err("the filter paused the request and sent no response".into()),
        }
    }
}
