//! Room IDs as the room-whitelist service generates them: *simple* (`1234-5678`) and *strong*
//! (`8f4b9-985c6`).
//!
//! Both come from the operating system's CSPRNG (`getrandom`). Digits and hex symbols are drawn by
//! rejection sampling, so every symbol is equally likely; a room name is a bearer of nothing, but
//! a guessable one invites people into meetings they were not asked to.

use anyhow::bail;
use clap::ValueEnum;

/// Which kind of room ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Variant {
    /// Sections of 4 decimal digits, e.g. `1234-5678` (1–8 sections).
    #[default]
    Simple,
    /// Sections of random hex symbols, e.g. `8f4b9-985c6` (1–5 sections of 3–8 symbols).
    Strong,
}

/// The room-whitelist service's bounds: simple IDs have 1–8 sections.
pub const SIMPLE_SECTIONS: std::ops::RangeInclusive<u8> = 1..=8;
/// Strong IDs have 1–5 sections.
pub const STRONG_SECTIONS: std::ops::RangeInclusive<u8> = 1..=5;
/// Strong IDs have 3–8 symbols per section.
pub const STRONG_SYMBOLS: std::ops::RangeInclusive<u8> = 3..=8;
/// The room-whitelist service's default number of sections (`generate_*_sections: 2`).
pub const DEFAULT_SECTIONS: u8 = 2;
/// Symbols per strong section when not given (`8f4b9`).
pub const DEFAULT_SYMBOLS: u8 = 5;

/// What to generate, checked against the room-whitelist service's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    variant: Variant,
    sections: u8,
    symbols: u8,
}

impl Spec {
    /// Checks the bounds; the error names the flag and the allowed range.
    pub fn new(
        variant: Variant,
        sections: Option<u8>,
        symbols: Option<u8>,
    ) -> anyhow::Result<Self> {
        let sections = sections.unwrap_or(DEFAULT_SECTIONS);
        match variant {
            Variant::Simple => {
                if symbols.is_some() {
                    bail!("--symbols applies to strong room IDs only; simple sections are always 4 digits");
                }
                if !SIMPLE_SECTIONS.contains(&sections) {
                    bail!("--sections must be between 1 and 8 for simple room IDs, not {sections}");
                }
                Ok(Self {
                    variant,
                    sections,
                    symbols: 4,
                })
            }
            Variant::Strong => {
                let symbols = symbols.unwrap_or(DEFAULT_SYMBOLS);
                if !STRONG_SECTIONS.contains(&sections) {
                    bail!("--sections must be between 1 and 5 for strong room IDs, not {sections}");
                }
                if !STRONG_SYMBOLS.contains(&symbols) {
                    bail!("--symbols must be between 3 and 8, not {symbols}");
                }
                Ok(Self {
                    variant,
                    sections,
                    symbols,
                })
            }
        }
    }

    /// Generates one ID.
    pub fn generate(&self) -> anyhow::Result<String> {
        let radix: u8 = match self.variant {
            Variant::Simple => 10,
            Variant::Strong => 16,
        };
        let mut sections = Vec::with_capacity(usize::from(self.sections));
        for _ in 0..self.sections {
            let mut section = String::with_capacity(usize::from(self.symbols));
            for _ in 0..self.symbols {
                let digit = random_below(radix)?;
                section.push(char::from_digit(u32::from(digit), u32::from(radix)).unwrap_or('0'));
            }
            sections.push(section);
        }
        Ok(sections.join("-"))
    }
}

/// A uniformly random number in `0..n` (n ≤ 256), by rejection sampling.
fn random_below(n: u8) -> anyhow::Result<u8> {
    let limit = 256 - (256 % u16::from(n));
    loop {
        let mut byte = [0u8; 1];
        getrandom::getrandom(&mut byte)
            .map_err(|e| anyhow::anyhow!("the system random number generator failed: {e}"))?;
        if u16::from(byte[0]) < limit {
            return Ok(byte[0] % n);
        }
    }
}

/// Random bytes from the operating system.
pub fn random_bytes(n: usize) -> anyhow::Result<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the system random number generator failed: {e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    fn shape(id: &str) -> Vec<usize> {
        id.split('-').map(str::len).collect()
    }

    #[test]
    fn simple_ids_are_sections_of_four_digits() -> anyhow::Result<()> {
        let id = Spec::new(Variant::Simple, None, None)?.generate()?;
        assert_eq!(shape(&id), [4, 4], "{id}");
        assert!(id.chars().all(|c| c.is_ascii_digit() || c == '-'));
        let id = Spec::new(Variant::Simple, Some(8), None)?.generate()?;
        assert_eq!(shape(&id), [4; 8]);
        Ok(())
    }

    #[test]
    fn strong_ids_are_lower_case_hex_sections() -> anyhow::Result<()> {
        let id = Spec::new(Variant::Strong, Some(5), Some(8))?.generate()?;
        assert_eq!(shape(&id), [8; 5], "{id}");
        assert!(id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase() || c == '-'));
        let id = Spec::new(Variant::Strong, Some(1), Some(3))?.generate()?;
        assert_eq!(shape(&id), [3]);
        Ok(())
    }

    #[test]
    fn bounds_outside_the_room_whitelist_service_are_refused() {
        assert!(Spec::new(Variant::Simple, Some(0), None).is_err());
        assert!(Spec::new(Variant::Simple, Some(9), None).is_err());
        assert!(Spec::new(Variant::Simple, None, Some(5)).is_err());
        assert!(Spec::new(Variant::Strong, Some(6), None).is_err());
        assert!(Spec::new(Variant::Strong, None, Some(2)).is_err());
        assert!(Spec::new(Variant::Strong, None, Some(9)).is_err());
    }

    #[test]
    fn every_digit_turns_up() -> anyhow::Result<()> {
        let mut seen = [false; 16];
        for _ in 0..2000 {
            seen[usize::from(random_below(16)?)] = true;
        }
        assert!(seen.iter().all(|s| *s));
        Ok(())
    }
}
