//! Every table of `PLATFORM_DB`, declared once: who writes it, how long its rows live and why it
//! exists. Read by the ownership check, the retention sweep, `docs/d1-tables.md` and a test that
//! holds the declarations to the migrations column by column.

use std::fmt;

use platform_kv::PlatformWorker;
use PlatformWorker::*;

/// Who may write a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writers {
    Only(&'static [PlatformWorker]),
    /// Every worker, through a shared module of `platform-worker` (named here).
    Every(&'static str),
}

impl Writers {
    pub fn allows(self, worker: PlatformWorker) -> bool {
        match self {
            Self::Only(workers) => workers.contains(&worker),
            Self::Every(_) => true,
        }
    }
}

impl fmt::Display for Writers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Only(workers) => f.write_str(&PlatformWorker::list(workers)),
            Self::Every(module) => write!(f, "every worker ({module})"),
        }
    }
}

/// Text that documents a declaration: read by the docs and the tests, compiled out of a worker's
/// wasm, which never shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocText {
    #[cfg(not(target_arch = "wasm32"))]
    text: &'static str,
}

impl DocText {
    pub const fn new(text: &'static str) -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        {
            Self { text }
        }
        #[cfg(target_arch = "wasm32")]
        {
            let _ = text;
            Self {}
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub const fn as_str(self) -> &'static str {
        self.text
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl fmt::Display for DocText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// How long a table's rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Kept until the domain deletes them; says why.
    Kept(DocText),
    /// Deleted by the owner's retention sweep once `column` (epoch ms) is older than `days`. Rows
    /// whose column is NULL are kept (an alert not yet sent).
    Days { column: &'static str, days: u32 },
}

#[cfg(not(target_arch = "wasm32"))]
impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kept(why) => write!(f, "kept: {why}"),
            Self::Days { column, days } => write!(f, "{days} days after `{column}`"),
        }
    }
}

/// One table.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    /// The worker whose migration created it and whose sweep applies its retention.
    pub owner: PlatformWorker,
    pub writers: Writers,
    pub retention: Retention,
    /// Its columns, in migration order.
    pub columns: &'static [&'static str],
    pub purpose: DocText,
}

