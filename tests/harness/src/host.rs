//! The host side of proxy-wasm ABI 0.2.1 and of the WASI preview1 calls a Rust `wasm32-wasip1`
//! filter imports, implemented on wasmtime's safe API. This is what Envoy or nginx would provide;
//! here every call is also recorded (see [`crate::trace`]), can be made to fail on purpose (see
//! [`Fault`]), and is refused if the imitated proxy lacks it (see [`crate::Profile`]).
//!
//! Semantics follow Envoy where hosts differ (header keys lower-cased, `replace` leaves one value,
//! a missing map is `BadArgument`, `get_header_map_value` answers the first value), with the
//! nginx `:path` rule available separately (see [`State::ngx_paths`]).

use crate::abi::{self, LogLevel, MapType, Status};
use crate::profile::Profile;
use crate::trace::{Call, Trace};
use std::collections::{BTreeMap, VecDeque};
use wasmtime::{Caller, Error, Extern, Linker, Memory, Result};

/// A failure injected into one host function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The function does nothing and returns this status.
    Status(Status),
    /// The function traps, as a host does on a fatal error.
    Trap,
}

/// A response the module produced itself (`proxy_send_local_response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status.
    pub status: u16,
    /// Envoy's "response code details".
    pub details: String,
    /// Headers, in the order given.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// gRPC status (-1: none).
    pub grpc_status: i32,
}

/// A metric the module defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// The id returned to the module.
    pub id: u32,
    /// 0 counter, 1 gauge, 2 histogram.
    pub kind: i32,
    /// Its name.
    pub name: String,
    /// Its value (a histogram keeps the last recorded value).
    pub value: u64,
}

#[derive(Debug, Default)]
struct Queue {
    vm_id: String,
    name: String,
    items: VecDeque<Vec<u8>>,
}

/// Everything the host knows: the store data of the module's instance.
#[derive(Debug, Default)]
pub struct State {
    /// The imitated proxy.
    pub profile: Profile,
    /// Apply the `:path` rule of ngx_wasm_module up to prerelease-0.5.0 (its source): setting
    /// `:path` changes only the path (the query string stays), and a value containing `?` traps
    /// ("NYI - cannot set request path with querystring"); writing the `request.query` property
    /// replaces the query string. prerelease-0.6.0 accepts the `?` (see [`State::ngx`]).
    pub ngx_paths: bool,
    /// nginx's view of the current request (nginx profiles; see [`crate::ngx`]): the header
    /// list with the entries the module removed still in it, `$uri`, `$args`, `$request_uri`.
    pub ngx: Option<crate::ngx::NgxRequest>,
    /// nginx with `ignore_invalid_headers off`: raw headers with invalid names reach the module.
    pub ngx_keep_invalid_headers: bool,
    /// Request headers handed to the module as bytes, after the map's own (see
    /// [`crate::RequestBuilder::raw_header`]); only `proxy_get_header_map_pairs` returns them.
    pub raw_headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The VM's environment (`environ_get`).
    pub env: Vec<(String, String)>,
    /// Wall clock, nanoseconds since the Unix epoch.
    pub now_nanos: u64,
    /// Monotonic clock, nanoseconds.
    pub monotonic_nanos: u64,
    /// `vm_config.configuration` / nginx `module … <config>`.
    pub vm_config: Vec<u8>,
    /// The plugin configuration.
    pub plugin_config: Vec<u8>,
    /// Live context ids.
    pub contexts: Vec<u32>,
    /// The context host calls are attributed to.
    pub effective: u32,
    /// Header maps available now; an absent map answers `BadArgument`.
    pub maps: BTreeMap<MapType, Vec<(String, String)>>,
    /// The request body, if any.
    pub request_body: Option<Vec<u8>>,
    /// The response body, if any.
    pub response_body: Option<Vec<u8>>,
    /// The local response of the current request.
    pub local_response: Option<LocalResponse>,
    /// Properties by dotted path (`request.path`).
    pub properties: BTreeMap<String, Vec<u8>>,
    /// Shared data: value and CAS.
    pub shared_data: BTreeMap<String, (Vec<u8>, u32)>,
    queues: Vec<Queue>,
    /// Metrics in definition order.
    pub metrics: Vec<Metric>,
    /// The tick period the module asked for.
    pub tick_period_ms: u32,
    /// Injected failures by host function name.
    pub faults: BTreeMap<String, Fault>,
    /// Every host call.
    pub trace: Trace,
    /// How often the module resumed a stream (`proxy_continue_stream`).
    pub resumed: u32,
    rng: u64,
}

impl State {
    /// A fresh host state for `profile`.
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            rng: 0x9E37_79B9_7F4A_7C15,
            ..Self::default()
        }
    }

    fn record(&mut self, name: &'static str, args: String, text: String, result: String) {
        let context = self.effective;
        self.trace.push(Call {
            context,
            name,
            args,
            text,
            result,
        });
    }

    fn map(&mut self, code: i32) -> std::result::Result<&mut Vec<(String, String)>, Status> {
        let t = MapType::from_code(code).ok_or(Status::BadArgument)?;
        self.maps.get_mut(&t).ok_or(Status::BadArgument)
    }
}

type C<'a> = Caller<'a, State>;

/// Checks the profile and injected faults before a host function runs. `Ok(Some(code))` means
/// "return this status now".
fn gate(c: &mut C<'_>, name: &'static str, args: &str, text: &str) -> Result<Option<i32>> {
    if !c.data().profile.implements(name) {
        let why = format!(
            "TRAP: {name} is not implemented by {:?} (a module calling it traps there)",
            c.data().profile
        );
        c.data_mut()
            .record(name, args.into(), text.into(), why.clone());
        return Err(Error::msg(why));
    }
    match c.data().faults.get(name).copied() {
        None => Ok(None),
        Some(Fault::Status(s)) => {
            c.data_mut()
                .record(name, args.into(), text.into(), format!("{s} (injected)"));
            Ok(Some(s.code()))
        }
        Some(Fault::Trap) => {
            let why = format!("TRAP: injected fault in {name}");
            c.data_mut()
                .record(name, args.into(), text.into(), why.clone());
            Err(Error::msg(why))
        }
    }
}

fn done(c: &mut C<'_>, name: &'static str, args: String, text: String, status: Status) -> i32 {
    c.data_mut().record(name, args, text, status.to_string());
    status.code()
}

