//! Test infrastructure for roomgate's end-to-end suites. The filter only means something inside a
//! real Envoy, so the suites drive a real Envoy binary (`envoy`), in front of an upstream that
//! echoes back exactly what reached it (`upstream`), with a client that sends exact bytes
//! (`http`). The behaviour table (`table`) is the one list of cases every host (`hosts`) runs:
//! the native engine, the built `.wasm` inside Envoy, and (when `ROOMGATE_NGINX` is set) inside a
//! real nginx with ngx_wasm_module (`nginx`). When `ROOMGATE_JITSI_PLUGINS` is set, Jitsi Meet's
//! own Prosody token check runs on Prosody's libraries (`prosody`) to confirm the restatement of
//! its rules in `tests/dialect_jitsi.rs`.

use std::path::PathBuf;

pub mod attacks;
pub mod codec;
pub mod envoy;
pub mod hosts;
pub mod http;
pub mod nginx;
pub mod prosody;
pub mod support;
pub mod table;
pub mod upstream;

/// The repository's root directory (the parent of this crate's manifest directory).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
