//! The usage ledger in D1: what a batch reads before deciding (one round trip) and what it writes
//! after (one transaction).

use std::collections::{BTreeMap, BTreeSet};

use platform_core::breaker::{FeatureBreaker, Level, ProjectBreaker};
use platform_core::usage::MetricTotals;
use platform_core::{EpochMs, FeatureKey, Metric, ProjectId};
use platform_worker::alerts::{self, Alert};
use platform_worker::{d1, ApiError};
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::decide::{Event, Subject, Totals, Warned};

/// The state of the batch's features and projects before the batch.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub seen: BTreeSet<String>,
    pub totals: Totals,
    pub feature_breakers: BTreeMap<FeatureKey, FeatureBreaker>,
    pub project_breakers: BTreeMap<ProjectId, ProjectBreaker>,
    pub warned: Warned,
}

#[derive(Deserialize)]
struct SeenRow {
    message_id: String,
}

#[derive(Deserialize)]
struct TotalRow {
    kind: String,
    subject: String,
    period: String,
    metric: String,
    value: f64,
}

#[derive(Deserialize)]
pub struct FeatureBreakerRow {
    pub feature_key: String,
    open: f64,
    manual: f64,
    reason: Option<String>,
    tripped_at: Option<f64>,
    auto_reset_at: Option<f64>,
    consecutive_trips: f64,
    last_reset_at: Option<f64>,
    exempt_until: Option<f64>,
}

impl FeatureBreakerRow {
    pub fn breaker(&self) -> FeatureBreaker {
        FeatureBreaker {
            open: self.open != 0.0,
            manual: self.manual != 0.0,
            reason: self.reason.clone(),
            tripped_at: self.tripped_at.map(|ms| ms as EpochMs),
            auto_reset_at: self.auto_reset_at.map(|ms| ms as EpochMs),
            consecutive_trips: self.consecutive_trips as u64,
            last_reset_at: self.last_reset_at.map(|ms| ms as EpochMs),
            exempt_until: self.exempt_until.map(|ms| ms as EpochMs),
        }
    }
}

#[derive(Deserialize)]
pub struct ProjectBreakerRow {
    pub project: String,
    level: String,
    manual: f64,
    reason: Option<String>,
    since: Option<f64>,
    auto_reset_at: Option<f64>,
    exempt_until: Option<f64>,
}

impl ProjectBreakerRow {
    pub fn breaker(&self) -> ProjectBreaker {
        ProjectBreaker {
            level: match self.level.as_str() {
                "paused" => Level::Paused,
                "warning" => Level::Warning,
                _ => Level::Active,
            },
            manual: self.manual != 0.0,
            reason: self.reason.clone(),
            since: self.since.map(|ms| ms as EpochMs),
            auto_reset_at: self.auto_reset_at.map(|ms| ms as EpochMs),
            exempt_until: self.exempt_until.map(|ms| ms as EpochMs),
        }
    }
}

#[derive(Deserialize)]
struct WarnedRow {
    feature_key: String,
    metric: String,
    period: String,
    threshold: f64,
}

pub const FEATURE_BREAKER_COLUMNS: &str =
    "feature_key, open, manual, reason, tripped_at, auto_reset_at, consecutive_trips, last_reset_at, exempt_until";
pub const PROJECT_BREAKER_COLUMNS: &str =
    "project, level, manual, reason, since, auto_reset_at, exempt_until";

