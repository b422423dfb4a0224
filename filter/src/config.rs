//! The configuration: its JSON schema (plain serde structs) and its compilation into a [`Gate`].
//!
//! Two steps, as in Kuadrant's wasm-shim: `serde_json` reads the text into [`RawConfig`] (unknown
//! fields are errors everywhere), then [`Gate::compile`] checks it as a whole and prepares
//! everything a request needs: keys decoded and HMAC states set up, patterns parsed, static-token
//! digests computed. Nothing of this is repeated per request, and a configuration that cannot be
//! used is refused with one [`ConfigError`], so the gate never runs open.

use crate::engine::{Gate, Identities, Revocations, Route, RouteKind, StaticTokens};
use crate::error::ConfigError;
use crate::jwt::{ClaimPath, ClaimType, Key, Policy};
use crate::path::{PathMatch, Pattern};
use crate::sources::Source;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Shortest accepted secret or static token, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// Default bound on a token's size; larger tokens are refused before any decoding.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8192;

/// Where the gate looks up environment variables (the VM's, or a map in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The configuration as written: see README's configuration reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `enforce` (default) blocks denied requests; `report` only marks and logs them.
    #[serde(default)]
    pub mode: Mode,
    /// Route rules, first match wins.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// What happens to a request no rule matches.
    #[serde(default = "default_route_kind")]
    pub default: RouteKind,
    /// What a path that matches a route only when letter case is ignored gets.
    #[serde(default)]
    pub route_case: RouteCase,
    /// Where tokens are looked for, in order.
    #[serde(default = "default_sources")]
    pub token_sources: Vec<Source>,
    /// HS256 JWT settings; absent disables JWTs.
    #[serde(default)]
    pub jwt: Option<RawJwt>,
    /// Static tokens (the multi-layer token scheme's); absent disables them.
    #[serde(default)]
    pub static_tokens: Option<RawStatic>,
    /// How rooms are compared.
    #[serde(default)]
    pub rooms: RawRooms,
    /// Names of the identity headers sent upstream.
    #[serde(default)]
    pub forward: RawForward,
    /// Remove the token from where it came before forwarding (default true).
    #[serde(default = "yes")]
    pub strip_token: bool,
    /// Tokens longer than this many bytes are refused undecoded.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Logging of verdicts.
    #[serde(default)]
    pub log: RawLog,
    /// Rooms and tokens revoked before they expire.
    #[serde(default)]
    pub revoked: RawRevoked,
}

/// Early revocation (the room-whitelist service's "delete a room before it expires").
/// `issuer revoke` writes this.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRevoked {
    /// Closed rooms: no credential enters them any more (403 `room_closed`).
    #[serde(default)]
    pub rooms: Vec<String>,
    /// Revoked JWT IDs (`jti`): 401 `token_revoked`.
    #[serde(default)]
    pub jtis: Vec<String>,
    /// Per room, a Unix time: JWTs for that room issued (`iat`, else `nbf`) before it are revoked.
    #[serde(default)]
    pub issued_before: BTreeMap<String, i64>,
}

/// Whether denials block or are only reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Denied requests get their 4xx answer.
    #[default]
    Enforce,
    /// Every request goes through, marked with the verdict it would have had.
    Report,
}

/// How route literals (`/api/rooms/…`, `/libs/`) treat letter case. Many upstreams route
/// case-insensitively (Express by default, ASP.NET Core, IIS), so a request for `/API/ROOMS/x` that
/// the gate let fall through to a looser rule could reach the guarded handler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteCase {
    /// A path that matches a rule only when case is ignored is refused (400): the default.
    #[default]
    Refuse,
    /// Literals match ignoring case (Unicode lower-casing), as a case-insensitive upstream routes.
    Insensitive,
}

/// How `max_lifetime_seconds` treats a JWT that carries neither `iat` nor `nbf`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithoutIat {
    /// Accepted while its remaining lifetime (`exp` minus now) is within the maximum: a long-lived
    /// token is usable only in its last `max_lifetime_seconds`. The default, since common issuers
    /// set no `iat` (Jitsi Meet's documented tokens, the videocall.rs meeting backend).
    #[default]
    Remaining,
    /// Refused (401 `invalid_token`, reason `lifetime_unknown`): its lifetime cannot be proven.
    Refuse,
}

/// One environment variable name, or several tried in order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum VarNames {
    /// `"JWT_ACCEPTED_ISSUERS"`
    One(String),
    /// `["JWT_ACCEPTED_ISSUERS", "JWT_APP_ID"]`
    Many(Vec<String>),
}

impl VarNames {
    /// The names, in order.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Self::One(n) => vec![n.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// How the JOSE header's `typ` is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypRule {
    /// Absent, or `JWT` in any letter case.
    #[default]
    Optional,
    /// Present and exactly `JWT`.
    Required,
}

