//! Envoy's dynamic-module ABI, hand-written: the event hooks Envoy 1.40 resolves by name when it
//! loads `libroomgate.so`, the few callbacks roomgate calls, and safe wrappers around them. Every
//! `unsafe` block of the module is in this file, each with its justification.
//!
//! Envoy checks neither the hooks' nor the callbacks' signatures (a mismatch is undefined
//! behaviour), so each one declared here was checked against the 1.40.0 binary, and the module's
//! Envoy suites (tests/tests/*_module.rs) run every path through it. Shapes: a buffer is
//! `{const char* ptr; size_t length}` passed by value; a header is `{key_ptr, key_length,
//! value_ptr, value_length}`; header map 0 is the request headers; log levels run 0 trace …
//! 5 critical.
//!
//! No panic may unwind into Envoy (undefined behaviour) or abort it (the module is built with
//! `panic = "unwind"`, profile `module`): every hook that runs roomgate code runs it under
//! `catch_unwind` (the others are empty), and fails closed when it catches one: NULL from the
//! config hook (Envoy refuses the configuration), a 500 from the request hook.
#![allow(unsafe_code)]

use crate::Config;
use roomgate_filter::glue::Level;
use roomgate_filter::Response;
use std::ffi::{c_char, c_void};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// The ABI version Envoy 1.40.0 expects (another string only logs a warning).
static ABI_VERSION: &[u8] = b"v0.2.0\0";

/// A byte buffer, owned by Envoy or by the module depending on the call (same layout).
#[repr(C)]
#[derive(Clone, Copy)]
struct Buf {
    ptr: *const c_char,
    len: usize,
}

impl Buf {
    const NULL: Buf = Buf {
        ptr: ptr::null(),
        len: 0,
    };

    fn of(bytes: &[u8]) -> Buf {
        Buf {
            ptr: bytes.as_ptr().cast(),
            len: bytes.len(),
        }
    }
}

/// One header (Envoy's zero-copy view, or the module's for a local reply: same layout).
#[repr(C)]
#[derive(Clone, Copy)]
struct Header {
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
}

impl Header {
    const EMPTY: Header = Header {
        key: ptr::null(),
        key_len: 0,
        value: ptr::null(),
        value_len: 0,
    };
}

/// Header map selector: the request headers.
const REQUEST_HEADERS: i32 = 0;
/// Hook result: let the request continue.
const CONTINUE: i32 = 0;
/// Hook result: stop iteration (a local reply was sent, or the stream was reset).
const STOP_ITERATION: i32 = 1;
/// `http_filter_reset_stream` reason: LocalReset.
const LOCAL_RESET: i32 = 0;

extern "C" {
    fn envoy_dynamic_module_callback_http_get_headers_size(filter: *mut c_void, kind: i32)
        -> usize;
    fn envoy_dynamic_module_callback_http_get_headers(
        filter: *mut c_void,
        kind: i32,
        out: *mut Header,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_set_header(
        filter: *mut c_void,
        kind: i32,
        key: Buf,
        value: Buf,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_add_header(
        filter: *mut c_void,
        kind: i32,
        key: Buf,
        value: Buf,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_clear_route_cache(filter: *mut c_void);
    fn envoy_dynamic_module_callback_http_send_response(
        filter: *mut c_void,
        status: u32,
        headers: *const Header,
        headers_len: usize,
        body: Buf,
        details: Buf,
    );
    fn envoy_dynamic_module_callback_http_filter_reset_stream(
        filter: *mut c_void,
        reason: i32,
        details: Buf,
    );
    fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: *mut c_void,
        name: Buf,
        label_names: *const Buf,
        labels_len: usize,
        id: *mut usize,
    ) -> i32;
    fn envoy_dynamic_module_callback_http_filter_increment_counter(
        filter: *mut c_void,
        id: usize,
        label_values: *const Buf,
        labels_len: usize,
        by: u64,
    ) -> i32;
    fn envoy_dynamic_module_callback_log(level: i32, message: Buf);
}

/// Logs `message` through Envoy's `dynamic_modules` logger.
pub(crate) fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        Level::Error => 4,
        Level::Critical => 5,
    };
    // SAFETY: the buffer points at `message`, alive for the call; Envoy copies it into its log.
    unsafe { envoy_dynamic_module_callback_log(level, Buf::of(message.as_bytes())) }
}

/// The filter configuration as Envoy sees it, while `config_new` runs (the only time counters can
/// be defined).
pub(crate) struct ConfigHost {
    envoy: *mut c_void,
}

impl ConfigHost {
    /// Defines an unlabelled counter (`dynamicmodulescustom.<name>`); its id, or `None` if Envoy
    /// refused it.
    pub(crate) fn define_counter(&self, name: &str) -> Option<usize> {
        let mut id = 0usize;
        // SAFETY: `envoy` is the config pointer Envoy passed to the running `config_new`; the name
        // buffer is alive for the call (Envoy copies it); no labels, so NULL/0; `id` is a valid
        // place for the result.
        let result = unsafe {
            envoy_dynamic_module_callback_http_filter_config_define_counter(
                self.envoy,
                Buf::of(name.as_bytes()),
                ptr::null(),
                0,
                &mut id,
            )
        };
        (result == 0).then_some(id)
    }
}

