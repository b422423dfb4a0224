//! The behaviour table: one list of requests and expected verdicts that every host runs.
//!
//! The native engine, the real Envoy (and any later host) all run exactly these cases through the
//! [`Host`] trait, so the hosts cannot drift apart. Configurations are the files in `examples/`
//! (the README's complete examples) and the demo configuration inside `envoy.yaml`; secrets come
//! from [`env`], as they would from `vm_config.environment_variables`.

use crate::upstream::Echoed;
use roomgate_filter::jwt::sign;
use serde_json::{Map, Value};

/// Secret for the Jitsi example and the demo (`JWT_APP_SECRET`).
pub const JITSI_SECRET: &str = "jitsi-test-secret-0123456789abcdefghij";
/// Secret for the videocall.rs and multi-layer token scheme examples (`JWT_SECRET`).
pub const SHARED_SECRET: &str = "videocall-and-multi-layer-secret-0123456789";
/// A key no configuration knows.
pub const OTHER_SECRET: &str = "some-other-secret-nobody-configured-xyz";
/// The multi-layer token scheme's global static token.
pub const GLOBAL_TOKEN: &str = "global-token-0123456789abcdef0123456789";
/// The multi-layer token scheme's admin token.
pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef0123456789a";
/// The multi-layer token scheme's token of room1.
pub const ROOM1_TOKEN: &str = "room1-token-0123456789abcdef01234567890";
/// The multi-layer token scheme's token of room2.
pub const ROOM2_TOKEN: &str = "room2-token-0123456789abcdef01234567890";

/// The environment a configuration is compiled with, as an operator would pass it through
/// `vm_config.environment_variables`: each deployment passes only its own variables.
pub fn env(config: &str) -> Vec<(&'static str, String)> {
    // The attack corpus's variants of an example (`attack-multi-layer-…`, `attack-jitsi-…`) run
    // with that example's environment.
    let config = ["jitsi", "multi-layer"]
        .into_iter()
        .find(|base| config.starts_with(&format!("attack-{base}-")))
        .unwrap_or(config);
    match config {
        "jitsi" => vec![
            ("JWT_APP_SECRET", JITSI_SECRET.into()),
            ("JWT_ACCEPTED_ISSUERS", "roomgate, meet.example.com".into()),
            ("JWT_ACCEPTED_AUDIENCES", "jitsi".into()),
        ],
        "demo" => vec![("JWT_APP_SECRET", JITSI_SECRET.into())],
        "multi-layer" => vec![
            ("JWT_SECRET", SHARED_SECRET.into()),
            ("JWT_AUDIENCE", "rooms-api".into()),
            ("AUTH_TOKEN", GLOBAL_TOKEN.into()),
            ("ADMIN_TOKEN", ADMIN_TOKEN.into()),
            (
                "ROOM_TOKENS",
                format!("room1:{ROOM1_TOKEN};room2:{ROOM2_TOKEN}"),
            ),
        ],
        _ => vec![("JWT_SECRET", SHARED_SECRET.into())],
    }
}

/// The plugin configuration named `name`: an example file, `demo` (from envoy.yaml), or a
/// variant (`videocall-report`).
pub fn config(name: &str) -> Result<String, String> {
    let root = crate::repo_root();
    let read = |file: &str| {
        std::fs::read_to_string(root.join("examples").join(file))
            .map_err(|e| format!("{file}: {e}"))
    };
    match name {
        "videocall" | "multi-layer" => read(&format!("{name}.json")),
        "jitsi-as-shipped" => read("jitsi.json"),
        // examples/jitsi.json runs in front of Prosody, which checks the token again, so it
        // forwards the token (strip_token: false; jitsi_client_paths tests it as shipped). The
        // table and the attack corpus check token stripping on it, as a sole verifier would.
        "jitsi" => {
            let mut v: Value =
                serde_json::from_str(&read("jitsi.json")?).map_err(|e| e.to_string())?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("strip_token".into(), true.into());
            }
            Ok(v.to_string())
        }
        "videocall-report" => {
            let mut v: Value =
                serde_json::from_str(&read("videocall.json")?).map_err(|e| e.to_string())?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("mode".into(), "report".into());
            }
            Ok(v.to_string())
        }
        "demo" => demo_config(),
        attack if attack.starts_with("attack-") => crate::attacks::config(attack),
        other => Err(format!("no configuration named {other}")),
    }
}

