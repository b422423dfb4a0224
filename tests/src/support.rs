//! Small things every end-to-end suite needs: the clock, scratch directories, the release
//! `issuer` binary, test-only builds, the demo script, and Envoy on the hot-reload (ECDS) example
//! of deploy/envoy-ecds.

use crate::envoy::{Envoy, EnvoyConfig};
use crate::upstream::EchoUpstream;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Now, in Unix seconds (what the filter in Envoy reads).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// A fresh, empty directory under the system's temp dir, unique to this process and `name`.
pub fn temp_dir(name: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("roomgate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A new directory under the system's temp dir for one run of a host (`roomgate-KIND-PID-N-NANOS`),
/// never one an earlier or concurrent run made.
pub fn run_dir(kind: &str) -> Result<PathBuf, String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static RUN_COUNTER: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    for _ in 0..100 {
        let n = RUN_COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("roomgate-{kind}-{pid}-{n}-{nanos}"));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
        }
    }
    Err(format!("cannot create a temp directory for {kind}"))
}

/// `target/release/issuer` (built by `make build`); an error if it is missing or older than any
/// of its sources, so a suite never tests a stale binary.
pub fn issuer_bin() -> Result<PathBuf, String> {
    let root = crate::repo_root();
    let bin = root.join("target/release/issuer");
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .map_err(|_| format!("{} is missing: run `make build` first", bin.display()))?;
    let sources = std::fs::read_dir(root.join("issuer/src")).map_err(|e| e.to_string())?;
    for entry in sources.flatten() {
        let changed = entry
            .metadata()
            .and_then(|m| m.modified())
            .map_err(|e| e.to_string())?;
        if changed > built {
            return Err(format!(
                "{} is older than {}: run `make build` first",
                bin.display(),
                entry.path().display()
            ));
        }
    }
    Ok(bin)
}

/// Runs the built `issuer` with `args`, the environment cleared of the secret variables a
/// profile may read and then set to `env`: its trimmed stdout, or its stderr if it failed.
pub fn issuer_output(args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let mut cmd = std::process::Command::new(issuer_bin()?);
    cmd.args(args);
    for name in [
        "JWT_APP_SECRET",
        "JWT_SECRET",
        "JWT_ACCEPTED_ISSUERS",
        "JWT_ACCEPTED_AUDIENCES",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run issuer: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs `cargo build <args>` in the repository (a test-only build, in its own target dir so the
/// default build is untouched) and copies `built` to `dest` (both relative to the repository root);
/// returns `dest`, absolute.
pub fn build_test_artifact(args: &[&str], built: &str, dest: &str) -> Result<PathBuf, String> {
    let root = crate::repo_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(&root)
        .arg("build")
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build {} failed", args.join(" ")));
    }
    let dest = root.join(dest);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::copy(root.join(built), &dest)
        .map_err(|e| format!("cannot copy {built} to {}: {e}", dest.display()))?;
    Ok(dest)
}

/// Runs `scripts/run-demo.sh --check` with `args` and the table's JWT_APP_SECRET: its output if
/// it exited 0 and every documented example answered as expected. Needs `make build`.
pub fn run_demo_check(args: &[&str]) -> Result<String, String> {
    let root = crate::repo_root();
    if !root.join("target/release/issuer").exists()
        || !root.join("target/release/echo-upstream").exists()
    {
        return Err("run `make build` first: the demo uses the release binaries".into());
    }
    let out = std::process::Command::new(root.join("scripts/run-demo.sh"))
        .arg("--check")
        .args(args)
        .current_dir(&root)
        .env("JWT_APP_SECRET", crate::table::JITSI_SECRET)
        .output()
        .map_err(|e| format!("cannot run the demo: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() && !text.contains("FAIL") {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Envoy on deploy/envoy-ecds/envoy.yaml, watching `dir/roomgate.yaml` for its roomgate
/// configuration, with `secret` as JWT_APP_SECRET.
pub fn start_ecds(dir: &Path, upstream: &EchoUpstream, secret: &str) -> Result<Envoy, String> {
    let root = crate::repo_root();
    let yaml = std::fs::read_to_string(root.join("deploy/envoy-ecds/envoy.yaml"))
        .map_err(|e| e.to_string())?;
    let file = dir.join("roomgate.yaml");
    let watched = dir.to_path_buf();
    let cfg = EnvoyConfig::from_yaml(&yaml, upstream.port())?
        .mutate(move |v| {
            let source = v.pointer_mut(
                "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters/0\
                 /config_discovery/config_source/path_config_source",
            );
            if let Some(source) = source {
                source["path"] = json!(file);
                source["watched_directory"] = json!({"path": watched});
            }
        })
        .process_env("JWT_APP_SECRET", secret);
    Envoy::start(cfg)
}

/// The example's ECDS resource (deploy/envoy-ecds/roomgate.yaml) with the wasm path made
/// absolute and the roomgate configuration passed through `edit`.
pub fn ecds_resource(edit: impl FnOnce(&mut Value)) -> Result<Value, String> {
    let root = crate::repo_root();
    let text = std::fs::read_to_string(root.join("deploy/envoy-ecds/roomgate.yaml"))
        .map_err(|e| e.to_string())?;
    let mut v: Value = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
    let cfg = v
        .pointer_mut("/resources/0/typed_config/config")
        .ok_or("the example has no Wasm config")?;
    if let Some(f) = cfg.pointer_mut("/vm_config/code/local/filename") {
        *f = json!(crate::envoy::default_wasm());
    }
    let value = cfg
        .pointer_mut("/configuration/value")
        .ok_or("the example has no configuration")?;
    let mut plugin: Value =
        serde_json::from_str(value.as_str().unwrap_or_default()).map_err(|e| e.to_string())?;
    edit(&mut plugin);
    *value = json!(plugin.to_string());
    Ok(v)
}

/// Replaces the watched file the way an operator (or `issuer revoke`) must: write, then rename.
pub fn publish(dir: &Path, v: &Value) -> std::io::Result<()> {
    let tmp = dir.join(".roomgate.yaml.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(v).unwrap_or_default())?;
    std::fs::rename(&tmp, dir.join("roomgate.yaml"))
}
