//! The three token profiles, and everything that must agree between issuer and filter for each.
//!
//! One profile decides the claims `mint` writes, the join link it prints, the filter configuration
//! `config` emits, and the request `verify` sends through the filter's engine. Keeping all four in
//! this one module is what makes "a token `issuer` mints is what the filter accepts" checkable:
//! `verify` and `mint`'s self-check run [`filter_config`] through `Gate::decide`, the very code the
//! proxy runs.

use crate::secret::SecretEncoding;
use clap::ValueEnum;
use serde_json::{json, Map, Value};

/// A token profile: whose claim model the token follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Jitsi Meet: iss, aud, sub, room, nbf, exp, context.user; link BASE/ROOM?jwt=TOKEN.
    Jitsi,
    /// videocall.rs room access token; link BASE/lobby?token=TOKEN.
    Videocall,
    /// The multi-layer token scheme's claims: sub, room, role, admin, exp, iat, optional aud; link BASE/ROOM?token=TOKEN.
    Generic,
}

/// videocall.rs's fixed issuer (`RoomAccessTokenClaims::ISSUER`).
pub const VIDEOCALL_ISSUER: &str = "videocall-meeting-backend";
/// The videocall.rs media server's clock leeway (jsonwebtoken's default).
pub const VIDEOCALL_LEEWAY: i64 = 60;

/// How long a Jitsi meeting goes on over BOSH and websocket reconnects after its token expired.
pub const JITSI_CALL_GRACE: i64 = 86_400;

/// Jitsi's usual audience when `JWT_ACCEPTED_AUDIENCES` is not set.
pub const JITSI_AUDIENCE: &str = "jitsi";
/// The filter's default `max_lifetime_seconds`.
pub const FILTER_MAX_LIFETIME: i64 = 86_400;
/// The filter's default `leeway_seconds`.
pub const FILTER_LEEWAY: i64 = 30;
/// The variable holding accepted issuers (docker-jitsi-meet's `.env` name).
pub const ISSUERS_ENV: &str = "JWT_ACCEPTED_ISSUERS";
/// The variable holding accepted audiences (docker-jitsi-meet's `.env` name).
pub const AUDIENCES_ENV: &str = "JWT_ACCEPTED_AUDIENCES";

/// The files a Jitsi Meet web client loads by exact path, public in the Jitsi profile. Each is a
/// file docker-jitsi-meet's web container serves as such (`meet.conf`: `location =` blocks, and
/// the site root's own files, which `try_files $uri` finds before the room page): the site root,
/// the deployment's config, the iframe API, and the PWA and browser files at the root.
pub const JITSI_PUBLIC_EXACT: &[&str] = &[
    "/",
    "/config.js",
    "/interface_config.js",
    "/external_api.js",
    "/manifest.json",
    "/pwa-worker.js",
    "/favicon.ico",
];

/// The asset folders a Jitsi Meet web client loads, public in the Jitsi profile. Each is one of
/// the static folders of docker-jitsi-meet's `meet.conf` (`location ~ ^/(libs|css|…)/(.*)$`),
/// which nginx matches before its tenant locations, so no public prefix reaches a tenant (a
/// prefix such as `/colibri-ws/`, which has no location of its own, would be one).
pub const JITSI_PUBLIC_PREFIXES: &[&str] = &[
    "/libs/", "/css/", "/static/", "/images/", "/fonts/", "/lang/", "/sounds/",
];

/// The static folders of docker-jitsi-meet's `meet.conf` that the web client does not need
/// (`transcripts` holds Jigasi's transcripts): denied, so no tenant route reaches them.
pub const JITSI_GUARDED_FOLDERS: &[&str] = &[
    "/transcripts/",
    "/connection_optimization/",
    "/.well-known/",
];

