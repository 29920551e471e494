//! The fingerprint record in D1: one batch of upserts per tail batch (counts), and the atomic
//! claims and outcomes of GitHub work.

use std::collections::BTreeMap;

use platform_errors::lifecycle::{backoff_ms, State};
use platform_errors::{Aggregate, ErrorKind, Priority, ScriptInfo};
use platform_worker::{d1, ApiError};
use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

/// A row of `error_fingerprints` (numbers arrive from D1 as floats).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub fingerprint: String,
    pub project: String,
    pub script: String,
    pub repository: Option<String>,
    pub kind: String,
    pub exception: Option<String>,
    pub category: Option<String>,
    pub priority: String,
    pub title: String,
    pub message: String,
    pub sample: String,
    pub occurrences: f64,
    pub first_seen: f64,
    pub last_seen: f64,
    pub last_context: String,
    pub last_logs: String,
    pub status: String,
    pub muted: f64,
    pub issue_number: Option<f64>,
    pub issue_priority: Option<String>,
    pub claimed_at: Option<f64>,
    pub attempts: f64,
    pub next_attempt_at: Option<f64>,
    pub last_error: Option<String>,
    pub notified_count: f64,
    pub notified_at: Option<f64>,
    pub issue_created_at: Option<f64>,
}

impl Row {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::parse(&self.kind).unwrap_or(ErrorKind::UnknownOutcome)
    }

    pub fn priority(&self) -> Priority {
        Priority::parse(&self.priority).unwrap_or(Priority::P2)
    }

    pub fn issue(&self) -> Option<u64> {
        self.issue_number.map(|n| n as u64)
    }

    pub fn logs(&self) -> Vec<String> {
        serde_json::from_str(&self.last_logs).unwrap_or_default()
    }

    pub fn state(&self) -> State {
        State {
            kind: self.kind(),
            has_repository: self.repository.is_some(),
            muted: self.muted != 0.0,
            resolved: self.status == "resolved",
            issue: self.issue(),
            occurrences: self.occurrences as u64,
            notified_count: self.notified_count as u64,
            notified_at: self.notified_at.map(|n| n as u64),
            claimed_at: self.claimed_at.map(|n| n as u64),
            next_attempt_at: self.next_attempt_at.map(|n| n as u64),
            attempts: self.attempts as u64,
            priority: self.priority(),
            issue_priority: self.issue_priority.as_deref().and_then(Priority::parse),
        }
    }
}

const UPSERT: &str = "INSERT INTO error_fingerprints (fingerprint, project, script, repository, kind, exception, \
     category, priority, title, message, sample, occurrences, first_seen, last_seen, last_context, last_logs) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
     ON CONFLICT (fingerprint) DO UPDATE SET occurrences = occurrences + excluded.occurrences, \
     first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen), \
     last_context = excluded.last_context, last_logs = excluded.last_logs, sample = excluded.sample, \
     project = excluded.project, repository = excluded.repository, \
     priority = CASE WHEN kind = 'soft-error' AND occurrences + excluded.occurrences > 5 THEN 'P2' \
     ELSE excluded.priority END \
     RETURNING *";

/// Adds a batch's counts: one statement per fingerprint, all in one D1 round trip, with `also`
/// (the handler's stamp, when due). Returns the rows as they are after the batch.
pub async fn record(
    db: &D1Database,
    groups: &BTreeMap<String, Aggregate>,
    scripts: &BTreeMap<String, ScriptInfo>,
    also: Option<D1PreparedStatement>,
) -> Result<Vec<Row>, ApiError> {
    let mut statements = Vec::with_capacity(groups.len() + 1);
    for (fingerprint, group) in groups {
        let o = &group.last;
        let info = scripts.get(&o.script);
        let tier = info.and_then(|i| i.tier);
        let priority = Priority::of(o.kind, tier, group.count);
        let logs = serde_json::to_string(&o.logs).unwrap_or_else(|_| "[]".to_owned());
        statements.push(d1::statement(
            db,
            UPSERT,
            &[
                d1::text(fingerprint),
                d1::text(info.map_or(platform_errors::UNMAPPED_PROJECT, |i| i.project.as_str())),
                d1::text(&o.script),
                d1::optional_text(info.and_then(|i| i.repository.as_deref())),
                d1::text(o.kind.as_str()),
                d1::optional_text(o.exception.as_deref()),
                d1::optional_text(o.category.as_deref()),
                d1::text(priority.as_str()),
                d1::text(&o.title),
                d1::text(&o.message),
                d1::text(&o.sample),
                d1::number(group.count as f64),
                d1::ms(group.first_at),
                d1::ms(o.at),
                d1::text(&o.context),
                d1::text(&logs),
            ],
        )?);
    }
    let counted = statements.len();
    statements.extend(also);
    let results = d1::batch(db, statements).await?;
    d1::all_rows(&results[..counted.min(results.len())])
}

