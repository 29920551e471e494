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
use worker::{Env, Method};

use crate::notify::Inbox;
use crate::response::ApiError;

/// The secret holding the Slack incoming webhook URL.
pub const SLACK_WEBHOOK_URL: &str = "SLACK_WEBHOOK_URL";
/// Rows delivered per run: a run stays far below the subrequest limit.
const DELIVERIES_PER_RUN: u32 = 25;
/// How long Slack may take to answer one post. A post it has not answered by then is recorded as
/// posted, unconfirmed: a slow answer is almost always a post made, and posting again would
/// post twice.
const POST_TIMEOUT_MS: u32 = 10_000;
/// The record of a post Slack did not answer in time.
const UNCONFIRMED: &str = "unconfirmed: Slack did not answer within 10 s; not posted again";
/// A run starts no delivery after this long: with [`POST_TIMEOUT_MS`] per post it is done well
/// within its claim ([`outbox::CLAIM_MS`]), so no other run takes a row over while it is posted.
const RUN_MS: u64 = outbox::CLAIM_MS / 2;
/// Slack's answers to a webhook that retrying will not cure: it was removed, its workspace or
/// channel is gone, or it may not post there.
const PERMANENT_CODES: &[&str] = &[
    "no_service",
    "no_service_id",
    "no_team",
    "team_disabled",
    "invalid_token",
    "channel_not_found",
    "channel_is_archived",
    "action_prohibited",
    "posting_to_general_channel_denied",
];

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
    /// Slack refused the webhook in a way retrying will not cure (`/health` shows it).
    pub webhook_refused: bool,
}

/// Why Slack did not take a post.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    /// Retrying will not cure it: the webhook must be replaced.
    permanent: bool,
    message: String,
}

/// Slack's answer to a post that it did not take.
fn refusal(status: u16, body: &str) -> Refusal {
    let code = body.trim();
    let permanent = matches!(status, 400..=499) && PERMANENT_CODES.contains(&code);
    let short: String = code.chars().take(200).collect();
    Refusal {
        permanent,
        message: if permanent {
            format!(
                "{} (Slack answered {status} {short}): replace {SLACK_WEBHOOK_URL}; alerts are kept until then",
                outbox::PERMANENT_REFUSAL
            )
        } else {
            format!("Slack answered {status}: {short}")
        },
    }
}