/// One route rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// How the path is matched.
    #[serde(rename = "match")]
    pub path: RawMatch,
    /// What the route needs.
    pub kind: RouteKind,
    /// Where the room comes from, for `room` routes.
    #[serde(default)]
    pub room_from: Option<RoomFrom>,
    /// The pattern variable holding the room (default `room`).
    #[serde(default)]
    pub room_param: Option<String>,
    /// Claim values a JWT must carry on this route, e.g. `{"room_join": true}`.
    #[serde(default)]
    pub require: BTreeMap<String, Value>,
    /// Alternatives: a JWT must carry every value of at least one of these on this route, e.g.
    /// `[{"room_join": true}, {"observer": true}]` (videocall.rs observer tokens).
    #[serde(default)]
    pub require_any: Vec<BTreeMap<String, Value>>,
    /// Message for `gone` and `deny` routes.
    #[serde(default)]
    pub message: Option<String>,
    /// A JWT that expired at most this many seconds ago still passes on this route (default 0):
    /// for the routes a meeting keeps using after it started (Jitsi's BOSH and websocket), where
    /// the server behind checks `exp` only when a participant joins.
    #[serde(default)]
    pub expired_grace_seconds: i64,
    /// The pattern variable holding the tenant (default `tenant` when the pattern has `{tenant}`):
    /// with `jwt.subjects`, a token's `sub` must be `*` or this tenant.
    #[serde(default)]
    pub tenant_param: Option<String>,
    /// A request without any token passes (as on a public route, no identity forwarded); a token
    /// that is there must be valid for the room. For pages a client reloads without its link's
    /// token while the server behind guards the join (Jitsi's room page in front of Prosody).
    #[serde(default)]
    pub token_optional: bool,
}

/// How a rule matches the path.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawMatch {
    /// `{"exact": "/health"}`
    Exact(String),
    /// `{"prefix": "/static/"}`
    Prefix(String),
    /// `{"pattern": "/rooms/{room}/**"}`
    Pattern(String),
}

/// Where a room route finds the room the request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomFrom {
    /// A `{room}` variable of the pattern.
    Path,
    /// The query parameter named by `rooms.query_param` (default `room`).
    Query,
    /// The token itself (videocall.rs `/lobby?token=`).
    Token,
}

/// JWT settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    /// Verification keys; default: one key from `JWT_APP_SECRET`.
    #[serde(default = "default_keys")]
    pub keys: Vec<RawKey>,
    /// The algorithm; only `HS256` is supported.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// Accepted issuers (`*`: any, but `iss` must be there); default: the first variable of
    /// `issuers_env` that is set (comma-separated), else `issuers_default`, else not checked.
    #[serde(default)]
    pub issuers: Option<Vec<String>>,
    /// Variables read, in order, when `issuers` is absent (default `JWT_ACCEPTED_ISSUERS`).
    #[serde(default = "default_issuers_env")]
    pub issuers_env: VarNames,
    /// Accepted issuers when no variable is set.
    #[serde(default)]
    pub issuers_default: Option<Vec<String>>,
    /// Accepted audiences, as for issuers (default variable `JWT_ACCEPTED_AUDIENCES`).
    #[serde(default)]
    pub audiences: Option<Vec<String>>,
    /// Variables read, in order, when `audiences` is absent.
    #[serde(default = "default_audiences_env")]
    pub audiences_env: VarNames,
    /// Accepted audiences when no variable is set (Jitsi Meet's Prosody: `["*"]`).
    #[serde(default)]
    pub audiences_default: Option<Vec<String>>,
    /// An `aud` array may name the accepted audience (default true); false refuses arrays unless
    /// any audience is accepted, as Jitsi Meet's Prosody does.
    #[serde(default = "yes")]
    pub audience_arrays: bool,
    /// The JOSE header's `typ`: `optional` (absent, or `JWT` in any case; the default) or
    /// `required` (exactly `JWT`, as Jitsi Meet's Prosody requires).
    #[serde(default)]
    pub typ: TypRule,
    /// Domain verification, as Jitsi Meet's Prosody does it: the token's `sub` must be `*`, one of
    /// these domains (ASCII case ignored), or on a route with a tenant, the tenant. Absent (and no
    /// variable of `subjects_env` set, no `subjects_default`): `sub` is not checked.
    #[serde(default)]
    pub subjects: Option<Vec<String>>,
    /// Variables read, in order, when `subjects` is absent (docker-jitsi-meet: `XMPP_DOMAIN`).
    #[serde(default)]
    pub subjects_env: Option<VarNames>,
    /// Domains when no variable is set.
    #[serde(default)]
    pub subjects_default: Option<Vec<String>>,
    /// Clock skew allowed for `exp`, `nbf`, `iat` (seconds, 0–600; default 30).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: i64,
    /// Longest accepted token lifetime (seconds; default 86400; 0 = no limit).
    #[serde(default = "default_max_lifetime")]
    pub max_lifetime_seconds: i64,
    /// What the maximum lifetime means for a token with neither `iat` nor `nbf`.
    #[serde(default)]
    pub max_lifetime_without_iat: WithoutIat,
    /// How many verified tokens each VM (or the native module) remembers, so a token seen again is
    /// only checked against the clock (0–10000; default 100, as Envoy's `jwt_authn`; 0 = none).
    #[serde(default = "default_cache_size")]
    pub cache_size: usize,
    /// Claim values every token must carry.
    #[serde(default)]
    pub require: BTreeMap<String, Value>,
    /// Alternatives: every token must carry every value of at least one of these maps.
    #[serde(default)]
    pub require_any: Vec<BTreeMap<String, Value>>,
    /// The JSON type each named claim must have: `string`, `boolean`, `integer`, `number`,
    /// `object`, `array`, with `?` when the claim may be missing (`"observer": "boolean?"`), or
    /// `absent` when it must not be there (the videocall.rs media server refuses any `aud`).
    #[serde(default)]
    pub claim_types: BTreeMap<String, String>,
    /// Which claims carry the identity.
    #[serde(default)]
    pub claims: RawClaimNames,
    /// Claim values that make a token an admin's (any one suffices).
    #[serde(default = "default_admin_when")]
    pub admin_when: BTreeMap<String, Value>,
    /// Tokens without a room claim may enter every room (the multi-layer token scheme's optional
    /// `room`). Default false.
    #[serde(default)]
    pub allow_unscoped: bool,
}

