//! roomgate-harness: a proxy-wasm host on wasmtime. (WIP)
pub mod abi;
pub mod harness;
pub mod host;
pub mod profile;
pub mod table_host;
pub mod trace;
pub use harness::*;
pub use profile::Profile;