#[derive(Deserialize)]
struct Claimed {
    #[allow(dead_code)]
    fingerprint: String,
}

/// The atomic claim of creating `fingerprint`'s issue: true for exactly one caller until the
/// claim expires or the issue exists.
pub async fn claim_creation(db: &D1Database, fingerprint: &str, now: u64) -> Result<bool, ApiError> {
    let rows: Vec<Claimed> = d1::query(
        db,
        "claiming an issue creation",
        "UPDATE error_fingerprints SET claimed_at = ?1 WHERE fingerprint = ?2 AND issue_number IS NULL \
         AND (claimed_at IS NULL OR claimed_at <= ?3) RETURNING fingerprint",
        &[
            d1::ms(now),
            d1::text(fingerprint),
            d1::ms(now.saturating_sub(platform_errors::lifecycle::CLAIM_MS)),
        ],
    )
    .await?;
    Ok(!rows.is_empty())
}

pub async fn created(db: &D1Database, row: &Row, number: u64, now: u64) -> Result<(), ApiError> {
    d1::execute(
        db,
        "recording a created issue",
        "UPDATE error_fingerprints SET issue_number = ?1, issue_priority = priority, issue_created_at = ?2, \
         notified_count = occurrences, notified_at = ?2, attempts = 0, next_attempt_at = NULL, last_error = NULL, \
         claimed_at = NULL WHERE fingerprint = ?3",
        &[d1::number(number as f64), d1::ms(now), d1::text(&row.fingerprint)],
    )
    .await?;
    state(
        db,
        "last_issue_write",
        &format!("{}#{number}", row.repository.as_deref().unwrap_or("")),
        now,
    )
    .await
}

/// A failed creation: retried after a backoff (or when GitHub said), by a later batch or the cron.
pub async fn creation_failed(
    db: &D1Database,
    row: &Row,
    error: &str,
    retry_at: Option<u64>,
    count_attempt: bool,
    now: u64,
) -> Result<(), ApiError> {
    let attempts = row.attempts as u64 + u64::from(count_attempt);
    let next = retry_at.unwrap_or(now + backoff_ms(attempts.max(1)));
    d1::execute(
        db,
        "recording a failed issue creation",
        "UPDATE error_fingerprints SET attempts = ?1, next_attempt_at = ?2, last_error = ?3, claimed_at = NULL \
         WHERE fingerprint = ?4",
        &[
            d1::number(attempts as f64),
            d1::ms(next),
            d1::text(error),
            d1::text(&row.fingerprint),
        ],
    )
    .await
}

/// Claims an occurrence update (comment) by moving `notified_count` from what this row saw.
pub async fn claim_update(db: &D1Database, row: &Row, now: u64) -> Result<bool, ApiError> {
    let rows: Vec<Claimed> = d1::query(
        db,
        "claiming an issue update",
        "UPDATE error_fingerprints SET notified_count = ?1, notified_at = ?2 WHERE fingerprint = ?3 \
         AND notified_count = ?4 RETURNING fingerprint",
        &[
            d1::number(row.occurrences),
            d1::ms(now),
            d1::text(&row.fingerprint),
            d1::number(row.notified_count),
        ],
    )
    .await?;
    Ok(!rows.is_empty())
}

/// Claims a reopening: only one invocation moves the row from resolved to open.
pub async fn claim_reopen(db: &D1Database, row: &Row, now: u64) -> Result<bool, ApiError> {
    let rows: Vec<Claimed> = d1::query(
        db,
        "claiming a reopening",
        "UPDATE error_fingerprints SET status = 'open', notified_count = occurrences, notified_at = ?1 \
         WHERE fingerprint = ?2 AND status = 'resolved' RETURNING fingerprint",
        &[d1::ms(now), d1::text(&row.fingerprint)],
    )
    .await?;
    Ok(!rows.is_empty())
}

/// Sets one column of a fingerprint (status, muted, issue_priority).
pub async fn set(db: &D1Database, fingerprint: &str, column: Column, value: JsValue) -> Result<(), ApiError> {
    let sql = format!(
        "UPDATE error_fingerprints SET {} = ?1 WHERE fingerprint = ?2",
        column.name()
    );
    d1::execute(
        db,
        "updating a fingerprint",
        &sql,
        &[value, d1::text(fingerprint)],
    )
    .await
}