/// Reads, in one round trip, which messages were counted already and the current state of the
/// features and projects a batch touches.
pub async fn snapshot(
    db: &D1Database,
    message_ids: &[String],
    features: &[FeatureKey],
    periods: [String; 2],
) -> Result<Snapshot, ApiError> {
    let ids: Vec<JsValue> = message_ids.iter().map(|id| d1::text(id)).collect();
    let feature_keys: Vec<JsValue> = features.iter().map(|f| d1::text(f.as_str())).collect();
    let projects: BTreeSet<ProjectId> = features.iter().map(FeatureKey::project).collect();
    let project_ids: Vec<JsValue> = projects.iter().map(|p| d1::text(p.as_str())).collect();
    let subjects: Vec<JsValue> = feature_keys.iter().chain(&project_ids).cloned().collect();
    let period_params = [d1::text(&periods[0]), d1::text(&periods[1])];

    let queries: [Vec<D1PreparedStatement>; 5] = [
        d1::in_statements(db, "SELECT message_id FROM telemetry_seen WHERE message_id", &[], &ids, "")?,
        d1::in_statements(
            db,
            "SELECT kind, subject, period, metric, value FROM usage_totals WHERE period IN (?, ?) AND subject",
            &period_params,
            &subjects,
            "",
        )?,
        d1::in_statements(
            db,
            &format!("SELECT {FEATURE_BREAKER_COLUMNS} FROM feature_breakers WHERE feature_key"),
            &[],
            &feature_keys,
            "",
        )?,
        d1::in_statements(
            db,
            &format!("SELECT {PROJECT_BREAKER_COLUMNS} FROM project_breakers WHERE project"),
            &[],
            &project_ids,
            "",
        )?,
        d1::in_statements(
            db,
            "SELECT feature_key, metric, period, threshold FROM budget_warnings WHERE period IN (?, ?) AND feature_key",
            &period_params,
            &feature_keys,
            "",
        )?,
    ];
    let sizes: Vec<usize> = queries.iter().map(Vec::len).collect();
    let mut results = d1::batch(db, queries.into_iter().flatten().collect())
        .await?
        .into_iter();
    let mut next = |n: usize| results.by_ref().take(n).collect::<Vec<_>>();
    let seen: Vec<SeenRow> = d1::all_rows(&next(sizes[0]))?;
    let totals: Vec<TotalRow> = d1::all_rows(&next(sizes[1]))?;
    let features: Vec<FeatureBreakerRow> = d1::all_rows(&next(sizes[2]))?;
    let projects: Vec<ProjectBreakerRow> = d1::all_rows(&next(sizes[3]))?;
    let warned: Vec<WarnedRow> = d1::all_rows(&next(sizes[4]))?;

    let mut snapshot = Snapshot {
        seen: seen.into_iter().map(|row| row.message_id).collect(),
        ..Snapshot::default()
    };
    for row in totals {
        let (Some(subject), Some(metric)) = (
            subject(&row.kind, &row.subject),
            Metric::from_budget_name(&row.metric),
        ) else {
            continue;
        };
        *snapshot
            .totals
            .entry((subject, row.period))
            .or_default()
            .entry(metric)
            .or_default() += row.value;
    }
    for row in features {
        if let Ok(feature) = FeatureKey::parse(&row.feature_key) {
            snapshot.feature_breakers.insert(feature, row.breaker());
        }
    }
    for row in projects {
        if let Ok(project) = ProjectId::parse(&row.project) {
            snapshot.project_breakers.insert(project, row.breaker());
        }
    }
    for row in warned {
        if let Some(metric) = Metric::from_budget_name(&row.metric) {
            snapshot
                .warned
                .insert((row.feature_key, metric, row.period, row.threshold as u8));
        }
    }
    Ok(snapshot)
}

fn subject(kind: &str, subject: &str) -> Option<Subject> {
    match kind {
        "feature" => FeatureKey::parse(subject).ok().map(Subject::Feature),
        "project" => ProjectId::parse(subject).ok().map(Subject::Project),
        _ => None,
    }
}

/// Rows to add to `usage_totals`: (kind, subject, period, totals).
pub type UsageRows = Vec<(&'static str, String, String, MetricTotals)>;

/// Everything a batch writes, built up by the caller and committed at once.
pub struct Transaction<'a> {
    db: &'a D1Database,
    now: EpochMs,
    statements: Vec<D1PreparedStatement>,
}

impl<'a> Transaction<'a> {
    pub fn new(db: &'a D1Database, now: EpochMs) -> Self {
        Self {
            db,
            now,
            statements: Vec::new(),
        }
    }

    /// Marks messages counted. A plain insert: if a concurrent delivery counted one of them, the
    /// whole transaction fails and the batch is retried, so nothing is counted twice.
    pub fn mark_seen(&mut self, ids: &[String]) -> Result<(), ApiError> {
        let rows: Vec<Vec<JsValue>> = ids
            .iter()
            .map(|id| vec![d1::text(id), d1::ms(self.now)])
            .collect();
        self.push_rows("INSERT INTO telemetry_seen (message_id, seen_at)", &rows, "")
    }

    pub fn add_usage(&mut self, rows: &UsageRows) -> Result<(), ApiError> {
        let values: Vec<Vec<JsValue>> = rows
            .iter()
            .flat_map(|(kind, subject, period, totals)| {
                totals.iter().map(move |(metric, value)| {
                    vec![
                        d1::text(kind),
                        d1::text(subject),
                        d1::text(period),
                        d1::text(metric.budget_name()),
                        d1::number(*value),
                    ]
                })
            })
            .collect();
        self.push_rows(
            "INSERT INTO usage_totals (kind, subject, period, metric, value)",
            &values,
            "ON CONFLICT (kind, subject, period, metric) DO UPDATE SET value = value + excluded.value",
        )
    }

    pub fn heartbeats(&mut self, heartbeats: &BTreeMap<FeatureKey, EpochMs>) -> Result<(), ApiError> {
        let rows: Vec<Vec<JsValue>> = heartbeats
            .iter()
            .map(|(feature, at)| vec![d1::text(feature.as_str()), d1::ms(*at), d1::number(1)])
            .collect();
        self.push_rows(
            "INSERT INTO feature_health (feature_key, last_heartbeat, heartbeats)",
            &rows,
            "ON CONFLICT (feature_key) DO UPDATE SET heartbeats = heartbeats + 1, \
             last_heartbeat = max(last_heartbeat, excluded.last_heartbeat)",
        )
    }

