//! Applies a run's findings: opens the incidents that are new and closes those that ended, each
//! in the same D1 batch as its alert in the shared outbox; a silenced one is recorded, not sent.

use platform_core::alert::AlertSubject;
use platform_db::sentinel::{self, Incident};
use platform_sentinel::incident::{self, Finding, IncidentKind, Open};
use platform_sentinel::silences::{silencing, Silence};
use platform_worker::alerts::{self, Alert};
use platform_worker::{ApiError, PlatformDb};
use serde::Serialize;

/// What a run changed.
#[derive(Debug, Default, Serialize)]
pub struct Applied {
    pub opened: Vec<String>,
    pub closed: Vec<String>,
    /// Opened or closed, but held back by a silence.
    pub silenced: Vec<String>,
}

fn subject(open: &Open, opened_at: u64, recovered: bool) -> AlertSubject {
    AlertSubject::Sentinel {
        kind: open.kind.name(),
        subject: open.subject.clone(),
        opened_at,
        recovered,
    }
}

fn as_open(finding: &Finding, now: u64) -> Open {
    Open {
        kind: finding.kind,
        subject: finding.subject.clone(),
        project: finding.project.clone(),
        feature: finding.feature.clone(),
        opened_at: now,
        since: finding.since,
    }
}

/// Reconciles `findings` of the `evaluated` kinds with the open incidents and writes the
/// changes in one batch. Returns the new gaps not silenced, for the error collector.
pub async fn apply(
    db: &PlatformDb,
    findings: &[Finding],
    evaluated: &[IncidentKind],
    open: &[Incident],
    silences: &[Silence],
    now: u64,
) -> Result<(Applied, Vec<Finding>), ApiError> {
    let opens: Vec<Open> = open.iter().map(|i| i.open.clone()).collect();
    let changes = incident::reconcile(findings, &opens, evaluated);
    let mut statements = Vec::new();
    let mut applied = Applied::default();
    let mut new_gaps = Vec::new();
    for finding in changes.opened {
        let label = format!("{}:{}", finding.kind, finding.subject);
        let silence = silencing(silences, finding.into(), now);
        statements.push(sentinel::open(finding, silence.map(|s| s.id), now));
        if silence.is_some() {
            applied.silenced.push(label);
            continue;
        }
        let alert = Alert {
            subject: subject(&as_open(finding, now), now, false),
            text: incident::alert_text(finding),
        };
        statements.push(alerts::enqueue(&alert, now));
        if finding.kind == IncidentKind::Gap {
            new_gaps.push(finding.clone());
        }
        applied.opened.push(label);
    }
    for ended in changes.closed {
        let Some(row) = open
            .iter()
            .find(|i| i.open.kind == ended.kind && i.open.subject == ended.subject)
        else {
            continue;
        };
        let label = format!("{}:{}", ended.kind, ended.subject);
        statements.push(sentinel::close(row.id, now));
        if row.silenced_by.is_some() || silencing(silences, ended.into(), now).is_some() {
            applied.silenced.push(label);
            continue;
        }
        let alert = Alert {
            subject: subject(ended, ended.opened_at, true),
            text: incident::recovery_text(ended, now),
        };
        statements.push(alerts::enqueue(&alert, now));
        applied.closed.push(label);
    }
    db.batch("recording incidents", statements).await?;
    Ok((applied, new_gaps))
}
