//! The shared alert module. An alert is first stored in D1 (`alert_outbox`), in the same transaction
//! as the decision that raised it, then delivered to a Slack incoming webhook. A delivery marks the
//! row sent and writes the dedup markers; a failure leaves it pending for a later run, so no alert
//! is forgotten and none is sent twice within the dedup window. A worker bound to the
//! notifications worker (`NOTIFICATIONS`) also delivers each row to the people's inboxes, once
//! (the row's id is its dedup key), whatever happens on the Slack side.

use platform_core::alert::AlertSubject;
use platform_core::outbound_url::OutboundUrl;
use platform_db::{alerts as outbox, Db, Sql, Statement};
use platform_kv::families::{AlertLastSent, SlackAlert};
use platform_kv::{Kv, Store, Timestamp};
use platform_notifications::NotificationInput;
use serde::Serialize;
use serde_json::json;
use worker::{Env, Method, Request, RequestInit};

use crate::notify::Inbox;
use crate::response::ApiError;

/// The secret holding the Slack incoming webhook URL.
pub const SLACK_WEBHOOK_URL: &str = "SLACK_WEBHOOK_URL";
/// Rows delivered per run: a run stays far below the subrequest limit.
const DELIVERIES_PER_RUN: u32 = 25;

/// An alert to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// What the alert is about: two alerts with the same subject say the same thing, and
    /// delivery dedups on it (`SLACK_ALERT:{kind}:{subject}`).
    pub subject: AlertSubject,
    pub text: String,
}

/// The statement that stores the alert; run it in the batch that records the decision.
pub fn enqueue(alert: &Alert, now: u64) -> Statement {
    outbox::enqueue(alert.subject.kind(), &alert.subject.to_string(), &alert.text, now)
}

/// Stores an alert about a condition that may be seen again and again (an integration refusing,
/// a handler gone quiet), unless the same kind and subject was raised within `quiet_ms`: a lasting
/// condition is recalled at that pace instead of at every sighting. Returns whether it was stored.
pub async fn raise<S: Sql>(db: &Db<S>, alert: &Alert, quiet_ms: u64, now: u64) -> Result<bool, ApiError> {
    let (kind, subject) = (alert.subject.kind(), alert.subject.to_string());
    Ok(outbox::raise(db, kind, &subject, &alert.text, quiet_ms, now).await?)
}

/// What a delivery run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub sent: u32,
    /// Same kind and subject already sent within the hour: recorded, not sent again.
    pub suppressed: u32,
    pub failed: u32,
    /// Left pending because no webhook is configured.
    pub waiting_for_webhook: bool,
    /// Delivered to the people's inboxes (a row already there counts once, as delivered).
    pub inboxed: u32,
    /// Left pending for the inbox: it refused or could not be reached.
    pub inbox_failed: u32,
}

/// The configured webhook: `Ok(None)` when none is set, and why it is refused when it is not a
/// URL that can be used as written (`/health` reports it).
pub fn webhook(env: &Env) -> Result<Option<OutboundUrl>, String> {
    let Some(text) = env
        .secret(SLACK_WEBHOOK_URL)
        .ok()
        .map(|s| s.to_string())
        .filter(|url| !url.is_empty())
    else {
        return Ok(None);
    };
    OutboundUrl::parse(&text)
        .map(Some)
        .map_err(|reason| format!("{SLACK_WEBHOOK_URL} is refused: {reason}; alerts are kept pending"))
}

