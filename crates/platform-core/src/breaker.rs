//! Circuit breaker state machines. D1 holds the record of each breaker; KV only broadcasts it, and
//! is written when a transition happens.

use serde::{Deserialize, Serialize};

use crate::budget::{evaluate, Overrun, Period};
use crate::budgets::PeriodLimits;
use crate::settings::Settings;
use crate::time::{after_seconds, EpochMs, UtcDay, UtcMonth};
use crate::usage::MetricTotals;

/// How automatic trips behave, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A trip this soon after an automatic reset counts as consecutive.
    pub cooldown_seconds: u64,
    /// Consecutive trips after which the breaker stays open until an operator resets it (0: never held).
    pub max_consecutive_trips: u64,
}

impl From<&Settings> for Policy {
    fn from(settings: &Settings) -> Self {
        Self {
            cooldown_seconds: settings.cb_cooldown_seconds,
            max_consecutive_trips: settings.cb_max_consecutive_trips,
        }
    }
}

/// A feature's breaker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureBreaker {
    pub open: bool,
    /// Opened by an operator: never reset automatically nor overwritten by evaluation.
    pub manual: bool,
    pub reason: Option<String>,
    pub tripped_at: Option<EpochMs>,
    /// When the sweep closes it; `None` while open means it waits for an operator.
    pub auto_reset_at: Option<EpochMs>,
    pub consecutive_trips: u64,
    pub last_reset_at: Option<EpochMs>,
    /// An operator enabled it: evaluation leaves it running until then (the end of that UTC day).
    pub exempt_until: Option<EpochMs>,
}

impl FeatureBreaker {
    /// Opens the breaker for an overrun, unless it is open already. Returns the new state.
    pub fn trip(&self, overrun: &Overrun, now: EpochMs, policy: Policy) -> Option<Self> {
        if self.open || self.exempt_until.is_some_and(|until| now < until) {
            return None;
        }
        let recent_reset = self
            .last_reset_at
            .is_some_and(|reset| now <= after_seconds(reset, policy.cooldown_seconds));
        let consecutive_trips = if recent_reset {
            self.consecutive_trips + 1
        } else {
            1
        };
        let held = policy.max_consecutive_trips > 0 && consecutive_trips >= policy.max_consecutive_trips;
        let mut reason = overrun.reason();
        if held {
            reason.push_str(&format!(
                "; held off after {consecutive_trips} consecutive trips until an operator enables it"
            ));
        }
        Some(Self {
            open: true,
            manual: false,
            reason: Some(reason),
            tripped_at: Some(now),
            auto_reset_at: (!held).then(|| overrun.period.ends_at()),
            consecutive_trips,
            last_reset_at: self.last_reset_at,
            exempt_until: None,
        })
    }

    /// Opens the breaker by an operator's decision, replacing an automatic trip.
    pub fn disable(&self, reason: &str, now: EpochMs) -> Self {
        Self {
            open: true,
            manual: true,
            reason: Some(reason.to_owned()),
            tripped_at: Some(now),
            auto_reset_at: None,
            consecutive_trips: self.consecutive_trips,
            last_reset_at: self.last_reset_at,
            exempt_until: None,
        }
    }

    /// Closes the breaker by an operator's decision: the consecutive count starts over, and the
    /// feature runs for the rest of the UTC day even over its budget (the operator decided so).
    pub fn enable(&self, now: EpochMs) -> Option<Self> {
        self.open.then(|| Self {
            last_reset_at: Some(now),
            exempt_until: Some(UtcDay::containing(now).next_start_ms()),
            ..Self::default()
        })
    }

    /// Closes an automatic trip whose period has ended. Returns the new state if it was due.
    pub fn sweep(&self, now: EpochMs) -> Option<Self> {
        let due = self.open && !self.manual && self.auto_reset_at.is_some_and(|at| at <= now);
        due.then(|| Self {
            consecutive_trips: self.consecutive_trips,
            last_reset_at: Some(now),
            ..Self::default()
        })
    }
}

/// A project's breaker level in the middleware contract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    #[default]
    Active,
    Warning,
    Paused,
}

impl Level {
    /// The level's word, as stored and broadcast (`active`, `warning`, `paused`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Warning => "warning",
            Self::Paused => "paused",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "active" => Some(Self::Active),
            "warning" => Some(Self::Warning),
            "paused" => Some(Self::Paused),
            _ => None,
        }
    }
}

/// A project's breaker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectBreaker {
    pub level: Level,
    pub manual: bool,
    pub reason: Option<String>,
    pub since: Option<EpochMs>,
    pub auto_reset_at: Option<EpochMs>,
    /// An operator resumed it: evaluation leaves it alone until then (the end of that UTC day).
    pub exempt_until: Option<EpochMs>,
}