macro_rules! tables {
    ($(
        $(#[$doc:meta])*
        $ident:ident = $name:literal {
            owner: $owner:ident,
            writers: $writers:expr,
            retention: $retention:expr,
            columns: [$($column:ident),* $(,)?],
            purpose: $purpose:literal $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            pub static $ident: Table = Table {
                name: $name,
                owner: $owner,
                writers: $writers,
                retention: $retention,
                columns: &[$(stringify!($column)),*],
                purpose: DocText::new($purpose),
            };
        )*
        /// Every table, in migration order.
        pub static TABLES: &[&Table] = &[$(&$ident),*];
    };
}

const OUTBOX: Writers = Writers::Every("platform-worker alerts");
const STAMPS: Writers = Writers::Every("platform-worker handler stamps");

tables! {
    SETTINGS = "settings" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage, SyncConfig]),
        retention: Retention::Kept(DocText::new("one row per setting")),
        columns: [key, value, updated_at],
        purpose: "Operator settings, one validated text value per key; an absent row means the default.",
    }
    TELEMETRY_RECEIPTS = "telemetry_receipts" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Days { column: "minute_at", days: 15 },
        columns: [minute_at, seq, ids],
        purpose: "Queue message ids already counted, one row per batch and enqueue minute; a trigger refuses a receipt that repeats a counted id, so a redelivered message is never counted twice (outlives the queue's 14-day retention).",
    }
    USAGE_ROLLUPS = "usage_rollups" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Days { column: "updated_at", days: 400 },
        columns: [project, period, shard, totals, activity, updated_at],
        purpose: "Usage per project, UTC period (`YYYY-MM-DD` or `YYYY-MM`) and shard: every feature's amount per metric, and on day rows each feature's active hours and latest message. A year and a month of history, for budgets, reports and the sentinel.",
    }
    FEATURE_HEALTH = "feature_health" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Kept(DocText::new("one row per feature")),
        columns: [feature_key, last_heartbeat, heartbeats],
        purpose: "The latest heartbeat of each feature.",
    }
    FEATURE_BREAKERS = "feature_breakers" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Kept(DocText::new("one row per feature")),
        columns: [feature_key, open, manual, reason, tripped_at, auto_reset_at, consecutive_trips, last_reset_at, exempt_until],
        purpose: "Each feature's circuit breaker: the record of truth that the KV breaker keys broadcast.",
    }
    PROJECT_BREAKERS = "project_breakers" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Kept(DocText::new("one row per project")),
        columns: [project, level, manual, reason, since, auto_reset_at, exempt_until],
        purpose: "Each project's breaker level (active, warning, paused).",
    }
    GLOBAL_STOP = "global_stop" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Kept(DocText::new("a single row")),
        columns: [id, enabled, reason, since],
        purpose: "The account-wide manual stop.",
    }
    BUDGET_WARNINGS = "budget_warnings" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Days { column: "sent_at", days: 62 },
        columns: [feature_key, metric, period, threshold, sent_at],
        purpose: "Budget warnings sent, one per feature, metric, period and threshold (outlives its month).",
    }
    BREAKER_EVENTS = "breaker_events" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Days { column: "at", days: 400 },
        columns: [id, at, scope, subject, event, reason],
        purpose: "Every breaker transition: trips, resets, manual changes, global stops.",
    }
    TELEMETRY_REJECTS = "telemetry_rejects" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Kept(DocText::new("until an operator replays or discards each row")),
        columns: [id, kind, message_id, queue, reason, payload, received_at, status, resolved_at],
        purpose: "Telemetry that could not be used (`rejected`) or exhausted its retries (`dead_letter`), with its payload for replay.",
    }
    ALERT_OUTBOX = "alert_outbox" {
        owner: PlatformUsage,
        writers: OUTBOX,
        retention: Retention::Days { column: "sent_at", days: 30 },
        columns: [id, kind, subject, text, created_at, attempts, sent_at, last_error, claimed_at, inbox_at],
        purpose: "Alerts to deliver, stored with the decision that raised them; a delivery claims rows first, a failed one stays pending. Each row reaches Slack (`sent_at`) and the people's inboxes (`inbox_at`) once.",
    }
    CONFIG_HISTORY = "config_history" {
        owner: SyncConfig,
        writers: Writers::Only(&[SyncConfig]),
        retention: Retention::Kept(DocText::new("the audit trail of applied configs")),
        columns: [id, version, applied_at, document, summary, kv_total, kv_done, runs, completed_at],
        purpose: "Each applied config: its version, document and the progress of its apply.",
    }
    SYNCED_KV_KEYS = "synced_kv_keys" {
        owner: SyncConfig,
        writers: Writers::Only(&[SyncConfig]),
        retention: Retention::Kept(DocText::new("one row per key in PLATFORM_CACHE")),
        columns: [key, digest, written_at],
        purpose: "What sync-config wrote to PLATFORM_CACHE: each key and the digest of its value.",
    }
    PROJECT_REGISTRY = "project_registry" {
        owner: SyncConfig,
        writers: Writers::Only(&[SyncConfig]),
        retention: Retention::Kept(DocText::new("one row per configured project")),
        columns: [project_id, display_name, repository, tier, scripts, updated_at],
        purpose: "Projects from services.yaml, with their Worker script names (JSON array).",
    }
    FEATURE_REGISTRY = "feature_registry" {
        owner: SyncConfig,
        writers: Writers::Only(&[SyncConfig]),
        retention: Retention::Kept(DocText::new("one row per configured feature")),
        columns: [feature_key, project_id, category, feature, display_name, circuit_breaker, cost_tier, updated_at],
        purpose: "Features from services.yaml, keyed project:category:feature.",
    }
    DRIFT_CHECKS = "drift_checks" {
        owner: SyncConfig,
        writers: Writers::Only(&[SyncConfig]),
        retention: Retention::Kept(DocText::new("one row a day")),
        columns: [checked_at, version, checked, repaired],
        purpose: "Each daily drift check: keys checked and those repaired (JSON).",
    }
    ERROR_FINGERPRINTS = "error_fingerprints" {
        owner: ErrorCollector,
        writers: Writers::Only(&[ErrorCollector]),
        retention: Retention::Kept(DocText::new("the record of every error and its GitHub issue")),
        columns: [
            fingerprint, project, script, repository, kind, exception, category, priority, title,
            message, sample, occurrences, first_seen, last_seen, last_context, last_logs, status,
            muted, issue_number, issue_priority, claimed_at, attempts, next_attempt_at, last_error,
            notified_count, notified_at, issue_created_at,
        ],
        purpose: "One row per error fingerprint: counts, lifecycle, the atomic claim of its GitHub issue and the retry schedule.",
    }
    ERROR_DAILY_ISSUES = "error_daily_issues" {
        owner: ErrorCollector,
        writers: Writers::Only(&[ErrorCollector]),
        retention: Retention::Kept(DocText::new("one row per project and day that filed one")),
        columns: [kind, project, day, issue_number, claimed_at],
        purpose: "Issues filed at most once per project per day (`digest`, `gap`): the row is the claim.",
    }
    ERROR_COLLECTOR_STATE = "error_collector_state" {
        owner: ErrorCollector,
        writers: Writers::Only(&[ErrorCollector]),
        retention: Retention::Kept(DocText::new("a few named facts")),
        columns: [key, value, at],
        purpose: "The collector's own facts for /health (last issue write, last GitHub error).",
    }
    HANDLER_RUNS = "handler_runs" {
        owner: PlatformUsage,
        writers: STAMPS,
        retention: Retention::Kept(DocText::new("one row per handler")),
        columns: [worker, handler, last_run_at, last_ok_at, last_error, last_error_at, consecutive_failures],
        purpose: "Each handler's last run, success and failure: /health reports them, a silent or failing cron is alerted.",
    }
    // Pattern discovery (0008_patterns.sql).
    PATTERNS = "patterns" {
        owner: PatternDiscovery,
        writers: Writers::Only(&[PatternDiscovery]),
        retention: Retention::Kept(DocText::new("one row per rule ever suggested: the rejected, expired and refused ones keep it from being suggested again")),
        columns: [
            id, kind, value, category, scope, source, status, reason, cluster, samples, fingerprints,
            backtest, created_at, updated_at, shadow_from, shadow_until, ready_at, approved_at, decided_by,
        ],
        purpose: "Each transient-error rule suggested (mined or proposed by a model): its cluster, safety backtest and place in the lifecycle (pending, shadow, ready, approved, stale, disabled, rejected, expired, refused).",
    }
    PATTERN_MATCHES = "pattern_matches" {
        owner: PatternDiscovery,
        writers: Writers::Only(&[ErrorCollector, PatternDiscovery]),
        retention: Retention::Days { column: "last_at", days: 90 },
        columns: [pattern_id, day, fingerprint, matches, last_at],
        purpose: "Matches of shadow and approved patterns on live errors, per pattern, UTC day and fingerprint, added by the error collector once per tail batch: the evidence for review and staleness.",
    }
    NOTIFICATION_PEOPLE = "notification_people" {
        owner: Notifications,
        writers: Writers::Only(&[Notifications]),
        retention: Retention::Kept(DocText::new("one row per person, until an admin removes them")),
        columns: [id, role, email, display_name, read_through, created_at],
        purpose: "The people of the inbox: role (an audience), the Access email that logs in as them, and their mark-all-read watermark.",
    }
    NOTIFICATION_TOKENS = "notification_tokens" {
        owner: Notifications,
        writers: Writers::Only(&[Notifications]),
        retention: Retention::Days { column: "revoked_at", days: 30 },
        columns: [token_hash, id, user_id, label, created_at, revoked_at],
        purpose: "Personal tokens an admin issued, stored only as their SHA-256; revoked ones are kept a month for the record.",
    }
    NOTIFICATIONS = "notifications" {
        owner: Notifications,
        writers: Writers::Only(&[Notifications]),
        retention: Retention::Days { column: "created_at", days: 90 },
        columns: [seq, dedup_key, source, category, priority, title, body, audience_kind, audience_value, action_url, created_at, expires_at],
        purpose: "Notifications, one per producer dedup key, for everyone, a role or named people; expired ones are purged at once.",
    }
    // The sentinel's tables (0006).
    SENTINEL_INCIDENTS = "sentinel_incidents" {
        owner: Sentinel,
        writers: Writers::Only(&[Sentinel]),
        retention: Retention::Days { column: "closed_at", days: 90 },
        columns: [id, kind, subject, project, feature, since, opened_at, closed_at, summary, detail, silenced_by],
        purpose: "Each gap, stale heartbeat, cost anomaly or platform problem the sentinel found: opened once with its alert, closed once with its recovery; open rows are kept.",
    }
    SENTINEL_SILENCES = "sentinel_silences" {
        owner: Sentinel,
        writers: Writers::Only(&[Sentinel]),
        retention: Retention::Days { column: "expires_at", days: 30 },
        columns: [id, project, feature, kind, reason, created_at, expires_at],
        purpose: "Operator silences: a matcher (project, feature, kind) and an expiry; matching alerts are recorded but not sent.",
    }
    ACCOUNT_USAGE = "account_usage" {
        owner: PlatformUsage,
        writers: Writers::Only(&[PlatformUsage]),
        retention: Retention::Days { column: "hour_at", days: 400 },
        columns: [hour_at, dataset, lines, sample_interval, collected_at],
        purpose: "The account's own usage from Cloudflare's analytics, one row per collected UTC hour and dataset: each resource's amount per metric and the project it belongs to. Collecting an hour again replaces its row. A year and a month of history, for cost, cost budgets and reports.",
    }
    // GitHub webhook deliveries (0015_webhook_deliveries.sql).
    GITHUB_WEBHOOK_DELIVERIES = "github_webhook_deliveries" {
        owner: ErrorCollector,
        writers: Writers::Only(&[ErrorCollector]),
        retention: Retention::Days { column: "received_at", days: 7 },
        columns: [delivery_id, received_at],
        purpose: "GitHub webhook deliveries applied, by X-GitHub-Delivery id: a replayed delivery is not applied again.",
    }
    TAIL_SCRIPTS = "tail_scripts" {
        owner: ErrorCollector,
        writers: Writers::Only(&[ErrorCollector]),
        retention: Retention::Days { column: "last_event_at", days: 90 },
        columns: [script, last_event_at],
        purpose: "The scripts whose tail events reach the error collector and the last one's time: a wired, quiet script from one never wired.",
    }
}

/// The table named `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().copied().find(|t| t.name == name)
}
