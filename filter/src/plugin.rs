//! The proxy-wasm layer (wasm32 only): reads the request from the host, asks the engine, writes the
//! verdict back. No decision is made here.
//!
//! Portability: the filter uses only host calls that both Envoy and Kong's ngx_wasm_module
//! implement (no `proxy_get_log_level`, `proxy_done`, gRPC, dispatch or `proxy_continue_*`), and
//! never depends on `end_of_stream` in the headers phase (always false in nginx).

use crate::engine::{Gate, Verdict};
use crate::glue::{self, Level};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel as HostLevel, MapType, MetricType, Status};
use std::cell::Cell;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

fn log(level: HostLevel, message: &str) {
    // The SDK panics (traps the VM) on an unexpected host status; a trap refuses the request
    // (fail_open: false), so the verdict can only get stricter.
    let _ = hostcalls::log(level, message);
}

fn host_level(level: Level) -> HostLevel {
    match level {
        Level::Trace => HostLevel::Trace,
        Level::Debug => HostLevel::Debug,
        Level::Info => HostLevel::Info,
        Level::Warn => HostLevel::Warn,
        Level::Error => HostLevel::Error,
        Level::Critical => HostLevel::Critical,
    }
}

/// Counters exported as proxy-wasm metrics, defined once at configuration, in the order of
/// [`glue::counter_names`] (Envoy shows them under `wasmcustom.` in /stats and
/// /stats/prometheus).
#[derive(Debug, Default)]
struct Metrics {
    /// One id per name of [`glue::counter_names`], in its order.
    counters: Vec<Option<u32>>,
    /// Gauge `roomgate.vm_memory_bytes`: the VM's linear memory (it only grows, so a leak shows).
    memory: Option<u32>,
    /// The value last recorded in that gauge: it is only set again when the memory grew, which
    /// saves a host call on almost every request.
    recorded_memory: Cell<usize>,
}

impl Metrics {
    fn define() -> Self {
        Self {
            counters: glue::counter_names()
                .iter()
                .map(|name| hostcalls::define_metric(MetricType::Counter, name).ok())
                .collect(),
            memory: hostcalls::define_metric(MetricType::Gauge, "roomgate.vm_memory_bytes").ok(),
            recorded_memory: Cell::new(0),
        }
    }

    fn record_memory(&self) {
        if let Some(id) = self.memory {
            let bytes = core::arch::wasm32::memory_size(0).saturating_mul(65_536);
            if bytes != self.recorded_memory.get()
                && hostcalls::record_metric(id, u64::try_from(bytes).unwrap_or(u64::MAX)).is_ok()
            {
                self.recorded_memory.set(bytes);
            }
        }
    }

    fn bump(&self, counters: impl Iterator<Item = usize>) {
        for i in counters {
            if let Some(Some(id)) = self.counters.get(i) {
                let _ = hostcalls::increment_metric(*id, 1);
            }
        }
    }

    fn count(&self, verdict: &Verdict) {
        self.record_memory();
        self.bump(glue::counted(verdict));
    }
}

#[derive(Default)]
struct Root {
    gate: Option<Rc<Gate>>,
    metrics: Rc<Metrics>,
    host: Rc<HostKind>,
}

/// Which proxy runs the filter, found out on the first request. nginx differs in two ways the
/// glue must know: its `:path` is the decoded `$uri?$args` (so the gate reads `$request_uri`
/// instead), and writing `:path` changes `$uri` but keeps `$args` unless the value has a `?`
/// (so the query is written through the `request.query` property, nginx's `$args`). nginx
/// variables are readable as `ngx.*` properties; Envoy answers NotFound.
#[derive(Debug, Default)]
struct HostKind(std::cell::Cell<Option<bool>>);

impl HostKind {
    fn is_nginx(&self) -> bool {
        if let Some(known) = self.0.get() {
            return known;
        }
        let nginx = matches!(
            hostcalls::get_property(vec!["ngx", "hostname"]),
            Ok(Some(_))
        );
        self.0.set(Some(nginx));
        nginx
    }
}

/// Sets the request target: `:path` on Envoy; on nginx, where the engine only ever changes the
/// query, the `request.query` property.
fn set_target(host: &HostKind, target: &str) -> Result<(), proxy_wasm::types::Status> {
    if host.is_nginx() {
        let query = target.split_once('?').map_or("", |(_, q)| q);
        hostcalls::set_property(vec!["request", "query"], Some(query.as_bytes()))
    } else {
        hostcalls::set_map_value(
            proxy_wasm::types::MapType::HttpRequestHeaders,
            ":path",
            Some(target),
        )
    }
}

/// An nginx variable (`$name`), which ngx_wasm_module exposes as the `ngx.name` property.
fn ngx_variable(name: &str) -> Option<Vec<u8>> {
    hostcalls::get_property(vec!["ngx", name]).ok().flatten()
}

