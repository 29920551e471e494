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

/// Alerts of one kind about one project in one run past which they go as one: a deployment that
/// stops takes all its features quiet at once, and twenty alerts would bury the one that matters.
pub const GROUPED_PAST: usize = 3;
/// Subjects a grouped alert names before "and N more" (`GET /gaps` and `/anomalies` list all).
const NAMED_IN_GROUP: usize = 10;

/// An alert a run sends: about one incident, or about a project's incidents of one kind together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: IncidentKind,
    /// The incident's subject, or `project:{id}` for a group.
    pub subject: String,
    pub opened_at: EpochMs,
    pub recovered: bool,
    pub text: String,
}

/// Items grouped by kind and project, in the order they first appear; those without a project
/// stand alone.
fn grouped<'a, T>(
    items: &[&'a T],
    key: impl Fn(&T) -> (IncidentKind, Option<&ProjectId>),
) -> Vec<Vec<&'a T>> {
    let mut groups: Vec<Vec<&T>> = Vec::new();
    for item in items {
        let found = match key(item) {
            (_, None) => None,
            wanted => groups.iter_mut().find(|g| key(g[0]) == wanted),
        };
        match found {
            Some(group) => group.push(item),
            None => groups.push(vec![item]),
        }
    }
    groups
}

/// `a, b, c` or `a, b, … and 12 more`.
fn named(subjects: impl ExactSizeIterator<Item = String>) -> String {
    let total = subjects.len();
    let mut list: Vec<String> = subjects.take(NAMED_IN_GROUP).collect();
    if total > NAMED_IN_GROUP {
        list.push(format!("and {} more", total - NAMED_IN_GROUP));
    }
    list.join(", ")
}

/// The alerts for the incidents a run opens.
pub fn opened_notices(opened: &[&Finding], now: EpochMs) -> Vec<Notice> {
    let mut notices = Vec::new();
    for group in grouped(opened, |f| (f.kind, f.project.as_ref())) {
        let first = group[0];
        let notice = match (&first.project, group.len() > GROUPED_PAST) {
            (Some(project), true) => Notice {
                kind: first.kind,
                subject: format!("project:{project}"),
                opened_at: now,
                recovered: false,
                text: format!(
                    ":rotating_light: sentinel {}: {} in project {project} at once: {}. The first: {}",
                    first.kind,
                    group.len(),
                    named(group.iter().map(|f| f.subject.clone())),
                    first.summary
                ),
            },
            _ => {
                notices.extend(group.iter().map(|f| Notice {
                    kind: f.kind,
                    subject: f.subject.clone(),
                    opened_at: now,
                    recovered: false,
                    text: alert_text(f),
                }));
                continue;
            }
        };
        notices.push(notice);
    }
    notices
}

/// The recovery notices for the incidents a run closes.
pub fn recovery_notices(closed: &[&Open], now: EpochMs) -> Vec<Notice> {
    let mut notices = Vec::new();
    for group in grouped(closed, |o| (o.kind, o.project.as_ref())) {
        let first = group[0];
        match (&first.project, group.len() > GROUPED_PAST) {
            (Some(project), true) => notices.push(Notice {
                kind: first.kind,
                subject: format!("project:{project}"),
                opened_at: now,
                recovered: true,
                text: format!(
                    ":white_check_mark: sentinel {} over: {} in project {project} recovered at {}: {}",
                    first.kind,
                    group.len(),
                    iso8601(now),
                    named(group.iter().map(|o| {
                        format!("{} (after {})", o.subject, duration(now.saturating_sub(o.since)))
                    }))
                ),
            }),
            _ => notices.extend(group.iter().map(|o| Notice {
                kind: o.kind,
                subject: o.subject.clone(),
                opened_at: o.opened_at,
                recovered: true,
                text: recovery_text(o, now),
            })),
        }
    }
    notices
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

    fn in_project(mut f: Finding, project: &str) -> Finding {
        f.project = ProjectId::parse(project).ok();
        f
    }

    #[test]
    fn a_project_going_quiet_at_once_is_one_alert_naming_each_feature() {
        let quiet: Vec<Finding> = (0..12)
            .map(|i| in_project(finding(IncidentKind::Gap, &format!("shop:jobs:j{i}")), "shop"))
            .chain([
                in_project(finding(IncidentKind::Gap, "blog:api:a"), "blog"),
                in_project(finding(IncidentKind::Anomaly, "shop:api:x"), "shop"),
                finding(IncidentKind::Platform, "sentinel:watch"),
            ])
            .collect();
        let refs: Vec<&Finding> = quiet.iter().collect();
        let notices = opened_notices(&refs, 7);
        let subjects: Vec<&str> = notices.iter().map(|n| n.subject.as_str()).collect();
        assert_eq!(
            subjects,
            ["project:shop", "blog:api:a", "shop:api:x", "sentinel:watch"]
        );
        let group = &notices[0].text;
        assert!(group.contains("12 in project shop"), "{group}");
        assert!(
            group.contains("shop:jobs:j0, ") && group.contains("j9, and 2 more"),
            "{group}"
        );
        assert!(!group.contains("j10"), "{group}");
        assert!(group.ends_with("shop:jobs:j0 is silent"), "{group}");
        // Three or fewer go one by one.
        let few: Vec<&Finding> = quiet[..GROUPED_PAST].iter().collect();
        assert_eq!(opened_notices(&few, 7).len(), GROUPED_PAST);
    }

    #[test]
    fn recoveries_of_a_project_together_are_one_notice_with_each_duration() {
        let mut ended: Vec<Open> = (0..4)
            .map(|i| open(IncidentKind::Gap, &format!("shop:jobs:j{i}")))
            .collect();
        for o in &mut ended {
            o.project = ProjectId::parse("shop").ok();
        }
        let refs: Vec<&Open> = ended.iter().collect();
        let notices = recovery_notices(&refs, 1 + 90 * 60_000);
        assert_eq!(notices.len(), 1);
        assert!(notices[0].recovered);
        assert!(
            notices[0].text.contains("shop:jobs:j3 (after 1 h 30 min)"),
            "{}",
            notices[0].text
        );
    }

    #[test]
    fn the_recovery_says_how_long_it_lasted() {
        let text = recovery_text(&open(IncidentKind::Gap, "a:b:c"), 1 + 26 * 3_600_000);
        assert!(text.contains("after 1 d 2 h"), "{text}");
        assert_eq!(duration(90 * 60_000), "1 h 30 min");
    }
}