/// One HS256 key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    /// Key ID matched against the token's `kid`.
    #[serde(default)]
    pub kid: Option<String>,
    /// The secret inline (prefer `secret_env`).
    #[serde(default)]
    pub secret: Option<String>,
    /// The environment variable holding the secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// How the secret is written: `utf8` (default), `base64`, `base64url` or `hex`.
    #[serde(default)]
    pub encoding: Encoding,
}

/// How a secret is written in the configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// The bytes of the string itself (Jitsi's `JWT_APP_SECRET`).
    #[default]
    Utf8,
    /// Standard base64, padding optional.
    Base64,
    /// URL-safe base64 (as in a JWK `k`), padding optional.
    Base64url,
    /// Hexadecimal.
    Hex,
}

/// Which claims carry the identity forwarded upstream; lists are tried in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaimNames {
    /// The room claim (default `room`).
    #[serde(default = "default_room_claim")]
    pub room: String,
    /// The subject (default `sub`).
    #[serde(default = "default_subject_claims")]
    pub subject: Vec<String>,
    /// The display name.
    #[serde(default = "default_name_claims")]
    pub name: Vec<String>,
    /// The moderator/host flag.
    #[serde(default = "default_moderator_claims")]
    pub moderator: Vec<String>,
    /// The observer flag (videocall.rs waiting-room tokens).
    #[serde(default = "default_observer_claims")]
    pub observer: Vec<String>,
}

impl Default for RawClaimNames {
    fn default() -> Self {
        Self {
            room: default_room_claim(),
            subject: default_subject_claims(),
            name: default_name_claims(),
            moderator: default_moderator_claims(),
            observer: default_observer_claims(),
        }
    }
}

/// Static tokens. Each may be given as `{"token": …}`, `{"sha256": hex}` or `{"env": NAME}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStatic {
    /// Valid for every room (the multi-layer token scheme's `AUTH_TOKEN`).
    #[serde(default)]
    pub global: Option<RawSecret>,
    /// Valid for admin routes only (the multi-layer token scheme's `ADMIN_TOKEN`).
    #[serde(default)]
    pub admin: Option<RawSecret>,
    /// Per-room tokens; checked before the global one.
    #[serde(default)]
    pub rooms: BTreeMap<String, RawSecret>,
    /// An environment variable in the multi-layer token scheme's `room1:token1;room2:token2` form.
    #[serde(default)]
    pub rooms_env: Option<String>,
}

/// A static token or its SHA-256 digest.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawSecret {
    /// The token itself.
    Token(String),
    /// Lower- or upper-case hex SHA-256 of the token: the config then holds no usable secret.
    Sha256(String),
    /// The environment variable holding the token.
    Env(String),
}

/// Room comparison settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRooms {
    /// Compare rooms ignoring ASCII case (Jitsi). Default false.
    #[serde(default)]
    pub case_insensitive: bool,
    /// A room claim of `*` opens every room (Jitsi). Default false.
    #[serde(default)]
    pub wildcard: bool,
    /// The query parameter naming the room (default `room`).
    #[serde(default = "default_room_query")]
    pub query_param: String,
    /// The characters a token's room claim may consist of, as ASCII ranges and characters
    /// (`"A-Za-z0-9_-"`: the videocall.rs media server's NATS-safe identifiers). Absent: any.
    #[serde(default)]
    pub allowed_characters: Option<String>,
    /// Name rooms as Jitsi Meet does: the room of the URL (or `?room=`) becomes the MUC name the
    /// web app builds (NFKC, lower-cased, percent-encoded like `encodeURIComponent`, lower-cased
    /// again: `/München` is `m%c3%bcnchen`), and a token's room claim must equal it ignoring ASCII
    /// case, as Prosody compares. Implies `case_insensitive`.
    #[serde(default)]
    pub jitsi_names: bool,
}

impl Default for RawRooms {
    fn default() -> Self {
        Self {
            case_insensitive: false,
            wildcard: false,
            query_param: default_room_query(),
            allowed_characters: None,
            jitsi_names: false,
        }
    }
}

/// Names of the headers the gate sets upstream. Client-sent copies are always removed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForward {
    /// The room the request was allowed into.
    #[serde(default = "h_room")]
    pub room: String,
    /// The token's subject.
    #[serde(default = "h_subject")]
    pub subject: String,
    /// The display name.
    #[serde(default = "h_name")]
    pub name: String,
    /// `true` or `false`.
    #[serde(default = "h_moderator")]
    pub moderator: String,
    /// `true` when the credential is an admin's.
    #[serde(default = "h_admin")]
    pub admin: String,
    /// How the request was authenticated: `jwt` or `static`.
    #[serde(default = "h_auth")]
    pub auth: String,
    /// Report mode's verdict marker.
    #[serde(default = "h_report")]
    pub report: String,
    /// `true` or `false`: the token is an observer's (videocall.rs).
    #[serde(default = "h_observer")]
    pub observer: String,
}

impl Default for RawForward {
    fn default() -> Self {
        Self {
            room: h_room(),
            subject: h_subject(),
            name: h_name(),
            moderator: h_moderator(),
            admin: h_admin(),
            auth: h_auth(),
            report: h_report(),
            observer: h_observer(),
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// Level of the one line logged per denial: `trace`, `debug`, `info` (default), `warn`,
    /// `error`, or `off`.
    #[serde(default = "default_denial_level")]
    pub denials: LogLevel,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            denials: default_denial_level(),
        }
    }
}

/// A log level for verdict lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Not logged.
    Off,
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
}

