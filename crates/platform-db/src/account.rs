//! `account_usage`: what the account used per collected UTC hour and dataset, as Cloudflare's
//! analytics report it. One row holds a dataset's whole answer for the hour (D1 bills rows, and
//! an hour of a 200-script account is one row, not hundreds); collecting the hour again replaces
//! it, so an hour is counted once however often it is collected.

use platform_core::account::{AccountMetric, Exactness, UsageLine};
use platform_core::{EpochMs, UtcHour};
use serde_json::Value as Json;

use crate::db::{lenient, Db};
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::ACCOUNT_USAGE;

const HOUR_MS: EpochMs = 3_600_000;

/// A dataset id: lowercase ASCII letters, digits and `_`, at most 40 bytes.
pub fn valid_dataset(dataset: &str) -> bool {
    !dataset.is_empty()
        && dataset.len() <= 40
        && dataset
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A dataset's answer for one UTC hour.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetHour {
    /// The hour's start (epoch ms).
    pub hour_at: EpochMs,
    pub dataset: String,
    pub lines: Vec<UsageLine>,
    pub exactness: Exactness,
    pub collected_at: EpochMs,
}

/// The upsert that stores (or replaces) `dataset`'s answer for `hour`.
pub fn replace_hour(
    hour: UtcHour,
    dataset: &str,
    lines: &[UsageLine],
    exactness: Exactness,
    now: EpochMs,
) -> Result<Statement, DbError> {
    if !valid_dataset(dataset) {
        return Err(DbError::decode(
            "storing account usage",
            format!("{dataset:?} is not a dataset id"),
        ));
    }
    let encoded: Vec<Json> = lines
        .iter()
        .map(|line| serde_json::json!([line.metric.name(), line.resource, line.project, line.amount]))
        .collect();
    Ok(Statement::write(
        &ACCOUNT_USAGE,
        "INSERT INTO account_usage (hour_at, dataset, lines, sample_interval, collected_at) \
         VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (hour_at, dataset) DO UPDATE SET lines = excluded.lines, \
         sample_interval = excluded.sample_interval, collected_at = excluded.collected_at",
        vec![
            hour.start_ms().into(),
            dataset.into(),
            Json::Array(encoded).to_string().into(),
            exactness.interval().into(),
            now.into(),
        ],
    ))
}

/// Every dataset's answer for the hours starting in `[from, to)` (epoch ms), oldest first. A row
/// that cannot be read is described in `skipped` and left out, never hiding the others.
pub async fn hours<S: Sql>(
    db: &Db<S>,
    from: EpochMs,
    to: EpochMs,
    skipped: &mut Vec<String>,
) -> Result<Vec<DatasetHour>, DbError> {
    let statement = Statement::read(
        "SELECT hour_at, dataset, lines, sample_interval, collected_at FROM account_usage \
         WHERE hour_at >= ? AND hour_at < ? ORDER BY hour_at, dataset",
        vec![from.into(), to.into()],
    );
    let outcome = db.run("reading account usage", statement).await?;
    Ok(lenient(std::slice::from_ref(&outcome), skipped))
}

impl FromRow for DatasetHour {
    fn from_row(row: &Row) -> Result<Self, String> {
        let hour_at: EpochMs = row.get("hour_at")?;
        let dataset: String = row.get("dataset")?;
        if !hour_at.is_multiple_of(HOUR_MS) {
            return Err(format!(
                "account_usage {dataset}: {hour_at} is not the start of an hour"
            ));
        }
        let text: String = row.get("lines")?;
        let lines = decode_lines(&text).map_err(|e| format!("account_usage {dataset} at {hour_at}: {e}"))?;
        Ok(Self {
            hour_at,
            dataset,
            lines,
            exactness: Exactness::from_interval(row.get("sample_interval")?),
            collected_at: row.get("collected_at")?,
        })
    }
}

fn decode_lines(text: &str) -> Result<Vec<UsageLine>, String> {
    let Json::Array(lines) = serde_json::from_str(text).map_err(|e| e.to_string())? else {
        return Err("lines is not a JSON array".into());
    };
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| decode_line(line).map_err(|e| format!("line {i}: {e}")))
        .collect()
}

fn decode_line(line: &Json) -> Result<UsageLine, String> {
    let [metric, resource, project, amount] = line.as_array().map(Vec::as_slice).unwrap_or_default() else {
        return Err("not [metric, resource, project, amount]".into());
    };
    let metric = metric
        .as_str()
        .and_then(AccountMetric::parse)
        .ok_or_else(|| format!("unknown metric {metric}"))?;
    let resource = resource.as_str().ok_or("resource is not text")?;
    let project = match project {
        Json::Null => None,
        Json::String(project) => Some(project.as_str()),
        _ => return Err("project is neither text nor null".into()),
    };
    let amount = amount.as_f64().ok_or("amount is not a number")?;
    UsageLine::new(metric, resource, project, amount)
}