/// The plugin configuration embedded in the top-level envoy.yaml.
pub fn demo_config() -> Result<String, String> {
    let cfg = crate::envoy::EnvoyConfig::new(0)?;
    find_string_value(cfg.value()).ok_or_else(|| "envoy.yaml has no roomgate configuration".into())
}

fn find_string_value(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => {
            if m.get("@type").and_then(Value::as_str)
                == Some("type.googleapis.com/google.protobuf.StringValue")
            {
                return m.get("value").and_then(Value::as_str).map(str::to_owned);
            }
            m.values().find_map(find_string_value)
        }
        Value::Array(a) => a.iter().find_map(find_string_value),
        _ => None,
    }
}

/// How the `{token}` placeholder of a case is made.
#[derive(Debug, Clone)]
pub enum Token {
    /// An HS256 JWT over these claims; strings `@now`, `@now+N`, `@now-N` become times.
    Jwt {
        secret: &'static str,
        kid: Option<&'static str>,
        claims: Value,
    },
    /// Exactly this text.
    Raw(String),
    /// Hand-forged bytes, signature and mangling (the attack corpus, [`crate::attacks`]).
    Forge(crate::attacks::Forge),
}

impl Token {
    /// The token text at time `now`.
    pub fn render(&self, now: i64) -> String {
        match self {
            Self::Raw(t) => t.clone(),
            Self::Forge(f) => f.render(now),
            Self::Jwt {
                secret,
                kid,
                claims,
            } => {
                let claims = resolve_times(claims, now);
                let map: Map<String, Value> = claims.as_object().cloned().unwrap_or_default();
                sign(&map, secret.as_bytes(), *kid).unwrap_or_default()
            }
        }
    }
}

fn resolve_times(v: &Value, now: i64) -> Value {
    match v {
        Value::String(s) if s.starts_with("@now") => {
            let offset = s.get(4..).unwrap_or("");
            let offset: i64 = offset.trim_start_matches('+').parse().unwrap_or(0);
            Value::from(now + offset)
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), resolve_times(v, now)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve_times(v, now)).collect()),
        other => other.clone(),
    }
}

/// One request and what must come of it.
#[derive(Debug, Clone)]
pub struct Case {
    /// A sentence.
    pub name: &'static str,
    /// Configuration name (see [`config`]).
    pub config: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Request target; `{token}` is replaced.
    pub target: String,
    /// Request headers; `{token}` is replaced.
    pub headers: Vec<(String, String)>,
    /// The token, if the case uses one.
    pub token: Option<Token>,
    /// Expected status.
    pub status: u16,
    /// Expected `error` code of a local response.
    pub error: Option<&'static str>,
    /// Headers the upstream must see with exactly this value (`None`: must not see).
    pub upstream: Vec<(&'static str, Option<String>)>,
    /// The exact target the upstream must receive.
    pub upstream_target: Option<String>,
}

/// A request as sent, with the token filled in.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Request target.
    pub target: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
}

/// What a host observed.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Response status.
    pub status: u16,
    /// Response headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
    /// What reached the upstream, if the request was forwarded.
    pub upstream: Option<Echoed>,
}

/// Something that can run a case: the native engine, Envoy, a wasm harness.
pub trait Host {
    /// Sends `request` through the gate configured with `config`.
    fn send(&mut self, config: &str, request: &Request) -> Result<Observed, String>;
    /// The current time the host's gate will use (Unix seconds).
    fn now(&self) -> i64;
}

/// Runs every case on `host`; the error lists each failing case with what was observed.
pub fn run_all(cases: &[Case], host: &mut dyn Host) -> Result<(), String> {
    run_all_with(cases, host, |c, host| c.run(host))
}

/// [`run_all`] with each case run by `run` (a host that answers some cases itself, like nginx).
pub fn run_all_with(
    cases: &[Case],
    host: &mut dyn Host,
    mut run: impl FnMut(&Case, &mut dyn Host) -> Result<(), String>,
) -> Result<(), String> {
    let failures: Vec<String> = cases.iter().filter_map(|c| run(c, host).err()).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} cases failing:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        ))
    }
}

