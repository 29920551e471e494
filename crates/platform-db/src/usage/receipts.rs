//! `telemetry_receipts`: which queue messages were counted, one row per batch and enqueue minute.
//! A redelivered message keeps its id and its enqueue time, so it is looked for in one minute's
//! few rows; the table's trigger refuses a receipt that repeats a counted id, failing the batch's
//! transaction before anything is counted twice.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::EpochMs;

use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::statement::{select_in, Statement};
use crate::tables::TELEMETRY_RECEIPTS;
use crate::value::Value;

const MINUTE_MS: EpochMs = 60_000;

/// What the trigger says when it refuses a receipt (wrangler/migrations/0009_usage_rollups.sql).
const ALREADY_COUNTED: &str = "telemetry already counted";

/// The receipt minute of a message enqueued at `enqueued_at`.
pub fn minute_of(enqueued_at: EpochMs) -> EpochMs {
    enqueued_at - enqueued_at % MINUTE_MS
}

/// Message ids per receipt minute.
pub type ByMinute = BTreeMap<EpochMs, Vec<String>>;

/// One receipt per minute, numbered after the minute's last one inside the statement itself.
pub fn insert(ids: &ByMinute) -> Vec<Statement> {
    ids.iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(minute, ids)| {
            Statement::write(
                &TELEMETRY_RECEIPTS,
                "INSERT INTO telemetry_receipts (minute_at, seq, ids) \
                 SELECT ?1, coalesce(max(seq) + 1, 0), ?2 FROM telemetry_receipts WHERE minute_at = ?1",
                vec![
                    (*minute).into(),
                    serde_json::to_string(ids).unwrap_or_default().into(),
                ],
            )
        })
        .collect()
}

/// Whether a batch failed because one of its messages was counted already (a redelivery).
pub fn already_counted(error: &DbError) -> bool {
    error.detail.contains(ALREADY_COUNTED)
}

/// The receipts of the minutes.
pub fn select(minutes: &BTreeSet<EpochMs>) -> Vec<Statement> {
    select_in(
        "SELECT ids FROM telemetry_receipts WHERE minute_at",
        &[],
        minutes.iter().map(|m| Value::from(*m)).collect(),
        "",
    )
}

/// The ids a receipt row holds.
pub struct Receipt(pub Vec<String>);

impl FromRow for Receipt {
    fn from_row(row: &Row) -> Result<Self, String> {
        let text: String = row.get("ids")?;
        serde_json::from_str(&text)
            .map(Self)
            .map_err(|e| format!("column ids: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_starts_on_its_boundary() {
        assert_eq!(minute_of(1_772_460_306_789), 1_772_460_300_000);
        assert_eq!(minute_of(120_000), 120_000);
    }
}
