//! Shared pieces of the fuzz targets: the repository's example configurations with their secrets,
//! and an HS256 signer so the fuzzer can reach the checks that run after the signature.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use roomgate_filter::Gate;
use sha2::Sha256;

/// The fixed clock of every target (Unix seconds).
pub const NOW: i64 = 1_800_000_000;
/// `JWT_APP_SECRET` / `JWT_SECRET` of every configuration here.
pub const SECRET: &str = "fuzz-secret-0123456789abcdefghijklmnop";
/// The multi-layer token scheme's global static token.
pub const GLOBAL_TOKEN: &str = "global-token-0123456789abcdef0123456789";
/// The multi-layer token scheme's room1 token.
pub const ROOM1_TOKEN: &str = "room1-token-0123456789abcdef01234567890";
/// The multi-layer token scheme's admin token.
pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef0123456789a";

/// The identity headers the example configurations forward (client-sent ones must be removed).
pub const IDENTITY: [&str; 7] = [
    "x-roomgate-room",
    "x-roomgate-subject",
    "x-roomgate-name",
    "x-roomgate-moderator",
    "x-roomgate-admin",
    "x-roomgate-auth",
    "x-roomgate-report",
];

/// The environment every configuration is compiled with.
pub fn env(name: &str) -> Option<String> {
    match name {
        "JWT_APP_SECRET" | "JWT_SECRET" => Some(SECRET.into()),
        "JWT_ACCEPTED_ISSUERS" => Some("roomgate, meet.example.com".into()),
        "JWT_ACCEPTED_AUDIENCES" => Some("jitsi".into()),
        "JWT_AUDIENCE" => Some("rooms-api".into()),
        "AUTH_TOKEN" => Some(GLOBAL_TOKEN.into()),
        "ADMIN_TOKEN" => Some(ADMIN_TOKEN.into()),
        "ROOM_TOKENS" => Some(format!("room1:{ROOM1_TOKEN}")),
        _ => None,
    }
}

/// The example configurations shipped in `examples/`, compiled (in this order: Jitsi, videocall.rs,
/// the multi-layer token scheme, and the Jitsi one in report mode).
pub fn gates() -> Vec<Gate> {
    let texts = [
        include_str!("../../examples/jitsi.json").to_owned(),
        include_str!("../../examples/videocall.json").to_owned(),
        include_str!("../../examples/multi-layer.json").to_owned(),
        include_str!("../../examples/jitsi.json").replace("\"enforce\"", "\"report\""),
    ];
    texts
        .iter()
        .filter_map(|t| Gate::from_json(t.as_bytes(), &env).ok())
        .collect()
}

/// `base64url(header).base64url(payload).HMAC-SHA256` with [`SECRET`]: any bytes, signed.
pub fn sign_raw(header: &[u8], payload: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(header);
    let p = URL_SAFE_NO_PAD.encode(payload);
    let input = format!("{h}.{p}");
    let sig = match Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()) {
        Ok(mut mac) => {
            mac.update(input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("{input}.{sig}")
}

/// A valid Jitsi token for room `standup` at [`NOW`].
pub fn good_jwt() -> String {
    let payload = format!(
        r#"{{"iss":"roomgate","aud":"jitsi","sub":"alice","room":"standup","room_join":true,"nbf":{},"exp":{},"context":{{"user":{{"name":"Alice","moderator":true}}}}}}"#,
        NOW - 10,
        NOW + 600
    );
    sign_raw(br#"{"alg":"HS256","typ":"JWT"}"#, payload.as_bytes())
}
