//! The usage ledger: what a telemetry batch reads before deciding (one round trip, [`snapshot`])
//! and everything it writes after (one transaction, [`Transaction`]).

use std::collections::{BTreeMap, BTreeSet};

use platform_core::breaker::{FeatureBreaker, ProjectBreaker};
use platform_core::usage::{MetricTotals, Subject};
use platform_core::{EpochMs, FeatureKey, Metric, ProjectId};

use super::{
    select_feature_breakers, select_project_breakers, set_feature_breaker, set_project_breaker,
    FeatureBreakerRow, ProjectBreakerRow,
};
use crate::db::lenient;
use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::{Outcome, Sql};
use crate::statement::{insert_rows, select_in, Statement};
use crate::tables::{
    BREAKER_EVENTS, BUDGET_WARNINGS, FEATURE_HEALTH, TELEMETRY_REJECTS, TELEMETRY_SEEN, USAGE_TOTALS,
};
use crate::value::Value;

/// Totals per subject and period id (`2026-03-02`, `2026-03`).
pub type Totals = BTreeMap<(Subject, String), MetricTotals>;

/// Warnings already sent: feature, metric, period id, threshold.
pub type Warned = BTreeSet<(FeatureKey, Metric, String, u8)>;

/// The state of a batch's messages, features and projects before the batch.
#[derive(Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The batch's message ids that were counted already.
    pub seen: BTreeSet<String>,
    pub totals: Totals,
    pub feature_breakers: BTreeMap<FeatureKey, FeatureBreaker>,
    pub project_breakers: BTreeMap<ProjectId, ProjectBreaker>,
    pub warned: Warned,
    /// Rows that could not be read (an unknown metric, a malformed key), left out.
    pub skipped: Vec<String>,
}

struct Seen(String);

impl FromRow for Seen {
    fn from_row(row: &Row) -> Result<Self, String> {
        row.get("message_id").map(Self)
    }
}

/// A `usage_totals` row.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageTotal {
    pub subject: Subject,
    pub period: String,
    pub metric: Metric,
    pub value: f64,
}

impl FromRow for UsageTotal {
    fn from_row(row: &Row) -> Result<Self, String> {
        let kind: String = row.get("kind")?;
        Ok(Self {
            subject: row.parse("subject", |s| Subject::parse(&kind, s))?,
            period: row.get("period")?,
            metric: row.parse("metric", Metric::from_budget_name)?,
            value: row.get("value")?,
        })
    }
}

struct WarnedRow(FeatureKey, Metric, String, u8);

impl FromRow for WarnedRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self(
            row.parse("feature_key", |s| FeatureKey::parse(s).ok())?,
            row.parse("metric", Metric::from_budget_name)?,
            row.get("period")?,
            row.get("threshold")?,
        ))
    }
}

/// The statements [`snapshot`] runs, in five groups (seen, totals, feature breakers, project
/// breakers, warnings), each split under D1's parameter limit.
pub fn snapshot_statements(
    message_ids: &[String],
    features: &[FeatureKey],
    periods: [&str; 2],
) -> [Vec<Statement>; 5] {
    let ids: Vec<Value> = message_ids.iter().map(Value::from).collect();
    let feature_keys: Vec<Value> = features.iter().map(|f| f.as_str().into()).collect();
    let projects: BTreeSet<ProjectId> = features.iter().map(FeatureKey::project).collect();
    let project_ids: Vec<Value> = projects.iter().map(|p| p.as_str().into()).collect();
    let subjects: Vec<Value> = feature_keys.iter().chain(&project_ids).cloned().collect();
    let periods = [Value::from(periods[0]), Value::from(periods[1])];
    [
        select_in(
            "SELECT message_id FROM telemetry_seen WHERE message_id",
            &[],
            ids,
            "",
        ),
        // `kind` leads the primary key: naming both kinds lets the lookup use it instead of a scan
        // (a row of any other kind would be left out below anyway).
        select_in(
            "SELECT kind, subject, period, metric, value FROM usage_totals \
             WHERE kind IN ('feature', 'project') AND period IN (?, ?) AND subject",
            &periods,
            subjects,
            "",
        ),
        select_in(
            &select_feature_breakers("WHERE feature_key"),
            &[],
            feature_keys.clone(),
            "",
        ),
        select_in(&select_project_breakers("WHERE project"), &[], project_ids, ""),
        select_in(
            "SELECT feature_key, metric, period, threshold FROM budget_warnings \
             WHERE period IN (?, ?) AND feature_key",
            &periods,
            feature_keys,
            "",
        ),
    ]
}

