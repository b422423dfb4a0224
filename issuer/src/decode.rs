//! Reading a token without trusting it: for `inspect`, and for `verify`'s explanations.
//!
//! This decoder is deliberately lenient (padding tolerated, any `alg`), because its job is to show
//! an operator what a token says, including a broken one. It never decides anything: acceptance is
//! only ever [`roomgate_filter::Gate::decide`]'s answer. What the filter's strict reader would
//! refuse (duplicate keys) is reported as a finding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

/// A token's readable parts.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// Length of the decoded signature in bytes (HS256: 32).
    pub signature_bytes: usize,
    /// A header or payload has a key twice: the filter refuses such tokens.
    pub duplicate_keys: bool,
}

impl Decoded {
    /// A string claim.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// An integer claim (NumericDate).
    pub fn time_claim(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }
}

fn segment(text: &str, what: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| format!("the {what} is not base64url"))
}

fn object(bytes: &[u8], what: &str) -> Result<(Map<String, Value>, bool), String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => {
            let strict = roomgate_filter::json::parse_object(bytes).is_some();
            Ok((map, !strict))
        }
        Ok(_) => Err(format!("the {what} is JSON but not an object")),
        Err(e) => Err(format!("the {what} is not JSON ({e})")),
    }
}

/// The token argument: the text itself, or `-` to read it from standard input.
pub fn read_token(arg: &str) -> anyhow::Result<String> {
    use anyhow::Context as _;
    use std::io::Read as _;
    let text = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the token from standard input")?;
        text
    } else {
        arg.to_owned()
    };
    let token = text.trim();
    if token.is_empty() {
        anyhow::bail!("the token is empty");
    }
    Ok(token.to_owned())
}

/// Decodes a compact JWS; the error says what the text is instead.
pub fn decode(token: &str) -> Result<Decoded, String> {
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    let (h, p, s) = match parts.as_slice() {
        [h, p, s] => (*h, *p, *s),
        [_, _, _, _, _] => {
            return Err("this is an encrypted token (JWE, five parts); roomgate handles signed JWTs only".into())
        }
        [_] => {
            return Err(
                "this is not a JWT (no dots): a static token carries no claims; `issuer static-token --global --from -` prints its digest"
                    .into(),
            )
        }
        other => {
            return Err(format!(
                "this is not a JWT: it has {} dot-separated parts, a JWT has three",
                other.len()
            ))
        }
    };
    let (header, dup_h) = object(&segment(h, "header")?, "header")?;
    let (claims, dup_p) = object(&segment(p, "payload")?, "payload")?;
    let signature_bytes = segment(s, "signature")?.len();
    Ok(Decoded {
        header,
        claims,
        signature_bytes,
        duplicate_keys: dup_h || dup_p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC7515_A1: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn decodes_the_rfc_7515_a1_example() -> Result<(), String> {
        let d = decode(RFC7515_A1)?;
        assert_eq!(d.header.get("alg"), Some(&Value::from("HS256")));
        assert_eq!(d.str_claim("iss"), Some("joe"));
        assert_eq!(d.time_claim("exp"), Some(1_300_819_380));
        assert_eq!(d.signature_bytes, 32);
        assert!(!d.duplicate_keys);
        Ok(())
    }

    #[test]
    fn says_what_a_non_jwt_is() {
        assert!(decode("abc")
            .err()
            .is_some_and(|e| e.contains("static token")));
        assert!(decode("a.b.c.d.e").err().is_some_and(|e| e.contains("JWE")));
        assert!(decode("a.b")
            .err()
            .is_some_and(|e| e.contains("2 dot-separated")));
        assert!(decode("!!.e30.AA")
            .err()
            .is_some_and(|e| e.contains("header")));
    }

    #[test]
    fn finds_duplicate_claims_the_filter_refuses() -> Result<(), String> {
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#);
        let p = URL_SAFE_NO_PAD.encode(r#"{"room":"a","room":"b"}"#);
        let d = decode(&format!("{h}.{p}.AA"))?;
        assert!(d.duplicate_keys);
        Ok(())
    }
}
