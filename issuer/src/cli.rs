//! The command line: one `Args` struct per subcommand, a help line on every flag, and value
//! parsers whose errors say what to type instead.
//!
//! Parsing is kept apart from running (see [`crate::run`]) so tests can check what a command line
//! means with `Cli::try_parse_from` without touching secrets, clocks or stdout.

use crate::profile::Profile;
use crate::room_id::Variant;
use crate::secret::{parse_secret_source, SecretEncoding, SecretSource};
use crate::time;
use clap::{ArgGroup, Args, Parser, Subcommand};
use serde_json::Value;
use std::path::PathBuf;

/// Exit status: success (token minted, verify accepted).
pub const EXIT_OK: u8 = 0;
/// Exit status: `verify` says the filter would reject the token; `inspect` cannot decode it.
pub const EXIT_REJECTED: u8 = 1;
/// Exit status: bad usage or input (unknown flag, bad value, missing or weak secret, bad config).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: a file, standard input or standard output could not be read or written.
pub const EXIT_IO: u8 = 3;

const TOP_HELP: &str = "\
Examples:
  export JWT_APP_SECRET=\"$(issuer secret)\"
  issuer mint jitsi standup --iss meet.example.com --url https://meet.example.com
  issuer mint videocall standup-2024 --email alice@example.com --host
  issuer mint generic --room-id strong --sub user123 --json
  issuer verify \"$TOKEN\" --profile jitsi --room standup --iss meet.example.com
  issuer config jitsi --iss meet.example.com --envoy
  issuer mint jitsi standup --iss meet.example.com --ledger rooms.jsonl
  issuer rooms --ledger rooms.jsonl
  issuer revoke --config deploy/envoy-ecds/roomgate.yaml --room standup --ledger rooms.jsonl

Environment:
  JWT_APP_SECRET          the HS256 secret (or --secret @PATH, --secret -, --secret-file PATH;
                          --secret-env NAME reads another variable)
  JWT_ACCEPTED_ISSUERS    accepted issuers, comma-separated; mint uses the first as iss
  JWT_ACCEPTED_AUDIENCES  accepted audiences, comma-separated; mint uses the first as aud
  ROOMGATE_LEDGER         the ledger file of mint, rooms and revoke (same as --ledger FILE)

Exit status:
  0  success; verify: the filter accepts the token
  1  verify: the filter rejects the token; inspect: the token cannot be decoded
  2  usage or input error (bad flag or value, missing or weak secret, invalid config)
  3  a file, standard input or standard output could not be read or written

Only the product (token, link, JSON, config) goes to stdout; notes and errors go to stderr.";

/// Mints room tokens and join links on roomgate's own engine, and checks them as the filter would.
#[derive(Debug, Parser)]
#[command(
    name = "issuer",
    version,
    about = "Mint roomgate room tokens and join links; check them with the filter's own engine",
    after_help = TOP_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub cmd: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mint a room token (or join link) for a Jitsi, videocall.rs or generic room
    #[command(after_help = MINT_HELP)]
    Mint(MintArgs),
    /// Generate room IDs: simple (1234-5678) or strong (8f4b9-985c6)
    #[command(after_help = ROOM_ID_HELP)]
    RoomId(RoomIdArgs),
    /// Generate a strong random HS256 secret
    #[command(after_help = SECRET_HELP)]
    Secret(SecretGenArgs),
    /// Generate a static token (as in the multi-layer token scheme) and the SHA-256 digest the filter config can hold instead
    #[command(after_help = STATIC_HELP)]
    StaticToken(StaticTokenArgs),
    /// Decode a token: header, claims and times (the signature is not checked)
    #[command(after_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Say whether the filter would accept a token, and exactly why not (exit 1 when rejected)
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Print the filter's JSON configuration for a profile, or a platform's manifest carrying it
    #[command(after_help = CONFIG_HELP)]
    Config(ConfigArgs),
    /// Close a room, revoke a token, or cut off a room's older tokens, in the filter's config file
    #[command(after_help = REVOKE_HELP)]
    Revoke(RevokeArgs),
    /// List the active rooms recorded in a ledger (the room-whitelist service's room list)
    #[command(after_help = ROOMS_HELP)]
    Rooms(RoomsArgs),
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

