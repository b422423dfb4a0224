//! The fluent API: load the compiled filter, start a VM the way a proxy does (`_initialize`, root
//! context, `on_vm_start`, `on_configure`), then drive requests through the HTTP-context
//! callbacks and check what came out — a local response, or the request continuing with its
//! edited headers — without Envoy. The clock is the harness's own, so expiry and not-before are
//! tested at exact instants; every call into the module is metered in wasmtime fuel.

use crate::abi::{MapType, Status};
use crate::host::{self, Fault, LocalResponse, Metric, State};
use crate::ngx::NgxRequest;
use crate::profile::Profile;
use crate::trace::{LogLine, Trace};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::{Config, Engine, Instance, Linker, Module, OptLevel, Store, Val};

/// Fuel granted to each call into the module; running out is a trap (a runaway guard, far above
/// any real path).
pub const FUEL_PER_CALL: u64 = 2_000_000_000;

/// The root context id the harness gives the plugin.
pub const ROOT_CONTEXT: u32 = 1;

/// Everything that can go wrong while driving the module, including a failed expectation.
#[derive(Debug, Clone)]
pub enum Error {
    /// The `.wasm` file could not be read.
    Missing {
        /// The path tried.
        path: PathBuf,
        /// Why it failed.
        why: String,
    },
    /// wasmtime refused the module.
    Compile(String),
    /// The module imports functions this harness does not implement.
    UnknownImports(Vec<String>),
    /// The module does not export `proxy_abi_version_0_2_1` or `_0_2_0`.
    NotProxyWasm,
    /// `proxy_on_vm_start` or `proxy_on_configure` returned false.
    Rejected {
        /// What the module logged while refusing.
        logs: Vec<LogLine>,
    },
    /// The module trapped outside a request (start, configure, tick).
    Trapped {
        /// The callback that trapped.
        during: String,
        /// wasmtime's message.
        message: String,
    },
    /// An expectation did not hold.
    Mismatch(String),
    /// Anything else wasmtime reported.
    Host(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { path, why } => write!(
                f,
                "cannot read the filter at {} ({why}): run `make wasm` (or set ROOMGATE_WASM)",
                path.display()
            ),
            Self::Compile(e) => write!(f, "wasmtime cannot compile the filter: {e}"),
            Self::UnknownImports(names) => write!(
                f,
                "the filter imports host functions the harness does not implement: {} \
                 (implement them in tests/harness/src/host.rs)",
                names.join(", ")
            ),
            Self::NotProxyWasm => write!(
                f,
                "the module exports neither proxy_abi_version_0_2_1 nor proxy_abi_version_0_2_0"
            ),
            Self::Rejected { logs } => {
                write!(f, "the plugin refused its configuration")?;
                for l in logs {
                    write!(f, "\n  [{:?}] {}", l.level, l.message)?;
                }
                Ok(())
            }
            Self::Trapped { during, message } => {
                write!(f, "the module trapped in {during}: {message}")
            }
            Self::Mismatch(m) => f.write_str(m),
            Self::Host(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

fn host_err(e: impl fmt::Display) -> Error {
    Error::Host(format!("{e:#}"))
}

/// The compiled module with its engine and linker, shared by every VM started from it.
struct Compiled {
    engine: Engine,
    module: Module,
    linker: Linker<State>,
    path: PathBuf,
}

fn compile(path: &Path) -> Result<Arc<Compiled>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Missing {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    let mut config = Config::new();
    config.consume_fuel(true);
    // Fuel counts wasm instructions, so optimizing only costs compile time here.
    config.cranelift_opt_level(OptLevel::None);
    let engine = Engine::new(&config).map_err(|e| Error::Compile(format!("{e:#}")))?;
    let module = Module::new(&engine, &bytes).map_err(|e| Error::Compile(format!("{e:#}")))?;
    let mut linker = Linker::new(&engine);
    host::define(&mut linker).map_err(host_err)?;
    Ok(Arc::new(Compiled {
        engine,
        module,
        linker,
        path: path.to_owned(),
    }))
}

/// Compiled modules by path: each test binary compiles `roomgate.wasm` once.
fn cached(path: &Path) -> Result<Arc<Compiled>, Error> {
    static CACHE: OnceLock<Mutex<Vec<Arc<Compiled>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let mut cache = cache
        .lock()
        .map_err(|_| Error::Host("module cache poisoned".into()))?;
    if let Some(c) = cache.iter().find(|c| c.path == path) {
        return Ok(Arc::clone(c));
    }
    let compiled = compile(path)?;
    cache.push(Arc::clone(&compiled));
    Ok(compiled)
}

/// How to start a VM: module, imitated proxy, environment, VM configuration, clock. Cheap to
/// clone; [`Harness::configure`] can be called any number of times.
#[derive(Clone)]
pub struct Harness {
    compiled: Arc<Compiled>,
    profile: Profile,
    ngx_paths: bool,
    ngx_keep_invalid_headers: bool,
    env: Vec<(String, String)>,
    vm_config: Vec<u8>,
    now_nanos: u64,
    faults: Vec<(String, Fault)>,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("wasm", &self.compiled.path)
            .field("profile", &self.profile)
            .field("ngx_paths", &self.ngx_paths)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("now_nanos", &self.now_nanos)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// Loads `dist/roomgate.wasm` (or `$ROOMGATE_WASM`), compiled once per process.
    pub fn load() -> Result<Harness, Error> {
        Self::load_from(roomgate_tests::envoy::default_wasm())
    }

    /// Loads the module at `path`.
    pub fn load_from(path: impl AsRef<Path>) -> Result<Harness, Error> {
        let compiled = cached(path.as_ref())?;
        Ok(Harness {
            compiled,
            profile: Profile::Envoy,
            ngx_paths: false,
            ngx_keep_invalid_headers: false,
            env: Vec::new(),
            vm_config: Vec::new(),
            now_nanos: 1_800_000_000 * 1_000_000_000,
            faults: Vec::new(),
        })
    }

    /// Imitates `profile` (Envoy by default).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Strict mode: only the host functions ngx_wasm_module implements, nginx's headers-phase
    /// `end_of_stream` (always false) and header-name case.
    pub fn strict(self) -> Self {
        self.profile(Profile::NgxWasm)
    }

    /// Applies ngx_wasm_module's `:path` rule (see [`State::ngx_paths`]).
    pub fn ngx_paths(mut self, on: bool) -> Self {
        self.ngx_paths = on;
        self
    }

    /// nginx's `ignore_invalid_headers`: `true` (nginx's default, and the shipped example's)
    /// drops header lines whose name is not an HTTP token before any filter; `false` hands them
    /// to the module (see [`RequestBuilder::raw_header`]).
    pub fn ngx_invalid_headers(mut self, ignore: bool) -> Self {
        self.ngx_keep_invalid_headers = !ignore;
        self
    }

    /// Adds a variable to the VM's environment.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds variables to the VM's environment.
    pub fn envs<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in vars {
            self.env
                .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        }
        self
    }

    /// Sets the VM configuration (passed to `proxy_on_vm_start`).
    pub fn vm_config(mut self, config: &str) -> Self {
        self.vm_config = config.as_bytes().to_vec();
        self
    }

    /// Sets the clock (Unix seconds) the VM starts with.
    pub fn at(mut self, unix_seconds: i64) -> Self {
        self.now_nanos = secs_to_nanos(unix_seconds);
        self
    }

    /// Makes host function `name` return `status` from the start (e.g. during `on_configure`).
    pub fn fail(mut self, name: &str, status: Status) -> Self {
        self.faults.push((name.to_owned(), Fault::Status(status)));
        self
    }

    /// Makes host function `name` trap from the start.
    pub fn trap_in(mut self, name: &str) -> Self {
        self.faults.push((name.to_owned(), Fault::Trap));
        self
    }

    /// The imitated proxy.
    pub fn current_profile(&self) -> Profile {
        self.profile
    }

    /// The module's imports, as `module::name`.
    pub fn imports(&self) -> Vec<String> {
        self.compiled
            .module
            .imports()
            .map(|i| format!("{}::{}", i.module(), i.name()))
            .collect()
    }

    /// Starts a VM with plugin configuration `config` and requires the plugin to accept it.
    pub fn configure(&self, config: &str) -> Result<Vm, Error> {
        let vm = self.start(config)?;
        if vm.configured {
            Ok(vm)
        } else {
            Err(Error::Rejected { logs: vm.logs() })
        }
    }

    /// Starts a VM with plugin configuration `config`, whether or not the plugin accepts it
    /// (see [`Vm::configured`]): for testing what a plugin does with a configuration it refused.
    pub fn start(&self, config: &str) -> Result<Vm, Error> {
        let c = &self.compiled;
        let mut state = State::new(self.profile);
        state.ngx_paths = self.ngx_paths;
        state.ngx_keep_invalid_headers = self.ngx_keep_invalid_headers;
        state.env = self.env.clone();
        state.now_nanos = self.now_nanos;
        state.monotonic_nanos = 1;
        state.vm_config = self.vm_config.clone();
        state.plugin_config = config.as_bytes().to_vec();
        state.faults = self.faults.iter().cloned().collect();
        let mut store = Store::new(&c.engine, state);
        let unknown: Vec<String> = c
            .module
            .imports()
            .filter(|i| c.linker.get_by_import(&mut store, i).is_none())
            .map(|i| format!("{}::{}", i.module(), i.name()))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::UnknownImports(unknown));
        }
        let instance = c
            .linker
            .instantiate(&mut store, &c.module)
            .map_err(|e| Error::Compile(format!("instantiation failed: {e:#}")))?;
        let abi = ["proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"];
        if !abi
            .iter()
            .any(|n| instance.get_func(&mut store, n).is_some())
        {
            return Err(Error::NotProxyWasm);
        }
        let mut vm = Vm {
            origin: (Box::new(self.clone()), config.to_owned()),
            restarts: 0,
            store,
            instance,
            profile: self.profile,
            next_context: ROOT_CONTEXT + 1,
            configured: false,
            failed: None,
            start_fuel: 0,
        };
        let mut fuel = 0;
        for init in ["_initialize", "_start"] {
            if vm.instance.get_func(&mut vm.store, init).is_some() {
                fuel += vm.lifecycle(init, &[])?.1;
                break;
            }
        }
        vm.store.data_mut().contexts.push(ROOT_CONTEXT);
        vm.store.data_mut().effective = ROOT_CONTEXT;
        let root = ROOT_CONTEXT as i32;
        fuel += vm.lifecycle("proxy_on_context_create", &[root, 0])?.1;
        let len = |b: &[u8]| i32::try_from(b.len()).unwrap_or(i32::MAX);
        let vm_len = len(&vm.store.data().vm_config);
        let (started, f) = vm.lifecycle("proxy_on_vm_start", &[root, vm_len])?;
        fuel += f;
        if started != Some(0) {
            let cfg_len = len(&vm.store.data().plugin_config);
            let (ok, f) = vm.lifecycle("proxy_on_configure", &[root, cfg_len])?;
            fuel += f;
            vm.configured = ok.is_some_and(|v| v != 0);
        }
        vm.start_fuel = fuel;
        Ok(vm)
    }
}

