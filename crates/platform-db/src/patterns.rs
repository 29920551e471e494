//! Pattern discovery's tables: every rule suggested (`patterns`: its cluster, backtest and place in
//! the lifecycle) and the matches the error collector records for shadow and approved patterns
//! (`pattern_matches`, one upsert per pattern, day and fingerprint per tail batch). Discovery
//! reads the recent stored errors of `error_fingerprints`, bounded by a window and a limit.

use std::collections::BTreeMap;

use platform_core::time::iso8601;
use platform_core::UtcDay;
use platform_errors::patterns::RuleType;
use platform_errors::sightings::Sighting;
use platform_patterns::discovery::{Source, Suggestion, MAX_FINGERPRINTS};
use platform_patterns::lifecycle::{DayEvidence, Evidence};
use platform_patterns::{Rule, Status, StoredError, DAY_MS};
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::{insert_rows, select_in, Statement};
use crate::tables::{PATTERNS, PATTERN_MATCHES};

impl FromRow for StoredError {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            fingerprint: row.get("fingerprint")?,
            script: row.get("script")?,
            exception: row.get("exception")?,
            category: row.get("category")?,
            message: row.get("message")?,
            sample: row.get("sample")?,
            occurrences: row.get("occurrences")?,
            last_seen: row.get("last_seen")?,
            open: row.get("open")?,
        })
    }
}

/// The stored errors seen since `since` (ms), newest first, at most `limit`: what discovery mines
/// and backtests against. Read on the `last_seen` index, so the read does not grow with history.
pub async fn corpus<S: Sql>(db: &Db<S>, since: u64, limit: u32) -> Result<Vec<StoredError>, DbError> {
    db.rows("reading the stored errors", corpus_statement(since, limit))
        .await
}

/// The statement [`corpus`] runs.
pub fn corpus_statement(since: u64, limit: u32) -> Statement {
    Statement::read(
        "SELECT fingerprint, script, exception, category, message, sample, occurrences, last_seen, \
         (status = 'open' AND muted = 0) AS open FROM error_fingerprints WHERE last_seen >= ?1 \
         ORDER BY last_seen DESC LIMIT ?2",
        vec![since.into(), limit.into()],
    )
}

fn iso<S: Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso8601(*ms))
}

fn optional_iso<S: Serializer>(ms: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_some(&iso8601(*ms)),
        None => s.serialize_none(),
    }
}

/// A row of `patterns`. Times serialise as ISO 8601 UTC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pattern {
    pub id: String,
    #[serde(rename = "type", serialize_with = "kind_text")]
    pub kind: RuleType,
    pub value: String,
    pub category: String,
    pub scope: String,
    pub source: Source,
    pub status: Status,
    /// Why it was refused, rejected, expired, went stale or was disabled.
    pub reason: Option<String>,
    /// The template of its cluster.
    pub cluster: String,
    pub samples: Vec<String>,
    pub fingerprints: Vec<String>,
    pub backtest: Option<Json>,
    #[serde(serialize_with = "iso")]
    pub created_at: u64,
    #[serde(serialize_with = "iso")]
    pub updated_at: u64,
    #[serde(serialize_with = "optional_iso")]
    pub shadow_from: Option<u64>,
    #[serde(serialize_with = "optional_iso")]
    pub shadow_until: Option<u64>,
    #[serde(serialize_with = "optional_iso")]
    pub ready_at: Option<u64>,
    #[serde(serialize_with = "optional_iso")]
    pub approved_at: Option<u64>,
    pub decided_by: Option<String>,
}

fn kind_text<S: Serializer>(kind: &RuleType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

impl Pattern {
    pub fn rule(&self) -> Rule {
        Rule::new(self.kind, self.value.as_str())
    }
}

fn json_list(row: &Row, column: &str) -> Result<Vec<String>, String> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| format!("column {column}: {e}"))
}

impl FromRow for Pattern {
    fn from_row(row: &Row) -> Result<Self, String> {
        let backtest: Option<String> = row.get("backtest")?;
        Ok(Self {
            id: row.get("id")?,
            kind: row.parse("kind", RuleType::parse)?,
            value: row.get("value")?,
            category: row.get("category")?,
            scope: row.get("scope")?,
            source: row.parse("source", Source::parse)?,
            status: row.parse("status", Status::parse)?,
            reason: row.get("reason")?,
            cluster: row.get("cluster")?,
            samples: json_list(row, "samples")?,
            fingerprints: json_list(row, "fingerprints")?,
            backtest: backtest.and_then(|text| serde_json::from_str(&text).ok()),
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            shadow_from: row.get("shadow_from")?,
            shadow_until: row.get("shadow_until")?,
            ready_at: row.get("ready_at")?,
            approved_at: row.get("approved_at")?,
            decided_by: row.get("decided_by")?,
        })
    }
}