const MINT_HELP: &str = "\
Examples:
  # Jitsi Meet: one short-lived link for everyone, moderators by default
  JWT_APP_SECRET=... issuer mint jitsi standup --iss meet.example.com --url https://meet.example.com
  # videocall.rs: the media server's /lobby?token= link
  issuer mint videocall standup-2024 --email alice@example.com --name Alice --host --url wss://media.example.com:8080
  # generic (the multi-layer token scheme), a generated strong room, the room-whitelist service's JSON answer
  issuer mint generic --room-id strong --sub user123 --role admin --admin --lifetime 2h --json
  # extra claims and a key ID, the secret from a file
  issuer mint jitsi standup --claim 'context={\"features\":{\"recording\":true}}' --kid 2025-10 --secret @/run/secrets/jwt

  # keep a ledger of what was minted (for `issuer rooms` and revoking single tokens)
  issuer mint jitsi standup --iss meet.example.com --ledger /var/lib/roomgate/ledger.jsonl

Without ROOM a room ID is generated (simple unless --room-id strong) and printed on stderr.
The token alone is printed by default, with one trailing newline.
With --ledger (or ROOMGATE_LEDGER) one JSON line is appended per token: room_id, created,
expires, not_before, issued, profile, jti, sub; never the token or the secret. A random jti is
added unless --jti is given, so the token can be revoked alone.";

const ROOM_ID_HELP: &str = "\
Examples:
  issuer room-id                        # 4821-0937
  issuer room-id simple --sections 3    # 4821-0937-5512
  issuer room-id strong                 # 8f4b9-985c6
  issuer room-id strong --sections 4 --symbols 8 --count 3";

const SECRET_HELP: &str = "\
Examples:
  issuer secret > jwt.secret                      # 32 random bytes, base64 (44 characters)
  export JWT_APP_SECRET=\"$(issuer secret)\"
  issuer secret --hex --bytes 64