fn secs_to_nanos(secs: i64) -> u64 {
    u64::try_from(secs)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
}

/// What came of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The module answered itself (`proxy_send_local_response`).
    Local(LocalResponse),
    /// The module let the request continue; these are the request headers as the upstream
    /// would get them (pseudo-headers included).
    Continue {
        /// The final request header map.
        headers: Vec<(String, String)>,
    },
    /// The module paused the request and sent nothing: the request would hang.
    Paused,
    /// The module trapped; the proxy fails the request (fail closed).
    Trapped(String),
}

/// Wasmtime fuel a request consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fuel {
    /// `proxy_on_request_headers` alone.
    pub request_headers: u64,
    /// Every callback of the request: context create, headers, response headers, done, log,
    /// delete.
    pub total: u64,
}

/// A request and what came of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request header map as sent.
    pub request: Vec<(String, String)>,
    /// The verdict.
    pub outcome: Outcome,
    /// Fuel used.
    pub fuel: Fuel,
    /// The host calls made during this request.
    pub trace: Trace,
    /// A trap after the verdict (response phase, done, log, delete).
    pub late_trap: Option<String>,
    /// nginx's view of the request when the module was done (nginx profiles): what its proxy
    /// module builds the upstream request from (see [`crate::ngx`]).
    pub ngx: Option<NgxRequest>,
    profile: Profile,
}

