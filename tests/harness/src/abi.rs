//! The proxy-wasm ABI 0.2.1 vocabulary the host speaks: status codes, map and buffer types, log
//! levels, and the serialized header-map format. It exists so the host functions, the trace and
//! the tests all name these values the same way (and the same way as the Rust SDK's `types.rs`).

use std::fmt;

/// A host call's result, as the module sees it (`proxy_status_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0: the call succeeded.
    Ok,
    /// 1: the key, map or property does not exist.
    NotFound,
    /// 2: an argument was invalid (Envoy's answer for a map that is not available).
    BadArgument,
    /// 3: serialization failed.
    SerializationFailure,
    /// 4: parsing failed.
    ParseFailure,
    /// 7: a queue is empty.
    Empty,
    /// 8: compare-and-swap mismatch on shared data.
    CasMismatch,
    /// 10: the host failed internally.
    InternalFailure,
}

impl Status {
    /// The wire value.
    pub fn code(self) -> i32 {
        match self {
            Self::Ok => 0,
            Self::NotFound => 1,
            Self::BadArgument => 2,
            Self::SerializationFailure => 3,
            Self::ParseFailure => 4,
            Self::Empty => 7,
            Self::CasMismatch => 8,
            Self::InternalFailure => 10,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// `proxy_map_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MapType {
    /// 0
    RequestHeaders,
    /// 1
    RequestTrailers,
    /// 2
    ResponseHeaders,
    /// 3
    ResponseTrailers,
}

impl MapType {
    /// The map type for a wire value; gRPC and HTTP-call maps are not modelled.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            0 => Some(Self::RequestHeaders),
            1 => Some(Self::RequestTrailers),
            2 => Some(Self::ResponseHeaders),
            3 => Some(Self::ResponseTrailers),
            _ => None,
        }
    }
}

/// `proxy_buffer_type_t` values the host serves.
pub mod buffer {
    /// HTTP request body.
    pub const HTTP_REQUEST_BODY: i32 = 0;
    /// HTTP response body.
    pub const HTTP_RESPONSE_BODY: i32 = 1;
    /// The VM configuration (`vm_config.configuration`, nginx: `module`'s third argument).
    pub const VM_CONFIGURATION: i32 = 6;
    /// The plugin configuration (Envoy: `configuration`; nginx: `proxy_wasm`'s argument).
    pub const PLUGIN_CONFIGURATION: i32 = 7;
}

/// `proxy_log_level_t`, 0 (trace) to 5 (critical).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// 0
    Trace,
    /// 1
    Debug,
    /// 2
    Info,
    /// 3
    Warn,
    /// 4
    Error,
    /// 5
    Critical,
}

impl LogLevel {
    /// The level for a wire value.
    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            5 => Self::Critical,
            _ => return None,
        })
    }
}

/// Serializes header pairs the way proxy-wasm hosts hand them to modules: a u32 count, then a
/// (u32 key length, u32 value length) pair per entry, then each key and value followed by a NUL.
pub fn serialize_map(pairs: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&len32(pairs.len()).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&len32(k.len()).to_le_bytes());
        out.extend_from_slice(&len32(v.len()).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// [`serialize_map`] for entries that need not be text (a header name or value that is not UTF-8).
pub fn serialize_map_bytes(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&len32(pairs.len()).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&len32(k.len()).to_le_bytes());
        out.extend_from_slice(&len32(v.len()).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

/// Parses a serialized header map (the format of [`serialize_map`]); every length is checked.
pub fn deserialize_map(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut at = 0usize;
    let u32_at = |at: &mut usize| -> Result<usize, String> {
        let word = bytes
            .get(*at..*at + 4)
            .ok_or_else(|| format!("serialized map truncated at byte {at}"))?;
        *at += 4;
        let mut b = [0u8; 4];
        b.copy_from_slice(word);
        Ok(u32::from_le_bytes(b) as usize)
    };
    let count = u32_at(&mut at)?;
    if count > bytes.len() / 8 {
        return Err(format!(
            "serialized map claims {count} pairs in {} bytes",
            bytes.len()
        ));
    }
    let mut sizes = Vec::with_capacity(count);
    for _ in 0..count {
        let k = u32_at(&mut at)?;
        let v = u32_at(&mut at)?;
        sizes.push((k, v));
    }
    let text = |at: &mut usize, n: usize| -> Result<String, String> {
        let raw = bytes
            .get(*at..*at + n)
            .ok_or_else(|| "serialized map string out of bounds".to_owned())?;
        if bytes.get(*at + n) != Some(&0) {
            return Err("serialized map string not NUL-terminated".into());
        }
        *at += n + 1;
        String::from_utf8(raw.to_vec()).map_err(|_| "serialized map string is not UTF-8".into())
    };
    let mut pairs = Vec::with_capacity(count);
    for (k, v) in sizes {
        let key = text(&mut at, k)?;
        let value = text(&mut at, v)?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_serialized_map_reads_back_identically() {
        let pairs = vec![
            (":path".to_owned(), "/a?b=c".to_owned()),
            ("x-empty".to_owned(), String::new()),
        ];
        let bytes = serialize_map(&pairs);
        assert_eq!(&bytes[..4], &2u32.to_le_bytes());
        assert_eq!(deserialize_map(&bytes).unwrap(), pairs);
    }

    #[test]
    fn a_truncated_map_is_an_error_not_a_panic() {
        let bytes = serialize_map(&[("k".into(), "v".into())]);
        for n in 0..bytes.len() {
            assert!(deserialize_map(&bytes[..n]).is_err(), "{n}");
        }
    }
}
