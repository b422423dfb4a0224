//! What a real Jitsi Meet web client requests, through every Jitsi configuration the project ships.
//!
//! The paths are the web client's (the page loads `css/all.css`, `libs/…`, `config.js`,
//! `interface_config.js`, `manifest.json`, registers `/pwa-worker.js`, fetches `lang/`, `fonts/`,
//! `images/`, `sounds/`, `static/`; an embedding site loads `/external_api.js`; lib-jitsi-meet
//! connects to `/xmpp-websocket?room=…&token=…` or BOSH `/http-bind?room=…&token=…`), and the
//! server behind is docker-jitsi-meet's web container: its `meet.conf` (checked at stable-11146)
//! serves the static folders below and treats every other first segment as a tenant, whose pages,
//! Prosody endpoints and files are guarded content. Each configuration runs in the filter's engine
//! (`Gate::decide`); the two Kubernetes ones also run in a real Envoy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_filter::Gate;
use roomgate_tests::envoy::{Envoy, EnvoyConfig};
use roomgate_tests::table::{Token, JITSI_SECRET};
use roomgate_tests::upstream::EchoUpstream;
use serde_json::{json, Value};

/// The static folders of docker-jitsi-meet's `meet.conf`
/// (`location ~ ^/(libs|css|static|images|fonts|lang|sounds|connection_optimization|.well-known|transcripts)/(.*)$`),
/// which nginx matches before its tenant locations. `transcripts` holds Jigasi's transcripts:
/// guarded content, never public.
const MEET_CONF_STATIC: &[&str] = &[
    "libs",
    "css",
    "static",
    "images",
    "fonts",
    "lang",
    "sounds",
    "connection_optimization",
    ".well-known",
];
/// Exact files of `meet.conf` (`location =`) and the site root's own files, which
/// `try_files $uri` serves before the room page.
const MEET_CONF_FILES: &[&str] = &[
    "/",
    "/config.js",
    "/interface_config.js",
    "/external_api.js",
    "/manifest.json",
    "/pwa-worker.js",
    "/favicon.ico",
];

/// The placeholder key of deploy/nginx/nginx.conf (ngx_wasm_module gets the key in the file).
const NGINX_SECRET: &str = "REPLACE-with-a-32-byte-or-longer-secret";

struct Shipped {
    name: &'static str,
    config: String,
    secret: &'static str,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(roomgate_tests::repo_root().join(path)).unwrap()
}

fn string_value(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => {
            if m.get("@type").and_then(Value::as_str)
                == Some("type.googleapis.com/google.protobuf.StringValue")
            {
                return m.get("value").and_then(Value::as_str).map(str::to_owned);
            }
            m.values().find_map(string_value)
        }
        Value::Array(a) => a.iter().find_map(string_value),
        _ => None,
    }
}

fn first_doc(path: &str) -> Value {
    let text = read(path);
    let de = serde_yaml::Deserializer::from_str(&text).next().unwrap();
    serde::Deserialize::deserialize(de).unwrap()
}

/// Every Jitsi configuration in the repository.
fn shipped() -> Vec<Shipped> {
    let envoy: Value = serde_yaml::from_str(&read("deploy/jitsi/envoy.yaml")).unwrap();
    let nginx = read("deploy/nginx/nginx.conf");
    let line = nginx
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("proxy_wasm roomgate '"))
        .unwrap();
    let nginx_json = line["proxy_wasm roomgate '".len()..line.len() - 2].to_owned();
    vec![
        Shipped {
            name: "examples/jitsi.json",
            config: read("examples/jitsi.json"),
            secret: JITSI_SECRET,
        },
        Shipped {
            name: "deploy/jitsi/envoy.yaml",
            config: string_value(&envoy).unwrap(),
            secret: JITSI_SECRET,
        },
        Shipped {
            name: "deploy/istio/wasmplugin.yaml",
            config: first_doc("deploy/istio/wasmplugin.yaml")["spec"]["pluginConfig"].to_string(),
            secret: JITSI_SECRET,
        },
        Shipped {
            name: "deploy/envoy-gateway/extension-policy.yaml",
            config: first_doc("deploy/envoy-gateway/extension-policy.yaml")["spec"]["wasm"][0]
                ["config"]
                .to_string(),
            secret: JITSI_SECRET,
        },
        Shipped {
            name: "deploy/nginx/nginx.conf",
            config: nginx_json,
            secret: NGINX_SECRET,
        },
    ]
}