/// Reads, in one round trip, which of the messages were counted already and the current state
/// of the features (and their projects) in the given periods.
pub async fn snapshot<S: Sql>(
    db: &Db<S>,
    message_ids: &[String],
    features: &[FeatureKey],
    periods: [&str; 2],
) -> Result<Snapshot, DbError> {
    let groups = snapshot_statements(message_ids, features, periods);
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    let outcomes = db
        .batch(
            "reading the usage snapshot",
            groups.into_iter().flatten().collect(),
        )
        .await?;
    let mut outcomes = outcomes.into_iter();
    let mut next = |n: usize| outcomes.by_ref().take(n).collect::<Vec<Outcome>>();
    let mut snapshot = Snapshot::default();
    let skipped = &mut snapshot.skipped;
    let seen: Vec<Seen> = lenient(&next(sizes[0]), skipped);
    let totals: Vec<UsageTotal> = lenient(&next(sizes[1]), skipped);
    let features: Vec<FeatureBreakerRow> = lenient(&next(sizes[2]), skipped);
    let projects: Vec<ProjectBreakerRow> = lenient(&next(sizes[3]), skipped);
    let warned: Vec<WarnedRow> = lenient(&next(sizes[4]), skipped);
    snapshot.seen = seen.into_iter().map(|Seen(id)| id).collect();
    for row in totals {
        *snapshot
            .totals
            .entry((row.subject, row.period))
            .or_default()
            .entry(row.metric)
            .or_default() += row.value;
    }
    snapshot.feature_breakers = features.into_iter().map(|r| (r.feature, r.breaker)).collect();
    snapshot.project_breakers = projects.into_iter().map(|r| (r.project, r.breaker)).collect();
    snapshot.warned = warned
        .into_iter()
        .map(|WarnedRow(feature, metric, period, threshold)| (feature, metric, period, threshold))
        .collect();
    Ok(snapshot)
}

/// Why telemetry is kept in `telemetry_rejects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// It could not be used (not JSON, a field out of range).
    Rejected,
    /// It exhausted its retries and arrived on the dead-letter queue.
    DeadLetter,
}

impl RejectKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::DeadLetter => "dead_letter",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "rejected" => Some(Self::Rejected),
            "dead_letter" => Some(Self::DeadLetter),
            _ => None,
        }
    }
}

/// Usage to add: whose, in which period (`2026-03-02` or `2026-03`), and how much per metric.
pub type UsageRow = (Subject, String, MetricTotals);

/// A breaker transition for `breaker_events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRecord<'a> {
    /// `feature`, `project` or `global`.
    pub scope: &'a str,
    pub subject: &'a str,
    pub event: &'a str,
    pub reason: Option<&'a str>,
}

/// Everything a batch or request writes, built up and committed at once: all or nothing.
#[derive(Debug)]
pub struct Transaction {
    now: EpochMs,
    statements: Vec<Statement>,
}

impl Transaction {
    pub fn new(now: EpochMs) -> Self {
        Self {
            now,
            statements: Vec::new(),
        }
    }

    /// When the transaction's rows are stamped.
    pub fn now(&self) -> EpochMs {
        self.now
    }

    /// Marks messages counted. A plain insert: if a concurrent delivery counted one of them, the
    /// whole transaction fails and the batch is retried, so nothing is counted twice.
    pub fn mark_seen(&mut self, ids: &[String]) {
        let rows = ids.iter().map(|id| vec![id.into(), self.now.into()]).collect();
        self.statements.extend(insert_rows(
            &TELEMETRY_SEEN,
            "INSERT INTO telemetry_seen (message_id, seen_at)",
            rows,
            "",
        ));
    }

