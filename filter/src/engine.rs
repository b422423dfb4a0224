//! The decision: one request head in, one [`Verdict`] out.
//!
//! [`Gate::decide`] is a pure function of the compiled configuration, the request's path and
//! headers, and the current time. It calls no host and allocates little; the proxy-wasm layer (and
//! every test host) only reads the request, calls it, and applies the verdict mechanically: send
//! `response` if there is one, otherwise apply `edits` in order and let the request continue.

use crate::config::{LogLevel, Mode, RawForward, RoomFrom, RouteCase};
use crate::error::Denial;
use crate::jwt::{ClaimPath, Policy, Verified};
use crate::path::{Case, PathMatch, Target};
use crate::sources::{self, same_header, spellings, Source};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// No token (health checks, static assets).
    Public,
    /// A token valid for the room the request is for.
    Room,
    /// Any valid token, whatever its room.
    Authenticated,
    /// The admin token, or a JWT with the admin role/flag.
    Admin,
    /// Retired: 410 Gone.
    Gone,
    /// Always 403.
    Deny,
}

impl RouteKind {
    /// Every kind, for metrics defined up front.
    pub const ALL: [RouteKind; 6] = [
        Self::Public,
        Self::Room,
        Self::Authenticated,
        Self::Admin,
        Self::Gone,
        Self::Deny,
    ];

    /// Short name for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Room => "room",
            Self::Authenticated => "authenticated",
            Self::Admin => "admin",
            Self::Gone => "gone",
            Self::Deny => "deny",
        }
    }
}

/// A compiled route rule.
#[derive(Debug, Clone)]
pub struct Route {
    pub(crate) path: PathMatch,
    pub(crate) kind: RouteKind,
    pub(crate) room_from: Option<RoomFrom>,
    pub(crate) room_param: String,
    pub(crate) require: Vec<(ClaimPath, Value)>,
    pub(crate) require_any: Vec<Vec<(ClaimPath, Value)>>,
    pub(crate) message: Option<String>,
    /// Seconds past `exp` a JWT still passes on this route.
    pub(crate) expired_grace: i64,
    /// A request without a token passes.
    pub(crate) token_optional: bool,
    /// The pattern variable holding the tenant, if the route has one.
    pub(crate) tenant_param: Option<String>,
    /// The rule as written, for logs (`pattern:/{room}`).
    pub label: String,
}

/// Static-token digests (SHA-256), never the tokens themselves.
#[derive(Debug, Clone, Default)]
pub struct StaticTokens {
    pub(crate) global: Option<[u8; 32]>,
    pub(crate) admin: Option<[u8; 32]>,
    pub(crate) rooms: HashMap<[u8; 32], String>,
}

impl StaticTokens {
    /// Whether no static token is configured.
    pub fn is_empty(&self) -> bool {
        self.global.is_none() && self.admin.is_none() && self.rooms.is_empty()
    }
}

/// Revoked rooms and tokens, room names folded as the gate compares them.
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    pub(crate) rooms: HashSet<String>,
    pub(crate) jtis: HashSet<String>,
    pub(crate) issued_before: HashMap<String, i64>,
}

impl Revocations {
    fn is_empty(&self) -> bool {
        self.rooms.is_empty() && self.jtis.is_empty() && self.issued_before.is_empty()
    }
}

/// Which claims carry the identity.
#[derive(Debug, Clone)]
pub struct Identities {
    pub(crate) room: ClaimPath,
    pub(crate) subject: Vec<ClaimPath>,
    pub(crate) name: Vec<ClaimPath>,
    pub(crate) moderator: Vec<ClaimPath>,
    pub(crate) observer: Vec<ClaimPath>,
    pub(crate) admin_when: Vec<(ClaimPath, Value)>,
    pub(crate) allow_unscoped: bool,
}

impl Default for Identities {
    fn default() -> Self {
        Self {
            room: ClaimPath::single("room"),
            subject: Vec::new(),
            name: Vec::new(),
            moderator: Vec::new(),
            observer: Vec::new(),
            admin_when: Vec::new(),
            allow_unscoped: false,
        }
    }
}

