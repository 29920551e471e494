//! Gap detection: a feature is in a gap when it has been silent for longer than its rule allows,
//! a multiple of its learned cadence (or its recurring quiet, when that is longer).

use std::collections::BTreeSet;

use platform_core::EpochMs;
use serde::Serialize;

use crate::cadence::{self, Cadence};

/// The gap rule's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GapRule {
    /// Silence longer than this multiple of the cadence is a gap.
    pub multiple: f64,
}

impl GapRule {
    pub const DEFAULT_MULTIPLE: f64 = 1.5;

    /// The rule with `multiple`, refused unless it is a number from 1 to 10.
    pub fn new(multiple: f64) -> Result<Self, String> {
        if multiple.is_finite() && (1.0..=10.0).contains(&multiple) {
            Ok(Self { multiple })
        } else {
            Err(format!(
                "the gap multiple {multiple} is not a number from 1 to 10"
            ))
        }
    }
}

impl Default for GapRule {
    fn default() -> Self {
        Self {
            multiple: Self::DEFAULT_MULTIPLE,
        }
    }
}

/// What is known of one feature's telemetry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// The start of each UTC hour it was heard in, over the window.
    pub active_hours: BTreeSet<EpochMs>,
    /// Its latest message.
    pub last_seen: EpochMs,
}

/// A feature's state against the rule, as `/gaps` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GapState {
    /// Too little history to know its rhythm: never flagged.
    Learning { active_hours: usize },
    /// Heard from within its allowance.
    Ok {
        cadence: Cadence,
        silent_ms: u64,
        allowed_ms: u64,
    },
    /// Silent for longer than its allowance.
    Gap {
        cadence: Cadence,
        silent_ms: u64,
        allowed_ms: u64,
        since: EpochMs,
    },
}

impl GapState {
    pub fn is_gap(&self) -> bool {
        matches!(self, Self::Gap { .. })
    }
}

/// How long a feature with `cadence` may be silent.
pub fn allowance(rule: GapRule, cadence: &Cadence) -> u64 {
    let scaled = (cadence.every_ms as f64 * rule.multiple).round() as u64;
    scaled.max(cadence.recurring_quiet_ms.unwrap_or(0))
}

/// The feature's state at `now`: against `declared_every_ms` when services.yaml declares its
/// interval (`expect: every 24h`), else against the cadence learned from its activity.
pub fn assess(rule: GapRule, heard: &Heard, declared_every_ms: Option<u64>, now: EpochMs) -> GapState {
    let learned = match declared_every_ms {
        Some(every_ms) => Some(Cadence {
            every_ms: every_ms.max(1),
            recurring_quiet_ms: None,
            active_hours: heard.active_hours.len(),
        }),
        None => cadence::learn(&heard.active_hours),
    };
    let Some(cadence) = learned else {
        return GapState::Learning {
            active_hours: heard.active_hours.len(),
        };
    };
    let silent_ms = now.saturating_sub(heard.last_seen);
    let allowed_ms = allowance(rule, &cadence);
    if silent_ms > allowed_ms {
        GapState::Gap {
            cadence,
            silent_ms,
            allowed_ms,
            since: heard.last_seen,
        }
    } else {
        GapState::Ok {
            cadence,
            silent_ms,
            allowed_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DAY_MS, HOUR_MS};

    const START: u64 = 1_772_323_200_000; // 2026-03-01T00:00Z

    fn daily_at_2am(days: u64) -> Heard {
        let active_hours: BTreeSet<u64> = (0..days).map(|d| START + d * DAY_MS + 2 * HOUR_MS).collect();
        let last_seen = active_hours.iter().max().copied().unwrap_or(0) + 60_000;
        Heard {
            active_hours,
            last_seen,
        }
    }

    #[test]
    fn a_daily_cron_is_not_a_gap_between_runs_but_is_after_a_missed_day() {
        let heard = daily_at_2am(7);
        let rule = GapRule::default();
        // The next morning, before its run: 23 hours of silence.
        assert!(!assess(rule, &heard, None, heard.last_seen + 23 * HOUR_MS).is_gap());
        // A day's run missed: 37 hours of silence.
        let state = assess(rule, &heard, None, heard.last_seen + 37 * HOUR_MS);
        assert!(state.is_gap(), "{state:?}");
    }

    #[test]
    fn a_busy_feature_silent_for_three_times_its_cadence_is_a_gap() {
        let active_hours: BTreeSet<u64> = (0..7 * 24).map(|h| START + h * HOUR_MS).collect();
        let last_seen = START + 7 * DAY_MS - 1;
        let heard = Heard {
            active_hours,
            last_seen,
        };
        assert!(!assess(GapRule::default(), &heard, None, last_seen + HOUR_MS).is_gap());
        match assess(GapRule::default(), &heard, None, last_seen + 3 * HOUR_MS) {
            GapState::Gap {
                since, allowed_ms, ..
            } => {
                assert_eq!(since, last_seen);
                assert_eq!(allowed_ms, 90 * 60_000);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_feature_still_learning_is_never_a_gap() {
        let heard = daily_at_2am(2);
        assert_eq!(
            assess(GapRule::default(), &heard, None, heard.last_seen + 30 * DAY_MS),
            GapState::Learning { active_hours: 2 }
        );
    }

    #[test]
    fn a_declared_interval_needs_no_history_and_wins_over_the_learned_one() {
        let once = Heard {
            active_hours: BTreeSet::from([START]),
            last_seen: START,
        };
        let rule = GapRule::default();
        assert!(!assess(rule, &once, Some(DAY_MS), START + 30 * HOUR_MS).is_gap());
        assert!(assess(rule, &once, Some(DAY_MS), START + 37 * HOUR_MS).is_gap());
        // Declared weekly, though it ran daily this week: two silent days are fine.
        let heard = daily_at_2am(7);
        assert!(!assess(rule, &heard, Some(7 * DAY_MS), heard.last_seen + 2 * DAY_MS).is_gap());
    }

    #[test]
    fn the_multiple_is_validated() {
        assert!(GapRule::new(0.5).is_err());
        assert!(GapRule::new(f64::NAN).is_err());
        assert_eq!(GapRule::new(3.0).map(|r| r.multiple), Ok(3.0));
    }
}
