//! The deployment examples in deploy/: the Envoy ones run here (docker-jitsi-meet's Envoy in front
//! of the echo upstream); the Kubernetes and nginx ones cannot, so their structure is checked and
//! the roomgate configuration inside each is compiled by the real engine, as the plugin would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_filter::Gate;
use roomgate_tests::envoy::{Envoy, EnvoyConfig};
use roomgate_tests::table::{self, Token};
use roomgate_tests::upstream::EchoUpstream;
use serde_json::{json, Value};

fn read(path: &str) -> String {
    std::fs::read_to_string(roomgate_tests::repo_root().join(path)).unwrap()
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(path)).unwrap()
}

fn compiles(config: &str) {
    let env = |k: &str| (k == "JWT_APP_SECRET").then(|| table::JITSI_SECRET.to_owned());
    Gate::from_json(config.as_bytes(), &env)
        .unwrap_or_else(|e| panic!("roomgate refuses the example: {e}"));
}

fn now() -> i64 {
    roomgate_tests::support::unix_now()
}

fn yaml_docs(path: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(&read(path))
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

#[test]
fn the_istio_wasmplugin_is_authn_fail_close_inbound_only_with_the_secret_from_the_host() {
    let v = yaml("deploy/istio/wasmplugin.yaml");
    assert_eq!(v["apiVersion"], "extensions.istio.io/v1alpha1");
    assert_eq!(v["kind"], "WasmPlugin");
    let spec = &v["spec"];
    assert_eq!(spec["phase"], "AUTHN");
    assert_eq!(spec["failStrategy"], "FAIL_CLOSE");
    assert_eq!(spec["match"], json!([{"mode": "SERVER"}]));
    assert_eq!(
        spec["vmConfig"]["env"][0],
        json!({"name": "JWT_APP_SECRET", "valueFrom": "HOST"})
    );
    assert!(spec["url"]
        .as_str()
        .unwrap()
        .starts_with("oci://registry.example.com/roomgate@sha256:"));
    // Istio hands pluginConfig to the VM as its JSON text.
    compiles(&spec["pluginConfig"].to_string());
}

#[test]
fn the_istio_sidecar_gets_the_secret_from_a_secret_through_a_container_named_istio_proxy() {
    let v = yaml("deploy/istio/sidecar-env.yaml");
    let containers = v["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "istio-proxy");
    assert_eq!(containers[0]["image"], "auto");
    assert_eq!(
        containers[0]["env"],
        json!([{"name": "JWT_APP_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "roomgate", "key": "JWT_APP_SECRET"}}}])
    );
}

#[test]
fn the_envoy_gateway_policy_fails_closed_pulls_the_image_and_envoy_proxy_carries_the_secret() {
    let docs = yaml_docs("deploy/envoy-gateway/extension-policy.yaml");
    assert_eq!(docs.len(), 2);
    let (policy, proxy) = (&docs[0], &docs[1]);
    assert_eq!(policy["apiVersion"], "gateway.envoyproxy.io/v1alpha1");
    assert_eq!(policy["kind"], "EnvoyExtensionPolicy");
    let wasm = &policy["spec"]["wasm"][0];
    assert_eq!(wasm["failOpen"], false);
    assert_eq!(wasm["rootID"], "roomgate");
    assert_eq!(wasm["env"]["hostKeys"], json!(["JWT_APP_SECRET"]));
    assert_eq!(wasm["code"]["type"], "Image");
    assert!(wasm["code"]["image"]["url"]
        .as_str()
        .unwrap()
        .starts_with("registry.example.com/roomgate@sha256:"));
    assert_eq!(policy["spec"]["targetRefs"][0]["kind"], "HTTPRoute");
    compiles(&wasm["config"].to_string());
    assert_eq!(proxy["kind"], "EnvoyProxy");
    assert_eq!(proxy["spec"]["provider"]["type"], "Kubernetes");
    assert_eq!(
        proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]["container"]["env"],
        json!([{"name": "JWT_APP_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "roomgate", "key": "JWT_APP_SECRET"}}}])
    );
}

#[test]
fn the_nginx_example_loads_the_module_and_filters_in_front_of_proxy_pass() {
    let conf = read("deploy/nginx/nginx.conf");
    let code: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(code.contains(&"module roomgate /etc/nginx/wasm/roomgate.wasm;"));
    let filter = code
        .iter()
        .position(|l| l.starts_with("proxy_wasm roomgate '"))
        .unwrap();
    let pass = code
        .iter()
        .position(|l| l.starts_with("proxy_pass "))
        .unwrap();
    assert!(filter < pass, "proxy_wasm must come before proxy_pass");
    assert!(
        !code.iter().any(|l| l.starts_with("return ")),
        "a `return` location never runs the filter"
    );
    let line = code[filter];
    let json = &line["proxy_wasm roomgate '".len()..line.len() - 2];
    compiles(json);
    assert!(
        !json.contains("secret_env"),
        "the nginx example writes the key into the file: ngx_wasm_module releases before 0.6 pass no environment"
    );
}

#[test]
fn docker_jitsi_meet_behind_envoy_guards_rooms_and_leaves_assets_public() {
    let upstream = EchoUpstream::start(0).unwrap();
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
        .process_env("JWT_APP_SECRET", table::JITSI_SECRET)
        .process_env("JWT_ACCEPTED_ISSUERS", "meet.example.com")
        .process_env("JWT_ACCEPTED_AUDIENCES", "jitsi");
    let envoy = Envoy::start(cfg).unwrap();
    let token = Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: json!({"iss": "meet.example.com", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup", "exp": "@now+600",
                       "context": {"user": {"name": "Alice", "moderator": true}}}),
    }
    .render(now());

    let page = envoy
        .send("GET", &format!("/standup?jwt={token}"), &[])
        .unwrap();
    assert_eq!(page.status, 200);
    let seen = page.echoed().unwrap();
    assert_eq!(seen.header("x-roomgate-room"), Some("standup"));
    assert!(
        seen.path.contains(&token),
        "Prosody checks the token again, so it is forwarded"
    );
    let ws = envoy
        .send(
            "GET",
            &format!("/xmpp-websocket?room=standup&token={token}"),
            &[],
        )
        .unwrap();
    assert_eq!(ws.status, 200);
    assert_eq!(
        envoy
            .send(
                "GET",
                &format!("/xmpp-websocket?room=retro&token={token}"),
                &[]
            )
            .unwrap()
            .status,
        403
    );
    assert_eq!(
        envoy
            .send("GET", "/http-bind?room=standup", &[])
            .unwrap()
            .status,
        401
    );
    for public in [
        "/",
        "/libs/app.bundle.min.js",
        "/config.js",
        "/pwa-worker.js",
        "/lang/main-de.json",
    ] {
        assert_eq!(
            envoy.send("GET", public, &[]).unwrap().status,
            200,
            "{public}"
        );
    }
    // The room page loads without a token (Prosody guards the join); the websocket needs one.
    assert_eq!(envoy.send("GET", "/standup", &[]).unwrap().status, 200);
    assert_eq!(
        envoy
            .send("GET", "/xmpp-websocket?room=standup", &[])
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        envoy.send("GET", "/admin/secret/x", &[]).unwrap().status,
        403
    );
    // docker-jitsi-meet has no colibri-ws location: nginx reads it as a tenant, whose Prosody
    // endpoints and files are guarded content (its room pages are the same file as any).
    assert_eq!(
        envoy
            .send("GET", "/colibri-ws/jvb1/abc?pwd=x", &[])
            .unwrap()
            .status,
        403
    );
    assert_eq!(
        envoy
            .send("GET", "/colibri-ws/xmpp-websocket?room=standup", &[])
            .unwrap()
            .status,
        401
    );
}
