//! `POST /notifications`: a producer's notification, created once per dedup key, and sent at once
//! on Slack (through the shared outbox) to the people of its audience who asked for that and
//! have not muted it.

use platform_db::alerts as outbox;
use platform_db::notifications as inbox;
use platform_notifications::digest::{self, Item};
use platform_notifications::prefs::Slack;
use platform_notifications::NotificationInput;
use platform_worker::{alerts, ApiError};
use serde_json::{json, Value};
use worker::Env;

use crate::context::{bad_request, Context};

/// The outbox kind of a notification's immediate Slack message.
const SLACK_KIND: &str = "notification";

/// 201 with the new notification, 200 with the existing one of the same dedup key.
pub async fn create(env: &Env, body: &Value, now: u64) -> Result<(u16, Value), ApiError> {
    let input = NotificationInput::from_json(body, now).map_err(bad_request)?;
    let context = Context::open(env)?;
    let everyone: Vec<_> = inbox::people(&context.db)
        .await?
        .into_iter()
        .map(|m| m.person)
        .collect();
    let recipients = input.audience.resolve(&everyone);
    let prefs = context.prefs_of(&recipients).await?;
    // Everyone who wants it now, unless the producer posted it to the channel already.
    let now_on_slack: Vec<&str> = recipients
        .iter()
        .zip(&prefs)
        .filter(|(_, prefs)| {
            !input.slack_posted
                && prefs.slack() == Slack::Immediate
                && prefs.shows(&input.source, input.category)
        })
        .map(|(person, _)| person.label())
        .collect();

    let mut statements = vec![inbox::insert(&input, now)];
    if !now_on_slack.is_empty() {
        let text = digest::immediate_text(&item(&input, now), &now_on_slack);
        // Stored once per dedup key, however often the producer retries.
        statements.push(outbox::enqueue_once_for_slack(
            SLACK_KIND,
            &input.dedup_key,
            &text,
            now,
        ));
    }
    let outcomes = context.db.batch("creating a notification", statements).await?;
    let new_seq = outcomes
        .first()
        .and_then(|o| o.rows.first())
        .and_then(|row| row.get::<u64>("seq").ok());
    let (status, id, created) = match new_seq {
        Some(seq) => (201, seq, true),
        None => {
            let seq = inbox::seq_of(&context.db, &input.dedup_key).await?;
            (200, seq.unwrap_or_default(), false)
        }
    };
    if created && !now_on_slack.is_empty() {
        if let Err(error) = alerts::deliver_pending(env, &context.store, &context.db).await {
            worker::console_warn!("Slack messages left in the outbox: {}", error.log_message());
        }
    }
    Ok((
        status,
        json!({ "id": id, "created": created, "recipients": recipients.len(), "slack_now": now_on_slack }),
    ))
}

fn item(input: &NotificationInput, now: u64) -> Item {
    Item {
        title: input.title.clone(),
        body: input.body.clone(),
        source: input.source.clone(),
        category: input.category,
        priority: input.priority,
        created_at: now,
        action_url: input.action_url.clone(),
    }
}
