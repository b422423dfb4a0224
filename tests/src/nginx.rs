//! The behaviour table's [`Host`] in a real nginx with Kong's ngx_wasm_module. A claim about nginx
//! counts only when a real nginx confirmed it, and CI cannot build one (ngx_wasm_module is on no
//! package registry), so this host runs when `ROOMGATE_NGINX` names an nginx binary built with the
//! module, and the suites that use it say clearly that they were skipped otherwise.
//!
//! Each configuration gets its own nginx (`daemon off`, `master_process off`, one process, killed
//! on drop), configured from the shipped `deploy/nginx/nginx.conf` with only the listen address,
//! the upstream, the module path, the log paths and the filter configuration replaced, plus
//! `env NAME=value;` lines for the configuration's variables: what is tested is the example an
//! operator copies, `location` block and all.

use std::collections::HashMap;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::table::{self, Host, Observed, Request};
use crate::upstream::EchoUpstream;

/// How long nginx may take to listen (it compiles the module with wasmtime first).
const START_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(20);

/// The nginx binary from `$ROOMGATE_NGINX`, if set.
pub fn nginx_binary() -> Option<PathBuf> {
    std::env::var_os("ROOMGATE_NGINX")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// The shipped nginx example, or `$ROOMGATE_NGINX_CONF` (to run another example the same way,
/// e.g. an older one for comparison).
pub fn shipped_config() -> Result<String, String> {
    let path = match std::env::var_os("ROOMGATE_NGINX_CONF").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => crate::repo_root().join("deploy/nginx/nginx.conf"),
    };
    fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// What [`render`] needs to turn the shipped example into a runnable configuration.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    /// Private directory for logs, pid and temp files.
    pub dir: &'a Path,
    /// The port nginx listens on (127.0.0.1).
    pub port: u16,
    /// The echo upstream's port.
    pub upstream_port: u16,
    /// The module.
    pub wasm: &'a Path,
    /// The filter configuration (JSON).
    pub filter_config: &'a str,
    /// The VM's environment, as `env NAME=value;` lines.
    pub env: &'a [(&'a str, String)],
    /// The `error_log` level (the shipped one if `None`).
    pub error_log_level: Option<&'a str>,
    /// Directives added to the `server` block, after its `listen` (for checks of settings the
    /// example leaves at nginx's defaults, e.g. `ignore_invalid_headers off;`).
    pub server_directives: &'a [&'a str],
}

/// The shipped `conf` with only the machine-specific parts replaced (see the module docs).
/// Fails if a part it must replace is missing, so a changed example cannot go untested.
pub fn render(conf: &str, s: &Setup<'_>) -> Result<String, String> {
    let dir = s.dir.display();
    let mut out = Vec::new();
    let mut found = [false; 6];
    found[1] = true; // error_log: added if the example has none
    for line in conf.lines() {
        let code = line.trim();
        let indent = line
            .get(..line.len() - line.trim_start().len())
            .unwrap_or("");
        if code.starts_with("worker_processes ") {
            found[0] = true;
            out.push("daemon off;".to_owned());
            out.push("master_process off;".to_owned());
            out.push(format!("pid {dir}/nginx.pid;"));
            for (k, v) in s.env {
                if v.contains(['"', '\\', '\n']) {
                    return Err(format!("cannot pass {k} through nginx's env directive"));
                }
                out.push(format!("env \"{k}={v}\";"));
            }
            out.push(line.to_owned());
            if !conf.lines().any(|l| l.trim().starts_with("error_log ")) {
                let level = s.error_log_level.unwrap_or("error");
                out.push(format!("error_log {dir}/error.log {level};"));
            }
        } else if code.starts_with("error_log ") {
            let shipped = code
                .trim_end_matches(';')
                .rsplit(' ')
                .next()
                .unwrap_or("error");
            let level = s.error_log_level.unwrap_or(shipped);
            out.push(format!("{indent}error_log {dir}/error.log {level};"));
        } else if code.starts_with("access_log ") {
            let format = code
                .trim_end_matches(';')
                .split_whitespace()
                .nth(2)
                .unwrap_or("");
            out.push(format!("{indent}access_log {dir}/access.log {format};"));
            out.push(format!("{indent}client_body_temp_path {dir}/body;"));
            out.push(format!("{indent}proxy_temp_path {dir}/proxy;"));
            out.push(format!("{indent}fastcgi_temp_path {dir}/fastcgi;"));
            out.push(format!("{indent}uwsgi_temp_path {dir}/uwsgi;"));
            out.push(format!("{indent}scgi_temp_path {dir}/scgi;"));
        } else if code.starts_with("module roomgate ") {
            found[2] = true;
            out.push(format!("{indent}module roomgate {};", s.wasm.display()));
        } else if code.starts_with("server 127.0.0.1:") {
            found[3] = true;
            out.push(format!("{indent}server 127.0.0.1:{};", s.upstream_port));
        } else if code.starts_with("listen ") {
            found[4] = true;
            out.push(format!("{indent}listen 127.0.0.1:{};", s.port));
            for directive in s.server_directives {
                out.push(format!("{indent}{directive}"));
            }
        } else if code.starts_with("proxy_wasm roomgate '") {
            found[5] = true;
            let quoted = s.filter_config.replace('\\', "\\\\").replace('\'', "\\'");
            out.push(format!("{indent}proxy_wasm roomgate '{quoted}';"));
        } else {
            out.push(line.to_owned());
        }
    }
    let names = [
        "worker_processes",
        "error_log",
        "module roomgate",
        "upstream server",
        "listen",
        "proxy_wasm roomgate",
    ];
    if let Some(i) = found.iter().position(|f| !f) {
        return Err(format!(
            "deploy/nginx/nginx.conf has no `{}` line to adapt",
            names.get(i).unwrap_or(&"?")
        ));
    }
    Ok(out.join("\n") + "\n")
}