fn yes() -> bool {
    true
}
fn default_route_kind() -> RouteKind {
    RouteKind::Deny
}
fn default_sources() -> Vec<Source> {
    vec![
        Source::Bearer,
        Source::XAuthToken,
        Source::Query("jwt".into()),
        Source::Query("token".into()),
    ]
}
fn default_max_token_bytes() -> usize {
    DEFAULT_MAX_TOKEN_BYTES
}
fn default_keys() -> Vec<RawKey> {
    vec![RawKey {
        kid: None,
        secret: None,
        secret_env: Some("JWT_APP_SECRET".into()),
        encoding: Encoding::Utf8,
    }]
}
fn default_algorithm() -> String {
    crate::jwt::ALGORITHM.into()
}
fn default_issuers_env() -> VarNames {
    VarNames::One("JWT_ACCEPTED_ISSUERS".into())
}
fn default_audiences_env() -> VarNames {
    VarNames::One("JWT_ACCEPTED_AUDIENCES".into())
}
fn default_leeway() -> i64 {
    30
}
fn default_cache_size() -> usize {
    100
}
fn default_max_lifetime() -> i64 {
    86_400
}
fn default_admin_when() -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("role".into(), Value::from("admin")),
        ("admin".into(), Value::Bool(true)),
    ])
}
fn default_room_claim() -> String {
    "room".into()
}
fn default_subject_claims() -> Vec<String> {
    vec!["sub".into()]
}
fn default_name_claims() -> Vec<String> {
    vec![
        "context.user.name".into(),
        "display_name".into(),
        "name".into(),
    ]
}
fn default_observer_claims() -> Vec<String> {
    vec!["observer".into()]
}

fn default_moderator_claims() -> Vec<String> {
    vec![
        "context.user.moderator".into(),
        "is_host".into(),
        "moderator".into(),
    ]
}
fn default_room_query() -> String {
    "room".into()
}
fn default_denial_level() -> LogLevel {
    LogLevel::Info
}
fn h_room() -> String {
    "x-roomgate-room".into()
}
fn h_subject() -> String {
    "x-roomgate-subject".into()
}
fn h_name() -> String {
    "x-roomgate-name".into()
}
fn h_moderator() -> String {
    "x-roomgate-moderator".into()
}
fn h_admin() -> String {
    "x-roomgate-admin".into()
}
fn h_auth() -> String {
    "x-roomgate-auth".into()
}
fn h_report() -> String {
    "x-roomgate-report".into()
}
fn h_observer() -> String {
    "x-roomgate-observer".into()
}

/// Decodes a secret from its configured encoding.
pub fn decode_secret(text: &str, encoding: Encoding) -> Result<Vec<u8>, &'static str> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let text = text.trim();
    match encoding {
        Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
        Encoding::Base64 => STANDARD_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| "not valid base64"),
        Encoding::Base64url => URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| "not valid base64url"),
        Encoding::Hex => decode_hex(text).ok_or("not valid hex"),
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The SHA-256 digest under which a static token is stored and looked up.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Lower-case hex of a digest, as `{"sha256": …}` expects.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// serde quotes the offending value (`unknown variant `the-token``), and a secret pasted into the
/// wrong field would end up in the log. Values are hidden; field names and the expected
/// alternatives are kept, since they are what the operator needs.
fn redact_serde(message: &str) -> String {
    let (head, tail) = match message.find(", expected") {
        Some(i) => message.split_at(i),
        None => (message, ""),
    };
    let keeps_name = ["unknown field", "duplicate field", "missing field"]
        .iter()
        .any(|p| head.starts_with(p));
    if keeps_name {
        return message.to_owned();
    }
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in head.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push_str("(hidden)");
                out.push(c);
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '`' || c == '"' {
                    quote = Some(c);
                }
            }
        }
    }
    out.push_str(tail);
    out
}

/// The accepted issuers or audiences: the configured list, else the first of the variables that is
/// set (comma-separated), else the default list, else `None` (not checked). An empty or blank list
/// is an error, never "accept anything": accepting any value is said with `*` alone, and still
/// needs the claim to be there (`Some(["*"])`).
pub fn accepted_list(
    configured: Option<&Vec<String>>,
    env: Env<'_>,
    vars: &VarNames,
    default: Option<&Vec<String>>,
    what: &str,
) -> Result<Option<Vec<String>>, ConfigError> {
    let from_env = || {
        vars.names().into_iter().find_map(|var| {
            env(var).map(|text| {
                let list: Vec<String> = text
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                (list, format!("the environment variable {var} (jwt.{what})"))
            })
        })
    };
    let (list, origin) = match configured {
        Some(list) => (list.clone(), format!("jwt.{what}")),
        None => match from_env() {
            Some(found) => found,
            None => match default {
                Some(list) => (list.clone(), format!("jwt.{what}_default")),
                None => return Ok(None),
            },
        },
    };
    if list.iter().any(|v| v.trim().is_empty()) {
        return Err(ConfigError::Invalid(format!(
            "{origin} has an empty entry; list the accepted values, or [\"*\"] to accept any"
        )));
    }
    if list.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "{origin} is empty; list the accepted values, or `*` to accept any"
        )));
    }
    if list.iter().any(|v| v == "*") && list.len() > 1 {
        return Err(ConfigError::Invalid(format!(
            "{origin}: `*` accepts any value and must stand alone"
        )));
    }
    Ok(Some(list))
}