/// docker-jitsi-meet's `.env` values (read by the configurations that name the variables).
fn env_of(secret: &'static str) -> impl Fn(&str) -> Option<String> {
    move |k: &str| match k {
        "JWT_APP_SECRET" => Some(secret.to_owned()),
        "JWT_ACCEPTED_ISSUERS" => Some("meet.example.com".to_owned()),
        "JWT_ACCEPTED_AUDIENCES" => Some("jitsi".to_owned()),
        _ => None,
    }
}

fn now() -> i64 {
    roomgate_tests::support::unix_now()
}

fn token(secret: &'static str, room: &str) -> String {
    token_expiring(secret, room, "@now+600")
}

/// A token for room `room` of tenant `tenant` (Prosody: `sub` names the tenant).
fn tenant_token(secret: &'static str, room: &str, tenant: &str) -> String {
    Token::Jwt {
        secret,
        kid: None,
        claims: json!({"iss": "meet.example.com", "aud": "jitsi", "sub": tenant,
                       "room": room, "exp": "@now+600"}),
    }
    .render(now())
}

/// A Jitsi token as Prosody accepts it: `sub` is docker-jitsi-meet's XMPP domain (`meet.jitsi`).
fn token_expiring(secret: &'static str, room: &str, exp: &str) -> String {
    Token::Jwt {
        secret,
        kid: None,
        claims: json!({"iss": "meet.example.com", "aud": "jitsi", "sub": "meet.jitsi",
                       "room": room, "exp": exp,
                       "context": {"user": {"name": "Alice", "moderator": true}}}),
    }
    .render(now())
}

/// The verdict a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Forwarded to the web container.
    Forward,
    /// Answered by roomgate with this status.
    Status(u16),
    /// Never forwarded without a token, whatever the status (not public).
    Denied,
}

impl Want {
    fn holds(self, got: Option<u16>) -> bool {
        match self {
            Want::Forward => got.is_none(),
            Want::Status(s) => got == Some(s),
            Want::Denied => got.is_some_and(|s| s >= 400),
        }
    }
}

use Want::{Denied, Forward, Status};

/// A request and the verdict it needs.
struct Need {
    target: String,
    bearer: Option<String>,
    want: Want,
}

fn need(target: impl Into<String>, want: Want) -> Need {
    Need {
        target: target.into(),
        bearer: None,
        want,
    }
}

