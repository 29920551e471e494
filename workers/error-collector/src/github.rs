//! The GitHub REST client: token auth, the headers GitHub requires, and its rate-limit answers
//! turned into a time to retry at.

use serde_json::Value;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
const API: &str = "https://api.github.com";
const USER_AGENT: &str = "platform-error-collector";

/// A refused or failed call.
#[derive(Debug, Clone)]
pub struct GithubError {
    /// 0 when the request never got an answer.
    pub status: u16,
    pub message: String,
    /// When GitHub said to come back (Retry-After, or the rate-limit reset), ms since the epoch.
    pub retry_at: Option<u64>,
}

impl GithubError {
    /// Whether further calls in this invocation are pointless (auth refused or rate limited).
    pub fn halts(&self) -> bool {
        self.retry_at.is_some() || self.status == 401 || self.status == 429
    }

    /// What GitHub refused when it refused access rather than the request: `token` (401) or
    /// `permission` (403 that is not a rate limit). An operator has to act on these.
    pub fn refused_access(&self) -> Option<&'static str> {
        match (self.status, self.retry_at) {
            (401, _) => Some("token"),
            (403, None) => Some("permission"),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "GitHub {}: {}",
            self.status,
            self.message.chars().take(300).collect::<String>()
        )
    }
}

pub struct Github {
    token: String,
}

impl Github {
    /// `None` when the `GITHUB_TOKEN` secret is not set.
    pub fn from_env(env: &Env) -> Option<Self> {
        env.secret(GITHUB_TOKEN)
            .ok()
            .map(|s| s.to_string())
            .filter(|t| !t.is_empty())
            .map(|token| Self { token })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        now: u64,
    ) -> Result<Value, GithubError> {
        let failed = |message: String| GithubError {
            status: 0,
            message,
            retry_at: None,
        };
        let headers = Headers::new();
        for (name, value) in [
            ("Authorization", format!("Bearer {}", self.token)),
            ("User-Agent", USER_AGENT.to_owned()),
            ("Accept", "application/vnd.github+json".to_owned()),
            ("X-GitHub-Api-Version", "2022-11-28".to_owned()),
            ("Content-Type", "application/json".to_owned()),
        ] {
            headers.set(name, &value).map_err(|e| failed(e.to_string()))?;
        }
        let mut init = RequestInit::new();
        init.with_method(method).with_headers(headers);
        if let Some(body) = body {
            init.with_body(Some(body.to_string().into()));
        }
        let request =
            Request::new_with_init(&format!("{API}{path}"), &init).map_err(|e| failed(e.to_string()))?;
        platform_worker::footprint::subrequest();
        let mut response = Fetch::Request(request)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status_code();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let retry_after = header("retry-after").and_then(|s| s.trim().parse::<u64>().ok());
        let exhausted = header("x-ratelimit-remaining").is_some_and(|r| r.trim() == "0");
        let reset = header("x-ratelimit-reset").and_then(|s| s.trim().parse::<u64>().ok());
        let text = response.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        let retry_at = match (retry_after, exhausted, reset) {
            (Some(seconds), _, _) => Some(now + seconds * 1000),
            (None, true, Some(reset)) => Some(reset * 1000),
            (None, _, _) if status == 429 => Some(now + 60_000),
            _ => None,
        };
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or(text);
        Err(GithubError {
            status,
            message,
            retry_at,
        })
    }
}