/// Delivers pending alerts, oldest first: each row to Slack and, when the worker has the
/// `NOTIFICATIONS` binding, to the people's inboxes, each channel once.
pub async fn deliver_pending<K: Kv, C: platform_kv::Clock, S: Sql>(
    env: &Env,
    store: &Store<K, C>,
    db: &Db<S>,
) -> Result<Delivery, ApiError> {
    let url = webhook(env).map_err(ApiError::unavailable)?;
    let inbox = Inbox::of(env);
    let mut delivery = Delivery {
        waiting_for_webhook: url.is_none(),
        ..Delivery::default()
    };
    let channels = outbox::Channels {
        slack: url.is_some(),
        inbox: inbox.is_some(),
    };
    if !channels.slack && !channels.inbox {
        return Ok(delivery);
    }
    // Claimed, not just read: every worker with alerts sweeps the same outbox.
    let pending = outbox::claim_for(db, channels, DELIVERIES_PER_RUN, store.now_ms()).await?;
    let mut updates = Vec::new();
    for alert in pending {
        let now = store.now_ms();
        let mut released = false;
        if let (true, Some(url)) = (alert.for_slack, &url) {
            let marker = SlackAlert::key(&alert.kind, &alert.subject)?;
            let outcome = if store.get(&marker).await?.is_some() {
                delivery.suppressed += 1;
                Ok("suppressed: the same alert was sent within the hour")
            } else {
                post(url, &alert.text).await.map(|()| "")
            };
            match outcome {
                Ok(note) => {
                    if note.is_empty() {
                        delivery.sent += 1;
                        record_sent(store, &marker, &alert.subject, now).await;
                    }
                    updates.push(outbox::sent(alert.id, (!note.is_empty()).then_some(note), now));
                }
                Err(error) => {
                    delivery.failed += 1;
                    worker::console_warn!("alert {} not delivered: {error}", alert.id);
                    updates.push(outbox::failed(alert.id, &error));
                    released = true;
                }
            }
        }
        if let (true, Some(inbox)) = (alert.for_inbox, &inbox) {
            let notification = NotificationInput::from_alert(alert.id, &alert.kind, &alert.text);
            match inbox.send(&notification).await {
                Ok(_) => {
                    delivery.inboxed += 1;
                    updates.push(outbox::inboxed(alert.id, now));
                }
                Err(error) => {
                    delivery.inbox_failed += 1;
                    worker::console_warn!("alert {} not delivered to the inbox: {error}", alert.id);
                    if !released {
                        updates.push(outbox::release(alert.id));
                    }
                }
            }
        }
    }
    db.batch("recording alert deliveries", updates).await?;
    Ok(delivery)
}

/// The dedup markers, written only after Slack accepted the message. A failure to write them only
/// risks a duplicate, so it is logged, not raised.
async fn record_sent<K: Kv, C: platform_kv::Clock>(
    store: &Store<K, C>,
    marker: &platform_kv::Key<SlackAlert>,
    subject: &str,
    now: u64,
) {
    if let Err(error) = store.put(marker, &Timestamp(now)).await {
        worker::console_warn!("alert marker {marker} not written: {error}");
    }
    // Only the workers that own ALERT:{key}:last_sent record it.
    if <AlertLastSent as platform_kv::Family>::SPEC
        .writers
        .allows(store.worker())
    {
        match AlertLastSent::key(subject) {
            Ok(key) => {
                if let Err(error) = store.put(&key, &Timestamp(now)).await {
                    worker::console_warn!("{key} not written: {error}");
                }
            }
            Err(error) => worker::console_warn!("alert subject {subject:?}: {error}"),
        }
    }
}

/// Posts a message to the webhook.
async fn post(url: &OutboundUrl, text: &str) -> Result<(), String> {
    let headers = crate::outbound::headers()?;
    headers
        .set("Content-Type", "application/json")
        .map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(json!({ "text": text }).to_string().into()));
    let request = Request::new_with_init(url.as_str(), &init).map_err(|e| e.to_string())?;
    crate::footprint::subrequest();
    let mut response = crate::outbound::send(request, crate::outbound::TIMEOUT_MS).await?;
    if (200..300).contains(&response.status_code()) {
        Ok(())
    } else {
        let body = response.text().await.unwrap_or_default();
        Err(format!(
            "Slack answered {}: {}",
            response.status_code(),
            body.chars().take(200).collect::<String>()
        ))
    }
}
