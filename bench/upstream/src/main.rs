//! `bench-upstream PORT`: the benchmark's upstream. Every request gets `200 ok` on a kept-alive
//! HTTP/1.1 connection, one thread per connection. It does as little as possible, so that what
//! `make bench` measures is the proxy in front of it.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";

/// Serves one connection until the peer closes it. Request bodies are not expected (GET only).
fn serve(mut conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut filled = 0;
    loop {
        let n = conn.read(buf.get_mut(filled..).unwrap_or_default())?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        // Answer every complete request head in the buffer (pipelining is harmless here).
        loop {
            let head = buf.get(..filled).unwrap_or_default();
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            conn.write_all(RESPONSE)?;
            buf.copy_within(end + 4..filled, 0);
            filled -= end + 4;
        }
        if filled == buf.len() {
            return Ok(()); // a request head over 16 KiB: not ours
        }
    }
}

fn main() -> ExitCode {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: bench-upstream PORT");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bench-upstream: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for conn in listener.incoming().flatten() {
        thread::spawn(move || serve(conn));
    }
    ExitCode::SUCCESS
}