Used as text (the filter's default encoding utf8, as Jitsi does), the printed string is the key.
To use the decoded bytes instead, set the filter key's encoding and pass --secret-encoding to mint.";

const STATIC_HELP: &str = "\
Examples:
  issuer static-token --room room1      # token on stdout; digest and config snippet on stderr
  issuer static-token --global --json
  issuer static-token --admin
  issuer static-token --room room1 --from @existing-token.txt   # digest of a token you already have

Put the digest in the filter config ({\"sha256\": \"…\"}) so the config holds no usable secret.";

const INSPECT_HELP: &str = "\
Examples:
  issuer inspect \"$TOKEN\"
  issuer mint jitsi standup --iss meet | issuer inspect -
  issuer inspect --json \"$TOKEN\" | jq .claims.room";

const VERIFY_HELP: &str = "\
Examples:
  issuer verify \"$TOKEN\" --profile jitsi --room standup --iss meet.example.com --aud jitsi
  issuer verify \"$TOKEN\" --profile videocall --room standup-2024 --secret-env JWT_SECRET
  issuer verify \"$TOKEN\" --at 2025-10-16T20:30:00Z              # token checks only, at that time
  issuer verify \"$TOKEN\" --config roomgate.json --path /standup  # against a real filter config

The answer is the filter's: the settings become a filter configuration (see `issuer config`) and
a request carrying the token goes through the filter's Gate::decide. Without --profile only the
token itself is checked (signature, times, issuer, audience). Exit 0: accepted, 1: rejected.";

const CONFIG_HELP: &str = "\
Examples:
  issuer config jitsi --iss meet.example.com --aud jitsi > roomgate.json
  issuer config videocall --secret-env JWT_SECRET --envoy
  issuer config generic --aud rooms-api --report
  issuer config jitsi --iss meet.example.com --aud jitsi --istio --image registry.example.com/roomgate@sha256:<digest>
  issuer config jitsi --policy-env --docker-jitsi-meet > envoy.yaml

The secret is never written: the config names the variable (--secret-env) the proxy passes to the
filter through vm_config.environment_variables.";

const REVOKE_HELP: &str = "\
Examples:
  issuer revoke --config deploy/envoy-ecds/roomgate.yaml --room standup            # close the room
  issuer revoke --config roomgate.json --room standup --issued-before             # old links stop, new ones work
  issuer revoke --config roomgate.json --token \"$TOKEN\"                           # one token, by its jti
  issuer revoke --config roomgate.json --jti 3f2a9c0e --undo
  issuer revoke --config envoy.yaml --room standup --dry-run
  issuer revoke --config deploy/envoy-ecds/roomgate.yaml --room standup --ledger ledger.jsonl

The file may be the filter's JSON configuration, an ECDS DiscoveryResponse (YAML or JSON), or YAML
with one `value: |` block holding the configuration (envoy.yaml). In YAML only that block changes;
a JSON file is re-printed in schema order. The edited configuration is checked by the filter's
engine, then the file is replaced by rename, so an Envoy watching it (ECDS) applies the change
without a restart. --issued-before now also covers a token minted in the current second.
With --ledger (or ROOMGATE_LEDGER) the change is also appended to the ledger, so `issuer rooms`
stops listing what was revoked (and lists it again after --undo).";

const ROOMS_HELP: &str = "\
Examples:
  issuer rooms --ledger ledger.jsonl            # ROOM  CREATED  EXPIRES  TOKENS
  issuer rooms --ledger ledger.jsonl --json     # {\"active_rooms\": 1, \"rooms\": [{\"room_id\": …}]}
  ROOMGATE_LEDGER=ledger.jsonl issuer rooms --all   # every room, with its status

A room is active while at least one of its tokens is unexpired and not revoked, and the room is
not closed, as recorded by `issuer mint --ledger` and `issuer revoke --ledger`. created is the
earliest mint and expires the latest expiry among the tokens counted (the active ones; all of
them with --all, which adds the active count and a status: active, closed, revoked, expired).";

const COMPLETIONS_HELP: &str = "\
Examples:
  issuer completions bash > /etc/bash_completion.d/issuer
  issuer completions zsh > \"${fpath[1]}/_issuer\"
  issuer completions fish > ~/.config/fish/completions/issuer.fish";

/// Where the secret is read from.
#[derive(Debug, Args)]
#[command(next_help_heading = "Secret")]
pub struct SecretArgs {
    /// Read the secret from a file (@PATH) or standard input (-); never the secret itself
    #[arg(long, value_name = "@PATH|-", value_parser = parse_secret_source)]
    pub secret: Option<SecretSource>,
    /// Read the secret from this file (same as --secret @PATH)
    #[arg(long, value_name = "PATH", conflicts_with = "secret")]
    pub secret_file: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// How the filter finds and decodes its key.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Environment variable holding the secret (read when no --secret/--secret-file is given; named in the filter config) [default: videocall: JWT_SECRET, as the meeting backend and media server name it; otherwise JWT_APP_SECRET]
    #[arg(long, value_name = "NAME", value_parser = parse_env_name)]
    pub secret_env: Option<String>,
    /// How the secret text is written; must match the filter key's `encoding`
    #[arg(long, value_enum, value_name = "ENCODING", default_value_t = SecretEncoding::Utf8)]
    pub secret_encoding: SecretEncoding,
}

impl KeyArgs {
    /// The variable holding the secret for `profile`: --secret-env, else the profile's own name.
    pub fn env_name(&self, profile: Option<crate::profile::Profile>) -> String {
        self.secret_env.clone().unwrap_or_else(|| {
            match profile {
                Some(crate::profile::Profile::Videocall) => "JWT_SECRET",
                _ => "JWT_APP_SECRET",
            }
            .to_owned()
        })
    }
}

/// `issuer mint`.
#[derive(Debug, Args)]
pub struct MintArgs {
    /// Token profile: whose claims and link the token follows
    #[arg(value_enum)]
    pub profile: Profile,
    /// The room the token opens; omit it to generate a room ID (see --room-id)
    #[arg(value_name = "ROOM")]
    pub room: Option<String>,
    /// Generate the room ID: simple (1234-5678) or strong (8f4b9-985c6) [default when ROOM is omitted: simple]
    #[arg(
        long,
        value_enum,
        value_name = "VARIANT",
        conflicts_with = "room",
        help_heading = "Room"
    )]
    pub room_id: Option<Variant>,
    /// Sections of the generated room ID (simple 1–8, strong 1–5) [default: 2]
    #[arg(long, value_name = "N", conflicts_with = "room", help_heading = "Room")]
    pub sections: Option<u8>,
    /// Symbols per section of a strong room ID (3–8) [default: 5]
    #[arg(long, value_name = "N", conflicts_with = "room", help_heading = "Room")]
    pub symbols: Option<u8>,

    /// Issuer (iss) [default: jitsi, generic: first of $JWT_ACCEPTED_ISSUERS; videocall: videocall-meeting-backend]
    #[arg(long, value_name = "ISS", help_heading = "Claims")]
    pub iss: Option<String>,
    /// Audience (aud) [default: jitsi: first of $JWT_ACCEPTED_AUDIENCES, else jitsi; generic: first of $JWT_ACCEPTED_AUDIENCES]
    #[arg(long, value_name = "AUD", help_heading = "Claims")]
    pub aud: Option<String>,
    /// Subject (sub): jitsi: the XMPP domain or * [default: *]; generic: the user ID; videocall: same as --email
    #[arg(long, value_name = "SUB", help_heading = "Claims")]
    pub sub: Option<String>,
    /// Display name (jitsi context.user.name, videocall display_name [default: the email])
    #[arg(long, value_name = "NAME", help_heading = "Claims")]
    pub name: Option<String>,
    /// Email (jitsi context.user.email; videocall: the sub, required)
    #[arg(long, value_name = "EMAIL", help_heading = "Claims")]
    pub email: Option<String>,
    /// jitsi: join as an ordinary participant (the minimal Jitsi Meet JWT issuer makes everyone a moderator)
    #[arg(long, help_heading = "Claims")]
    pub no_moderator: bool,
    /// videocall: the participant is the meeting host (is_host: true)
    #[arg(long, help_heading = "Claims")]
    pub host: bool,
    /// videocall: an observer token (room_join: false, observer: true), as the meeting backend
    /// issues to participants waiting for the meeting or in the waiting room
    #[arg(long, help_heading = "Claims")]
    pub observer: bool,
    /// generic: the role claim [default: user]
    #[arg(long, value_name = "ROLE", help_heading = "Claims")]
    pub role: Option<String>,
    /// generic: admin: true (the filter's admin routes accept the token)
    #[arg(long, help_heading = "Claims")]
    pub admin: bool,
    /// Extra claim; VALUE is JSON when it parses (42, true, {"a":1}), else a string. Repeatable
    #[arg(long = "claim", value_name = "KEY=VALUE", value_parser = parse_claim, help_heading = "Claims")]
    pub claims: Vec<(String, Value)>,
    /// Key ID (kid) in the header, selecting one of several filter keys during a rotation
    #[arg(long, value_name = "KID", value_parser = parse_kid, help_heading = "Claims")]
    pub kid: Option<String>,
    /// Token ID (jti); given without a value, a random 128-bit ID
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "", help_heading = "Claims")]
    pub jti: Option<String>,

    /// How long the token is valid, like 10m, 2h or 1d [default: jitsi, videocall 10m; generic 1h]
    #[arg(long, short = 'l', visible_alias = "ttl", value_name = "DURATION",
          value_parser = parse_duration_arg, conflicts_with = "expires", help_heading = "Time")]
    pub lifetime: Option<i64>,
    /// Expire at this instant instead (2025-10-16T20:30:00Z, an offset like +02:00, or Unix seconds)
    #[arg(long, value_name = "TIME", value_parser = parse_instant_arg, help_heading = "Time")]
    pub expires: Option<i64>,
    /// Valid from this instant, or this long from now (+15m); the lifetime counts from here
    #[arg(long, value_name = "TIME|+DURATION", value_parser = parse_not_before, help_heading = "Time")]
    pub not_before: Option<NotBefore>,

    /// Print the join link on BASE instead of the bare token (jitsi BASE/ROOM?jwt=, videocall BASE/lobby?token=, generic BASE/ROOM?token=)
    #[arg(long, value_name = "BASE", value_parser = parse_base_url, help_heading = "Output")]
    pub url: Option<String>,
    /// Print the room-whitelist service's JSON: {success, room_id, url, token, expires_at, ...}
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Append a record of the token (never the token itself) to this ledger file; adds a random jti unless --jti is given [default: $ROOMGATE_LEDGER]
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub ledger: Option<PathBuf>,

    #[command(flatten)]
    pub secret: SecretArgs,
    /// Sign with a secret under 32 bytes anyway (the filter refuses such keys)
    #[arg(long, help_heading = "Secret")]
    pub allow_weak_secret: bool,
}