/// What a project's usage calls for.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectAssessment {
    pub level: Level,
    pub reason: Option<String>,
    /// For `Paused`: the end of the period whose limit was reached.
    pub period: Option<Period>,
}

impl ProjectAssessment {
    /// A project's level from its totals in the current day and month: paused at a limit,
    /// warning from the lowest warning threshold, otherwise active.
    pub fn of(
        limits: &PeriodLimits,
        day: (UtcDay, &MetricTotals),
        month: (UtcMonth, &MetricTotals),
        thresholds: &[u8],
    ) -> Self {
        let lowest: Vec<u8> = thresholds.iter().copied().min().into_iter().collect();
        let daily = evaluate(Period::Day(day.0), &limits.daily, day.1, &lowest, |_, _| false);
        let monthly = evaluate(
            Period::Month(month.0),
            &limits.monthly,
            month.1,
            &lowest,
            |_, _| false,
        );
        if let Some(overrun) = monthly.overrun.or(daily.overrun) {
            return Self {
                level: Level::Paused,
                reason: Some(overrun.reason()),
                period: Some(overrun.period),
            };
        }
        match monthly.warnings.first().or(daily.warnings.first()) {
            Some(warning) => Self {
                level: Level::Warning,
                reason: Some(warning.message()),
                period: None,
            },
            None => Self {
                level: Level::Active,
                reason: None,
                period: None,
            },
        }
    }
}

impl ProjectBreaker {
    /// The new state if the assessment changes the level. Manual pauses are left alone.
    pub fn assess(&self, assessment: &ProjectAssessment, now: EpochMs) -> Option<Self> {
        let exempt = self.exempt_until.is_some_and(|until| now < until);
        if self.manual || exempt || assessment.level == self.level {
            return None;
        }
        Some(Self {
            level: assessment.level,
            manual: false,
            reason: assessment.reason.clone(),
            since: Some(now),
            auto_reset_at: assessment.period.map(Period::ends_at),
            exempt_until: None,
        })
    }

    pub fn pause(reason: &str, now: EpochMs) -> Self {
        Self {
            level: Level::Paused,
            manual: true,
            reason: Some(reason.to_owned()),
            since: Some(now),
            auto_reset_at: None,
            exempt_until: None,
        }
    }

    /// Resumes the project by an operator's decision, for the rest of the UTC day even over its
    /// limits.
    pub fn resume(&self, now: EpochMs) -> Option<Self> {
        (self.level != Level::Active || self.manual).then(|| Self {
            since: Some(now),
            exempt_until: Some(UtcDay::containing(now).next_start_ms()),
            ..Self::default()
        })
    }

