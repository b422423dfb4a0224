//! What nginx does around the module, for the nginx profiles: nginx 1.27.4 with ngx_wasm_module
//! prerelease-0.6.0, as measured by running the behaviour table and the attack corpus through a
//! real one (`tests/tests/table_nginx.rs`, `ROOMGATE_NGINX`) and read in their sources.
//!
//! - nginx parses the request line itself: `$uri` is the path percent-decoded once, with `//`
//!   merged and dot-segments resolved (an encoded `/` or `.` counts, `%25`, `%23`, `%3F` stay
//!   literal); a bad escape, `%00` or a `..` above the root is nginx's own 400, and so is a repeated
//!   header nginx keeps one of (`Authorization`, `Host`, …). None of these reach the module.
//! - The module's `:path` is `$uri?$args`, not the request line; `ngx.request_uri` (and
//!   `request.path`) is the request line's target, `ngx.uri` is `$uri`, `request.query` is
//!   `$args` and writing it changes `$args`.
//! - Removing a request header marks its entry in nginx's header list; the module no longer sees
//!   it, nor do the `$http_*` variables, but the proxy module forwards every entry, marked or not,
//!   unless `proxy_pass_request_headers off`.
//! - A `proxy_pass` without a URI part forwards the request line's target as received, or, once
//!   `$uri` or `$args` changed, `$uri` re-escaped (when the target had a `%`) and `?$args`.
//!
//! What reaches the upstream therefore depends on the `location` block: [`ProxyConf`] reads it
//! from the shipped `deploy/nginx/nginx.conf` (or `$ROOMGATE_NGINX_CONF`), so the harness judges
//! the example an operator copies.

use roomgate_tests::upstream::Echoed;

/// Request headers nginx refuses to see twice (400 "client sent duplicate header line").
pub const UNIQUE_HEADERS: &[&str] = &[
    "host",
    "if-modified-since",
    "if-unmodified-since",
    "if-match",
    "if-none-match",
    "content-length",
    "content-range",
    "if-range",
    "transfer-encoding",
    "expect",
    "authorization",
];

/// One entry of nginx's request header list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as the client spelled it.
    pub name: String,
    /// The value.
    pub value: String,
    /// Removed by the module (hash 0): invisible to the module and to `$http_*`, forwarded by a
    /// proxy that passes request headers.
    pub marked: bool,
}

/// nginx's view of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NgxRequest {
    /// `$request_uri`: the target as received.
    pub request_uri: String,
    /// `$uri`.
    pub uri: Vec<u8>,
    /// `$args`.
    pub args: String,
    /// Whether the target's path had a `%` (nginx re-escapes `$uri` only then).
    pub quoted: bool,
    /// Whether `$args` was written (`request.query`), which makes nginx rebuild the target.
    pub args_changed: bool,
    /// The header list, in order.
    pub list: Vec<Entry>,
}

