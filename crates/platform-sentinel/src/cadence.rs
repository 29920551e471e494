//! How often a feature is expected to be heard from, learned from when it was heard from: the
//! median interval between the UTC hours in which its telemetry was counted over the last days,
//! never less than an hour (the resolution of the activity record).
//!
//! A feature that is quiet at the same hour of the day on several days (a business-hours feature
//! at night) has a recurring quiet interval: silence up to its length is normal, so it is not
//! flagged every night.

use std::collections::BTreeSet;

use platform_core::EpochMs;
use serde::Serialize;

use crate::HOUR_MS;

/// The least activity a cadence is learned from: three active hours (two intervals).
pub const MIN_ACTIVE_HOURS: usize = 3;

/// What was learned of a feature's rhythm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cadence {
    /// The median interval between active hours (ms), at least an hour.
    pub every_ms: u64,
    /// The longest quiet interval that began at the same UTC hour on at least two days (ms), if any.
    pub recurring_quiet_ms: Option<u64>,
    /// Active hours it was learned from.
    pub active_hours: usize,
}

/// Learns a cadence from the start instants of the hours a feature was active in. `None` when
/// there is too little history to tell (fewer than [`MIN_ACTIVE_HOURS`]).
pub fn learn(active_hours: &BTreeSet<EpochMs>) -> Option<Cadence> {
    let hours: BTreeSet<EpochMs> = active_hours.iter().map(|h| h - h % HOUR_MS).collect();
    if hours.len() < MIN_ACTIVE_HOURS {
        return None;
    }
    let hours: Vec<EpochMs> = hours.into_iter().collect();
    let mut intervals: Vec<(EpochMs, u64)> = hours
        .windows(2)
        .map(|w| (w[0], w[1].saturating_sub(w[0])))
        .filter(|(_, gap)| *gap > 0)
        .collect();
    if intervals.is_empty() {
        return None;
    }
    let mut lengths: Vec<u64> = intervals.iter().map(|(_, gap)| *gap).collect();
    lengths.sort_unstable();
    let every_ms = median_u64(&lengths).max(HOUR_MS);
    // A quiet is an interval clearly longer than the usual one; it recurs when another quiet of
    // comparable length (within two hours) began at the same hour of the day on another day.
    intervals.retain(|(_, gap)| *gap > 2 * every_ms);
    let recurring_quiet_ms = intervals
        .iter()
        .filter(|(start, gap)| {
            intervals.iter().any(|(other, other_gap)| {
                other != start
                    && (other % crate::DAY_MS) == (start % crate::DAY_MS)
                    && other_gap.abs_diff(*gap) <= 2 * HOUR_MS
            })
        })
        .map(|(_, gap)| *gap)
        .max();
    Some(Cadence {
        every_ms,
        recurring_quiet_ms,
        active_hours: hours.len(),
    })
}

/// The median of sorted values (the lower middle of an even count: intervals are whole hours).
fn median_u64(sorted: &[u64]) -> u64 {
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = crate::DAY_MS;
    const START: u64 = 1_772_323_200_000; // 2026-03-01T00:00Z

    fn hours(list: impl IntoIterator<Item = u64>) -> BTreeSet<u64> {
        list.into_iter().collect()
    }

    #[test]
    fn a_busy_feature_is_heard_from_every_hour() {
        let cadence = learn(&hours((0..7 * 24).map(|h| START + h * HOUR_MS))).unwrap();
        assert_eq!(cadence.every_ms, HOUR_MS);
        assert_eq!(cadence.recurring_quiet_ms, None);
    }

    #[test]
    fn a_daily_cron_is_heard_from_every_day() {
        let cadence = learn(&hours((0..7).map(|d| START + d * DAY + 2 * HOUR_MS + 300_000))).unwrap();
        assert_eq!(cadence.every_ms, DAY);
    }

    #[test]
    fn missing_hours_do_not_move_the_median() {
        // Hourly, with a few hours lost here and there.
        let list = (0..7 * 24).filter(|h| h % 17 != 0).map(|h| START + h * HOUR_MS);
        assert_eq!(learn(&hours(list)).unwrap().every_ms, HOUR_MS);
    }

    #[test]
    fn a_business_hours_feature_has_a_recurring_night() {
        let list = (0..7).flat_map(|d| (9..17).map(move |h| START + d * DAY + h * HOUR_MS));
        let cadence = learn(&hours(list)).unwrap();
        assert_eq!(cadence.every_ms, HOUR_MS);
        // 16:00 to 09:00 the next day.
        assert_eq!(cadence.recurring_quiet_ms, Some(17 * HOUR_MS));
    }

    #[test]
    fn a_single_outage_is_not_a_recurring_quiet() {
        let list = (0..7 * 24)
            .filter(|h| !(50..60).contains(h))
            .map(|h| START + h * HOUR_MS);
        assert_eq!(learn(&hours(list)).unwrap().recurring_quiet_ms, None);
    }

    #[test]
    fn too_little_history_teaches_nothing() {
        assert_eq!(learn(&BTreeSet::new()), None);
        assert_eq!(learn(&hours([START, START + DAY])), None);
    }

    #[test]
    fn several_messages_in_one_hour_are_one_active_hour() {
        let list = [START, START + 10, START + 20, START + HOUR_MS + 5];
        assert_eq!(learn(&hours(list)), None);
    }
}