#[derive(Debug, Clone, Copy)]
pub enum Column {
    Status,
    Muted,
    IssuePriority,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Muted => "muted",
            Self::IssuePriority => "issue_priority",
        }
    }
}

pub async fn get(db: &D1Database, fingerprint: &str) -> Result<Option<Row>, ApiError> {
    d1::query_first(
        db,
        "reading a fingerprint",
        "SELECT * FROM error_fingerprints WHERE fingerprint = ?1",
        &[d1::text(fingerprint)],
    )
    .await
}

/// Issues created since `since` (ms): over the account, and for `script` when one is named.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Created {
    pub account: f64,
    pub script: f64,
}

/// The daily caps' count, on the `issue_created_at` index.
pub async fn created_since(db: &D1Database, since: u64, script: Option<&str>) -> Result<Created, ApiError> {
    let created: Option<Created> = d1::query_first(
        db,
        "counting issues created today",
        "SELECT count(*) AS account, coalesce(sum(script = ?1), 0) AS script FROM error_fingerprints \
         WHERE issue_created_at >= ?2",
        &[d1::optional_text(script), d1::ms(since)],
    )
    .await?;
    Ok(created.unwrap_or_default())
}

/// Fingerprints whose creation is due again (the retry cron).
pub async fn due_creations(db: &D1Database, now: u64, limit: u32) -> Result<Vec<Row>, ApiError> {
    d1::query(
        db,
        "reading due issue creations",
        "SELECT * FROM error_fingerprints WHERE issue_number IS NULL AND next_attempt_at IS NOT NULL \
         AND next_attempt_at <= ?1 AND muted = 0 AND status = 'open' AND kind != 'warning' \
         AND repository IS NOT NULL ORDER BY next_attempt_at LIMIT ?2",
        &[d1::ms(now), d1::number(limit)],
    )
    .await
}

/// Records a fact about the collector itself (for /health).
pub async fn state(db: &D1Database, key: &str, value: &str, now: u64) -> Result<(), ApiError> {
    d1::execute(
        db,
        "recording collector state",
        "INSERT INTO error_collector_state (key, value, at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, at = excluded.at",
        &[d1::text(key), d1::text(value), d1::ms(now)],
    )
    .await
}

/// An issue filed at most once per project per day (`kind` `digest` or `gap`).
pub struct DailyIssue<'a> {
    pub kind: &'static str,
    pub project: &'a str,
    pub day: &'a str,
}

#[derive(Deserialize)]
struct ClaimedDay {
    #[allow(dead_code)]
    day: String,
}

impl DailyIssue<'_> {
    /// Claims the day's issue before GitHub is called: true for one caller, until the issue is
    /// recorded or a claim older than a minute (a crashed caller) is taken over.
    pub async fn claim(&self, db: &D1Database, now: u64) -> Result<bool, ApiError> {
        let claimed: Vec<ClaimedDay> = d1::query(
            db,
            "claiming a daily issue",
            "INSERT INTO error_daily_issues (kind, project, day, claimed_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (kind, project, day) DO UPDATE SET claimed_at = excluded.claimed_at \
             WHERE issue_number IS NULL AND claimed_at <= ?5 RETURNING day",
            &[
                d1::text(self.kind),
                d1::text(self.project),
                d1::text(self.day),
                d1::ms(now),
                d1::ms(now.saturating_sub(60_000)),
            ],
        )
        .await?;
        Ok(!claimed.is_empty())
    }

    /// Records the issue GitHub accepted, and the collector's last successful issue write.
    pub async fn record(
        &self,
        db: &D1Database,
        repository: &str,
        number: u64,
        now: u64,
    ) -> Result<(), ApiError> {
        d1::execute(
            db,
            "recording a daily issue",
            "UPDATE error_daily_issues SET issue_number = ?1 WHERE kind = ?2 AND project = ?3 AND day = ?4",
            &[
                d1::number(number as f64),
                d1::text(self.kind),
                d1::text(self.project),
                d1::text(self.day),
            ],
        )
        .await?;
        state(db, "last_issue_write", &format!("{repository}#{number}"), now).await
    }

    /// Gives the claim back after GitHub refused, so a later run can try again.
    pub async fn release(&self, db: &D1Database) -> Result<(), ApiError> {
        d1::execute(
            db,
            "releasing a daily issue claim",
            "DELETE FROM error_daily_issues WHERE kind = ?1 AND project = ?2 AND day = ?3 AND issue_number IS NULL",
            &[d1::text(self.kind), d1::text(self.project), d1::text(self.day)],
        )
        .await
    }
}