impl Profile {
    /// The profile's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jitsi => "jitsi",
            Self::Videocall => "videocall",
            Self::Generic => "generic",
        }
    }

    /// Default token lifetime: a short join window for Jitsi Meet and videocall.rs
    /// (`TOKEN_TTL_SECS` 600); an hour for the multi-layer token scheme's API tokens.
    pub fn default_lifetime(self) -> i64 {
        match self {
            Self::Jitsi | Self::Videocall => 600,
            Self::Generic => 3600,
        }
    }

    /// The join link on `base` for `room`, carrying `token` where the profile's clients look.
    pub fn link(self, base: &str, room: &str, token: &str) -> String {
        let base = base.trim_end_matches('/');
        match self {
            Self::Jitsi => format!("{base}/{}?jwt={token}", encode_segment(room)),
            Self::Videocall => format!("{base}/lobby?token={token}"),
            Self::Generic => format!("{base}/{}?token={token}", encode_segment(room)),
        }
    }
}

/// Percent-encodes one path segment: everything but RFC 3986's unreserved characters.
pub fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks a room name for a profile whose rooms travel in the URL path.
pub fn check_room(profile: Profile, room: &str) -> Result<(), String> {
    if room.is_empty() {
        return Err("the room name is empty".into());
    }
    if room.chars().any(char::is_control) {
        return Err("the room name contains control characters".into());
    }
    // The media server only admits NATS-safe rooms (its VALID_ID_PATTERN).
    if profile == Profile::Videocall
        && !room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "room {room:?}: the videocall.rs media server admits only letters, digits, '_' and '-' in a room"
        ));
    }
    if profile != Profile::Videocall && (room.contains(['/', '\\']) || room == "." || room == "..")
    {
        return Err(format!(
            "room {room:?} cannot be one path segment (no '/', '\\', '.' or '..'); the filter reads the room from the path"
        ));
    }
    Ok(())
}

/// What a token says, before the profile turns it into claims.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The room.
    pub room: String,
    /// `iss`.
    pub iss: Option<String>,
    /// `aud`.
    pub aud: Option<String>,
    /// `sub`; videocall: the email.
    pub sub: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Jitsi moderator / videocall host.
    pub moderator: bool,
    /// videocall: an observer token (`room_join: false`, `observer: true`).
    pub observer: bool,
    /// Generic role.
    pub role: Option<String>,
    /// Generic admin flag.
    pub admin: bool,
    /// `iat`.
    pub issued_at: i64,
    /// `nbf`, when the token has one.
    pub not_before: Option<i64>,
    /// `exp`.
    pub expires: i64,
    /// `jti`.
    pub jti: Option<String>,
}

/// The claims a profile's token carries.
pub fn claims(profile: Profile, id: &Identity) -> Map<String, Value> {
    let mut c = Map::new();
    let mut put = |k: &str, v: Value| {
        c.insert(k.to_owned(), v);
    };
    match profile {
        Profile::Jitsi => {
            put("iss", json!(id.iss));
            put("aud", json!(id.aud.as_deref().unwrap_or(JITSI_AUDIENCE)));
            put("sub", json!(id.sub.as_deref().unwrap_or("*")));
            // Prosody compares the room claim (lower-cased) with the MUC name Jitsi's web app
            // builds from the URL, so the claim is that name: `Daily Standup` is
            // `daily%20standup`, `München` is `m%c3%bcnchen`.
            put(
                "room",
                json!(roomgate_filter::engine::jitsi_room_name(&id.room)),
            );
            put("nbf", json!(id.not_before.unwrap_or(id.issued_at)));
            put("exp", json!(id.expires));
            let mut user = Map::new();
            if let Some(name) = &id.name {
                user.insert("name".into(), json!(name));
            }
            if let Some(email) = &id.email {
                user.insert("email".into(), json!(email));
            }
            user.insert("moderator".into(), json!(id.moderator));
            put("context", json!({ "user": user }));
        }
        Profile::Videocall => {
            let email = id
                .email
                .clone()
                .or_else(|| id.sub.clone())
                .unwrap_or_default();
            put("sub", json!(email));
            put("room", json!(id.room));
            put("room_join", json!(!id.observer));
            put("observer", json!(id.observer));
            put("is_host", json!(id.moderator));
            let display = id.name.clone().unwrap_or_else(|| email.clone());
            put("display_name", json!(display));
            put("exp", json!(id.expires));
            put("iss", json!(id.iss.as_deref().unwrap_or(VIDEOCALL_ISSUER)));
            if let Some(nbf) = id.not_before {
                put("nbf", json!(nbf));
            }
            if let Some(aud) = &id.aud {
                put("aud", json!(aud));
            }
        }
        Profile::Generic => {
            if let Some(sub) = &id.sub {
                put("sub", json!(sub));
            }
            put("room", json!(id.room));
            put("role", json!(id.role.as_deref().unwrap_or("user")));
            put("admin", json!(id.admin));
            put("exp", json!(id.expires));
            put("iat", json!(id.issued_at));
            if let Some(nbf) = id.not_before {
                put("nbf", json!(nbf));
            }
            if let Some(iss) = &id.iss {
                put("iss", json!(iss));
            }
            if let Some(aud) = &id.aud {
                put("aud", json!(aud));
            }
        }
    }
    if let Some(jti) = &id.jti {
        put("jti", json!(jti));
    }
    c
}