/// A compiled, ready-to-use configuration. Build it with [`Gate::from_json`].
#[derive(Debug, Clone)]
pub struct Gate {
    /// The local response of every denial with its standard message, in [`Denial::ALL`]'s order,
    /// built once (see [`canned_responses`]).
    pub(crate) canned: Vec<Response>,
    pub(crate) mode: Mode,
    pub(crate) routes: Vec<Route>,
    pub(crate) default: RouteKind,
    pub(crate) route_case: RouteCase,
    pub(crate) sources: Vec<Source>,
    pub(crate) jwt: Option<Policy>,
    pub(crate) statics: StaticTokens,
    pub(crate) identities: Identities,
    pub(crate) case_insensitive: bool,
    /// Rooms are named as Jitsi Meet's web app names the MUC ([`jitsi_room_name`]).
    pub(crate) jitsi_names: bool,
    /// Domain verification: the accepted `sub` domains (lower-case), if any.
    pub(crate) domains: Option<Vec<String>>,
    pub(crate) wildcard: bool,
    pub(crate) room_query: String,
    /// The characters a token's room claim may use (`rooms.allowed_characters`); `None`: any.
    pub(crate) room_chars: Option<[bool; 128]>,
    pub(crate) forward: RawForward,
    pub(crate) strip_token: bool,
    pub(crate) max_token_bytes: usize,
    pub(crate) log_denials: LogLevel,
    pub(crate) revoked: Revocations,
}

/// Headers borrowed as `(name, value)` text pairs.
fn pairs<N: AsRef<str>, V: AsRef<str>>(headers: &[(N, V)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_ref(), v.as_ref()))
        .collect()
}

/// A change to the request before it is forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit<'g> {
    /// Set (replace) a header; `:path` rewrites the request target.
    Set(Cow<'g, str>, Cow<'g, str>),
    /// Add a header the request does not carry at this point (every client-sent spelling of it
    /// was removed by an earlier edit, and no earlier edit set it): a host may append it without
    /// looking for a value to replace. Never empty.
    Add(Cow<'g, str>, Cow<'g, str>),
    /// Remove every value of a header.
    Remove(Cow<'g, str>),
}

/// A local response sent instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// `{"error": …, "message": …}`.
    pub body: String,
}

/// The outcome of [`Gate::decide`]. It borrows what it can from the gate (header names, canned
/// responses), so a decision copies little.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'g> {
    /// Why the request was (or, in report mode, would have been) denied.
    pub denial: Option<Denial>,
    /// Send this and stop; `None` means forward with `edits`.
    pub response: Option<Cow<'g, Response>>,
    /// Header changes to apply, in order, when forwarding.
    pub edits: Vec<Edit<'g>>,
    /// The kind of route that matched.
    pub kind: RouteKind,
    /// The index of the rule that matched; `None` for the default.
    pub route: Option<usize>,
    /// Where the token came from, if one was used.
    pub source: Option<&'static str>,
    /// The room the request was bound to, if any.
    pub room: Option<String>,
}

/// What a verified credential grants.
enum RoomGrant {
    /// Every room (global token, Jitsi `*`, unscoped JWT where allowed).
    Any,
    /// Exactly this room.
    One(String),
    /// No room (admin token, JWT without a room claim).
    Nothing,
}

struct Credential {
    room: RoomGrant,
    admin: bool,
    /// The verified JWT: the identity forwarded is read from its claims. `None`: a static token.
    jwt: Option<Verified>,
}

/// What the checks produced for an allowed request.
struct Grant<'g> {
    credential: Option<Credential>,
    room: Option<String>,
    strip: Vec<Edit<'g>>,
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The MUC name Jitsi Meet's web app builds from a room name (`getBackendSafeRoomName`): NFKC,
/// lower-cased, percent-encoded as `encodeURIComponent` does, lower-cased again. `room` is the
/// name once percent-decoded (as the gate reads paths and queries), so `/München`,
/// `/M%C3%BCNCHEN` and `?room=m%c3%bcnchen` all name `m%c3%bcnchen`.
pub fn jitsi_room_name(room: &str) -> String {
    jitsi_name(Cow::Borrowed(room)).into_owned()
}

