//! Durations and instants as operators type them, and as people read them back.
//!
//! JWT times are Unix seconds; operators think in `10m` and `2025-10-16T20:30:00Z`. This module
//! converts both ways with nothing but integer arithmetic (Howard Hinnant's civil-date algorithms),
//! so the issuer needs no time-zone database: every instant is UTC, and an explicit `±HH:MM`
//! offset is the only zone it understands.

use std::time::{SystemTime, UNIX_EPOCH};

/// The longest lifetime or offset accepted anywhere: ten years, in seconds.
pub const MAX_SECONDS: i64 = 3650 * 86_400;

/// The current time in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Parses a duration such as `90s`, `10m`, `2h`, `1d`, `1w` or `1h30m` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad =
        || format!("{text:?} is not a duration: write it like 10m, 2h or 1d (units s, m, h, d, w)");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        if number.is_empty() {
            return Err(bad());
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .filter(|t| *t <= MAX_SECONDS)
            .ok_or_else(|| format!("{text:?} is longer than the 3650 days this tool accepts"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!(
            "{text:?} has no unit: write {text}s, {text}m, {text}h or {text}d"
        ));
    }
    if total == 0 {
        return Err(format!("{text:?} is zero: a token must live at least 1s"));
    }
    Ok(total)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn number(text: &str, digits: usize) -> Option<i64> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Parses an instant: RFC 3339 (`2025-10-16T20:30:00Z`, fractions and `±HH:MM` offsets allowed,
/// a space instead of `T`), a date (`2025-10-16`, midnight UTC), or Unix seconds (`1760646600`).
pub fn parse_instant(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "{text:?} is not a time: write it like 2025-10-16T20:30:00Z, 2025-10-16T22:30:00+02:00, \
             2025-10-16, or as Unix seconds"
        )
    };
    let t = text.trim();
    let digits = t.strip_prefix('@').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits
            .parse::<i64>()
            .ok()
            .filter(|s| *s <= 253_402_300_799)
            .ok_or_else(bad);
    }
    let (date, rest) = match t.find(['T', 't', ' ']) {
        Some(i) => (t.get(..i).ok_or_else(bad)?, t.get(i + 1..)),
        None => (t, None),
    };
    let mut parts = date.split('-');
    let (Some(y), Some(mo), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, mo, d) = (
        number(y, 4).ok_or_else(bad)?,
        number(mo, 2).ok_or_else(bad)?,
        number(d, 2).ok_or_else(bad)?,
    );
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return Err(format!("{text:?} is not a calendar date"));
    }
    let mut seconds = days_from_civil(y, mo, d) * 86_400;
    if let Some(rest) = rest {
        // Split the clock from the zone: `Z`, `+HH:MM` or `-HH:MM`.
        let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(i) = rest.rfind(['+', '-']) {
            let (c, zone) = rest.split_at(i);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let zone = zone.get(1..).unwrap_or_default();
            let (zh, zm) = zone.split_once(':').ok_or_else(bad)?;
            let (zh, zm) = (
                number(zh, 2).ok_or_else(bad)?,
                number(zm, 2).ok_or_else(bad)?,
            );
            if zh > 23 || zm > 59 {
                return Err(bad());
            }
            (c, sign * (zh * 3600 + zm * 60))
        } else {
            return Err(format!(
                "{text:?} has no time zone: end it with Z (UTC) or an offset like +02:00"
            ));
        };
        let clock = clock.split_once('.').map_or(clock, |(whole, frac)| {
            if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) {
                whole
            } else {
                "invalid"
            }
        });
        let mut hms = clock.split(':');
        let h = hms.next().and_then(|h| number(h, 2)).ok_or_else(bad)?;
        let m = hms.next().and_then(|m| number(m, 2)).ok_or_else(bad)?;
        let s = match hms.next() {
            Some(s) => number(s, 2).ok_or_else(bad)?,
            None => 0,
        };
        if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
            return Err(bad());
        }
        seconds += h * 3600 + m * 60 + s.min(59) - offset;
    }
    Ok(seconds)
}

/// Formats Unix seconds as RFC 3339 UTC with milliseconds, as the room-whitelist service's API
/// does: `2025-10-16T20:30:00.000Z`.
pub fn rfc3339(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A span in the largest two units that matter, e.g. `1h 30m`, `10m`, `45s`.
pub fn span(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let units = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = s;
    for (size, name) in units {
        if rest >= size {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

/// `in 9m 58s`, `3h 2m ago` or `now`, relative to `now`.
pub fn relative(unix: i64, now: i64) -> String {
    let delta = unix.saturating_sub(now);
    match delta {
        0 => "now".into(),
        d if d > 0 => format!("in {}", span(d)),
        d => format!("{} ago", span(d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_operators_write_them() {
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("1w"), Ok(604_800));
        assert_eq!(parse_duration("45s"), Ok(45));
    }

    #[test]
    fn durations_without_units_or_with_nonsense_are_refused_with_a_hint() {
        let e = parse_duration("600").err().unwrap_or_default();
        assert!(e.contains("600m"), "{e}");
        for bad in [
            "",
            "m",
            "10x",
            "-5m",
            "1.5h",
            "0m",
            "4000d",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instants_round_trip_through_rfc3339() {
        for t in [0, 1_300_819_380, 1_760_646_600, 951_782_400, 4_102_444_799] {
            let text = rfc3339(t);
            assert_eq!(parse_instant(&text), Ok(t), "{text}");
        }
        assert_eq!(rfc3339(1_760_646_600), "2025-10-16T20:30:00.000Z");
    }

    #[test]
    fn instants_accept_offsets_dates_and_unix_seconds() {
        assert_eq!(
            parse_instant("2025-10-16T22:30:00+02:00"),
            Ok(1_760_646_600)
        );
        assert_eq!(parse_instant("2025-10-16 20:30Z"), Ok(1_760_646_600));
        assert_eq!(
            parse_instant("2025-10-16T15:30:00.5-05:00"),
            Ok(1_760_646_600)
        );
        assert_eq!(parse_instant("2025-10-16"), Ok(1_760_572_800));
        assert_eq!(parse_instant("1760646600"), Ok(1_760_646_600));
        assert_eq!(parse_instant("@1760646600"), Ok(1_760_646_600));
    }

    #[test]
    fn impossible_or_zoneless_instants_are_refused() {
        for bad in [
            "2025-02-30",
            "2025-13-01",
            "2025-10-16T20:30:00",
            "2025-10-16T25:00:00Z",
            "16/10/2025",
            "tomorrow",
            "2025-10-16T20:30:00.Z",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad}");
        }
        assert!(parse_instant("2025-10-16T20:30:00")
            .err()
            .is_some_and(|e| e.contains("time zone")));
    }

    #[test]
    fn spans_and_relative_times_read_naturally() {
        assert_eq!(span(598), "9m 58s");
        assert_eq!(span(90_061), "1d 1h");
        assert_eq!(relative(100, 40), "in 1m");
        assert_eq!(relative(40, 100), "1m ago");
        assert_eq!(relative(5, 5), "now");
    }
}
