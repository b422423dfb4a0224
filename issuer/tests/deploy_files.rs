//! Every file in `deploy/` (and `examples/jitsi.json`) is what `issuer config` prints: one source
//! (the profile's configuration) for every platform, so no hand copy can drift.
//!
//! `make deploy-manifests` regenerates them (this test with `ROOMGATE_WRITE_DEPLOY=1`, and
//! `ROOMGATE_IMAGE` set to the image `make image` built). Otherwise the image reference is the one
//! the committed Istio manifest pins, and every other manifest must pin the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The Jitsi settings of the Kubernetes and nginx examples.
const JITSI: &[&str] = &[
    "config",
    "jitsi",
    "--iss",
    "meet.example.com",
    "--aud",
    "jitsi",
];
/// docker-jitsi-meet: issuers and audiences from its `.env`.
const JITSI_ENV: &[&str] = &["config", "jitsi", "--policy-env"];

/// Each generated file and the arguments that print it.
fn generated(image: &str) -> Vec<(&'static str, Vec<String>)> {
    let with = |base: &[&str], extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| (*s).to_owned()).collect()
    };
    vec![
        ("examples/jitsi.json", with(JITSI_ENV, &[])),
        (
            "examples/videocall.json",
            with(&["config", "videocall", "--case-sensitive-rooms"], &[]),
        ),
        (
            "deploy/jitsi/envoy.yaml",
            with(JITSI_ENV, &["--docker-jitsi-meet"]),
        ),
        (
            "deploy/jitsi/docker-compose.override.yml",
            with(JITSI_ENV, &["--docker-compose"]),
        ),
        (
            "deploy/istio/wasmplugin.yaml",
            with(JITSI, &["--istio", "--image", image]),
        ),
        (
            "deploy/istio/sidecar-env.yaml",
            with(JITSI, &["--istio-sidecar-env"]),
        ),
        (
            "deploy/envoy-gateway/extension-policy.yaml",
            with(JITSI, &["--envoy-gateway", "--image", image]),
        ),
        ("deploy/nginx/nginx.conf", with(JITSI, &["--nginx"])),
    ]
}

/// Files in deploy/ that are not generated, and why.
const NOT_GENERATED: &[(&str, &str)] = &[
    (
        "deploy/envoy-ecds/envoy.yaml",
        "the hot-reload demo's Envoy bootstrap: no roomgate configuration inside",
    ),
    (
        "deploy/envoy-ecds/roomgate.yaml",
        "the hot-reload demo's live configuration, edited in place by `issuer revoke`",
    ),
    (
        "deploy/envoy-gateway/module-policy.yaml",
        "the native module's policy (no Wasm configuration of a profile)",
    ),
];

fn issuer(args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_issuer"))
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "issuer {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The image the committed Istio manifest pins (`url: "oci://…"`).
fn pinned_image() -> String {
    let text = std::fs::read_to_string(repo().join("deploy/istio/wasmplugin.yaml")).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("url: "))
        .expect("the WasmPlugin has a url");
    let url: String = serde_json::from_str(line).expect("the url is a quoted string");
    url.strip_prefix("oci://")
        .expect("the url is an oci:// image")
        .to_owned()
}

fn files_under(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            let rel = path.strip_prefix(repo()).unwrap();
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn every_deploy_file_is_what_issuer_config_prints() {
    let write = std::env::var_os("ROOMGATE_WRITE_DEPLOY").is_some();
    let image = std::env::var("ROOMGATE_IMAGE")
        .ok()
        .filter(|_| write)
        .unwrap_or_else(pinned_image);
    let files = generated(&image);
    let mut stale = Vec::new();
    for (file, args) in &files {
        let want = issuer(args);
        let path = repo().join(file);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(format!("{file} (issuer {})", args.join(" ")));
        }
    }
    assert!(
        stale.is_empty(),
        "these files differ from what issuer config prints (run `make deploy-manifests`): {stale:#?}"
    );

    let mut present = Vec::new();
    files_under(&repo().join("deploy"), &mut present);
    for file in present {
        assert!(
            files.iter().any(|(f, _)| *f == file) || NOT_GENERATED.iter().any(|(f, _)| *f == file),
            "{file} is neither generated by issuer config nor listed in NOT_GENERATED"
        );
    }
}

#[test]
fn the_manifests_pin_the_image_by_digest_with_one_registry_to_replace() {
    let image = pinned_image();
    let (name, digest) = image.split_once("@sha256:").unwrap();
    assert_eq!(name, "registry.example.com/roomgate");
    assert_eq!(digest.len(), 64);
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
    let gateway =
        std::fs::read_to_string(repo().join("deploy/envoy-gateway/extension-policy.yaml")).unwrap();
    assert!(
        gateway.contains(&format!("url: \"{image}\"")),
        "Envoy Gateway pins the same image"
    );
}

#[test]
fn images_must_be_pinned_by_digest() {
    for bad in [
        "registry.example.com/roomgate:0.1.0",
        "oci://registry.example.com/roomgate@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "registry.example.com/roomgate@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "registry.example.com/roomgate@sha256:abc",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_issuer"))
            .args(JITSI)
            .args(["--istio", "--image", bad])
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("REGISTRY/REPO@sha256:DIGEST"),
            "{bad}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_issuer"))
        .args(JITSI)
        .arg("--istio")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--istio without --image");
}

#[test]
fn platform_manifests_are_for_the_jitsi_profile_only() {
    let out = Command::new(env!("CARGO_BIN_EXE_issuer"))
        .args(["config", "videocall", "--docker-jitsi-meet"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("written for Jitsi Meet"));
}
