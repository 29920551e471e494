//! The shared alert outbox (`alert_outbox`): alerts stored with the decision that raised them,
//! raised at most once per quiet period for a lasting condition, claimed before delivery so two
//! workers sweeping at once never post one alert twice.

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::ALERT_OUTBOX;
use platform_core::sorted;

/// A delivery claim older than this is taken over (the claiming invocation died).
pub const CLAIM_MS: u64 = 60_000;

/// Stores an alert; run it in the batch that records the decision.
pub fn enqueue(kind: &str, subject: &str, text: &str, now: u64) -> Statement {
    Statement::write(
        &ALERT_OUTBOX,
        "INSERT INTO alert_outbox (kind, subject, text, created_at) VALUES (?, ?, ?, ?)",
        vec![kind.into(), subject.into(), text.into(), now.into()],
    )
}

/// Stores an alert unless the same kind and subject was raised within `quiet_ms`. Returns whether
/// it was stored.
pub async fn raise<S: Sql>(
    db: &Db<S>,
    kind: &str,
    subject: &str,
    text: &str,
    quiet_ms: u64,
    now: u64,
) -> Result<bool, DbError> {
    let statement = Statement::write(
        &ALERT_OUTBOX,
        "INSERT INTO alert_outbox (kind, subject, text, created_at) SELECT ?1, ?2, ?3, ?4 \
         WHERE NOT EXISTS (SELECT 1 FROM alert_outbox WHERE kind = ?1 AND subject = ?2 AND created_at > ?5) \
         RETURNING id",
        vec![
            kind.into(),
            subject.into(),
            text.into(),
            now.into(),
            now.saturating_sub(quiet_ms).into(),
        ],
    );
    Ok(!db.run("raising an alert", statement).await?.rows.is_empty())
}

/// A pending alert claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: u64,
    pub kind: String,
    pub subject: String,
    pub text: String,
    /// Not yet posted to Slack.
    pub for_slack: bool,
    /// Not yet delivered to the inbox.
    pub for_inbox: bool,
}

impl FromRow for Pending {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            id: row.get("id")?,
            kind: row.get("kind")?,
            subject: row.get("subject")?,
            text: row.get("text")?,
            for_slack: row.get::<Option<u64>>("sent_at")?.is_none(),
            for_inbox: row.get::<Option<u64>>("inbox_at")?.is_none(),
        })
    }
}

/// Claims up to `limit` alerts still to post to Slack, oldest first: unsent and unclaimed, or
/// claimed longer ago than [`CLAIM_MS`].
pub async fn claim<S: Sql>(db: &Db<S>, limit: u32, now: u64) -> Result<Vec<Pending>, DbError> {
    claim_for(
        db,
        Channels {
            slack: true,
            inbox: false,
        },
        limit,
        now,
    )
    .await
}

/// Where the claiming worker can deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channels {
    pub slack: bool,
    pub inbox: bool,
}

/// Claims up to `limit` alerts that still need one of `channels`, oldest first, as [`claim`].
pub async fn claim_for<S: Sql>(
    db: &Db<S>,
    channels: Channels,
    limit: u32,
    now: u64,
) -> Result<Vec<Pending>, DbError> {
    let statement = Statement::write(
        &ALERT_OUTBOX,
        "UPDATE alert_outbox SET claimed_at = ?1 WHERE id IN (SELECT id FROM alert_outbox \
         WHERE ((?4 AND sent_at IS NULL) OR (?5 AND inbox_at IS NULL)) \
         AND (claimed_at IS NULL OR claimed_at <= ?2) ORDER BY id LIMIT ?3) \
         RETURNING id, kind, subject, text, sent_at, inbox_at",
        vec![
            now.into(),
            now.saturating_sub(CLAIM_MS).into(),
            limit.into(),
            channels.slack.into(),
            channels.inbox.into(),
        ],
    );
    let mut pending: Vec<Pending> = db.rows("claiming pending alerts", statement).await?;
    // RETURNING gives no order.
    sorted::sort_by(&mut pending, |a, b| a.id.cmp(&b.id));
    Ok(pending)
}

/// Marks a claimed alert delivered to the inbox.
pub fn inboxed(id: u64, now: u64) -> Statement {
    Statement::write(
        &ALERT_OUTBOX,
        "UPDATE alert_outbox SET inbox_at = ? WHERE id = ?",
        vec![now.into(), id.into()],
    )
}

/// Releases a claimed alert for a later run (its inbox delivery failed).
pub fn release(id: u64) -> Statement {
    Statement::write(
        &ALERT_OUTBOX,
        "UPDATE alert_outbox SET claimed_at = NULL WHERE id = ?",
        vec![id.into()],
    )
}

/// Stores a Slack message that is itself the delivery of notifications (so it never goes back
/// to the inbox), unless one of the same kind and subject is stored already: a retried run
/// stores it once.
pub fn enqueue_once_for_slack(kind: &str, subject: &str, text: &str, now: u64) -> Statement {
    Statement::write(
        &ALERT_OUTBOX,
        "INSERT INTO alert_outbox (kind, subject, text, created_at, inbox_at) SELECT ?1, ?2, ?3, ?4, ?4 \
         WHERE NOT EXISTS (SELECT 1 FROM alert_outbox WHERE kind = ?1 AND subject = ?2)",
        vec![kind.into(), subject.into(), text.into(), now.into()],
    )
}

/// Marks a claimed alert delivered; `note` says why it was not posted (suppressed as a duplicate).
pub fn sent(id: u64, note: Option<&str>, now: u64) -> Statement {
    Statement::write(
        &ALERT_OUTBOX,
        "UPDATE alert_outbox SET sent_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
        vec![now.into(), note.into(), id.into()],
    )
}

/// Releases a claimed alert whose delivery failed, for a later run.
pub fn failed(id: u64, error: &str) -> Statement {
    Statement::write(
        &ALERT_OUTBOX,
        "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, claimed_at = NULL WHERE id = ?",
        vec![error.into(), id.into()],
    )
}