fn run_dir() -> Result<PathBuf, String> {
    crate::support::run_dir("nginx")
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// A running nginx, killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    /// Starts `binary` on the shipped example adapted by `setup` (its `dir` and `port` are
    /// chosen here), with `server_directives` added to its `server` block, and waits until it
    /// listens.
    pub fn start(
        binary: &Path,
        upstream_port: u16,
        filter_config: &str,
        env: &[(&str, String)],
        error_log_level: Option<&str>,
        server_directives: &[&str],
    ) -> Result<Nginx, String> {
        let dir = run_dir()?;
        let started = Self::start_in(dir.clone(), binary, |dir, port| {
            render(
                &shipped_config()?,
                &Setup {
                    dir,
                    port,
                    upstream_port,
                    wasm: &crate::envoy::default_wasm(),
                    filter_config,
                    env,
                    error_log_level,
                    server_directives,
                },
            )
        });
        started.inspect_err(|_| {
            let _ = fs::remove_dir_all(&dir);
        })
    }

    /// Runs `binary` in `dir` on the configuration `conf(dir, port)` renders for a free port.
    fn start_in(
        dir: PathBuf,
        binary: &Path,
        conf: impl FnOnce(&Path, u16) -> Result<String, String>,
    ) -> Result<Nginx, String> {
        // nginx opens `logs/…` under its prefix for anything the example leaves at the default.
        fs::create_dir(dir.join("logs")).map_err(|e| e.to_string())?;
        let port = free_port()?;
        let conf = conf(&dir, port)?;
        let conf_path = dir.join("nginx.conf");
        fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
        let stderr = fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut nginx = Nginx { child, dir, port };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                return Err(format!(
                    "nginx exited ({status}) before listening:\n{}",
                    nginx.logs()
                ));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(nginx);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "nginx did not listen within {START_TIMEOUT:?}:\n{}",
                    nginx.logs()
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The error log and whatever nginx wrote to stderr.
    pub fn logs(&self) -> String {
        let mut logs = String::new();
        for name in ["error.log", "stderr.log"] {
            if let Ok(bytes) = fs::read(self.dir.join(name)) {
                logs.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        logs
    }

    /// The access log.
    pub fn access_log(&self) -> String {
        fs::read(self.dir.join("access.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A real nginx per configuration, in front of one echo upstream.
pub struct NginxHost {
    binary: PathBuf,
    upstream: EchoUpstream,
    servers: HashMap<String, Nginx>,
    failed: HashMap<String, String>,
    error_log_level: Option<String>,
}

impl NginxHost {
    /// Starts the echo upstream; nginx processes start on first use of each configuration.
    pub fn new(binary: PathBuf) -> Result<Self, String> {
        Ok(Self {
            binary,
            upstream: EchoUpstream::start(0).map_err(|e| e.to_string())?,
            servers: HashMap::new(),
            failed: HashMap::new(),
            error_log_level: None,
        })
    }

    /// Runs nginx with this `error_log` level instead of the shipped one.
    pub fn error_log_level(mut self, level: &str) -> Self {
        self.error_log_level = Some(level.to_owned());
        self
    }

    /// The nginx serving `config`, started if needed.
    pub fn nginx(&mut self, config: &str) -> Result<&Nginx, String> {
        if let Some(why) = self.failed.get(config) {
            return Err(format!("{config}: nginx did not start: {why}"));
        }
        if !self.servers.contains_key(config) {
            let started = Nginx::start(
                &self.binary,
                self.upstream.port(),
                &table::config(config)?,
                &table::env(config),
                self.error_log_level.as_deref(),
                &[],
            );
            match started {
                Ok(nginx) => {
                    self.servers.insert(config.to_owned(), nginx);
                }
                Err(why) => {
                    self.failed.insert(config.to_owned(), why.clone());
                    return Err(format!("{config}: nginx did not start: {why}"));
                }
            }
        }
        self.servers
            .get(config)
            .ok_or_else(|| "nginx vanished".to_owned())
    }

    /// The nginx processes started so far, by configuration name.
    pub fn servers(&self) -> impl Iterator<Item = (&str, &Nginx)> {
        self.servers.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl Host for NginxHost {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
    }

    fn send(&mut self, config: &str, req: &Request) -> Result<Observed, String> {
        let port = self.nginx(config)?.port();
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = crate::http::send(port, &req.method, &req.target, &headers)
            .map_err(|e| e.to_string())?;
        let upstream = if r.status == 200 { r.echoed() } else { None };
        Ok(Observed {
            status: r.status,
            headers: r.headers,
            body: r.body,
            upstream,
        })
    }
}

/// Cases of the behaviour table and the attack corpus that cannot mean the same under nginx:
/// nginx parses the request line and headers itself and answers these 400 before any filter
/// runs (measured with nginx 1.27.4 and ngx_wasm_module prerelease-0.6.0), so the body is nginx's
/// own page, not roomgate's JSON, and a repeated `Authorization` is nginx's 400, not roomgate's
/// 401 `ambiguous_token`. They are still refused and never forwarded, which [`run_all`] checks.
pub const REFUSED_BY_NGINX: &[(&str, &str)] = &[
    (
        "an_encoded_dot_dot_segment_is_400",
        "`%2e%2e` resolves above the root",
    ),
    (
        "an_upper_case_encoded_dot_dot_is_400",
        "`%2E%2E` resolves above the root",
    ),
    (
        "a_half_encoded_dot_dot_is_400",
        "`.%2e` resolves above the root",
    ),
    ("an_encoded_nul_is_400", "nginx refuses `%00` in the path"),
    ("a_truncated_escape_is_400", "nginx refuses a bad escape"),
    ("a_bare_percent_is_400", "nginx refuses a bad escape"),
    ("a_non_hex_escape_is_400", "nginx refuses a bad escape"),
    (
        "a_repeated_authorization_header_is_ambiguous",
        "nginx refuses a repeated Authorization header",
    ),
    (
        "two_different_authorization_headers_are_ambiguous",
        "nginx refuses a repeated Authorization header",
    ),
    (
        "connect_is_a_clear_400",
        "nginx refuses CONNECT (a target that is not a path) itself",
    ),
];

/// [`table::run_all`] for an nginx host: every case as on any host, except the
/// [`REFUSED_BY_NGINX`] ones, which must be nginx's own 400, not forwarded, not echoing the token.
pub fn run_all(cases: &[table::Case], host: &mut dyn Host) -> Result<(), String> {
    table::run_all_with(cases, host, |c, host| {
        match REFUSED_BY_NGINX.iter().find(|(n, _)| *n == c.name) {
            None => c.run(host),
            Some((_, why)) => refused_by_nginx(c, host)
                .map_err(|e| format!("{} (nginx refuses it itself: {why}): {e}", c.name)),
        }
    })
}

fn refused_by_nginx(c: &table::Case, host: &mut dyn Host) -> Result<(), String> {
    let token = c.token.as_ref().map(|t| t.render(host.now()));
    let seen = host.send(c.config, &c.request(token.as_deref()))?;
    if seen.status != 400 {
        return Err(format!("status {} instead of nginx's 400", seen.status));
    }
    if seen.upstream.is_some() {
        return Err("the request reached the upstream".into());
    }
    if let Some(t) = token.filter(|t| t.len() >= 8) {
        if seen.body.contains(&t) || seen.headers.iter().any(|(_, v)| v.contains(&t)) {
            return Err("the response echoes the token".into());
        }
    }
    Ok(())
}