/// A running plugin: one instance, its root context configured.
pub struct Vm {
    origin: (Box<Harness>, String),
    restarts: u32,
    store: Store<State>,
    instance: Instance,
    profile: Profile,
    next_context: u32,
    configured: bool,
    failed: Option<String>,
    start_fuel: u64,
}

impl fmt::Debug for Vm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vm")
            .field("profile", &self.profile)
            .field("configured", &self.configured)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Vm {
    /// Calls export `name`; `Ok((None, _))` if it returns nothing or does not exist. A trap
    /// fails the VM.
    fn call(&mut self, name: &str, args: &[i32]) -> Result<(Option<i32>, u64), String> {
        let Some(func) = self.instance.get_func(&mut self.store, name) else {
            return Ok((None, 0));
        };
        let results = func.ty(&self.store).results().len();
        let args: Vec<Val> = args.iter().map(|a| Val::I32(*a)).collect();
        let mut out = vec![Val::I32(0); results];
        self.store
            .set_fuel(FUEL_PER_CALL)
            .map_err(|e| format!("{e:#}"))?;
        let r = func.call(&mut self.store, &args, &mut out);
        let left = self.store.get_fuel().unwrap_or(0);
        let used = FUEL_PER_CALL.saturating_sub(left);
        match r {
            Ok(()) => Ok((out.first().and_then(Val::i32), used)),
            Err(e) => {
                let msg = format!("{name}: {e:#}");
                self.failed = Some(msg.clone());
                Err(msg)
            }
        }
    }

    fn lifecycle(&mut self, name: &str, args: &[i32]) -> Result<(Option<i32>, u64), Error> {
        self.call(name, args).map_err(|message| Error::Trapped {
            during: name.to_owned(),
            message,
        })
    }

    /// Whether the plugin accepted its configuration.
    pub fn configured(&self) -> bool {
        self.configured
    }

    /// Why the VM failed (it trapped), if it did; a failed VM answers every request with the
    /// proxy's failure status without running the module.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// How often the VM was replaced after a trap (nginx profiles only).
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Fuel used by `_initialize`, `on_vm_start` and `on_configure`.
    pub fn start_fuel(&self) -> u64 {
        self.start_fuel
    }

    /// Sets the clock to `unix_seconds`.
    pub fn at(&mut self, unix_seconds: i64) -> &mut Self {
        self.store.data_mut().now_nanos = secs_to_nanos(unix_seconds);
        self
    }

    /// Sets the clock to `nanos` since the epoch.
    pub fn at_nanos(&mut self, nanos: u64) -> &mut Self {
        self.store.data_mut().now_nanos = nanos;
        self
    }

    /// Moves the clock by `seconds` (negative: back).
    pub fn advance(&mut self, seconds: i64) -> &mut Self {
        let state = self.store.data_mut();
        let delta = seconds.unsigned_abs().saturating_mul(1_000_000_000);
        state.now_nanos = if seconds >= 0 {
            state.now_nanos.saturating_add(delta)
        } else {
            state.now_nanos.saturating_sub(delta)
        };
        state.monotonic_nanos = state.monotonic_nanos.saturating_add(delta);
        self
    }

    /// The clock, in Unix seconds.
    pub fn now(&self) -> i64 {
        i64::try_from(self.store.data().now_nanos / 1_000_000_000).unwrap_or(i64::MAX)
    }

    /// Makes host function `name` return `status` without doing anything, until [`Vm::heal`].
    pub fn fail(&mut self, name: &str, status: Status) -> &mut Self {
        self.store
            .data_mut()
            .faults
            .insert(name.to_owned(), Fault::Status(status));
        self
    }

    /// Makes host function `name` trap, until [`Vm::heal`].
    pub fn trap_in(&mut self, name: &str) -> &mut Self {
        self.store
            .data_mut()
            .faults
            .insert(name.to_owned(), Fault::Trap);
        self
    }

    /// Removes every injected fault.
    pub fn heal(&mut self) -> &mut Self {
        self.store.data_mut().faults.clear();
        self
    }

    /// Every host call since the VM started.
    pub fn trace(&self) -> &Trace {
        &self.store.data().trace
    }

    /// Every `proxy_log` line since the VM started.
    pub fn logs(&self) -> Vec<LogLine> {
        self.trace().logs()
    }

    /// The metrics the module defined.
    pub fn metrics(&self) -> &[Metric] {
        &self.store.data().metrics
    }

    /// The value of metric `name`.
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.metrics()
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    /// The tick period the module asked for (0: none).
    pub fn tick_period_ms(&self) -> u32 {
        self.store.data().tick_period_ms
    }

    /// Runs `proxy_on_tick` on the root context.
    pub fn tick(&mut self) -> Result<u64, Error> {
        self.store.data_mut().effective = ROOT_CONTEXT;
        Ok(self.lifecycle("proxy_on_tick", &[ROOT_CONTEXT as i32])?.1)
    }

    /// A request to build and send (`GET /` unless changed).
    pub fn request(&mut self) -> RequestBuilder<'_> {
        RequestBuilder {
            vm: self,
            method: "GET".into(),
            path: Some("/".into()),
            authority: "roomgate.test".into(),
            scheme: "http".into(),
            headers: Vec::new(),
            body: None,
            end_of_stream: None,
            header_map: true,
            raw_headers: Vec::new(),
        }
    }

    /// `GET target`.
    pub fn get(&mut self, target: &str) -> RequestBuilder<'_> {
        self.request().path(target)
    }
}

