//! What a key family declares about itself.

use std::fmt;

/// The platform's workers: the only writers of `PLATFORM_CACHE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlatformWorker {
    PlatformUsage,
    ErrorCollector,
    Sentinel,
    Notifications,
    SyncConfig,
    PatternDiscovery,
}

impl PlatformWorker {
    pub const ALL: [PlatformWorker; 6] = [
        Self::PlatformUsage,
        Self::ErrorCollector,
        Self::Sentinel,
        Self::Notifications,
        Self::SyncConfig,
        Self::PatternDiscovery,
    ];

    /// The crate under `workers/` and the config under `wrangler/`.
    pub const fn crate_name(self) -> &'static str {
        match self {
            Self::PlatformUsage => "platform-usage",
            Self::ErrorCollector => "error-collector",
            Self::Sentinel => "sentinel",
            Self::Notifications => "notifications",
            Self::SyncConfig => "sync-config",
            Self::PatternDiscovery => "pattern-discovery",
        }
    }

    /// The deployed Worker's name (`name` in its wrangler config).
    pub const fn script_name(self) -> &'static str {
        match self {
            Self::PlatformUsage => "platform-usage",
            Self::ErrorCollector => "platform-error-collector",
            Self::Sentinel => "platform-sentinel",
            Self::Notifications => "platform-notifications",
            Self::SyncConfig => "platform-sync-config",
            Self::PatternDiscovery => "platform-pattern-discovery",
        }
    }
}

impl PlatformWorker {
    /// `platform-usage, sync-config`: the crate names, as the references list writers.
    pub fn list(workers: &[PlatformWorker]) -> String {
        let names: Vec<&str> = workers.iter().map(|w| w.crate_name()).collect();
        names.join(", ")
    }
}

impl fmt::Display for PlatformWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.script_name())
    }
}

/// Who may write a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writers {
    Only(&'static [PlatformWorker]),
    /// The shared alert module, which every worker embeds.
    SharedAlertModule,
}

impl Writers {
    pub fn allows(self, worker: PlatformWorker) -> bool {
        match self {
            Self::Only(workers) => workers.contains(&worker),
            Self::SharedAlertModule => true,
        }
    }
}

impl fmt::Display for Writers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Only(workers) => f.write_str(&PlatformWorker::list(workers)),
            Self::SharedAlertModule => f.write_str("shared alert module (every worker)"),
        }
    }
}

/// Expiry policy. Expiry only cleans up: decisions use explicit timestamps, because KV expiry is
/// approximate and at least 60 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Kept until deleted or overwritten.
    None,
    /// Kept until deleted; rewritten whole by every config sync.
    NoneSynced,
    /// Kept until deleted; rewritten whenever its source changes.
    NoneRefreshed,
    /// Expires this many seconds after each write (KV's minimum is 60).
    Seconds(u32),
}

impl Ttl {
    pub const fn seconds(self) -> Option<u32> {
        match self {
            Self::Seconds(seconds) => Some(seconds),
            Self::None | Self::NoneSynced | Self::NoneRefreshed => None,
        }
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::NoneSynced => f.write_str("None (synced)"),
            Self::NoneRefreshed => f.write_str("None (refreshed)"),
            Self::Seconds(s) if s % 3600 == 0 => write!(f, "{}hr", s / 3600),
            Self::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

/// Subsystems, in the order of the keyspace reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subsystem {
    CircuitBreaker,
    ConsumerBreaker,
    Budget,
    UsageSampling,
    Settings,
    ErrorCollection,
    Sentinel,
    GapAlerts,
    PatternDiscovery,
    Notifications,
    AlertDedup,
}

impl Subsystem {
    pub const ALL: [Subsystem; 11] = [
        Self::CircuitBreaker,
        Self::ConsumerBreaker,
        Self::Budget,
        Self::UsageSampling,
        Self::Settings,
        Self::ErrorCollection,
        Self::Sentinel,
        Self::GapAlerts,
        Self::PatternDiscovery,
        Self::Notifications,
        Self::AlertDedup,
    ];

    pub const fn title(self) -> &'static str {
        match self {
            Self::CircuitBreaker => "Circuit Breaker State",
            Self::ConsumerBreaker => "Consumer Circuit Breaker Contract",
            Self::Budget => "Budget Enforcement",
            Self::UsageSampling => "Usage & Sampling State",
            Self::Settings => "Settings Cache",
            Self::ErrorCollection => "Error Collection",
            Self::Sentinel => "Sentinel",
            Self::GapAlerts => "Gap Alerts",
            Self::PatternDiscovery => "Pattern Discovery",
            Self::Notifications => "Notifications",
            Self::AlertDedup => "Alert Dedup",
        }
    }
}

/// How a family's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// Free text.
    Text,
    /// `true` or `false`.
    Flag,
    /// A decimal integer.
    Integer,
    /// A decimal number.
    Number,
    /// An instant, written ISO 8601; milliseconds since the epoch are accepted when read.
    Timestamp,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// JSON of the named shape.
    Json(&'static str),
}

impl fmt::Display for ValueFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text => f.write_str("text"),
            Self::Flag => f.write_str("`true` / `false`"),
            Self::Integer => f.write_str("integer"),
            Self::Number => f.write_str("number"),
            Self::Timestamp => f.write_str("ISO 8601 instant"),
            Self::Enum(words) => {
                let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
                f.write_str(&quoted.join(" / "))
            }
            Self::Json(shape) => write!(f, "JSON {shape}"),
        }
    }
}

/// Everything declared about one key family.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The family's type name in [`crate::families`].
    pub name: &'static str,
    /// The key pattern, `{placeholders}` for the variable parts.
    pub pattern: &'static str,
    /// The placeholders' values in the documented example key, in order.
    pub example: &'static [&'static str],
    pub ttl: Ttl,
    pub writers: Writers,
    pub subsystem: Subsystem,
    pub format: ValueFormat,
    pub purpose: &'static str,
}

impl Spec {
    /// The pattern's literal text before its first placeholder: every key of the family starts so.
    pub fn literal_prefix(&self) -> &'static str {
        self.pattern.split('{').next().unwrap_or(self.pattern)
    }
}
