//! What a tail batch tells about pattern discovery's patterns: each shadow pattern matching an
//! error nothing classified, and each approved pattern that classified one, counted per pattern,
//! fingerprint and day, so the collector writes them once per batch.

use std::collections::BTreeMap;

use crate::capture::Occurrence;
use crate::event::ErrorKind;
use crate::patterns::Patterns;
use crate::transient;

/// One pattern matching one fingerprint on one UTC day (days since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sighting {
    pub pattern: String,
    pub fingerprint: String,
    pub day: u64,
}

const DAY_MS: u64 = 86_400_000;

/// What a batch's occurrences tell about the patterns, counted per pattern, fingerprint and day:
/// every shadow pattern matching an error nothing classified (without changing how it is filed),
/// and the approved pattern that classified one (so an approved pattern that stops matching can
/// go stale). Limits and programming errors are never transient, so no pattern applies to them.
pub fn sightings(
    occurrences: &[Occurrence],
    approved: &Patterns,
    shadow: &Patterns,
) -> BTreeMap<Sighting, u64> {
    let mut seen = BTreeMap::new();
    if approved.is_empty() && shadow.is_empty() {
        return seen;
    }
    for o in occurrences {
        let limit = matches!(o.kind, ErrorKind::CpuLimit | ErrorKind::MemoryLimit);
        if limit || transient::never_transient(&o.sample, o.exception.as_deref()) {
            continue;
        }
        let ids: Vec<&str> = match &o.category {
            // Classified by the static table or an approved pattern: only the approved one counts.
            Some(category) => approved
                .first_match(&o.sample)
                .filter(|p| &p.category == category)
                .filter(|_| transient::classify(&o.sample, o.exception.as_deref()).is_none())
                .and_then(|p| p.id.as_deref())
                .into_iter()
                .collect(),
            None => shadow
                .matching(&o.sample)
                .filter_map(|p| p.id.as_deref())
                .collect(),
        };
        for id in ids {
            let sighting = Sighting {
                pattern: id.to_owned(),
                fingerprint: o.fingerprint.clone(),
                day: o.at / DAY_MS,
            };
            *seen.entry(sighting).or_insert(0) += 1;
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::capture;
    use crate::event::TailEvent;
    use serde_json::json;

    fn soft(message: &str, at: u64) -> TailEvent {
        TailEvent::from_json(&json!({
            "scriptName": "shop", "outcome": "ok", "eventTimestamp": at,
            "logs": [{"level": "error", "message": [message]}]
        }))
        .unwrap_or_else(|| panic!("event"))
    }

    #[test]
    fn sightings_count_shadow_matches_of_unclassified_errors_per_day() {
        let shadow = Patterns::parse(&[
            json!({"id": "p1", "type": "contains", "value": "vendor slow", "category": "vendor"}),
            json!({"id": "p2", "type": "contains", "value": "slow", "category": "slow"}),
        ]);
        let approved = Patterns::default();
        let day = 20_000 * DAY_MS;
        let mut occurrences = Vec::new();
        for (message, at) in [
            ("vendor was slow for order 1", day + 5),
            ("vendor was slow for order 2", day + 6),
            ("vendor was slow for order 3", day + DAY_MS),
            ("upstream timed out while slow", day),
        ] {
            occurrences.extend(capture(&soft(message, at), "shop", &approved, 0));
        }
        let bug = TailEvent::from_json(&json!({"outcome": "exception", "eventTimestamp": day,
            "exceptions": [{"name": "TypeError", "message": "vendor slow is not a function"}]}))
        .unwrap_or_else(|| panic!("event"));
        occurrences.extend(capture(&bug, "shop", &approved, 0));
        let seen = sightings(&occurrences, &approved, &shadow);
        let count = |pattern: &str, d: u64| -> u64 {
            seen.iter()
                .filter(|(s, _)| s.pattern == pattern && s.day == d)
                .map(|(_, n)| n)
                .sum()
        };
        // The timed-out one was classified (timeout) and the TypeError is a bug: neither counts.
        assert_eq!(count("p1", 20_000), 2);
        assert_eq!(count("p1", 20_001), 1);
        assert_eq!(count("p2", 20_000), 2);
        assert_eq!(seen.len(), 4, "{seen:?}");
    }

    #[test]
    fn an_approved_pattern_counts_the_errors_it_classified() {
        let approved = Patterns::parse(&[
            json!({"id": "a1", "type": "contains", "value": "vendor slow", "category": "vendor"}),
        ]);
        let occurrences = capture(&soft("vendor slow again", 7), "shop", &approved, 0);
        let seen = sightings(&occurrences, &approved, &Patterns::default());
        assert_eq!(
            seen.keys().map(|s| s.pattern.as_str()).collect::<Vec<_>>(),
            ["a1"]
        );
    }
}
