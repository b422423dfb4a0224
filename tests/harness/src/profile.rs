//! Which proxy the harness pretends to be. Envoy implements the whole proxy-wasm 0.2.1 host ABI;
//! Kong's ngx_wasm_module does not, and a module that calls one of its missing host functions
//! traps there (the import resolves, the call fails with "NYI"). A filter that only passes on
//! Envoy is not portable, so the harness can restrict itself to what nginx offers and behave
//! like nginx where the two differ (headers-phase `end_of_stream`, the status of a trapped
//! request).
//!
//! Source for the nginx lists: ngx_wasm_module's `src/common/proxy_wasm/ngx_proxy_wasm_host.c`
//! (host functions bound to `ngx_proxy_wasm_hfuncs_nop`, which returns `NGX_WAVM_NYI`) and its
//! `docs/PROXY_WASM.md` "Supported Host ABI" table.

/// The host a [`crate::Harness`] imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// Envoy: every host function of ABI 0.2.1; `end_of_stream` is true for a request without a
    /// body; a trapped request is answered 503 (`fail_open: false`).
    #[default]
    Envoy,
    /// ngx_wasm_module (prerelease-0.6.0, with metrics, in nginx 1.27.4): strict — the host
    /// functions it leaves unimplemented trap when called; `end_of_stream` is always false in the
    /// headers phase; a trapped request is answered 500; and nginx around the module as measured
    /// (its own 400s, `:path` as `$uri?$args`, removed headers still forwarded unless the example
    /// says otherwise: see [`crate::ngx`]).
    NgxWasm,
    /// ngx_wasm_module prerelease-0.3.0 and earlier: as [`Profile::NgxWasm`], and the metric
    /// functions trap too (they were "NYI" before metrics support landed).
    NgxWasmLegacy,
}

/// Host functions ngx_wasm_module imports but does not implement: calling one traps.
pub const NGX_WASM_MISSING: &[&str] = &[
    "proxy_get_log_level",
    "proxy_done",
    "proxy_continue_response",
    "proxy_close_stream",
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_send",
    "proxy_grpc_cancel",
    "proxy_grpc_close",
    "proxy_get_status",
    "proxy_resolve_shared_queue",
    "proxy_call_foreign_function",
];

/// The metric host functions, missing from ngx_wasm_module up to prerelease-0.3.0.
pub const METRIC_FUNCTIONS: &[&str] = &[
    "proxy_define_metric",
    "proxy_get_metric",
    "proxy_record_metric",
    "proxy_increment_metric",
];

impl Profile {
    /// Whether calling host function `name` works on this host (WASI functions always do).
    pub fn implements(self, name: &str) -> bool {
        match self {
            Self::Envoy => true,
            Self::NgxWasm => !NGX_WASM_MISSING.contains(&name),
            Self::NgxWasmLegacy => {
                !NGX_WASM_MISSING.contains(&name) && !METRIC_FUNCTIONS.contains(&name)
            }
        }
    }

    /// Whether this is one of the nginx profiles.
    pub fn is_nginx(self) -> bool {
        !matches!(self, Self::Envoy)
    }

    /// The `end_of_stream` flag passed to `proxy_on_request_headers`.
    pub fn headers_end_of_stream(self, has_body: bool) -> bool {
        match self {
            Self::Envoy => !has_body,
            Self::NgxWasm | Self::NgxWasmLegacy => false,
        }
    }

    /// The status the proxy answers when the VM traps on a request (the filter fails closed).
    pub fn trap_status(self) -> u16 {
        match self {
            Self::Envoy => 503,
            Self::NgxWasm | Self::NgxWasmLegacy => 500,
        }
    }
}
