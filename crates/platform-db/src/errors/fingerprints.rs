//! `error_fingerprints`: one row per error. Counts are added once per tail batch (one upsert per
//! fingerprint, all in the batch's one round trip); creating the GitHub issue is claimed
//! atomically on the row, its outcome and retry schedule kept there; the daily caps count it.

use std::collections::BTreeMap;

use platform_errors::lifecycle::{State, CLAIM_MS};
use platform_errors::priority::SOFT_ERROR_ESCALATION;
use platform_errors::webhook::IssueChange;
use platform_errors::{Aggregate, ErrorKind, Priority, ScriptInfo, UNMAPPED_PROJECT};
use serde::{Serialize, Serializer};

use super::state::{self, FactKey};
use crate::db::{decode, Db};
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::ERROR_FINGERPRINTS;
use crate::value::Value;

/// Whether an error is still going on, as far as anyone decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    /// Resolved by an operator or closed on GitHub: the next occurrence is a regression.
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Open, Self::Resolved]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A kind this version does not know (written by a newer one) reads as an unknown outcome, and
/// an unknown priority as P2, rather than failing the batch that reads the row.
pub(super) fn kind(row: &Row) -> Result<ErrorKind, String> {
    row.parse("kind", |s| {
        Some(ErrorKind::parse(s).unwrap_or(ErrorKind::UnknownOutcome))
    })
}

pub(super) fn priority(row: &Row) -> Result<Priority, String> {
    row.parse("priority", |s| Some(Priority::parse(s).unwrap_or(Priority::P2)))
}

pub(super) fn status(row: &Row) -> Result<Status, String> {
    row.parse("status", Status::parse)
}

// The admin routes show rows as D1 holds them: enums as their text, `muted` as 0 or 1, the logs
// as their JSON text.
pub(super) fn kind_text<S: Serializer>(kind: &ErrorKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

pub(super) fn priority_text<S: Serializer>(priority: &Priority, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(priority.as_str())
}

fn optional_priority_text<S: Serializer>(priority: &Option<Priority>, s: S) -> Result<S::Ok, S::Error> {
    match priority {
        Some(priority) => s.serialize_some(priority.as_str()),
        None => s.serialize_none(),
    }
}

pub(super) fn flag<S: Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(u8::from(*value))
}

fn json_text<S: Serializer>(logs: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&serde_json::to_string(logs).unwrap_or_else(|_| "[]".to_owned()))
}

/// A row of `error_fingerprints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fingerprint {
    pub fingerprint: String,
    pub project: String,
    pub script: String,
    /// `owner/name`; `None` when nobody said where to file the script's issues.
    pub repository: Option<String>,
    #[serde(serialize_with = "kind_text")]
    pub kind: ErrorKind,
    pub exception: Option<String>,
    /// The transient category, when the error is one.
    pub category: Option<String>,
    #[serde(serialize_with = "priority_text")]
    pub priority: Priority,
    pub title: String,
    pub message: String,
    pub sample: String,
    pub occurrences: u64,
    pub first_seen: u64,
    pub last_seen: u64,
    pub last_context: String,
    #[serde(serialize_with = "json_text")]
    pub last_logs: Vec<String>,
    pub status: Status,
    #[serde(serialize_with = "flag")]
    pub muted: bool,
    pub issue_number: Option<u64>,
    /// The priority the issue is labelled with.
    #[serde(serialize_with = "optional_priority_text")]
    pub issue_priority: Option<Priority>,
    /// When an invocation claimed creating the issue (cleared by its outcome).
    pub claimed_at: Option<u64>,
    pub attempts: u64,
    pub next_attempt_at: Option<u64>,
    pub last_error: Option<String>,
    /// The occurrences the issue last told about.
    pub notified_count: u64,
    pub notified_at: Option<u64>,
    pub issue_created_at: Option<u64>,
}