impl Case {
    /// The request with `token` filled in.
    pub fn request(&self, token: Option<&str>) -> Request {
        let fill = |s: &str| match token {
            Some(t) => s.replace("{token}", t),
            None => s.to_owned(),
        };
        Request {
            method: self.method.into(),
            target: fill(&self.target),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), fill(v)))
                .collect(),
        }
    }

    /// Runs the case on `host` and checks every expectation.
    pub fn run(&self, host: &mut dyn Host) -> Result<(), String> {
        let token = self.token.as_ref().map(|t| t.render(host.now()));
        let req = self.request(token.as_deref());
        let seen = host.send(self.config, &req)?;
        self.check(&seen, token.as_deref())
            .map_err(|e| format!("{}: {e}\n  observed: {seen:?}", self.name))
    }

    fn check(&self, seen: &Observed, token: Option<&str>) -> Result<(), String> {
        if seen.status != self.status {
            return Err(format!("status {} instead of {}", seen.status, self.status));
        }
        // A token the case forwards on purpose (to a server that verifies again) comes back in
        // the echo upstream's body; the gate itself must never echo it.
        let forwarded = self
            .upstream_target
            .as_deref()
            .is_some_and(|u| u.contains("{token}"));
        if let Some(t) = token.filter(|t| t.len() >= 8) {
            let in_body = seen.body.contains(t) && !(forwarded && seen.upstream.is_some());
            if in_body || seen.headers.iter().any(|(_, v)| v.contains(t)) {
                return Err("the response echoes the token".into());
            }
        }
        let header = |name: &str| {
            seen.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if let Some(code) = self.error {
            let body: Value =
                serde_json::from_str(&seen.body).map_err(|e| format!("body is not JSON: {e}"))?;
            if body.get("error").and_then(Value::as_str) != Some(code) {
                return Err(format!(
                    "error code {:?} instead of {code}",
                    body.get("error")
                ));
            }
            if !body.get("message").is_some_and(Value::is_string) {
                return Err("body has no message".into());
            }
            if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
                return Err("local response is not application/json".into());
            }
            if header("cache-control") != Some("no-store") {
                return Err("local response is not cache-control: no-store".into());
            }
            if seen.upstream.is_some() {
                return Err("a denied request reached the upstream".into());
            }
        }
        if self.status == 401
            && !header("www-authenticate").is_some_and(|w| w.contains("error=\"invalid_token\""))
        {
            return Err("401 without WWW-Authenticate: Bearer error=\"invalid_token\"".into());
        }
        if self.status == 200 {
            let up = seen
                .upstream
                .as_ref()
                .ok_or("the request did not reach the upstream")?;
            if let Some(target) = &self.upstream_target {
                let target = match token {
                    Some(t) => target.replace("{token}", t),
                    None => target.clone(),
                };
                if up.path != target {
                    return Err(format!(
                        "upstream saw target {:?} instead of {target:?}",
                        up.path
                    ));
                }
            }
            for (name, want) in &self.upstream {
                let got = up.header_all(name);
                match want {
                    None if !got.is_empty() => return Err(format!("upstream saw {name}: {got:?}")),
                    Some(w) if got != [w.as_str()] => {
                        return Err(format!("upstream saw {name}: {got:?} instead of {w:?}"))
                    }
                    _ => {}
                }
            }
            if let Some(t) = token.filter(|t| t.len() >= 8) {
                let leaked = up.path.contains(t)
                    && !self
                        .upstream_target
                        .as_deref()
                        .is_some_and(|u| u.contains("{token}"));
                if leaked {
                    return Err("the token was forwarded in the target".into());
                }
            }
        }
        Ok(())
    }
}

/// The JWT secret of a configuration: Jitsi's for the Jitsi example, the demo and their attack
/// variants, the shared one otherwise.
pub(crate) fn secret_for(config: &str) -> &'static str {
    if matches!(config, "jitsi" | "demo") || config.starts_with("attack-jitsi-") {
        JITSI_SECRET
    } else {
        SHARED_SECRET
    }
}

pub(crate) struct B(pub(crate) Case);

pub(crate) fn case(name: &'static str, config: &'static str, target: &str) -> B {
    B(Case {
        name,
        config,
        method: "GET",
        target: target.into(),
        headers: Vec::new(),
        token: None,
        status: 0,
        error: None,
        upstream: Vec::new(),
        upstream_target: None,
    })
}

