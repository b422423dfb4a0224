//! roomgate-harness: a proxy-wasm host on wasmtime that drives the compiled `roomgate.wasm`
//! through the ABI exactly as a proxy would, fast and without Envoy. CI needs to check the
//! filter the way a proxy sees it — the `.wasm` behind proxy-wasm 0.2.1 — for every case, and
//! no such harness is published, so this is ours.
//!
//! ```no_run
//! # fn main() -> Result<(), roomgate_harness::Error> {
//! use roomgate_harness::Harness;
//! let mut vm = Harness::load()?                       // dist/roomgate.wasm or $ROOMGATE_WASM
//!     .env("JWT_APP_SECRET", "jitsi-test-secret-0123456789abcdefghij")
//!     .at(1_800_000_000)                               // the VM's clock, Unix seconds
//!     .configure(r#"{"jwt": {}, "routes": [{"match": {"pattern": "/{room}"}, "kind": "room"}]}"#)?;
//! vm.get("/standup")
//!     .send()?
//!     .expect_local(401)?
//!     .header_contains("www-authenticate", "invalid_token")?;
//! # Ok(()) }
//! ```
//!
//! - [`host`]: the host functions (proxy-wasm 0.2.1 and the WASI preview1 calls a Rust
//!   filter imports); an import outside that set fails loudly when the module starts.
//! - [`Harness`], [`Vm`], [`RequestBuilder`], [`Exchange`]: the fluent API.
//! - [`trace`]: every host call, for proving what the filter never does.
//! - [`Profile`]: Envoy, or strict ngx_wasm_module (missing host functions trap).
//! - [`ngx`]: what nginx does around the module (its `$uri`, header marks, what `proxy_pass`
//!   forwards under the shipped example), for the nginx profiles.
//! - [`fuel`]: cost per request in wasmtime fuel (`make bench`).
//! - [`table_host`]: the behaviour table's `Host` on this harness.

pub mod abi;
pub mod fuel;
pub mod harness;
pub mod host;
pub mod ngx;
pub mod profile;
pub mod table_host;
pub mod trace;

pub use harness::{
    Continued, Error, Exchange, Fuel, Harness, Local, Outcome, RequestBuilder, Vm, FUEL_PER_CALL,
    ROOT_CONTEXT,
};
pub use host::{LocalResponse, Metric};
pub use profile::Profile;