    /// Lifts an automatic pause whose period has ended.
    pub fn sweep(&self, now: EpochMs) -> Option<Self> {
        let due =
            self.level == Level::Paused && !self.manual && self.auto_reset_at.is_some_and(|at| at <= now);
        due.then(|| Self {
            since: Some(now),
            ..Self::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Limit, MetricLimits};
    use crate::metric::Metric;

    const NOON: EpochMs = 1_772_452_800_000; // 2026-03-02T12:00:00Z
    const MIDNIGHT: EpochMs = 1_772_496_000_000; // 2026-03-03T00:00:00Z
    const POLICY: Policy = Policy {
        cooldown_seconds: 300,
        max_consecutive_trips: 3,
    };

    fn overrun(at: EpochMs) -> Overrun {
        Overrun {
            metric: Metric::KvReads,
            value: 120.0,
            limit: 100,
            period: Period::Day(UtcDay::containing(at)),
        }
    }

    #[test]
    fn trips_once_and_resets_when_the_day_turns_over() {
        let open = FeatureBreaker::default()
            .trip(&overrun(NOON), NOON, POLICY)
            .unwrap();
        assert_eq!(open.auto_reset_at, Some(MIDNIGHT));
        assert_eq!(
            open.reason.as_deref(),
            Some("daily budget exceeded: kv_reads = 120 of 100 (2026-03-02)")
        );
        assert_eq!(
            open.trip(&overrun(NOON), NOON + 1, POLICY),
            None,
            "an open breaker does not trip again"
        );
        assert_eq!(open.sweep(MIDNIGHT - 1), None);
        let closed = open.sweep(MIDNIGHT).unwrap();
        assert!(!closed.open);
        assert_eq!(
            (closed.consecutive_trips, closed.last_reset_at),
            (1, Some(MIDNIGHT))
        );
    }

    #[test]
    fn a_monthly_trip_lasts_until_the_next_month() {
        let monthly = Overrun {
            period: Period::Month(UtcMonth::containing(NOON)),
            ..overrun(NOON)
        };
        let open = FeatureBreaker::default().trip(&monthly, NOON, POLICY).unwrap();
        assert_eq!(
            crate::time::iso8601(open.auto_reset_at.unwrap()),
            "2026-04-01T00:00:00.000Z"
        );
    }

    #[test]
    fn consecutive_trips_hold_the_breaker_for_an_operator() {
        let mut breaker = FeatureBreaker::default();
        let mut now = NOON;
        for trip in 1..=3 {
            breaker = breaker.trip(&overrun(now), now, POLICY).unwrap();
            assert_eq!(breaker.consecutive_trips, trip);
            if trip < 3 {
                now = breaker.auto_reset_at.unwrap();
                breaker = breaker.sweep(now).unwrap();
                now += 60_000; // trips again a minute after the reset: within the cooldown
            }
        }
        assert!(breaker.open && breaker.auto_reset_at.is_none(), "{breaker:?}");
        assert!(breaker
            .reason
            .as_deref()
            .unwrap()
            .contains("held off after 3 consecutive trips"));
        assert_eq!(breaker.sweep(now + 86_400_000 * 30), None);
        let enabled = breaker.enable(now).unwrap();
        assert_eq!(enabled.consecutive_trips, 0);
        assert_eq!(
            enabled.trip(&overrun(now), now, POLICY),
            None,
            "an operator's enable holds for the day"
        );
        let tomorrow = enabled.exempt_until.unwrap();
        assert!(enabled.trip(&overrun(tomorrow), tomorrow, POLICY).is_some());
    }

    #[test]
    fn a_trip_long_after_a_reset_starts_the_count_over() {
        let open = FeatureBreaker::default()
            .trip(&overrun(NOON), NOON, POLICY)
            .unwrap();
        let closed = open.sweep(MIDNIGHT).unwrap();
        let later = MIDNIGHT + 3_600_000;
        assert_eq!(
            closed
                .trip(&overrun(later), later, POLICY)
                .unwrap()
                .consecutive_trips,
            1
        );
    }

    #[test]
    fn manual_trips_are_never_swept_nor_overwritten() {
        let manual = FeatureBreaker::default().disable("maintenance", NOON);
        assert_eq!(manual.sweep(MIDNIGHT * 2), None);
        assert_eq!(manual.trip(&overrun(NOON), NOON, POLICY), None);
        assert!(!manual.enable(NOON).unwrap().open);
        assert_eq!(FeatureBreaker::default().enable(NOON), None);
    }

    #[test]
    fn a_project_is_assessed_from_its_daily_and_monthly_totals() {
        let limits = PeriodLimits {
            daily: MetricLimits([(Metric::KvReads, Limit(100))].into()),
            monthly: MetricLimits([(Metric::KvReads, Limit(1000))].into()),
        };
        let day = UtcDay::containing(NOON);
        let assess = |today: f64, month: f64| {
            let today: MetricTotals = [(Metric::KvReads, today)].into();
            let month_totals: MetricTotals = [(Metric::KvReads, month)].into();
            ProjectAssessment::of(&limits, (day, &today), (day.month(), &month_totals), &[70, 90])
        };
        assert_eq!(assess(10.0, 10.0).level, Level::Active);
        assert_eq!(assess(75.0, 75.0).level, Level::Warning);
        let paused = assess(100.0, 100.0);
        assert_eq!(
            (paused.level, paused.period),
            (Level::Paused, Some(Period::Day(day)))
        );
        let monthly = assess(10.0, 1000.0);
        assert_eq!(monthly.period, Some(Period::Month(day.month())));
    }

    #[test]
    fn projects_move_between_levels_and_manual_pauses_stay() {
        let paused = ProjectAssessment {
            level: Level::Paused,
            reason: Some("daily budget exceeded".into()),
            period: Some(Period::Day(UtcDay::containing(NOON))),
        };
        let project = ProjectBreaker::default().assess(&paused, NOON).unwrap();
        assert_eq!(
            (project.level, project.auto_reset_at),
            (Level::Paused, Some(MIDNIGHT))
        );
        assert_eq!(
            project.assess(&paused, NOON + 1),
            None,
            "writes only on a transition"
        );
        assert_eq!(project.sweep(MIDNIGHT).unwrap().level, Level::Active);
        let manual = ProjectBreaker::pause("incident", NOON);
        let active = ProjectAssessment {
            level: Level::Active,
            reason: None,
            period: None,
        };
        assert_eq!(manual.assess(&active, NOON), None);
        assert_eq!(manual.sweep(MIDNIGHT * 2), None);
        let resumed = manual.resume(NOON).unwrap();
        assert_eq!(resumed.level, Level::Active);
        assert_eq!(
            resumed.assess(&paused, NOON + 1),
            None,
            "an operator's resume holds for the day"
        );
        assert!(resumed.assess(&paused, MIDNIGHT).is_some());
    }
}
