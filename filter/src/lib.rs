//! roomgate's rules engine, and on wasm32 the proxy-wasm filter around it.
//!
//! The engine is plain Rust: [`Gate::from_json`] compiles a configuration once, and
//! [`Gate::decide`] turns a request's path, headers and the current time into a [`Verdict`],
//! without any host call. The same engine runs natively in tests, in the `issuer` CLI, and inside
//! the `.wasm` that Envoy or nginx load; only [`plugin`] (wasm32 only) talks to the proxy.

pub mod bytes;
pub mod config;
pub mod engine;
pub mod error;
pub mod glue;
pub mod json;
pub mod jwt;
pub mod path;
pub mod sources;

#[cfg(target_arch = "wasm32")]
mod abi;
#[cfg(target_arch = "wasm32")]
pub mod plugin;

pub use config::{Mode, RawConfig};
pub use engine::{Edit, Gate, Response, RouteKind, Verdict};
pub use error::{ConfigError, Denial};
