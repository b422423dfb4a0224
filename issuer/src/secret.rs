//! Where the HS256 secret comes from, and the checks it must pass before anything is signed.
//!
//! A secret on the command line ends up in shell history and in every `ps` listing, so `issuer`
//! never takes one there: it reads a file (`@PATH`, `--secret-file`), standard input (`-`) or an
//! environment variable (`JWT_APP_SECRET` by default, as Jitsi names it). The text is decoded with
//! the filter's own [`decode_secret`], so "the same secret" means the same bytes on both sides.

use anyhow::{bail, Context as _};
use clap::ValueEnum;
use roomgate_filter::config::{decode_secret, Encoding, MIN_SECRET_BYTES};
use std::fmt;
use std::io::Read as _;
use std::path::PathBuf;

/// Where `--secret` says to read the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// `value_parser` for `--secret`: `@PATH` or `-`, never the secret itself.
pub fn parse_secret_source(text: &str) -> Result<SecretSource, String> {
    if text == "-" {
        return Ok(SecretSource::Stdin);
    }
    match text.strip_prefix('@') {
        Some(path) if !path.is_empty() => Ok(SecretSource::File(PathBuf::from(path))),
        _ => Err(
            "give @PATH (a file holding the secret) or - (standard input); \
             a secret on the command line would leak into shell history and `ps`, \
             so it is never read from there (the JWT_APP_SECRET variable also works)"
                .into(),
        ),
    }
}

/// How a secret is written: the filter key's `encoding`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SecretEncoding {
    /// The bytes of the text itself, as Jitsi uses `JWT_APP_SECRET`.
    #[default]
    Utf8,
    /// Standard base64 (padding optional).
    Base64,
    /// URL-safe base64, as in a JWK's `k`.
    Base64url,
    /// Hexadecimal.
    Hex,
}

impl SecretEncoding {
    /// The filter's name for this encoding.
    pub fn filter(self) -> Encoding {
        match self {
            Self::Utf8 => Encoding::Utf8,
            Self::Base64 => Encoding::Base64,
            Self::Base64url => Encoding::Base64url,
            Self::Hex => Encoding::Hex,
        }
    }

    /// The value of `encoding` in the filter configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "utf8",
            Self::Base64 => "base64",
            Self::Base64url => "base64url",
            Self::Hex => "hex",
        }
    }
}

/// A secret read and decoded. `Debug` never shows it.
pub struct Secret {
    /// The text as read (trimmed), handed to the filter's engine as its environment variable.
    pub text: String,
    /// The key bytes.
    pub bytes: Vec<u8>,
    /// Where it came from, for messages.
    pub origin: String,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("bytes", &self.bytes.len())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Reads the secret from the first source given: `source`, `file`, then the variable `env_var`.
pub fn load(
    source: Option<&SecretSource>,
    file: Option<&PathBuf>,
    env_var: &str,
    encoding: SecretEncoding,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Secret> {
    let (text, origin) = match (source, file) {
        (Some(SecretSource::Stdin), _) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the secret from standard input")?;
            (text, "standard input".to_owned())
        }
        (Some(SecretSource::File(path)), _) | (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the secret file {}", path.display()))?;
            (text, format!("file {}", path.display()))
        }
        (None, None) => match env(env_var) {
            Some(text) => (text, format!("${env_var}")),
            None => bail!(
                "no secret: set {env_var}, or pass --secret-file PATH, --secret @PATH or --secret - (stdin)"
            ),
        },
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        bail!("the secret from {origin} is empty");
    }
    let bytes = decode_secret(&text, encoding.filter()).map_err(|why| {
        anyhow::anyhow!(
            "the secret from {origin} is {why} (--secret-encoding {}); pick the encoding it is written in",
            encoding.name()
        )
    })?;
    Ok(Secret {
        text,
        bytes,
        origin,
    })
}

/// Refuses secrets shorter than [`MIN_SECRET_BYTES`] unless `allow_weak`; then it only warns.
pub fn check_strength(secret: &Secret, allow_weak: bool) -> anyhow::Result<()> {
    let n = secret.bytes.len();
    if n >= MIN_SECRET_BYTES {
        return Ok(());
    }
    if allow_weak {
        crate::output::warn(&format!(
            "the secret from {} is only {n} bytes; roomgate's filter refuses keys under {MIN_SECRET_BYTES} bytes, \
             so it will not accept this token",
            secret.origin
        ));
        return Ok(());
    }
    bail!(
        "the secret from {} is {n} bytes; HS256 needs at least {MIN_SECRET_BYTES} random bytes \
         (RFC 7518 section 3.2) and the filter refuses shorter keys. Make one with `issuer secret`, \
         or pass --allow-weak-secret to sign anyway",
        secret.origin
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_source_is_a_file_or_stdin_never_the_secret() {
        assert_eq!(
            parse_secret_source("@/run/key"),
            Ok(SecretSource::File("/run/key".into()))
        );
        assert_eq!(parse_secret_source("-"), Ok(SecretSource::Stdin));
        for bad in ["hunter2", "@", ""] {
            assert!(parse_secret_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_debug_output_hides_the_secret() {
        let s = Secret {
            text: "super-secret-text".into(),
            bytes: b"super-secret-text".to_vec(),
            origin: "$X".into(),
        };
        assert!(!format!("{s:?}").contains("super"));
    }

    #[test]
    fn environment_secrets_are_trimmed_and_decoded() -> anyhow::Result<()> {
        let env = |n: &str| (n == "K").then(|| " 6869 \n".to_owned());
        let s = load(None, None, "K", SecretEncoding::Hex, &env)?;
        assert_eq!(s.bytes, b"hi");
        assert!(load(None, None, "OTHER", SecretEncoding::Hex, &env).is_err());
        assert!(load(None, None, "K", SecretEncoding::Base64, &|_| Some(
            "***".into()
        ))
        .is_err());
        Ok(())
    }
}