/// `--not-before`: an instant, or an offset from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotBefore {
    /// Unix seconds.
    At(i64),
    /// Seconds from now.
    In(i64),
}

/// `issuer room-id`.
#[derive(Debug, Args)]
pub struct RoomIdArgs {
    /// simple (4-digit sections) or strong (random hex sections)
    #[arg(value_enum, default_value_t = Variant::Simple)]
    pub variant: Variant,
    /// Number of sections (simple 1–8, strong 1–5) [default: 2]
    #[arg(long, value_name = "N")]
    pub sections: Option<u8>,
    /// Symbols per strong section (3–8) [default: 5]
    #[arg(long, value_name = "N")]
    pub symbols: Option<u8>,
    /// How many IDs to print, one per line
    #[arg(long, short = 'n', value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub count: u16,
}

/// `issuer secret`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("format").args(["hex", "base64"])))]
pub struct SecretGenArgs {
    /// Random bytes in the secret (at least 32 unless --allow-weak-secret)
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub bytes: u16,
    /// Print it as hex (use --secret-encoding hex to sign with the decoded bytes)
    #[arg(long)]
    pub hex: bool,
    /// Print it as standard base64 [default]
    #[arg(long)]
    pub base64: bool,
    /// Allow fewer than 32 bytes (the filter refuses such keys)
    #[arg(long)]
    pub allow_weak_secret: bool,
}