/// Compiles `rooms.allowed_characters` (`"A-Za-z0-9_-"`): ASCII characters and `a-z` ranges; a
/// `-` first or last is itself.
fn char_set(spec: &str) -> Result<[bool; 128], ConfigError> {
    let bad = |why: &str| {
        ConfigError::Invalid(format!(
            "rooms.allowed_characters {spec:?}: {why} (write ranges and characters, like \"A-Za-z0-9_-\")"
        ))
    };
    if spec.is_empty() || !spec.is_ascii() {
        return Err(bad("must be non-empty ASCII"));
    }
    let mut set = [false; 128];
    let b = spec.as_bytes();
    let mut i = 0;
    while let Some(&lo) = b.get(i) {
        match (b.get(i + 1), b.get(i + 2)) {
            (Some(b'-'), Some(&hi)) => {
                if hi < lo {
                    return Err(bad("a range runs backwards"));
                }
                for c in lo..=hi {
                    if let Some(slot) = set.get_mut(usize::from(c)) {
                        *slot = true;
                    }
                }
                i += 3;
            }
            _ => {
                if let Some(slot) = set.get_mut(usize::from(lo)) {
                    *slot = true;
                }
                i += 1;
            }
        }
    }
    Ok(set)
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn claim_path(text: &str, at: &str) -> Result<ClaimPath, ConfigError> {
    ClaimPath::parse(text).ok_or_else(|| {
        ConfigError::Invalid(format!(
            "{at}: {text:?} is not a claim name like `room` or `context.user.name`"
        ))
    })
}

fn claim_values(
    map: &BTreeMap<String, Value>,
    at: &str,
) -> Result<Vec<(ClaimPath, Value)>, ConfigError> {
    map.iter()
        .map(|(k, v)| Ok((claim_path(k, at)?, v.clone())))
        .collect()
}

impl Gate {
    /// Parses and compiles a JSON configuration.
    pub fn from_json(text: &[u8], env: Env<'_>) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_json::from_slice(text)
            .map_err(|e| ConfigError::Syntax(redact_serde(&e.to_string())))?;
        Self::compile(raw, env)
    }

    /// Checks a parsed configuration as a whole and prepares it for requests.
    pub fn compile(raw: RawConfig, env: Env<'_>) -> Result<Self, ConfigError> {
        if !(256..=65_536).contains(&raw.max_token_bytes) {
            return Err(ConfigError::Invalid(
                "max_token_bytes must be between 256 and 65536".into(),
            ));
        }
        if raw.token_sources.is_empty() {
            return Err(ConfigError::Invalid(
                "token_sources must name at least one source".into(),
            ));
        }
        for (i, s) in raw.token_sources.iter().enumerate() {
            s.validate()
                .map_err(|why| ConfigError::Invalid(format!("token_sources[{i}]: {why}")))?;
            if raw.token_sources.iter().take(i).any(|t| t == s) {
                return Err(ConfigError::Invalid(format!(
                    "token_sources[{i}] is listed twice"
                )));
            }
        }
        let fwd = &raw.forward;
        let headers = [
            &fwd.room,
            &fwd.subject,
            &fwd.name,
            &fwd.moderator,
            &fwd.admin,
            &fwd.auth,
            &fwd.report,
            &fwd.observer,
        ];
        for (i, h) in headers.iter().enumerate() {
            if !is_header_name(h) {
                return Err(ConfigError::Invalid(format!(
                    "forward: {h:?} is not a lower-case header name"
                )));
            }
            if headers.iter().take(i).any(|o| o == h) {
                return Err(ConfigError::Invalid(format!(
                    "forward: header {h:?} is used twice"
                )));
            }
        }
        if raw.rooms.query_param.is_empty() {
            return Err(ConfigError::Invalid(
                "rooms.query_param must not be empty".into(),
            ));
        }

        let jwt = raw.jwt.as_ref().map(|j| compile_jwt(j, env)).transpose()?;
        let statics = raw
            .static_tokens
            .as_ref()
            .map(|s| compile_static(s, env, raw.rooms.case_insensitive))
            .transpose()?;
        let identities = match &raw.jwt {
            Some(j) => Identities {
                room: claim_path(&j.claims.room, "jwt.claims.room")?,
                subject: j
                    .claims
                    .subject
                    .iter()
                    .map(|c| claim_path(c, "jwt.claims.subject"))
                    .collect::<Result<_, _>>()?,
                name: j
                    .claims
                    .name
                    .iter()
                    .map(|c| claim_path(c, "jwt.claims.name"))
                    .collect::<Result<_, _>>()?,
                moderator: j
                    .claims
                    .moderator
                    .iter()
                    .map(|c| claim_path(c, "jwt.claims.moderator"))
                    .collect::<Result<_, _>>()?,
                observer: j
                    .claims
                    .observer
                    .iter()
                    .map(|c| claim_path(c, "jwt.claims.observer"))
                    .collect::<Result<_, _>>()?,
                admin_when: claim_values(&j.admin_when, "jwt.admin_when")?,
                allow_unscoped: j.allow_unscoped,
            },
            None => Identities::default(),
        };

        let mut routes: Vec<Route> = Vec::with_capacity(raw.routes.len());
        for (index, r) in raw.routes.iter().enumerate() {
            let route = compile_route(index, r, jwt.is_some())?;
            if let Some(earlier) = routes.iter().position(|e| e.path.shadows(&route.path)) {
                return Err(ConfigError::Route {
                    index,
                    why: format!("never applies: routes[{earlier}] matches every path it matches"),
                });
            }
            routes.push(route);
        }
        let needs_credentials = routes.iter().map(|r| r.kind).chain([raw.default]).any(|k| {
            matches!(
                k,
                RouteKind::Room | RouteKind::Authenticated | RouteKind::Admin
            )
        });
        if raw.default == RouteKind::Room {
            return Err(ConfigError::Invalid(
                "default cannot be `room`: a default route has no room to bind; use `authenticated` or `deny`".into(),
            ));
        }
        if needs_credentials && jwt.is_none() && statics.as_ref().is_none_or(StaticTokens::is_empty)
        {
            return Err(ConfigError::NoCredentials);
        }
        let admin_possible = jwt.is_some() || statics.as_ref().is_some_and(|s| s.admin.is_some());
        if routes.iter().any(|r| r.kind == RouteKind::Admin) && !admin_possible {
            return Err(ConfigError::Invalid(
                "admin routes are configured but no admin credential is: add static_tokens.admin or jwt".into(),
            ));
        }

        // Only the claims the gate reads are kept from a token's payload.
        let jwt = jwt.map(|mut policy| {
            policy.selector = Some(std::sync::Arc::new(claim_selector(
                &policy,
                &identities,
                &routes,
            )));
            policy
        });

        let ci = raw.rooms.case_insensitive || raw.rooms.jitsi_names;
        let jn = raw.rooms.jitsi_names;
        let domains = match &raw.jwt {
            Some(j) => accepted_list(
                j.subjects.as_ref(),
                env,
                j.subjects_env
                    .as_ref()
                    .unwrap_or(&VarNames::Many(Vec::new())),
                j.subjects_default.as_ref(),
                "subjects",
            )?
            .map(|v| v.iter().map(|d| d.to_ascii_lowercase()).collect::<Vec<_>>()),
            None => None,
        };
        if raw
            .revoked
            .rooms
            .iter()
            .chain(raw.revoked.issued_before.keys())
            .any(String::is_empty)
        {
            return Err(ConfigError::Invalid("revoked: a room name is empty".into()));
        }
        if raw.revoked.issued_before.values().any(|t| *t < 0) {
            return Err(ConfigError::Invalid(
                "revoked.issued_before: times are Unix seconds (>= 0)".into(),
            ));
        }
        let revoked = Revocations {
            rooms: raw
                .revoked
                .rooms
                .iter()
                .map(|r| fold(r, ci, jn))
                .collect::<HashSet<_>>(),
            jtis: raw.revoked.jtis.iter().cloned().collect(),
            issued_before: raw
                .revoked
                .issued_before
                .iter()
                .map(|(r, t)| (fold(r, ci, jn), *t))
                .collect(),
        };
        Ok(Gate {
            canned: crate::engine::canned_responses(),
            revoked,
            mode: raw.mode,
            routes,
            default: raw.default,
            route_case: raw.route_case,
            sources: raw.token_sources,
            jwt,
            statics: statics.unwrap_or_default(),
            identities,
            case_insensitive: raw.rooms.case_insensitive || raw.rooms.jitsi_names,
            jitsi_names: raw.rooms.jitsi_names,
            domains,
            wildcard: raw.rooms.wildcard,
            room_chars: raw
                .rooms
                .allowed_characters
                .as_deref()
                .map(char_set)
                .transpose()?,
            room_query: raw.rooms.query_param,
            forward: raw.forward,
            strip_token: raw.strip_token,
            max_token_bytes: raw.max_token_bytes,
            log_denials: raw.log.denials,
        })
    }
}

/// Every claim a decision can read: the registered ones the verifier checks, `jti` (revocation),
/// the identity and admin claims, and every required claim.
fn claim_selector(policy: &Policy, ids: &Identities, routes: &[Route]) -> crate::json::Selector {
    let mut selector = crate::json::Selector::default();
    for name in ["exp", "nbf", "iat", "iss", "aud", "jti", "sub"] {
        selector.add(&[name.to_owned()]);
    }
    let paths = std::iter::once(&ids.room)
        .chain(&ids.subject)
        .chain(&ids.name)
        .chain(&ids.moderator)
        .chain(&ids.observer)
        .chain(ids.admin_when.iter().map(|(p, _)| p))
        .chain(policy.require.iter().map(|(p, _)| p))
        .chain(policy.require_any.iter().flatten().map(|(p, _)| p))
        .chain(policy.claim_types.iter().map(|(p, _)| p))
        .chain(routes.iter().flat_map(|r| {
            r.require
                .iter()
                .chain(r.require_any.iter().flatten())
                .map(|(p, _)| p)
        }));
    for path in paths {
        selector.add(path.parts());
    }
    selector
}

fn compile_jwt(j: &RawJwt, env: Env<'_>) -> Result<Policy, ConfigError> {
    if j.algorithm != crate::jwt::ALGORITHM {
        return Err(ConfigError::Invalid(format!(
            "jwt.algorithm {:?} is not supported; roomgate verifies HS256 only",
            j.algorithm
        )));
    }
    if j.cache_size > 10_000 {
        return Err(ConfigError::Invalid(
            "jwt.cache_size must be between 0 and 10000".into(),
        ));
    }
    if !(0..=600).contains(&j.leeway_seconds) {
        return Err(ConfigError::Invalid(
            "jwt.leeway_seconds must be between 0 and 600".into(),
        ));
    }
    if j.max_lifetime_seconds < 0 {
        return Err(ConfigError::Invalid(
            "jwt.max_lifetime_seconds must be 0 (no limit) or more".into(),
        ));
    }
    if j.keys.is_empty() {
        return Err(ConfigError::Invalid(
            "jwt.keys is empty: add at least one key".into(),
        ));
    }
    let mut keys = Vec::with_capacity(j.keys.len());
    for (i, k) in j.keys.iter().enumerate() {
        let what = match &k.kid {
            Some(kid) => format!("jwt.keys[{i}] (kid {kid:?})"),
            None => format!("jwt.keys[{i}]"),
        };
        if k.kid.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::Invalid(format!(
                "{what}: kid must not be empty"
            )));
        }
        if k.kid.is_some() && j.keys.iter().take(i).any(|o| o.kid == k.kid) {
            return Err(ConfigError::Invalid(format!(
                "{what}: the kid is used by an earlier key"
            )));
        }
        let text = match (&k.secret, &k.secret_env) {
            (Some(s), None) => s.clone(),
            (None, Some(var)) => env(var).ok_or_else(|| ConfigError::MissingEnv {
                what: what.clone(),
                var: var.clone(),
            })?,
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "{what}: give exactly one of `secret` or `secret_env`"
                )))
            }
        };
        let secret = decode_secret(&text, k.encoding).map_err(|why| ConfigError::BadSecret {
            what: what.clone(),
            why,
        })?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::WeakSecret {
                what,
                bytes: secret.len(),
            });
        }
        keys.push(Key::new(k.kid.clone(), &secret));
    }
    let issuers = accepted_list(
        j.issuers.as_ref(),
        env,
        &j.issuers_env,
        j.issuers_default.as_ref(),
        "issuers",
    )?;
    let audiences = accepted_list(
        j.audiences.as_ref(),
        env,
        &j.audiences_env,
        j.audiences_default.as_ref(),
        "audiences",
    )?;
    Ok(Policy {
        keys,
        issuers,
        audiences,
        leeway: j.leeway_seconds,
        max_lifetime: (j.max_lifetime_seconds > 0).then_some(j.max_lifetime_seconds),
        lifetime_from_now: j.max_lifetime_without_iat == WithoutIat::Remaining,
        typ_required: j.typ == TypRule::Required,
        audience_arrays: j.audience_arrays,
        selector: None,
        cache: crate::jwt::VerifiedCache::new(j.cache_size),
        require: claim_values(&j.require, "jwt.require")?,
        require_any: alternatives(&j.require_any, "jwt.require_any")?,
        claim_types: j
            .claim_types
            .iter()
            .map(|(k, t)| {
                let at = "jwt.claim_types";
                let kind = ClaimType::parse(t).ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "{at}: {t:?} is not a type (string, boolean, integer, number, object, array, \
                         with `?` if optional, or absent)"
                    ))
                })?;
                Ok((claim_path(k, at)?, kind))
            })
            .collect::<Result<_, ConfigError>>()?,
    })
}