/// A request being built; [`RequestBuilder::send`] runs it through the module.
pub struct RequestBuilder<'a> {
    vm: &'a mut Vm,
    method: String,
    path: Option<String>,
    authority: String,
    scheme: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    end_of_stream: Option<bool>,
    header_map: bool,
    raw_headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl RequestBuilder<'_> {
    /// The method (`:method`).
    pub fn method(mut self, method: &str) -> Self {
        self.method = method.to_owned();
        self
    }

    /// The request target (`:path`), query included.
    pub fn path(mut self, target: &str) -> Self {
        self.path = Some(target.to_owned());
        self
    }

    /// The `:authority`.
    pub fn authority(mut self, authority: &str) -> Self {
        self.authority = authority.to_owned();
        self
    }

    /// Adds a header (repeat for repeated headers).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds headers.
    pub fn headers<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in headers {
            self.headers
                .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        }
        self
    }

    /// A request body (changes Envoy's headers-phase `end_of_stream` to false).
    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = Some(body.to_vec());
        self
    }

    /// Overrides the headers-phase `end_of_stream` flag.
    pub fn end_of_stream(mut self, eos: bool) -> Self {
        self.end_of_stream = Some(eos);
        self
    }

    /// Sends no `:path` pseudo-header.
    pub fn without_path(mut self) -> Self {
        self.path = None;
        self
    }

    /// Adds a header as raw bytes (a name or value that is not UTF-8), handed to the module only
    /// in the whole-map read (`proxy_get_header_map_pairs`). Under nginx, a name that is not an
    /// HTTP token is dropped by nginx before any filter unless [`Harness::ngx_invalid_headers`]
    /// says `ignore_invalid_headers off`.
    pub fn raw_header(mut self, name: &[u8], value: &[u8]) -> Self {
        self.raw_headers.push((name.to_vec(), value.to_vec()));
        self
    }

    /// Makes the request header map unavailable (host calls on it answer `BadArgument`).
    pub fn without_header_map(mut self) -> Self {
        self.header_map = false;
        self
    }

    fn header_map(&self) -> Vec<(String, String)> {
        let nginx = self.vm.profile.is_nginx();
        let mut map = Vec::new();
        let mut pseudo = vec![(":authority", self.authority.clone())];
        if let Some(p) = &self.path {
            pseudo.push((":path", p.clone()));
        }
        pseudo.push((":method", self.method.clone()));
        pseudo.push((":scheme", self.scheme.clone()));
        let pseudo: Vec<(String, String)> =
            pseudo.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        // Envoy lower-cases names and lists pseudo-headers first; ngx_wasm_module keeps the
        // client's spelling and appends the pseudo-headers after the real ones.
        let real = self.headers.iter().map(|(k, v)| {
            let k = if nginx {
                k.clone()
            } else {
                k.to_ascii_lowercase()
            };
            (k, v.clone())
        });
        if nginx {
            map.extend(real);
            map.extend(pseudo);
        } else {
            map.extend(pseudo);
            map.extend(real);
        }
        map
    }

    /// Runs the request through the module: context create, request headers, (request body),
    /// response headers, done, log, delete.
    pub fn send(self) -> Result<Exchange, Error> {
        let request = self.header_map();
        let vm = self.vm;
        let profile = vm.profile;
        if vm.failed.is_some() && profile.is_nginx() {
            // ngx_wasm_module drops a trapped instance and serves the next request from a new
            // one; Envoy keeps failing (fail_open: false) until the VM is reloaded. The new
            // instance keeps the trace, clock and faults.
            let (harness, config) = (vm.origin.0.clone(), vm.origin.1.clone());
            let mut fresh = harness.start(&config)?;
            let old = vm.store.data_mut();
            let new = fresh.store.data_mut();
            let mut trace = std::mem::take(&mut old.trace);
            for c in new.trace.calls() {
                trace.push(c.clone());
            }
            new.trace = trace;
            new.now_nanos = old.now_nanos;
            new.monotonic_nanos = old.monotonic_nanos;
            new.faults = std::mem::take(&mut old.faults);
            fresh.restarts = vm.restarts + 1;
            *vm = fresh;
        }
        let trace_start = vm.store.data().trace.len();
        if let Some(why) = &vm.failed {
            return Ok(Exchange {
                request,
                outcome: Outcome::Trapped(format!("VM failed earlier: {why}")),
                fuel: Fuel::default(),
                trace: Trace::default(),
                late_trap: None,
                ngx: None,
                profile,
            });
        }
        // nginx parses the request line and headers before any filter: what it refuses itself
        // never reaches the module.
        let ngx = if profile.is_nginx() {
            let real: Vec<(String, String)> = self.headers.clone();
            match NgxRequest::parse(self.path.as_deref().unwrap_or("/"), &real) {
                Ok(n) => Some(n),
                Err(refused) => {
                    return Ok(Exchange {
                        request,
                        outcome: Outcome::Local(LocalResponse {
                            status: 400,
                            details: format!("nginx: {}", refused.0),
                            headers: vec![("content-type".into(), "text/html".into())],
                            body: b"<html><head><title>400 Bad Request</title></head></html>"
                                .to_vec(),
                            grpc_status: -1,
                        }),
                        fuel: Fuel::default(),
                        trace: Trace::default(),
                        late_trap: None,
                        ngx: None,
                        profile,
                    });
                }
            }
        } else {
            None
        };
        let mut request = request;
        if let Some(n) = &ngx {
            for (_, v) in request.iter_mut().filter(|(k, _)| k == ":path") {
                *v = n.pseudo_path();
            }
        }
        let ctx = vm.next_context;
        vm.next_context += 1;
        {
            let state = vm.store.data_mut();
            state.maps.clear();
            if self.header_map {
                state.maps.insert(MapType::RequestHeaders, request.clone());
                state.maps.insert(MapType::RequestTrailers, Vec::new());
            }
            state.ngx = ngx;
            let keep_invalid = !profile.is_nginx() || state.ngx_keep_invalid_headers;
            state.raw_headers = self
                .raw_headers
                .iter()
                .filter(|(name, _)| {
                    keep_invalid
                        || (!name.is_empty()
                            && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-'))
                })
                .cloned()
                .collect();
            state.request_body = self.body.clone();
            state.response_body = None;
            state.local_response = None;
            let path = self.path.clone().unwrap_or_default();
            let url_path = path.split('?').next().unwrap_or_default().to_owned();
            let query = path
                .split_once('?')
                .map(|(_, q)| q.to_owned())
                .unwrap_or_default();
            for (k, v) in [
                ("request.path", path),
                ("request.url_path", url_path),
                ("request.query", query),
                ("request.host", self.authority.clone()),
                ("request.method", self.method.clone()),
                ("request.scheme", self.scheme.clone()),
                ("request.protocol", "HTTP/1.1".to_owned()),
                ("request.id", format!("harness-{ctx}")),
                ("source.address", "127.0.0.1:40000".to_owned()),
                ("destination.address", "127.0.0.1:8080".to_owned()),
                ("plugin_name", "roomgate".to_owned()),
                ("plugin_root_id", "roomgate".to_owned()),
            ] {
                state.properties.insert(k.to_owned(), v.into_bytes());
            }
            if profile.is_nginx() {
                // nginx variables are readable as `ngx.*` (a filter can tell the host apart).
                for (k, v) in [
                    ("ngx.hostname", "harness"),
                    ("ngx.request_method", &self.method),
                ] {
                    state.properties.insert(k.to_owned(), v.as_bytes().to_vec());
                }
            }
            state.contexts.push(ctx);
            state.effective = ctx;
        }
        let c = ctx as i32;
        let mut fuel = Fuel::default();
        let mut trapped = None;
        match vm.call("proxy_on_context_create", &[c, ROOT_CONTEXT as i32]) {
            Ok((_, f)) => fuel.total += f,
            Err(e) => trapped = Some(e),
        }
        let mut action = None;
        if trapped.is_none() {
            let n = i32::try_from(request.len()).unwrap_or(i32::MAX);
            let eos = self
                .end_of_stream
                .unwrap_or_else(|| profile.headers_end_of_stream(self.body.is_some()));
            match vm.call("proxy_on_request_headers", &[c, n, i32::from(eos)]) {
                Ok((a, f)) => {
                    fuel.request_headers = f;
                    fuel.total += f;
                    action = a;
                }
                Err(e) => trapped = Some(e),
            }
        }
        let local = vm.store.data_mut().local_response.take();
        let outcome = match (&trapped, local) {
            (Some(e), _) => Outcome::Trapped(e.clone()),
            (None, Some(r)) => Outcome::Local(r),
            (None, None) if action == Some(0) => Outcome::Continue {
                headers: vm
                    .store
                    .data()
                    .maps
                    .get(&MapType::RequestHeaders)
                    .cloned()
                    .unwrap_or_default(),
            },
            (None, None) => Outcome::Paused,
        };
        let mut late_trap = None;
        if trapped.is_none() {
            let mut steps: Vec<(&str, Vec<i32>)> = Vec::new();
            if let (Outcome::Continue { .. }, Some(body)) = (&outcome, &self.body) {
                let len = i32::try_from(body.len()).unwrap_or(i32::MAX);
                steps.push(("proxy_on_request_body", vec![c, len, 1]));
            }
            let response: Vec<(String, String)> = match &outcome {
                Outcome::Local(r) => std::iter::once((":status".to_owned(), r.status.to_string()))
                    .chain(r.headers.iter().cloned())
                    .collect(),
                _ => vec![
                    (":status".into(), "200".into()),
                    ("content-type".into(), "application/json".into()),
                ],
            };
            let n = i32::try_from(response.len()).unwrap_or(i32::MAX);
            if !matches!(outcome, Outcome::Paused) {
                vm.store
                    .data_mut()
                    .maps
                    .insert(MapType::ResponseHeaders, response);
                steps.push(("proxy_on_response_headers", vec![c, n, 0]));
            }
            steps.push(("proxy_on_done", vec![c]));
            steps.push(("proxy_on_log", vec![c]));
            steps.push(("proxy_on_delete", vec![c]));
            for (name, args) in steps {
                match vm.call(name, &args) {
                    Ok((_, f)) => fuel.total += f,
                    Err(e) => {
                        late_trap = Some(e);
                        break;
                    }
                }
            }
        }
        let state = vm.store.data_mut();
        state.contexts.retain(|x| *x != ctx);
        state.maps.clear();
        state.raw_headers.clear();
        state.effective = 0;
        let ngx = state.ngx.take();
        let trace = state.trace.since(trace_start);
        Ok(Exchange {
            request,
            outcome,
            fuel,
            trace,
            late_trap,
            ngx,
            profile,
        })
    }
}

