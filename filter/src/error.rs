//! Typed errors: why a configuration is refused at load, and why a request is denied.
//!
//! Neither type ever carries a token or a secret, so their `Display` and `Debug` output is safe to
//! log at any level.

use std::fmt;

/// Why a configuration cannot be used. The plugin refuses to start on any of these.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The JSON does not parse or does not match the schema (unknown field, wrong type, ...).
    Syntax(String),
    /// A secret or static token is too short to be safe.
    WeakSecret { what: String, bytes: usize },
    /// A secret could not be decoded from its declared encoding.
    BadSecret { what: String, why: &'static str },
    /// A secret is to be read from an environment variable that the VM does not have.
    MissingEnv { what: String, var: String },
    /// Routes need credentials, but the configuration accepts none (no JWT key, no static token).
    NoCredentials,
    /// A route rule is malformed or contradicts another one.
    Route { index: usize, why: String },
    /// Any other value that is out of range or inconsistent.
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(msg) => write!(f, "configuration is not valid: {msg}"),
            Self::WeakSecret { what, bytes } => write!(
                f,
                "{what} is {bytes} bytes long; use at least 32 random bytes \
                 (`issuer secret` makes a key, `issuer static-token` a static token)"
            ),
            Self::BadSecret { what, why } => write!(f, "{what} cannot be decoded: {why}"),
            Self::MissingEnv { what, var } => write!(
                f,
                "{what} comes from the environment variable {var}, which the VM does not have; \
                 pass it with vm_config.environment_variables"
            ),
            Self::NoCredentials => write!(
                f,
                "no credentials are configured: add jwt keys or static_tokens, or make every route public"
            ),
            Self::Route { index, why } => write!(f, "routes[{index}]: {why}"),
            Self::Invalid(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why a request is refused. Each maps to one HTTP status and one stable `error` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Denial {
    /// The route needs a token and the request carries none.
    MissingToken,
    /// The request carries two different tokens, or one source twice.
    AmbiguousToken,
    /// The token exceeds the configured size bound and was not decoded.
    TokenTooLarge,
    /// The token is not a well-formed compact JWT or static token.
    MalformedToken,
    /// The JWT header names an algorithm the configuration does not accept (`none`, RS256, ...).
    AlgorithmNotAllowed,
    /// The JWT header has fields this gate does not understand (`crit`) or a `typ` other than JWT.
    UnsupportedHeader,
    /// The JWT's `kid` names no configured key.
    UnknownKey,
    /// The JWT signature does not verify with any configured key.
    BadSignature,
    /// A registered claim has the wrong type or is missing (`exp` is required).
    InvalidClaims,
    /// The JWT's `exp` is in the past (beyond the allowed clock skew).
    Expired,
    /// The JWT's `nbf` or `iat` is in the future (beyond the allowed clock skew).
    NotYetValid,
    /// The JWT lives longer than the configured maximum lifetime.
    LifetimeTooLong,
    /// A maximum lifetime is configured, and the JWT has neither `iat` nor `nbf` to measure it from.
    LifetimeUnknown,
    /// The JWT's `iss` is not an accepted issuer.
    IssuerNotAccepted,
    /// The JWT's `aud` names no accepted audience.
    AudienceNotAccepted,
    /// A required claim value (e.g. `room_join: true`) is missing or different.
    RequiredClaim,
    /// The static token matches no configured token.
    UnknownStaticToken,
    /// The JWT was revoked (its `jti`, or issued before its room's cut-off).
    TokenRevoked,
    /// The room was closed early (revoked); nobody enters it.
    RoomClosed,
    /// The token is valid but for another room.
    RoomMismatch,
    /// The token is valid but names no room, and the route needs one.
    RoomNotInToken,
    /// Domain verification: the token's `sub` is neither `*`, nor the URL's tenant, nor an
    /// accepted domain (Jitsi Meet).
    DomainMismatch,
    /// The route is admin-only and the credential is not an admin's.
    AdminRequired,
    /// The admin static token was sent to a route that is not an admin route: it opens admin
    /// routes only.
    AdminTokenOutsideAdmin,
    /// No rule allows this path (the configured default is `deny`), or the rule denies it.
    Forbidden,
    /// The route is retired (410 Gone).
    Gone,
    /// The path or query is malformed or ambiguous (dot-segments, `//`, encoded `/`, repeated room).
    BadRequest,
    /// The path matches a route only when letter case is ignored (`/API/rooms/…` for `/api/rooms/…`),
    /// and the configuration refuses such requests (`route_case: refuse`).
    CaseVariant,
    /// The gate could not decide (no usable configuration, a failing host call).
    Internal,
}

impl Denial {
    /// Every denial, for metrics defined up front.
    pub const ALL: [Denial; 29] = [
        Self::MissingToken,
        Self::AmbiguousToken,
        Self::TokenTooLarge,
        Self::MalformedToken,
        Self::AlgorithmNotAllowed,
        Self::UnsupportedHeader,
        Self::UnknownKey,
        Self::BadSignature,
        Self::InvalidClaims,
        Self::Expired,
        Self::NotYetValid,
        Self::LifetimeTooLong,
        Self::LifetimeUnknown,
        Self::IssuerNotAccepted,
        Self::AudienceNotAccepted,
        Self::RequiredClaim,
        Self::UnknownStaticToken,
        Self::TokenRevoked,
        Self::RoomClosed,
        Self::RoomMismatch,
        Self::RoomNotInToken,
        Self::DomainMismatch,
        Self::AdminRequired,
        Self::AdminTokenOutsideAdmin,
        Self::Forbidden,
        Self::Gone,
        Self::BadRequest,
        Self::CaseVariant,
        Self::Internal,
    ];

    /// The HTTP status of the local response.
    pub fn status(self) -> u16 {
        match self {
            Self::MissingToken
            | Self::AmbiguousToken
            | Self::TokenTooLarge
            | Self::MalformedToken
            | Self::AlgorithmNotAllowed
            | Self::UnsupportedHeader
            | Self::UnknownKey
            | Self::BadSignature
            | Self::InvalidClaims
            | Self::Expired
            | Self::NotYetValid
            | Self::LifetimeTooLong
            | Self::LifetimeUnknown
            | Self::IssuerNotAccepted
            | Self::AudienceNotAccepted
            | Self::RequiredClaim
            | Self::UnknownStaticToken
            | Self::TokenRevoked => 401,
            Self::RoomMismatch
            | Self::RoomNotInToken
            | Self::DomainMismatch
            | Self::AdminRequired
            | Self::AdminTokenOutsideAdmin
            | Self::Forbidden
            | Self::RoomClosed => 403,
            Self::Gone => 410,
            Self::BadRequest | Self::CaseVariant => 400,
            Self::Internal => 500,
        }
    }

    /// The stable machine-readable code sent as `error` in the JSON body.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::AmbiguousToken => "ambiguous_token",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::TokenTooLarge
            | Self::MalformedToken
            | Self::AlgorithmNotAllowed
            | Self::UnsupportedHeader
            | Self::UnknownKey
            | Self::BadSignature
            | Self::InvalidClaims
            | Self::LifetimeTooLong
            | Self::LifetimeUnknown
            | Self::IssuerNotAccepted
            | Self::AudienceNotAccepted
            | Self::RequiredClaim
            | Self::UnknownStaticToken => "invalid_token",
            Self::RoomMismatch | Self::RoomNotInToken | Self::DomainMismatch => "room_mismatch",
            Self::TokenRevoked => "token_revoked",
            Self::RoomClosed => "room_closed",
            Self::AdminRequired => "admin_required",
            Self::Forbidden | Self::AdminTokenOutsideAdmin => "forbidden",
            Self::Gone => "gone",
            Self::BadRequest | Self::CaseVariant => "bad_request",
            Self::Internal => "internal_error",
        }
    }

    /// A short reason for logs and metrics, finer than [`Denial::code`].
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::AmbiguousToken => "ambiguous_token",
            Self::TokenTooLarge => "token_too_large",
            Self::MalformedToken => "malformed_token",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::UnsupportedHeader => "unsupported_header",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::InvalidClaims => "invalid_claims",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::LifetimeTooLong => "lifetime_too_long",
            Self::LifetimeUnknown => "lifetime_unknown",
            Self::IssuerNotAccepted => "issuer_not_accepted",
            Self::AudienceNotAccepted => "audience_not_accepted",
            Self::RequiredClaim => "required_claim",
            Self::UnknownStaticToken => "unknown_static_token",
            Self::RoomMismatch => "room_mismatch",
            Self::RoomNotInToken => "room_not_in_token",
            Self::DomainMismatch => "domain_mismatch",
            Self::TokenRevoked => "token_revoked",
            Self::RoomClosed => "room_closed",
            Self::AdminRequired => "admin_required",
            Self::AdminTokenOutsideAdmin => "admin_token_outside_admin",
            Self::Forbidden => "forbidden",
            Self::Gone => "gone",
            Self::BadRequest => "bad_request",
            Self::CaseVariant => "path_case_variant",
            Self::Internal => "internal_error",
        }
    }

    /// The human message in the JSON body. Fixed text: never a token, claim or path.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingToken => "this route needs a room token",
            Self::AmbiguousToken => "the request carries more than one token; send exactly one",
            Self::TokenTooLarge => "the token is larger than this gate accepts",
            Self::MalformedToken => "the token is malformed",
            Self::AlgorithmNotAllowed => "the token's signing algorithm is not accepted",
            Self::UnsupportedHeader => "the token's header is not supported",
            Self::UnknownKey => "the token names an unknown key",
            Self::BadSignature => "the token's signature is not valid",
            Self::InvalidClaims => "the token's claims are missing or malformed",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::LifetimeTooLong => "the token's lifetime exceeds the accepted maximum",
            Self::LifetimeUnknown => {
                "the token carries neither iat nor nbf, so its lifetime cannot be checked"
            }
            Self::IssuerNotAccepted => "the token's issuer is not accepted",
            Self::AudienceNotAccepted => "the token's audience is not accepted",
            Self::RequiredClaim => "the token lacks a required claim value",
            Self::UnknownStaticToken => "the token is not valid",
            Self::RoomMismatch => "the token is not valid for this room",
            Self::RoomNotInToken => "the token does not name a room",
            Self::DomainMismatch => "the token is not valid for this domain or tenant",
            Self::TokenRevoked => "the token has been revoked",
            Self::RoomClosed => "this room has been closed",
            Self::AdminRequired => "this route needs an admin credential",
            Self::AdminTokenOutsideAdmin => "the admin token opens admin routes only",
            Self::Forbidden => "access to this path is not allowed",
            Self::Gone => "this endpoint is gone",
            Self::BadRequest => "the request is malformed or ambiguous",
            Self::CaseVariant => "the path differs from a configured route only in letter case",
            Self::Internal => "the gate could not check this request",
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Denial {}