impl FromRow for Fingerprint {
    fn from_row(row: &Row) -> Result<Self, String> {
        let logs: String = row.get("last_logs")?;
        Ok(Self {
            fingerprint: row.get("fingerprint")?,
            project: row.get("project")?,
            script: row.get("script")?,
            repository: row.get("repository")?,
            kind: kind(row)?,
            exception: row.get("exception")?,
            category: row.get("category")?,
            priority: priority(row)?,
            title: row.get("title")?,
            message: row.get("message")?,
            sample: row.get("sample")?,
            occurrences: row.get("occurrences")?,
            first_seen: row.get("first_seen")?,
            last_seen: row.get("last_seen")?,
            last_context: row.get("last_context")?,
            last_logs: serde_json::from_str(&logs).unwrap_or_default(),
            status: status(row)?,
            muted: row.get("muted")?,
            issue_number: row.get("issue_number")?,
            issue_priority: row
                .get::<Option<String>>("issue_priority")?
                .as_deref()
                .and_then(Priority::parse),
            claimed_at: row.get("claimed_at")?,
            attempts: row.get("attempts")?,
            next_attempt_at: row.get("next_attempt_at")?,
            last_error: row.get("last_error")?,
            notified_count: row.get("notified_count")?,
            notified_at: row.get("notified_at")?,
            issue_created_at: row.get("issue_created_at")?,
        })
    }
}

impl Fingerprint {
    /// What the lifecycle decides from.
    pub fn state(&self) -> State {
        State {
            kind: self.kind,
            has_repository: self.repository.is_some(),
            muted: self.muted,
            resolved: self.status == Status::Resolved,
            issue: self.issue_number,
            occurrences: self.occurrences,
            notified_count: self.notified_count,
            notified_at: self.notified_at,
            claimed_at: self.claimed_at,
            next_attempt_at: self.next_attempt_at,
            attempts: self.attempts,
            priority: self.priority,
            issue_priority: self.issue_priority,
        }
    }
}

/// A soft error seen more than [`SOFT_ERROR_ESCALATION`] times in all is P2, whatever the batch
/// that crossed the line computed.
fn upsert_sql() -> String {
    format!(
        "INSERT INTO error_fingerprints (fingerprint, project, script, repository, kind, exception, \
         category, priority, title, message, sample, occurrences, first_seen, last_seen, last_context, \
         last_logs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
         ON CONFLICT (fingerprint) DO UPDATE SET occurrences = occurrences + excluded.occurrences, \
         first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen), \
         last_context = excluded.last_context, last_logs = excluded.last_logs, sample = excluded.sample, \
         project = excluded.project, repository = excluded.repository, \
         priority = CASE WHEN kind = '{soft}' AND occurrences + excluded.occurrences > {SOFT_ERROR_ESCALATION} \
         THEN '{p2}' ELSE excluded.priority END \
         RETURNING *",
        soft = ErrorKind::SoftError.as_str(),
        p2 = Priority::P2.as_str(),
    )
}

/// The statement adding one batch's `group` of occurrences to `fingerprint`'s row (created on
/// its first occurrence), returning the row as it is after. `info` is the script's mapping.
pub fn count(fingerprint: &str, group: &Aggregate, info: Option<&ScriptInfo>) -> Statement {
    let o = &group.last;
    let tier = info.and_then(|i| i.tier);
    let priority = Priority::of(o.kind, tier, group.count);
    let logs = serde_json::to_string(&o.logs).unwrap_or_else(|_| "[]".to_owned());
    Statement::write(
        &ERROR_FINGERPRINTS,
        upsert_sql(),
        vec![
            fingerprint.into(),
            info.map_or(UNMAPPED_PROJECT, |i| i.project.as_str()).into(),
            o.script.as_str().into(),
            info.and_then(|i| i.repository.as_deref()).into(),
            o.kind.as_str().into(),
            o.exception.as_deref().into(),
            o.category.as_deref().into(),
            priority.as_str().into(),
            o.title.as_str().into(),
            o.message.as_str().into(),
            o.sample.as_str().into(),
            group.count.into(),
            group.first_at.into(),
            o.at.into(),
            o.context.as_str().into(),
            logs.into(),
        ],
    )
}

/// Adds a batch's counts: one statement per fingerprint, all in one round trip, with `also` (the
/// handler's stamp when due, the batch's pattern matches). Returns the rows as they are after
/// the batch.
pub async fn record<S: Sql>(
    db: &Db<S>,
    groups: &BTreeMap<String, Aggregate>,
    scripts: &BTreeMap<String, ScriptInfo>,
    also: impl IntoIterator<Item = Statement>,
) -> Result<Vec<Fingerprint>, DbError> {
    const CONTEXT: &str = "recording counts";
    let mut statements: Vec<Statement> = groups
        .iter()
        .map(|(fingerprint, group)| count(fingerprint, group, scripts.get(&group.last.script)))
        .collect();
    let counted = statements.len();
    statements.extend(also);
    let outcomes = db.batch(CONTEXT, statements).await?;
    let mut rows = Vec::with_capacity(counted);
    for outcome in outcomes.iter().take(counted) {
        rows.extend(decode::<Fingerprint>(CONTEXT, outcome)?);
    }
    Ok(rows)
}

