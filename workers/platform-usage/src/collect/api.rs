//! One request to the GraphQL Analytics API, with a timeout, read into its `{data, errors}` answer
//! or a failure that says what to do.

use serde_json::Value;
use worker::Method;

const ENDPOINT: &str = "https://api.cloudflare.com/client/v4/graphql";
const TIMEOUT_MS: u32 = 15_000;
/// The wait when a 429 names none.
const DEFAULT_RETRY_S: u64 = 60;

#[derive(Debug)]
pub struct Failure {
    pub reason: String,
    /// Seconds the API asked to wait (429).
    pub retry_after_s: Option<u64>,
}

fn failed(reason: String) -> Failure {
    Failure {
        reason,
        retry_after_s: None,
    }
}

/// Posts one GraphQL document. A 200 or 400 with a JSON body is an answer (GraphQL errors are
/// read by the dataset); anything else is a failure.
pub async fn post(token: &str, body: String) -> Result<Value, Failure> {
    let headers = platform_worker::outbound::headers().map_err(failed)?;
    for (name, value) in [
        ("Authorization", format!("Bearer {token}")),
        ("Content-Type", "application/json".to_owned()),
    ] {
        headers.set(name, &value).map_err(|e| failed(e.to_string()))?;
    }
    let request =
        platform_worker::outbound::request(Method::Post, ENDPOINT, headers, Some(body)).map_err(failed)?;
    let mut response = platform_worker::outbound::send(request, TIMEOUT_MS)
        .await
        .map_err(|e| failed(format!("the GraphQL API gave no answer: {}", e.reason)))?;
    let status = response.status_code();
    let retry_after = response.headers().get("retry-after").ok().flatten();
    let text = response.text().await.unwrap_or_default();
    let snippet: String = text.chars().take(200).collect();
    match status {
        429 => {
            let seconds = retry_after
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(DEFAULT_RETRY_S);
            Err(Failure {
                reason: format!("rate limited (HTTP 429): retrying after {seconds} s"),
                retry_after_s: Some(seconds),
            })
        }
        401 | 403 => Err(failed(format!(
            "the token was refused (HTTP {status}): give CLOUDFLARE_API_TOKEN the Account Analytics: Read \
             permission ({snippet})"
        ))),
        200 | 400 => serde_json::from_str(&text)
            .map_err(|_| failed(format!("HTTP {status} with a body that is not JSON: {snippet}"))),
        _ => Err(failed(format!("HTTP {status} from the GraphQL API: {snippet}"))),
    }
}