/// A pattern of a KV list, as the consumer SDK reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    pub category: String,
    pub scope: String,
}

impl FromRow for Listed {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            id: row.get("id")?,
            kind: row.get("kind")?,
            value: row.get("value")?,
            category: row.get("category")?,
            scope: row.get("scope")?,
        })
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// Stores a suggestion: a new rule as `pending` (or `refused`, with why), and a refused rule
/// checked again. A rule in any other status is left as it is: it was suggested before, and a
/// rejected or expired one is never suggested again. Returns the statement; it returns the id
/// when it wrote.
pub fn suggest(suggestion: &Suggestion, now: u64) -> Statement {
    let (status, reason, backtest) = match &suggestion.verdict {
        Ok(test) => {
            let mut test = test.clone();
            test.matched.truncate(MAX_FINGERPRINTS);
            (Status::Pending, None, Some(to_json(&test)))
        }
        Err(refusal) => (Status::Refused, Some(refusal.to_string()), None),
    };
    let mut fingerprints = suggestion.cluster.fingerprints.clone();
    fingerprints.truncate(MAX_FINGERPRINTS);
    Statement::write(
        &PATTERNS,
        "INSERT INTO patterns (id, kind, value, category, source, status, reason, cluster, samples, \
         fingerprints, backtest, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason, \
         category = excluded.category, cluster = excluded.cluster, samples = excluded.samples, \
         fingerprints = excluded.fingerprints, backtest = excluded.backtest, created_at = excluded.created_at, \
         updated_at = excluded.updated_at WHERE patterns.status = 'refused' RETURNING id, status",
        vec![
            suggestion.id.as_str().into(),
            suggestion.rule.kind.as_str().into(),
            suggestion.rule.value.as_str().into(),
            suggestion.category.as_str().into(),
            suggestion.source.as_str().into(),
            status.as_str().into(),
            reason.into(),
            suggestion.cluster.template.as_str().into(),
            to_json(&suggestion.cluster.samples).into(),
            to_json(&fingerprints).into(),
            backtest.into(),
            now.into(),
        ],
    )
}

/// Which of `ids` are known, with their status: a rule known in any status but `refused` is not
/// suggested again.
pub async fn known<S: Sql>(db: &Db<S>, ids: &[String]) -> Result<BTreeMap<String, Status>, DbError> {
    let statements = select_in(
        "SELECT id, status FROM patterns WHERE id",
        &[],
        ids.iter().map(|id| id.as_str().into()).collect(),
        "",
    );
    let outcomes = db.batch("reading known patterns", statements).await?;
    let mut known = BTreeMap::new();
    for row in outcomes.iter().flat_map(|o| &o.rows) {
        let id: String = row
            .get("id")
            .map_err(|e| DbError::decode("reading known patterns", e))?;
        if let Ok(status) = row.parse("status", Status::parse) {
            known.insert(id, status);
        }
    }
    Ok(known)
}

/// Patterns in `statuses`, the oldest first, at most `limit`.
pub async fn with_status<S: Sql>(
    db: &Db<S>,
    statuses: &[Status],
    limit: u32,
) -> Result<Vec<Pattern>, DbError> {
    let list = statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let statement = Statement::read(
        format!("SELECT * FROM patterns WHERE status IN ({list}) ORDER BY created_at, id LIMIT ?1"),
        vec![limit.into()],
    );
    db.rows("reading patterns", statement).await
}

pub async fn get<S: Sql>(db: &Db<S>, id: &str) -> Result<Option<Pattern>, DbError> {
    let statement = Statement::read("SELECT * FROM patterns WHERE id = ?1", vec![id.into()]);
    db.first("reading a pattern", statement).await
}

/// The patterns a KV list holds (`approved` or `shadow`), in the order they got there.
pub async fn listed<S: Sql>(db: &Db<S>, status: Status) -> Result<Vec<Listed>, DbError> {
    let statement = Statement::read(
        "SELECT id, kind, value, category, scope FROM patterns WHERE status = ?1 \
         ORDER BY coalesce(approved_at, shadow_from, created_at), id",
        vec![status.as_str().into()],
    );
    db.rows("reading the patterns to cache", statement).await
}

/// A change of status, with what it sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change<'a> {
    pub reason: Option<&'a str>,
    pub shadow: Option<(u64, u64)>,
    pub ready: bool,
    pub approved: bool,
    pub by: Option<&'a str>,
    pub backtest: Option<String>,
}