/// One request stream, inside one hook call. Reading borrows it, writing needs it mutably, so a
/// view into Envoy's header map (which a write invalidates) cannot outlive the next write.
pub(crate) struct Stream {
    envoy: *mut c_void,
}

/// The request headers, viewed zero-copy in Envoy's header map.
pub(crate) struct Headers<'s> {
    raw: Vec<Header>,
    _stream: PhantomData<&'s Stream>,
}

impl Headers<'_> {
    /// Every header as (name, value) bytes, pseudo-headers included, in Envoy's order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.raw.iter().map(|h| {
            // SAFETY: Envoy filled these from its request header map, which is neither changed
            // nor freed while this view lives (it borrows the Stream; every write needs it
            // mutably, and the hook call outlives the Stream); a NULL or empty entry reads as
            // empty.
            unsafe { (bytes(h.key, h.key_len), bytes(h.value, h.value_len)) }
        })
    }
}

/// # Safety
/// `ptr` must be NULL or point at `len` readable bytes that stay unchanged for `'a`.
unsafe fn bytes<'a>(ptr: *const c_char, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(ptr.cast(), len) }
    }
}

impl Stream {
    /// The request headers, or `None` if Envoy could not list them.
    pub(crate) fn request_headers(&self) -> Option<Headers<'_>> {
        // SAFETY: `envoy` is the stream pointer Envoy passed to the running hook.
        let n = unsafe {
            envoy_dynamic_module_callback_http_get_headers_size(self.envoy, REQUEST_HEADERS)
        };
        let mut raw = vec![Header::EMPTY; n];
        // SAFETY: `raw` has exactly the `n` entries Envoy just counted, and the map does not
        // change in between (same thread, no call in between).
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_headers(
                self.envoy,
                REQUEST_HEADERS,
                raw.as_mut_ptr(),
            )
        };
        ok.then_some(Headers {
            raw,
            _stream: PhantomData,
        })
    }

    /// Sets (replaces every value of) a request header; `None` removes it. False if Envoy refused.
    /// Envoy removes a header set to an empty value.
    pub(crate) fn set_header(&mut self, name: &str, value: Option<&str>) -> bool {
        let value = value.map_or(Buf::NULL, |v| Buf::of(v.as_bytes()));
        // SAFETY: stream pointer of the running hook; both buffers are alive for the call and
        // Envoy copies them into its header map.
        unsafe {
            envoy_dynamic_module_callback_http_set_header(
                self.envoy,
                REQUEST_HEADERS,
                Buf::of(name.as_bytes()),
                value,
            )
        }
    }

    /// Appends a request header value (Envoy's `addCopy`, which does not look for an existing
    /// value to replace). False if Envoy refused: it refuses an empty value.
    pub(crate) fn add_header(&mut self, name: &str, value: &str) -> bool {
        // SAFETY: stream pointer of the running hook; both buffers are alive for the call and
        // Envoy copies them into its header map.
        unsafe {
            envoy_dynamic_module_callback_http_add_header(
                self.envoy,
                REQUEST_HEADERS,
                Buf::of(name.as_bytes()),
                Buf::of(value.as_bytes()),
            )
        }
    }

    /// Makes Envoy pick the route again (after a `:path` rewrite).
    pub(crate) fn clear_route_cache(&mut self) {
        // SAFETY: stream pointer of the running hook.
        unsafe { envoy_dynamic_module_callback_http_clear_route_cache(self.envoy) }
    }

    /// Sends `response` as a local reply; `details` shows in the access log's
    /// `%RESPONSE_CODE_DETAILS%`. The hook must then return [`Flow::Stop`].
    pub(crate) fn send_response(&mut self, response: &Response, details: &str) {
        let headers: Vec<Header> = response
            .headers
            .iter()
            .map(|(n, v)| Header {
                key: n.as_ptr().cast(),
                key_len: n.len(),
                value: v.as_ptr().cast(),
                value_len: v.len(),
            })
            .collect();
        // SAFETY: stream pointer of the running hook; `headers` (pointing into `response`),
        // the body and the details are alive for the call, and Envoy copies them.
        unsafe {
            envoy_dynamic_module_callback_http_send_response(
                self.envoy,
                u32::from(response.status),
                headers.as_ptr(),
                headers.len(),
                Buf::of(response.body.as_bytes()),
                Buf::of(details.as_bytes()),
            )
        }
    }

    /// Resets the stream: the last resort when not even a 500 could be sent.
    fn reset(&mut self) {
        // SAFETY: stream pointer of the running hook; the details buffer is static.
        unsafe {
            envoy_dynamic_module_callback_http_filter_reset_stream(
                self.envoy,
                LOCAL_RESET,
                Buf::of(b"roomgate_internal_error"),
            )
        }
    }

    /// Adds one to the counter `id` (from [`ConfigHost::define_counter`]).
    pub(crate) fn increment_counter(&self, id: usize) {
        // SAFETY: stream pointer of the running hook; no labels, so NULL/0. An unknown id only
        // returns an error code.
        let _ = unsafe {
            envoy_dynamic_module_callback_http_filter_increment_counter(
                self.envoy,
                id,
                ptr::null(),
                0,
                1,
            )
        };
    }
}

