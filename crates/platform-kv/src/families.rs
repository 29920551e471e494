//! Every key family of `PLATFORM_CACHE`.
//!
//! Each family is a type: `FeatureEnabled::key(&feature)?` makes its key, and the [`crate::Store`]
//! reads and writes it only as `bool`. The registry below generates `docs/kv-keys.md`.

use platform_core::budgets::BudgetsDocument;
use platform_core::pricing::PricingInForce;
use platform_core::services::ScriptMapping;
use platform_core::settings::Resolved;
use platform_core::thresholds::CostAlertThresholds;
use platform_core::{FeatureKey, Metric, MetricLimits, ProjectId, UtcDay, UtcHour};

use crate::key::{Family, Key, KeyError, Part};
use crate::spec::{PlatformWorker, Spec, Subsystem, Ttl, Writers};
use crate::value::{
    BreakerSignal, Json, JsonArray, JsonObject, KvValue, LockRecord, ProjectState, SamplingMode, Timestamp,
};

use PlatformWorker::*;

const USAGE: Writers = Writers::Only(&[PlatformUsage]);
const SYNC_CONFIG: Writers = Writers::Only(&[SyncConfig]);
const ERROR_COLLECTOR: Writers = Writers::Only(&[ErrorCollector]);
const NOTIFICATIONS: Writers = Writers::Only(&[Notifications]);
/// sync-config invalidates the settings cache when it applies settings.
const SETTINGS_CACHE: Writers = Writers::Only(&[PlatformUsage, SyncConfig]);
/// sync-config writes the script map from services.yaml; the collector repairs entries it learns.
const SCRIPT_MAP: Writers = Writers::Only(&[ErrorCollector, SyncConfig]);
/// sync-config writes the thresholds from budgets.yaml; the sentinel owns their use.
const THRESHOLDS: Writers = Writers::Only(&[Sentinel, SyncConfig]);

fn feature(key: &FeatureKey) -> Part<'_> {
    Part::compound(key.as_str())
}

fn project(project: &ProjectId) -> Part<'_> {
    Part::segment(project.as_str())
}

macro_rules! families {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident {
            pattern: $pattern:literal,
            key: ($($arg:ident: $ty:ty),*) => [$($part:expr),*],
            example: [$($example:literal),*],
            value: $value:ty,
            ttl: $ttl:expr,
            writers: $writers:expr,
            subsystem: $subsystem:ident,
            purpose: $purpose:literal $(,)?
        }
    )+) => {
        $(
            $(#[doc = $doc])+
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl Family for $name {
                const SPEC: Spec = Spec {
                    name: stringify!($name),
                    pattern: $pattern,
                    example: &[$($example),*],
                    ttl: $ttl,
                    writers: $writers,
                    subsystem: Subsystem::$subsystem,
                    format: <$value as KvValue>::FORMAT,
                    purpose: $purpose,
                };
                type Value = $value;

                fn registry() -> &'static [&'static Spec] {
                    REGISTRY
                }
            }

            impl $name {
                #[doc = concat!("The key `", $pattern, "`.")]
                pub fn key($($arg: $ty),*) -> Result<Key<Self>, KeyError> {
                    Key::render(&[$($part),*])
                }
            }
        )+

        /// Every family, in the order of the keyspace reference.
        pub static REGISTRY: &[&Spec] = &[$(&$name::SPEC),+];
    };
}

