//! An upstream that answers every request with a JSON echo of what reached it: the method, the
//! request-target byte for byte, and every header in order. roomgate's tests need to see what Envoy
//! actually forwarded after the filter ran (which headers it removed or added, whether the path was
//! left untouched), and whether a refused request reached the upstream at all; a real web server
//! would hide exactly those details. It speaks plain HTTP/1.1 with keep-alive, because Envoy reuses
//! its upstream connections.

use std::collections::HashMap;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::http::{discard_chunked_body, read_line, MAX_LINE};

/// What the echo upstream received, as carried in its JSON answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echoed {
    /// The request method, as received.
    pub method: String,
    /// The raw request-target exactly as received (not decoded, not normalised).
    pub path: String,
    /// Every header in received order, names lower-cased, repeated headers as separate entries.
    pub headers: Vec<(String, String)>,
}

impl Echoed {
    /// Parses the echo upstream's JSON answer.
    pub fn from_json(body: &str) -> Result<Echoed, String> {
        serde_json::from_str(body).map_err(|e| format!("not an echo ({e}): {body}"))
    }

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
}

/// Shared between the server's threads and its handle.
#[derive(Default)]
struct State {
    stopping: AtomicBool,
    next_conn: AtomicU64,
    /// Open connections, so that `Drop` can shut them down and unblock their threads.
    conns: Mutex<HashMap<u64, TcpStream>>,
    /// Every request answered, in order.
    received: Mutex<Vec<Echoed>>,
}

/// An HTTP/1.1 echo server on 127.0.0.1, served by background threads (one per connection).
/// Dropping it stops accepting and shuts down the open connections.
pub struct EchoUpstream {
    port: u16,
    state: Arc<State>,
}

impl EchoUpstream {
    /// Listens on 127.0.0.1:`port` (0 = an ephemeral port) and serves in background threads.
    pub fn start(port: u16) -> io::Result<EchoUpstream> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State::default());
        let accept_state = Arc::clone(&state);
        thread::Builder::new()
            .name(format!("echo-upstream-{port}"))
            .spawn(move || accept_loop(&listener, &accept_state))?;
        Ok(EchoUpstream { port, state })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request answered so far, in order (to prove that a refused request never arrived).
    pub fn requests(&self) -> Vec<Echoed> {
        self.state
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// How many requests were answered so far.
    pub fn request_count(&self) -> usize {
        self.state.received.lock().map(|r| r.len()).unwrap_or(0)
    }
}

impl Drop for EchoUpstream {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop, which then sees `stopping` and returns.
        let _ =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(1));
        if let Ok(mut conns) = self.state.conns.lock() {
            for (_, conn) in conns.drain() {
                let _ = conn.shutdown(Shutdown::Both);
            }
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>) {
    for conn in listener.incoming() {
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let id = state.next_conn.fetch_add(1, Ordering::SeqCst);
        if let (Ok(mut conns), Ok(clone)) = (state.conns.lock(), conn.try_clone()) {
            conns.insert(id, clone);
        }
        let conn_state = Arc::clone(state);
        let spawned = thread::Builder::new()
            .name(format!("echo-conn-{id}"))
            .spawn(move || {
                let _ = serve_connection(conn, &conn_state);
                if let Ok(mut conns) = conn_state.conns.lock() {
                    conns.remove(&id);
                }
            });
        if spawned.is_err() {
            if let Ok(mut conns) = state.conns.lock() {
                if let Some(conn) = conns.remove(&id) {
                    let _ = conn.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

/// A parsed request head.
struct RequestHead {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl RequestHead {
    fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.header_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// Serves requests on one connection until the peer closes it or asks to.
fn serve_connection(conn: TcpStream, state: &State) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut writer = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    loop {
        let head = match read_request_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(()),
            Err(e) => {
                let _ = writer.write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                return Err(e);
            }
        };
        if head.has_token("expect", "100-continue") {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        discard_request_body(&mut reader, &head)?;

        let close = if head.version.eq_ignore_ascii_case("HTTP/1.0") {
            !head.has_token("connection", "keep-alive")
        } else {
            head.has_token("connection", "close")
        };
        let echoed = Echoed {
            method: head.method,
            path: head.target,
            headers: head.headers,
        };
        let body = serde_json::to_string(&echoed).map_err(io::Error::other)?;
        let is_head = echoed.method.eq_ignore_ascii_case("HEAD");
        if let Ok(mut received) = state.received.lock() {
            received.push(echoed);
        }

        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        )
        .into_bytes();
        if !is_head {
            response.extend_from_slice(body.as_bytes());
        }
        writer.write_all(&response)?;
        writer.flush()?;
        if close {
            let _ = writer.shutdown(Shutdown::Write);
            return Ok(());
        }
    }
}

/// Reads a request line and headers; `None` on a clean end of stream before a request.
fn read_request_head(reader: &mut BufReader<TcpStream>) -> io::Result<Option<RequestHead>> {
    let mut line = match read_line(reader, MAX_LINE)? {
        Some(line) => line,
        None => return Ok(None),
    };
    // Tolerate stray empty lines between requests (RFC 9112 §2.2).
    while line.is_empty() {
        line = match read_line(reader, MAX_LINE)? {
            Some(line) => line,
            None => return Ok(None),
        };
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = line.splitn(3, ' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!("malformed request line: {line:?}")));
    };
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader, MAX_LINE)? else {
            return Err(bad("connection closed inside request headers".into()));
        };
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("malformed header line: {line:?}")));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(Some(RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        version: version.trim().to_string(),
        headers,
    }))
}

fn discard_request_body(reader: &mut BufReader<TcpStream>, head: &RequestHead) -> io::Result<()> {
    if head.has_token("transfer-encoding", "chunked") {
        return discard_chunked_body(reader);
    }
    if let Some(len) = head.header_all("content-length").next() {
        let len: u64 = len
            .trim()
            .parse()
            .map_err(|_| bad(format!("bad content-length: {len:?}")))?;
        let copied = io::copy(&mut io::Read::take(reader, len), &mut io::sink())?;
        if copied != len {
            return Err(bad("connection closed inside request body".into()));
        }
    }
    Ok(())
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

    #[test]
    fn an_echo_round_trips_through_json_with_repeated_headers() {
        let echoed = Echoed {
            method: "GET".into(),
            path: "/a%2Fb?x=1&x=2".into(),
            headers: vec![
                ("x-a".into(), "1".into()),
                ("x-b".into(), "2".into()),
                ("x-a".into(), "3".into()),
            ],
        };
        let json = serde_json::to_string(&echoed).unwrap();
        assert!(
            json.starts_with(r#"{"method":"GET","path":"/a%2Fb?x=1&x=2","headers":[["x-a","1"]"#)
        );
        let back = Echoed::from_json(&json).unwrap();
        assert_eq!(back, echoed);
        assert_eq!(back.header("X-A"), Some("1"));
        assert_eq!(back.header_all("x-a"), vec!["1", "3"]);
        assert_eq!(back.header("missing"), None);
    }

    #[test]
    fn a_body_that_is_not_an_echo_is_an_error() {
        assert!(Echoed::from_json("{\"error\":1}").is_err());
        assert!(Echoed::from_json("RBAC: access denied").is_err());
    }
}
