//! Helpers shared by the issuer test suites: run the real binary with a clean environment, and
//! read tokens back without trusting them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::io::Write as _;
use std::process::{Command, Stdio};

/// A 38-byte secret, as the Jitsi example and the demo use it.
pub const SECRET: &str = "jitsi-test-secret-0123456789abcdefghij";
/// Another strong secret nobody configured.
pub const OTHER_SECRET: &str = "some-other-secret-nobody-configured-xyz";

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout without its one trailing newline.
    pub fn out(&self) -> &str {
        self.stdout.strip_suffix('\n').unwrap_or(&self.stdout)
    }

    /// Asserts exit 0 and returns stdout's product.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self.out()
    }

    /// Asserts this exit code.
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        self
    }

    /// Asserts stderr contains `text`.
    pub fn says(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}: {self:#?}"
        );
        self
    }
}

/// Runs `issuer ARGS` with only `env` in its environment, and `stdin` on standard input.
pub fn issuer_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_issuer"));
    cmd.args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn issuer");
    if let Some(text) = stdin {
        // The binary may rightly exit before reading (a usage error): a broken pipe is fine.
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes());
    }
    let out = child.wait_with_output().expect("wait for issuer");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Runs `issuer ARGS` with `JWT_APP_SECRET` set to [`SECRET`].
pub fn issuer(args: &[&str]) -> Run {
    // Jitsi's variable and videocall.rs's (the videocall profile reads JWT_SECRET).
    issuer_with(
        args,
        &[("JWT_APP_SECRET", SECRET), ("JWT_SECRET", SECRET)],
        None,
    )
}

fn part(token: &str, i: usize) -> Map<String, Value> {
    let seg = token.split('.').nth(i).expect("segment");
    let bytes = URL_SAFE_NO_PAD.decode(seg).expect("base64url");
    match serde_json::from_slice(&bytes).expect("json") {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A token's claims (not verified).
pub fn claims(token: &str) -> Map<String, Value> {
    part(token, 1)
}

/// A token's header (not verified).
pub fn header(token: &str) -> Map<String, Value> {
    part(token, 0)
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A file under the target directory holding `text`, for --secret-file and --config.
pub fn temp_file(name: &str, text: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("issuer-tests");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write tmp file");
    path.to_string_lossy().into_owned()
}

/// The repository root.
pub fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// RFC 7515 appendix A.1: the HS256 example token.
pub const RFC7515_A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// RFC 7515 appendix A.1: the key's JWK `k` (base64url).
pub const RFC7515_A1_K: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