/// Whether a claiming statement claimed (returned its row).
async fn claimed<S: Sql>(db: &Db<S>, context: &str, statement: Statement) -> Result<bool, DbError> {
    Ok(!db.run(context, statement).await?.rows.is_empty())
}

/// The atomic claim of creating `fingerprint`'s issue: true for exactly one caller until its
/// outcome is recorded, the issue exists, or the claim is older than [`CLAIM_MS`] (a caller
/// that died is taken over).
pub async fn claim_creation<S: Sql>(db: &Db<S>, fingerprint: &str, now: u64) -> Result<bool, DbError> {
    let statement = Statement::write(
        &ERROR_FINGERPRINTS,
        "UPDATE error_fingerprints SET claimed_at = ?1 WHERE fingerprint = ?2 AND issue_number IS NULL \
         AND (claimed_at IS NULL OR claimed_at <= ?3) RETURNING fingerprint",
        vec![
            now.into(),
            fingerprint.into(),
            now.saturating_sub(CLAIM_MS).into(),
        ],
    );
    claimed(db, "claiming an issue creation", statement).await
}

/// Records the issue GitHub created for `fingerprint` (in `repository`), and the collector's
/// last successful issue write, in one round trip. The claim is released.
pub async fn created<S: Sql>(
    db: &Db<S>,
    fingerprint: &str,
    repository: &str,
    number: u64,
    now: u64,
) -> Result<(), DbError> {
    let update = Statement::write(
        &ERROR_FINGERPRINTS,
        "UPDATE error_fingerprints SET issue_number = ?1, issue_priority = priority, issue_created_at = ?2, \
         notified_count = occurrences, notified_at = ?2, attempts = 0, next_attempt_at = NULL, \
         last_error = NULL, claimed_at = NULL WHERE fingerprint = ?3",
        vec![number.into(), now.into(), fingerprint.into()],
    );
    let fact = state::record(FactKey::LastIssueWrite, &format!("{repository}#{number}"), now);
    db.batch("recording a created issue", vec![update, fact]).await?;
    Ok(())
}

/// A creation that failed or was deferred: tried again at `next_attempt_at` (by a later batch or
/// the retry cron), after `attempts` failures. Releases the claim, so the next attempt can claim.
pub async fn retry_later<S: Sql>(
    db: &Db<S>,
    fingerprint: &str,
    attempts: u64,
    next_attempt_at: u64,
    error: &str,
) -> Result<(), DbError> {
    let statement = Statement::write(
        &ERROR_FINGERPRINTS,
        "UPDATE error_fingerprints SET attempts = ?1, next_attempt_at = ?2, last_error = ?3, claimed_at = NULL \
         WHERE fingerprint = ?4",
        vec![attempts.into(), next_attempt_at.into(), error.into(), fingerprint.into()],
    );
    db.run("recording a failed issue creation", statement).await?;
    Ok(())
}

/// Claims telling the issue about `row`'s occurrences: moves `notified_count` from what this row
/// saw to its occurrences, so that of two invocations that saw the same count one comments.
pub async fn claim_update<S: Sql>(db: &Db<S>, row: &Fingerprint, now: u64) -> Result<bool, DbError> {
    let statement = Statement::write(
        &ERROR_FINGERPRINTS,
        "UPDATE error_fingerprints SET notified_count = ?1, notified_at = ?2 WHERE fingerprint = ?3 \
         AND notified_count = ?4 RETURNING fingerprint",
        vec![
            row.occurrences.into(),
            now.into(),
            row.fingerprint.as_str().into(),
            row.notified_count.into(),
        ],
    );
    claimed(db, "claiming an issue update", statement).await
}

/// Claims a reopening: only one invocation moves the row from resolved to open.
pub async fn claim_reopen<S: Sql>(db: &Db<S>, fingerprint: &str, now: u64) -> Result<bool, DbError> {
    let statement = Statement::write(
        &ERROR_FINGERPRINTS,
        "UPDATE error_fingerprints SET status = 'open', notified_count = occurrences, notified_at = ?1 \
         WHERE fingerprint = ?2 AND status = 'resolved' RETURNING fingerprint",
        vec![now.into(), fingerprint.into()],
    );
    claimed(db, "claiming a reopening", statement).await
}

