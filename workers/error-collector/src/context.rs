//! What one invocation carries while it works: bindings, the clock, the GitHub client, the write
//! budget per script (hourly `ERROR_RATE`, daily cap) and a report of what it did.

use std::collections::BTreeMap;

use platform_core::UtcHour;
use platform_kv::families::ErrorRate;
use platform_kv::PlatformWorker;
use platform_worker::{ApiError, PlatformStore};
use serde::Serialize;
use worker::{D1Database, Env};

use crate::github::Github;

/// GitHub writes per script per UTC hour, and issue creations per script per UTC day.
pub const HOURLY_LIMIT_VAR: &str = "ERROR_HOURLY_LIMIT";
pub const DAILY_LIMIT_VAR: &str = "ERROR_DAILY_LIMIT";
/// Where errors of unmapped scripts are filed (optional `owner/name`).
pub const DEFAULT_REPOSITORY_VAR: &str = "DEFAULT_REPOSITORY";

/// What an invocation did; logged as one JSON line.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub events: u32,
    pub malformed: u32,
    pub occurrences: u32,
    pub fingerprints: u32,
    pub d1_round_trips: u32,
    pub kv_writes: u32,
    pub github_calls: u32,
    pub created: u32,
    pub reopened: u32,
    pub comments: u32,
    pub relabelled: u32,
    pub deferred: u32,
    pub failed: u32,
    pub errors: Vec<String>,
}

pub struct Ctx<'a> {
    pub env: &'a Env,
    pub db: D1Database,
    pub store: PlatformStore,
    pub github: Option<Github>,
    pub now: u64,
    /// Set when GitHub refused auth or asked to wait: no further calls this invocation.
    pub halted: bool,
    /// When GitHub said to come back, if it did.
    pub resume_at: Option<u64>,
    hourly_limit: i64,
    pub daily_limit: u64,
    /// Per script: writes already counted in `ERROR_RATE` this hour, and writes made now.
    counted: BTreeMap<String, i64>,
    pub writes: BTreeMap<String, i64>,
    pub report: Report,
}

fn var_number(env: &Env, name: &str, default: u64) -> u64 {
    env.var(name)
        .ok()
        .and_then(|v| v.to_string().trim().parse().ok())
        .unwrap_or(default)
}

impl<'a> Ctx<'a> {
    pub fn new(env: &'a Env, now: u64) -> Result<Self, ApiError> {
        Ok(Self {
            env,
            db: platform_worker::database(env)?,
            store: platform_worker::store(env, PlatformWorker::ErrorCollector)?,
            github: Github::from_env(env),
            now,
            halted: false,
            resume_at: None,
            hourly_limit: var_number(env, HOURLY_LIMIT_VAR, 10) as i64,
            daily_limit: var_number(env, DAILY_LIMIT_VAR, 50),
            counted: BTreeMap::new(),
            writes: BTreeMap::new(),
            report: Report::default(),
        })
    }

    pub fn default_repository(&self) -> Option<String> {
        self.env
            .var(DEFAULT_REPOSITORY_VAR)
            .ok()
            .map(|v| v.to_string())
            .filter(|v| v.contains('/'))
    }

    pub fn hour(&self) -> UtcHour {
        UtcHour::containing(self.now)
    }

    /// Whether `script` may make one more GitHub write this hour. Reads `ERROR_RATE` once per
    /// script per invocation.
    pub async fn may_write(&mut self, script: &str) -> bool {
        if self.halted || self.github.is_none() {
            return false;
        }
        if !self.counted.contains_key(script) {
            let counted = match ErrorRate::key(script, self.hour()) {
                Ok(key) => self.store.get(&key).await.ok().flatten().unwrap_or(0),
                Err(_) => 0,
            };
            self.counted.insert(script.to_owned(), counted);
        }
        let counted = self.counted.get(script).copied().unwrap_or(0);
        let made = self.writes.get(script).copied().unwrap_or(0);
        counted + made < self.hourly_limit
    }

    pub fn wrote(&mut self, script: &str) {
        *self.writes.entry(script.to_owned()).or_insert(0) += 1;
    }

    pub fn fail(&mut self, what: &str, error: impl std::fmt::Display) {
        self.report.errors.push(format!("{what}: {error}"));
    }

    /// Adds this invocation's writes to `ERROR_RATE`: one KV write per script that wrote.
    pub async fn flush_rates(&mut self) {
        let writes = std::mem::take(&mut self.writes);
        for (script, n) in writes {
            if n == 0 {
                continue;
            }
            let result = match ErrorRate::key(&script, self.hour()) {
                Ok(key) => self
                    .store
                    .increment(&key, n)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) => self.report.kv_writes += 1,
                Err(e) => self.fail("ERROR_RATE", e),
            }
        }
    }
}