fn alternatives(
    maps: &[BTreeMap<String, Value>],
    at: &str,
) -> Result<Vec<Vec<(ClaimPath, Value)>>, ConfigError> {
    if maps.iter().any(BTreeMap::is_empty) {
        return Err(ConfigError::Invalid(format!(
            "{at}: an empty alternative would accept every token"
        )));
    }
    maps.iter().map(|m| claim_values(m, at)).collect()
}

fn static_digest(secret: &RawSecret, what: &str, env: Env<'_>) -> Result<[u8; 32], ConfigError> {
    let token = match secret {
        RawSecret::Sha256(hexed) => {
            let bytes = decode_hex(hexed.trim())
                .filter(|b| b.len() == 32)
                .ok_or_else(|| ConfigError::BadSecret {
                    what: what.to_owned(),
                    why: "sha256 must be 64 hex digits",
                })?;
            let mut digest = [0u8; 32];
            digest.copy_from_slice(&bytes);
            return Ok(digest);
        }
        RawSecret::Token(t) => t.clone(),
        RawSecret::Env(var) => env(var).ok_or_else(|| ConfigError::MissingEnv {
            what: what.to_owned(),
            var: var.clone(),
        })?,
    };
    check_static_token(&token, what)?;
    Ok(token_digest(&token))
}