fn client_requests(secret: &'static str) -> Vec<Need> {
    let t = token(secret, "standup");
    let any = token(secret, "*");
    let expired = token_expiring(secret, "standup", "@now-3600");
    let acme = tenant_token(secret, "standup", "acme");
    let mut needs: Vec<Need> = [
        "/",
        "/config.js",
        "/interface_config.js",
        "/external_api.js",
        "/manifest.json",
        "/pwa-worker.js",
        "/favicon.ico",
        "/css/all.css",
        "/css/all.css?v=8001",
        "/libs/app.bundle.min.js?v=8001",
        "/libs/lib-jitsi-meet.min.js?v=8001",
        "/libs/external_api.min.js",
        "/fonts/jitsi.woff",
        "/lang/main-de.json?v=8001",
        "/lang/languages.json",
        "/static/offline.html",
        "/images/favicon.svg",
        "/images/watermark.svg",
        "/sounds/joined.mp3",
    ]
    .into_iter()
    .map(|p| need(p, Forward))
    .collect();
    needs.extend([
        // The room page, its websocket and BOSH: the token's room, and no other.
        need(format!("/standup?jwt={t}"), Forward),
        // The web app drops `?jwt=` from the address bar: a reload loads the page without it
        // (Prosody guards the join), and a wrong or expired token is still refused.
        need("/standup", Forward),
        need(format!("/retro?jwt={t}"), Status(403)),
        need(format!("/standup?jwt={expired}"), Status(401)),
        // A meeting goes on after its token expired: BOSH and websocket reconnects pass,
        // as Prosody checks `exp` only at join.
        need(format!("/http-bind?room=standup&token={expired}"), Forward),
        need(
            format!("/xmpp-websocket?room=standup&token={expired}"),
            Forward,
        ),
        need(format!("/xmpp-websocket?room=standup&token={t}"), Forward),
        need("/xmpp-websocket?room=standup", Status(401)),
        need(format!("/xmpp-websocket?room=retro&token={t}"), Status(403)),
        need(format!("/http-bind?room=standup&token={t}"), Forward),
        need("/http-bind?room=standup", Status(401)),
        need(format!("/http-bind?room=retro&token={t}"), Status(403)),
        // A room: "*" token opens any room (Jitsi accepts it): rooms.wildcard is on.
        need(format!("/anything?jwt={any}"), Forward),
        need(
            format!("/xmpp-websocket?room=anything&token={any}"),
            Forward,
        ),
        // Not public: colibri-ws is a tenant in docker-jitsi-meet (its page, Prosody, files),
        // /transcripts/ holds Jigasi's transcripts. /health is a room page to nginx (loaded as
        // any room page is).
        need("/colibri-ws/jvb1/abc?pwd=x", Denied),
        // ... its page is the room page (the same file), loaded as any room page is.
        need("/colibri-ws/standup", Forward),
        need("/colibri-ws/xmpp-websocket?room=standup", Denied),
        need("/colibri-ws/http-bind?room=standup", Denied),
        need("/colibri-ws/transcripts/call.txt", Denied),
        need("/transcripts/call.txt", Denied),
        need("/etherpad/p/standup", Denied),
        need("/health", Forward),
        need("/connection_optimization/x", Denied),
        need("/.well-known/x", Denied),
        // Tenants: `/acme/standup` is the `[acme]standup` MUC; its token names the tenant in
        // `sub` (or `*`); the tenant's files are the root's.
        need(format!("/acme/standup?jwt={acme}"), Forward),
        need(
            format!("/acme/xmpp-websocket?room=standup&token={acme}"),
            Forward,
        ),
        need(
            format!("/acme/http-bind?room=standup&token={acme}"),
            Forward,
        ),
        need(
            format!("/acme/xmpp-websocket?room=standup&token={t}"),
            Status(403),
        ),
        need(
            format!("/other/xmpp-websocket?room=standup&token={acme}"),
            Status(403),
        ),
        need("/acme/xmpp-websocket?room=standup", Status(401)),
        need("/acme/css/all.css", Forward),
        need("/acme/libs/app.bundle.min.js", Forward),
        need("/acme/config.js", Forward),
        need("/acme/transcripts/call.txt", Denied),
    ]);
    needs.push(Need {
        target: "/http-bind?room=standup".into(),
        bearer: Some(t),
        want: Forward,
    });
    needs
}

