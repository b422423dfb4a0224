//! Test infrastructure for roomgate's end-to-end suites. The filter only means something inside a
//! real Envoy, so the suites drive a real Envoy binary (`envoy`), in front of an upstream that
//! echoes back exactly what reached it (`upstream`), with a client that sends exact bytes
//! (`http`). Nothing here depends on the filter crate: the suites test the built `.wasm`.

use std::path::PathBuf;

pub mod envoy;
pub mod http;
pub mod upstream;

/// The repository's root directory (the parent of this crate's manifest directory).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