impl B {
    pub(crate) fn method(mut self, m: &'static str) -> Self {
        self.0.method = m;
        self
    }
    pub(crate) fn header(mut self, k: &str, v: &str) -> Self {
        self.0.headers.push((k.into(), v.into()));
        self
    }
    pub(crate) fn bearer(self) -> Self {
        self.header("authorization", "Bearer {token}")
    }
    pub(crate) fn jwt(self, claims: Value) -> Self {
        let secret = secret_for(self.0.config);
        self.signed(secret, claims)
    }
    pub(crate) fn signed(mut self, secret: &'static str, claims: Value) -> Self {
        self.0.token = Some(Token::Jwt {
            secret,
            kid: None,
            claims,
        });
        self
    }
    pub(crate) fn raw(mut self, token: &str) -> Self {
        self.0.token = Some(Token::Raw(token.into()));
        self
    }
    pub(crate) fn allow(mut self) -> Self {
        self.0.status = 200;
        self
    }
    pub(crate) fn deny(mut self, status: u16, error: &'static str) -> Self {
        self.0.status = status;
        self.0.error = Some(error);
        self
    }
    pub(crate) fn up(mut self, name: &'static str, value: &str) -> Self {
        self.0.upstream.push((name, Some(value.into())));
        self
    }
    pub(crate) fn up_absent(mut self, name: &'static str) -> Self {
        self.0.upstream.push((name, None));
        self
    }
    pub(crate) fn up_target(mut self, target: &str) -> Self {
        self.0.upstream_target = Some(target.into());
        self
    }
}

pub(crate) fn jitsi_claims(room: &str) -> Value {
    serde_json::json!({
        "iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": room,
        "nbf": "@now", "exp": "@now+600",
        "context": {"user": {"name": "Alice", "moderator": true}}
    })
}

pub(crate) fn with(mut base: Value, key: &str, value: Value) -> Value {
    if let Some(o) = base.as_object_mut() {
        if value.is_null() {
            o.remove(key);
        } else {
            o.insert(key.into(), value);
        }
    }
    base
}

pub(crate) fn videocall_claims(room: &str) -> Value {
    serde_json::json!({
        "sub": "alice@example.com", "room": room, "room_join": true, "is_host": true,
        "display_name": "Alice", "exp": "@now+600", "iss": "videocall-meeting-backend"
    })
}

pub(crate) fn api_claims() -> Value {
    serde_json::json!({"sub": "user123", "room": "room1", "role": "user", "aud": "rooms-api",
                       "iat": "@now", "exp": "@now+600"})
}

