//! `usage_rollups`: a project's usage in a period, spread over [`SHARDS`] rows that each hold
//! many features as JSON. D1 bills rows, not bytes: a batch of a hundred messages over fifty
//! features writes at most `2 × SHARDS` rows (day and month), and the merge happens inside
//! SQLite, so concurrent batches add up instead of overwriting each other.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::usage::{Activity, BatchUsage, MetricTotals, Subject};
use platform_core::{EpochMs, FeatureKey, Metric, ProjectId};

use crate::row::{FromRow, Row};
use crate::statement::{select_in, Statement};
use crate::tables::USAGE_ROLLUPS;
use crate::value::Value;

/// Rows per project and period. Fixed: a feature's row is where it was written before.
pub const SHARDS: u32 = 16;

/// The shard a feature's entries are written to: 32-bit FNV-1a of the key, stable forever.
pub fn shard(feature: &FeatureKey) -> u32 {
    let hash = feature.as_str().bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash % SHARDS
}

/// A feature key as it names JSON entries: `%`, `"` and `\` percent-encoded, so that SQLite can
/// find the entry by a quoted JSON path (a feature key holds no whitespace).
fn entry_name(feature: &FeatureKey) -> String {
    let mut name = String::with_capacity(feature.as_str().len());
    for c in feature.as_str().chars() {
        match c {
            '%' => name.push_str("%25"),
            '"' => name.push_str("%22"),
            '\\' => name.push_str("%5C"),
            c => name.push(c),
        }
    }
    name
}

fn feature_of(name: &str) -> Option<FeatureKey> {
    let decoded = name.replace("%22", "\"").replace("%5C", "\\").replace("%25", "%");
    FeatureKey::parse(&decoded).ok()
}

/// The `totals` entry name of a feature's metric.
fn entry(feature: &FeatureKey, metric: Metric) -> String {
    format!("{} {}", entry_name(feature), metric.budget_name())
}

pub(crate) fn split_entry(entry: &str) -> Option<(FeatureKey, Metric)> {
    let (feature, metric) = entry.rsplit_once(' ')?;
    Some((feature_of(feature)?, Metric::from_budget_name(metric)?))
}

/// Usage to add to one row.
#[derive(Debug, Default, PartialEq)]
struct Delta {
    totals: BTreeMap<String, f64>,
    /// Day rows only: `[hours, last_seen]` per feature.
    activity: Option<BTreeMap<String, (u32, EpochMs)>>,
}

/// The upserts that add a batch's usage and activity: one per project, period and shard touched.
pub fn add(usage: &BatchUsage, now: EpochMs) -> Vec<Statement> {
    let mut rows: BTreeMap<(ProjectId, String, u32), Delta> = BTreeMap::new();
    let mut add_totals = |feature: &FeatureKey, period: String, totals: &MetricTotals| {
        let delta = rows
            .entry((feature.project(), period, shard(feature)))
            .or_default();
        for (metric, amount) in totals.iter().filter(|(_, amount)| amount.is_finite()) {
            delta.totals.insert(entry(feature, *metric), *amount);
        }
    };
    for ((feature, day), totals) in &usage.daily {
        add_totals(feature, day.to_string(), totals);
    }
    for ((feature, month), totals) in &usage.monthly {
        add_totals(feature, month.to_string(), totals);
    }
    for ((feature, day), heard) in &usage.activity {
        let delta = rows
            .entry((feature.project(), day.to_string(), shard(feature)))
            .or_default();
        delta
            .activity
            .get_or_insert_with(BTreeMap::new)
            .insert(entry_name(feature), (heard.hours, heard.last_seen));
    }
    rows.into_iter()
        .map(|((project, period, shard), delta)| upsert(&project, &period, shard, delta, now))
        .collect()
}

/// Adds `delta` to the row inside SQLite: each new entry is added to the old one it finds by its
/// JSON path and patched in, so a batch reads only its own entries (D1 bills the rows `json_each`
/// walks) however many features the row holds. Totals saturate far below infinity, which JSON
/// cannot carry; activity takes the union of the hours and the latest message.
fn upsert(project: &ProjectId, period: &str, shard: u32, delta: Delta, now: EpochMs) -> Statement {
    Statement::write(
        &USAGE_ROLLUPS,
        "INSERT INTO usage_rollups (project, period, shard, totals, activity, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (project, period, shard) DO UPDATE SET \
         totals = json_patch(usage_rollups.totals, (\
           SELECT json_group_object(new.key, min(1e300, new.value + coalesce(\
             json_extract(usage_rollups.totals, '$.\"' || new.key || '\"'), 0))) \
           FROM json_each(excluded.totals) AS new)), \
         activity = CASE WHEN excluded.activity IS NULL THEN usage_rollups.activity \
           ELSE json_patch(coalesce(usage_rollups.activity, '{}'), (\
             SELECT json_group_object(new.key, json_array(\
               json_extract(new.value, '$[0]') | coalesce(\
                 json_extract(usage_rollups.activity, '$.\"' || new.key || '\"[0]'), 0), \
               max(json_extract(new.value, '$[1]'), coalesce(\
                 json_extract(usage_rollups.activity, '$.\"' || new.key || '\"[1]'), 0)))) \
             FROM json_each(excluded.activity) AS new)) END, \
         updated_at = excluded.updated_at",
        vec![
            project.as_str().into(),
            period.into(),
            shard.into(),
            json(&delta.totals).into(),
            delta.activity.as_ref().map(json).into(),
            now.into(),
        ],
    )
}

/// A map as JSON text: string keys and numbers cannot fail to serialize.
fn json<T: serde::Serialize>(map: &T) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