/// `issuer static-token`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("scope").args(["room", "global", "admin"]).required(true)))]
pub struct StaticTokenArgs {
    /// A token for this one room (the multi-layer token scheme's ROOM_TOKENS)
    #[arg(long, value_name = "ROOM")]
    pub room: Option<String>,
    /// A token valid for every room (the multi-layer token scheme's AUTH_TOKEN)
    #[arg(long)]
    pub global: bool,
    /// A token for admin routes only (the multi-layer token scheme's ADMIN_TOKEN)
    #[arg(long)]
    pub admin: bool,
    /// Random bytes in a generated token, printed as hex
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(16..=512), conflicts_with = "from")]
    pub bytes: u16,
    /// Use an existing token from a file (@PATH) or standard input (-) instead of generating one
    #[arg(long, value_name = "@PATH|-", value_parser = parse_secret_source)]
    pub from: Option<SecretSource>,
    /// Print {token, sha256, scope, room, config} as JSON
    #[arg(long)]
    pub json: bool,
}

/// `issuer inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token, or - to read it from standard input
    #[arg(value_name = "TOKEN|-")]
    pub token: String,
    /// Print {header, claims, times} as JSON
    #[arg(long)]
    pub json: bool,
    /// Show times relative to this instant instead of now
    #[arg(long, value_name = "TIME", value_parser = parse_instant_arg)]
    pub at: Option<i64>,
}