async fn set<S: Sql>(db: &Db<S>, fingerprint: &str, column: &str, value: Value) -> Result<(), DbError> {
    let statement = Statement::write(
        &ERROR_FINGERPRINTS,
        format!("UPDATE error_fingerprints SET {column} = ?1 WHERE fingerprint = ?2"),
        vec![value, fingerprint.into()],
    );
    db.run("updating a fingerprint", statement).await?;
    Ok(())
}

/// Mutes or unmutes (an operator, or a silencing label found on the issue).
pub async fn set_muted<S: Sql>(db: &Db<S>, fingerprint: &str, muted: bool) -> Result<(), DbError> {
    set(db, fingerprint, "muted", muted.into()).await
}

/// Resolves, or puts a claimed reopening back.
pub async fn set_status<S: Sql>(db: &Db<S>, fingerprint: &str, status: Status) -> Result<(), DbError> {
    set(db, fingerprint, "status", status.as_str().into()).await
}

/// The priority the issue is now labelled with.
pub async fn set_issue_priority<S: Sql>(
    db: &Db<S>,
    fingerprint: &str,
    priority: Priority,
) -> Result<(), DbError> {
    set(db, fingerprint, "issue_priority", priority.as_str().into()).await
}

pub async fn get<S: Sql>(db: &Db<S>, fingerprint: &str) -> Result<Option<Fingerprint>, DbError> {
    let statement = Statement::read(
        "SELECT * FROM error_fingerprints WHERE fingerprint = ?1",
        vec![fingerprint.into()],
    );
    db.first("reading a fingerprint", statement).await
}

/// Issues created since a time: over the account, and for one script.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Created {
    pub account: u64,
    /// 0 when no script was named.
    pub script: u64,
}

impl FromRow for Created {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            account: row.get("account")?,
            script: row.get("script")?,
        })
    }
}

/// The statement counting issues created since `since` (ms), on the `issue_created_at` index.
pub fn count_created(since: u64, script: Option<&str>) -> Statement {
    Statement::read(
        "SELECT count(*) AS account, coalesce(sum(script = ?1), 0) AS script FROM error_fingerprints \
         WHERE issue_created_at >= ?2",
        vec![script.into(), since.into()],
    )
}

/// The daily caps' count: issues created since `since`, and those of `script` when one is named.
pub async fn created_since<S: Sql>(db: &Db<S>, since: u64, script: Option<&str>) -> Result<Created, DbError> {
    let created = db
        .first("counting issues created today", count_created(since, script))
        .await?;
    Ok(created.unwrap_or_default())
}

/// Fingerprints whose creation is due again (the retry cron), the longest waiting first.
pub async fn due_creations<S: Sql>(db: &Db<S>, now: u64, limit: u32) -> Result<Vec<Fingerprint>, DbError> {
    let statement = Statement::read(
        format!(
            "SELECT * FROM error_fingerprints WHERE issue_number IS NULL AND next_attempt_at IS NOT NULL \
             AND next_attempt_at <= ?1 AND muted = 0 AND status = 'open' AND kind != '{warning}' \
             AND repository IS NOT NULL ORDER BY next_attempt_at LIMIT ?2",
            warning = ErrorKind::Warning.as_str(),
        ),
        vec![now.into(), limit.into()],
    );
    db.rows("reading due issue creations", statement).await
}

/// A fingerprint changed by an issue event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub fingerprint: String,
    pub status: Status,
    pub muted: bool,
    pub issue_number: u64,
}

impl FromRow for Changed {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            fingerprint: row.get("fingerprint")?,
            status: status(row)?,
            muted: row.get("muted")?,
            issue_number: row.get("issue_number")?,
        })
    }
}

/// Applies what a person did to an issue on GitHub (closed, reopened, a silencing label) to the
/// fingerprint it was filed for; `None` for an issue the collector did not file.
pub async fn apply_issue_change<S: Sql>(
    db: &Db<S>,
    change: &IssueChange,
) -> Result<Option<Changed>, DbError> {
    let status = change
        .resolved
        .map(|resolved| if resolved { Status::Resolved } else { Status::Open });
    let statement = Statement::write(
        &ERROR_FINGERPRINTS,
        "UPDATE error_fingerprints SET status = coalesce(?1, status), muted = coalesce(?2, muted) \
         WHERE repository = ?3 AND issue_number = ?4 RETURNING fingerprint, status, muted, issue_number",
        vec![
            status.map(Status::as_str).into(),
            change.muted.into(),
            change.repository.as_str().into(),
            change.number.into(),
        ],
    );
    db.first("applying a GitHub issue event", statement).await
}
