//! Read state and the unread count.
//!
//! A notification is read by a person when its sequence number is at or below their watermark
//! (set by "mark all read": one write however many notifications it covers) or when its own
//! `NOTIFICATION_READ:{userId}:{notifId}` key exists (a single mark). Sequence numbers only grow,
//! so a watermark never covers a notification created after it.
//!
//! The count (`NOTIFICATION_COUNT:{userId}`) is a cache stamped with what it was computed from:
//! the newest sequence number and the person's watermark then, and the instant it stops being
//! true (the first counted expiry, at most an hour ahead). A create, a read or an expiry each make
//! the stamp stale, so the count is recomputed instead of being served wrong.

use std::collections::HashSet;

use platform_core::EpochMs;
use serde_json::{json, Value};

use crate::contract::{Category, Priority, SOURCE_MAX};
use crate::fields::{check_name, Invalid};

/// Days a notification is kept; its read keys expire with it.
pub const RETENTION_DAYS: u32 = 90;
pub const RETENTION_MS: u64 = RETENTION_DAYS as u64 * 86_400_000;
/// The TTL of a read key: a read mark outlives nothing it marks.
pub const READ_KEY_TTL_SECONDS: u32 = RETENTION_DAYS * 86_400;
/// Unread notifications counted at most: the count says `capped` beyond it.
pub const COUNT_CAP: usize = 1000;
/// A count is recomputed at least this often.
pub const COUNT_FRESH_MS: u64 = 3_600_000;
pub const PAGE_DEFAULT: u32 = 20;
pub const PAGE_MAX: u32 = 100;

/// Whether a person has read the notification numbered `seq`.
pub fn is_read(seq: u64, watermark: u64, marked: bool) -> bool {
    seq <= watermark || marked
}

/// Whether marking `seq` read needs its own key: below the watermark it is read already, and
/// marking it writes nothing.
pub fn needs_mark(seq: u64, watermark: u64) -> bool {
    seq > watermark
}

/// What a cached count was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountStamp {
    /// The newest notification's sequence number at the time.
    pub latest_seq: u64,
    pub watermark: u64,
    /// When the first counted notification expires, or the freshness limit.
    pub valid_until: EpochMs,
}

impl CountStamp {
    /// The stamp of a count computed at `now` over notifications whose expiries are `expiries`.
    pub fn new(
        latest_seq: u64,
        watermark: u64,
        now: EpochMs,
        expiries: impl IntoIterator<Item = Option<EpochMs>>,
    ) -> Self {
        let limit = now.saturating_add(COUNT_FRESH_MS);
        let valid_until = expiries.into_iter().flatten().fold(limit, u64::min);
        Self {
            latest_seq,
            watermark,
            valid_until,
        }
    }

    /// Whether the count stamped with `self` still holds.
    pub fn holds(&self, latest_seq: u64, watermark: u64, now: EpochMs) -> bool {
        self.latest_seq == latest_seq && self.watermark == watermark && now < self.valid_until
    }

    pub fn to_metadata(self) -> serde_json::Map<String, Value> {
        let mut map = serde_json::Map::new();
        map.insert("latest_seq".into(), json!(self.latest_seq));
        map.insert("watermark".into(), json!(self.watermark));
        map.insert("valid_until".into(), json!(self.valid_until));
        map
    }

    pub fn from_metadata(metadata: Option<&Value>) -> Option<Self> {
        let metadata = metadata?;
        let field = |name: &str| metadata.get(name).and_then(Value::as_u64);
        Some(Self {
            latest_seq: field("latest_seq")?,
            watermark: field("watermark")?,
            valid_until: field("valid_until")?,
        })
    }
}

/// The unread count of candidates (unexpired, shown, after the watermark) given which of them
/// carry a read mark.
pub fn unread<'a>(candidates: impl IntoIterator<Item = &'a str>, marked: &HashSet<String>) -> usize {
    candidates.into_iter().filter(|id| !marked.contains(*id)).count()
}

/// The filters and page of `GET /notifications`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub unread: bool,
    pub category: Option<Category>,
    pub source: Option<String>,
    pub priority: Option<Priority>,
    /// Only notifications numbered below it: the `next_cursor` of the previous page.
    pub before: Option<u64>,
    pub limit: u32,
}