#[test]
fn every_path_a_jitsi_web_client_requests_gets_the_verdict_it_needs_in_every_shipped_config() {
    let mut wrong = Vec::new();
    for s in shipped() {
        let gate = Gate::from_json(s.config.as_bytes(), &env_of(s.secret))
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        for n in client_requests(s.secret) {
            let headers: Vec<(String, String)> = n
                .bearer
                .iter()
                .map(|b| ("authorization".to_owned(), format!("Bearer {b}")))
                .collect();
            let v = gate.decide(&n.target, &headers, now());
            let got = v.response.as_ref().map(|r| r.status);
            if !n.want.holds(got) {
                wrong.push(format!(
                    "{}: {} -> {got:?}, needs {:?} ({:?})",
                    s.name,
                    n.target.split("jwt=").next().unwrap_or_default(),
                    n.want,
                    v.denial
                ));
            }
            // In front of a server that verifies again: the token reaches Prosody.
            if got.is_none() {
                assert!(
                    !v.edits.iter().any(|e| matches!(e,
                        roomgate_filter::engine::Edit::Set(h, _) if h == ":path")
                        || matches!(e, roomgate_filter::engine::Edit::Remove(h) if h == "authorization")),
                    "{}: {} has its token stripped",
                    s.name,
                    n.target
                );
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn every_public_route_is_a_file_or_static_folder_of_docker_jitsi_meet() {
    for s in shipped() {
        let v: Value = serde_json::from_str(&s.config).unwrap();
        assert_eq!(v["strip_token"], false, "{}: in front of Prosody", s.name);
        assert_eq!(v["rooms"]["wildcard"], true, "{}", s.name);
        for r in v["routes"].as_array().unwrap() {
            if r["kind"] != "public" {
                continue;
            }
            let m = &r["match"];
            if let Some(exact) = m["exact"].as_str() {
                assert!(MEET_CONF_FILES.contains(&exact), "{}: {exact}", s.name);
            } else if let Some(prefix) = m["prefix"].as_str() {
                let folder = prefix
                    .strip_prefix('/')
                    .and_then(|p| p.strip_suffix('/'))
                    .unwrap_or_else(|| panic!("{}: {prefix} is not /folder/", s.name));
                assert!(
                    MEET_CONF_STATIC.contains(&folder),
                    "{}: {prefix} is no static folder of meet.conf: nginx reads it as a tenant",
                    s.name
                );
            } else if let Some(pattern) = m["pattern"].as_str() {
                // A tenant's copy (`/*/config.js`, `/*/css/**`): nginx rewrites `/{tenant}/x` to
                // `/x`, so it is public exactly when `/x` is.
                let rest = pattern
                    .strip_prefix("/*")
                    .unwrap_or_else(|| panic!("{}: {pattern} is no tenant copy", s.name));
                let file_ok = MEET_CONF_FILES.contains(&rest);
                let folder_ok = rest
                    .strip_prefix('/')
                    .and_then(|p| p.strip_suffix("/**"))
                    .is_some_and(|f| MEET_CONF_STATIC.contains(&f));
                assert!(file_ok || folder_ok, "{}: {pattern}", s.name);
            } else {
                panic!(
                    "{}: a public route that is not exact, prefix or a tenant copy: {m}",
                    s.name
                );
            }
        }
    }
}

/// Sends every client request through `envoy` and checks the status and that forwarded tokens
/// reach the upstream.
fn check_in_envoy(name: &str, envoy: &Envoy, secret: &'static str) {
    for n in client_requests(secret) {
        let headers: Vec<(&str, String)> = n
            .bearer
            .iter()
            .map(|b| ("authorization", format!("Bearer {b}")))
            .collect();
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = envoy.send("GET", &n.target, &hs).unwrap();
        let got = (r.status != 200 || r.echoed().is_none()).then_some(r.status);
        assert!(
            n.want.holds(got),
            "{name}: {} -> {}, needs {:?}",
            n.target.split("jwt=").next().unwrap_or_default(),
            r.status,
            n.want
        );
        if n.want == Forward && n.target.contains("token=") {
            let seen = r.echoed().unwrap();
            assert!(
                seen.path.contains("token="),
                "{name}: the token reaches Prosody"
            );
        }
    }
}

/// The Istio and Envoy Gateway configurations in a real Envoy (the demo envoy.yaml with the
/// manifest's configuration), and docker-jitsi-meet's envoy.yaml as shipped, each in front of the
/// echo upstream.
#[test]
fn every_envoy_jitsi_config_gives_the_web_client_its_verdicts_in_envoy() {
    let upstream = EchoUpstream::start(0).unwrap();
    for s in shipped()
        .into_iter()
        .filter(|s| s.name.contains("istio") || s.name.contains("envoy-gateway"))
    {
        let cfg = EnvoyConfig::new(upstream.port())
            .unwrap()
            .plugin_config(&s.config)
            .process_env("JWT_APP_SECRET", s.secret);
        let envoy = Envoy::start(cfg).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        check_in_envoy(s.name, &envoy, s.secret);
    }
    let cfg = EnvoyConfig::from_yaml(&read("deploy/jitsi/envoy.yaml"), upstream.port())
        .unwrap()
        .mutate(|v| {
            let cluster = &mut v["static_resources"]["clusters"][0];
            cluster["type"] = json!("STATIC");
            cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
                ["socket_address"]["address"] = json!("127.0.0.1");
            v["static_resources"]["listeners"][0]["address"]["socket_address"]["address"] =
                json!("127.0.0.1");
        })
        .process_env("JWT_APP_SECRET", JITSI_SECRET)
        .process_env("JWT_ACCEPTED_ISSUERS", "meet.example.com")
        .process_env("JWT_ACCEPTED_AUDIENCES", "jitsi");
    let envoy = Envoy::start(cfg).unwrap();
    check_in_envoy("deploy/jitsi/envoy.yaml", &envoy, JITSI_SECRET);
}
