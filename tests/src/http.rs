//! A raw HTTP/1.1 client over a plain `TcpStream`. roomgate's decisions hinge on exact bytes (an
//! encoded slash, a repeated header, an odd request-target), and ordinary HTTP clients normalise
//! exactly those; this one writes what the test says, one request per connection, and reads the
//! whole response (Content-Length, chunked, or to end of stream).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::upstream::Echoed;

/// How long a read or write may block before the request fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The longest request line, status line, header line or chunk-size line accepted.
pub(crate) const MAX_LINE: u64 = 256 * 1024;

/// A complete HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code of the final (non-1xx) response.
    pub status: u16,
    /// Every header in received order, names lower-cased, repeated headers as separate entries.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from chunked transfer-coding if needed (lossy UTF-8).
    pub body: String,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in received order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("body is not JSON ({e}): {:?}", self.body))
    }

    /// The echo upstream's report, if the body is one (i.e. the request reached the upstream).
    pub fn echoed(&self) -> Option<Echoed> {
        Echoed::from_json(&self.body).ok()
    }
}

/// Sends `METHOD target HTTP/1.1` to 127.0.0.1:`port` with `host: localhost`, then `headers`
/// verbatim and in order (repeats allowed), then `connection: close`, and reads the response.
/// The default `host` / `connection` line is left out when `headers` already has one.
pub fn send(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> io::Result<Response> {
    send_with_body(port, method, target, headers, b"")
}

/// Like [`send`], with a request body; `content-length` is added unless `headers` has a
/// `content-length` or `transfer-encoding` already (then the body is written as given).
pub fn send_with_body(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut request = format!("{method} {target} HTTP/1.1\r\n");
    if !has("host") {
        request.push_str("host: localhost\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() && !has("content-length") && !has("transfer-encoding") {
        request.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    if !has("connection") {
        request.push_str("connection: close\r\n");
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    send_raw(port, &bytes)
}

/// Writes `request` to 127.0.0.1:`port` exactly as given and reads one response. A response to a
/// `HEAD` request (judged from the first bytes of `request`) is read without a body.
pub fn send_raw(port: u16, request: &[u8]) -> io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.set_nodelay(true)?;
    stream.write_all(request)?;
    stream.flush()?;
    let head_request = request.starts_with(b"HEAD ");
    read_response(&mut BufReader::new(stream), head_request)
}

/// Reads one response from `reader`, skipping interim 1xx responses (except 101).
pub fn read_response<R: Read>(
    reader: &mut BufReader<R>,
    head_request: bool,
) -> io::Result<Response> {
    loop {
        let Some(status_line) = read_line(reader, MAX_LINE)? else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            ));
        };
        let status_line = String::from_utf8_lossy(&status_line).into_owned();
        let mut parts = status_line.splitn(3, ' ');
        let status = match (parts.next(), parts.next()) {
            (Some(version), Some(code)) if version.starts_with("HTTP/") => code
                .parse::<u16>()
                .map_err(|_| bad(format!("bad status line: {status_line:?}")))?,
            _ => return Err(bad(format!("bad status line: {status_line:?}"))),
        };
        let headers = read_headers(reader)?;
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let mut response = Response {
            status,
            headers,
            body: String::new(),
        };
        let no_body =
            head_request || status == 204 || status == 304 || (100..200).contains(&status);
        if no_body {
            return Ok(response);
        }
        let chunked = response
            .header_all("transfer-encoding")
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("chunked"));
        let mut body = Vec::new();
        if chunked {
            read_chunked_body(reader, &mut body)?;
        } else if let Some(len) = response.header("content-length") {
            let len: u64 = len
                .trim()
                .parse()
                .map_err(|_| bad(format!("bad content-length: {len:?}")))?;
            reader.take(len).read_to_end(&mut body)?;
            if body.len() as u64 != len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("body ended after {} of {len} bytes", body.len()),
                ));
            }
        } else {
            reader.read_to_end(&mut body)?;
        }
        response.body = String::from_utf8_lossy(&body).into_owned();
        return Ok(response);
    }
}

/// Reads header lines up to the empty line; names lower-cased, values trimmed.
fn read_headers<R: Read>(reader: &mut BufReader<R>) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader, MAX_LINE)? else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside headers",
            ));
        };
        if line.is_empty() {
            return Ok(headers);
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("malformed header line: {line:?}")));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

/// Reads one line (at most `limit` bytes) without its `\r\n` or `\n`; `None` at end of stream
/// before any byte.
pub(crate) fn read_line<R: BufRead>(reader: &mut R, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if (n as u64) >= limit {
            bad("line too long".into())
        } else {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a line",
            )
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Decodes a chunked body into `out`, reading (and dropping) any trailer fields.
pub(crate) fn read_chunked_body<R: BufRead>(reader: &mut R, out: &mut Vec<u8>) -> io::Result<()> {
    read_chunks(reader, &mut |chunk| out.extend_from_slice(chunk))
}

/// Reads a chunked body and throws it away.
pub(crate) fn discard_chunked_body<R: BufRead>(reader: &mut R) -> io::Result<()> {
    read_chunks(reader, &mut |_| {})
}

fn read_chunks<R: BufRead>(reader: &mut R, sink: &mut dyn FnMut(&[u8])) -> io::Result<()> {
    loop {
        let Some(size_line) = read_line(reader, MAX_LINE)? else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunked body",
            ));
        };
        let size_line = String::from_utf8_lossy(&size_line).into_owned();
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_hex, 16)
            .map_err(|_| bad(format!("bad chunk size line: {size_line:?}")))?;
        if size == 0 {
            // Trailer fields, up to the empty line.
            loop {
                match read_line(reader, MAX_LINE)? {
                    Some(line) if !line.is_empty() => continue,
                    _ => return Ok(()),
                }
            }
        }
        let mut chunk = Vec::new();
        reader.by_ref().take(size).read_to_end(&mut chunk)?;
        if chunk.len() as u64 != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunk",
            ));
        }
        sink(&chunk);
        match read_line(reader, MAX_LINE)? {
            Some(line) if line.is_empty() => {}
            _ => return Err(bad("chunk not followed by CRLF".into())),
        }
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
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

    fn parse(bytes: &[u8], head: bool) -> io::Result<Response> {
        read_response(&mut BufReader::new(bytes), head)
    }

    #[test]
    fn a_chunked_response_is_decoded_and_trailers_dropped() {
        let r = parse(
            b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n\
              5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(r.status, 403);
        assert_eq!(r.body, "hello world");
        assert_eq!(r.header_all("x-a"), vec!["1", "2"]);
    }

    #[test]
    fn a_content_length_body_stops_at_its_length_and_interim_responses_are_skipped() {
        let r = parse(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}garbage",
            false,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "{}");
        assert_eq!(r.json().unwrap(), serde_json::json!({}));
        assert!(r.echoed().is_none());
    }

    #[test]
    fn a_body_without_length_is_read_to_the_end_and_head_has_none() {
        let r = parse(b"HTTP/1.1 200 OK\r\n\r\nall of it", false).unwrap();
        assert_eq!(r.body, "all of it");
        let r = parse(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", true).unwrap();
        assert_eq!(r.body, "");
    }

    #[test]
    fn a_truncated_response_is_an_error() {
        assert!(parse(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc", false).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\ncontent-le", false).is_err());
        assert!(parse(b"", false).is_err());
        assert!(parse(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab",
            false
        )
        .is_err());
    }
}
