//! One run (the daily cron, or `POST /discover`): read the recent stored errors once, store the
//! new suggestions, move every pattern along its lifecycle, rewrite the KV lists, tell the
//! operator when there is something to review, and apply the tables' retention.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::alert::AlertSubject;
use platform_core::UtcDay;
use platform_db::patterns::{self, Change, Pattern};
use platform_kv::PlatformWorker;
use platform_patterns::discovery::{plan, Settings, Skipped, Suggestion};
use platform_patterns::lifecycle::{decide, Decision, Facts, Thresholds};
use platform_patterns::{safety, Status, StoredError, DAY_MS};
use platform_worker::alerts::{self, Alert};
use platform_worker::{ApiError, PlatformDb};
use serde::Serialize;
use worker::Env;

use crate::cache::{self, Refreshed};
use crate::model;

pub const ID: PlatformWorker = PlatformWorker::PatternDiscovery;
/// The stored errors a run reads: seen within this window, the newest first, at most this many.
pub const CORPUS_WINDOW_MS: u64 = 30 * DAY_MS;
pub const CORPUS_LIMIT: u32 = 2_000;
/// Patterns a run moves along the lifecycle.
const LIFECYCLE_LIMIT: u32 = 500;

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct RunReport {
    /// Stored errors read, and those mined (open, unclassified, recurring).
    pub errors_read: usize,
    pub errors_mined: usize,
    pub clusters: usize,
    /// New suggestions stored as pending, and rules refused by a safety check (with why).
    pub suggested: Vec<String>,
    pub refused: Vec<String>,
    /// Rules found again that are already known (any status but refused): not suggested again.
    pub known: usize,
    pub skipped: Vec<Skipped>,
    /// What the optional model did, when it is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<model::ModelReport>,
    /// Lifecycle moves: `id: from -> to`.
    pub moved: Vec<String>,
    pub cache: Refreshed,
    pub alerted: bool,
    pub errors: Vec<String>,
}

/// Why a run failed, if it did.
pub fn failure(report: &RunReport) -> Option<String> {
    (!report.errors.is_empty()).then(|| report.errors.join("; "))
}

/// The stored errors of the window.
pub async fn corpus(db: &PlatformDb, now: u64) -> Result<Vec<StoredError>, ApiError> {
    Ok(patterns::corpus(db, now.saturating_sub(CORPUS_WINDOW_MS), CORPUS_LIMIT).await?)
}

pub async fn run(env: &Env, now: u64) -> RunReport {
    let mut report = RunReport::default();
    if let Err(error) = run_in(env, now, &mut report).await {
        report.errors.push(error.log_message());
    }
    report
}

async fn run_in(env: &Env, now: u64, report: &mut RunReport) -> Result<(), ApiError> {
    let db = platform_worker::db(env, ID)?;
    let store = platform_worker::store(env, ID)?;
    let corpus = corpus(&db, now).await?;
    let settings = Settings::default();
    let mut found = plan(&corpus, &settings);
    report.errors_read = corpus.len();
    report.errors_mined = found.mined;
    report.clusters = found.clusters.len();
    report.skipped = std::mem::take(&mut found.skipped);
    let mut suggestions = found.suggestions;
    if let Some(model) = model::Model::of(env) {
        let (proposed, model_report) = model.suggest(&found.clusters, &corpus, &settings.limits).await;
        suggestions.extend(proposed);
        report.model = Some(model_report);
    }
    let new_pending = store_suggestions(&db, suggestions, report, now).await?;
    let ready = lifecycle(&db, &corpus, report, now).await?;
    report.cache = cache::refresh(&db, &store).await?;
    if new_pending + ready > 0 {
        report.alerted = notify(&db, new_pending, ready, now).await?;
    }
    if let Err(error) = alerts::deliver_pending(env, &store, &db).await {
        report.errors.push(error.log_message());
    }
    platform_db::retention::sweep(&db, now).await?;
    Ok(())
}

/// Stores the suggestions not known yet (and re-checks refused ones) in one round trip; returns
/// how many are new and pending.
async fn store_suggestions(
    db: &PlatformDb,
    suggestions: Vec<Suggestion>,
    report: &mut RunReport,
    now: u64,
) -> Result<usize, ApiError> {
    let mut seen = BTreeSet::new();
    let suggestions: Vec<Suggestion> = suggestions
        .into_iter()
        .filter(|s| seen.insert(s.id.clone()))
        .collect();
    let ids: Vec<String> = suggestions.iter().map(|s| s.id.clone()).collect();
    let known = patterns::known(db, &ids).await?;
    let fresh: Vec<&Suggestion> = suggestions
        .iter()
        .filter(|s| known.get(&s.id).is_none_or(|status| *status == Status::Refused))
        .collect();
    report.known = suggestions.len() - fresh.len();
    let statements = fresh.iter().map(|s| patterns::suggest(s, now)).collect();
    db.batch("storing suggestions", statements).await?;
    let mut pending = 0;
    for suggestion in fresh {
        match &suggestion.verdict {
            Ok(_) => {
                pending += 1;
                report
                    .suggested
                    .push(format!("{} {}", suggestion.id, suggestion.rule));
            }
            Err(refusal) => report
                .refused
                .push(format!("{} {}: {refusal}", suggestion.id, suggestion.rule)),
        }
    }
    Ok(pending)
}

