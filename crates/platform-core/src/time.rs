//! UTC time buckets. Time always arrives as a value (milliseconds since the Unix epoch): the Workers
//! runtime has no usable system clock, and tests choose the instant.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

/// Milliseconds since the Unix epoch.
pub type EpochMs = u64;

fn to_datetime(ms: EpochMs) -> DateTime<Utc> {
    // Out-of-range instants (beyond year 262143) clamp to the latest representable one.
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn to_ms(datetime: DateTime<Utc>) -> EpochMs {
    u64::try_from(datetime.timestamp_millis()).unwrap_or(0)
}

/// ISO 8601 (`2026-03-02T14:05:00.000Z`) for an instant.
pub fn iso8601(ms: EpochMs) -> String {
    to_datetime(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Serialises an instant as ISO 8601, for the answers people and scripts read
/// (`#[serde(serialize_with = "platform_core::time::serialize_iso8601")]`).
pub fn serialize_iso8601<S: serde::Serializer>(ms: &EpochMs, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&iso8601(*ms))
}

/// [`serialize_iso8601`] for an instant that may be absent (`null`).
pub fn serialize_iso8601_opt<S: serde::Serializer>(
    ms: &Option<EpochMs>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => serialize_iso8601(ms, serializer),
        None => serializer.serialize_none(),
    }
}

/// Rewrites the named fields of an answer's objects (the value itself, or each item of an array)
/// from epoch milliseconds to ISO 8601: for rows whose own serialisation is their storage form.
pub fn iso_fields(value: &mut serde_json::Value, fields: &[&str]) {
    if let serde_json::Value::Array(items) = value {
        for item in items {
            iso_fields(item, fields);
        }
        return;
    }
    let serde_json::Value::Object(object) = value else {
        return;
    };
    for field in fields {
        if let Some(slot) = object.get_mut(*field) {
            if let Some(ms) = slot.as_u64() {
                *slot = serde_json::Value::String(iso8601(ms));
            }
        }
    }
}

/// Parses a timestamp written either as ISO 8601 or as milliseconds since the epoch: both forms exist
/// in the wild for the same keys (`DISABLED_AT`).
pub fn parse_instant(raw: &str) -> Option<EpochMs> {
    let raw = raw.trim();
    if let Ok(ms) = raw.parse::<u64>() {
        return Some(ms);
    }
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|dt| to_ms(dt.with_timezone(&Utc)))
}

/// A UTC calendar day, displayed `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcDay(NaiveDate);

impl UtcDay {
    pub fn containing(ms: EpochMs) -> Self {
        Self(to_datetime(ms).date_naive())
    }

    /// `YYYY-MM-DD`, read digit by digit: a format parser would add kilobytes to every wasm
    /// worker that only ever reads this one form.
    pub fn parse(raw: &str) -> Option<Self> {
        let b = raw.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| raw.get(range)?.parse::<u32>().ok();
        let year = i32::try_from(number(0..4)?).ok()?;
        NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?).map(Self)
    }

    /// The day of the month, 1 to 31.
    pub fn day_of_month(self) -> u32 {
        self.0.day()
    }

    pub fn start_ms(self) -> EpochMs {
        to_ms(Utc.from_utc_datetime(&self.0.and_hms_opt(0, 0, 0).unwrap_or_default()))
    }

    /// The first instant of the following day: when a daily budget period turns over.
    pub fn next_start_ms(self) -> EpochMs {
        self.start_ms() + 86_400_000
    }

    pub fn month(self) -> UtcMonth {
        UtcMonth {
            year: self.0.year(),
            month: self.0.month(),
        }
    }
}

impl fmt::Display for UtcDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // NaiveDate's own Display is `YYYY-MM-DD`; a format string would pull in chrono's
        // formatting machinery (~7 KB of wasm).
        write!(f, "{}", self.0)
    }
}

/// A UTC hour, displayed `YYYY-MM-DDTHH` (the seed's `ERROR_RATE:{script}:{hour}` form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcHour {
    day: UtcDay,
    hour: u32,
}

impl UtcHour {
    pub fn containing(ms: EpochMs) -> Self {
        let datetime = to_datetime(ms);
        Self {
            day: UtcDay(datetime.date_naive()),
            hour: datetime.hour(),
        }
    }