fn memory(c: &mut C<'_>) -> Result<Memory> {
    c.get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| Error::msg("the module exports no memory"))
}

fn read(c: &mut C<'_>, ptr: i32, len: i32) -> Result<Vec<u8>> {
    let mem = memory(c)?;
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    if ptr
        .checked_add(len)
        .is_none_or(|end| end > mem.data_size(&*c))
    {
        return Err(Error::msg(format!(
            "invalid memory access: {len} bytes at {ptr}"
        )));
    }
    let mut buf = vec![0u8; len];
    mem.read(&*c, ptr, &mut buf)
        .map_err(|e| Error::msg(format!("invalid memory access: {e}")))?;
    Ok(buf)
}

fn read_text(c: &mut C<'_>, ptr: i32, len: i32) -> Result<String> {
    Ok(String::from_utf8_lossy(&read(c, ptr, len)?).into_owned())
}

fn write(c: &mut C<'_>, ptr: i32, bytes: &[u8]) -> Result<()> {
    let mem = memory(c)?;
    mem.write(&mut *c, ptr as u32 as usize, bytes)
        .map_err(|e| Error::msg(format!("invalid memory access writing at {ptr}: {e}")))
}

fn write_u32(c: &mut C<'_>, ptr: i32, v: u32) -> Result<()> {
    write(c, ptr, &v.to_le_bytes())
}

fn write_u64(c: &mut C<'_>, ptr: i32, v: u64) -> Result<()> {
    write(c, ptr, &v.to_le_bytes())
}

/// Asks the module for `size` bytes (`proxy_on_memory_allocate`, or `malloc`).
fn alloc(c: &mut C<'_>, size: usize) -> Result<i32> {
    let f = c
        .get_export("proxy_on_memory_allocate")
        .or_else(|| c.get_export("malloc"))
        .and_then(Extern::into_func)
        .ok_or_else(|| Error::msg("the module exports no proxy_on_memory_allocate or malloc"))?;
    let f = f.typed::<i32, i32>(&*c)?;
    let size = i32::try_from(size).map_err(|_| Error::msg("buffer too large for wasm32"))?;
    let p = f.call(&mut *c, size)?;
    if p == 0 {
        return Err(Error::msg(format!(
            "the module could not allocate {size} bytes"
        )));
    }
    Ok(p)
}

/// Hands `bytes` to the module: allocates in its memory and writes the pointer and size where it
/// asked. Empty data is returned as a null pointer and size 0, as Envoy does.
fn give(c: &mut C<'_>, bytes: &[u8], ptr_out: i32, size_out: i32) -> Result<()> {
    let p = if bytes.is_empty() {
        0
    } else {
        let p = alloc(c, bytes.len())?;
        write(c, p, bytes)?;
        p
    };
    write_u32(c, ptr_out, p as u32)?;
    write_u32(c, size_out, u32::try_from(bytes.len()).unwrap_or(u32::MAX))
}

