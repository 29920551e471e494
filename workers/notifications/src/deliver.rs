//! The crons: Slack digests of the past hour or day for the people who chose them, and the purge
//! of expired and old notifications.

use platform_db::notifications::{self as inbox, Viewer};
use platform_db::{alerts as outbox, retention};
use platform_notifications::digest::{self, DIGEST_ITEMS_MAX};
use platform_notifications::prefs::Slack;
use platform_worker::{alerts, ApiError};
use serde::Serialize;
use worker::Env;

use crate::context::Context;

/// The outbox kind of a digest.
const DIGEST_KIND: &str = "digest";

#[derive(Debug, Default, Serialize)]
pub struct DigestRun {
    /// People whose digest period ended.
    pub due: usize,
    /// Digests stored (a period with nothing in it sends nothing).
    pub digests: usize,
    pub delivery: Option<alerts::Delivery>,
}

/// Stores each due digest in the outbox, once per person and period, then delivers the outbox.
pub async fn digests(env: &Env, at: u64) -> Result<DigestRun, ApiError> {
    let context = Context::open(env)?;
    let members = inbox::people(&context.db).await?;
    let people: Vec<_> = members.iter().map(|m| &m.person).collect();
    let prefs = context.prefs_of(&people).await?;
    let mut run = DigestRun::default();
    let mut statements = Vec::new();
    for (person, prefs) in people.iter().zip(&prefs) {
        let Slack::Digest(frequency) = prefs.slack() else {
            continue;
        };
        let Some(period) = digest::due(frequency, at) else {
            continue;
        };
        run.due += 1;
        let viewer = Viewer { person, prefs };
        let (items, total) =
            inbox::period_items(&context.db, viewer, period.start, period.end, DIGEST_ITEMS_MAX).await?;
        let items: Vec<_> = items.iter().map(|stored| stored.item()).collect();
        let more = total.saturating_sub(items.len());
        if let Some(text) = digest::digest_text(person.label(), &period, &items, more) {
            run.digests += 1;
            statements.push(outbox::enqueue_once_for_slack(
                DIGEST_KIND,
                &period.subject(&person.id),
                &text,
                at,
            ));
        }
    }
    context.db.batch("storing digests", statements).await?;
    run.delivery = Some(alerts::deliver_pending(env, &context.store, &context.db).await?);
    Ok(run)
}

#[derive(Debug, Serialize)]
pub struct PurgeRun {
    /// Notifications past their expiry.
    pub expired: u64,
    /// Rows past each table's retention (`notifications` after 90 days, revoked tokens after 30).
    pub retention: Vec<retention::Swept>,
}

pub async fn purge(env: &Env, at: u64) -> Result<PurgeRun, ApiError> {
    let context = Context::open(env)?;
    let expired = context
        .db
        .run("purging expired notifications", inbox::purge_expired(at))
        .await?
        .changes;
    let retention = retention::sweep(&context.db, at).await?;
    Ok(PurgeRun { expired, retention })
}