impl Exchange {
    fn mismatch(&self, what: String) -> Error {
        Error::Mismatch(format!(
            "{what}\n  request: {:?}\n  outcome: {:?}\n  host calls:\n{}",
            self.request, self.outcome, self.trace
        ))
    }

    /// The local response, if the module sent one.
    pub fn local(&self) -> Option<&LocalResponse> {
        match &self.outcome {
            Outcome::Local(r) => Some(r),
            _ => None,
        }
    }

    /// The status the client sees: the local response's, 200 for a continued request (the
    /// upstream's answer), the proxy's failure status for a trap, `None` for a paused request.
    pub fn status(&self) -> Option<u16> {
        match &self.outcome {
            Outcome::Local(r) => Some(r.status),
            Outcome::Continue { .. } => Some(200),
            Outcome::Trapped(_) => Some(self.profile.trap_status()),
            Outcome::Paused => None,
        }
    }

    /// Requires a local response with `status`.
    pub fn expect_local(&self, status: u16) -> Result<Local<'_>, Error> {
        match &self.outcome {
            Outcome::Local(r) if r.status == status => Ok(Local {
                response: r,
                exchange: self,
            }),
            _ => Err(self.mismatch(format!("expected a local response {status}"))),
        }
    }

    /// Requires the request to continue upstream.
    pub fn expect_continue(&self) -> Result<Continued<'_>, Error> {
        match &self.outcome {
            Outcome::Continue { headers } => Ok(Continued {
                headers,
                exchange: self,
            }),
            _ => Err(self.mismatch("expected the request to continue".into())),
        }
    }

    /// Requires the module to have trapped; returns the trap message.
    pub fn expect_trap(&self) -> Result<&str, Error> {
        match &self.outcome {
            Outcome::Trapped(m) => Ok(m),
            _ => Err(self.mismatch("expected a trap".into())),
        }
    }

    /// Requires that the request did not reach the upstream: a local response or a trap
    /// (which the proxy turns into a failure response), never `Continue` nor a hang.
    pub fn expect_refused(&self) -> Result<&Self, Error> {
        match &self.outcome {
            Outcome::Local(_) | Outcome::Trapped(_) => Ok(self),
            _ => Err(self.mismatch("expected the request to be refused".into())),
        }
    }
}

