//! Where a request carries its token, and how to take it out again.
//!
//! Sources are searched in the configured order, but all of them are read: the same token in two
//! places is fine (it is stripped from both), two different tokens, or one source given twice, is
//! an ambiguous request and gets 401, never a guess at which one was meant.

use crate::error::Denial;
use crate::path::Target;
use serde::Deserialize;
use std::borrow::Cow;

/// A place a token can come from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Source {
    /// `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235).
    #[serde(rename = "bearer")]
    Bearer,
    /// `X-Auth-Token: <token>` (the multi-layer token scheme).
    #[serde(rename = "x-auth-token")]
    XAuthToken,
    /// Any other request header holding the bare token.
    #[serde(rename = "header")]
    Header(String),
    /// A query parameter: `jwt` (Jitsi page links), `token` (videocall.rs, Jitsi websockets).
    #[serde(rename = "query")]
    Query(String),
    /// A cookie.
    #[serde(rename = "cookie")]
    Cookie(String),
}

impl Source {
    /// Checks names at configuration load.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Header(h)
                if h.is_empty()
                    || h.starts_with(':')
                    || h.bytes().any(|b| b.is_ascii_uppercase() || b <= b' ') =>
            {
                Err(format!(
                    "header source {h:?} must be a lower-case header name"
                ))
            }
            Self::Header(h) if h == "authorization" || h == "x-auth-token" || h == "cookie" => {
                Err(format!(
                    "use the `bearer`, `x-auth-token` or `cookie` source instead of header {h:?}"
                ))
            }
            Self::Query(n) | Self::Cookie(n)
                if n.is_empty() || n.contains(['=', '&', ';', ' ']) =>
            {
                Err(format!("{n:?} is not a usable parameter or cookie name"))
            }
            _ => Ok(()),
        }
    }

    /// Short name for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::XAuthToken => "x_auth_token",
            Self::Header(_) => "header",
            Self::Query(_) => "query",
            Self::Cookie(_) => "cookie",
        }
    }
}

/// The token a request carries and every source it was found in.
#[derive(Debug)]
pub struct Found<'s, 'h> {
    /// The token text (borrowed from the request unless it had to be decoded).
    pub token: Cow<'h, str>,
    /// It has the shape of a JWT: three dot-separated parts.
    pub jwt_shaped: bool,
    /// The sources holding it (first is the first configured).
    pub sources: Vec<&'s Source>,
}

/// Whether a request header named `sent` is the header `name` to a common upstream: ASCII case is
/// ignored and `_` equals `-`, as CGI, WSGI, Rack and PHP fold both into `HTTP_X_AUTH_TOKEN`.
pub fn same_header(sent: &str, name: &str) -> bool {
    sent.len() == name.len()
        && sent.bytes().zip(name.bytes()).all(|(a, b)| {
            let fold = |c: u8| {
                if c == b'_' {
                    b'-'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            fold(a) == fold(b)
        })
}

fn header_values<'h, 'n>(
    headers: &'h [(&'h str, &'h str)],
    name: &'n str,
) -> impl Iterator<Item = &'h str> + use<'h, 'n> {
    headers
        .iter()
        .filter(move |(n, _)| same_header(n, name))
        .map(|(_, v)| *v)
}

/// The distinct spellings under which the request sent the header `name` (see [`same_header`]).
pub fn spellings<'h>(headers: &'h [(&'h str, &'h str)], name: &str) -> Vec<&'h str> {
    let mut out: Vec<&str> = Vec::new();
    for (n, _) in headers {
        if same_header(n, name) && !out.contains(n) {
            out.push(n);
        }
    }
    out
}

/// One `name=value` pair of a `Cookie` header.
#[derive(Debug, Clone, Copy)]
pub struct CookiePair<'h> {
    /// The name, with surrounding white space trimmed (as Go's net/http and npm's `cookie` do).
    pub name: &'h str,
    /// The value, trimmed, without one pair of surrounding double quotes (RFC 6265's quoted form,
    /// which those parsers unwrap too).
    pub value: &'h str,
    /// The pair as sent (trimmed), kept verbatim when other cookies are forwarded.
    pub raw: &'h str,
}

/// Pairs of all `Cookie` headers (HTTP/2 may split cookies over several).
pub fn cookie_pairs<'h>(headers: &'h [(&'h str, &'h str)]) -> impl Iterator<Item = CookiePair<'h>> {
    header_values(headers, "cookie")
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|raw| {
            let (name, value) = raw.split_once('=').unwrap_or((raw, ""));
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            CookiePair {
                name: name.trim(),
                value,
                raw,
            }
        })
}

