//! The bound platform workers, as the dashboard reads and acts through their admin routes: each
//! call carries this worker's `ADMIN_TOKEN` (the same secret as theirs) and never leaves the
//! account (a service binding is not a network request).

use platform_dashboard::action::Call;
use platform_dashboard::data::Source;
use platform_worker::auth;
use platform_worker::bindings::ADMIN_TOKEN;
use serde_json::Value;
use worker::{Env, Headers, Method};

/// `GET path` of the worker bound as `binding`. With `absent_ok`, a 404 is `Ok(Value::Null)`: a
/// route that this deployment of the worker does not have yet.
pub async fn get(env: &Env, binding: &str, path: &str, absent_ok: bool) -> Source {
    match send(env, binding, Method::Get, path, None).await {
        Err(Answer::Status(404, _)) if absent_ok => Ok(Value::Null),
        Err(Answer::Status(status, message)) => Err(format!("{binding} answered {status}: {message}")),
        Err(Answer::Unreachable(why)) => Err(why),
        Ok(value) => Ok(value),
    }
}

/// `GET /health` of the bound worker: its report whatever its status (503 is unhealthy, not
/// unreachable).
pub async fn health(env: &Env, binding: &str) -> Source {
    match send(env, binding, Method::Get, "/health", None).await {
        Ok(value) | Err(Answer::Status(503, Reply::Json(value))) => Ok(value),
        Err(Answer::Status(status, message)) => Err(format!("{binding} answered {status}: {message}")),
        Err(Answer::Unreachable(why)) => Err(why),
    }
}

/// Carries out an action's call; the error is what the worker said, for the person to read.
pub async fn act(env: &Env, call: &Call) -> Result<Value, String> {
    match send(env, call.service, Method::Post, &call.path, Some(&call.body)).await {
        Ok(value) => Ok(value),
        Err(Answer::Status(status, message)) => Err(format!("refused ({status}): {message}")),
        Err(Answer::Unreachable(why)) => Err(why),
    }
}

enum Reply {
    Json(Value),
    Text(String),
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Json(value) => match value.get("error").and_then(Value::as_str) {
                Some(error) => f.write_str(error),
                None => write!(f, "{value}"),
            },
            Self::Text(text) => f.write_str(text),
        }
    }
}

enum Answer {
    Status(u16, Reply),
    Unreachable(String),
}

async fn send(
    env: &Env,
    binding: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, Answer> {
    let service = env
        .service(binding)
        .map_err(|_| Answer::Unreachable(format!("the service binding {binding} is not configured")))?;
    let token = auth::configured(env, ADMIN_TOKEN)
        .ok_or_else(|| Answer::Unreachable(format!("the {ADMIN_TOKEN} secret is not set")))?;
    let headers = Headers::new();
    let unreachable = |e: worker::Error| Answer::Unreachable(format!("{binding}: {e}"));
    headers
        .set("Authorization", &format!("Bearer {token}"))
        .map_err(unreachable)?;
    if body.is_some() {
        headers
            .set("Content-Type", "application/json")
            .map_err(unreachable)?;
    }
    // The host is ignored by a service binding; the path is the route.
    let url = format!("https://platform.internal{path}");
    let request = platform_worker::outbound::request(method, &url, headers, body.map(|b| b.to_string()))
        .map_err(|e| Answer::Unreachable(format!("{binding}: {e}")))?;
    let mut response = service.fetch_request(request).await.map_err(unreachable)?;
    let status = response.status_code();
    let text = response.text().await.unwrap_or_default();
    let parsed = serde_json::from_str::<Value>(&text);
    if (200..300).contains(&status) {
        return parsed
            .map_err(|e| Answer::Unreachable(format!("{binding} answered something that is not JSON: {e}")));
    }
    let short: String = text.chars().take(300).collect();
    Err(Answer::Status(
        status,
        parsed.map_or(Reply::Text(short), Reply::Json),
    ))
}