/// Why nginx answers a request itself, before any filter runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl NgxRequest {
    /// What nginx makes of `target` and `headers`, or its own 400.
    pub fn parse(target: &str, headers: &[(String, String)]) -> Result<Self, Refused> {
        let (path, args) = target.split_once('?').unwrap_or((target, ""));
        let path = path.split('#').next().unwrap_or_default();
        if !path.starts_with('/') {
            // `CONNECT host:port` (and any target that is not a path): nginx's own 400.
            return Err(Refused("a request target that is not a path".into()));
        }
        let uri = decode_uri(path)?;
        for name in UNIQUE_HEADERS {
            if headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .count()
                > 1
            {
                return Err(Refused(format!(
                    "client sent duplicate header line: {name}"
                )));
            }
        }
        Ok(Self {
            request_uri: target.to_owned(),
            uri,
            args: args.to_owned(),
            quoted: path.contains('%'),
            args_changed: false,
            list: headers
                .iter()
                .map(|(k, v)| Entry {
                    name: k.clone(),
                    value: v.clone(),
                    marked: false,
                })
                .collect(),
        })
    }

    /// The module's `:path`: `$uri?$args`.
    pub fn pseudo_path(&self) -> String {
        let uri = String::from_utf8_lossy(&self.uri);
        if self.args.is_empty() {
            uri.into_owned()
        } else {
            format!("{uri}?{}", self.args)
        }
    }

    /// ngx_wasm_module's remove: every unmarked entry named `name` is marked.
    pub fn remove(&mut self, name: &str) {
        for e in &mut self.list {
            if !e.marked && e.name.eq_ignore_ascii_case(name) {
                e.marked = true;
            }
        }
    }

    /// ngx_wasm_module's replace: the first unmarked entry takes the value, later ones are
    /// marked; with none, the header is appended.
    pub fn replace(&mut self, name: &str, value: &str) {
        let mut seen = false;
        for e in &mut self.list {
            if e.marked || !e.name.eq_ignore_ascii_case(name) {
                continue;
            }
            if seen {
                e.marked = true;
            } else {
                e.value = value.to_owned();
                seen = true;
            }
        }
        if !seen {
            self.add(name, value);
        }
    }

    /// ngx_wasm_module's add: appended.
    pub fn add(&mut self, name: &str, value: &str) {
        self.list.push(Entry {
            name: name.to_owned(),
            value: value.to_owned(),
            marked: false,
        });
    }

    /// `$http_<name>`: the unmarked values, joined as nginx joins them.
    pub fn http_variable(&self, name: &str) -> String {
        let values: Vec<&str> = self
            .list
            .iter()
            .filter(|e| !e.marked && e.name.eq_ignore_ascii_case(name))
            .map(|e| e.value.as_str())
            .collect();
        let sep = if name.eq_ignore_ascii_case("cookie") {
            "; "
        } else {
            ", "
        };
        values.join(sep)
    }

    /// The target a `proxy_pass` without a URI part sends.
    pub fn forwarded_target(&self) -> String {
        if !self.args_changed {
            return self.request_uri.clone();
        }
        let mut out = if self.quoted {
            escape_uri(&self.uri)
        } else {
            String::from_utf8_lossy(&self.uri).into_owned()
        };
        if !self.args.is_empty() {
            out.push('?');
            out.push_str(&self.args);
        }
        out
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `$uri` from the target's path (`ngx_http_parse_complex_uri` with `merge_slashes on`).
pub fn decode_uri(path: &str) -> Result<Vec<u8>, Refused> {
    let bad = |why: &str| Refused(format!("invalid request: {why}"));
    let raw = path.as_bytes();
    // Decoded bytes; `false` marks a byte nginx keeps literal (`%25`, `%23`, `%3F`), which
    // cannot end a segment or form a dot-segment.
    let mut bytes: Vec<(u8, bool)> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let hi = raw.get(i + 1).copied().and_then(hex);
            let lo = raw.get(i + 2).copied().and_then(hex);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(bad("bad escape"));
            };
            let c = hi << 4 | lo;
            if c == 0 {
                return Err(bad("encoded NUL"));
            }
            bytes.push((c, !matches!(c, b'%' | b'#' | b'?')));
            i += 3;
        } else {
            bytes.push((b, true));
            i += 1;
        }
    }
    let mut segments: Vec<Vec<(u8, bool)>> = vec![Vec::new()];
    for (b, structural) in bytes {
        if b == b'/' && structural {
            segments.push(Vec::new());
        } else if let Some(last) = segments.last_mut() {
            last.push((b, structural));
        }
    }
    let is = |seg: &[(u8, bool)], dots: usize| {
        seg.len() == dots && seg.iter().all(|&(b, s)| b == b'.' && s)
    };
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut trailing = false;
    // The first segment is what precedes the leading `/` (empty for an origin-form target).
    for seg in segments.iter().skip(1) {
        trailing = false;
        if seg.is_empty() || is(seg, 1) {
            trailing = true;
        } else if is(seg, 2) {
            if out.pop().is_none() {
                return Err(bad("`..` above the root"));
            }
            trailing = true;
        } else {
            out.push(seg.iter().map(|&(b, _)| b).collect());
        }
    }
    let mut uri = vec![b'/'];
    uri.extend(out.join(&b'/'));
    if trailing && uri.len() > 1 {
        uri.push(b'/');
    }
    Ok(uri)
}

