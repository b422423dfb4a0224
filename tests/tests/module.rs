//! The native Envoy module (dist/libroomgate.so) as an operator meets it in a real Envoy:
//! `envoy-module.yaml` validates and runs the same configuration as `envoy.yaml`, an unusable
//! configuration is refused with roomgate's one log line, counters and denial logs carry the wasm
//! filter's names, a panic inside the module is answered 500 without taking Envoy down, Envoy
//! routes the stripped target as it does behind the wasm filter, and the Envoy Gateway example
//! holds a configuration the engine accepts. The behaviour table and the
//! attack corpus run through the module in table_module.rs and attacks_module.rs.
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
use roomgate_tests::{repo_root, support};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Mutex;

fn jitsi_token() -> String {
    Token::Jwt {
        secret: table::JITSI_SECRET,
        kid: None,
        claims: json!({"iss": "roomgate", "aud": "jitsi", "sub": "meet.jitsi", "room": "standup", "exp": "@now+600"}),
    }
    .render(support::unix_now())
}

/// An Envoy on the module with the Jitsi example configuration and its environment.
fn jitsi(upstream: &EchoUpstream) -> EnvoyConfig {
    let mut cfg = EnvoyConfig::module(upstream.port())
        .unwrap()
        .plugin_config(&table::config("jitsi").unwrap());
    for (k, v) in table::env("jitsi") {
        cfg = cfg.env(k, &v);
    }
    cfg
}

#[test]
fn envoy_module_yaml_validates_with_the_module_loaded() {
    let cfg = EnvoyConfig::module(8081)
        .unwrap()
        .process_env("JWT_APP_SECRET", table::JITSI_SECRET);
    let out = Envoy::validate(cfg).unwrap_or_else(|e| panic!("envoy-module.yaml: {e}"));
    // --mode validate runs the config hook: the module compiled the configuration.
    assert!(out.contains("OK"), "{out}");
}

#[test]
fn envoy_module_yaml_runs_the_same_roomgate_configuration_as_envoy_yaml() {
    let cfg = EnvoyConfig::module(0).unwrap();
    assert!(cfg.is_module());
    let filters = cfg.value().pointer(
        "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters",
    );
    let roomgate = filters
        .and_then(Value::as_array)
        .and_then(|f| f.iter().find(|f| f["name"] == "roomgate"))
        .unwrap();
    let tc = &roomgate["typed_config"];
    assert_eq!(tc["dynamic_module_config"]["name"], "roomgate");
    assert_eq!(tc["filter_name"], "roomgate");
    assert_eq!(
        tc["filter_config"]["@type"],
        "type.googleapis.com/google.protobuf.StringValue"
    );
    assert_eq!(
        tc["filter_config"]["value"].as_str().unwrap(),
        table::demo_config().unwrap()
    );
}

