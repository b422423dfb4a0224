//! roomgate as an Envoy dynamic module (`libroomgate.so`): the same engine, configuration,
//! verdicts, metrics and log lines as `roomgate.wasm`, without the wasm VM.
//!
//! This file is the whole glue, in safe Rust: compile the `filter_config` JSON once into a
//! [`Gate`] shared by every worker thread, then per request read the headers, ask the engine, and
//! apply the verdict mechanically through [`roomgate_filter::glue`], which the proxy-wasm plugin
//! shares. The ABI (hooks, callbacks, every `unsafe` block) is in [`ffi`].

mod ffi;

use ffi::{ConfigHost, Flow, Stream};
use roomgate_filter::glue::{self, Level, RequestEditor, RequestHead};
use roomgate_filter::Gate;
use std::time::SystemTime;

/// One filter configuration: the compiled gate and the ids of its counters, in the order of
/// [`glue::counter_names`]. Shared by every worker thread, read-only after `config_new`.
pub(crate) struct Config {
    gate: Gate,
    counters: Vec<Option<usize>>,
}

/// Envoy calls the hooks of one config from every worker thread at once.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Config>();
};

impl Config {
    /// Compiles `json` (secrets from the Envoy process's environment) and defines the counters;
    /// `None` (Envoy then refuses the configuration) after roomgate's one log line saying why.
    pub(crate) fn new(host: &ConfigHost, json: &[u8]) -> Option<Config> {
        match Gate::from_json(json, &|name| std::env::var(name).ok()) {
            Ok(gate) => {
                let counters = glue::counter_names()
                    .iter()
                    .map(|name| host.define_counter(name))
                    .collect();
                ffi::log(Level::Info, glue::CONFIG_LOADED);
                Some(Config { gate, counters })
            }
            Err(e) => {
                ffi::log(Level::Critical, &glue::config_rejected(&e));
                None
            }
        }
    }

    fn count(&self, stream: &Stream, counters: impl Iterator<Item = usize>) {
        for i in counters {
            if let Some(Some(id)) = self.counters.get(i) {
                stream.increment_counter(*id);
            }
        }
    }

    /// The request hook: the whole decision, applied.
    pub(crate) fn on_request_headers(&self, stream: &mut Stream) -> Flow {
        // The head borrows Envoy's header map (zero-copy); the verdict owns what it needs, so the
        // borrow ends before any write.
        let verdict = {
            let Some(headers) = stream.request_headers() else {
                return self.deny_internal(stream, "request headers unavailable");
            };
            let Some(head) = RequestHead::read(headers.pairs()) else {
                return self.deny_internal(stream, "request headers unavailable");
            };
            #[cfg(feature = "test-panic")]
            if head
                .headers
                .iter()
                .any(|(n, _)| n == "x-roomgate-test-panic")
            {
                // Test builds only (dist/libroomgate-panic.so): proves a panic fails closed.
                #[allow(clippy::panic)]
                {
                    panic!("x-roomgate-test-panic");
                }
            }
            head.decide(&self.gate, glue::unix_seconds(SystemTime::now()))
        };
        self.count(stream, glue::counted(&verdict));
        if let Some((level, line)) = glue::denial_line(&self.gate, &verdict) {
            ffi::log(level, &line);
        }
        if let Some(response) = &verdict.response {
            let reason = verdict.denial.map_or("denied", |d| d.reason());
            stream.send_response(response, &format!("roomgate_{reason}"));
            return Flow::Stop;
        }
        let mut editor = Editor {
            stream,
            rerouted: false,
        };
        if glue::apply_edits(&verdict.edits, &mut editor).is_err() {
            return self.deny_internal(stream, "cannot edit request headers");
        }
        if editor.rerouted {
            // The route follows the target the upstream receives (the token stripped from it).
            stream.clear_route_cache();
        }
        Flow::Continue
    }

    /// Answers 500 when the engine could not run, with the same counters and log line as wasm.
    pub(crate) fn deny_internal(&self, stream: &mut Stream, why: &str) -> Flow {
        self.count(stream, glue::counted_internal());
        ffi::log(Level::Error, &glue::internal_line(why));
        stream.send_response(&glue::internal_response(), "roomgate_internal_error");
        Flow::Stop
    }
}

/// Writes a verdict's edits into Envoy's request headers.
struct Editor<'s> {
    stream: &'s mut Stream,
    rerouted: bool,
}

/// Envoy refused a header write.
struct Refused;

impl RequestEditor for Editor<'_> {
    type Error = Refused;

    fn set_target(&mut self, target: &str) -> Result<(), Refused> {
        self.rerouted = true;
        self.set_header(":path", target)
    }

    fn set_header(&mut self, name: &str, value: &str) -> Result<(), Refused> {
        self.stream
            .set_header(name, Some(value))
            .then_some(())
            .ok_or(Refused)
    }

    fn add_header(&mut self, name: &str, value: &str) -> Result<(), Refused> {
        self.stream
            .add_header(name, value)
            .then_some(())
            .ok_or(Refused)
    }

    fn remove_header(&mut self, name: &str) -> Result<(), Refused> {
        self.stream
            .set_header(name, None)
            .then_some(())
            .ok_or(Refused)
    }
}
