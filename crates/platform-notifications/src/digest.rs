//! The Slack messages of a person: one per notification for `immediate`, or one digest per hour
//! or UTC day with that period's items. The digest cron runs hourly; a period is due in the hour
//! after it ends, and its outbox subject (`{user}:{frequency}:{start}`) makes a retried run a
//! no-op.

use platform_core::time::iso8601;
use platform_core::EpochMs;

use crate::contract::{Category, Priority};
use crate::prefs::Frequency;

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
/// Items listed in one digest; the rest are counted.
pub const DIGEST_ITEMS_MAX: usize = 30;

/// A period a digest covers: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub frequency: Frequency,
    pub start: EpochMs,
    pub end: EpochMs,
}

impl Period {
    /// The outbox subject of `user`'s digest of this period: the same run twice stores it once.
    pub fn subject(&self, user: &str) -> String {
        format!("{user}:{}:{}", self.frequency.as_str(), self.start)
    }
}

/// The period of `frequency` that ended most recently before the run scheduled at `at`, when the
/// run is the one that sends it: every run sends the past hour; only the first run of a UTC day
/// sends the past day.
pub fn due(frequency: Frequency, at: EpochMs) -> Option<Period> {
    let hour = at - at % HOUR_MS;
    match frequency {
        Frequency::Hourly => Some(Period {
            frequency,
            start: hour.saturating_sub(HOUR_MS),
            end: hour,
        }),
        Frequency::Daily if hour.is_multiple_of(DAY_MS) => Some(Period {
            frequency,
            start: hour.saturating_sub(DAY_MS),
            end: hour,
        }),
        Frequency::Daily => None,
    }
}

/// One notification as a Slack line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub title: String,
    pub body: Option<String>,
    pub source: String,
    pub category: Category,
    pub priority: Priority,
    pub created_at: EpochMs,
    pub action_url: Option<String>,
}

fn line(item: &Item) -> String {
    let mut line = format!(
        "[{}] {} ({}, {})",
        item.priority, item.title, item.source, item.category
    );
    if let Some(body) = &item.body {
        let short: String = body.chars().take(200).collect();
        line.push_str(": ");
        line.push_str(&short);
    }
    if let Some(url) = &item.action_url {
        line.push_str(&format!(" <{url}>"));
    }
    line
}

/// The digest message of `person` for `period`; `None` when there is nothing to say. `more` is
/// how many items the period held beyond those given.
pub fn digest_text(person: &str, period: &Period, items: &[Item], more: usize) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let total = items.len() + more;
    let noun = if total == 1 {
        "notification"
    } else {
        "notifications"
    };
    let mut text = format!(
        "{} digest for {person}: {total} {noun} from {} to {}",
        match period.frequency {
            Frequency::Hourly => "Hourly",
            Frequency::Daily => "Daily",
        },
        iso8601(period.start),
        iso8601(period.end),
    );
    for item in items.iter().take(DIGEST_ITEMS_MAX) {
        text.push_str("\n• ");
        text.push_str(&line(item));
    }
    let unlisted = total - items.len().min(DIGEST_ITEMS_MAX);
    if unlisted > 0 {
        text.push_str(&format!("\n… and {unlisted} more in the inbox"));
    }
    Some(text)
}

/// The immediate message of one notification for the people who asked for it.
pub fn immediate_text(item: &Item, people: &[&str]) -> String {
    format!("{} (for {})", line(item), people.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: EpochMs = 1_772_496_000_000; // 2026-03-03T00:00:00Z

    fn item(title: &str) -> Item {
        Item {
            title: title.to_owned(),
            body: Some("details".into()),
            source: "platform-usage".into(),
            category: Category::Breaker,
            priority: Priority::High,
            created_at: DAY - HOUR_MS,
            action_url: None,
        }
    }

    #[test]
    fn the_past_hour_is_due_every_hour_and_the_past_day_once_a_day() {
        let run = DAY + 5 * 60_000;
        assert_eq!(
            due(Frequency::Hourly, run),
            Some(Period {
                frequency: Frequency::Hourly,
                start: DAY - HOUR_MS,
                end: DAY
            })
        );
        assert_eq!(
            due(Frequency::Daily, run),
            Some(Period {
                frequency: Frequency::Daily,
                start: DAY - DAY_MS,
                end: DAY
            })
        );
        assert_eq!(due(Frequency::Daily, run + HOUR_MS), None);
        let period = due(Frequency::Daily, run).unwrap_or_else(|| panic!("due"));
        assert_eq!(period.subject("ann"), format!("ann:daily:{}", DAY - DAY_MS));
    }

    #[test]
    fn a_digest_lists_its_items_and_counts_the_rest() {
        let period = Period {
            frequency: Frequency::Daily,
            start: DAY - DAY_MS,
            end: DAY,
        };
        assert_eq!(digest_text("ann", &period, &[], 0), None);
        let text =
            digest_text("ann", &period, &[item("one"), item("two")], 3).unwrap_or_else(|| panic!("a digest"));
        assert!(text.starts_with(
            "Daily digest for ann: 5 notifications from 2026-03-02T00:00:00.000Z to 2026-03-03T00:00:00.000Z"
        ));
        assert!(text.contains("\n• [high] one (platform-usage, breaker): details"));
        assert!(text.ends_with("… and 3 more in the inbox"));
        assert_eq!(
            immediate_text(&item("x"), &["ann", "bob"]),
            "[high] x (platform-usage, breaker): details (for ann, bob)"
        );
    }
}