/// [`jitsi_room_name`], keeping `room` when it is already such a name.
fn jitsi_name(room: Cow<'_, str>) -> Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization as _;
    // ASCII is its own NFKC form: only other text takes the normalisation tables.
    if room
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.!~*'()".contains(&b))
    {
        return room;
    }
    let normal: String = room.nfkc().collect::<String>().to_lowercase();
    let mut out = String::with_capacity(normal.len());
    for b in normal.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b.to_ascii_lowercase()));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    Cow::Owned(out)
}

/// Whether `room` is a name [`jitsi_room_name`] can produce: lower-case unreserved characters and
/// `%xx` escapes only.
fn is_jitsi_name(room: &str) -> bool {
    let b = room.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = |j: usize| {
                b.get(j)
                    .is_some_and(|h| h.is_ascii_digit() || (b'a'..=b'f').contains(h))
            };
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.!~*'()".contains(&c) {
            i += 1;
        } else {
            return false;
        }
    }
    !room.is_empty()
}

/// Makes a claim value safe as a header value that always reads back as exactly one value: bytes
/// outside printable ASCII and `%` are percent-encoded (CR/LF can never split a header, non-ASCII
/// names survive intact), and so are the characters header-list parsers split or unquote on
/// (`,` `;` `"` `\`) and a space at either end (which parsers trim), so `r1,r2` or `alice, admin`
/// arrive as one value.
pub fn header_safe(value: &str) -> String {
    let last = value.len().saturating_sub(1);
    let plain = |i: usize, b: u8| {
        (0x20..=0x7e).contains(&b)
            && !matches!(b, b'%' | b',' | b';' | b'"' | b'\\')
            && !(b == b' ' && (i == 0 || i == last))
    };
    if value.bytes().enumerate().all(|(i, b)| plain(i, b)) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for (i, b) in value.bytes().enumerate() {
        if plain(i, b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn first_string<'v>(jwt: &'v Verified, paths: &[ClaimPath]) -> Option<&'v str> {
    paths
        .iter()
        .find_map(|p| jwt.claim(p).and_then(Value::as_str))
}

fn flag(on: bool) -> Cow<'static, str> {
    Cow::Borrowed(if on { "true" } else { "false" })
}

/// Adds the gate's own header `name`: appended where nothing in the request can hold it any more
/// (client-sent spellings are removed first), replaced where an earlier edit set it (a token
/// source or `Referer` the configuration also names as an identity header). Empty values are not
/// forwarded.
fn add_header<'g>(edits: &mut Vec<Edit<'g>>, name: &'g str, value: Cow<'g, str>) {
    if value.is_empty() {
        return;
    }
    let set_before = edits
        .iter()
        .any(|e| matches!(e, Edit::Set(n, _) if n == name));
    let name = Cow::Borrowed(name);
    edits.push(if set_before {
        Edit::Set(name, value)
    } else {
        Edit::Add(name, value)
    });
}