fn find<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Checks on a local response.
#[derive(Debug, Clone, Copy)]
pub struct Local<'a> {
    /// The response.
    pub response: &'a LocalResponse,
    exchange: &'a Exchange,
}

impl Local<'_> {
    /// Requires header `name` to be exactly `value` (one occurrence).
    pub fn header(self, name: &str, value: &str) -> Result<Self, Error> {
        let got = find(&self.response.headers, name);
        if got != [value] {
            return Err(self.exchange.mismatch(format!(
                "response header {name}: {got:?} instead of {value:?}"
            )));
        }
        Ok(self)
    }

    /// Requires header `name` to contain `part`.
    pub fn header_contains(self, name: &str, part: &str) -> Result<Self, Error> {
        if !find(&self.response.headers, name)
            .iter()
            .any(|v| v.contains(part))
        {
            return Err(self
                .exchange
                .mismatch(format!("no response header {name} containing {part:?}")));
        }
        Ok(self)
    }

    /// Requires header `name` to be absent.
    pub fn no_header(self, name: &str) -> Result<Self, Error> {
        let got = find(&self.response.headers, name);
        if !got.is_empty() {
            return Err(self
                .exchange
                .mismatch(format!("unexpected response header {name}: {got:?}")));
        }
        Ok(self)
    }

    /// Requires the JSON body's `error` to be `code`.
    pub fn error(self, code: &str) -> Result<Self, Error> {
        let body: serde_json::Value = serde_json::from_slice(&self.response.body)
            .map_err(|e| self.exchange.mismatch(format!("body is not JSON: {e}")))?;
        if body.get("error").and_then(serde_json::Value::as_str) != Some(code) {
            return Err(self.exchange.mismatch(format!(
                "error code {:?} instead of {code:?}",
                body.get("error")
            )));
        }
        Ok(self)
    }

    /// Requires the body not to contain `text`.
    pub fn body_lacks(self, text: &str) -> Result<Self, Error> {
        if String::from_utf8_lossy(&self.response.body).contains(text) {
            return Err(self
                .exchange
                .mismatch(format!("the body contains {text:?}")));
        }
        Ok(self)
    }
}

