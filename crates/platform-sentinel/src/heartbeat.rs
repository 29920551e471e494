//! Stale heartbeats: the SDK's `health()` and the Durable Object heartbeat send
//! `is_heartbeat: true` messages, whose latest platform-usage records per feature. A heartbeat is
//! stale when it is older than the feature's allowance: its learned cadence's (see [`crate::gaps`])
//! when the feature has one, and never less than [`MIN_ALLOWANCE_MS`] (three of the Durable
//! Object heartbeat's default five-minute intervals, with room for scheduling).

use platform_core::EpochMs;

use crate::cadence::Cadence;
use crate::gaps::{allowance, GapRule};

/// The least a heartbeat may be late by before it is stale.
pub const MIN_ALLOWANCE_MS: u64 = 30 * 60_000;

/// How long the heartbeat of a feature with `cadence` may be silent.
pub fn heartbeat_allowance(rule: GapRule, cadence: Option<&Cadence>) -> u64 {
    cadence.map_or(0, |c| allowance(rule, c)).max(MIN_ALLOWANCE_MS)
}

/// Whether a heartbeat last seen at `last_heartbeat` is stale at `now`.
pub fn is_stale(allowance_ms: u64, last_heartbeat: EpochMs, now: EpochMs) -> bool {
    now.saturating_sub(last_heartbeat) > allowance_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DAY_MS, HOUR_MS};

    #[test]
    fn a_heartbeat_is_stale_past_its_own_cadence() {
        let rule = GapRule::default();
        let daily = Cadence {
            every_ms: DAY_MS,
            recurring_quiet_ms: None,
            active_hours: 7,
        };
        let allowed = heartbeat_allowance(rule, Some(&daily));
        assert_eq!(allowed, 36 * HOUR_MS);
        assert!(!is_stale(allowed, 0, 30 * HOUR_MS));
        assert!(is_stale(allowed, 0, 37 * HOUR_MS));
    }

    #[test]
    fn an_unknown_cadence_allows_half_an_hour() {
        let allowed = heartbeat_allowance(GapRule::default(), None);
        assert!(!is_stale(allowed, 0, 29 * 60_000));
        assert!(is_stale(allowed, 0, 31 * 60_000));
    }
}