/// Every case, in a stable order.
#[allow(clippy::too_many_lines)]
pub fn cases() -> Vec<Case> {
    use serde_json::json;
    let j = jitsi_claims("standup");
    let v = videocall_claims("standup-2024");
    let cases = vec![
        // Jitsi: public paths, room pages, websockets.
        case("a_public_asset_needs_no_token", "jitsi", "/libs/app.bundle.min.js").allow()
            .up_target("/libs/app.bundle.min.js"),
        case("the_site_root_is_public", "jitsi", "/").allow(),
        // The room page is the same file for every room and the web app reloads it without its
        // `?jwt=`: it loads without a token (Prosody guards the join), never with a wrong one.
        case("a_room_page_without_a_token_loads", "jitsi", "/standup").allow()
            .up_absent("x-roomgate-room").up_absent("x-roomgate-auth"),
        case("the_websocket_without_a_token_is_401", "jitsi", "/xmpp-websocket?room=standup")
            .deny(401, "missing_token"),
        case("a_room_page_with_its_jwt_is_allowed_and_the_token_stripped", "jitsi", "/standup?jwt={token}")
            .jwt(j.clone()).allow().up_target("/standup")
            .up("x-roomgate-room", "standup").up("x-roomgate-subject", "meet.jitsi")
            .up("x-roomgate-name", "Alice").up("x-roomgate-moderator", "true")
            .up("x-roomgate-admin", "false").up("x-roomgate-auth", "jwt"),
        case("other_query_parameters_survive_token_stripping", "jitsi", "/standup?lang=de&jwt={token}&x=%41")
            .jwt(j.clone()).allow().up_target("/standup?lang=de&x=%41"),
        case("a_bearer_header_works_on_a_room_page_and_is_stripped", "jitsi", "/standup")
            .bearer().jwt(j.clone()).allow().up_absent("authorization"),
        case("jitsi_rooms_are_named_as_its_muc_names_them", "jitsi", "/StandUp?jwt={token}")
            .jwt(j.clone()).allow().up("x-roomgate-room", "standup"),
        case("a_non_ascii_jitsi_room_is_its_percent_encoded_muc_name", "jitsi", "/M%C3%BCnchen?jwt={token}")
            .jwt(jitsi_claims("m%C3%BCnchen")).allow().up("x-roomgate-room", "m%c3%bcnchen"),
        case("the_websocket_of_a_non_ascii_room_binds_the_same_muc_name", "jitsi",
             "/xmpp-websocket?room=m%c3%bcnchen&token={token}")
            .jwt(jitsi_claims("m%C3%BCnchen")).allow().up("x-roomgate-room", "m%c3%bcnchen"),
        case("a_decoded_non_ascii_room_claim_is_not_the_muc_name", "jitsi", "/M%C3%BCnchen?jwt={token}")
            .jwt(jitsi_claims("m\u{fc}nchen")).deny(403, "room_mismatch"),
        case("a_bosh_request_goes_on_after_the_token_expired", "jitsi", "/http-bind?room=standup")
            .bearer().jwt(with(j.clone(), "exp", json!("@now-3600"))).allow(),
        case("a_page_load_with_an_expired_token_is_401", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "exp", json!("@now-3600"))).deny(401, "token_expired"),
        case("a_token_for_another_domain_is_403", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "sub", json!("other.example"))).deny(403, "room_mismatch"),
        case("a_wildcard_domain_token_is_accepted", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "sub", json!("*"))).allow(),
        case("a_token_for_room_a_cannot_enter_room_b", "jitsi", "/retro?jwt={token}")
            .jwt(j.clone()).deny(403, "room_mismatch"),
        case("a_percent_encoded_room_is_the_decoded_room", "jitsi", "/%73tandup?jwt={token}")
            .jwt(j.clone()).allow().up("x-roomgate-room", "standup"),
        case("a_percent_encoded_other_room_is_still_another_room", "jitsi", "/%72etro?jwt={token}")
            .jwt(j.clone()).deny(403, "room_mismatch"),
        case("dot_segments_are_400", "jitsi", "/libs/../standup?jwt={token}")
            .jwt(j.clone()).deny(400, "bad_request"),
        case("encoded_dot_segments_are_400", "jitsi", "/libs/%2e%2e/retro?jwt={token}")
            .jwt(j.clone()).deny(400, "bad_request"),
        case("an_encoded_slash_is_400", "jitsi", "/stand%2Fup?jwt={token}").jwt(j.clone()).deny(400, "bad_request"),
        case("a_double_slash_is_400", "jitsi", "//standup?jwt={token}").jwt(j.clone()).deny(400, "bad_request"),
        case("a_trailing_slash_is_not_the_room_page", "jitsi", "/standup/?jwt={token}")
            .jwt(j.clone()).deny(403, "forbidden"),
        case("a_tenant_page_needs_a_token_naming_the_tenant", "jitsi", "/standup/extra?jwt={token}")
            .jwt(j.clone()).deny(403, "room_mismatch"),
        case("an_unmatched_path_follows_the_default_deny", "jitsi", "/standup/extra/more?jwt={token}")
            .jwt(j.clone()).deny(403, "forbidden"),
        case("an_expired_token_is_401", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "exp", json!("@now-120"))).deny(401, "token_expired"),
        case("a_token_before_its_nbf_is_401", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "nbf", json!("@now+300"))).deny(401, "token_not_yet_valid"),
        case("a_token_without_exp_is_401", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "exp", Value::Null)).deny(401, "invalid_token"),
        case("a_token_living_longer_than_the_maximum_is_401", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "exp", json!("@now+90000"))).deny(401, "invalid_token"),
        case("an_unaccepted_issuer_is_401", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "iss", json!("evil"))).deny(401, "invalid_token"),
        case("a_second_accepted_issuer_from_the_env_list_works", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "iss", json!("meet.example.com"))).allow(),
        case("an_unaccepted_audience_is_401", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "aud", json!(["other"]))).deny(401, "invalid_token"),
        case("another_keys_signature_is_401", "jitsi", "/standup?jwt={token}")
            .signed(OTHER_SECRET, j.clone()).deny(401, "invalid_token"),
        case("alg_none_is_401", "jitsi", "/standup?jwt={token}")
            .raw("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJyb29tIjoic3RhbmR1cCIsImV4cCI6NDEwMjQ0NDgwMH0.")
            .deny(401, "invalid_token"),
        case("garbage_is_401", "jitsi", "/standup?jwt=not-a-token").deny(401, "invalid_token"),
        case("the_jitsi_wildcard_room_opens_any_room", "jitsi", "/anything?jwt={token}")
            .jwt(jitsi_claims("*")).allow().up("x-roomgate-room", "anything"),
        case("a_room_array_claim_is_401", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "room", json!(["standup"]))).deny(401, "invalid_token"),
        case("a_token_without_room_is_403", "jitsi", "/standup?jwt={token}")
            .jwt(with(j.clone(), "room", Value::Null)).deny(403, "room_mismatch"),
        case("the_websocket_binds_the_room_from_the_query", "jitsi", "/xmpp-websocket?room=standup&token={token}")
            .jwt(j.clone()).allow().up_target("/xmpp-websocket?room=standup").up("x-roomgate-room", "standup"),
        case("the_websocket_refuses_another_rooms_token", "jitsi", "/xmpp-websocket?room=retro&token={token}")
            .jwt(j.clone()).deny(403, "room_mismatch"),
        case("bosh_binds_the_room_from_the_query", "jitsi", "/http-bind?room=standup")
            .bearer().jwt(j.clone()).allow(),
        case("a_repeated_room_parameter_is_400", "jitsi", "/xmpp-websocket?room=standup&room=retro&token={token}")
            .jwt(j.clone()).deny(400, "bad_request"),
        case("a_room_parameter_contradicting_the_path_is_400", "jitsi", "/standup?room=retro&jwt={token}")
            .jwt(j.clone()).deny(400, "bad_request"),
        case("the_websocket_without_a_room_is_400", "jitsi", "/xmpp-websocket?token={token}")
            .jwt(j.clone()).deny(400, "bad_request"),
        case("two_different_tokens_are_401", "jitsi", "/standup?jwt={token}")
            .header("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln").jwt(j.clone())
            .deny(401, "ambiguous_token"),
        case("the_same_token_twice_is_accepted_and_stripped_everywhere", "jitsi", "/standup?jwt={token}")
            .bearer().jwt(j.clone()).allow().up_target("/standup").up_absent("authorization"),
        case("a_repeated_token_parameter_is_401", "jitsi", "/standup?jwt={token}&jwt={token}")
            .jwt(j.clone()).deny(401, "ambiguous_token"),
        case("an_encoded_parameter_name_cannot_hide_a_second_token", "jitsi", "/standup?jwt={token}&%6Awt=x")
            .jwt(j.clone()).deny(401, "ambiguous_token"),
        case("client_sent_identity_headers_are_removed_on_public_routes", "jitsi", "/libs/x.js")
            .header("x-roomgate-room", "standup").header("x-roomgate-admin", "true").allow()
            .up_absent("x-roomgate-room").up_absent("x-roomgate-admin"),
        case("client_sent_identity_headers_are_replaced_on_room_routes", "jitsi", "/standup?jwt={token}")
            .header("x-roomgate-room", "retro").header("x-roomgate-admin", "true")
            .header("x-roomgate-name", "Mallory").jwt(j.clone()).allow()
            .up("x-roomgate-room", "standup").up("x-roomgate-admin", "false").up("x-roomgate-name", "Alice"),
        case("claims_cannot_inject_headers", "demo", "/standup?jwt={token}")
            .jwt(json!({"iss": "roomgate-demo", "aud": "jitsi", "room": "standup", "exp": "@now+600",
                        "sub": "a\r\nx-injected: 1", "context": {"user": {"name": "Jos\u{e9}\n"}}}))
            .allow().up("x-roomgate-subject", "a%0D%0Ax-injected: 1").up("x-roomgate-name", "Jos%C3%A9%0A")
            .up_absent("x-injected"),
        // A header cannot carry an empty value alike through every proxy (Envoy drops one set
        // empty): an empty claim forwards no header on every host, and a client-sent one is gone.
        case("an_empty_identity_claim_forwards_no_header", "demo", "/standup?jwt={token}")
            .header("x-roomgate-name", "Mallory").header("x_roomgate_name", "Mallory")
            .header("x-roomgate-subject", "mallory")
            .jwt(json!({"iss": "roomgate-demo", "aud": "jitsi", "room": "standup", "exp": "@now+600",
                        "sub": "", "context": {"user": {"name": "", "moderator": true}}}))
            .allow().up("x-roomgate-room", "standup").up("x-roomgate-moderator", "true")
            .up_absent("x-roomgate-name").up_absent("x_roomgate_name").up_absent("x-roomgate-subject"),
        // videocall.rs: the room comes from the token; the old path is gone. The media server checks
        // the token again, so it reaches it.
        case("the_lobby_takes_the_room_from_the_token_and_passes_it_on", "videocall", "/lobby?token={token}")
            .jwt(v.clone()).allow().up_target("/lobby?token={token}")
            .up("x-roomgate-room", "standup-2024").up("x-roomgate-subject", "alice@example.com")
            .up("x-roomgate-name", "Alice").up("x-roomgate-moderator", "true"),
        case("the_lobby_without_a_token_is_401", "videocall", "/lobby").deny(401, "missing_token"),
        case("room_join_false_is_401", "videocall", "/lobby?token={token}")
            .jwt(with(v.clone(), "room_join", json!(false))).deny(401, "invalid_token"),
        case("an_observer_token_enters_marked_as_an_observer", "videocall", "/lobby?token={token}")
            .jwt(with(with(v.clone(), "room_join", json!(false)), "observer", json!(true))).allow()
            .up("x-roomgate-observer", "true").up("x-roomgate-room", "standup-2024")
            .up_target("/lobby?token={token}"),
        case("a_token_that_neither_joins_nor_observes_is_401", "videocall", "/lobby?token={token}")
            .jwt(with(with(v.clone(), "room_join", json!(false)), "observer", json!(false)))
            .deny(401, "invalid_token"),
        case("a_lobby_token_without_display_name_is_401", "videocall", "/lobby?token={token}")
            .jwt(with(v.clone(), "display_name", Value::Null)).deny(401, "invalid_token"),
        case("a_lobby_token_with_an_audience_is_401", "videocall", "/lobby?token={token}")
            .jwt(with(v.clone(), "aud", json!("videocall"))).deny(401, "invalid_token"),
        case("a_room_the_media_server_cannot_use_is_401", "videocall", "/lobby?token={token}")
            .jwt(videocall_claims("room.sub")).deny(401, "invalid_token"),
        case("a_lobby_token_within_the_60_second_leeway_is_allowed", "videocall", "/lobby?token={token}")
            .jwt(with(v.clone(), "exp", json!("@now-45"))).allow().up_target("/lobby?token={token}"),
        case("room_join_missing_is_401", "videocall", "/lobby?token={token}")
            .jwt(with(v.clone(), "room_join", Value::Null)).deny(401, "invalid_token"),
        case("a_lobby_token_from_another_issuer_is_401", "videocall", "/lobby?token={token}")
            .jwt(with(v.clone(), "iss", json!("someone-else"))).deny(401, "invalid_token"),
        case("a_lobby_token_without_room_is_403", "videocall", "/lobby?token={token}")
            .jwt(with(v.clone(), "room", Value::Null)).deny(403, "room_mismatch"),
        case("a_lobby_room_parameter_must_agree_with_the_token", "videocall", "/lobby?room=other&token={token}")
            .jwt(v.clone()).deny(403, "room_mismatch"),
        case("the_retired_lobby_path_is_410", "videocall", "/lobby/alice@example.com/standup-2024")
            .deny(410, "gone"),
        case("the_retired_lobby_path_is_410_even_with_a_token", "videocall",
             "/lobby/alice@example.com/standup-2024?token={token}")
            .jwt(v.clone()).deny(410, "gone"),
        case("health_is_public", "videocall", "/health").allow(),
        // The multi-layer token scheme: static tokens, JWTs, admin routes.
        case("the_global_token_opens_any_room", "multi-layer", "/api/rooms/room9/state")
            .bearer().raw(GLOBAL_TOKEN).allow().up("x-roomgate-room", "room9").up("x-roomgate-auth", "static"),
        case("a_room_token_opens_its_room", "multi-layer", "/api/rooms/room1/state")
            .header("x-auth-token", "{token}").raw(ROOM1_TOKEN).allow()
            .up("x-roomgate-room", "room1").up_absent("x-auth-token"),
        case("a_room_token_cannot_open_another_room", "multi-layer", "/api/rooms/room2/state")
            .header("x-auth-token", "{token}").raw(ROOM1_TOKEN).deny(403, "room_mismatch"),
        case("static_rooms_are_case_sensitive_by_default", "multi-layer", "/api/rooms/Room1/state")
            .bearer().raw(ROOM1_TOKEN).deny(403, "room_mismatch"),
        case("an_unknown_static_token_is_401", "multi-layer", "/api/rooms/room1/state")
            .bearer().raw("not-a-configured-token-0123456789abcdef").deny(401, "invalid_token"),
        case("the_admin_token_opens_admin_routes", "multi-layer", "/api/admin/rooms/room1/close")
            .method("POST").bearer().raw(ADMIN_TOKEN).allow().up("x-roomgate-admin", "true"),
        case("the_global_token_is_not_an_admin", "multi-layer", "/api/admin/rooms/room1/close")
            .method("POST").bearer().raw(GLOBAL_TOKEN).deny(403, "admin_required"),
        case("a_jwt_with_the_admin_role_opens_admin_routes", "multi-layer", "/api/admin/stats")
            .bearer().jwt(with(api_claims(), "role", json!("admin"))).allow().up("x-roomgate-admin", "true"),
        case("a_jwt_with_the_admin_flag_opens_admin_routes", "multi-layer", "/api/admin/stats")
            .bearer().jwt(with(api_claims(), "admin", json!(true))).allow(),
        case("a_user_jwt_is_not_an_admin", "multi-layer", "/api/admin/stats")
            .bearer().jwt(api_claims()).deny(403, "admin_required"),
        case("a_jwt_opens_its_room", "multi-layer", "/api/rooms/room1/state")
            .bearer().jwt(api_claims()).allow().up("x-roomgate-subject", "user123"),
        case("a_jwt_for_room1_cannot_open_room2", "multi-layer", "/api/rooms/room2/state")
            .bearer().jwt(api_claims()).deny(403, "room_mismatch"),
        case("an_unscoped_jwt_opens_any_room_where_allowed", "multi-layer", "/api/rooms/room7/state")
            .bearer().jwt(with(api_claims(), "room", Value::Null)).allow(),
        case("a_jwt_without_the_required_audience_is_401", "multi-layer", "/api/rooms/room1/state")
            .bearer().jwt(with(api_claims(), "aud", Value::Null)).deny(401, "invalid_token"),
        case("any_valid_token_opens_an_authenticated_route", "multi-layer", "/api/whoami")
            .header("x-auth-token", "{token}").raw(ROOM2_TOKEN).allow().up("x-roomgate-room", "room2"),
        case("a_cookie_token_is_stripped_and_other_cookies_kept", "multi-layer", "/api/rooms/room1/state")
            .header("cookie", "lang=de; room_token={token}; theme=dark").raw(ROOM1_TOKEN).allow()
            .up("cookie", "lang=de; theme=dark"),
        case("the_bearer_scheme_is_case_insensitive", "multi-layer", "/api/whoami")
            .header("authorization", "bearer {token}").raw(GLOBAL_TOKEN).allow(),
        case("basic_auth_is_not_a_token", "multi-layer", "/api/whoami")
            .header("authorization", "Basic dXNlcjpwYXNz").deny(401, "missing_token"),
        case("an_empty_bearer_is_401", "multi-layer", "/api/whoami")
            .header("authorization", "Bearer ").deny(401, "invalid_token"),
        case("a_cookie_and_a_header_that_disagree_are_401", "multi-layer", "/api/whoami")
            .header("cookie", &format!("room_token={ROOM2_TOKEN}")).header("x-auth-token", "{token}")
            .raw(ROOM1_TOKEN).deny(401, "ambiguous_token"),
        case("a_path_no_rule_matches_is_403", "multi-layer", "/internal/metrics")
            .bearer().raw(GLOBAL_TOKEN).deny(403, "forbidden"),
        // report mode: nothing blocked, everything marked.
        case("report_mode_forwards_a_denied_request_marked", "videocall-report", "/lobby")
            .allow().up("x-roomgate-report", "deny; status=401; reason=missing_token"),
        case("report_mode_marks_an_allowed_request", "videocall-report", "/lobby?token={token}")
            .jwt(v.clone()).allow().up("x-roomgate-report", "allow").up("x-roomgate-room", "standup-2024")
            .up_target("/lobby?token={token}"),
        case("report_mode_still_removes_spoofed_identity_headers", "videocall-report", "/lobby/a/b")
            .header("x-roomgate-room", "x").allow().up_absent("x-roomgate-room")
            .up("x-roomgate-report", "deny; status=410; reason=gone"),
        // the demo configuration of envoy.yaml (`make run`).
        case("the_demo_admits_a_jitsi_link", "demo", "/standup?jwt={token}")
            .jwt(with(j.clone(), "iss", json!("roomgate-demo"))).allow().up_target("/standup"),
        case("the_demo_refuses_another_room", "demo", "/retro?jwt={token}")
            .jwt(with(j.clone(), "iss", json!("roomgate-demo"))).deny(403, "room_mismatch"),
        case("the_demo_admits_a_videocall_lobby_token", "demo", "/lobby?token={token}")
            .signed(JITSI_SECRET, v.clone()).allow().up("x-roomgate-room", "standup-2024"),
        case("the_demo_retires_the_old_lobby_path", "demo", "/lobby/a@b.c/standup").deny(410, "gone"),
    ];
    cases.into_iter().map(|b| b.0).collect()
}
