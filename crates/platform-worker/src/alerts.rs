//! The shared alert module. An alert is first stored in D1 (`alert_outbox`), in the same transaction
//! as the decision that raised it, then delivered to a Slack incoming webhook. A delivery marks the
//! row sent and writes the dedup markers; a failure leaves it pending for a later run, so no alert
//! is forgotten and none is sent twice within the dedup window.

use platform_kv::families::{AlertLastSent, SlackAlert};
use platform_kv::{Kv, Store, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{D1Database, D1PreparedStatement, Env, Fetch, Headers, Method, Request, RequestInit};

use crate::d1;
use crate::response::ApiError;

/// The secret holding the Slack incoming webhook URL.
pub const SLACK_WEBHOOK_URL: &str = "SLACK_WEBHOOK_URL";
/// Rows delivered per run: a run stays far below the subrequest limit.
const DELIVERIES_PER_RUN: u32 = 25;

/// An alert to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// A single word (`budget`, `trip`, `reset`, `project`, `global`).
    pub kind: &'static str,
    /// What the alert is about, specific enough that two alerts with the same kind and subject say
    /// the same thing: dedup is keyed on both (`SLACK_ALERT:{kind}:{subject}`).
    pub subject: String,
    pub text: String,
}

/// The statement that stores the alert; run it in the batch that records the decision.
pub fn enqueue(db: &D1Database, alert: &Alert, now: u64) -> Result<D1PreparedStatement, ApiError> {
    d1::statement(
        db,
        "INSERT INTO alert_outbox (kind, subject, text, created_at) VALUES (?, ?, ?, ?)",
        &[
            d1::text(alert.kind),
            d1::text(&alert.subject),
            d1::text(&alert.text),
            d1::ms(now),
        ],
    )
}

/// A delivery claim older than this is taken over (the claiming invocation died).
const CLAIM_MS: u64 = 60_000;

/// Stores an alert about a condition that may be seen again and again (an integration refusing,
/// a handler gone quiet), unless the same kind and subject was raised within `quiet_ms`: a lasting
/// condition is recalled at that pace instead of at every sighting. Returns whether it was stored.
pub async fn raise(db: &D1Database, alert: &Alert, quiet_ms: u64, now: u64) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct Raised {
        #[allow(dead_code)]
        id: f64,
    }
    let raised: Vec<Raised> = d1::query(
        db,
        "raising an alert",
        "INSERT INTO alert_outbox (kind, subject, text, created_at) SELECT ?1, ?2, ?3, ?4 \
         WHERE NOT EXISTS (SELECT 1 FROM alert_outbox WHERE kind = ?1 AND subject = ?2 AND created_at > ?5) \
         RETURNING id",
        &[
            d1::text(alert.kind),
            d1::text(&alert.subject),
            d1::text(&alert.text),
            d1::ms(now),
            d1::ms(now.saturating_sub(quiet_ms)),
        ],
    )
    .await?;
    Ok(!raised.is_empty())
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
}

#[derive(Debug, Deserialize)]
struct Pending {
    id: f64,
    kind: String,
    subject: String,
    text: String,
}

/// Whether alerts can be delivered; `/health` reports it.
pub fn webhook(env: &Env) -> Option<String> {
    env.secret(SLACK_WEBHOOK_URL)
        .ok()
        .map(|s| s.to_string())
        .filter(|url| !url.is_empty())
}

/// Delivers pending alerts, oldest first.
pub async fn deliver_pending<K: Kv, C: platform_kv::Clock>(
    env: &Env,
    store: &Store<K, C>,
    db: &D1Database,
) -> Result<Delivery, ApiError> {
    let Some(url) = webhook(env) else {
        return Ok(Delivery {
            waiting_for_webhook: true,
            ..Delivery::default()
        });
    };
    // Claimed, not just read: every worker with alerts sweeps the same outbox.
    let claimed_at = store.now_ms();
    let mut pending: Vec<Pending> = d1::query(
        db,
        "claiming pending alerts",
        "UPDATE alert_outbox SET claimed_at = ?1 WHERE id IN (SELECT id FROM alert_outbox \
         WHERE sent_at IS NULL AND (claimed_at IS NULL OR claimed_at <= ?2) ORDER BY id LIMIT ?3) \
         RETURNING id, kind, subject, text",
        &[
            d1::ms(claimed_at),
            d1::ms(claimed_at.saturating_sub(CLAIM_MS)),
            d1::number(DELIVERIES_PER_RUN),
        ],
    )
    .await?;
    // RETURNING gives no order.
    pending.sort_by(|a, b| a.id.total_cmp(&b.id));
    let mut delivery = Delivery::default();
    let mut updates = Vec::new();
    for alert in pending {
        let now = store.now_ms();
        let marker = SlackAlert::key(&alert.kind, &alert.subject)?;
        let outcome = if store.get(&marker).await?.is_some() {
            delivery.suppressed += 1;
            Ok("suppressed: the same alert was sent within the hour")
        } else {
            post(&url, &alert.text).await.map(|()| "")
        };
        let id = d1::number(alert.id);
        match outcome {
            Ok(note) => {
                if note.is_empty() {
                    delivery.sent += 1;
                    record_sent(store, &marker, &alert.subject, now).await;
                }
                updates.push(d1::statement(
                    db,
                    "UPDATE alert_outbox SET sent_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
                    &[d1::ms(now), d1::optional_text((!note.is_empty()).then_some(note)), id],
                )?);
            }
            Err(error) => {
                delivery.failed += 1;
                worker::console_warn!("alert {} not delivered: {error}", alert.id);
                updates.push(d1::statement(
                    db,
                    "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, claimed_at = NULL WHERE id = ?",
                    &[d1::text(&error), id],
                )?);
            }
        }
    }
    d1::batch(db, updates).await?;
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
async fn post(url: &str, text: &str) -> Result<(), String> {
    let headers = Headers::new();
    headers
        .set("Content-Type", "application/json")
        .map_err(|e| e.to_string())?;
    headers
        .set(
            "User-Agent",
            concat!("workers-cost-guard/", env!("CARGO_PKG_VERSION")),
        )
        .map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(json!({ "text": text }).to_string().into()));
    let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let mut response = Fetch::Request(request).send().await.map_err(|e| e.to_string())?;
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
