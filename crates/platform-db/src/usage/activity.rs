//! What the sentinel reads of the usage ledger: when each feature was heard from ([`recent`]),
//! its daily usage ([`daily_usage`]) and its latest heartbeat ([`heartbeats`]). The ledger's
//! layout stays behind these functions.
//!
//! `recent` is coarse over `usage_totals`, which keeps days, not hours: a feature with usage on a
//! day counts as heard in that day's last hour, until its end; a heartbeat adds its own hour and
//! instant.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::{EpochMs, FeatureKey, Metric, UtcDay};

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::select_in;
use crate::value::Value;

/// The telemetry activity of one feature on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureActivity {
    pub feature: FeatureKey,
    pub day: String,
    /// UTC hours (0..24) of that day in which telemetry for the feature was counted, by the
    /// message's own timestamp.
    pub hours: BTreeSet<u8>,
    /// The latest message timestamp counted that day (epoch ms).
    pub last_seen: EpochMs,
}

struct DayRow {
    feature: FeatureKey,
    day: String,
}

impl FromRow for DayRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            feature: row.parse("subject", |s| FeatureKey::parse(s).ok())?,
            day: row.get("period")?,
        })
    }
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

fn day_values(days: &[String]) -> Result<Vec<(UtcDay, Value)>, DbError> {
    days.iter()
        .map(|day| {
            UtcDay::parse(day)
                .map(|parsed| (parsed, Value::from(day)))
                .ok_or_else(|| {
                    DbError::decode("reading activity", format!("{day:?} is not a UTC day YYYY-MM-DD"))
                })
        })
        .collect()
}

/// The telemetry activity of every feature on the given UTC days (`YYYY-MM-DD`).
pub async fn recent<S: Sql>(db: &Db<S>, days: &[String]) -> Result<Vec<FeatureActivity>, DbError> {
    let parsed = day_values(days)?;
    if parsed.is_empty() {
        return Ok(Vec::new());
    }
    let mut activity: BTreeMap<(FeatureKey, String), FeatureActivity> = BTreeMap::new();
    for statement in select_in(
        "SELECT DISTINCT subject, period FROM usage_totals WHERE kind = 'feature' AND period",
        &[],
        parsed.iter().map(|(_, v)| v.clone()).collect(),
        "",
    ) {
        let rows: Vec<DayRow> = db
            .rows("reading the days features were active", statement)
            .await?;
        for row in rows {
            let Some(day) = UtcDay::parse(&row.day) else {
                continue;
            };
            activity.insert(
                (row.feature.clone(), row.day.clone()),
                FeatureActivity {
                    feature: row.feature,
                    day: row.day,
                    hours: BTreeSet::from([23]),
                    last_seen: day.next_start_ms() - 1,
                },
            );
        }
    }
    let earliest = parsed.iter().map(|(d, _)| d.start_ms()).min().unwrap_or(0);
    for beat in heartbeats(db).await? {
        if beat.1 < earliest {
            continue;
        }
        let day = UtcDay::containing(beat.1).to_string();
        if !days.contains(&day) {
            continue;
        }
        let hour = ((beat.1 % 86_400_000) / 3_600_000) as u8;
        let entry = activity
            .entry((beat.0.clone(), day.clone()))
            .or_insert_with(|| FeatureActivity {
                feature: beat.0.clone(),
                day,
                hours: BTreeSet::new(),
                last_seen: beat.1,
            });
        entry.hours.insert(hour);
        entry.last_seen = entry.last_seen.max(beat.1);
    }
    Ok(activity.into_values().collect())
}

/// Every feature's latest heartbeat (epoch ms).
pub async fn heartbeats<S: Sql>(db: &Db<S>) -> Result<Vec<(FeatureKey, EpochMs)>, DbError> {
    let statement = crate::statement::Statement::read(
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

struct UsageRow {
    feature: FeatureKey,
    day: String,
    metric: Metric,
    value: f64,
}

impl FromRow for UsageRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            feature: row.parse("subject", |s| FeatureKey::parse(s).ok())?,
            day: row.get("period")?,
            metric: row.parse("metric", Metric::from_budget_name)?,
            value: row.get("value")?,
        })
    }
}

/// Every feature's usage on the given UTC days (`YYYY-MM-DD`).
pub async fn daily_usage<S: Sql>(db: &Db<S>, days: &[String]) -> Result<Vec<FeatureDayUsage>, DbError> {
    let parsed = day_values(days)?;
    let mut usage: BTreeMap<(FeatureKey, String), BTreeMap<Metric, f64>> = BTreeMap::new();
    for statement in select_in(
        "SELECT subject, period, metric, value FROM usage_totals WHERE kind = 'feature' AND period",
        &[],
        parsed.into_iter().map(|(_, v)| v).collect(),
        "",
    ) {
        let outcome = db.run("reading daily usage", statement).await?;
        // A row of an unknown metric (written by a newer version) is left out, not fatal.
        for row in outcome.rows.iter().filter_map(|r| UsageRow::from_row(r).ok()) {
            *usage
                .entry((row.feature, row.day))
                .or_default()
                .entry(row.metric)
                .or_default() += row.value;
        }
    }
    Ok(usage
        .into_iter()
        .map(|((feature, day), usage)| FeatureDayUsage { feature, day, usage })
        .collect())
}