#[test]
fn an_unusable_configuration_is_refused_with_roomgates_one_log_line() {
    let upstream = EchoUpstream::start(0).unwrap();
    // A secret that is not in Envoy's environment, then a mode that does not exist.
    let missing_secret = EnvoyConfig::module(upstream.port()).unwrap();
    let unknown_mode = jitsi(&upstream).plugin_config(r#"{"mode": "audit"}"#);
    for cfg in [missing_secret, unknown_mode] {
        let logs = Envoy::start_expect_failure(cfg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            logs.matches("roomgate: configuration rejected: ").count(),
            1,
            "{logs}"
        );
        assert!(
            logs.contains("Failed to initialize dynamic module"),
            "{logs}"
        );
        assert!(!logs.contains("panicked"), "{logs}");
    }
    assert_eq!(upstream.request_count(), 0);
}

#[test]
fn counters_and_denial_logs_carry_the_wasm_filters_names() {
    let upstream = EchoUpstream::start(0).unwrap();
    let envoy = Envoy::start(jitsi(&upstream)).unwrap();
    let token = jitsi_token();
    let ok = envoy
        .send("GET", &format!("/standup?jwt={token}"), &[])
        .unwrap();
    assert_eq!(ok.status, 200, "{ok:?}");
    let denied = envoy
        .send("GET", "/xmpp-websocket?room=standup", &[])
        .unwrap();
    assert_eq!(denied.status, 401);
    let stat = |name: &str| envoy.stat(&format!("dynamicmodulescustom.{name}")).unwrap();
    assert_eq!(stat("roomgate.allowed"), Some(1));
    assert_eq!(stat("roomgate.denied"), Some(1));
    assert_eq!(stat("roomgate.denied.missing_token"), Some(1));
    assert_eq!(stat("roomgate.denied.bad_signature"), Some(0));
    assert_eq!(stat("roomgate.source.query"), Some(1));
    assert_eq!(stat("roomgate.route.room"), Some(2));
    let prometheus = envoy.admin_get("/stats/prometheus").unwrap();
    assert!(
        prometheus.contains("envoy_dynamicmodulescustom_roomgate_allowed{} 1"),
        "{prometheus}"
    );
    let line = "roomgate: denied: status=401 reason=missing_token route=exact:/xmpp-websocket \
                kind=room source=- room=standup";
    assert!(
        envoy.wait_for_log(line, std::time::Duration::from_secs(5)),
        "{}",
        envoy.logs()
    );
    let logs = envoy.logs();
    assert!(logs.contains("roomgate: configuration loaded"), "{logs}");
    assert!(!logs.contains(&token), "a token in the log");
}

const PANIC_HEADER: &str = "x-roomgate-test-panic";

/// Builds the test-only module whose request hook panics on `x-roomgate-test-panic`, once, into
/// dist/panic/ (separate target dir, so the default build is untouched); returns that directory.
fn panic_module_dir() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let so = built.get_or_insert_with(|| {
        let args = [
            "--profile",
            "module",
            "--locked",
            "-p",
            "roomgate-module",
            "--features",
            "test-panic",
            "--target-dir",
            "target/panic",
        ];
        let so = "target/panic/module/libroomgate.so";
        support::build_test_artifact(&args, so, "dist/panic/libroomgate.so")
            .unwrap_or_else(|e| panic!("building the panic module: {e}"))
    });
    so.parent().map(PathBuf::from).unwrap_or_default()
}

#[test]
fn a_panic_inside_the_module_is_answered_500_and_envoy_keeps_serving() {
    let dir = panic_module_dir();
    let upstream = EchoUpstream::start(0).unwrap();
    let cfg =
        jitsi(&upstream).process_env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", &dir.to_string_lossy());
    let envoy = Envoy::start(cfg).unwrap();
    let token = jitsi_token();
    let target = format!("/standup?jwt={token}");
    // Otherwise the real module.
    assert_eq!(envoy.send("GET", &target, &[]).unwrap().status, 200);
    for _ in 0..3 {
        let r = envoy.send("GET", &target, &[(PANIC_HEADER, "1")]).unwrap();
        assert_eq!(r.status, 500, "{r:?}");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"], "internal_error");
        assert_eq!(envoy.send("GET", &target, &[]).unwrap().status, 200);
    }
    assert_eq!(
        upstream.request_count(),
        4,
        "a panicked request was forwarded"
    );
    assert_eq!(
        envoy
            .stat("dynamicmodulescustom.roomgate.denied.internal_error")
            .unwrap(),
        Some(3)
    );
    assert!(
        envoy.wait_for_log(
            "roomgate: denied: reason=internal_error (the filter panicked)",
            std::time::Duration::from_secs(5)
        ),
        "{}",
        envoy.logs()
    );
}