/// Reads one source: `Ok(None)` if absent, an error if ambiguous or malformed.
fn read<'h>(
    source: &Source,
    headers: &'h [(&'h str, &'h str)],
    target: &Target<'h>,
) -> Result<Option<Cow<'h, str>>, Denial> {
    let mut value: Option<Cow<'h, str>> = None;
    // A source holding two values is ambiguous, whatever they are.
    let mut one = |v: Cow<'h, str>| match value.replace(v) {
        None => Ok(()),
        Some(_) => Err(Denial::AmbiguousToken),
    };
    match source {
        Source::Bearer => {
            let mut all = header_values(headers, "authorization");
            let first = all.next();
            if all.next().is_some() {
                return Err(Denial::AmbiguousToken);
            }
            if let Some(v) = first {
                let v = v.trim();
                // A token never contains a comma: this is two Authorization headers that the
                // proxy folded into one (Envoy joins repeated inline headers with `,`).
                if crate::bytes::contains_either(v.as_bytes(), b',', b',') {
                    return Err(Denial::AmbiguousToken);
                }
                let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
                if scheme.eq_ignore_ascii_case("bearer") {
                    one(Cow::Borrowed(rest.trim_start_matches(' ')))?;
                }
            }
        }
        Source::XAuthToken => {
            for v in header_values(headers, "x-auth-token") {
                one(Cow::Borrowed(v.trim()))?;
            }
        }
        Source::Header(name) => {
            for v in header_values(headers, name) {
                one(Cow::Borrowed(v.trim()))?;
            }
        }
        Source::Query(name) => {
            for p in target.query_params().filter(|p| p.name_is(name)) {
                one(p.value().ok_or(Denial::MalformedToken)?)?;
            }
        }
        Source::Cookie(name) => {
            for c in cookie_pairs(headers).filter(|c| c.name == name) {
                one(Cow::Borrowed(c.value))?;
            }
        }
    }
    Ok(value)
}

/// Finds the one token of a request. `max_bytes` bounds its size before anything decodes it.
pub fn find<'s, 'h>(
    sources: &'s [Source],
    headers: &'h [(&'h str, &'h str)],
    target: &Target<'h>,
    max_bytes: usize,
) -> Result<Option<Found<'s, 'h>>, Denial> {
    let mut found: Option<Found<'s, 'h>> = None;
    for source in sources {
        let Some(token) = read(source, headers, target)? else {
            continue;
        };
        if token.len() > max_bytes {
            return Err(Denial::TokenTooLarge);
        }
        // One pass: visible ASCII only, and the dots that make it JWT-shaped.
        let dots = crate::bytes::visible_ascii_dots(token.as_bytes())
            .filter(|_| !token.is_empty())
            .ok_or(Denial::MalformedToken)?;
        match &mut found {
            None => {
                found = Some(Found {
                    token,
                    jwt_shaped: dots == 2,
                    sources: vec![source],
                })
            }
            Some(f) if f.token == token => f.sources.push(source),
            Some(_) => return Err(Denial::AmbiguousToken),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_in(headers: &[(&str, &str)]) -> Result<Option<String>, Denial> {
        let target = Target::parse("/x").map_err(|_| Denial::Internal)?;
        let sources = [Source::Bearer];
        find(&sources, headers, &target, 8192).map(|f| f.map(|f| f.token.into_owned()))
    }

    #[test]
    fn two_authorization_headers_are_ambiguous_whether_or_not_the_proxy_folded_them() {
        let twice = [
            ("authorization", "Bearer a.b.c"),
            ("authorization", "Bearer a.b.c"),
        ];
        assert_eq!(find_in(&twice), Err(Denial::AmbiguousToken));
        // Envoy hands repeated inline headers over as one value joined with a comma.
        for folded in [
            "Bearer a.b.c,Bearer a.b.c",
            "Bearer a.b.c, Bearer x.y.z",
            "Bearer a,b",
        ] {
            assert_eq!(
                find_in(&[("authorization", folded)]),
                Err(Denial::AmbiguousToken),
                "{folded}"
            );
        }
        assert_eq!(
            find_in(&[("authorization", "Bearer a.b.c")]),
            Ok(Some("a.b.c".into()))
        );
    }
}
