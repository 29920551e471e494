//! The shared alert outbox (`alert_outbox`): alerts stored with the decision that raised them,
//! raised at most once per quiet period for a lasting condition, claimed before delivery so two
//! workers sweeping at once never post one alert twice: a claim holds for longer than a delivery
//! run can take, one row of a kind and subject is claimed at a time, and a row whose kind and
//! subject was posted within [`DEDUP_MS`] is claimed as a duplicate, to be recorded, not posted.

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::ALERT_OUTBOX;
use platform_core::sorted;

/// A delivery claim older than this is taken over (the claiming invocation died). A run stops
/// starting deliveries well before it (`platform_worker::alerts`), so a live claim is never
/// taken over however slowly Slack answers.
pub const CLAIM_MS: u64 = 10 * 60_000;
/// Alerts of one kind and subject posted within this window are posted once.
pub const DEDUP_MS: u64 = 3_600_000;

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
    /// The same kind and subject was posted to Slack within [`DEDUP_MS`].
    pub duplicate: bool,
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
            duplicate: row.get::<Option<u64>>("posted_before")?.is_some(),
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
    // The oldest pending row of each kind and subject that no live claim holds a row of.
    let statement = Statement::write(
        &ALERT_OUTBOX,
        "UPDATE alert_outbox SET claimed_at = ?1 WHERE id IN (SELECT MIN(a.id) FROM alert_outbox a \
         WHERE ((?4 AND a.sent_at IS NULL) OR (?5 AND a.inbox_at IS NULL)) \
         AND (a.claimed_at IS NULL OR a.claimed_at <= ?2) \
         AND NOT EXISTS (SELECT 1 FROM alert_outbox b WHERE b.kind = a.kind AND b.subject = a.subject \
           AND b.id <> a.id AND b.claimed_at > ?2 AND ((?4 AND b.sent_at IS NULL) OR (?5 AND b.inbox_at IS NULL))) \
         GROUP BY a.kind, a.subject ORDER BY MIN(a.id) LIMIT ?3) \
         RETURNING id, kind, subject, text, sent_at, inbox_at, \
         (SELECT MAX(p.sent_at) FROM alert_outbox p WHERE p.kind = alert_outbox.kind \
           AND p.subject = alert_outbox.subject AND p.id <> alert_outbox.id AND (p.last_error IS NULL OR p.last_error NOT LIKE 'suppressed%') \
           AND p.sent_at > ?6) AS posted_before",
        vec![
            now.into(),
            now.saturating_sub(CLAIM_MS).into(),
            limit.into(),
            channels.slack.into(),
            channels.inbox.into(),
            now.saturating_sub(DEDUP_MS).into(),
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
        "UPDATE alert_outbox SET inbox_at = ?, claimed_at = NULL WHERE id = ?",
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
        "UPDATE alert_outbox SET sent_at = ?, attempts = attempts + 1, last_error = ?, claimed_at = NULL \
         WHERE id = ?",
        vec![now.into(), note.into(), id.into()],
    )
}

/// The newest refusal of the webhook that retrying will not cure, while alerts wait for it.
pub async fn webhook_refused<S: Sql>(db: &Db<S>) -> Result<Option<String>, DbError> {
    struct LastError(String);
    impl FromRow for LastError {
        fn from_row(row: &Row) -> Result<Self, String> {
            row.get("last_error").map(Self)
        }
    }
    let statement = Statement::read(
        "SELECT last_error FROM alert_outbox WHERE sent_at IS NULL AND last_error LIKE ?1 \
         ORDER BY id DESC LIMIT 1",
        vec![format!("{PERMANENT_REFUSAL}%").into()],
    );
    let row: Option<LastError> = db.first("reading the webhook's refusals", statement).await?;
    Ok(row.map(|LastError(error)| error))
}

/// How the error of a delivery that retrying will not cure begins (Slack: `no_service`).
pub const PERMANENT_REFUSAL: &str = "Slack refuses this webhook";

/// Releases a claimed alert whose delivery failed, for a later run.
pub fn failed(id: u64, error: &str) -> Statement {
    Statement::write(
        &ALERT_OUTBOX,
        "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, claimed_at = NULL WHERE id = ?",
        vec![error.into(), id.into()],
    )
}