/// `ngx_escape_uri(…, NGX_ESCAPE_URI)` (nginx 1.27.4's table).
pub fn escape_uri(uri: &[u8]) -> String {
    let mut out = String::with_capacity(uri.len());
    for &b in uri {
        let escape = !(0x21..0x7f).contains(&b)
            || matches!(
                b,
                b'"' | b'#' | b'%' | b'<' | b'>' | b'?' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            );
        if escape {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// The proxy settings of the `location` that runs roomgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConf {
    /// `proxy_pass_request_headers` (nginx's default: on).
    pub pass_request_headers: bool,
    /// `proxy_set_header` lines, in order.
    pub set_headers: Vec<(String, String)>,
}

impl Default for ProxyConf {
    fn default() -> Self {
        Self {
            pass_request_headers: true,
            set_headers: Vec::new(),
        }
    }
}

/// nginx's own `proxy_set_header` defaults, for names the configuration does not set.
const PROXY_DEFAULTS: &[(&str, &str)] = &[
    ("Host", "$proxy_host"),
    ("Connection", "close"),
    ("Content-Length", "$proxy_internal_body_length"),
    ("Transfer-Encoding", "$proxy_internal_chunked"),
    ("TE", ""),
    ("Keep-Alive", ""),
    ("Expect", ""),
    ("Upgrade", ""),
];

impl ProxyConf {
    /// The shipped example's settings (`$ROOMGATE_NGINX_CONF` if set).
    pub fn shipped() -> Result<Self, String> {
        Ok(Self::parse(&roomgate_tests::nginx::shipped_config()?))
    }

    /// Reads the directives that decide what is forwarded (one directive per line).
    pub fn parse(conf: &str) -> Self {
        let mut c = Self::default();
        for line in conf.lines() {
            let code = line.split('#').next().unwrap_or_default().trim();
            let Some(code) = code.strip_suffix(';') else {
                continue;
            };
            let mut words = code.split_whitespace();
            match (words.next(), words.next()) {
                (Some("proxy_pass_request_headers"), Some(v)) => {
                    c.pass_request_headers = v != "off";
                }
                (Some("proxy_set_header"), Some(name)) => {
                    let value: Vec<&str> = words.collect();
                    let value = value.join(" ");
                    let value = value.trim_matches(|ch| ch == '"' || ch == '\'');
                    c.set_headers.push((name.to_owned(), value.to_owned()));
                }
                _ => {}
            }
        }
        c
    }

    /// What the upstream receives for `req`, the way nginx's proxy module builds it.
    pub fn forward(
        &self,
        req: &NgxRequest,
        method: &str,
        authority: &str,
        body_len: Option<usize>,
    ) -> Result<Echoed, String> {
        let mut lines: Vec<(String, String)> = self.set_headers.clone();
        for (name, value) in PROXY_DEFAULTS {
            if !lines.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                lines.push(((*name).to_owned(), (*value).to_owned()));
            }
        }
        let mut headers = Vec::new();
        for (name, value) in &lines {
            let value = evaluate(value, req, authority, body_len)?;
            if !value.is_empty() {
                headers.push((name.to_ascii_lowercase(), value));
            }
        }
        if self.pass_request_headers {
            for e in &req.list {
                // A marked entry's hash is 0, so nginx never finds it among the headers set
                // above: it is forwarded whatever proxy_set_header says.
                let overridden = lines.iter().any(|(n, _)| n.eq_ignore_ascii_case(&e.name));
                if e.marked || !overridden {
                    headers.push((e.name.to_ascii_lowercase(), e.value.clone()));
                }
            }
        }
        Ok(Echoed {
            method: method.to_owned(),
            path: req.forwarded_target(),
            headers,
        })
    }
}

/// A `proxy_set_header` value: literal text with the variables the examples use.
fn evaluate(
    value: &str,
    req: &NgxRequest,
    authority: &str,
    body_len: Option<usize>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let tail = rest.get(at + 1..).unwrap_or_default();
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let var = tail.get(..end).unwrap_or_default();
        let got = if let Some(h) = var.strip_prefix("http_") {
            req.http_variable(&h.replace('_', "-"))
        } else {
            match var {
                "host" => authority
                    .rsplit_once(':')
                    .map_or(authority, |(h, _)| h)
                    .to_ascii_lowercase(),
                "proxy_host" => "upstream".to_owned(),
                "scheme" => "http".to_owned(),
                "remote_addr" => "127.0.0.1".to_owned(),
                "proxy_add_x_forwarded_for" => {
                    let xff = req.http_variable("x-forwarded-for");
                    if xff.is_empty() {
                        "127.0.0.1".to_owned()
                    } else {
                        format!("{xff}, 127.0.0.1")
                    }
                }
                // deploy/nginx's `map $http_upgrade $connection_upgrade`.
                "connection_upgrade" => {
                    if req.http_variable("upgrade").is_empty() {
                        "close".to_owned()
                    } else {
                        "upgrade".to_owned()
                    }
                }
                "proxy_internal_body_length" => body_len.map(|n| n.to_string()).unwrap_or_default(),
                "proxy_internal_chunked" => String::new(),
                other => {
                    return Err(format!(
                        "the nginx model does not know ${other} (tests/harness/src/ngx.rs)"
                    ))
                }
            }
        };
        out.push_str(&got);
        rest = tail.get(end..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn uri(p: &str) -> String {
        String::from_utf8(decode_uri(p).unwrap()).unwrap()
    }

    #[test]
    fn uri_decoding_follows_nginx() {
        assert_eq!(uri("/%73tandup"), "/standup");
        assert_eq!(uri("/%2573tandup"), "/%73tandup");
        assert_eq!(uri("/other/..%2Fstandup"), "/standup");
        assert_eq!(uri("/other%2F..%2Fstandup"), "/standup");
        assert_eq!(uri("/libs/../standup"), "/standup");
        assert_eq!(uri("//standup"), "/standup");
        assert_eq!(uri("/standup%3F/x"), "/standup?/x");
        assert_eq!(uri("/a/b/.."), "/a/");
        assert_eq!(uri("/a/."), "/a/");
        assert_eq!(uri("/"), "/");
        assert_eq!(uri("/a/"), "/a/");
        for bad in ["/%2e%2e/x", "/..", "/a%", "/a%4", "/a%zz", "/a%00"] {
            assert!(decode_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn marked_entries_are_invisible_to_variables_but_forwarded_by_default() {
        let mut r =
            NgxRequest::parse("/x?jwt=t", &[("X-Roomgate-Room".into(), "evil".into())]).unwrap();
        r.remove("x-roomgate-room");
        r.add("x-roomgate-room", "x");
        assert_eq!(r.http_variable("x-roomgate-room"), "x");
        let up = ProxyConf::default().forward(&r, "GET", "h", None).unwrap();
        assert_eq!(up.header_all("x-roomgate-room"), ["evil", "x"]);
        assert_eq!(up.path, "/x?jwt=t");
        r.args = String::new();
        r.args_changed = true;
        assert_eq!(r.forwarded_target(), "/x");
    }
}