/// Under nginx, whether the path nginx forwards is the one the gate judged. A `proxy_pass`
/// without a URI part sends the request line's target unchanged, or, once `$args` was rewritten,
/// `$uri` re-escaped: both mean the judged path only if `$uri` (nginx's decoding of the target)
/// is the gate's decoding of it. A rewrite or internal redirect changes `$uri` and is refused
/// (the filter sees rewrites only when it runs in the access phase, as the nginx example sets
/// with `proxy_wasm_request_headers_in_access on`). A target the gate cannot parse is refused by
/// the gate itself.
fn forwards_what_was_judged(target: &str) -> bool {
    let Ok(judged) = crate::path::Target::parse(target) else {
        return true;
    };
    ngx_variable("uri").is_some_and(|uri| uri == judged.normalized.as_bytes())
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = hostcalls::get_buffer(
            proxy_wasm::types::BufferType::PluginConfiguration,
            0,
            usize::MAX,
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        match Gate::from_json(&bytes, &|name| std::env::var(name).ok()) {
            Ok(gate) => {
                self.gate = Some(Rc::new(gate));
                self.metrics = Rc::new(Metrics::define());
                log(HostLevel::Info, glue::CONFIG_LOADED);
                true
            }
            Err(e) => {
                self.gate = None;
                log(HostLevel::Critical, &glue::config_rejected(&e));
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Request {
            gate: self.gate.clone(),
            metrics: Rc::clone(&self.metrics),
            host: Rc::clone(&self.host),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Request {
    gate: Option<Rc<Gate>>,
    metrics: Rc<Metrics>,
    host: Rc<HostKind>,
}

impl Context for Request {}

impl Request {
    fn deny_internal(&self, why: &str) -> Action {
        self.metrics.bump(glue::counted_internal());
        log(HostLevel::Error, &glue::internal_line(why));
        self.send(&glue::internal_response())
    }

    fn send(&self, r: &crate::engine::Response) -> Action {
        let headers: Vec<(&str, &str)> = r
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let _ =
            hostcalls::send_http_response(u32::from(r.status), headers, Some(r.body.as_bytes()));
        Action::Pause
    }

    fn log_verdict(&self, gate: &Gate, v: &Verdict) {
        if let Some((level, line)) = glue::denial_line(gate, v) {
            log(host_level(level), &line);
        }
    }
}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(gate) = self.gate.clone() else {
            return self.deny_internal("no usable configuration");
        };
        // Read as bytes, names included (`crate::abi`): the SDK's readers panic (a VM trap,
        // refusing every later request) on a name or value that is not UTF-8, which HTTP/1
        // clients may send (obs-text; under nginx with `ignore_invalid_headers off`, names too).
        // Such a request is refused with 400 instead; the engine only ever sees text.
        let Ok(map) = crate::abi::request_header_map() else {
            return self.deny_internal("request headers unavailable");
        };
        let Some(pairs) = glue::proxy_wasm_pairs(&map) else {
            return self.deny_internal("request headers unreadable");
        };
        let Some(mut head) = glue::RequestHead::read(pairs) else {
            return self.deny_internal("request headers unreadable");
        };
        #[cfg(feature = "test-trap")]
        if head
            .headers
            .iter()
            .any(|(n, _)| n == "x-roomgate-test-trap")
        {
            // Test builds only (dist/roomgate-trap.wasm): proves a trapped VM fails closed.
            core::arch::wasm32::unreachable();
        }
        // Under nginx `:path` is `$uri?$args`: already percent-decoded and dot-segment-resolved,
        // so judging it would decode a second time (`/%2573tandup` would be `/standup`) and the
        // 400 for dot-segments and encoded `/` could never apply. There the gate judges the
        // request line's target (`$request_uri`), exactly as Envoy's `:path`.
        let nginx = self.host.is_nginx();
        if nginx {
            let Some(target) = ngx_variable("request_uri") else {
                return self.deny_internal("request target unavailable");
            };
            match String::from_utf8(target) {
                Ok(target) => head.path = target.into(),
                Err(_) => head.readable = false,
            }
        }
        let Ok(now) = hostcalls::get_current_time() else {
            return self.deny_internal("clock unavailable");
        };
        let now = glue::unix_seconds(now);

        let verdict = head.decide(&gate, now);
        if nginx && verdict.response.is_none() && !forwards_what_was_judged(&head.path) {
            return self.deny_internal(
                "nginx would forward another path than the request line's ($uri was changed \
                 by a rewrite or an internal redirect)",
            );
        }
        self.metrics.count(&verdict);
        self.log_verdict(&gate, &verdict);
        if let Some(response) = &verdict.response {
            return self.send(response);
        }
        if glue::apply_edits(&verdict.edits, &mut Editor(&self.host)).is_err() {
            return self.deny_internal("cannot edit request headers");
        }
        Action::Continue
    }
}

/// Writes a verdict's edits into the request through the host.
struct Editor<'h>(&'h HostKind);

impl glue::RequestEditor for Editor<'_> {
    type Error = Status;
    fn set_target(&mut self, target: &str) -> Result<(), Status> {
        set_target(self.0, target)
    }
    fn set_header(&mut self, name: &str, value: &str) -> Result<(), Status> {
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value))
    }
    fn add_header(&mut self, name: &str, value: &str) -> Result<(), Status> {
        hostcalls::add_map_value(MapType::HttpRequestHeaders, name, value)
    }
    fn remove_header(&mut self, name: &str) -> Result<(), Status> {
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None)
    }
}
