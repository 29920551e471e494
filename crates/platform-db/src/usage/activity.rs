//! What the sentinel reads of the usage ledger: when each feature was heard from ([`recent`]),
//! its daily usage ([`daily_usage`]) and its latest heartbeat ([`heartbeats`]). The ledger's
//! layout stays behind these functions.
//!
//! Activity is kept on the day rows of `usage_rollups` by the batches that count the messages:
//! the UTC hours in which each feature sent telemetry of any kind (heartbeats included) and its
//! latest message, by each message's own timestamp.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::sorted::CollectSorted;
use platform_core::usage::{Activity, MetricTotals, Subject};
use platform_core::{EpochMs, FeatureKey, Metric, ProjectId, UtcDay};

use super::rollup::{self, RollupRow};
use crate::db::{lenient, Db};
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::{select_in, Statement};
use crate::value::Value;

/// A feature's telemetry on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureActivity {
    pub feature: FeatureKey,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// The UTC hours (0..24) of that day in which telemetry for the feature was counted, by each
    /// message's own timestamp.
    pub hours: BTreeSet<u8>,
    /// The latest message timestamp counted that day (epoch ms).
    pub last_seen: EpochMs,
}

fn checked(days: &[String]) -> Result<Vec<Value>, DbError> {
    days.iter()
        .map(|day| {
            UtcDay::parse(day).map(|_| Value::from(day)).ok_or_else(|| {
                DbError::decode("reading activity", format!("{day:?} is not a UTC day YYYY-MM-DD"))
            })
        })
        .collect()
}

/// The telemetry activity of every feature on the given UTC days (`YYYY-MM-DD`), by feature
/// and day. A row that cannot be read is left out rather than hiding every other feature.
pub async fn recent<S: Sql>(db: &Db<S>, days: &[String]) -> Result<Vec<FeatureActivity>, DbError> {
    let days = checked(days)?;
    if days.is_empty() {
        return Ok(Vec::new());
    }
    let outcomes = db
        .batch("reading telemetry activity", rollup::select_activity(days))
        .await?;
    let mut by_feature: BTreeMap<(FeatureKey, String), Activity> = BTreeMap::new();
    for row in outcomes.iter().flat_map(|o| &o.rows) {
        let (Ok(day), Ok(features)) = (row.get::<String>("period"), rollup::activity(row)) else {
            continue;
        };
        for (feature, heard) in features {
            let slot = by_feature.entry((feature, day.clone())).or_default();
            *slot = slot.merge(heard);
        }
    }
    Ok(by_feature
        .into_iter()
        .map(|((feature, day), heard)| FeatureActivity {
            feature,
            day,
            hours: heard.hours().collect_set(),
            last_seen: heard.last_seen,
        })
        .collect())
}

struct HeartbeatRow {
    feature: FeatureKey,
    at: EpochMs,
}

impl FromRow for HeartbeatRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            feature: row.parse("feature_key", |s| FeatureKey::parse(s).ok())?,
            at: row.get("last_heartbeat")?,
        })
    }
}

/// Every feature's latest heartbeat (epoch ms).
pub async fn heartbeats<S: Sql>(db: &Db<S>) -> Result<Vec<(FeatureKey, EpochMs)>, DbError> {
    let statement = Statement::read(
        "SELECT feature_key, last_heartbeat FROM feature_health",
        Vec::new(),
    );
    let rows: Vec<HeartbeatRow> = db.rows("reading heartbeats", statement).await?;
    Ok(rows.into_iter().map(|r| (r.feature, r.at)).collect())
}

/// One feature's usage on one UTC day, per metric.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDayUsage {
    pub feature: FeatureKey,
    pub day: String,
    pub usage: BTreeMap<Metric, f64>,
}

/// Every feature's usage on the given UTC days (`YYYY-MM-DD`). An entry of an unknown metric
/// (written by a newer version) is left out, not fatal.
pub async fn daily_usage<S: Sql>(db: &Db<S>, days: &[String]) -> Result<Vec<FeatureDayUsage>, DbError> {
    let days = checked(days)?;
    let statements = select_in(
        "SELECT project, period, shard, totals FROM usage_rollups WHERE period",
        &[],
        days,
        "",
    );
    let outcomes = db.batch("reading daily usage", statements).await?;
    let mut skipped = Vec::new();
    let rows: Vec<RollupRow> = lenient(&outcomes, &mut skipped);
    let mut usage: BTreeMap<(FeatureKey, String), BTreeMap<Metric, f64>> = BTreeMap::new();
    for total in rollup::entries(&rows, &mut skipped) {
        if let Subject::Feature(feature) = total.subject {
            *usage
                .entry((feature, total.period))
                .or_default()
                .entry(total.metric)
                .or_default() += total.value;
        }
    }
    Ok(usage
        .into_iter()
        .map(|((feature, day), usage)| FeatureDayUsage { feature, day, usage })
        .collect())
}

/// The telemetry totals of `projects` (the sum of their features) in `periods` (`2026-03-02`,
/// `2026-03`): every shard of each, at most 16 rows per project and period.
pub async fn project_totals<S: Sql>(
    db: &Db<S>,
    projects: &BTreeSet<ProjectId>,
    periods: &[&str],
) -> Result<BTreeMap<(ProjectId, String), MetricTotals>, DbError> {
    if projects.is_empty() {
        return Ok(BTreeMap::new());
    }
    let outcomes = db
        .batch("reading project usage", rollup::select(projects, periods))
        .await?;
    let mut skipped = Vec::new();
    let rows: Vec<RollupRow> = lenient(&outcomes, &mut skipped);
    Ok(rollup::totals(&rows, &mut skipped)
        .into_iter()
        .filter_map(|((subject, period), totals)| match subject {
            Subject::Project(project) => Some(((project, period), totals)),
            Subject::Feature(_) => None,
        })
        .collect_map())
}

/// One feature's amount of one metric on one UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayTotal {
    pub feature: FeatureKey,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub metric: Metric,
    pub value: f64,
}

struct EntryRow {
    day: String,
    entry: String,
    value: f64,
}

impl FromRow for EntryRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            day: row.get("period")?,
            entry: row.get("entry")?,
            value: row.get("value")?,
        })
    }
}

/// Every feature's usage per UTC day from `first` to `last` (`YYYY-MM-DD`, inclusive), summed
/// over the shards inside SQLite: one statement whose rows are the days' entries, not every
/// row's JSON (what the dashboard draws; a row that cannot be read is left out).
pub async fn day_totals<S: Sql>(db: &Db<S>, first: &str, last: &str) -> Result<Vec<DayTotal>, DbError> {
    let days = checked(&[first.to_owned(), last.to_owned()])?;
    let statement = Statement::read(
        "SELECT u.period AS period, entry.key AS entry, total(entry.value) AS value \
         FROM usage_rollups AS u, json_each(u.totals) AS entry \
         WHERE u.period >= ?1 AND u.period <= ?2 AND length(u.period) = 10 \
         GROUP BY u.period, entry.key",
        days,
    );
    let outcome = db.run("reading daily totals", statement).await?;
    let mut skipped = Vec::new();
    let rows: Vec<EntryRow> = lenient(&[outcome], &mut skipped);
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let (feature, metric) = rollup::split_entry(&row.entry)?;
            Some(DayTotal {
                feature,
                day: row.day,
                metric,
                value: row.value,
            })
        })
        .collect())
}