/// Settings shared by `verify` and `config`: what the filter accepts.
#[derive(Debug, Args)]
#[command(next_help_heading = "Filter settings")]
pub struct PolicyArgs {
    /// Accepted issuer; repeat or comma-separate [default: $JWT_ACCEPTED_ISSUERS; videocall: videocall-meeting-backend]
    #[arg(long = "iss", value_name = "ISS", value_delimiter = ',')]
    pub issuers: Vec<String>,
    /// Accepted audience; repeat or comma-separate [default: $JWT_ACCEPTED_AUDIENCES, else not checked]
    #[arg(long = "aud", value_name = "AUD", value_delimiter = ',')]
    pub audiences: Vec<String>,
    /// The key's ID (kid), when tokens name their key
    #[arg(long, value_name = "KID", value_parser = parse_kid)]
    pub kid: Option<String>,
    /// Clock skew allowed for exp, nbf and iat, in seconds (0–600) [default: 30; videocall: 60, the media server's]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(i64).range(0..=600))]
    pub leeway: Option<i64>,
    /// Longest accepted token lifetime, like 1d or 2h; 0 for no limit
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_max_lifetime)]
    pub max_lifetime: i64,
    /// Compare rooms case-sensitively (Jitsi rooms are case-insensitive by default)
    #[arg(long)]
    pub case_sensitive_rooms: bool,
}

/// `issuer verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The token, or - to read it from standard input
    #[arg(value_name = "TOKEN|-")]
    pub token: String,
    /// Check as this profile's filter config would, for a request to --room [default: token checks only]
    #[arg(long, value_enum, value_name = "PROFILE")]
    pub profile: Option<Profile>,
    /// The room the request is for [default: the token's own room claim]
    #[arg(long, value_name = "ROOM")]
    pub room: Option<String>,
    /// Check at this instant instead of now (2025-10-16T20:30:00Z or Unix seconds)
    #[arg(long, value_name = "TIME", value_parser = parse_instant_arg)]
    pub at: Option<i64>,
    /// Check against this config file (JSON, ECDS roomgate.yaml, envoy.yaml) instead of a profile's
    #[arg(long, value_name = "FILE", conflicts_with_all = ["profile", "issuers", "audiences", "kid", "case_sensitive_rooms"])]
    pub config: Option<PathBuf>,
    /// With --config: the request path, e.g. /standup or /lobby [default: /ROOM]
    #[arg(long, value_name = "PATH", requires = "config")]
    pub path: Option<String>,
    /// Print {accepted, status, error, reason, message, room, headers} as JSON on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
}

