//! Where text goes: the product (a token, a link, JSON) to stdout, everything else to stderr.
//!
//! Scripts capture stdout (`TOKEN=$(issuer mint …)`), so a stray note there would end up inside a
//! token or a URL. Every write to stdout goes through [`product`], every note through [`warn`] or
//! [`note`], and nothing else in the crate prints.

use std::io::Write as _;

/// Writes `text` and a newline to stdout: the one thing the command produces.
pub fn product(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// A diagnostic the operator should act on.
pub fn warn(message: &str) {
    eprintln!("issuer: warning: {message}");
}

/// Information that is not the product (a generated room, where a secret came from).
pub fn note(message: &str) {
    eprintln!("issuer: {message}");
}

/// Key order for configuration output: the schema's order (as in the README and `examples/`),
/// unknown keys after, alphabetically. `serde_json::Map` sorts keys, which scatters a config.
const CONFIG_KEY_ORDER: &[&str] = &[
    "mode",
    "token_sources",
    "jwt",
    "static_tokens",
    "rooms",
    "forward",
    "strip_token",
    "max_token_bytes",
    "log",
    "routes",
    "default",
    "revoked",
    "keys",
    "kid",
    "secret",
    "secret_env",
    "encoding",
    "algorithm",
    "issuers",
    "issuers_env",
    "audiences",
    "audiences_env",
    "leeway_seconds",
    "max_lifetime_seconds",
    "match",
    "kind",
    "room_from",
    "room_param",
    "require",
    "message",
    "claims",
    "room",
    "subject",
    "name",
    "moderator",
    "case_insensitive",
    "wildcard",
    "query_param",
    "rooms",
    "jtis",
    "issued_before",
];

/// Widest line an object or array is kept on.
const INLINE_WIDTH: usize = 100;

fn ordered_keys(map: &serde_json::Map<String, serde_json::Value>) -> Vec<&String> {
    let rank = |k: &str| {
        CONFIG_KEY_ORDER
            .iter()
            .position(|o| *o == k)
            .unwrap_or(CONFIG_KEY_ORDER.len())
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    keys
}

fn compact(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(m) if !m.is_empty() => {
            let parts: Vec<String> = ordered_keys(m)
                .into_iter()
                .map(|k| format!("{}: {}", Value::from(k.as_str()), compact(&m[k.as_str()])))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(a) if !a.is_empty() => {
            let parts: Vec<String> = a.iter().map(compact).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

fn pretty_into(v: &serde_json::Value, indent: usize, top: bool, out: &mut String) {
    use serde_json::Value;
    let one_line = compact(v);
    let pad = "  ".repeat(indent + 1);
    if !top && indent * 2 + one_line.len() <= INLINE_WIDTH {
        out.push_str(&one_line);
        return;
    }
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push_str("{\n");
            let keys = ordered_keys(m);
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&pad);
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push_str(": ");
                if let Some(value) = m.get(k.as_str()) {
                    pretty_into(value, indent + 1, false, out);
                }
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(indent));
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push_str("[\n");
            for (i, item) in a.iter().enumerate() {
                out.push_str(&pad);
                pretty_into(item, indent + 1, false, out);
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(indent));
            out.push(']');
        }
        _ => out.push_str(&one_line),
    }
}

/// A filter configuration on one line, in schema order (for nginx's `proxy_wasm` argument).
pub fn config_line(v: &serde_json::Value) -> String {
    compact(v)
}

/// Pretty-prints a filter configuration in schema order, short objects and lists on one line.
pub fn config_json(v: &serde_json::Value) -> String {
    let mut out = String::new();
    pretty_into(v, 0, true, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_json_keeps_schema_order_and_parses_back() -> Result<(), serde_json::Error> {
        let v = json!({"default": "deny", "mode": "enforce", "routes": [{"kind": "public", "match": {"exact": "/health"}}]});
        let text = config_json(&v);
        assert!(
            text.starts_with("{\n  \"mode\": \"enforce\",\n  \"routes\""),
            "{text}"
        );
        assert!(
            text.contains(r#"{"match": {"exact": "/health"}, "kind": "public"}"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text)?, v);
        Ok(())
    }
}