fn property_key(raw: &[u8]) -> String {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    raw.split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

// ---- integration, context, time ------------------------------------------------------------

fn proxy_log(mut c: C<'_>, level: i32, ptr: i32, len: i32) -> Result<i32> {
    const N: &str = "proxy_log";
    let text = read_text(&mut c, ptr, len)?;
    let args = format!("level={level}");
    if let Some(r) = gate(&mut c, N, &args, &text)? {
        return Ok(r);
    }
    let status = if LogLevel::from_code(level).is_some() {
        Status::Ok
    } else {
        Status::BadArgument
    };
    Ok(done(&mut c, N, args, text, status))
}

fn proxy_get_log_level(mut c: C<'_>, ret: i32) -> Result<i32> {
    const N: &str = "proxy_get_log_level";
    if let Some(r) = gate(&mut c, N, "", "")? {
        return Ok(r);
    }
    write_u32(&mut c, ret, 0)?;
    Ok(done(&mut c, N, String::new(), String::new(), Status::Ok))
}

fn proxy_get_current_time_nanoseconds(mut c: C<'_>, ret: i32) -> Result<i32> {
    const N: &str = "proxy_get_current_time_nanoseconds";
    if let Some(r) = gate(&mut c, N, "", "")? {
        return Ok(r);
    }
    let now = c.data().now_nanos;
    write_u64(&mut c, ret, now)?;
    Ok(done(
        &mut c,
        N,
        format!("now={now}"),
        String::new(),
        Status::Ok,
    ))
}

fn proxy_set_tick_period_milliseconds(mut c: C<'_>, ms: i32) -> Result<i32> {
    const N: &str = "proxy_set_tick_period_milliseconds";
    let args = format!("{ms}");
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    c.data_mut().tick_period_ms = ms as u32;
    Ok(done(&mut c, N, args, String::new(), Status::Ok))
}

fn proxy_set_effective_context(mut c: C<'_>, id: i32) -> Result<i32> {
    const N: &str = "proxy_set_effective_context";
    let args = format!("{id}");
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    let id = id as u32;
    let status = if c.data().contexts.contains(&id) {
        c.data_mut().effective = id;
        Status::Ok
    } else {
        Status::BadArgument
    };
    Ok(done(&mut c, N, args, String::new(), status))
}

fn proxy_done(mut c: C<'_>) -> Result<i32> {
    const N: &str = "proxy_done";
    if let Some(r) = gate(&mut c, N, "", "")? {
        return Ok(r);
    }
    Ok(done(&mut c, N, String::new(), String::new(), Status::Ok))
}

// ---- buffers --------------------------------------------------------------------------------

fn proxy_get_buffer_bytes(
    mut c: C<'_>,
    kind: i32,
    start: i32,
    max: i32,
    ret_ptr: i32,
    ret_size: i32,
) -> Result<i32> {
    const N: &str = "proxy_get_buffer_bytes";
    let args = format!("type={kind}, start={start}, max={}", max as u32);
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    let data = match kind {
        abi::buffer::VM_CONFIGURATION => Some(c.data().vm_config.clone()),
        abi::buffer::PLUGIN_CONFIGURATION => Some(c.data().plugin_config.clone()),
        abi::buffer::HTTP_REQUEST_BODY => c.data().request_body.clone(),
        abi::buffer::HTTP_RESPONSE_BODY => c.data().response_body.clone(),
        _ => None,
    };
    let Some(data) = data else {
        return Ok(done(&mut c, N, args, String::new(), Status::NotFound));
    };
    let start = (start as u32 as usize).min(data.len());
    let end = start.saturating_add(max as u32 as usize).min(data.len());
    let slice = data.get(start..end).unwrap_or_default().to_vec();
    give(&mut c, &slice, ret_ptr, ret_size)?;
    let args = format!("{args}, returned {} bytes", slice.len());
    Ok(done(&mut c, N, args, String::new(), Status::Ok))
}

fn proxy_set_buffer_bytes(
    mut c: C<'_>,
    kind: i32,
    start: i32,
    size: i32,
    ptr: i32,
    len: i32,
) -> Result<i32> {
    const N: &str = "proxy_set_buffer_bytes";
    let bytes = read(&mut c, ptr, len)?;
    let args = format!("type={kind}, start={start}, size={size}");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if let Some(r) = gate(&mut c, N, &args, &text)? {
        return Ok(r);
    }
    let state = c.data_mut();
    let body = match kind {
        abi::buffer::HTTP_REQUEST_BODY => state.request_body.as_mut(),
        abi::buffer::HTTP_RESPONSE_BODY => state.response_body.as_mut(),
        _ => None,
    };
    let status = match body {
        Some(body) => {
            let start = (start as u32 as usize).min(body.len());
            let end = start.saturating_add(size as u32 as usize).min(body.len());
            body.splice(start..end, bytes);
            Status::Ok
        }
        None => Status::BadArgument,
    };
    Ok(done(&mut c, N, args, text, status))
}

// ---- header maps ----------------------------------------------------------------------------

fn proxy_get_header_map_pairs(mut c: C<'_>, kind: i32, ret_ptr: i32, ret_size: i32) -> Result<i32> {
    const N: &str = "proxy_get_header_map_pairs";
    let args = format!("map={kind}");
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    let pairs = match c.data_mut().map(kind) {
        Ok(m) => m.clone(),
        Err(s) => return Ok(done(&mut c, N, args, String::new(), s)),
    };
    let raw = if kind == 0 {
        c.data().raw_headers.clone()
    } else {
        Vec::new()
    };
    let count = pairs.len() + raw.len();
    let bytes = if raw.is_empty() {
        abi::serialize_map(&pairs)
    } else {
        let mut all: Vec<(Vec<u8>, Vec<u8>)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
            .collect();
        all.extend(raw);
        abi::serialize_map_bytes(&all)
    };
    give(&mut c, &bytes, ret_ptr, ret_size)?;
    let args = format!("{args}, returned {count} pairs");
    Ok(done(&mut c, N, args, String::new(), Status::Ok))
}

fn proxy_set_header_map_pairs(mut c: C<'_>, kind: i32, ptr: i32, len: i32) -> Result<i32> {
    const N: &str = "proxy_set_header_map_pairs";
    let bytes = read(&mut c, ptr, len)?;
    let args = format!("map={kind}");
    let pairs = abi::deserialize_map(&bytes);
    let text = match &pairs {
        Ok(p) => p
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => e.clone(),
    };
    if let Some(r) = gate(&mut c, N, &args, &text)? {
        return Ok(r);
    }
    let Ok(pairs) = pairs else {
        return Ok(done(&mut c, N, args, text, Status::SerializationFailure));
    };
    if kind == 0 {
        if let Some(ngx) = c.data_mut().ngx.as_mut() {
            // ngx_wasm_module marks every entry, then adds the new ones.
            let names: Vec<String> = ngx.list.iter().map(|e| e.name.clone()).collect();
            for name in names {
                ngx.remove(&name);
            }
            for (k, v) in pairs.iter().filter(|(k, _)| !k.starts_with(':')) {
                ngx.add(k, v);
            }
        }
    }
    let status = match c.data_mut().map(kind) {
        Ok(m) => {
            *m = pairs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            Status::Ok
        }
        Err(s) => s,
    };
    Ok(done(&mut c, N, args, text, status))
}

fn proxy_get_header_map_value(
    mut c: C<'_>,
    kind: i32,
    key_ptr: i32,
    key_len: i32,
    ret_ptr: i32,
    ret_size: i32,
) -> Result<i32> {
    const N: &str = "proxy_get_header_map_value";
    let key = read_text(&mut c, key_ptr, key_len)?;
    let args = format!("map={kind}");
    if let Some(r) = gate(&mut c, N, &args, &key)? {
        return Ok(r);
    }
    let value = match c.data_mut().map(kind) {
        Ok(m) => m
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            .map(|(_, v)| v.clone()),
        Err(s) => return Ok(done(&mut c, N, args, key, s)),
    };
    let Some(value) = value else {
        return Ok(done(&mut c, N, args, key, Status::NotFound));
    };
    give(&mut c, value.as_bytes(), ret_ptr, ret_size)?;
    let args = format!("{args}, returned {} bytes", value.len());
    Ok(done(&mut c, N, args, key, Status::Ok))
}

/// Applies nginx's `:path` rule; `Err` is the trap message.
fn ngx_path(current: Option<&str>, value: &str) -> std::result::Result<String, String> {
    if value.contains('?') {
        return Err("NYI - cannot set request path with querystring".into());
    }
    let query = current.and_then(|p| p.split_once('?')).map(|(_, q)| q);
    Ok(match query {
        Some(q) => format!("{value}?{q}"),
        None => value.to_owned(),
    })
}

fn edit_map(
    mut c: C<'_>,
    name: &'static str,
    kind: i32,
    key: String,
    value: Option<String>,
) -> Result<i32> {
    let args = format!("map={kind}");
    let text = match &value {
        Some(v) => format!("{key}: {v}"),
        None => key.clone(),
    };
    if let Some(r) = gate(&mut c, name, &args, &text)? {
        return Ok(r);
    }
    let key = key.to_ascii_lowercase();
    let old_rule = c.data().ngx_paths
        && kind == 0
        && key == ":path"
        && name != "proxy_remove_header_map_value";
    let state = c.data_mut();
    let current = match state.map(kind) {
        Ok(m) => m.iter().find(|(k, _)| k == ":path").map(|(_, v)| v.clone()),
        Err(s) => return Ok(done(&mut c, name, args, text, s)),
    };
    let mut value = value;
    if old_rule {
        match ngx_path(current.as_deref(), value.as_deref().unwrap_or_default()) {
            Ok(v) => value = Some(v),
            Err(why) => {
                let why = format!("TRAP: {why}");
                c.data_mut().record(name, args, text, why.clone());
                return Err(Error::msg(why));
            }
        }
    }
    let state = c.data_mut();
    if let (0, Some(ngx)) = (kind, state.ngx.as_mut()) {
        match (name, value.as_deref()) {
            (_, Some(v)) if key == ":path" && !old_rule => {
                // ngx_wasm_module 0.6.0 (`ngx_proxy_wasm_maps_set_path`): `$uri` becomes the
                // value up to `?`, and `$args` the rest if there is a `?`. It leaves nginx's
                // "the request line's target is still valid" flag alone, so a plain
                // `proxy_pass` still forwards the target as received (source, not measured:
                // roomgate never sets `:path` on nginx).
                let (uri, query) = match v.split_once('?') {
                    Some((u, q)) => (u, Some(q)),
                    None => (v, None),
                };
                ngx.uri = uri.as_bytes().to_vec();
                if let Some(q) = query {
                    ngx.args = q.to_owned();
                }
                value = Some(ngx.pseudo_path());
            }
            (_, _) if key.starts_with(':') => {}
            ("proxy_add_header_map_value", Some(v)) => ngx.add(&key, v),
            ("proxy_replace_header_map_value", Some(v)) => ngx.replace(&key, v),
            _ => ngx.remove(&key),
        }
    }
    let map = match state.map(kind) {
        Ok(m) => m,
        Err(s) => return Ok(done(&mut c, name, args, text, s)),
    };
    match (name, value) {
        ("proxy_add_header_map_value", Some(v)) => map.push((key, v)),
        ("proxy_replace_header_map_value", Some(v)) => {
            let mut seen = false;
            map.retain_mut(|(k, old)| {
                if !k.eq_ignore_ascii_case(&key) {
                    return true;
                }
                if seen {
                    return false;
                }
                seen = true;
                *old = v.clone();
                true
            });
            if !seen {
                map.push((key, v));
            }
        }
        _ => map.retain(|(k, _)| !k.eq_ignore_ascii_case(&key)),
    }
    Ok(done(&mut c, name, args, text, Status::Ok))
}

fn proxy_replace_header_map_value(
    mut c: C<'_>,
    kind: i32,
    kp: i32,
    kl: i32,
    vp: i32,
    vl: i32,
) -> Result<i32> {
    let key = read_text(&mut c, kp, kl)?;
    let value = read_text(&mut c, vp, vl)?;
    edit_map(c, "proxy_replace_header_map_value", kind, key, Some(value))
}

fn proxy_add_header_map_value(
    mut c: C<'_>,
    kind: i32,
    kp: i32,
    kl: i32,
    vp: i32,
    vl: i32,
) -> Result<i32> {
    let key = read_text(&mut c, kp, kl)?;
    let value = read_text(&mut c, vp, vl)?;
    edit_map(c, "proxy_add_header_map_value", kind, key, Some(value))
}

fn proxy_remove_header_map_value(mut c: C<'_>, kind: i32, kp: i32, kl: i32) -> Result<i32> {
    let key = read_text(&mut c, kp, kl)?;
    edit_map(c, "proxy_remove_header_map_value", kind, key, None)
}

// ---- properties -----------------------------------------------------------------------------

fn proxy_get_property(mut c: C<'_>, pp: i32, pl: i32, ret_ptr: i32, ret_size: i32) -> Result<i32> {
    const N: &str = "proxy_get_property";
    let path = property_key(&read(&mut c, pp, pl)?);
    if let Some(r) = gate(&mut c, N, "", &path)? {
        return Ok(r);
    }
    let live = c.data().ngx.as_ref().and_then(|ngx| match path.as_str() {
        "ngx.request_uri" | "request.path" => Some(ngx.request_uri.as_bytes().to_vec()),
        "ngx.uri" | "request.url_path" => Some(ngx.uri.clone()),
        "ngx.args" | "request.query" => Some(ngx.args.as_bytes().to_vec()),
        _ => None,
    });
    let Some(value) = live.or_else(|| c.data().properties.get(&path).cloned()) else {
        return Ok(done(&mut c, N, String::new(), path, Status::NotFound));
    };
    give(&mut c, &value, ret_ptr, ret_size)?;
    let args = format!("returned {} bytes", value.len());
    Ok(done(&mut c, N, args, path, Status::Ok))
}

fn proxy_set_property(mut c: C<'_>, pp: i32, pl: i32, vp: i32, vl: i32) -> Result<i32> {
    const N: &str = "proxy_set_property";
    let path = property_key(&read(&mut c, pp, pl)?);
    let value = read(&mut c, vp, vl)?;
    let text = format!("{path} = {}", String::from_utf8_lossy(&value));
    if let Some(r) = gate(&mut c, N, "", &text)? {
        return Ok(r);
    }
    let state = c.data_mut();
    if let (Some(ngx), "request.query" | "ngx.args") = (state.ngx.as_mut(), path.as_str()) {
        // `$args` is written: nginx rebuilds the target it forwards from `$uri` and `$args`.
        ngx.args = String::from_utf8_lossy(&value).into_owned();
        ngx.args_changed = true;
        let p = ngx.pseudo_path();
        if let Some(map) = state.maps.get_mut(&MapType::RequestHeaders) {
            for (_, v) in map.iter_mut().filter(|(k, _)| k == ":path") {
                v.clone_from(&p);
            }
        }
    } else if (state.ngx_paths || state.profile.is_nginx()) && path == "request.query" {
        // ngx_wasm_module maps `request.query` to `$args`: writing it changes the query string
        // the upstream gets (and `:path`, which nginx builds as `$uri?$args`).
        let query = String::from_utf8_lossy(&value).into_owned();
        if let Some(map) = state.maps.get_mut(&MapType::RequestHeaders) {
            for (_, v) in map.iter_mut().filter(|(k, _)| k == ":path") {
                let uri = v.split('?').next().unwrap_or_default().to_owned();
                *v = if query.is_empty() {
                    uri
                } else {
                    format!("{uri}?{query}")
                };
            }
        }
    }
    state.properties.insert(path, value);
    Ok(done(&mut c, N, String::new(), text, Status::Ok))
}

// ---- HTTP -----------------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
fn proxy_send_local_response(
    mut c: C<'_>,
    status: i32,
    dp: i32,
    dl: i32,
    bp: i32,
    bl: i32,
    hp: i32,
    hl: i32,
    grpc: i32,
) -> Result<i32> {
    const N: &str = "proxy_send_local_response";
    let details = read_text(&mut c, dp, dl)?;
    let body = read(&mut c, bp, bl)?;
    let headers = abi::deserialize_map(&read(&mut c, hp, hl)?);
    let args = format!("status={status}, details={details:?}, grpc={grpc}");
    let text = match &headers {
        Ok(h) => {
            let mut t: Vec<String> = h.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            t.push(String::new());
            t.push(String::from_utf8_lossy(&body).into_owned());
            t.join("\n")
        }
        Err(e) => e.clone(),
    };
    if let Some(r) = gate(&mut c, N, &args, &text)? {
        return Ok(r);
    }
    let Ok(headers) = headers else {
        return Ok(done(&mut c, N, args, text, Status::SerializationFailure));
    };
    let Ok(code) = u16::try_from(status) else {
        return Ok(done(&mut c, N, args, text, Status::BadArgument));
    };
    let state = c.data_mut();
    let result = if state.local_response.is_some() {
        Status::BadArgument
    } else {
        state.local_response = Some(LocalResponse {
            status: code,
            details,
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body,
            grpc_status: grpc,
        });
        Status::Ok
    };
    Ok(done(&mut c, N, args, text, result))
}

fn resume(mut c: C<'_>, name: &'static str, args: String) -> Result<i32> {
    if let Some(r) = gate(&mut c, name, &args, "")? {
        return Ok(r);
    }
    c.data_mut().resumed += 1;
    Ok(done(&mut c, name, args, String::new(), Status::Ok))
}

fn proxy_continue_stream(c: C<'_>, stream: i32) -> Result<i32> {
    resume(c, "proxy_continue_stream", format!("stream={stream}"))
}

fn proxy_continue_request(c: C<'_>) -> Result<i32> {
    resume(c, "proxy_continue_request", String::new())
}

fn proxy_continue_response(c: C<'_>) -> Result<i32> {
    resume(c, "proxy_continue_response", String::new())
}

fn proxy_close_stream(mut c: C<'_>, stream: i32) -> Result<i32> {
    const N: &str = "proxy_close_stream";
    let args = format!("stream={stream}");
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    Ok(done(&mut c, N, args, String::new(), Status::Ok))
}

// ---- calling out (recorded, never performed) ------------------------------------------------

#[allow(clippy::too_many_arguments)]
fn proxy_http_call(
    mut c: C<'_>,
    up: i32,
    upl: i32,
    hp: i32,
    hl: i32,
    bp: i32,
    bl: i32,
    _tp: i32,
    _tl: i32,
    timeout: i32,
    _token: i32,
) -> Result<i32> {
    const N: &str = "proxy_http_call";
    let upstream = read_text(&mut c, up, upl)?;
    let headers = abi::deserialize_map(&read(&mut c, hp, hl)?).unwrap_or_default();
    let body = read_text(&mut c, bp, bl)?;
    let mut text: Vec<String> = headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    text.push(body);
    let args = format!("upstream={upstream:?}, timeout={timeout}");
    if let Some(r) = gate(&mut c, N, &args, &text.join("\n"))? {
        return Ok(r);
    }
    // The harness has no clusters: Envoy answers BadArgument for an unknown one.
    Ok(done(&mut c, N, args, text.join("\n"), Status::BadArgument))
}

#[allow(clippy::too_many_arguments)]
fn proxy_grpc_call(
    mut c: C<'_>,
    up: i32,
    upl: i32,
    sp: i32,
    sl: i32,
    mp: i32,
    ml: i32,
    _hp: i32,
    _hl: i32,
    msg: i32,
    msgl: i32,
    _timeout: i32,
    _token: i32,
) -> Result<i32> {
    const N: &str = "proxy_grpc_call";
    let args = format!(
        "upstream={:?}, service={:?}, method={:?}",
        read_text(&mut c, up, upl)?,
        read_text(&mut c, sp, sl)?,
        read_text(&mut c, mp, ml)?
    );
    let text = read_text(&mut c, msg, msgl)?;
    if let Some(r) = gate(&mut c, N, &args, &text)? {
        return Ok(r);
    }
    Ok(done(&mut c, N, args, text, Status::ParseFailure))
}

#[allow(clippy::too_many_arguments)]
fn proxy_grpc_stream(
    mut c: C<'_>,
    up: i32,
    upl: i32,
    sp: i32,
    sl: i32,
    mp: i32,
    ml: i32,
    _hp: i32,
    _hl: i32,
    _token: i32,
) -> Result<i32> {
    const N: &str = "proxy_grpc_stream";
    let args = format!(
        "upstream={:?}, service={:?}, method={:?}",
        read_text(&mut c, up, upl)?,
        read_text(&mut c, sp, sl)?,
        read_text(&mut c, mp, ml)?
    );
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    Ok(done(&mut c, N, args, String::new(), Status::ParseFailure))
}

fn proxy_grpc_send(mut c: C<'_>, token: i32, mp: i32, ml: i32, end: i32) -> Result<i32> {
    const N: &str = "proxy_grpc_send";
    let text = read_text(&mut c, mp, ml)?;
    let args = format!("token={token}, end_stream={end}");
    if let Some(r) = gate(&mut c, N, &args, &text)? {
        return Ok(r);
    }
    Ok(done(&mut c, N, args, text, Status::NotFound))
}

fn grpc_token(mut c: C<'_>, name: &'static str, token: i32) -> Result<i32> {
    let args = format!("token={token}");
    if let Some(r) = gate(&mut c, name, &args, "")? {
        return Ok(r);
    }
    Ok(done(&mut c, name, args, String::new(), Status::NotFound))
}

fn proxy_grpc_cancel(c: C<'_>, token: i32) -> Result<i32> {
    grpc_token(c, "proxy_grpc_cancel", token)
}

fn proxy_grpc_close(c: C<'_>, token: i32) -> Result<i32> {
    grpc_token(c, "proxy_grpc_close", token)
}

fn proxy_get_status(mut c: C<'_>, code_ptr: i32, msg_ptr: i32, msg_size: i32) -> Result<i32> {
    const N: &str = "proxy_get_status";
    if let Some(r) = gate(&mut c, N, "", "")? {
        return Ok(r);
    }
    write_u32(&mut c, code_ptr, 0)?;
    give(&mut c, &[], msg_ptr, msg_size)?;
    Ok(done(&mut c, N, String::new(), String::new(), Status::Ok))
}

fn proxy_call_foreign_function(
    mut c: C<'_>,
    np: i32,
    nl: i32,
    ap: i32,
    al: i32,
    _rp: i32,
    _rs: i32,
) -> Result<i32> {
    const N: &str = "proxy_call_foreign_function";
    let args = format!("name={:?}", read_text(&mut c, np, nl)?);
    let text = read_text(&mut c, ap, al)?;
    if let Some(r) = gate(&mut c, N, &args, &text)? {
        return Ok(r);
    }
    Ok(done(&mut c, N, args, text, Status::NotFound))
}

// ---- shared data and queues -----------------------------------------------------------------

fn proxy_get_shared_data(
    mut c: C<'_>,
    kp: i32,
    kl: i32,
    ret_ptr: i32,
    ret_size: i32,
    ret_cas: i32,
) -> Result<i32> {
    const N: &str = "proxy_get_shared_data";
    let key = read_text(&mut c, kp, kl)?;
    if let Some(r) = gate(&mut c, N, "", &key)? {
        return Ok(r);
    }
    let Some((value, cas)) = c.data().shared_data.get(&key).cloned() else {
        return Ok(done(&mut c, N, String::new(), key, Status::NotFound));
    };
    give(&mut c, &value, ret_ptr, ret_size)?;
    write_u32(&mut c, ret_cas, cas)?;
    Ok(done(&mut c, N, format!("cas={cas}"), key, Status::Ok))
}

fn proxy_set_shared_data(
    mut c: C<'_>,
    kp: i32,
    kl: i32,
    vp: i32,
    vl: i32,
    cas: i32,
) -> Result<i32> {
    const N: &str = "proxy_set_shared_data";
    let key = read_text(&mut c, kp, kl)?;
    let value = read(&mut c, vp, vl)?;
    let args = format!("cas={cas}");
    let text = format!("{key} = {}", String::from_utf8_lossy(&value));
    if let Some(r) = gate(&mut c, N, &args, &text)? {
        return Ok(r);
    }
    let data = &mut c.data_mut().shared_data;
    let current = data.get(&key).map_or(0, |(_, n)| *n);
    let status = if cas != 0 && cas as u32 != current {
        Status::CasMismatch
    } else {
        data.insert(key, (value, current.wrapping_add(1)));
        Status::Ok
    };
    Ok(done(&mut c, N, args, text, status))
}

fn proxy_register_shared_queue(mut c: C<'_>, np: i32, nl: i32, ret_id: i32) -> Result<i32> {
    const N: &str = "proxy_register_shared_queue";
    let name = read_text(&mut c, np, nl)?;
    if let Some(r) = gate(&mut c, N, "", &name)? {
        return Ok(r);
    }
    let queues = &mut c.data_mut().queues;
    let id = match queues
        .iter()
        .position(|q| q.vm_id.is_empty() && q.name == name)
    {
        Some(i) => i,
        None => {
            queues.push(Queue {
                name: name.clone(),
                ..Queue::default()
            });
            queues.len() - 1
        }
    };
    write_u32(&mut c, ret_id, id as u32 + 1)?;
    Ok(done(&mut c, N, format!("id={}", id + 1), name, Status::Ok))
}

fn proxy_resolve_shared_queue(
    mut c: C<'_>,
    vp: i32,
    vl: i32,
    np: i32,
    nl: i32,
    ret_id: i32,
) -> Result<i32> {
    const N: &str = "proxy_resolve_shared_queue";
    let vm_id = read_text(&mut c, vp, vl)?;
    let name = read_text(&mut c, np, nl)?;
    let args = format!("vm_id={vm_id:?}");
    if let Some(r) = gate(&mut c, N, &args, &name)? {
        return Ok(r);
    }
    let found = c
        .data()
        .queues
        .iter()
        .position(|q| q.name == name && (q.vm_id == vm_id || q.vm_id.is_empty()));
    let Some(id) = found else {
        return Ok(done(&mut c, N, args, name, Status::NotFound));
    };
    write_u32(&mut c, ret_id, id as u32 + 1)?;
    Ok(done(&mut c, N, args, name, Status::Ok))
}

fn proxy_enqueue_shared_queue(mut c: C<'_>, id: i32, vp: i32, vl: i32) -> Result<i32> {
    const N: &str = "proxy_enqueue_shared_queue";
    let value = read(&mut c, vp, vl)?;
    let args = format!("id={id}");
    let text = String::from_utf8_lossy(&value).into_owned();
    if let Some(r) = gate(&mut c, N, &args, &text)? {
        return Ok(r);
    }
    let index = (id as u32 as usize).wrapping_sub(1);
    let status = match c.data_mut().queues.get_mut(index) {
        Some(q) => {
            q.items.push_back(value);
            Status::Ok
        }
        None => Status::NotFound,
    };
    Ok(done(&mut c, N, args, text, status))
}

fn proxy_dequeue_shared_queue(mut c: C<'_>, id: i32, ret_ptr: i32, ret_size: i32) -> Result<i32> {
    const N: &str = "proxy_dequeue_shared_queue";
    let args = format!("id={id}");
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    let index = (id as u32 as usize).wrapping_sub(1);
    let item = match c.data_mut().queues.get_mut(index) {
        Some(q) => q.items.pop_front(),
        None => return Ok(done(&mut c, N, args, String::new(), Status::NotFound)),
    };
    let Some(item) = item else {
        return Ok(done(&mut c, N, args, String::new(), Status::Empty));
    };
    give(&mut c, &item, ret_ptr, ret_size)?;
    Ok(done(&mut c, N, args, String::new(), Status::Ok))
}

// ---- metrics --------------------------------------------------------------------------------

fn proxy_define_metric(mut c: C<'_>, kind: i32, np: i32, nl: i32, ret_id: i32) -> Result<i32> {
    const N: &str = "proxy_define_metric";
    let name = read_text(&mut c, np, nl)?;
    let args = format!("type={kind}");
    if let Some(r) = gate(&mut c, N, &args, &name)? {
        return Ok(r);
    }
    if !(0..=2).contains(&kind) {
        return Ok(done(&mut c, N, args, name, Status::BadArgument));
    }
    let metrics = &mut c.data_mut().metrics;
    let id = match metrics.iter().find(|m| m.name == name && m.kind == kind) {
        Some(m) => m.id,
        None => {
            let id = metrics.len() as u32 + 1;
            metrics.push(Metric {
                id,
                kind,
                name: name.clone(),
                value: 0,
            });
            id
        }
    };
    write_u32(&mut c, ret_id, id)?;
    Ok(done(
        &mut c,
        N,
        format!("{args}, id={id}"),
        name,
        Status::Ok,
    ))
}

fn proxy_increment_metric(mut c: C<'_>, id: i32, offset: i64) -> Result<i32> {
    const N: &str = "proxy_increment_metric";
    let args = format!("id={id}, offset={offset}");
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    let status = match c.data_mut().metrics.iter_mut().find(|m| m.id == id as u32) {
        None => Status::NotFound,
        Some(m) if m.kind == 0 && offset < 0 => Status::BadArgument,
        Some(m) => {
            m.value = m.value.saturating_add_signed(offset);
            Status::Ok
        }
    };
    Ok(done(&mut c, N, args, String::new(), status))
}

fn proxy_record_metric(mut c: C<'_>, id: i32, value: i64) -> Result<i32> {
    const N: &str = "proxy_record_metric";
    let args = format!("id={id}, value={}", value as u64);
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    let status = match c.data_mut().metrics.iter_mut().find(|m| m.id == id as u32) {
        None => Status::NotFound,
        Some(m) if m.kind == 0 => Status::BadArgument,
        Some(m) => {
            m.value = value as u64;
            Status::Ok
        }
    };
    Ok(done(&mut c, N, args, String::new(), status))
}

fn proxy_get_metric(mut c: C<'_>, id: i32, ret: i32) -> Result<i32> {
    const N: &str = "proxy_get_metric";
    let args = format!("id={id}");
    if let Some(r) = gate(&mut c, N, &args, "")? {
        return Ok(r);
    }
    let value = c
        .data()
        .metrics
        .iter()
        .find(|m| m.id == id as u32)
        .map(|m| m.value);
    let Some(value) = value else {
        return Ok(done(&mut c, N, args, String::new(), Status::NotFound));
    };
    write_u64(&mut c, ret, value)?;
    Ok(done(&mut c, N, args, String::new(), Status::Ok))
}

// ---- WASI preview1 --------------------------------------------------------------------------

const WASI_SUCCESS: i32 = 0;
const WASI_BADF: i32 = 8;
const WASI_INVAL: i32 = 28;

fn environ_sizes_get(mut c: C<'_>, count_ptr: i32, size_ptr: i32) -> Result<i32> {
    const N: &str = "environ_sizes_get";
    if let Some(r) = gate(&mut c, N, "", "")? {
        return Ok(r);
    }
    let env = &c.data().env;
    let count = env.len() as u32;
    let size: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    write_u32(&mut c, count_ptr, count)?;
    write_u32(&mut c, size_ptr, size as u32)?;
    c.data_mut()
        .record(N, format!("{count} variables"), String::new(), "0".into());
    Ok(WASI_SUCCESS)
}

fn environ_get(mut c: C<'_>, ptrs: i32, buf: i32) -> Result<i32> {
    const N: &str = "environ_get";
    if let Some(r) = gate(&mut c, N, "", "")? {
        return Ok(r);
    }
    let env = c.data().env.clone();
    let mut at = buf;
    for (i, (k, v)) in env.iter().enumerate() {
        write_u32(&mut c, ptrs + 4 * i as i32, at as u32)?;
        let entry = format!("{k}={v}\0");
        write(&mut c, at, entry.as_bytes())?;
        at += entry.len() as i32;
    }
    // Names only: the values are the secrets tests search the trace for.
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    c.data_mut()
        .record(N, format!("names={names:?}"), String::new(), "0".into());
    Ok(WASI_SUCCESS)
}

fn args_sizes_get(mut c: C<'_>, count_ptr: i32, size_ptr: i32) -> Result<i32> {
    write_u32(&mut c, count_ptr, 0)?;
    write_u32(&mut c, size_ptr, 0)?;
    c.data_mut()
        .record("args_sizes_get", String::new(), String::new(), "0".into());
    Ok(WASI_SUCCESS)
}

fn args_get(mut c: C<'_>, _ptrs: i32, _buf: i32) -> Result<i32> {
    c.data_mut()
        .record("args_get", String::new(), String::new(), "0".into());
    Ok(WASI_SUCCESS)
}

fn clock_time_get(mut c: C<'_>, id: i32, _precision: i64, ret: i32) -> Result<i32> {
    const N: &str = "clock_time_get";
    let args = format!("clock={id}");
    let value = match id {
        0 => c.data().now_nanos,
        1 => c.data().monotonic_nanos,
        _ => {
            c.data_mut()
                .record(N, args, String::new(), WASI_INVAL.to_string());
            return Ok(WASI_INVAL);
        }
    };
    write_u64(&mut c, ret, value)?;
    c.data_mut()
        .record(N, format!("{args}, now={value}"), String::new(), "0".into());
    Ok(WASI_SUCCESS)
}

fn random_get(mut c: C<'_>, buf: i32, len: i32) -> Result<i32> {
    // Deterministic (xorshift64*): runs, traces and fuel repeat exactly.
    let mut bytes = Vec::with_capacity(len as u32 as usize);
    let state = c.data_mut();
    while bytes.len() < len as u32 as usize {
        state.rng ^= state.rng >> 12;
        state.rng ^= state.rng << 25;
        state.rng ^= state.rng >> 27;
        bytes.extend_from_slice(&state.rng.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    bytes.truncate(len as u32 as usize);
    write(&mut c, buf, &bytes)?;
    c.data_mut().record(
        "random_get",
        format!("len={len}"),
        String::new(),
        "0".into(),
    );
    Ok(WASI_SUCCESS)
}

fn fd_write(mut c: C<'_>, fd: i32, iovs: i32, n: i32, written_ptr: i32) -> Result<i32> {
    const N: &str = "fd_write";
    let mut out = Vec::new();
    for i in 0..n {
        let iov = read(&mut c, iovs + 8 * i, 8)?;
        let word = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(iov.get(at..at + 4).unwrap_or(&[0; 4]));
            u32::from_le_bytes(b) as i32
        };
        out.extend(read(&mut c, word(0), word(4))?);
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let args = format!("fd={fd}");
    if !(1..=2).contains(&fd) {
        c.data_mut().record(N, args, text, WASI_BADF.to_string());
        return Ok(WASI_BADF);
    }
    write_u32(&mut c, written_ptr, out.len() as u32)?;
    c.data_mut().record(N, args, text, "0".into());
    Ok(WASI_SUCCESS)
}

fn proc_exit(mut c: C<'_>, code: i32) -> Result<()> {
    let why = format!("TRAP: proc_exit({code})");
    c.data_mut()
        .record("proc_exit", format!("{code}"), String::new(), why.clone());
    Err(Error::msg(why))
}

/// Defines every host function on `linker`: the proxy-wasm ABI 0.2.1 set under `env` and the
/// WASI preview1 subset under `wasi_snapshot_preview1`. Imports outside this set are refused when
/// the module is instantiated.
pub fn define(linker: &mut Linker<State>) -> Result<()> {
    const E: &str = "env";
    const W: &str = "wasi_snapshot_preview1";
    linker.func_wrap(E, "proxy_log", proxy_log)?;
    linker.func_wrap(E, "proxy_get_log_level", proxy_get_log_level)?;
    linker.func_wrap(
        E,
        "proxy_get_current_time_nanoseconds",
        proxy_get_current_time_nanoseconds,
    )?;
    linker.func_wrap(
        E,
        "proxy_set_tick_period_milliseconds",
        proxy_set_tick_period_milliseconds,
    )?;
    linker.func_wrap(
        E,
        "proxy_set_effective_context",
        proxy_set_effective_context,
    )?;
    linker.func_wrap(E, "proxy_done", proxy_done)?;
    linker.func_wrap(E, "proxy_get_buffer_bytes", proxy_get_buffer_bytes)?;
    linker.func_wrap(E, "proxy_set_buffer_bytes", proxy_set_buffer_bytes)?;
    linker.func_wrap(E, "proxy_get_header_map_pairs", proxy_get_header_map_pairs)?;
    linker.func_wrap(E, "proxy_set_header_map_pairs", proxy_set_header_map_pairs)?;
    linker.func_wrap(E, "proxy_get_header_map_value", proxy_get_header_map_value)?;
    linker.func_wrap(
        E,
        "proxy_replace_header_map_value",
        proxy_replace_header_map_value,
    )?;
    linker.func_wrap(E, "proxy_add_header_map_value", proxy_add_header_map_value)?;
    linker.func_wrap(
        E,
        "proxy_remove_header_map_value",
        proxy_remove_header_map_value,
    )?;
    linker.func_wrap(E, "proxy_get_property", proxy_get_property)?;
    linker.func_wrap(E, "proxy_set_property", proxy_set_property)?;
    linker.func_wrap(E, "proxy_send_local_response", proxy_send_local_response)?;
    linker.func_wrap(E, "proxy_continue_stream", proxy_continue_stream)?;
    linker.func_wrap(E, "proxy_continue_request", proxy_continue_request)?;
    linker.func_wrap(E, "proxy_continue_response", proxy_continue_response)?;
    linker.func_wrap(E, "proxy_close_stream", proxy_close_stream)?;
    linker.func_wrap(E, "proxy_http_call", proxy_http_call)?;
    linker.func_wrap(E, "proxy_grpc_call", proxy_grpc_call)?;
    linker.func_wrap(E, "proxy_grpc_stream", proxy_grpc_stream)?;
    linker.func_wrap(E, "proxy_grpc_send", proxy_grpc_send)?;
    linker.func_wrap(E, "proxy_grpc_cancel", proxy_grpc_cancel)?;
    linker.func_wrap(E, "proxy_grpc_close", proxy_grpc_close)?;
    linker.func_wrap(E, "proxy_get_status", proxy_get_status)?;
    linker.func_wrap(
        E,
        "proxy_call_foreign_function",
        proxy_call_foreign_function,
    )?;
    linker.func_wrap(E, "proxy_get_shared_data", proxy_get_shared_data)?;
    linker.func_wrap(E, "proxy_set_shared_data", proxy_set_shared_data)?;
    linker.func_wrap(
        E,
        "proxy_register_shared_queue",
        proxy_register_shared_queue,
    )?;
    linker.func_wrap(E, "proxy_resolve_shared_queue", proxy_resolve_shared_queue)?;
    linker.func_wrap(E, "proxy_enqueue_shared_queue", proxy_enqueue_shared_queue)?;
    linker.func_wrap(E, "proxy_dequeue_shared_queue", proxy_dequeue_shared_queue)?;
    linker.func_wrap(E, "proxy_define_metric", proxy_define_metric)?;
    linker.func_wrap(E, "proxy_increment_metric", proxy_increment_metric)?;
    linker.func_wrap(E, "proxy_record_metric", proxy_record_metric)?;
    linker.func_wrap(E, "proxy_get_metric", proxy_get_metric)?;
    linker.func_wrap(W, "environ_sizes_get", environ_sizes_get)?;
    linker.func_wrap(W, "environ_get", environ_get)?;
    linker.func_wrap(W, "args_sizes_get", args_sizes_get)?;
    linker.func_wrap(W, "args_get", args_get)?;
    linker.func_wrap(W, "clock_time_get", clock_time_get)?;
    linker.func_wrap(W, "random_get", random_get)?;
    linker.func_wrap(W, "fd_write", fd_write)?;
    linker.func_wrap(W, "proc_exit", proc_exit)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nginx_keeps_the_query_when_the_path_is_set() {
        assert_eq!(
            ngx_path(Some("/a?jwt=t&x=1"), "/b").unwrap(),
            "/b?jwt=t&x=1"
        );
        assert_eq!(ngx_path(Some("/a"), "/b").unwrap(), "/b");
        assert!(ngx_path(Some("/a?jwt=t"), "/a?x=1").is_err());
    }

    #[test]
    fn property_paths_are_nul_separated() {
        assert_eq!(property_key(b"request\0path"), "request.path");
        assert_eq!(property_key(b"request\0path\0"), "request.path");
    }
}
