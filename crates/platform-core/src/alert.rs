//! What an alert is about. Two alerts with the same subject say the same thing: delivery dedups
//! on it (`SLACK_ALERT:{kind}:{subject}`) and the outbox recalls a lasting condition by it, so
//! each subject is declared here once instead of formatted by hand where it is raised.

use std::fmt;

use crate::budget::Period;
use crate::time::UtcDay;
use crate::{EpochMs, FeatureKey, Metric, ProjectId};

/// How bad a condition of the platform itself is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        })
    }
}

/// The subject of an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertSubject {
    /// A budget threshold reached: each feature, metric, period and threshold is its own message.
    Budget {
        feature: FeatureKey,
        metric: Metric,
        period: Period,
        threshold: u8,
    },
    /// A feature stopped: a trip in a new period, or a repeat that holds it, is news; the same
    /// trip is not.
    Trip {
        feature: FeatureKey,
        tripped_at: EpochMs,
        consecutive_trips: u64,
    },
    /// A tripped feature runs again.
    Reset { feature: FeatureKey, at: EpochMs },
    /// A project changed level (`active`, `warning`, `paused`).
    Project { project: ProjectId, level: &'static str },
    /// An operator stopped everything: each stop ordered is news.
    GlobalStop { at: EpochMs },
    /// The error collector reached the account's daily issue cap.
    AccountDailyCap { day: UtcDay },
    /// GitHub refuses the collector (`token`, `permission`).
    GitHubRefusal { refusal: &'static str },
    /// One of a worker's handlers stopped running or keeps failing.
    Handler {
        severity: Severity,
        handler: &'static str,
    },
    /// Pattern discovery has suggestions to review (new ones, or ones ready after their shadow):
    /// at most one message a day.
    Patterns { day: UtcDay },
    /// A cost alert: an account budget threshold, a forecast, a Free plan limit. The subject
    /// names the period, so each is said once per period.
    Cost { subject: String },
    /// A sentinel incident opened (`recovered: false`) or closed: each is said once.
    Sentinel {
        kind: &'static str,
        subject: String,
        opened_at: EpochMs,
        recovered: bool,
    },
}

impl AlertSubject {
    /// The alert's kind: a single word.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Budget { .. } => "budget",
            Self::Trip { .. } => "trip",
            Self::Reset { .. } => "reset",
            Self::Project { .. } => "project",
            Self::GlobalStop { .. } => "global",
            Self::AccountDailyCap { .. } | Self::GitHubRefusal { .. } | Self::Handler { .. } => "collector",
            Self::Patterns { .. } => "patterns",
            Self::Sentinel { .. } => "sentinel",
            Self::Cost { .. } => "cost",
        }
    }
}

impl fmt::Display for AlertSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Budget {
                feature,
                metric,
                period,
                threshold,
            } => write!(f, "{feature}:{metric}:{}:{threshold}", period.id()),
            Self::Trip {
                feature,
                tripped_at,
                consecutive_trips,
            } => write!(f, "{feature}:{tripped_at}:{consecutive_trips}"),
            Self::Reset { feature, at } => write!(f, "{feature}:{at}"),
            Self::Project { project, level } => write!(f, "{project}:{level}"),
            Self::GlobalStop { at } => write!(f, "{at}"),
            Self::AccountDailyCap { day } => write!(f, "warning:account-daily-cap:{day}"),
            Self::GitHubRefusal { refusal } => write!(f, "critical:github-{refusal}"),
            Self::Handler { severity, handler } => write!(f, "{severity}:handler:{handler}"),
            Self::Patterns { day } => write!(f, "info:suggestions:{day}"),
            Self::Cost { subject } => f.write_str(subject),
            Self::Sentinel {
                kind,
                subject,
                opened_at,
                recovered,
            } => write!(
                f,
                "{kind}:{subject}:{opened_at}:{}",
                if *recovered { "recovered" } else { "open" }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature() -> FeatureKey {
        FeatureKey::parse("app:api:search").unwrap_or_else(|e| panic!("{e}"))
    }

    /// The subjects are dedup keys already in KV and D1: they must not change shape.
    #[test]
    fn subjects_keep_the_shapes_stored_before() {
        let day = UtcDay::containing(1_772_496_000_000);
        let cases = [
            (
                AlertSubject::Budget {
                    feature: feature(),
                    metric: Metric::D1Writes,
                    period: Period::Day(day),
                    threshold: 70,
                },
                "budget",
                format!("app:api:search:{}:{day}:70", Metric::D1Writes),
            ),
            (
                AlertSubject::Trip {
                    feature: feature(),
                    tripped_at: 5,
                    consecutive_trips: 2,
                },
                "trip",
                "app:api:search:5:2".to_owned(),
            ),
            (AlertSubject::GlobalStop { at: 9 }, "global", "9".to_owned()),
            (
                AlertSubject::Handler {
                    severity: Severity::Critical,
                    handler: "retry",
                },
                "collector",
                "critical:handler:retry".to_owned(),
            ),
            (
                AlertSubject::GitHubRefusal { refusal: "token" },
                "collector",
                "critical:github-token".to_owned(),
            ),
        ];
        for (subject, kind, text) in cases {
            assert_eq!((subject.kind(), subject.to_string()), (kind, text));
        }
    }
}