fn check_static_token(token: &str, what: &str) -> Result<(), ConfigError> {
    if token.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::WeakSecret {
            what: what.to_owned(),
            bytes: token.len(),
        });
    }
    if !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) || token.matches('.').count() == 2 {
        return Err(ConfigError::BadSecret {
            what: what.to_owned(),
            why: "static tokens are printable ASCII without spaces, and not JWT-shaped (two dots)",
        });
    }
    Ok(())
}

fn fold(room: &str, case_insensitive: bool, jitsi: bool) -> String {
    if jitsi {
        crate::engine::jitsi_room_name(room)
    } else if case_insensitive {
        room.to_ascii_lowercase()
    } else {
        room.to_owned()
    }
}

fn compile_static(
    s: &RawStatic,
    env: Env<'_>,
    case_insensitive: bool,
) -> Result<StaticTokens, ConfigError> {
    let global = s
        .global
        .as_ref()
        .map(|g| static_digest(g, "static_tokens.global", env))
        .transpose()?;
    let admin = s
        .admin
        .as_ref()
        .map(|a| static_digest(a, "static_tokens.admin", env))
        .transpose()?;
    let mut rooms: Vec<(String, [u8; 32])> = Vec::new();
    for (room, secret) in &s.rooms {
        let what = format!("static_tokens.rooms[{room:?}]");
        rooms.push((room.clone(), static_digest(secret, &what, env)?));
    }
    if let Some(var) = &s.rooms_env {
        let what = format!("static_tokens.rooms_env ({var})");
        let text = env(var).ok_or_else(|| ConfigError::MissingEnv {
            what: what.clone(),
            var: var.clone(),
        })?;
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (room, token) = entry
                .split_once(':')
                .ok_or_else(|| ConfigError::BadSecret {
                    what: what.clone(),
                    why: "entries must be room:token separated by ';'",
                })?;
            let what = format!("{what} room {:?}", room.trim());
            check_static_token(token.trim(), &what)?;
            rooms.push((room.trim().to_owned(), token_digest(token.trim())));
        }
    }
    let mut map = HashMap::with_capacity(rooms.len());
    for (room, digest) in rooms {
        if room.is_empty() {
            return Err(ConfigError::Invalid(
                "static_tokens: a room name is empty".into(),
            ));
        }
        let folded = fold(&room, case_insensitive, false);
        if map.values().any(|r: &String| *r == folded) {
            return Err(ConfigError::Invalid(format!(
                "static_tokens: room {room:?} has two tokens"
            )));
        }
        if let Some(other) = map.insert(digest, folded) {
            return Err(ConfigError::Invalid(format!(
                "static_tokens: rooms {other:?} and {room:?} share one token; give each room its own"
            )));
        }
        if global == Some(digest) || admin == Some(digest) {
            return Err(ConfigError::Invalid(format!(
                "static_tokens: room {room:?} uses the global or admin token"
            )));
        }
    }
    if global.is_some() && global == admin {
        return Err(ConfigError::Invalid(
            "static_tokens: global and admin tokens must differ".into(),
        ));
    }
    Ok(StaticTokens {
        global,
        admin,
        rooms: map,
    })
}