impl Filter {
    /// Reads the query; `query(name)` gives a parameter's value. Refusals name the parameter.
    pub fn from_query(query: impl Fn(&str) -> Option<String>) -> Result<Self, Invalid> {
        let unread = match query("unread").as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(_) => return Err(Invalid::new("unread", "must be true or false")),
        };
        let category = query("category")
            .map(|raw| Category::from_json(&Value::String(raw), "category"))
            .transpose()?;
        let priority = query("priority")
            .map(|raw| Priority::from_json(&Value::String(raw), "priority"))
            .transpose()?;
        let source = query("source")
            .map(|raw| {
                check_name(&raw, SOURCE_MAX)
                    .map(|()| raw)
                    .map_err(|reason| Invalid::new("source", reason))
            })
            .transpose()?;
        let before = query("cursor")
            .map(|raw| {
                raw.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Invalid::new("cursor", "must be a next_cursor of a previous page"))
            })
            .transpose()?;
        let limit = match query("limit") {
            None => PAGE_DEFAULT,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=PAGE_MAX).contains(n))
                .ok_or_else(|| {
                    Invalid::new("limit", format!("must be a whole number from 1 to {PAGE_MAX}"))
                })?,
        };
        Ok(Self {
            unread,
            category,
            source,
            priority,
            before,
            limit,
        })
    }
}

/// The cursor of the next page: the last scanned sequence number when the page was full (more
/// may follow), none when it was the last.
pub fn next_cursor(scanned: &[u64], limit: u32) -> Option<u64> {
    if scanned.len() >= limit as usize {
        scanned.iter().copied().min()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_reads_everything_up_to_it_and_nothing_after() {
        assert!(is_read(5, 5, false));
        assert!(!is_read(6, 5, false));
        assert!(is_read(6, 5, true));
        assert!(!needs_mark(3, 5));
        assert!(needs_mark(6, 5));
    }

    #[test]
    fn a_count_stamp_goes_stale_on_create_read_and_expiry() {
        let now = 1_000_000;
        let stamp = CountStamp::new(10, 4, now, [None, Some(now + 60_000), None]);
        assert_eq!(stamp.valid_until, now + 60_000);
        assert!(stamp.holds(10, 4, now + 1));
        assert!(!stamp.holds(11, 4, now + 1), "a new notification");
        assert!(!stamp.holds(10, 10, now + 1), "mark all read");
        assert!(!stamp.holds(10, 4, now + 60_000), "the first counted expiry");
        let no_expiry = CountStamp::new(10, 4, now, []);
        assert_eq!(no_expiry.valid_until, now + COUNT_FRESH_MS);
        let metadata = Value::Object(stamp.to_metadata());
        assert_eq!(CountStamp::from_metadata(Some(&metadata)), Some(stamp));
        assert_eq!(CountStamp::from_metadata(Some(&json!({"latest_seq": 1}))), None);
    }

    #[test]
    fn unread_leaves_out_the_marked() {
        let marked: HashSet<String> = ["b".to_owned()].into_iter().collect();
        assert_eq!(unread(["a", "b", "c"], &marked), 2);
    }

    #[test]
    fn the_query_is_validated_parameter_by_parameter() {
        let query = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let filter = Filter::from_query(query(&[
            ("unread", "true"),
            ("category", "breaker"),
            ("priority", "high"),
            ("source", "platform-usage"),
            ("cursor", "41"),
            ("limit", "5"),
        ]));
        assert_eq!(
            filter,
            Ok(Filter {
                unread: true,
                category: Some(Category::Breaker),
                source: Some("platform-usage".into()),
                priority: Some(Priority::High),
                before: Some(41),
                limit: 5,
            })
        );
        assert_eq!(Filter::from_query(query(&[])).map(|f| f.limit), Ok(PAGE_DEFAULT));
        for (pairs, field) in [
            (&[("unread", "maybe")][..], "unread"),
            (&[("category", "weather")][..], "category"),
            (&[("priority", "urgent")][..], "priority"),
            (&[("source", "A B")][..], "source"),
            (&[("cursor", "x")][..], "cursor"),
            (&[("limit", "0")][..], "limit"),
            (&[("limit", "101")][..], "limit"),
        ] {
            assert_eq!(
                Filter::from_query(query(pairs)).map_err(|e| e.field),
                Err(field.to_owned())
            );
        }
    }

    #[test]
    fn only_a_full_page_has_a_next_cursor() {
        assert_eq!(next_cursor(&[9, 8, 7], 3), Some(7));
        assert_eq!(next_cursor(&[9, 8], 3), None);
    }
}