/// The filter settings a profile's configuration is built from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Accepted issuers; empty: not checked.
    pub issuers: Vec<String>,
    /// Accepted audiences; empty: not checked.
    pub audiences: Vec<String>,
    /// The variable the filter reads the secret from.
    pub secret_env: String,
    /// The secret's encoding.
    pub encoding: SecretEncoding,
    /// The key's `kid`, if tokens name one.
    pub kid: Option<String>,
    /// Clock skew allowed, seconds.
    pub leeway: i64,
    /// Longest accepted lifetime, seconds (0: no limit).
    pub max_lifetime: i64,
    /// Report instead of enforce.
    pub report: bool,
    /// Compare rooms case-sensitively.
    pub case_sensitive: bool,
    /// Leave issuers and audiences to the proxy's environment: the configuration names
    /// `JWT_ACCEPTED_ISSUERS` and `JWT_ACCEPTED_AUDIENCES`, read when the filter loads.
    pub policy_from_env: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            audiences: Vec::new(),
            secret_env: "JWT_APP_SECRET".into(),
            encoding: SecretEncoding::Utf8,
            kid: None,
            leeway: FILTER_LEEWAY,
            max_lifetime: FILTER_MAX_LIFETIME,
            report: false,
            case_sensitive: false,
            policy_from_env: false,
        }
    }
}

fn jwt_section(s: &Settings) -> Value {
    let mut key = Map::new();
    if let Some(kid) = &s.kid {
        key.insert("kid".into(), json!(kid));
    }
    key.insert("secret_env".into(), json!(s.secret_env));
    if s.encoding != SecretEncoding::Utf8 {
        key.insert("encoding".into(), json!(s.encoding.name()));
    }
    let mut jwt = Map::new();
    jwt.insert("keys".into(), json!([key]));
    // Written out literally (not as `issuers_env`), so the proxy checks exactly what was decided
    // here even if its own environment differs.
    if s.policy_from_env {
        jwt.insert("issuers_env".into(), json!(ISSUERS_ENV));
        jwt.insert("audiences_env".into(), json!(AUDIENCES_ENV));
    } else {
        if !s.issuers.is_empty() {
            jwt.insert("issuers".into(), json!(s.issuers));
        }
        if !s.audiences.is_empty() {
            jwt.insert("audiences".into(), json!(s.audiences));
        }
    }
    jwt.insert("leeway_seconds".into(), json!(s.leeway));
    jwt.insert("max_lifetime_seconds".into(), json!(s.max_lifetime));
    Value::Object(jwt)
}