/// `issuer config`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("platform").args(
    ["envoy", "istio", "istio_sidecar_env", "envoy_gateway", "docker_jitsi_meet", "docker_compose", "nginx"]
)))]
pub struct ConfigArgs {
    /// Token profile the configuration guards
    #[arg(value_enum)]
    pub profile: Profile,
    /// Only mark denied requests (x-roomgate-report) instead of blocking them
    #[arg(long)]
    pub report: bool,
    /// Print the Envoy envoy.filters.http.wasm filter entry (YAML) around the configuration
    #[arg(long, help_heading = "Platform")]
    pub envoy: bool,
    /// With --envoy: path of roomgate.wasm as Envoy sees it
    #[arg(
        long,
        value_name = "PATH",
        default_value = "dist/roomgate.wasm",
        requires = "envoy"
    )]
    pub wasm: String,
    /// Print an Istio WasmPlugin (sidecar, inbound traffic only) carrying the configuration
    #[arg(long, help_heading = "Platform", requires = "image")]
    pub istio: bool,
    /// Print the Deployment patch that puts the secret into Istio's sidecar (istio-proxy) environment
    #[arg(long, help_heading = "Platform")]
    pub istio_sidecar_env: bool,
    /// Print an Envoy Gateway EnvoyExtensionPolicy and the EnvoyProxy giving Envoy the secret
    #[arg(long, help_heading = "Platform", requires = "image")]
    pub envoy_gateway: bool,
    /// Print a complete envoy.yaml putting roomgate in front of docker-jitsi-meet's web container
    #[arg(long, help_heading = "Platform")]
    pub docker_jitsi_meet: bool,
    /// Print the docker-compose.override.yml running that envoy.yaml beside docker-jitsi-meet
    #[arg(long, help_heading = "Platform")]
    pub docker_compose: bool,
    /// Print an nginx.conf for Kong's ngx_wasm_module (the secret is written into it: a placeholder)
    #[arg(long, help_heading = "Platform")]
    pub nginx: bool,
    /// With --istio or --envoy-gateway: the image, pinned by digest: REGISTRY/REPO@sha256:DIGEST (`make image` prints it)
    #[arg(long, value_name = "REF", value_parser = parse_image_ref)]
    pub image: Option<String>,
    /// Leave issuers and audiences to the proxy's JWT_ACCEPTED_ISSUERS and JWT_ACCEPTED_AUDIENCES, read when the filter loads
    #[arg(long, conflicts_with_all = ["issuers", "audiences"])]
    pub policy_env: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// An OCI image reference pinned by digest: `HOST[:PORT]/PATH@sha256:<64 hex>`, no scheme.
fn parse_image_ref(s: &str) -> Result<String, String> {
    let usage = "give the image as REGISTRY/REPO@sha256:DIGEST, e.g. registry.example.com/roomgate@sha256:<64 hex digits> (`make image` prints the digest)";
    let Some((name, digest)) = s.split_once("@sha256:") else {
        return Err(format!("{s:?} is not pinned by digest: {usage}"));
    };
    let hex = digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex || digest.bytes().all(|b| b == b'0') {
        return Err(format!(
            "the digest of {s:?} is not 64 lower-case hex digits: {usage}"
        ));
    }
    let valid_name = name.contains('/')
        && !name.contains("://")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:".contains(&b));
    if !valid_name {
        return Err(format!(
            "{name:?} is not a registry and repository (lower case, no scheme): {usage}"
        ));
    }
    Ok(s.to_owned())
}

/// `issuer revoke`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").args(["room", "jti", "token"]).required(true)))]
pub struct RevokeArgs {
    /// The filter configuration file to edit (JSON, ECDS roomgate.yaml, or YAML with a `value: |` block)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Close this room: no credential enters it any more (403 room_closed)
    #[arg(long, value_name = "ROOM")]
    pub room: Option<String>,
    /// With --room: do not close it, revoke its JWTs issued (iat, else nbf) before TIME [default: now]
    #[arg(long, value_name = "TIME", num_args = 0..=1, default_missing_value = "now",
          value_parser = parse_cutoff, requires = "room")]
    pub issued_before: Option<Cutoff>,
    /// Revoke the JWT with this ID (jti): 401 token_revoked
    #[arg(long, value_name = "JTI")]
    pub jti: Option<String>,
    /// Revoke this JWT (by its jti), or - to read it from standard input
    #[arg(long, value_name = "TOKEN|-")]
    pub token: Option<String>,
    /// Undo: reopen the room (and drop its cut-off), or un-revoke the jti
    #[arg(long, conflicts_with = "issued_before")]
    pub undo: bool,
    /// Print the edited file on stdout instead of writing it
    #[arg(long)]
    pub dry_run: bool,
    /// Also record the revocation in this ledger, so `issuer rooms` stops listing what it revoked [default: $ROOMGATE_LEDGER]
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