fn first_flag(jwt: &Verified, paths: &[ClaimPath]) -> Option<bool> {
    paths.iter().find_map(|p| match jwt.claim(p)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

impl Gate {
    /// The mode the gate runs in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The level at which denials are logged.
    pub fn log_denials(&self) -> LogLevel {
        self.log_denials
    }

    /// The rule at `index`, as written (`pattern:/{room}`), for logs.
    pub fn route_label(&self, index: Option<usize>) -> &str {
        index
            .and_then(|i| self.routes.get(i))
            .map_or("default", |r| r.label.as_str())
    }

    /// A verdict that forwards nothing of the client's identity headers, nor a token in its
    /// `Referer`, before any check.
    fn blank_verdict(&self, headers: &[(&str, &str)]) -> Verdict<'_> {
        let mut edits = Vec::with_capacity(8);
        self.remove_spoofed(headers, &mut edits);
        if self.strip_token {
            self.clean_referer(headers, &mut edits);
        }
        Verdict {
            denial: None,
            response: None,
            edits,
            kind: self.default,
            route: None,
            source: None,
            room: None,
        }
    }

    /// Decides one request. `path` is the request target (`:path`), `headers` the request headers
    /// (names lower-case, repeated names repeated), `now` the time in Unix seconds.
    pub fn decide<N: AsRef<str>, V: AsRef<str>>(
        &self,
        path: &str,
        headers: &[(N, V)],
        now: i64,
    ) -> Verdict<'_> {
        self.decide_pairs(path, &pairs(headers), now)
    }

    /// [`Gate::decide`] on headers already borrowed as text (what the hosts hand over).
    pub fn decide_pairs(&self, path: &str, headers: &[(&str, &str)], now: i64) -> Verdict<'_> {
        let mut verdict = self.blank_verdict(headers);
        match self.check(path, headers, now, &mut verdict) {
            Ok(grant) => {
                verdict.edits.extend(grant.strip);
                if let Some(cred) = &grant.credential {
                    self.forward_identity(cred, grant.room.as_deref(), &mut verdict.edits);
                }
                verdict.room = grant.room;
                if self.mode == Mode::Report {
                    add_header(
                        &mut verdict.edits,
                        &self.forward.report,
                        Cow::Borrowed("allow"),
                    );
                }
            }
            Err(denial) => self.deny(&mut verdict, denial),
        }
        verdict
    }

    /// The verdict for a request the host could not hand over as text (a header value that is not
    /// UTF-8): refused with `denial` without reading it further. As in [`Gate::decide`], client-sent
    /// identity headers are removed and report mode only marks the request.
    pub fn refuse<N: AsRef<str>, V: AsRef<str>>(
        &self,
        denial: Denial,
        headers: &[(N, V)],
    ) -> Verdict<'_> {
        let mut verdict = self.blank_verdict(&pairs(headers));
        self.deny(&mut verdict, denial);
        verdict
    }

    fn deny<'g>(&'g self, verdict: &mut Verdict<'g>, denial: Denial) {
        verdict.denial = Some(denial);
        match self.mode {
            Mode::Enforce => verdict.response = Some(self.respond(denial, verdict.route)),
            Mode::Report => add_header(
                &mut verdict.edits,
                &self.forward.report,
                Cow::Owned(format!(
                    "deny; status={}; reason={}",
                    denial.status(),
                    denial.reason()
                )),
            ),
        }
    }

    /// The local response for a denial (also used by the host glue for internal errors).
    pub fn respond(&self, denial: Denial, route: Option<usize>) -> Cow<'_, Response> {
        let custom = route
            .and_then(|i| self.routes.get(i))
            .and_then(|r| r.message.as_deref())
            .filter(|_| matches!(denial, Denial::Gone | Denial::Forbidden));
        if let Some(message) = custom {
            return Cow::Owned(response_for(denial, message));
        }
        Denial::ALL
            .iter()
            .position(|d| *d == denial)
            .and_then(|i| self.canned.get(i))
            .map_or_else(
                || Cow::Owned(response_for(denial, denial.message())),
                Cow::Borrowed,
            )
    }

    fn identity_headers(&self) -> [&str; 8] {
        let f = &self.forward;
        [
            &f.room,
            &f.subject,
            &f.name,
            &f.moderator,
            &f.admin,
            &f.auth,
            &f.report,
            &f.observer,
        ]
    }

    /// Removes every client-sent identity header under every spelling an upstream reads as it
    /// (`X-Roomgate-Admin`, `x_roomgate_admin`: see [`same_header`]).
    fn remove_spoofed(&self, headers: &[(&str, &str)], edits: &mut Vec<Edit<'_>>) {
        let ids = self.identity_headers();
        for (sent, _) in headers {
            if ids.iter().any(|id| same_header(sent, id))
                && !edits
                    .iter()
                    .any(|e| matches!(e, Edit::Remove(n) if n == sent))
            {
                edits.push(Edit::Remove(Cow::Owned((*sent).to_owned())));
            }
        }
    }

    /// A page opened with `?jwt=T` makes the browser send `Referer: …?jwt=T` with every request
    /// that page makes, public assets included: the token's query parameters are taken out of the
    /// `Referer` too (split on `&` and `;`, as some servers split). Several `Referer` headers holding
    /// a token are all removed.
    fn clean_referer(&self, headers: &[(&str, &str)], edits: &mut Vec<Edit<'_>>) {
        let params: Vec<&str> = self
            .sources
            .iter()
            .filter_map(|s| match s {
                Source::Query(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        if params.is_empty() {
            return;
        }
        let mut cleaned: Vec<String> = Vec::new();
        let mut changed = false;
        for (_, value) in headers.iter().filter(|(n, _)| same_header(n, "referer")) {
            let clean = crate::path::url_without_params(value, &params);
            changed |= clean != *value;
            cleaned.push(clean);
        }
        if !changed {
            return;
        }
        for name in spellings(headers, "referer") {
            edits.push(Edit::Remove(Cow::Owned(name.to_owned())));
        }
        if let [one] = cleaned.as_slice() {
            edits.push(Edit::Set("referer".into(), Cow::Owned(one.clone())));
        }
    }

    /// The identity headers of an allowed request. A claim whose value is empty forwards no
    /// header (a header cannot carry an empty value through every proxy alike).
    fn forward_identity<'g>(
        &'g self,
        cred: &Credential,
        room: Option<&str>,
        edits: &mut Vec<Edit<'g>>,
    ) {
        let f = &self.forward;
        if let Some(room) = room {
            // A Jitsi MUC name is already one safe value (unreserved characters and `%xx`).
            let value = if self.jitsi_names && is_jitsi_name(room) {
                room.to_owned()
            } else {
                header_safe(room)
            };
            add_header(edits, &f.room, Cow::Owned(value));
        }
        if let Some(jwt) = &cred.jwt {
            let ids = &self.identities;
            if let Some(sub) = first_string(jwt, &ids.subject) {
                add_header(edits, &f.subject, Cow::Owned(header_safe(sub)));
            }
            if let Some(name) = first_string(jwt, &ids.name) {
                add_header(edits, &f.name, Cow::Owned(header_safe(name)));
            }
            if let Some(m) = first_flag(jwt, &ids.moderator) {
                add_header(edits, &f.moderator, flag(m));
            }
            if let Some(o) = first_flag(jwt, &ids.observer) {
                add_header(edits, &f.observer, flag(o));
            }
        }
        add_header(edits, &f.admin, flag(cred.admin));
        let how = if cred.jwt.is_some() { "jwt" } else { "static" };
        add_header(edits, &f.auth, Cow::Borrowed(how));
    }

    /// A room name as the request gives it, as the gate compares it (Jitsi Meet's MUC name where
    /// the configuration says so).
    fn room_name<'r>(&self, room: Cow<'r, str>) -> Cow<'r, str> {
        if self.jitsi_names {
            jitsi_name(room)
        } else {
            room
        }
    }

    fn same_room(&self, a: &str, b: &str) -> bool {
        if self.case_insensitive {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    fn check<'g>(
        &'g self,
        path: &str,
        headers: &[(&str, &str)],
        now: i64,
        v: &mut Verdict<'g>,
    ) -> Result<Grant<'g>, Denial> {
        let target = Target::parse(path)?;
        let mut captured = None;
        for (i, route) in self.routes.iter().enumerate() {
            let var =
                (route.room_from == Some(RoomFrom::Path)).then_some(route.room_param.as_str());
            // A rule whose literals match only when case is ignored is never skipped for a looser
            // one: a case-insensitive upstream would route the request to that rule's handler.
            // Matching exactly implies matching with case ignored: most rules fail the looser
            // test and are skipped after one comparison.
            let Some(loose) = route.path.matches_with(&target, var, Case::Ignored) else {
                continue;
            };
            let (room, variant) = match route.path.matches_with(&target, var, Case::Exact) {
                Some(room) => (room, false),
                None => (loose, true),
            };
            v.route = Some(i);
            v.kind = route.kind;
            if variant && self.route_case == RouteCase::Refuse {
                return Err(Denial::CaseVariant);
            }
            captured = room;
            break;
        }
        let route = v.route.and_then(|i| self.routes.get(i));
        let tenant = route.and_then(|r| {
            let name = r.tenant_param.as_deref()?;
            r.path
                .matches_with(&target, Some(name), Case::Ignored)
                .flatten()
        });
        match v.kind {
            RouteKind::Public => {
                return Ok(Grant {
                    credential: None,
                    room: None,
                    strip: Vec::new(),
                })
            }
            RouteKind::Gone => return Err(Denial::Gone),
            RouteKind::Deny => return Err(Denial::Forbidden),
            RouteKind::Room | RouteKind::Authenticated | RouteKind::Admin => {}
        }

        // Some servers split the query on `;` as well as `&` (`?room=a&x=;room=b`): on a route that
        // reads the query for a room or a token, its meaning would depend on the server.
        if target.query_semicolon {
            return Err(Denial::BadRequest);
        }
        // The room the request names, read before the token so a malformed request is a 400
        // whatever its credentials.
        let room_from = route.and_then(|r| r.room_from);
        let mut query_room: Option<Cow<'_, str>> = None;
        if v.kind == RouteKind::Room {
            for p in target
                .query_params()
                .filter(|p| p.name_is(&self.room_query))
            {
                if query_room.is_some() {
                    return Err(Denial::BadRequest);
                }
                query_room = Some(p.value().ok_or(Denial::BadRequest)?);
            }
        }
        let query_room = query_room.map(|r| self.room_name(r));
        let captured = captured.map(|r| self.room_name(Cow::Borrowed(r)));
        let requested = match room_from {
            Some(RoomFrom::Path) => Some(captured.ok_or(Denial::BadRequest)?),
            Some(RoomFrom::Query) => Some(
                query_room
                    .clone()
                    .filter(|r| !r.is_empty())
                    .ok_or(Denial::BadRequest)?,
            ),
            Some(RoomFrom::Token) | None => None,
        };
        v.room = requested
            .as_deref()
            .or(query_room.as_deref())
            .map(str::to_owned);
        if let (Some(req), Some(q)) = (&requested, &query_room) {
            if !self.same_room(req, q) {
                return Err(Denial::BadRequest);
            }
        }

        let Some(found) = sources::find(&self.sources, headers, &target, self.max_token_bytes)?
        else {
            if route.is_some_and(|r| r.token_optional) {
                return Ok(Grant {
                    credential: None,
                    room: None,
                    strip: Vec::new(),
                });
            }
            return Err(Denial::MissingToken);
        };
        v.source = found.sources.first().map(|s| s.label());
        let grace = route.map_or(0, |r| r.expired_grace);
        let cred = self.authenticate(&found.token, found.jwt_shaped, now, grace)?;
        // A credential for one room carries that room's revocations to every route it is used
        // on (admin and authenticated routes too), not only to the room's own pages.
        if let RoomGrant::One(granted) = &cred.room {
            if v.room.is_none() {
                v.room = Some(granted.clone());
            }
            self.check_revoked(granted, &cred)?;
        }
        if let (Some(domains), Some(jwt)) = (&self.domains, &cred.jwt) {
            self.verify_domain(domains, jwt, tenant)?;
        }
        // The admin static token opens admin routes only; it is nobody's identity elsewhere.
        let admin_token = cred.admin && cred.jwt.is_none();
        if admin_token && v.kind != RouteKind::Admin {
            return Err(Denial::AdminTokenOutsideAdmin);
        }

        if let Some(r) = route.filter(|r| !r.require.is_empty() || !r.require_any.is_empty()) {
            if !cred
                .jwt
                .as_ref()
                .is_some_and(|j| j.has_all(&r.require) && j.has_any(&r.require_any))
            {
                return Err(Denial::RequiredClaim);
            }
        }
        let room = match v.kind {
            RouteKind::Admin => {
                if !cred.admin {
                    return Err(Denial::AdminRequired);
                }
                None
            }
            RouteKind::Room => {
                let bound = match (requested, &cred.room) {
                    (Some(req), RoomGrant::Any) => req.into_owned(),
                    (Some(req), RoomGrant::One(granted)) if self.same_room(&req, granted) => {
                        req.into_owned()
                    }
                    (Some(_), RoomGrant::One(_)) => return Err(Denial::RoomMismatch),
                    (None, RoomGrant::One(granted)) => granted.clone(),
                    (_, RoomGrant::Any | RoomGrant::Nothing) => return Err(Denial::RoomNotInToken),
                };
                if let Some(q) = &query_room {
                    if !self.same_room(&bound, q) {
                        return Err(Denial::RoomMismatch);
                    }
                }
                self.check_revoked(&bound, &cred)?;
                Some(bound)
            }
            _ => match &cred.room {
                RoomGrant::One(r) => Some(r.clone()),
                _ => None,
            },
        };

        let strip = if self.strip_token {
            self.strip(&found.sources, headers, &target)
        } else {
            Vec::new()
        };
        Ok(Grant {
            credential: Some(cred),
            room,
            strip,
        })
    }

    /// Jitsi Meet's domain verification: `sub` is `*`, or the tenant of the URL where there is
    /// one, or else one of the accepted domains (ASCII case ignored, as Prosody lower-cases it).
    fn verify_domain(
        &self,
        domains: &[String],
        jwt: &Verified,
        tenant: Option<&str>,
    ) -> Result<(), Denial> {
        let Some(Value::String(sub)) = jwt.claim(&ClaimPath::single("sub")) else {
            return Err(Denial::InvalidClaims);
        };
        let accepted = sub == "*"
            || match tenant {
                Some(t) => sub.eq_ignore_ascii_case(t),
                None => domains
                    .iter()
                    .any(|d| d == "*" || sub.eq_ignore_ascii_case(d)),
            };
        if accepted {
            Ok(())
        } else {
            Err(Denial::DomainMismatch)
        }
    }

    /// Closed rooms refuse everyone; a room's cut-off refuses JWTs issued before it.
    fn check_revoked(&self, room: &str, cred: &Credential) -> Result<(), Denial> {
        if self.revoked.is_empty() {
            return Ok(());
        }
        let folded = if self.case_insensitive {
            room.to_ascii_lowercase()
        } else {
            room.to_owned()
        };
        if self.revoked.rooms.contains(&folded) {
            return Err(Denial::RoomClosed);
        }
        if let (Some(cutoff), Some(jwt)) = (self.revoked.issued_before.get(&folded), &cred.jwt) {
            let issued = ["iat", "nbf"]
                .iter()
                .find_map(|c| jwt.claim(&ClaimPath::single(c)).and_then(Value::as_i64));
            if issued.is_none_or(|t| t < *cutoff) {
                return Err(Denial::TokenRevoked);
            }
        }
        Ok(())
    }

    fn authenticate(
        &self,
        token: &str,
        jwt_shaped: bool,
        now: i64,
        grace: i64,
    ) -> Result<Credential, Denial> {
        match &self.jwt {
            Some(policy) if jwt_shaped || self.statics.is_empty() => {
                let jwt = policy.verify_with_grace(token, now, grace)?;
                self.jwt_credential(jwt)
            }
            _ => self.static_credential(token),
        }
    }

    fn room_name_allowed(&self, room: &str) -> bool {
        self.room_chars.as_ref().is_none_or(|set| {
            room.bytes()
                .all(|b| set.get(usize::from(b)).copied().unwrap_or(false))
        })
    }

    fn static_credential(&self, token: &str) -> Result<Credential, Denial> {
        let digest = crate::config::token_digest(token);
        let (room, admin) = if self
            .statics
            .admin
            .as_ref()
            .is_some_and(|a| ct_eq(a, &digest))
        {
            (RoomGrant::Nothing, true)
        } else if let Some(room) = self.statics.rooms.get(&digest) {
            (RoomGrant::One(room.clone()), false)
        } else if self
            .statics
            .global
            .as_ref()
            .is_some_and(|g| ct_eq(g, &digest))
        {
            (RoomGrant::Any, false)
        } else {
            return Err(Denial::UnknownStaticToken);
        };
        Ok(Credential {
            room,
            admin,
            jwt: None,
        })
    }

    fn jwt_credential(&self, jwt: Verified) -> Result<Credential, Denial> {
        if !self.revoked.jtis.is_empty() {
            if let Some(Value::String(jti)) = jwt.claim(&ClaimPath::single("jti")) {
                if self.revoked.jtis.contains(jti) {
                    return Err(Denial::TokenRevoked);
                }
            }
        }
        let ids = &self.identities;
        let room = match jwt.claim(&ids.room) {
            None if ids.allow_unscoped => RoomGrant::Any,
            None => RoomGrant::Nothing,
            Some(Value::String(r)) if r == "*" && self.wildcard => RoomGrant::Any,
            Some(Value::String(r)) if !r.is_empty() && self.room_name_allowed(r) => {
                RoomGrant::One(r.clone())
            }
            Some(_) => return Err(Denial::InvalidClaims),
        };
        let admin = ids
            .admin_when
            .iter()
            .any(|(p, want)| jwt.claim(p) == Some(want));
        Ok(Credential {
            room,
            admin,
            jwt: Some(jwt),
        })
    }

    fn strip<'g>(
        &'g self,
        found: &[&'g Source],
        headers: &[(&str, &str)],
        target: &Target<'_>,
    ) -> Vec<Edit<'g>> {
        let mut edits = Vec::new();
        let mut params: Vec<&str> = Vec::new();
        let remove = |edits: &mut Vec<Edit<'g>>, name: &'g str| {
            for sent in spellings(headers, name) {
                // The usual spelling (what Envoy and nginx hand over) needs no copy.
                let sent = if sent == name {
                    Cow::Borrowed(name)
                } else {
                    Cow::Owned(sent.to_owned())
                };
                edits.push(Edit::Remove(sent));
            }
        };
        for source in found {
            match source {
                Source::Bearer => remove(&mut edits, "authorization"),
                Source::XAuthToken => remove(&mut edits, "x-auth-token"),
                Source::Header(h) => remove(&mut edits, h),
                Source::Query(name) => params.push(name),
                Source::Cookie(name) => {
                    let kept: Vec<&str> = sources::cookie_pairs(headers)
                        .filter(|c| c.name != name)
                        .map(|c| c.raw)
                        .collect();
                    remove(&mut edits, "cookie");
                    if !kept.is_empty() {
                        edits.push(Edit::Set("cookie".into(), Cow::Owned(kept.join("; "))));
                    }
                }
            }
        }
        if !params.is_empty() {
            edits.push(Edit::Set(
                ":path".into(),
                Cow::Owned(target.without_params(&params)),
            ));
        }
        edits
    }
}

