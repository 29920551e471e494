//! Incidents: a condition found by a rule (a gap, a stale heartbeat, an anomaly, a platform worker
//! in trouble) opens an incident once, with one alert, and closes it once, with one recovery
//! notice, when the rule no longer finds it. Nothing is sent in between, however many runs see it.

use std::collections::BTreeSet;
use std::fmt;

use platform_core::time::iso8601;
use platform_core::{EpochMs, FeatureKey, ProjectId};
use serde::Serialize;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// A feature's telemetry went silent for longer than its cadence allows.
    Gap,
    /// A feature's (or Durable Object's) heartbeat went stale.
    Heartbeat,
    /// A feature's daily cost is far above its robust baseline.
    Anomaly,
    /// A platform worker does not answer, or one of its handlers is stale or failing.
    Platform,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 4] = [Self::Gap, Self::Heartbeat, Self::Anomaly, Self::Platform];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Gap => "gap",
            Self::Heartbeat => "heartbeat",
            Self::Anomaly => "anomaly",
            Self::Platform => "platform",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A condition a rule found now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: IncidentKind,
    /// What it is about, unique within the kind: a feature key, `worker` or `worker:handler`.
    pub subject: String,
    pub project: Option<ProjectId>,
    pub feature: Option<FeatureKey>,
    /// When the condition began (the last message before a gap, the anomalous day's start).
    pub since: EpochMs,
    /// One line saying why: the alert's text.
    pub summary: String,
    /// The rule's figures, for `/gaps` and `/anomalies`.
    pub detail: serde_json::Value,
}

/// An incident already open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub kind: IncidentKind,
    pub subject: String,
    pub project: Option<ProjectId>,
    pub feature: Option<FeatureKey>,
    pub opened_at: EpochMs,
    pub since: EpochMs,
}

/// What a run changes.
#[derive(Debug, Default, PartialEq)]
pub struct Changes<'a> {
    /// Findings with no open incident: each opens one and is alerted.
    pub opened: Vec<&'a Finding>,
    /// Open incidents of the kinds evaluated that no finding holds any more: each closes and
    /// gets its recovery notice.
    pub closed: Vec<&'a Open>,
}

/// Compares this run's findings with the open incidents. Only the `evaluated` kinds can close: a
/// rule that could not run (its data unreadable) closes nothing.
pub fn reconcile<'a>(findings: &'a [Finding], open: &'a [Open], evaluated: &[IncidentKind]) -> Changes<'a> {
    let open_keys: BTreeSet<(IncidentKind, &str)> =
        open.iter().map(|o| (o.kind, o.subject.as_str())).collect();
    let found: BTreeSet<(IncidentKind, &str)> =
        findings.iter().map(|f| (f.kind, f.subject.as_str())).collect();
    let mut seen = BTreeSet::new();
    Changes {
        opened: findings
            .iter()
            .filter(|f| !open_keys.contains(&(f.kind, f.subject.as_str())))
            .filter(|f| seen.insert((f.kind, f.subject.as_str())))
            .collect(),
        closed: open
            .iter()
            .filter(|o| evaluated.contains(&o.kind))
            .filter(|o| !found.contains(&(o.kind, o.subject.as_str())))
            .collect(),
    }
}

/// The alert for a finding that opens an incident.
pub fn alert_text(finding: &Finding) -> String {
    format!(":rotating_light: sentinel {}: {}", finding.kind, finding.summary)
}

/// The recovery notice of a closed incident, with how long its condition lasted.
pub fn recovery_text(open: &Open, ended_at: EpochMs) -> String {
    let lasted = ended_at.saturating_sub(open.since);
    format!(
        ":white_check_mark: sentinel {} over: {} recovered at {} after {} (since {})",
        open.kind,
        open.subject,
        iso8601(ended_at),
        duration(lasted),
        iso8601(open.since)
    )
}

/// `2 d 3 h`, `5 h 10 min`, `12 min`.
pub fn duration(ms: u64) -> String {
    let minutes = ms / 60_000;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, h) => format!("{h} h {minutes} min"),
        (d, h) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(kind: IncidentKind, subject: &str) -> Finding {
        Finding {
            kind,
            subject: subject.into(),
            project: None,
            feature: None,
            since: 1,
            summary: format!("{subject} is silent"),
            detail: serde_json::Value::Null,
        }
    }

    fn open(kind: IncidentKind, subject: &str) -> Open {
        Open {
            kind,
            subject: subject.into(),
            project: None,
            feature: None,
            opened_at: 2,
            since: 1,
        }
    }

    #[test]
    fn a_condition_opens_once_and_closes_once() {
        let findings = [finding(IncidentKind::Gap, "a:b:c")];
        let first = reconcile(&findings, &[], &IncidentKind::ALL);
        assert_eq!(first.opened.len(), 1);
        // Seen again while open: nothing to send.
        let still = [open(IncidentKind::Gap, "a:b:c")];
        let again = reconcile(&findings, &still, &IncidentKind::ALL);
        assert!(again.opened.is_empty() && again.closed.is_empty());
        // Gone: one recovery.
        let over = reconcile(&[], &still, &IncidentKind::ALL);
        assert_eq!(over.closed.len(), 1);
    }

    #[test]
    fn a_rule_that_did_not_run_closes_nothing() {
        let still = [open(IncidentKind::Anomaly, "a:b:c")];
        let changes = reconcile(&[], &still, &[IncidentKind::Gap]);
        assert!(changes.closed.is_empty());
    }

    #[test]
    fn the_same_subject_of_another_kind_is_another_incident() {
        let findings = [finding(IncidentKind::Heartbeat, "a:b:c")];
        let still = [open(IncidentKind::Gap, "a:b:c")];
        let changes = reconcile(&findings, &still, &IncidentKind::ALL);
        assert_eq!((changes.opened.len(), changes.closed.len()), (1, 1));
    }

    #[test]
    fn the_recovery_says_how_long_it_lasted() {
        let text = recovery_text(&open(IncidentKind::Gap, "a:b:c"), 1 + 26 * 3_600_000);
        assert!(text.contains("after 1 d 2 h"), "{text}");
        assert_eq!(duration(90 * 60_000), "1 h 30 min");
    }
}