/// Moves a pattern from `from` to `to`, only if it is still in `from` (two runs, or a run and an
/// operator, never both move it); returns the id when it moved.
pub fn transition(id: &str, from: Status, to: Status, change: &Change<'_>, now: u64) -> Statement {
    Statement::write(
        &PATTERNS,
        "UPDATE patterns SET status = ?1, reason = ?2, updated_at = ?3, \
         shadow_from = coalesce(?4, shadow_from), shadow_until = coalesce(?5, shadow_until), \
         ready_at = CASE WHEN ?6 THEN ?3 ELSE ready_at END, approved_at = CASE WHEN ?7 THEN ?3 ELSE approved_at END, \
         decided_by = coalesce(?8, decided_by), backtest = coalesce(?9, backtest) \
         WHERE id = ?10 AND status = ?11 RETURNING id",
        vec![
            to.as_str().into(),
            change.reason.into(),
            now.into(),
            change.shadow.map(|(from, _)| from).into(),
            change.shadow.map(|(_, until)| until).into(),
            change.ready.into(),
            change.approved.into(),
            change.by.into(),
            change.backtest.clone().into(),
            id.into(),
            from.as_str().into(),
        ],
    )
}

/// Runs one transition; whether it moved the pattern.
pub async fn move_one<S: Sql>(db: &Db<S>, statement: Statement) -> Result<bool, DbError> {
    Ok(!db.run("moving a pattern", statement).await?.rows.is_empty())
}

fn day_number(text: &str) -> Option<u64> {
    UtcDay::parse(text).map(|day| day.start_ms() / DAY_MS)
}

/// The recorded matches of each of `ids`, per day.
pub async fn evidence<S: Sql>(db: &Db<S>, ids: &[String]) -> Result<BTreeMap<String, Evidence>, DbError> {
    let statements = select_in(
        "SELECT pattern_id, day, sum(matches) AS matches, count(*) AS fingerprints FROM pattern_matches \
         WHERE pattern_id",
        &[],
        ids.iter().map(|id| id.as_str().into()).collect(),
        "GROUP BY pattern_id, day",
    );
    let outcomes = db.batch("reading pattern evidence", statements).await?;
    let mut evidence: BTreeMap<String, Evidence> = BTreeMap::new();
    for row in outcomes.iter().flat_map(|o| &o.rows) {
        let read = || -> Result<(String, u64, DayEvidence), String> {
            let day: String = row.get("day")?;
            Ok((
                row.get("pattern_id")?,
                day_number(&day).ok_or_else(|| format!("column day: {day:?} is not a day"))?,
                DayEvidence {
                    matches: row.get("matches")?,
                    fingerprints: row.get("fingerprints")?,
                },
            ))
        };
        let (id, day, counts) = read().map_err(|e| DbError::decode("reading pattern evidence", e))?;
        evidence.entry(id).or_default().days.insert(day, counts);
    }
    Ok(evidence)
}

/// A fingerprint a pattern matched, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Silenced {
    pub fingerprint: String,
    pub matches: u64,
}

impl FromRow for Silenced {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            fingerprint: row.get("fingerprint")?,
            matches: row.get("matches")?,
        })
    }
}

/// The fingerprints a pattern matched live, the most matched first.
pub async fn silenced<S: Sql>(db: &Db<S>, id: &str, limit: u32) -> Result<Vec<Silenced>, DbError> {
    let statement = Statement::read(
        "SELECT fingerprint, sum(matches) AS matches FROM pattern_matches WHERE pattern_id = ?1 \
         GROUP BY fingerprint ORDER BY matches DESC, fingerprint LIMIT ?2",
        vec![id.into(), limit.into()],
    );
    db.rows("reading the fingerprints a pattern matched", statement)
        .await
}

/// The statements adding a tail batch's sightings (run them in the batch's own round trip).
pub fn record_sightings(sightings: &BTreeMap<Sighting, u64>, now: u64) -> Vec<Statement> {
    let rows: Vec<Vec<crate::Value>> = sightings
        .iter()
        .map(|(s, count)| {
            vec![
                s.pattern.as_str().into(),
                UtcDay::containing(s.day.saturating_mul(DAY_MS))
                    .to_string()
                    .into(),
                s.fingerprint.as_str().into(),
                (*count).into(),
                now.into(),
            ]
        })
        .collect();
    insert_rows(
        &PATTERN_MATCHES,
        "INSERT INTO pattern_matches (pattern_id, day, fingerprint, matches, last_at)",
        rows,
        "ON CONFLICT (pattern_id, day, fingerprint) DO UPDATE SET matches = matches + excluded.matches, \
         last_at = max(last_at, excluded.last_at)",
    )
}
