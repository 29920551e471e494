//! The GitHub REST client: token auth, the headers GitHub requires, a time limit on every call,
//! and its rate-limit answers turned into a time to retry at (capped: an absurd `Retry-After`
//! must not keep an error from ever being filed).

use serde_json::Value;
use worker::{Env, Headers, Method};

pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
const API: &str = "https://api.github.com";
const USER_AGENT: &str = "platform-error-collector";
/// How long one GitHub call may take: a tail batch must not wait for a hanging GitHub.
pub const CALL_TIMEOUT_MS: u32 = 10_000;
/// The longest wait GitHub's `Retry-After` or rate-limit reset is taken at (GitHub's primary
/// limit resets within an hour).
pub const MAX_WAIT_MS: u64 = 3_600_000;

/// When to come back after a refusal: what GitHub said, capped at [`MAX_WAIT_MS`] from `now`.
pub fn retry_at(
    now: u64,
    status: u16,
    retry_after: Option<&str>,
    exhausted: bool,
    reset: Option<&str>,
) -> Option<u64> {
    let seconds = |text: Option<&str>| text.and_then(|s| s.trim().parse::<u64>().ok());
    let at = match (seconds(retry_after), exhausted, seconds(reset)) {
        (Some(seconds), _, _) => now.saturating_add(seconds.saturating_mul(1000)),
        (None, true, Some(reset)) => reset.saturating_mul(1000),
        (None, _, _) if status == 429 => now + 60_000,
        _ => return None,
    };
    Some(at.clamp(now, now + MAX_WAIT_MS))
}

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
    /// Which token this is, without revealing it (platform_errors::fingerprint::secret_tag).
    pub fn tag(&self) -> String {
        platform_errors::fingerprint::secret_tag(&self.token)
    }

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
        let request = platform_worker::outbound::request(
            method,
            &format!("{API}{path}"),
            headers,
            body.map(|b| b.to_string()),
        )
        .map_err(failed)?;
        let mut response = platform_worker::outbound::send(request, CALL_TIMEOUT_MS)
            .await
            .map_err(|unanswered| failed(unanswered.reason))?;
        let status = response.status_code();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let retry_after = header("retry-after");
        let exhausted = header("x-ratelimit-remaining").is_some_and(|r| r.trim() == "0");
        let reset = header("x-ratelimit-reset");
        let text = response.text().await;
        if (200..300).contains(&status) {
            // An answer that cannot be read is kept as `Null`: the caller decides what it lacks.
            return Ok(text
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or(Value::Null));
        }
        let text = text.unwrap_or_default();
        let retry_at = retry_at(now, status, retry_after.as_deref(), exhausted, reset.as_deref());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_github_asks_for_are_capped() {
        let now = 1_000_000;
        assert_eq!(retry_at(now, 403, Some("120"), false, None), Some(now + 120_000));
        assert_eq!(
            retry_at(now, 403, Some("1000000000000"), false, None),
            Some(now + MAX_WAIT_MS)
        );
        assert_eq!(
            retry_at(now, 403, Some("18446744073709551615"), false, None),
            Some(now + MAX_WAIT_MS)
        );
        assert_eq!(
            retry_at(now, 403, None, true, Some("99999999999999")),
            Some(now + MAX_WAIT_MS)
        );
        assert_eq!(retry_at(now, 403, None, true, Some("1")), Some(now));
        assert_eq!(retry_at(now, 429, None, false, None), Some(now + 60_000));
        assert_eq!(retry_at(now, 500, Some("soon"), false, None), None);
    }
}