/// `issuer rooms`.
#[derive(Debug, Args)]
pub struct RoomsArgs {
    /// The ledger written by `issuer mint --ledger` [default: $ROOMGATE_LEDGER; one of the two is required]
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// List every room in the ledger (expired, closed, revoked too), with its status
    #[arg(long)]
    pub all: bool,
    /// Print {"active_rooms": N, "rooms": [{room_id, created, expires, tokens}]} instead of a table
    #[arg(long)]
    pub json: bool,
    /// List as of this instant instead of now (2025-10-16T20:30:00Z or Unix seconds)
    #[arg(long, value_name = "TIME", value_parser = parse_instant_arg)]
    pub at: Option<i64>,
}

/// `--issued-before`: now, or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cutoff {
    /// The time the command runs.
    Now,
    /// Unix seconds.
    At(i64),
}

/// `--issued-before`: `now` or an instant.
pub fn parse_cutoff(text: &str) -> Result<Cutoff, String> {
    if text.trim().eq_ignore_ascii_case("now") {
        return Ok(Cutoff::Now);
    }
    time::parse_instant(text).map(Cutoff::At)
}

/// `issuer completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `--claim KEY=VALUE`: VALUE as JSON when it parses, else as a string.
pub fn parse_claim(text: &str) -> Result<(String, Value), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE, e.g. group=dev or level=3"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("{text:?} has no claim name before '='"));
    }
    match key {
        "exp" | "nbf" | "iat" => {
            return Err(format!(
                "{key} is set with --lifetime, --expires or --not-before, not --claim"
            ))
        }
        "room" => return Err("the room is the ROOM argument (or --room-id), not --claim".into()),
        _ => {}
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

/// `--kid`: 1–256 bytes, as the filter accepts.
pub fn parse_kid(text: &str) -> Result<String, String> {
    if text.is_empty() || text.len() > 256 {
        return Err("a key ID must be 1 to 256 characters".into());
    }
    Ok(text.to_owned())
}

/// A lifetime like `10m`.
pub fn parse_duration_arg(text: &str) -> Result<i64, String> {
    time::parse_duration(text)
}

/// `--max-lifetime`: a duration, or 0 for no limit.
pub fn parse_max_lifetime(text: &str) -> Result<i64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    time::parse_duration(text)
}

/// An instant.
pub fn parse_instant_arg(text: &str) -> Result<i64, String> {
    time::parse_instant(text)
}

/// `--not-before`: `+15m` (or `15m`) from now, or an instant.
pub fn parse_not_before(text: &str) -> Result<NotBefore, String> {
    let t = text.trim();
    if let Some(d) = t.strip_prefix('+') {
        return time::parse_duration(d).map(NotBefore::In);
    }
    if let Ok(d) = time::parse_duration(t) {
        return Ok(NotBefore::In(d));
    }
    time::parse_instant(t)
        .map(NotBefore::At)
        .map_err(|e| format!("{e}; or an offset from now like +15m"))
}

/// `--url BASE`: an absolute http(s) or ws(s) URL without query or fragment.
pub fn parse_base_url(text: &str) -> Result<String, String> {
    let ok_scheme = ["https://", "http://", "wss://", "ws://"].iter().any(|s| {
        text.get(..s.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(s))
    });
    let host = text
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    if !ok_scheme || host.is_empty() || host.starts_with('/') {
        return Err(format!(
            "{text:?} is not a base URL: write it like https://meet.example.com (http, https, ws or wss)"
        ));
    }
    if text.contains(['?', '#']) || text.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(format!(
            "{text:?} must have no query, fragment, spaces or non-ASCII characters; the token goes in the query"
        ));
    }
    Ok(text.to_owned())
}

/// An environment variable name.
pub fn parse_env_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not an environment variable name (letters, digits, '_'), e.g. JWT_APP_SECRET"
        ))
    }
}