fn mode(s: &Settings) -> &'static str {
    if s.report {
        "report"
    } else {
        "enforce"
    }
}

/// The filter configuration for a profile, or for `None`: token checks only (any path, any room).
pub fn filter_config(profile: Option<Profile>, s: &Settings) -> Value {
    let public = |m: Value| json!({"match": m, "kind": "public"});
    match profile {
        Some(Profile::Jitsi) => {
            let mut routes: Vec<Value> = JITSI_PUBLIC_EXACT
                .iter()
                .map(|p| public(json!({ "exact": p })))
                .chain(
                    JITSI_PUBLIC_PREFIXES
                        .iter()
                        .map(|p| public(json!({ "prefix": p }))),
                )
                .collect();
            // Prosody checks `exp` only when a participant joins: a meeting that started with a
            // valid token goes on over BOSH and websocket reconnects (a day at most here), while
            // Prosody refuses a new login with the expired token. The room page is the same file
            // for every room; the web app reloads it without `?jwt=`, so a token is checked when
            // there is one.
            routes.extend([
                json!({"match": {"exact": "/xmpp-websocket"}, "kind": "room", "room_from": "query",
                       "expired_grace_seconds": JITSI_CALL_GRACE}),
                json!({"match": {"exact": "/http-bind"}, "kind": "room", "room_from": "query",
                       "expired_grace_seconds": JITSI_CALL_GRACE}),
                json!({"match": {"pattern": "/{room}"}, "kind": "room", "token_optional": true}),
            ]);
            // meet.conf's other static folders (Jigasi's transcripts among them) are nobody's room
            // and no tenant's: refused before the tenant routes could read them as `/{tenant}/…`.
            routes.extend(
                JITSI_GUARDED_FOLDERS
                    .iter()
                    .map(|p| json!({"match": {"prefix": p}, "kind": "deny"})),
            );
            // Tenants (`/{tenant}/{room}`): docker-jitsi-meet's nginx serves a tenant's files from
            // the root (`rewrite ^/([^/?&:'"]+)/(.*)$ /$2`) and maps its Prosody endpoints to the
            // `[tenant]room` MUC, whose tokens name the tenant in `sub` (or `*`).
            routes.extend(
                JITSI_PUBLIC_EXACT
                    .iter()
                    .filter(|p| **p != "/")
                    .map(|p| public(json!({ "pattern": format!("/*{p}") })))
                    .chain(
                        JITSI_PUBLIC_PREFIXES
                            .iter()
                            .map(|p| public(json!({ "pattern": format!("/*{p}**") }))),
                    ),
            );
            routes.extend([
                json!({"match": {"pattern": "/{tenant}/xmpp-websocket"}, "kind": "room",
                       "room_from": "query", "expired_grace_seconds": JITSI_CALL_GRACE}),
                json!({"match": {"pattern": "/{tenant}/http-bind"}, "kind": "room",
                       "room_from": "query", "expired_grace_seconds": JITSI_CALL_GRACE}),
                json!({"match": {"pattern": "/{tenant}/{room}"}, "kind": "room", "token_optional": true}),
            ]);
            let mut jwt = jwt_section(s);
            if let Value::Object(j) = &mut jwt {
                // Prosody's token checks (luajwtjitsi and token/util): `typ` exactly JWT, `iss`
                // and `aud` present and accepted (`*` by default for the audience; an `aud` array
                // only where any audience is accepted), `sub` verified against the XMPP domain.
                j.insert("typ".into(), json!("required"));
                j.insert("audience_arrays".into(), json!(false));
                if s.policy_from_env {
                    j.insert("issuers_env".into(), json!([ISSUERS_ENV, "JWT_APP_ID"]));
                    j.insert("audiences_default".into(), json!(["*"]));
                } else if s.audiences.is_empty() {
                    j.insert("audiences".into(), json!(["*"]));
                }
                j.insert("subjects_env".into(), json!("XMPP_DOMAIN"));
                j.insert("subjects_default".into(), json!(["meet.jitsi"]));
            }
            json!({
                "mode": mode(s),
                "token_sources": ["bearer", {"query": "jwt"}, {"query": "token"}],
                "jwt": jwt,
                "rooms": {"case_insensitive": !s.case_sensitive, "wildcard": true,
                          "jitsi_names": !s.case_sensitive},
                // In front of a server that verifies again: Prosody (AUTH_TYPE=jwt) checks the
                // same token, so it must reach it.
                "strip_token": false,
                "routes": routes,
                "default": "deny"
            })
        }
        Some(Profile::Videocall) => {
            // What the media server's `decode_room_token` admits: `room_join || observer`, the
            // `RoomAccessTokenClaims` field types (no `aud`: jsonwebtoken refuses one it does not
            // expect), NATS-safe rooms.
            let mut jwt = jwt_section(s);
            if let Value::Object(j) = &mut jwt {
                j.insert(
                    "require_any".into(),
                    json!([{"room_join": true}, {"observer": true}]),
                );
                j.insert(
                    "claim_types".into(),
                    json!({"sub": "string", "display_name": "string", "is_host": "boolean",
                           "room_join": "boolean", "observer": "boolean?", "aud": "absent"}),
                );
                j.insert(
                    "claims".into(),
                    json!({"room": "room", "subject": ["sub"], "name": ["display_name"],
                           "moderator": ["is_host"], "observer": ["observer"]}),
                );
            }
            json!({
                "mode": mode(s),
                "token_sources": [{"query": "token"}, "bearer"],
                // In front of a server that verifies again: the media server reads `?token=`.
                "strip_token": false,
                "jwt": jwt,
                "rooms": {"case_insensitive": !s.case_sensitive, "allowed_characters": "A-Za-z0-9_-"},
                "routes": [
                    public(json!({"exact": "/health"})),
                    {"match": {"exact": "/lobby"}, "kind": "room", "room_from": "token"},
                    {"match": {"pattern": "/lobby/{email}/{room}"}, "kind": "gone",
                     "message": "this endpoint is retired: connect to /lobby?token=<room access token>"}
                ],
                "default": "deny"
            })
        }
        Some(Profile::Generic) => json!({
            "mode": mode(s),
            "token_sources": ["bearer", "x-auth-token", {"query": "token"}],
            "jwt": jwt_section(s),
            "rooms": {"case_insensitive": !s.case_sensitive},
            "routes": [
                public(json!({"exact": "/health"})),
                {"match": {"prefix": "/api/admin/"}, "kind": "admin"},
                {"match": {"pattern": "/api/rooms/{room}/**"}, "kind": "room"},
                {"match": {"prefix": "/api/"}, "kind": "authenticated"}
            ],
            "default": "deny"
        }),
        None => json!({
            "mode": "enforce",
            "token_sources": ["bearer"],
            "jwt": jwt_section(s),
            "rooms": {"case_insensitive": !s.case_sensitive},
            "routes": [{"match": {"prefix": "/"}, "kind": "authenticated"}],
            "default": "deny"
        }),
    }
}