#[test]
fn the_demo_script_serves_its_documented_examples_on_the_module() {
    let text = support::run_demo_check(&["--module"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("libroomgate.so"), "{text}");
}

#[test]
fn the_envoy_gateway_module_example_allowlists_the_module_and_its_config_compiles() {
    let text = std::fs::read_to_string(repo_root().join("deploy/envoy-gateway/module-policy.yaml"))
        .unwrap();
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let [proxy, policy] = docs.as_slice() else {
        panic!("expected an EnvoyProxy and an EnvoyExtensionPolicy: {docs:?}");
    };
    assert_eq!(proxy["apiVersion"], "gateway.envoyproxy.io/v1alpha1");
    assert_eq!(proxy["kind"], "EnvoyProxy");
    let allowed = &proxy["spec"]["dynamicModules"][0];
    assert_eq!(allowed["name"], "roomgate");
    assert_eq!(allowed["source"]["type"], "Local");
    let path = allowed["source"]["local"]["path"].as_str().unwrap();
    assert!(path.ends_with("/libroomgate.so"), "{path}");
    let container = &proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]["container"];
    assert_eq!(container["env"][0]["name"], "JWT_APP_SECRET");
    assert!(container["env"][0]["valueFrom"]["secretKeyRef"].is_object());
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    assert!(path.starts_with(mount), "{path} is not under {mount}");

    assert_eq!(policy["apiVersion"], "gateway.envoyproxy.io/v1alpha1");
    assert_eq!(policy["kind"], "EnvoyExtensionPolicy");
    assert_eq!(policy["spec"]["targetRefs"][0]["kind"], "HTTPRoute");
    let module = &policy["spec"]["dynamicModule"][0];
    assert_eq!(module["name"], allowed["name"]);
    assert_eq!(module["filterName"], "roomgate");
    // Envoy Gateway hands `config` to the module as JSON.
    let env = |k: &str| (k == "JWT_APP_SECRET").then(|| table::JITSI_SECRET.to_owned());
    Gate::from_json(module["config"].to_string().as_bytes(), &env)
        .unwrap_or_else(|e| panic!("roomgate refuses the example: {e}"));
}

#[test]
fn the_route_is_chosen_again_for_the_stripped_target_as_with_the_wasm_filter() {
    let upstream = EchoUpstream::start(0).unwrap();
    let token = jitsi_token();
    // One route for targets that still carry `?jwt=`, one for the rest: the upstream sees which
    // one Envoy used after roomgate stripped the token.
    let routes = |v: &mut Value| {
        let routes = v
            .pointer_mut(
                "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config\
                 /route_config/virtual_hosts/0/routes",
            )
            .unwrap();
        *routes = json!([
            {"match": {"prefix": "/", "query_parameters": [{"name": "jwt", "present_match": true}]},
             "route": {"cluster": "upstream"},
             "request_headers_to_add": [{"header": {"key": "x-route", "value": "with-jwt"}}]},
            {"match": {"prefix": "/"}, "route": {"cluster": "upstream"},
             "request_headers_to_add": [{"header": {"key": "x-route", "value": "stripped"}}]}
        ]);
    };
    let wasm = {
        let mut cfg = EnvoyConfig::new(upstream.port())
            .unwrap()
            .plugin_config(&table::config("jitsi").unwrap())
            .mutate(roomgate_tests::hosts::drop_host_env_keys);
        for (k, v) in table::env("jitsi") {
            cfg = cfg.env(k, &v);
        }
        cfg
    };
    for cfg in [wasm, jitsi(&upstream)] {
        let module = cfg.is_module();
        let envoy = Envoy::start(cfg.mutate(routes)).unwrap();
        let r = envoy
            .send("GET", &format!("/standup?jwt={token}"), &[])
            .unwrap();
        assert_eq!(r.status, 200, "module: {module}: {r:?}");
        let echoed = r.echoed().unwrap();
        assert_eq!(echoed.path, "/standup", "module: {module}");
        assert_eq!(
            echoed.header("x-route"),
            Some("stripped"),
            "module: {module}"
        );
    }
}
