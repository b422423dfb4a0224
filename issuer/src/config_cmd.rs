//! `issuer config`: the filter configuration for the settings issuer mints with, bare or inside a
//! platform's manifest (Envoy, Istio, Envoy Gateway, docker-jitsi-meet, nginx).
//!
//! It is the same [`crate::profile::filter_config`] that `verify` and `mint`'s self-check run, so
//! what the proxy enforces is what issuer checked. The output is compiled by the filter's engine
//! (with a placeholder secret) before it is printed: a config this command prints always loads.

use crate::cli::ConfigArgs;
use crate::output;
use crate::platform;
use crate::profile;
use crate::secret::SecretEncoding;
use crate::verify::settings;
use anyhow::anyhow;
use roomgate_filter::Gate;
use std::process::ExitCode;

/// A 32-byte placeholder secret in `encoding`, only to prove the configuration compiles.
fn placeholder(encoding: SecretEncoding) -> String {
    match encoding {
        SecretEncoding::Utf8 => "x".repeat(32),
        SecretEncoding::Hex => "ab".repeat(32),
        SecretEncoding::Base64 | SecretEncoding::Base64url => "A".repeat(44),
    }
}

/// Runs `issuer config`.
pub fn run(a: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let env = |name: &str| std::env::var(name).ok();
    let mut s = settings(Some(a.profile), &a.policy, &a.key, a.report, &env);
    s.policy_from_env = a.policy_env;
    if a.policy_env {
        output::note(&format!(
            "accepted issuers and audiences: the proxy's {} and {} when the filter loads (unset: not checked)",
            profile::ISSUERS_ENV,
            profile::AUDIENCES_ENV
        ));
    } else if s.issuers.is_empty() {
        output::warn(
            "no --iss (or JWT_ACCEPTED_ISSUERS): the filter will accept tokens from any issuer",
        );
    }
    let platform = a.istio
        || a.istio_sidecar_env
        || a.envoy_gateway
        || a.docker_jitsi_meet
        || a.docker_compose
        || a.nginx;
    if platform && a.profile != profile::Profile::Jitsi {
        return Err(anyhow!(
            "the platform manifests (--istio, --envoy-gateway, --docker-jitsi-meet, …) are written for Jitsi Meet: \
             for the {} profile, embed `issuer config {}` (or --envoy) yourself",
            a.profile.name(),
            a.profile.name()
        ));
    }
    let config = profile::filter_config(Some(a.profile), &s);
    let secret = placeholder(s.encoding);
    let var = s.secret_env.as_str();
    Gate::from_json(config.to_string().as_bytes(), &|name: &str| {
        (name == var).then(|| secret.clone())
    })
    .map_err(|e| anyhow!("the generated configuration does not load (a bug in issuer): {e}"))?;
    let image = || {
        a.image
            .as_deref()
            .ok_or_else(|| anyhow!("--image REGISTRY/REPO@sha256:DIGEST is required here"))
    };
    let text = if a.envoy {
        profile::envoy_snippet(&config, &a.wasm, &s.secret_env)
    } else if a.istio {
        platform::istio(&config, image()?, &s)
    } else if a.istio_sidecar_env {
        platform::istio_sidecar_env(&s)
    } else if a.envoy_gateway {
        platform::envoy_gateway(&config, image()?, &s)
    } else if a.docker_jitsi_meet {
        platform::docker_jitsi_meet(&config, &s)
    } else if a.docker_compose {
        platform::docker_compose(&s)
    } else if a.nginx {
        platform::nginx(&config)?
    } else {
        output::config_json(&config)
    };
    output::product(&text)?;
    Ok(ExitCode::SUCCESS)
}