/// The request `verify` sends through the engine: path and headers, with `token` where the
/// profile's clients put it.
pub fn request(
    profile: Option<Profile>,
    room: &str,
    token: &str,
) -> (String, Vec<(String, String)>) {
    let bearer = || vec![("authorization".to_owned(), format!("Bearer {token}"))];
    match profile {
        Some(Profile::Jitsi) => (format!("/{}", encode_segment(room)), bearer()),
        Some(Profile::Videocall) => (format!("/lobby?token={token}"), Vec::new()),
        Some(Profile::Generic) => (format!("/api/rooms/{}", encode_segment(room)), bearer()),
        None => ("/".to_owned(), bearer()),
    }
}

/// Whether the profile's route takes the room from the request (so the filter itself compares it).
pub fn room_in_request(profile: Option<Profile>) -> bool {
    matches!(profile, Some(Profile::Jitsi | Profile::Generic))
}

/// The Envoy `envoy.filters.http.wasm` filter entry carrying `config`, as YAML.
pub fn envoy_snippet(config: &Value, wasm_path: &str, secret_env: &str) -> String {
    let pretty = crate::output::config_json(config);
    let mut yaml = String::from(
        "# Add under http_connection_manager.http_filters, before envoy.filters.http.router.\n\
         - name: roomgate\n\
         \x20 typed_config:\n\
         \x20   \"@type\": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm\n\
         \x20   config:\n\
         \x20     name: roomgate\n\
         \x20     root_id: roomgate\n\
         \x20     fail_open: false\n\
         \x20     vm_config:\n\
         \x20       vm_id: roomgate\n\
         \x20       runtime: envoy.wasm.runtime.v8\n\
         \x20       code:\n",
    );
    yaml.push_str(&format!(
        "          local: {{ filename: {} }}\n",
        serde_json::to_string(wasm_path).unwrap_or_default()
    ));
    yaml.push_str("        environment_variables:\n");
    yaml.push_str(&format!("          host_env_keys: [{secret_env}]\n"));
    yaml.push_str(
        "      configuration:\n\
         \x20       \"@type\": type.googleapis.com/google.protobuf.StringValue\n\
         \x20       value: |\n",
    );
    for line in pretty.lines() {
        yaml.push_str("          ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use roomgate_filter::Gate;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn env(name: &str) -> Option<String> {
        (name == "JWT_APP_SECRET").then(|| SECRET.to_owned())
    }

    #[test]
    fn every_profile_config_compiles_in_the_filter() {
        for p in [
            None,
            Some(Profile::Jitsi),
            Some(Profile::Videocall),
            Some(Profile::Generic),
        ] {
            let s = Settings {
                issuers: vec!["a".into()],
                audiences: vec!["b".into()],
                kid: Some("k1".into()),
                report: true,
                ..Settings::default()
            };
            let text = filter_config(p, &s).to_string();
            assert!(Gate::from_json(text.as_bytes(), &env).is_ok(), "{p:?}");
        }
    }

    #[test]
    fn links_follow_each_profile() {
        assert_eq!(
            Profile::Jitsi.link("https://meet.example.com/", "a b", "T"),
            "https://meet.example.com/a%20b?jwt=T"
        );
        assert_eq!(
            Profile::Videocall.link("wss://media:8080", "r", "T"),
            "wss://media:8080/lobby?token=T"
        );
        assert_eq!(
            Profile::Generic.link("https://api/api/rooms", "r1", "T"),
            "https://api/api/rooms/r1?token=T"
        );
    }

    #[test]
    fn rooms_that_cannot_be_one_path_segment_are_refused() {
        for bad in ["", "a/b", "..", ".", "a\nb"] {
            assert!(check_room(Profile::Jitsi, bad).is_err(), "{bad:?}");
        }
        // videocall.rs rooms are the media server's NATS-safe identifiers.
        assert!(check_room(Profile::Videocall, "a/b").is_err());
        assert!(check_room(Profile::Videocall, "room.sub").is_err());
        assert!(check_room(Profile::Videocall, "Standup_2024-a").is_ok());
        assert!(check_room(Profile::Jitsi, "Standup 2024").is_ok());
    }

    #[test]
    fn the_envoy_snippet_embeds_the_config_and_names_the_secret_variable() {
        let c = filter_config(Some(Profile::Jitsi), &Settings::default());
        let y = envoy_snippet(&c, "dist/roomgate.wasm", "JWT_APP_SECRET");
        assert!(y.contains("host_env_keys: [JWT_APP_SECRET]"));
        assert!(y.contains("envoy.extensions.filters.http.wasm.v3.Wasm"));
        assert!(y.contains("          \"default\": \"deny\""));
    }
}