fn facts(row: &Pattern) -> Facts {
    Facts {
        status: row.status,
        created_at: row.created_at,
        shadow_from: row.shadow_from,
        shadow_until: row.shadow_until,
        approved_at: row.approved_at,
    }
}

/// The breadth check of a stored pattern over today's stored errors.
pub fn recheck(row: &Pattern, corpus: &[StoredError]) -> Result<safety::Backtest, safety::Refusal> {
    let cluster: BTreeSet<&str> = row.fingerprints.iter().map(String::as_str).collect();
    safety::breadth(
        &row.rule(),
        &row.category,
        &cluster,
        corpus,
        &Settings::default().limits,
    )
}

/// Moves every pending, shadow and approved pattern that is due; returns how many became ready.
async fn lifecycle(
    db: &PlatformDb,
    corpus: &[StoredError],
    report: &mut RunReport,
    now: u64,
) -> Result<usize, ApiError> {
    let rows = patterns::with_status(
        db,
        &[Status::Pending, Status::Shadow, Status::Approved],
        LIFECYCLE_LIMIT,
    )
    .await?;
    let watched: Vec<String> = rows
        .iter()
        .filter(|r| r.status != Status::Pending)
        .map(|r| r.id.clone())
        .collect();
    let evidence = patterns::evidence(db, &watched).await?;
    let thresholds = Thresholds::default();
    let mut statements = Vec::new();
    let mut moves = Vec::new();
    for row in &rows {
        let empty = Default::default();
        let days = evidence.get(&row.id).unwrap_or(&empty);
        let mut backtest = None;
        let decision = decide(
            &facts(row),
            days,
            || {
                let test = recheck(row, corpus);
                backtest = test
                    .as_ref()
                    .ok()
                    .map(|t| serde_json::to_string(t).unwrap_or_default());
                test.map(|_| ())
            },
            now,
            &thresholds,
        );
        let Some(decision) = decision else { continue };
        let reason = match &decision {
            Decision::Expire(why) | Decision::Stale(why) => Some(why.as_str()),
            Decision::EnterShadow { .. } | Decision::Ready => None,
        };
        let change = Change {
            reason,
            shadow: match decision {
                Decision::EnterShadow { from, until } => Some((from, until)),
                _ => None,
            },
            ready: decision == Decision::Ready,
            by: Some("lifecycle"),
            backtest,
            ..Change::default()
        };
        statements.push(patterns::transition(
            &row.id,
            row.status,
            decision.status(),
            &change,
            now,
        ));
        moves.push((row.id.clone(), row.status, decision.status()));
    }
    let outcomes = db
        .batch("moving patterns along the lifecycle", statements)
        .await?;
    let mut ready = 0;
    for ((id, from, to), outcome) in moves.into_iter().zip(outcomes) {
        if !outcome.rows.is_empty() {
            ready += usize::from(to == Status::Ready);
            report.moved.push(format!("{id}: {from} -> {to}"));
        }
    }
    Ok(ready)
}

/// One message a day at most, when there are new suggestions or patterns ready for review.
async fn notify(db: &PlatformDb, pending: usize, ready: usize, now: u64) -> Result<bool, ApiError> {
    let day = UtcDay::containing(now);
    let mut parts = Vec::new();
    if pending > 0 {
        parts.push(format!(
            "{pending} new transient-error pattern suggestion(s) in shadow soon"
        ));
    }
    if ready > 0 {
        parts.push(format!(
            "{ready} pattern(s) ready for review after their shadow run"
        ));
    }
    let alert = Alert {
        subject: AlertSubject::Patterns { day },
        text: format!(
            "Pattern discovery: {}. Review them with GET /patterns?status=ready on platform-pattern-discovery.",
            parts.join("; ")
        ),
    };
    alerts::raise(db, &alert, DAY_MS, now).await
}

/// The count of matches per UTC day of each pattern, for the listing.
pub fn matches_by_day(evidence: &platform_patterns::lifecycle::Evidence) -> BTreeMap<String, u64> {
    evidence
        .days
        .iter()
        .map(|(day, e)| (UtcDay::containing(day * DAY_MS).to_string(), e.matches))
        .collect()
}
