//! The sentinel's calls to the other platform workers, through service bindings: their `/health`
//! and the error collector's `POST /gap-alerts`.

use platform_sentinel::watch::{Answer, HealthReport};
use platform_worker::bindings::ADMIN_TOKEN;
use worker::{Env, Headers, Method};

/// The error collector, which files the day's gap issue of a project.
pub const ERROR_COLLECTOR: &str = "ERROR_COLLECTOR";

/// Each watched worker: its binding and its name.
pub const WATCHED: [(&str, &str); 5] = [
    ("PLATFORM_USAGE", "platform-usage"),
    (ERROR_COLLECTOR, "platform-error-collector"),
    ("NOTIFICATIONS", "platform-notifications"),
    ("SYNC_CONFIG", "platform-sync-config"),
    ("PATTERN_DISCOVERY", "platform-pattern-discovery"),
];

/// What a worker's `/health` answered.
pub async fn health(env: &Env, binding: &str) -> Answer {
    let service = env
        .service(binding)
        .map_err(|_| format!("binding {binding} is missing"))?;
    let mut response = service
        .fetch("https://platform.internal/health", None)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status_code();
    let text = response.text().await.map_err(|e| e.to_string())?;
    match serde_json::from_str::<HealthReport>(&text) {
        Ok(report) => Ok(report),
        Err(_) => Err(format!(
            "answered {status} without a health report: {}",
            text.chars().take(120).collect::<String>()
        )),
    }
}

/// Asks the error collector to file the project's gap issue (at most one a day, its rule).
pub async fn gap_alert(env: &Env, body: &serde_json::Value) -> Result<serde_json::Value, String> {
    let service = env
        .service(ERROR_COLLECTOR)
        .map_err(|_| format!("binding {ERROR_COLLECTOR} is missing"))?;
    let token = env
        .secret(ADMIN_TOKEN)
        .map_err(|_| format!("{ADMIN_TOKEN} is not set"))?
        .to_string();
    let headers = Headers::new();
    headers
        .set("Content-Type", "application/json")
        .and_then(|()| headers.set("Authorization", &format!("Bearer {token}")))
        .map_err(|e| e.to_string())?;
    let request = platform_worker::outbound::request(
        Method::Post,
        "https://platform.internal/gap-alerts",
        headers,
        Some(body.to_string()),
    )?;
    let mut response = service.fetch_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status_code();
    let text = response.text().await.unwrap_or_default();
    let answer = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    if (200..300).contains(&status) {
        Ok(answer)
    } else {
        Err(format!("the error collector answered {status}: {answer}"))
    }
}