    pub fn start_ms(self) -> EpochMs {
        self.day.start_ms() + u64::from(self.hour) * 3_600_000
    }

    pub fn next_start_ms(self) -> EpochMs {
        self.start_ms() + 3_600_000
    }
}

impl fmt::Display for UtcHour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}T{:02}", self.day, self.hour)
    }
}

/// A UTC calendar month, displayed `YYYY-MM`: the period of monthly budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcMonth {
    year: i32,
    month: u32,
}

impl UtcMonth {
    pub fn containing(ms: EpochMs) -> Self {
        UtcDay::containing(ms).month()
    }

    pub fn first_day(self) -> UtcDay {
        UtcDay(NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default())
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn start_ms(self) -> EpochMs {
        self.first_day().start_ms()
    }

    /// The first instant of the following month: when a monthly budget period turns over.
    pub fn next_start_ms(self) -> EpochMs {
        self.next().start_ms()
    }

    /// Number of days in the month.
    pub fn days(self) -> u32 {
        let span = self.next().first_day().0 - self.first_day().0;
        u32::try_from(span.num_days()).unwrap_or(0)
    }
}

impl fmt::Display for UtcMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Whole seconds from `now` until `later` (0 if `later` is not in the future).
pub fn seconds_until(now: EpochMs, later: EpochMs) -> u64 {
    later.saturating_sub(now) / 1000
}

/// `ms` plus a number of seconds.
pub fn after_seconds(ms: EpochMs, seconds: u64) -> EpochMs {
    let span = Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX));
    u64::try_from(span.num_milliseconds()).map_or(u64::MAX, |add| ms.saturating_add(add))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-03-02T14:05:06.789Z
    const T: EpochMs = 1_772_460_306_789;

    #[test]
    fn answers_say_their_times_in_iso_8601() {
        let mut rows = serde_json::json!([{"seen": 1_772_452_800_000_u64, "n": 3}, {"seen": null}]);
        iso_fields(&mut rows, &["seen"]);
        assert_eq!(
            rows,
            serde_json::json!([{"seen": "2026-03-02T12:00:00.000Z", "n": 3}, {"seen": null}])
        );
    }

    #[test]
    fn buckets_format_like_the_keyspace() {
        assert_eq!(UtcDay::containing(T).to_string(), "2026-03-02");
        assert_eq!(UtcHour::containing(T).to_string(), "2026-03-02T14");
        assert_eq!(UtcMonth::containing(T).to_string(), "2026-03");
        assert_eq!(iso8601(T), "2026-03-02T14:05:06.789Z");
    }

    #[test]
    fn period_boundaries() {
        let day = UtcDay::containing(T);
        assert_eq!(iso8601(day.start_ms()), "2026-03-02T00:00:00.000Z");
        assert_eq!(iso8601(day.next_start_ms()), "2026-03-03T00:00:00.000Z");
        assert_eq!(
            iso8601(UtcHour::containing(T).next_start_ms()),
            "2026-03-02T15:00:00.000Z"
        );
        let month = UtcMonth::containing(T);
        assert_eq!(iso8601(month.next_start_ms()), "2026-04-01T00:00:00.000Z");
        assert_eq!(month.days(), 31);
        let december = UtcMonth::containing(parse_instant("2026-12-31T23:59:59Z").unwrap());
        assert_eq!(december.next().to_string(), "2027-01");
        assert_eq!(
            UtcMonth::containing(parse_instant("2028-02-10T00:00:00Z").unwrap()).days(),
            29
        );
    }

    #[test]
    fn instants_parse_in_both_forms() {
        assert_eq!(parse_instant("1772460306789"), Some(T));
        assert_eq!(parse_instant("2026-03-02T14:05:06.789Z"), Some(T));
        assert_eq!(parse_instant("yesterday"), None);
        assert_eq!(UtcDay::parse("2026-03-02"), Some(UtcDay::containing(T)));
    }

    #[test]
    fn second_arithmetic_saturates() {
        assert_eq!(seconds_until(10_000, 5_000), 0);
        assert_eq!(seconds_until(0, 61_500), 61);
        assert_eq!(after_seconds(1_000, 60), 61_000);
    }
}
