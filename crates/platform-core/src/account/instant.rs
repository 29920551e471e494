//! Instants as analytics and the routes write them: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]Z`
//! or epoch milliseconds. Parsed by hand: chrono's parser would add ~20 KB to the worker's wasm.

use crate::time::EpochMs;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn digits(raw: &str) -> Option<i64> {
    (!raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()))
        .then(|| raw.parse().ok())
        .flatten()
}

/// Midnight of a `YYYY-MM-DD` day.
pub fn parse_day(raw: &str) -> Option<EpochMs> {
    let mut parts = raw.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let (year, month, day) = (digits(year)?, digits(month)?, digits(day)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    u64::try_from(days_from_civil(year, month, day) * 86_400_000).ok()
}

/// A day, a UTC instant (`Z` only, as analytics writes it) or epoch milliseconds.
pub fn parse(raw: &str) -> Option<EpochMs> {
    let raw = raw.trim();
    if let Some(ms) = digits(raw).filter(|_| raw.len() > 10) {
        return u64::try_from(ms).ok();
    }
    let Some((day, time)) = raw.split_once('T') else {
        return parse_day(raw);
    };
    let time = time.strip_suffix('Z')?;
    let (time, millis) = match time.split_once('.') {
        Some((time, fraction)) if fraction.len() == 3 => (time, digits(fraction)?),
        Some(_) => return None,
        None => (time, 0),
    };
    let mut parts = time.split(':');
    let hour = digits(parts.next()?)?;
    let minute = digits(parts.next()?)?;
    let second = parts.next().map_or(Some(0), digits)?;
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset = u64::try_from(((hour * 60 + minute) * 60 + second) * 1000 + millis).ok()?;
    Some(parse_day(day)? + offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{iso8601, UtcDay};

    #[test]
    fn agrees_with_the_calendar() {
        for ms in [0, 951_782_400_000, 1_772_460_306_789, 4_102_444_800_000] {
            let day = UtcDay::containing(ms);
            assert_eq!(parse_day(&day.to_string()), Some(day.start_ms()), "{day}");
            assert_eq!(parse(&iso8601(ms)), Some(ms));
        }
        assert_eq!(parse("2026-03-02T14:00:00Z"), Some(1_772_460_000_000));
        assert_eq!(parse("2026-03-02T14:00Z"), Some(1_772_460_000_000));
        assert_eq!(parse("1772460000000"), Some(1_772_460_000_000));
        for bad in [
            "",
            "2026-02-30",
            "2026-13-01",
            "26-03-02",
            "2026-03-02T25:00:00Z",
            "2026-03-02T14:00:00+01:00",
            "soon",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