families! {
    /// Emergency stop of every consumer (middleware contract).
    GlobalStopAll {
        pattern: "GLOBAL_STOP_ALL",
        key: () => [],
        example: [],
        value: bool,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: CircuitBreaker,
        purpose: "Emergency kill switch — pauses all operations",
    }
    /// A project's breaker in the middleware contract, slug upper-cased.
    ProjectStatus {
        pattern: "PROJECT:{slug}:STATUS",
        key: (id: &ProjectId) => [Part::display(id.upper_slug())],
        example: ["MY-APP"],
        value: ProjectState,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: CircuitBreaker,
        purpose: "Per-project circuit breaker state (`active`/`warning`/`paused`)",
    }
    /// A feature's on/off flag; consumers stop on exactly `false`.
    FeatureEnabled {
        pattern: "FEATURE:{key}:enabled",
        key: (key: &FeatureKey) => [feature(key)],
        example: ["my-app:scanner:ocr"],
        value: bool,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: CircuitBreaker,
        purpose: "Feature-level on/off flag",
    }
    /// Why a feature was disabled.
    FeatureDisabledReason {
        pattern: "FEATURE:{key}:disabled_reason",
        key: (key: &FeatureKey) => [feature(key)],
        example: ["my-app:scanner:ocr"],
        value: String,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: CircuitBreaker,
        purpose: "Why feature was disabled",
    }
    /// When a feature was disabled.
    FeatureDisabledAt {
        pattern: "FEATURE:{key}:disabled_at",
        key: (key: &FeatureKey) => [feature(key)],
        example: ["my-app:scanner:ocr"],
        value: Timestamp,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: CircuitBreaker,
        purpose: "Timestamp of disable",
    }
    /// When an automatic trip ends (absent for manual trips).
    FeatureAutoResetAt {
        pattern: "FEATURE:{key}:auto_reset_at",
        key: (key: &FeatureKey) => [feature(key)],
        example: ["my-app:scanner:ocr"],
        value: Timestamp,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: CircuitBreaker,
        purpose: "Auto-reset timestamp",
    }
    /// A feature's breaker as the consumer SDK reads it: exactly `STOP` stops.
    ConfigFeatureStatus {
        pattern: "CONFIG:FEATURE:{id}:STATUS",
        key: (key: &FeatureKey) => [feature(key)],
        example: ["my-app:scanner:ocr"],
        value: BreakerSignal,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: ConsumerBreaker,
        purpose: "Feature circuit breaker read by consumers (`STOP` stops, anything else is GO)",
    }
    /// The reason consumers report for a feature-level stop.
    ConfigFeatureReason {
        pattern: "CONFIG:FEATURE:{id}:REASON",
        key: (key: &FeatureKey) => [feature(key)],
        example: ["my-app:scanner:ocr"],
        value: String,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: ConsumerBreaker,
        purpose: "Reason consumers attach to a feature-level stop",
    }
    /// A project's breaker as the consumer SDK reads it, project spelled as in feature keys.
    ConfigProjectStatus {
        pattern: "CONFIG:PROJECT:{project}:STATUS",
        key: (id: &ProjectId) => [project(id)],
        example: ["my-app"],
        value: BreakerSignal,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: ConsumerBreaker,
        purpose: "Project circuit breaker read by consumers (`STOP` stops every feature of the project)",
    }
    /// The account-wide breaker as the consumer SDK reads it.
    ConfigGlobalStatus {
        pattern: "CONFIG:GLOBAL:STATUS",
        key: () => [],
        example: [],
        value: BreakerSignal,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: ConsumerBreaker,
        purpose: "Global circuit breaker read by consumers (`STOP` stops every feature)",
    }
    /// The normalised budgets document.
    BudgetsConfig {
        pattern: "CONFIG:BUDGETS",
        key: () => [],
        example: [],
        value: Json<BudgetsDocument>,
        ttl: Ttl::NoneSynced,
        writers: SYNC_CONFIG,
        subsystem: Budget,
        purpose: "Budget JSON from budgets.yaml",
    }
    /// A feature's daily limits: the budget that is enforced.
    FeatureBudget {
        pattern: "CONFIG:FEATURE:{key}:BUDGET",
        key: (key: &FeatureKey) => [feature(key)],
        example: ["my-app:scanner:ocr"],
        value: Json<MetricLimits>,
        ttl: Ttl::None,
        writers: SYNC_CONFIG,
        subsystem: Budget,
        purpose: "Daily budget limits for feature (enforced)",
    }
    /// A feature's monthly limits.
    FeatureBudgetMonthly {
        pattern: "CONFIG:FEATURE:{key}:BUDGET_MONTHLY",
        key: (key: &FeatureKey) => [feature(key)],
        example: ["my-app:scanner:ocr"],
        value: Json<MetricLimits>,
        ttl: Ttl::None,
        writers: SYNC_CONFIG,
        subsystem: Budget,
        purpose: "Monthly budget limit for feature",
    }
    /// Set when a daily budget warning was sent.
    BudgetWarn {
        pattern: "BUDGET_WARN:{feature}:{metric}:{threshold}",
        key: (key: &FeatureKey, metric: Metric, threshold: u8) =>
            [feature(key), Part::segment(metric.budget_name()), Part::display(threshold)],
        example: ["my-app:scanner:ocr", "d1_writes", "70"],
        value: Timestamp,
        ttl: Ttl::Seconds(3600),
        writers: USAGE,
        subsystem: Budget,
        purpose: "Budget warning dedup (prevents duplicate Slack alerts)",
    }
    /// Set when a monthly budget was reported exceeded.
    BudgetWarnMonthlyExceeded {
        pattern: "BUDGET_WARN_MONTHLY:{feature}:{limit}:exceeded",
        key: (key: &FeatureKey, metric: Metric) => [feature(key), Part::segment(metric.budget_name())],
        example: ["my-app:scanner:ocr", "d1_writes"],
        value: Timestamp,
        ttl: Ttl::Seconds(86_400),
        writers: USAGE,
        subsystem: Budget,
        purpose: "Monthly budget exceeded dedup",
    }
    /// Set when a monthly budget warning was sent.
    BudgetWarnMonthly {
        pattern: "BUDGET_WARN_MONTHLY:{feature}:{limit}:{threshold}",
        key: (key: &FeatureKey, metric: Metric, threshold: u8) =>
            [feature(key), Part::segment(metric.budget_name()), Part::display(threshold)],
        example: ["my-app:scanner:ocr", "d1_writes", "70"],
        value: Timestamp,
        ttl: Ttl::Seconds(86_400),
        writers: USAGE,
        subsystem: Budget,
        purpose: "Monthly warning threshold dedup",
    }
    /// How much hourly collection work runs.
    UsageSamplingMode {
        pattern: "platform-usage:sampling-mode",
        key: () => [],
        example: [],
        value: SamplingMode,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: UsageSampling,
        purpose: "Current sampling mode enum",
    }
    /// The platform's own D1 writes over the last 24 hours.
    D1Writes24h {
        pattern: "platform-usage:d1-writes-24h",
        key: () => [],
        example: [],
        value: i64,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: UsageSampling,
        purpose: "Rolling 24h D1 write counter",
    }
    /// When the D1 write counter's window started.
    D1WritesTimestamp {
        pattern: "platform-usage:d1-writes-timestamp",
        key: () => [],
        example: [],
        value: Timestamp,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: UsageSampling,
        purpose: "Timestamp for write counter reset",
    }
    /// Durable Object GB-seconds of a project over the last 24 hours.
    DoGbSeconds24h {
        pattern: "platform-usage:do-gb-seconds-24h:{project}",
        key: (id: &ProjectId) => [project(id)],
        example: ["my-app"],
        value: f64,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: UsageSampling,
        purpose: "DO GB-seconds per project",
    }
    /// The price table in force: plan, billing day and catalogue, rewritten only when it changes.
    PricingCache {
        pattern: "platform-usage:pricing:v1",
        key: () => [],
        example: [],
        value: Json<PricingInForce>,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: UsageSampling,
        purpose: "Cached pricing config",
    }
    /// Account totals of the previous collection, for hourly deltas.
    PrevHourAccount {
        pattern: "platform-usage:prev-hour:account",
        key: () => [],
        example: [],
        value: Json<JsonObject>,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: UsageSampling,
        purpose: "Delta calculation state",
    }
    /// The hour of the previous collection.
    PrevHourTimestamp {
        pattern: "platform-usage:prev-hour:timestamp",
        key: () => [],
        example: [],
        value: Timestamp,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: UsageSampling,
        purpose: "Last collection hour",
    }
    /// The effective settings, cached over the D1 settings table.
    SettingsAll {
        pattern: "CONFIG:SETTINGS:ALL",
        key: () => [],
        example: [],
        value: Json<Resolved>,
        ttl: Ttl::Seconds(3600),
        writers: SETTINGS_CACHE,
        subsystem: Settings,
        purpose: "Full PlatformSettings JSON cache (effective settings and the rows refused)",
    }
    /// One setting's value, cached over the D1 settings table.
    SettingValue {
        pattern: "CONFIG:SETTINGS:{key}",
        key: (setting: &str) => [Part::segment(setting)],
        example: ["budget_soft_limit"],
        value: String,
        ttl: Ttl::Seconds(3600),
        writers: SETTINGS_CACHE,
        subsystem: Settings,
        purpose: "Individual setting value cache",
    }
    /// Which project a Worker script belongs to.
    ScriptMap {
        pattern: "SCRIPT_MAP:{scriptName}",
        key: (script: &str) => [Part::segment(script)],
        example: ["my-worker"],
        value: Json<ScriptMapping>,
        ttl: Ttl::None,
        writers: SCRIPT_MAP,
        subsystem: ErrorCollection,
        purpose: "Worker name to project mapping",
    }
    /// A known error's cached state.
    ErrorFingerprint {
        pattern: "ERROR_FINGERPRINT:{hash}",
        key: (hash: &str) => [Part::segment(hash)],
        example: ["a1b2c3"],
        value: Json<JsonObject>,
        ttl: Ttl::None,
        writers: ERROR_COLLECTOR,
        subsystem: ErrorCollection,
        purpose: "Cached known error state",
    }
    /// Short lock around creating a GitHub issue for a fingerprint.
    IssueLock {
        pattern: "ISSUE_LOCK:{hash}",
        key: (hash: &str) => [Part::segment(hash)],
        example: ["a1b2c3"],
        value: Json<LockRecord>,
        ttl: Ttl::Seconds(60),
        writers: ERROR_COLLECTOR,
        subsystem: ErrorCollection,
        purpose: "Race-condition dedup for GitHub issue creation",
    }
    /// Set when a transient error category got its issue for the day.
    TransientWindow {
        pattern: "TRANSIENT:{script}:{category}:{date}",
        key: (script: &str, category: &str, day: UtcDay) =>
            [Part::segment(script), Part::segment(category), Part::display(day)],
        example: ["my-worker", "quota-exhausted", "2026-03-02"],
        value: Timestamp,
        ttl: Ttl::Seconds(86_400),
        writers: ERROR_COLLECTOR,
        subsystem: ErrorCollection,
        purpose: "Transient error dedup window (1 issue/category/day)",
    }
    /// GitHub writes for a script in one UTC hour.
    ErrorRate {
        pattern: "ERROR_RATE:{script}:{hour}",
        key: (script: &str, hour: UtcHour) => [Part::segment(script), Part::display(hour)],
        example: ["my-worker", "2026-03-02T14"],
        value: i64,
        ttl: Ttl::Seconds(7200),
        writers: ERROR_COLLECTOR,
        subsystem: ErrorCollection,
        purpose: "Hourly error rate counter",
    }
    /// The last gap detection result.
    ProjectGapsResult {
        pattern: "sentinel:project-gaps:result",
        key: () => [],
        example: [],
        value: Json<JsonObject>,
        ttl: Ttl::Seconds(3600),
        writers: Writers::Only(&[Sentinel]),
        subsystem: Sentinel,
        purpose: "Cached gap detection results",
    }
    /// Per-service cost alert thresholds.
    AlertThresholds {
        pattern: "alert-thresholds:config",
        key: () => [],
        example: [],
        value: Json<CostAlertThresholds>,
        ttl: Ttl::None,
        writers: THRESHOLDS,
        subsystem: Sentinel,
        purpose: "Alert threshold configuration",
    }
    /// Set when a project's coverage-gap issue was filed for the day.
    GapAlert {
        pattern: "GAP_ALERT:{project}:{date}",
        key: (id: &ProjectId, day: UtcDay) => [project(id), Part::display(day)],
        example: ["my-app", "2026-03-02"],
        value: Timestamp,
        ttl: Ttl::Seconds(86_400),
        writers: ERROR_COLLECTOR,
        subsystem: GapAlerts,
        purpose: "Gap alert dedup (1 issue/project/day)",
    }
    /// Approved transient-error patterns, read by the collector and by consumers.
    ApprovedPatterns {
        pattern: "PATTERNS:DYNAMIC:APPROVED",
        key: () => [],
        example: [],
        value: Json<JsonArray>,
        ttl: Ttl::NoneRefreshed,
        writers: Writers::Only(&[PatternDiscovery]),
        subsystem: PatternDiscovery,
        purpose: "Approved patterns JSON cache for error-collector runtime",
    }
    /// Patterns in shadow: the collector records their matches without acting on them.
    ShadowPatterns {
        pattern: "PATTERNS:DYNAMIC:SHADOW",
        key: () => [],
        example: [],
        value: Json<JsonArray>,
        ttl: Ttl::NoneRefreshed,
        writers: Writers::Only(&[PatternDiscovery]),
        subsystem: PatternDiscovery,
        purpose: "Shadow patterns JSON (same shape as the approved list) that the error collector evaluates on live errors without changing what it files",
    }
    /// A user's unread notifications.
    NotificationCount {
        pattern: "NOTIFICATION_COUNT:{userId}",
        key: (user: &str) => [Part::segment(user)],
        example: ["admin"],
        value: i64,
        ttl: Ttl::None,
        writers: NOTIFICATIONS,
        subsystem: Notifications,
        purpose: "Unread notification count, cached; its metadata says what it was computed from, so a create, read or expiry recomputes it",
    }
    /// A user's notification preferences.
    NotificationPrefs {
        pattern: "NOTIFICATION_PREFS:{userId}",
        key: (user: &str) => [Part::segment(user)],
        example: ["admin"],
        value: Json<JsonObject>,
        ttl: Ttl::None,
        writers: NOTIFICATIONS,
        subsystem: Notifications,
        purpose: "User notification preferences",
    }
    /// When a user read a notification.
    NotificationRead {
        pattern: "NOTIFICATION_READ:{userId}:{notifId}",
        key: (user: &str, notification: &str) => [Part::segment(user), Part::segment(notification)],
        example: ["admin", "42"],
        value: Timestamp,
        // As long as the notification it marks is kept (90 days), then gone with it.
        ttl: Ttl::Seconds(7_776_000),
        writers: NOTIFICATIONS,
        subsystem: Notifications,
        purpose: "Per-notification read state (notifications up to the person's read-all watermark are read without one)",
    }
    /// When an alert about a subject was last delivered.
    AlertLastSent {
        pattern: "ALERT:{key}:last_sent",
        key: (subject: &str) => [Part::compound(subject)],
        example: ["my-app:scanner:ocr"],
        value: Timestamp,
        ttl: Ttl::None,
        writers: USAGE,
        subsystem: AlertDedup,
        purpose: "Alert send dedup",
    }
    /// Set when a Slack message of a type about a subject was delivered.
    SlackAlert {
        pattern: "SLACK_ALERT:{type}:{key}",
        key: (kind: &str, subject: &str) => [Part::segment(kind), Part::compound(subject)],
        example: ["budget", "my-app:scanner:ocr"],
        value: Timestamp,
        ttl: Ttl::Seconds(3600),
        writers: Writers::SharedAlertModule,
        subsystem: AlertDedup,
        purpose: "Slack message dedup",
    }
}

/// The example key of a family, for the reference.
pub fn example_key(spec: &Spec) -> String {
    let mut out = String::new();
    let mut rest = spec.pattern;
    let mut examples = spec.example.iter();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        out.push_str(examples.next().copied().unwrap_or("?"));
        rest = rest[open..]
            .find('}')
            .map_or("", |close| &rest[open + close + 1..]);
    }
    out.push_str(rest);
    out
}