/// Every shard of the projects in the periods.
pub fn select(projects: &BTreeSet<ProjectId>, periods: &[&str]) -> Vec<Statement> {
    let leading: Vec<Value> = periods.iter().map(|p| Value::from(*p)).collect();
    let project_ids = projects.iter().map(|p| p.as_str().into()).collect();
    select_in(
        &format!(
            "SELECT project, period, shard, totals FROM usage_rollups WHERE period IN ({}) AND project",
            crate::statement::placeholders(periods.len())
        ),
        &leading,
        project_ids,
        "",
    )
}

/// The day rows of one project from `since` (a UTC day) on.
pub fn select_days(project: &ProjectId, since: &str) -> Statement {
    Statement::read(
        "SELECT project, period, shard, totals FROM usage_rollups \
         WHERE project = ? AND period >= ? AND length(period) = 10",
        vec![project.as_str().into(), since.into()],
    )
}

/// The day rows of every project on the given days, with their activity.
pub fn select_activity(days: Vec<Value>) -> Vec<Statement> {
    select_in(
        "SELECT project, period, shard, activity FROM usage_rollups WHERE activity IS NOT NULL AND period",
        &[],
        days,
        "",
    )
}

/// A `usage_rollups` row: its period and the entries of its totals.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    pub period: String,
    pub totals: BTreeMap<String, f64>,
}

impl FromRow for RollupRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        let text: String = row.get("totals")?;
        match serde_json::from_str(&text) {
            Ok(totals) => Ok(Self {
                period: row.get("period")?,
                totals,
            }),
            Err(e) => Err(format!(
                "column totals: {text:.80} is not an object of amounts: {e}"
            )),
        }
    }
}

/// One feature's amount of one metric in a period, as reports show it.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageTotal {
    pub subject: Subject,
    pub period: String,
    pub metric: Metric,
    pub value: f64,
}

/// The rows' entries, one per feature, period and metric (summed over shards); entries that do
/// not parse are named in `skipped`.
pub fn entries(rows: &[RollupRow], skipped: &mut Vec<String>) -> Vec<UsageTotal> {
    let mut sums: BTreeMap<(FeatureKey, String, Metric), f64> = BTreeMap::new();
    for row in rows {
        for (name, amount) in &row.totals {
            match split_entry(name) {
                Some((feature, metric)) => {
                    *sums.entry((feature, row.period.clone(), metric)).or_default() += amount;
                }
                None => skipped.push(format!("usage entry {name:?} = {amount} in {}", row.period)),
            }
        }
    }
    sums.into_iter()
        .map(|((feature, period, metric), value)| UsageTotal {
            subject: Subject::Feature(feature),
            period,
            metric,
            value,
        })
        .collect()
}

/// Totals per subject and period: every feature, and every project as the sum of its features.
pub fn totals(rows: &[RollupRow], skipped: &mut Vec<String>) -> BTreeMap<(Subject, String), MetricTotals> {
    let mut totals: BTreeMap<(Subject, String), MetricTotals> = BTreeMap::new();
    for usage in entries(rows, skipped) {
        let Subject::Feature(feature) = &usage.subject else {
            continue;
        };
        let project = Subject::Project(feature.project());
        *totals
            .entry((project, usage.period.clone()))
            .or_default()
            .entry(usage.metric)
            .or_default() += usage.value;
        *totals
            .entry((usage.subject, usage.period))
            .or_default()
            .entry(usage.metric)
            .or_default() = usage.value;
    }
    totals
}

/// A day row's activity column, feature by feature.
pub(crate) fn activity(row: &Row) -> Result<Vec<(FeatureKey, Activity)>, String> {
    let text: String = row.get("activity")?;
    let map: BTreeMap<String, (u32, EpochMs)> = serde_json::from_str(&text)
        .map_err(|e| format!("column activity: {text:.80} is not an object of [hours, last_seen]: {e}"))?;
    map.into_iter()
        .map(|(name, (hours, last_seen))| {
            let feature =
                feature_of(&name).ok_or_else(|| format!("activity of {name:?}: not a feature key"))?;
            Ok((feature, Activity { hours, last_seen }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        let key = |s: &str| FeatureKey::parse(s).unwrap();
        // FNV-1a of "app:api:main", fixed forever: rows already written depend on it.
        assert_eq!(shard(&key("app:api:main")), 0x3b82_d7b1 % SHARDS);
        let used: BTreeSet<u32> = (0..50)
            .map(|i| shard(&key(&format!("bench:api:feature-{i}"))))
            .collect();
        assert!(used.len() >= 14, "fifty features fall in {} shards", used.len());
    }

    #[test]
    fn names_escape_what_a_json_path_cannot_quote() {
        let odd = FeatureKey::parse(r#"app:a"b:c\d%22"#).unwrap();
        assert_eq!(entry_name(&odd), "app:a%22b:c%5Cd%2522");
        assert_eq!(feature_of(&entry_name(&odd)), Some(odd.clone()));
        assert_eq!(
            split_entry(&entry(&odd, Metric::KvReads)),
            Some((odd, Metric::KvReads))
        );
    }

    #[test]
    fn entries_round_trip_and_bad_ones_are_named() {
        let feature = FeatureKey::parse("app:api:main").unwrap();
        let name = entry(&feature, Metric::KvReads);
        assert_eq!(split_entry(&name), Some((feature, Metric::KvReads)));
        let row = RollupRow {
            period: "2026-03-02".into(),
            totals: serde_json::from_str(r#"{"app:api:main kv_reads": 2, "app:api:main nope": 1, "bad": 3}"#)
                .unwrap(),
        };
        let mut skipped = Vec::new();
        assert_eq!(entries(&[row], &mut skipped).len(), 1);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
    }
}
