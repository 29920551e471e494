//! Applies a run's findings: opens the incidents that are new and closes those that ended, each
//! in the same D1 batch as its alert in the shared outbox; a silenced one is recorded, not sent.
//! A project's incidents of one kind opened (or closed) in one run past a few go as one alert.

use platform_core::alert::AlertSubject;
use platform_db::sentinel::{self, Incident};
use platform_sentinel::incident::{self, Finding, IncidentKind, Notice, Open};
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

fn enqueue(notice: &Notice, now: u64) -> platform_db::Statement {
    let alert = Alert {
        subject: AlertSubject::Sentinel {
            kind: notice.kind.name(),
            subject: notice.subject.clone(),
            opened_at: notice.opened_at,
            recovered: notice.recovered,
        },
        text: notice.text.clone(),
    };
    alerts::enqueue(&alert, now)
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
    let mut alerted = Vec::new();
    for finding in changes.opened {
        let label = format!("{}:{}", finding.kind, finding.subject);
        let silence = silencing(silences, finding.into(), now);
        statements.push(sentinel::open(finding, silence.map(|s| s.id), now));
        if silence.is_some() {
            applied.silenced.push(label);
            continue;
        }
        alerted.push(finding);
        if finding.kind == IncidentKind::Gap {
            new_gaps.push(finding.clone());
        }
        applied.opened.push(label);
    }
    statements.extend(
        incident::opened_notices(&alerted, now)
            .iter()
            .map(|n| enqueue(n, now)),
    );
    let mut recovered = Vec::new();
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
        recovered.push(ended);
        applied.closed.push(label);
    }
    statements.extend(
        incident::recovery_notices(&recovered, now)
            .iter()
            .map(|n| enqueue(n, now)),
    );
    db.batch("recording incidents", statements).await?;
    Ok((applied, new_gaps))
}