fn compile_route(index: usize, r: &RawRoute, has_jwt: bool) -> Result<Route, ConfigError> {
    let err = |why: String| ConfigError::Route { index, why };
    let path = match &r.path {
        RawMatch::Exact(p) | RawMatch::Prefix(p) if !p.starts_with('/') => {
            return Err(err(format!("path {p:?} must start with '/'")));
        }
        RawMatch::Exact(p) | RawMatch::Prefix(p) | RawMatch::Pattern(p) if p.contains(';') => {
            return Err(err(format!(
                "path {p:?} contains ';', which requests may not: such a rule never applies"
            )));
        }
        RawMatch::Exact(p) => PathMatch::Exact(p.clone()),
        RawMatch::Prefix(p) => PathMatch::Prefix(p.clone()),
        RawMatch::Pattern(p) => PathMatch::Pattern(Pattern::parse(p).map_err(err)?),
    };
    let room_param = r.room_param.clone().unwrap_or_else(|| "room".into());
    let room_from = match (r.kind, r.room_from) {
        (RouteKind::Room, Some(from)) => Some(from),
        (RouteKind::Room, None) => match &path {
            PathMatch::Pattern(p) if p.has_var(&room_param) => Some(RoomFrom::Path),
            _ => {
                return Err(err(format!(
                    "a room route needs `room_from` (path, query or token), or a pattern with {{{room_param}}}"
                )))
            }
        },
        (_, Some(_)) => return Err(err("`room_from` only applies to routes of kind `room`".into())),
        (_, None) => None,
    };
    if room_from == Some(RoomFrom::Path) {
        match &path {
            PathMatch::Pattern(p) if p.has_var(&room_param) => {}
            _ => {
                return Err(err(format!(
                    "room_from is `path` but the pattern has no {{{room_param}}}"
                )))
            }
        }
    }
    if r.room_param.is_some() && room_from != Some(RoomFrom::Path) {
        return Err(err("`room_param` only applies with room_from `path`".into()));
    }
    if !r.require.is_empty() || !r.require_any.is_empty() {
        if !matches!(
            r.kind,
            RouteKind::Room | RouteKind::Authenticated | RouteKind::Admin
        ) {
            return Err(err(
                "`require` only applies to routes that check a token".into()
            ));
        }
        if !has_jwt {
            return Err(err(
                "`require` checks JWT claims, but no `jwt` section is configured".into(),
            ));
        }
    }
    if r.expired_grace_seconds != 0 {
        if !(0..=7 * 86_400).contains(&r.expired_grace_seconds) {
            return Err(err("`expired_grace_seconds` is 0 to 604800 (7 days)".into()));
        }
        if !has_jwt || !matches!(r.kind, RouteKind::Room | RouteKind::Authenticated) {
            return Err(err(
                "`expired_grace_seconds` applies to room and authenticated routes with a `jwt` section"
                    .into(),
            ));
        }
    }
    let tenant_param = match (&r.tenant_param, &path) {
        (Some(t), PathMatch::Pattern(p)) if p.has_var(t) => Some(t.clone()),
        (Some(t), _) => {
            return Err(err(format!(
                "tenant_param {t:?} is not a variable of the pattern"
            )))
        }
        (None, PathMatch::Pattern(p)) if p.has_var("tenant") => Some("tenant".into()),
        (None, _) => None,
    };
    if r.token_optional && r.kind != RouteKind::Room {
        return Err(err("`token_optional` applies to room routes".into()));
    }
    if r.message.is_some() && !matches!(r.kind, RouteKind::Gone | RouteKind::Deny) {
        return Err(err(
            "`message` only applies to `gone` and `deny` routes".into()
        ));
    }
    Ok(Route {
        path,
        kind: r.kind,
        room_from,
        room_param,
        require: claim_values(&r.require, &format!("routes[{index}].require"))?,
        require_any: alternatives(&r.require_any, &format!("routes[{index}].require_any"))?,
        message: r.message.clone(),
        expired_grace: r.expired_grace_seconds,
        token_optional: r.token_optional,
        tenant_param,
        label: match &r.path {
            RawMatch::Exact(p) => format!("exact:{p}"),
            RawMatch::Prefix(p) => format!("prefix:{p}"),
            RawMatch::Pattern(p) => format!("pattern:{p}"),
        },
    })
}