    /// Adds usage to the running totals.
    pub fn add_usage(&mut self, rows: &[UsageRow]) {
        let values = rows
            .iter()
            .flat_map(|(subject, period, totals)| {
                totals.iter().map(move |(metric, value)| {
                    vec![
                        subject.kind().into(),
                        subject.id().into(),
                        period.into(),
                        metric.budget_name().into(),
                        (*value).into(),
                    ]
                })
            })
            .collect();
        self.statements.extend(insert_rows(
            &USAGE_TOTALS,
            "INSERT INTO usage_totals (kind, subject, period, metric, value)",
            values,
            "ON CONFLICT (kind, subject, period, metric) DO UPDATE SET value = value + excluded.value",
        ));
    }

    /// Counts each feature's heartbeat and keeps the latest.
    pub fn heartbeats(&mut self, heartbeats: &BTreeMap<FeatureKey, EpochMs>) {
        let rows = heartbeats
            .iter()
            .map(|(feature, at)| vec![feature.as_str().into(), (*at).into(), 1u32.into()])
            .collect();
        self.statements.extend(insert_rows(
            &FEATURE_HEALTH,
            "INSERT INTO feature_health (feature_key, last_heartbeat, heartbeats)",
            rows,
            "ON CONFLICT (feature_key) DO UPDATE SET heartbeats = heartbeats + 1, \
             last_heartbeat = max(last_heartbeat, excluded.last_heartbeat)",
        ));
    }

    /// Keeps a message that cannot be counted, with its payload for replay.
    pub fn reject(&mut self, kind: RejectKind, message_id: &str, queue: &str, reason: &str, payload: &str) {
        self.statements.push(Statement::write(
            &TELEMETRY_REJECTS,
            "INSERT INTO telemetry_rejects (kind, message_id, queue, reason, payload, received_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                kind.as_str().into(),
                message_id.into(),
                queue.into(),
                reason.into(),
                payload.into(),
                self.now.into(),
            ],
        ));
    }

    pub fn set_feature_breaker(&mut self, feature: &FeatureKey, breaker: &FeatureBreaker) {
        self.statements.push(set_feature_breaker(feature, breaker));
    }

    pub fn set_project_breaker(&mut self, project: &ProjectId, breaker: &ProjectBreaker) {
        self.statements.push(set_project_breaker(project, breaker));
    }

    /// Records budget warnings sent; one already recorded is kept as it was.
    pub fn warned(&mut self, feature: &FeatureKey, metric: Metric, period: &str, thresholds: &[u8]) {
        let rows = thresholds
            .iter()
            .map(|t| {
                vec![
                    feature.as_str().into(),
                    metric.budget_name().into(),
                    period.into(),
                    (*t).into(),
                    self.now.into(),
                ]
            })
            .collect();
        self.statements.extend(insert_rows(
            &BUDGET_WARNINGS,
            "INSERT OR IGNORE INTO budget_warnings (feature_key, metric, period, threshold, sent_at)",
            rows,
            "",
        ));
    }

    /// Records a breaker transition.
    pub fn event(&mut self, event: EventRecord<'_>) {
        self.statements.push(Statement::write(
            &BREAKER_EVENTS,
            "INSERT INTO breaker_events (at, scope, subject, event, reason) VALUES (?, ?, ?, ?, ?)",
            vec![
                self.now.into(),
                event.scope.into(),
                event.subject.into(),
                event.event.into(),
                event.reason.into(),
            ],
        ));
    }

    /// Adds a statement built elsewhere in this crate (an alert, a handler stamp, the global stop).
    pub fn push(&mut self, statement: Statement) {
        self.statements.push(statement);
    }

    /// Adds the statement if there is one (a busy handler's stamp, when due).
    pub fn also(&mut self, statement: Option<Statement>) {
        self.statements.extend(statement);
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Commits everything in one round trip (none when there is nothing to write), or nothing.
    pub async fn commit<S: Sql>(self, db: &Db<S>, context: &str) -> Result<Vec<Outcome>, DbError> {
        db.batch(context, self.statements).await
    }
}
