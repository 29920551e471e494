//! The producer side of the inbox: a platform worker creates a notification by sending the
//! contract's JSON (`platform_notifications::NotificationInput`) to `POST /notifications` of the
//! notifications worker through its `NOTIFICATIONS` service binding, with the shared
//! `NOTIFY_TOKEN` secret as bearer. The dedup key makes the call safe to retry.

use platform_notifications::NotificationInput;
use serde_json::Value;
use worker::{Env, Fetcher, Headers, Method};

/// The service binding to the notifications worker.
pub const NOTIFICATIONS: &str = "NOTIFICATIONS";
/// The secret producers and the notifications worker share.
pub const NOTIFY_TOKEN: &str = "NOTIFY_TOKEN";

/// What the inbox answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    /// The notification's id.
    pub id: u64,
    /// `false`: the dedup key existed, nothing new was made.
    pub created: bool,
}

/// The inbox, as a producer reaches it.
pub struct Inbox {
    service: Fetcher,
    token: String,
}

impl Inbox {
    /// The inbox when the worker has both the binding and the token; `None` otherwise.
    pub fn of(env: &Env) -> Option<Self> {
        let service = env.service(NOTIFICATIONS).ok()?;
        let token = env
            .secret(NOTIFY_TOKEN)
            .ok()
            .map(|s| s.to_string())
            .filter(|t| !t.is_empty())?;
        Some(Self { service, token })
    }

    /// Creates the notification (or finds the one of its dedup key).
    pub async fn send(&self, input: &NotificationInput) -> Result<Created, String> {
        let headers = Headers::new();
        let set = |name: &str, value: &str| headers.set(name, value).map_err(|e| e.to_string());
        set("Content-Type", "application/json")?;
        set("Authorization", &format!("Bearer {}", self.token))?;
        // The host is ignored by a service binding; the path is the route.
        let request = crate::outbound::request(
            Method::Post,
            "https://notifications.internal/notifications",
            headers,
            Some(input.to_json().to_string()),
        )?;
        let mut response = self
            .service
            .fetch_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status_code();
        let body = response.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            let short: String = body.chars().take(200).collect();
            return Err(format!("the inbox answered {status}: {short}"));
        }
        let answer: Value = serde_json::from_str(&body).map_err(|e| format!("the inbox's answer: {e}"))?;
        Ok(Created {
            id: answer.get("id").and_then(Value::as_u64).unwrap_or_default(),
            created: answer.get("created").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}