/// A warning for `/health` when Slack refuses the webhook for good and alerts wait for it.
pub async fn health_warning<S: Sql>(db: &Db<S>) -> Option<String> {
    match outbox::webhook_refused(db).await {
        Ok(refused) => refused,
        Err(error) => Some(format!("the alert outbox is unreadable: {error}")),
    }
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
    let claimed_at = store.now_ms();
    let pending = outbox::claim_for(db, channels, DELIVERIES_PER_RUN, claimed_at).await?;
    let mut updates = Vec::new();
    let mut slack = url.as_ref();
    let mut refused_for_good = None;
    for alert in pending {
        let now = store.now_ms();
        if now.saturating_sub(claimed_at) > RUN_MS {
            // Past the run's time: left to the next run, well before the claim would lapse.
            updates.push(outbox::release(alert.id));
            continue;
        }
        let mut released = false;
        if let (true, Some(url)) = (alert.for_slack, slack) {
            let marker = SlackAlert::key(&alert.kind, &alert.subject)?;
            let outcome = if alert.duplicate || store.get(&marker).await?.is_some() {
                delivery.suppressed += 1;
                Ok(Some("suppressed: the same alert was sent within the hour"))
            } else {
                post(url, &alert.text).await
            };
            match outcome {
                Ok(note) => {
                    if note.is_none_or(|note| note == UNCONFIRMED) {
                        delivery.sent += 1;
                        record_sent(store, &marker, &alert.subject, now).await;
                    }
                    updates.push(outbox::sent(alert.id, note, now));
                }
                Err(refusal) => {
                    delivery.failed += 1;
                    worker::console_warn!("alert {} not delivered: {}", alert.id, refusal.message);
                    updates.push(outbox::failed(alert.id, &refusal.message));
                    released = true;
                    if refusal.permanent {
                        // Every other post would be refused alike: Slack rests until the
                        // webhook is replaced, and people are told once, in their inbox.
                        slack = None;
                        delivery.webhook_refused = true;
                        refused_for_good = Some(refusal.message);
                    }
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
        } else if alert.for_slack && slack.is_none() && !released && url.is_some() {
            updates.push(outbox::release(alert.id));
        }
    }
    db.batch("recording alert deliveries", updates).await?;
    if let (Some(refused), Some(inbox)) = (&refused_for_good, &inbox) {
        if let Err(error) = inbox.send(&webhook_refused_notice(refused)).await {
            worker::console_warn!("the webhook's refusal was not told to the inbox: {error}");
        }
    }
    Ok(delivery)
}

/// The inbox's notice that Slack refuses the webhook: one per refusal, whichever worker and run
/// meets it (its dedup key is the refusal's own words, bounded).
fn webhook_refused_notice(refusal: &str) -> NotificationInput {
    let mut notice = NotificationInput::from_alert(0, "slack", refusal);
    let words: String = refusal
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(80)
        .collect();
    notice.dedup_key = format!("alerts:slack-webhook-refused:{words}");
    notice.title = "Slack refuses the alert webhook".to_owned();
    notice.slack_posted = false;
    notice
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

/// Posts a message to the webhook, waiting at most [`POST_TIMEOUT_MS`] for Slack's answer; a
/// post not answered in time is [`UNCONFIRMED`].
async fn post(url: &OutboundUrl, text: &str) -> Result<Option<&'static str>, Refusal> {
    let failed = |message: String| Refusal {
        permanent: false,
        message,
    };
    let headers = crate::outbound::headers().map_err(failed)?;
    headers
        .set("Content-Type", "application/json")
        .map_err(|e| failed(e.to_string()))?;
    let body = json!({ "text": text }).to_string();
    let request =
        crate::outbound::request(Method::Post, url.as_str(), headers, Some(body)).map_err(failed)?;
    let mut response = match crate::outbound::send(request, POST_TIMEOUT_MS).await {
        Ok(response) => response,
        Err(unanswered) if unanswered.timed_out => {
            worker::console_warn!("alert post {UNCONFIRMED}");
            return Ok(Some(UNCONFIRMED));
        }
        Err(unanswered) => return Err(failed(unanswered.reason)),
    };
    if (200..300).contains(&response.status_code()) {
        Ok(None)
    } else {
        let body = response.text().await.unwrap_or_default();
        Err(refusal(response.status_code(), &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_webhook_is_a_permanent_refusal_and_an_outage_is_not() {
        let removed = refusal(404, "no_service");
        assert!(removed.permanent);
        assert!(
            removed.message.starts_with(outbox::PERMANENT_REFUSAL),
            "{}",
            removed.message
        );
        assert!(removed.message.contains("404 no_service"), "{}", removed.message);
        assert!(refusal(410, "channel_is_archived").permanent);
        for (status, body) in [
            (500, "internal_error"),
            (503, ""),
            (429, "rate_limited"),
            (400, "invalid_payload"),
        ] {
            let refused = refusal(status, body);
            assert!(!refused.permanent, "{status} {body}");
            assert_eq!(refused.message, format!("Slack answered {status}: {body}"));
        }
    }

    #[test]
    fn the_refusal_notice_is_one_per_refusal() {
        let first = webhook_refused_notice("Slack refuses this webhook (404 no_service)");
        let again = webhook_refused_notice("Slack refuses this webhook (404 no_service)");
        assert_eq!(first.dedup_key, again.dedup_key);
        assert_ne!(first.dedup_key, webhook_refused_notice("other").dedup_key);
        assert!(!first.slack_posted, "Slack is what failed");
    }
}