/// Checks on a continued request.
#[derive(Debug, Clone, Copy)]
pub struct Continued<'a> {
    /// The final request header map.
    pub headers: &'a [(String, String)],
    exchange: &'a Exchange,
}

impl Continued<'_> {
    /// Requires header `name` to be exactly `value` (one occurrence).
    pub fn header(self, name: &str, value: &str) -> Result<Self, Error> {
        let got = find(self.headers, name);
        if got != [value] {
            return Err(self.exchange.mismatch(format!(
                "upstream header {name}: {got:?} instead of {value:?}"
            )));
        }
        Ok(self)
    }

    /// Requires header `name` to be absent.
    pub fn no_header(self, name: &str) -> Result<Self, Error> {
        let got = find(self.headers, name);
        if !got.is_empty() {
            return Err(self
                .exchange
                .mismatch(format!("upstream would see {name}: {got:?}")));
        }
        Ok(self)
    }

    /// Requires the forwarded `:path` to be `target`.
    pub fn path(self, target: &str) -> Result<Self, Error> {
        self.header(":path", target)
    }

    /// Requires no header value (nor `:path`) to contain `text` — e.g. a stripped token.
    pub fn nowhere(self, text: &str) -> Result<Self, Error> {
        if let Some((k, _)) = self.headers.iter().find(|(_, v)| v.contains(text)) {
            return Err(self
                .exchange
                .mismatch(format!("upstream would see {text:?} in {k}")));
        }
        Ok(self)
    }
}