    /// Records a message that cannot be used (`kind` `rejected` or `dead_letter`), with its payload.
    pub fn reject(
        &mut self,
        kind: &str,
        message_id: &str,
        queue: &str,
        reason: &str,
        payload: &str,
    ) -> Result<(), ApiError> {
        let statement = d1::statement(
            self.db,
            "INSERT INTO telemetry_rejects (kind, message_id, queue, reason, payload, received_at) VALUES (?, ?, ?, ?, ?, ?)",
            &[d1::text(kind), d1::text(message_id), d1::text(queue), d1::text(reason), d1::text(payload), d1::ms(self.now)],
        )?;
        self.statements.push(statement);
        Ok(())
    }

    pub fn set_feature_breaker(
        &mut self,
        feature: &FeatureKey,
        breaker: &FeatureBreaker,
    ) -> Result<(), ApiError> {
        let statement = d1::statement(
            self.db,
            &format!(
                "INSERT OR REPLACE INTO feature_breakers ({FEATURE_BREAKER_COLUMNS}) VALUES ({})",
                d1::placeholders(9)
            ),
            &[
                d1::text(feature.as_str()),
                d1::flag(breaker.open),
                d1::flag(breaker.manual),
                d1::optional_text(breaker.reason.as_deref()),
                d1::optional_ms(breaker.tripped_at),
                d1::optional_ms(breaker.auto_reset_at),
                d1::number(breaker.consecutive_trips as f64),
                d1::optional_ms(breaker.last_reset_at),
                d1::optional_ms(breaker.exempt_until),
            ],
        )?;
        self.statements.push(statement);
        Ok(())
    }

    pub fn set_project_breaker(
        &mut self,
        project: &ProjectId,
        breaker: &ProjectBreaker,
    ) -> Result<(), ApiError> {
        let statement = d1::statement(
            self.db,
            &format!(
                "INSERT OR REPLACE INTO project_breakers ({PROJECT_BREAKER_COLUMNS}) VALUES ({})",
                d1::placeholders(7)
            ),
            &[
                d1::text(project.as_str()),
                d1::text(platform_kv::ProjectState::from(breaker.level).as_str()),
                d1::flag(breaker.manual),
                d1::optional_text(breaker.reason.as_deref()),
                d1::optional_ms(breaker.since),
                d1::optional_ms(breaker.auto_reset_at),
                d1::optional_ms(breaker.exempt_until),
            ],
        )?;
        self.statements.push(statement);
        Ok(())
    }

    pub fn warned(
        &mut self,
        feature: &FeatureKey,
        metric: Metric,
        period: &str,
        thresholds: &[u8],
    ) -> Result<(), ApiError> {
        let rows: Vec<Vec<JsValue>> = thresholds
            .iter()
            .map(|t| {
                vec![
                    d1::text(feature.as_str()),
                    d1::text(metric.budget_name()),
                    d1::text(period),
                    d1::number(*t),
                    d1::ms(self.now),
                ]
            })
            .collect();
        self.push_rows(
            "INSERT OR IGNORE INTO budget_warnings (feature_key, metric, period, threshold, sent_at)",
            &rows,
            "",
        )
    }

    pub fn event(&mut self, event: &Event) -> Result<(), ApiError> {
        let statement = d1::statement(
            self.db,
            "INSERT INTO breaker_events (at, scope, subject, event, reason) VALUES (?, ?, ?, ?, ?)",
            &[
                d1::ms(self.now),
                d1::text(event.scope),
                d1::text(&event.subject),
                d1::text(event.event),
                d1::optional_text(event.reason.as_deref()),
            ],
        )?;
        self.statements.push(statement);
        Ok(())
    }

    pub fn alert(&mut self, alert: &Alert) -> Result<(), ApiError> {
        let statement = alerts::enqueue(self.db, alert, self.now)?;
        self.statements.push(statement);
        Ok(())
    }

    pub fn push(&mut self, statement: D1PreparedStatement) {
        self.statements.push(statement);
    }

    fn push_rows(&mut self, head: &str, rows: &[Vec<JsValue>], tail: &str) -> Result<(), ApiError> {
        self.statements
            .extend(d1::rows_statements(self.db, head, rows, tail)?);
        Ok(())
    }

    /// Adds a statement of the caller's own (a handler stamp) to the transaction.
    pub fn also(&mut self, statement: Option<D1PreparedStatement>) {
        self.statements.extend(statement);
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Commits everything in one round trip, or nothing.
    pub async fn commit(self) -> Result<(), ApiError> {
        d1::batch(self.db, self.statements).await.map(|_| ())
    }
}
