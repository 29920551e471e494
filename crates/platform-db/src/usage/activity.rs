//! When each feature was heard from: the hours and latest message of every day, kept on the day
//! rows of `usage_rollups` by the batches that count the messages. The sentinel learns each
//! feature's cadence from it.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::usage::Activity;
use platform_core::{EpochMs, FeatureKey};

use super::rollup;
use crate::db::Db;
use crate::error::DbError;
use crate::sql::Sql;

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

/// The telemetry activity of every feature on the given UTC days (`YYYY-MM-DD`), by feature
/// and day. A row that cannot be read is left out rather than hiding every other feature.
pub async fn recent<S: Sql>(db: &Db<S>, days: &[String]) -> Result<Vec<FeatureActivity>, DbError> {
    let outcomes = db
        .batch("reading telemetry activity", rollup::select_activity(days))
        .await?;
    let mut by_feature: BTreeMap<(FeatureKey, String), Activity> = BTreeMap::new();
    for row in outcomes.iter().flat_map(|o| &o.rows) {
        let Ok(day) = row.get::<String>("period") else {
            continue;
        };
        let Ok(features) = rollup::activity(row) else {
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
            hours: heard.hours().collect(),
            last_seen: heard.last_seen,
        })
        .collect())
}
