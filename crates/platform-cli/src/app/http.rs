//! The admin API over blocking HTTP: the bearer token on every request, JSON both ways, and each
//! answer that is not a success turned into a [`Failure`] with what to do.

use std::time::Duration;

use platform_kv::PlatformWorker;
use serde_json::Value;

use super::target::Platform;
use super::{Exit, Failure};

pub struct Client<'a> {
    platform: &'a Platform,
    agent: ureq::Agent,
}

const TIMEOUT: Duration = Duration::from_secs(30);

impl<'a> Client<'a> {
    pub fn new(platform: &'a Platform) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("platform-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { platform, agent }
    }

    pub fn get(&self, worker: PlatformWorker, path: &str) -> Result<Value, Failure> {
        self.ask(worker, "GET", path, None)
    }

    pub fn post(&self, worker: PlatformWorker, path: &str, body: &Value) -> Result<Value, Failure> {
        self.ask(worker, "POST", path, Some(body))
    }

    pub fn post_empty(&self, worker: PlatformWorker, path: &str) -> Result<Value, Failure> {
        self.ask(worker, "POST", path, None)
    }

    pub fn put(&self, worker: PlatformWorker, path: &str, body: &Value) -> Result<Value, Failure> {
        self.ask(worker, "PUT", path, Some(body))
    }

    pub fn delete(&self, worker: PlatformWorker, path: &str) -> Result<Value, Failure> {
        self.ask(worker, "DELETE", path, None)
    }

    /// `GET /health`, which needs no token; the status is part of the answer, not a failure.
    pub fn health(&self, worker: PlatformWorker) -> Result<(u16, Value), Failure> {
        let url = format!("{}/health", self.platform.url(worker)?);
        let mut response = self.agent.get(&url).call().map_err(|e| unreachable(&url, &e))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn ask(
        &self,
        worker: PlatformWorker,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.platform.url(worker)?);
        let bearer = format!("Bearer {}", self.platform.token);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &bearer).call(),
            ("DELETE", _) => self.agent.delete(&url).header("Authorization", &bearer).call(),
            ("PUT", Some(body)) => self
                .agent
                .put(&url)
                .header("Authorization", &bearer)
                .send_json(body),
            (_, Some(body)) => self
                .agent
                .post(&url)
                .header("Authorization", &bearer)
                .send_json(body),
            (_, None) => self
                .agent
                .post(&url)
                .header("Authorization", &bearer)
                .send_empty(),
        };
        let mut response = result.map_err(|e| unreachable(&url, &e))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|e| {
            Failure::new(
                Exit::Unavailable,
                format!("{method} {url}: the answer could not be read: {e}"),
            )
        })?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if (200..300).contains(&status) {
            return json.ok_or_else(|| {
                let start: String = text.chars().take(200).collect();
                Failure::new(
                    Exit::Unavailable,
                    format!("{method} {path} answered {status} with something other than JSON: {start}"),
                )
            });
        }
        let reason = json
            .as_ref()
            .and_then(|j| j["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(200).collect());
        let message = format!(
            "{} {method} {path}: {status}: {reason}",
            self.platform.script_name(worker)
        );
        Err(match status {
            401 | 403 => Failure::new(Exit::Refused, message).hint(format!(
                "the admin token of environment {:?} is missing or not this platform's (PLATFORM_ADMIN_TOKEN or admin_token)",
                self.platform.environment
            )),
            400..=499 => Failure::new(Exit::Refused, message),
            _ => Failure::new(Exit::Unavailable, message).hint("`platform health` shows which handler is failing"),
        })
    }
}

fn unreachable(url: &str, error: &ureq::Error) -> Failure {
    Failure::new(Exit::Unavailable, format!("{url} could not be reached: {error}"))
        .hint("check the worker's URL (docs/cli.md: environments) and that it is deployed")
}
