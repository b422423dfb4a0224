//! The record of every host call the module made, in order. Tests read it to prove what the
//! filter does *not* do — call out (`proxy_http_call`, gRPC, foreign functions), log a token or a
//! secret, write one to stdout/stderr — which no response can show.
//!
//! Each entry names the host function, the context it ran in, a summary of its arguments (the
//! text the module passed, for textual buffers) and the result. Data the host hands *to* the
//! module (header values, environment variables) is summarized by size only, so searching the
//! trace for a secret finds only what the module itself emitted.

use crate::abi::LogLevel;
use std::fmt;

/// One host call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The effective context id when the call was made (0 before any context exists).
    pub context: u32,
    /// Host function name, e.g. `proxy_log` or `fd_write`.
    pub name: &'static str,
    /// Arguments other than the main text (numbers, names, sizes).
    pub args: String,
    /// The text the module passed (log message, header name and value, response body, output),
    /// exactly as passed; empty when the call carries none.
    pub text: String,
    /// The result: `Ok`, another status name, or `TRAP: …`.
    pub result: String,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[ctx {}] {}({}", self.context, self.name, self.args)?;
        if !self.text.is_empty() {
            let sep = if self.args.is_empty() { "" } else { ", " };
            write!(f, "{sep}{:?}", self.text)?;
        }
        write!(f, ") -> {}", self.result)
    }
}

/// A log line the module emitted through `proxy_log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: LogLevel,
    /// Its text.
    pub message: String,
}

/// Host calls in order, with helpers for the questions tests ask.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    calls: Vec<Call>,
}

/// Host functions that reach outside the proxy: a gate that decides locally never calls them.
pub const CALL_OUT: &[&str] = &[
    "proxy_http_call",
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_send",
    "proxy_dispatch_http_call",
    "proxy_dispatch_grpc_call",
    "proxy_call_foreign_function",
];

impl Trace {
    /// Appends a call.
    pub fn push(&mut self, call: Call) {
        self.calls.push(call);
    }

    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }

    pub(crate) fn since(&self, start: usize) -> Trace {
        Trace {
            calls: self
                .calls
                .get(start..)
                .map(<[Call]>::to_vec)
                .unwrap_or_default(),
        }
    }

    /// Forgets every recorded call.
    pub fn clear(&mut self) {
        self.calls.clear();
    }

    /// Every call, in order.
    pub fn calls(&self) -> &[Call] {
        &self.calls
    }

    /// The calls to host function `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Call> + 'a {
        self.calls.iter().filter(move |c| c.name == name)
    }

    /// The distinct host function names called, in first-call order.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for c in &self.calls {
            if !names.contains(&c.name) {
                names.push(c.name);
            }
        }
        names
    }

    /// Calls that reach outside the proxy (see [`CALL_OUT`]).
    pub fn call_outs(&self) -> Vec<&Call> {
        self.calls
            .iter()
            .filter(|c| CALL_OUT.contains(&c.name) || c.name.starts_with("proxy_dispatch_"))
            .collect()
    }

    /// The calls whose text or arguments contain `needle` (what the module emitted).
    pub fn mentioning<'a>(&'a self, needle: &'a str) -> Vec<&'a Call> {
        self.calls
            .iter()
            .filter(|c| !needle.is_empty() && (c.text.contains(needle) || c.args.contains(needle)))
            .collect()
    }

    /// Every `proxy_log` line.
    pub fn logs(&self) -> Vec<LogLine> {
        self.named("proxy_log")
            .filter_map(|c| {
                let level = LogLevel::from_code(c.args.strip_prefix("level=")?.parse().ok()?)?;
                Some(LogLine {
                    level,
                    message: c.text.clone(),
                })
            })
            .collect()
    }

    /// What the module wrote to stdout and stderr (`fd_write`).
    pub fn output(&self) -> String {
        self.named("fd_write").map(|c| c.text.as_str()).collect()
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.calls {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}
