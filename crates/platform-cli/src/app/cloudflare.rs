//! The Cloudflare REST API (v4) over blocking HTTP, for `init`: the envelope read, paged lists
//! followed, and a refused token explained with the permissions the platform needs.

use std::time::Duration;

use serde_json::Value;

use super::{Exit, Failure};

/// What an API token for `platform init` and `platform deploy` needs.
pub const PERMISSIONS: &str = "Account: Workers Scripts Edit, Workers KV Storage Edit, D1 Edit, \
     Queues Edit, Account Settings Read (create one under My Profile → API Tokens)";

pub struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    /// From CLOUDFLARE_API_TOKEN (never the command line) and CLOUDFLARE_API_BASE_URL (the variable
    /// wrangler reads too; default the public API).
    pub fn from_env() -> Result<Self, Failure> {
        let token = std::env::var("CLOUDFLARE_API_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Failure::usage("no Cloudflare API token")
                    .hint(format!("set CLOUDFLARE_API_TOKEN to a token with {PERMISSIONS}"))
            })?;
        let base = std::env::var("CLOUDFLARE_API_BASE_URL")
            .ok()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "https://api.cloudflare.com/client/v4".to_owned());
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .user_agent(concat!("platform-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            agent,
        })
    }

    /// One call; `what` names it in errors ("creating the KV namespace platform-cache").
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>, what: &str) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let bearer = format!("Bearer {}", self.token);
        let result = match body {
            Some(body) => self
                .agent
                .post(&url)
                .header("Authorization", &bearer)
                .send_json(body),
            None if method == "GET" => self.agent.get(&url).header("Authorization", &bearer).call(),
            None => self
                .agent
                .post(&url)
                .header("Authorization", &bearer)
                .send_empty(),
        };
        let mut response = result.map_err(|e| {
            Failure::new(
                Exit::Unavailable,
                format!("{what}: {url} could not be reached: {e}"),
            )
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) && answer["success"] != Value::Bool(false) {
            return Ok(answer);
        }
        let errors: Vec<String> = answer["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| format!("{} (code {})", e["message"].as_str().unwrap_or("?"), e["code"]))
            .collect();
        let reason = if errors.is_empty() {
            text.chars().take(200).collect()
        } else {
            errors.join("; ")
        };
        let message = format!("{what}: Cloudflare answered {status}: {reason}");
        Err(match status {
            401 => Failure::new(Exit::Refused, message).hint(format!(
                "the token in CLOUDFLARE_API_TOKEN was refused; it must be valid and have {PERMISSIONS}"
            )),
            403 => Failure::new(Exit::Refused, message).hint(format!(
                "the token may not do this; it needs {PERMISSIONS}, for this account"
            )),
            400..=499 => Failure::new(Exit::Refused, message),
            _ => Failure::new(Exit::Unavailable, message)
                .hint("Cloudflare failed; running the command again is safe"),
        })
    }

    /// Every item of a paged list.
    pub fn list(&self, path: &str, what: &str) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let separator = if path.contains('?') { '&' } else { '?' };
        for page in 1..=100 {
            let answer = self.call(
                "GET",
                &format!("{path}{separator}per_page=100&page={page}"),
                None,
                what,
            )?;
            let batch = answer["result"].as_array().cloned().unwrap_or_default();
            let total = answer["result_info"]["total_count"].as_u64();
            let done = batch.len() < 100 || total.is_some_and(|t| (items.len() + batch.len()) as u64 >= t);
            items.extend(batch);
            if done {
                break;
            }
        }
        Ok(items)
    }
}
