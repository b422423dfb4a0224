//! The one proxy-wasm host call the filter makes without the SDK: reading the request header map
//! as bytes. The SDK's `get_map_bytes` turns every name into a `String` with `unwrap`, so a header
//! *name* that is not UTF-8 (nginx with `ignore_invalid_headers off` passes one) panics, which
//! traps the VM. Here the serialized map is taken as the host wrote it and parsed by
//! [`crate::glue::proxy_wasm_pairs`], which reads bytes and checks every bound.
//!
//! Every `unsafe` block of the filter is in this file, each with its justification.
#![allow(unsafe_code)]

/// `MapType::HttpRequestHeaders` of the ABI.
const HTTP_REQUEST_HEADERS: u32 = 0;
/// `Status::Ok` of the ABI.
const OK: u32 = 0;

#[link(wasm_import_module = "env")]
extern "C" {
    /// proxy-wasm ABI 0.2.1: the host allocates `*return_map_size` bytes through the module's
    /// `proxy_on_memory_allocate` export, writes the serialized map there, and hands over its
    /// address. Plain integers, not the SDK's enums: a status the host invents cannot be an
    /// invalid enum value here.
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
}

/// The request header map, serialized as the host hands it over (see
/// [`crate::glue::proxy_wasm_pairs`]); empty if the host returned no buffer. The error is the
/// host's status code.
pub(crate) fn request_header_map() -> Result<Vec<u8>, u32> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: both out-pointers point at live locals of this frame; the host writes one address
    // and one length into them and nothing else.
    let status = unsafe { proxy_get_header_map_pairs(HTTP_REQUEST_HEADERS, &mut data, &mut size) };
    match status {
        OK if data.is_null() => Ok(Vec::new()),
        // SAFETY: on Ok the host has allocated exactly `size` bytes at `data` through the SDK's
        // `proxy_on_memory_allocate` (a boxed slice of `size` bytes from this module's global
        // allocator, which is what `Vec::from_raw_parts` with length = capacity = `size` frees)
        // and filled all of them; ownership passes to us, and nothing else refers to them. This is
        // exactly how the SDK's own `get_map_bytes` takes the buffer.
        OK => Ok(unsafe { Vec::from_raw_parts(data, size, size) }),
        other => Err(other),
    }
}