/// What the request hook tells Envoy.
pub(crate) enum Flow {
    /// Forward the request.
    Continue,
    /// A local reply was sent: stop.
    Stop,
}

/// # Safety
/// `buf` must be NULL/empty or point at `len` bytes that stay readable for `'a`.
unsafe fn envoy_bytes<'a>(buf: Buf) -> &'a [u8] {
    // SAFETY: guaranteed by the caller.
    unsafe { bytes(buf.ptr, buf.len) }
}

// ----- Event hooks (every one the 1.40.0 HTTP filter resolves; missing one fails the load) -----

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    ABI_VERSION.as_ptr().cast()
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: *mut c_void,
    _name: Buf,
    config: Buf,
) -> *const c_void {
    let host = ConfigHost {
        envoy: config_envoy,
    };
    // SAFETY: Envoy passes the filter_config bytes (a StringValue's text), valid during this call;
    // they are only read before it returns.
    let bytes = unsafe { envoy_bytes(config) };
    match catch_unwind(AssertUnwindSafe(|| Config::new(&host, bytes))) {
        Ok(Some(config)) => Box::into_raw(Box::new(config)).cast_const().cast(),
        Ok(None) => ptr::null(),
        Err(_) => {
            let _ = catch_unwind(|| {
                log(
                    Level::Critical,
                    "roomgate: configuration rejected: internal error while loading it",
                )
            });
            ptr::null()
        }
    }
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const c_void) {
    if !config.is_null() {
        // SAFETY: a non-NULL config pointer is one `config_new` made with Box::into_raw; Envoy
        // destroys it once, after every stream of it (each holds a reference to the config).
        let config = unsafe { Box::from_raw(config.cast::<Config>().cast_mut()) };
        let _ = catch_unwind(AssertUnwindSafe(move || drop(config)));
    }
}

/// roomgate keeps no per-stream state (the decision is made in one hook), so the per-stream
/// object is the shared config itself: nothing is allocated per request, nothing freed.
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_new(
    config: *const c_void,
    _filter_envoy: *mut c_void,
) -> *const c_void {
    config
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_destroy(_filter: *const c_void) {}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    filter_envoy: *mut c_void,
    filter: *const c_void,
    _end_of_stream: bool,
) -> i32 {
    let mut stream = Stream {
        envoy: filter_envoy,
    };
    // SAFETY: `filter` is what `filter_new` returned: NULL (then Envoy answers 500 itself and
    // never calls this hook; refused below all the same) or the config from `config_new`, alive
    // until `config_destroy`, which Envoy calls only after every stream of it. `Config` is Sync:
    // shared by all workers.
    let Some(config) = (unsafe { filter.cast::<Config>().as_ref() }) else {
        stream.reset();
        return STOP_ITERATION;
    };
    let decided = catch_unwind(AssertUnwindSafe(|| config.on_request_headers(&mut stream)));
    match decided {
        Ok(Flow::Continue) => CONTINUE,
        Ok(Flow::Stop) => STOP_ITERATION,
        Err(_) => {
            // Whatever edits were made, nothing is forwarded: a 500 replaces the request.
            let answered = catch_unwind(AssertUnwindSafe(|| {
                config.deny_internal(&mut stream, "the filter panicked")
            }));
            if answered.is_err() {
                stream.reset();
            }
            STOP_ITERATION
        }
    }
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _end_of_stream: bool,
) -> i32 {
    CONTINUE
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
) -> i32 {
    CONTINUE
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _end_of_stream: bool,
) -> i32 {
    CONTINUE
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _end_of_stream: bool,
) -> i32 {
    CONTINUE
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
) -> i32 {
    CONTINUE
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _callout_id: u64,
    _result: i32,
    _headers: *const Header,
    _headers_len: usize,
    _body: *const Buf,
    _body_len: usize,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _stream: u64,
    _headers: *const Header,
    _headers_len: usize,
    _end_of_stream: bool,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _stream: u64,
    _data: *const Buf,
    _data_len: usize,
    _end_of_stream: bool,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _stream: u64,
    _trailers: *const Header,
    _trailers_len: usize,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _stream: u64,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _stream: u64,
    _reason: i32,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
    _event: u64,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _filter_envoy: *mut c_void,
    _filter: *const c_void,
) {
}