/// Every denial's response with its standard message, in [`Denial::ALL`]'s order.
pub(crate) fn canned_responses() -> Vec<Response> {
    Denial::ALL
        .iter()
        .map(|d| response_for(*d, d.message()))
        .collect()
}

/// Builds the JSON local response for a denial.
pub fn response_for(denial: Denial, message: &str) -> Response {
    let body = serde_json::json!({ "error": denial.code(), "message": message }).to_string();
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("cache-control".to_owned(), "no-store".to_owned()),
    ];
    if denial.status() == 401 {
        headers.push((
            "www-authenticate".to_owned(),
            format!(
                "Bearer realm=\"roomgate\", error=\"invalid_token\", error_description=\"{}\"",
                denial.message()
            ),
        ));
    }
    Response {
        status: denial.status(),
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;

    fn gate(mode: &str) -> Gate {
        let config = format!(
            r#"{{"mode":"{mode}","jwt":{{"keys":[{{"secret":"0123456789abcdef0123456789abcdef"}}]}},
                "routes":[{{"match":{{"pattern":"/{{room}}"}},"kind":"room"}}]}}"#
        );
        Gate::from_json(config.as_bytes(), &|_| None).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn a_refused_request_is_answered_400_and_loses_spoofed_identity_headers() {
        let headers = vec![("x-roomgate-admin".to_owned(), "true".to_owned())];
        let g = gate("enforce");
        let v = g.refuse(Denial::BadRequest, &headers);
        assert_eq!(v.denial, Some(Denial::BadRequest));
        assert_eq!(v.response.as_ref().map(|r| r.status), Some(400));
        assert!(v.edits.contains(&Edit::Remove("x-roomgate-admin".into())));

        let g = gate("report");
        assert_eq!(g.mode(), Mode::Report);
        let v = g.refuse(Denial::BadRequest, &headers);
        assert!(v.response.is_none());
        assert!(v.edits.contains(&Edit::Remove("x-roomgate-admin".into())));
        assert!(v.edits.contains(&Edit::Add(
            "x-roomgate-report".into(),
            "deny; status=400; reason=bad_request".into()
        )));
    }
}
