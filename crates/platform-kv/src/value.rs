//! Value types: how each family's values are written to and read from KV text.

use std::fmt;

use platform_core::time::{iso8601, parse_instant};
use platform_core::EpochMs;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::spec::ValueFormat;

/// A value that could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub expected: String,
    pub found: String,
}

impl ValueError {
    pub(crate) fn new(format: ValueFormat, found: &str) -> Self {
        let mut found = found.to_owned();
        if found.len() > 80 {
            let cut = (0..=80).rev().find(|i| found.is_char_boundary(*i)).unwrap_or(0);
            found.truncate(cut);
            found.push('…');
        }
        Self {
            expected: format.to_string(),
            found,
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, found {:?}", self.expected, self.found)
    }
}

impl std::error::Error for ValueError {}

/// A type that can be stored as a KV value.
pub trait KvValue: Sized {
    const FORMAT: ValueFormat;
    fn encode(&self) -> Result<String, ValueError>;
    fn decode(raw: &str) -> Result<Self, ValueError>;
}

impl KvValue for String {
    const FORMAT: ValueFormat = ValueFormat::Text;
    fn encode(&self) -> Result<String, ValueError> {
        Ok(self.clone())
    }
    fn decode(raw: &str) -> Result<Self, ValueError> {
        Ok(raw.to_owned())
    }
}

impl KvValue for bool {
    const FORMAT: ValueFormat = ValueFormat::Flag;
    fn encode(&self) -> Result<String, ValueError> {
        Ok(self.to_string())
    }
    fn decode(raw: &str) -> Result<Self, ValueError> {
        match raw {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ValueError::new(Self::FORMAT, raw)),
        }
    }
}

impl KvValue for i64 {
    const FORMAT: ValueFormat = ValueFormat::Integer;
    fn encode(&self) -> Result<String, ValueError> {
        Ok(self.to_string())
    }
    fn decode(raw: &str) -> Result<Self, ValueError> {
        raw.trim().parse().map_err(|_| ValueError::new(Self::FORMAT, raw))
    }
}

impl KvValue for f64 {
    const FORMAT: ValueFormat = ValueFormat::Number;
    fn encode(&self) -> Result<String, ValueError> {
        if self.is_finite() {
            Ok(self.to_string())
        } else {
            Err(ValueError::new(Self::FORMAT, &self.to_string()))
        }
    }
    fn decode(raw: &str) -> Result<Self, ValueError> {
        raw.trim()
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite())
            .ok_or_else(|| ValueError::new(Self::FORMAT, raw))
    }
}

/// An instant. Written ISO 8601; read from ISO 8601 or milliseconds since the epoch, because both
/// forms exist for the same consumer keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub EpochMs);

impl KvValue for Timestamp {
    const FORMAT: ValueFormat = ValueFormat::Timestamp;
    fn encode(&self) -> Result<String, ValueError> {
        Ok(iso8601(self.0))
    }
    fn decode(raw: &str) -> Result<Self, ValueError> {
        parse_instant(raw)
            .map(Timestamp)
            .ok_or_else(|| ValueError::new(Self::FORMAT, raw))
    }
}

/// Declares an enum stored as one of a fixed set of words.
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $word:literal),+ $(,)? } $(lenient: $fallback:ident)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $word)] $variant),+ }

        impl $name {
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word),+ }
            }
        }

        impl KvValue for $name {
            const FORMAT: ValueFormat = ValueFormat::Enum(&[$($word),+]);
            fn encode(&self) -> Result<String, ValueError> {
                Ok(self.as_str().to_owned())
            }
            fn decode(raw: &str) -> Result<Self, ValueError> {
                match raw {
                    $($word => Ok(Self::$variant),)+
                    _ => word_enum!(@fallback raw, $($fallback)?),
                }
            }
        }
    };
    (@fallback $raw:ident, $fallback:ident) => { Ok(Self::$fallback) };
    (@fallback $raw:ident,) => { Err(ValueError::new(Self::FORMAT, $raw)) };
}

word_enum! {
    /// The consumer breaker contract: only the exact word `STOP` stops; anything else reads as GO,
    /// exactly as consumers read it.
    BreakerSignal { Stop => "STOP", Go => "GO" } lenient: Go
}

word_enum! {
    /// A project's breaker state in the middleware contract (`PROJECT:{SLUG}:STATUS`).
    ProjectState { Active => "active", Warning => "warning", Paused => "paused" }
}

impl From<platform_core::breaker::Level> for ProjectState {
    fn from(level: platform_core::breaker::Level) -> Self {
        match level {
            platform_core::breaker::Level::Active => Self::Active,
            platform_core::breaker::Level::Warning => Self::Warning,
            platform_core::breaker::Level::Paused => Self::Paused,
        }
    }
}

word_enum! {
    /// How much of the hourly collection work runs, by D1 write pressure.
    SamplingMode { Full => "FULL", Half => "HALF", Quarter => "QUARTER", Minimal => "MINIMAL" }
}

impl From<platform_core::account::sampling::Pace> for SamplingMode {
    fn from(pace: platform_core::account::sampling::Pace) -> Self {
        use platform_core::account::sampling::Pace;
        match pace {
            Pace::Full => Self::Full,
            Pace::Half => Self::Half,
            Pace::Quarter => Self::Quarter,
            Pace::Minimal => Self::Minimal,
        }
    }
}

impl From<SamplingMode> for platform_core::account::sampling::Pace {
    fn from(mode: SamplingMode) -> Self {
        match mode {
            SamplingMode::Full => Self::Full,
            SamplingMode::Half => Self::Half,
            SamplingMode::Quarter => Self::Quarter,
            SamplingMode::Minimal => Self::Minimal,
        }
    }
}

/// Names the JSON shape of a value type for the keyspace reference.
pub trait JsonShape: Serialize + DeserializeOwned {
    const SHAPE: &'static str;
}

/// A value stored as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

impl<T: JsonShape> KvValue for Json<T> {
    const FORMAT: ValueFormat = ValueFormat::Json(T::SHAPE);
    fn encode(&self) -> Result<String, ValueError> {
        serde_json::to_string(&self.0).map_err(|e| ValueError {
            expected: T::SHAPE.into(),
            found: e.to_string(),
        })
    }
    fn decode(raw: &str) -> Result<Self, ValueError> {
        serde_json::from_str(raw).map(Json).map_err(|e| ValueError {
            expected: format!("JSON {} ({e})", T::SHAPE),
            found: ValueError::new(Self::FORMAT, raw).found,
        })
    }
}

/// A JSON object whose fields are defined by the family's owning worker.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

impl JsonShape for JsonObject {
    const SHAPE: &'static str = "object";
}

/// A JSON array whose items are defined by the family's owning worker.
pub type JsonArray = Vec<serde_json::Value>;

impl JsonShape for JsonArray {
    const SHAPE: &'static str = "array";
}

impl JsonShape for platform_core::settings::Resolved {
    const SHAPE: &'static str = "`{settings, problems}`";
}

impl JsonShape for platform_core::budgets::BudgetsDocument {
    const SHAPE: &'static str = "`BudgetsDocument`";
}

impl JsonShape for platform_core::MetricLimits {
    const SHAPE: &'static str = "`{metric: limit}`";
}

impl JsonShape for platform_core::services::ScriptMapping {
    const SHAPE: &'static str = "`{project, repository, tier, displayName}` (written whole; read with `tier` and `displayName` optional)";
}

impl JsonShape for platform_core::thresholds::CostAlertThresholds {
    const SHAPE: &'static str =
        "`{thresholds: {service: {warning_pct, high_pct, critical_pct, absolute_max_usd, enabled}}}`";
}

impl JsonShape for platform_core::pricing::PricingInForce {
    const SHAPE: &'static str =
        "`{source, billing_day, catalogue: {version, plan, subscription_usd, prices, daily_limits}}`";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_strict_words() {
        assert_eq!(bool::decode("false"), Ok(false));
        assert!(bool::decode("False").is_err());
        assert_eq!(true.encode().unwrap(), "true");
    }

    #[test]
    fn breaker_signal_reads_like_a_consumer() {
        assert_eq!(BreakerSignal::decode("STOP"), Ok(BreakerSignal::Stop));
        for go in ["GO", "stop", "Stop", "STOP\n", ""] {
            assert_eq!(BreakerSignal::decode(go), Ok(BreakerSignal::Go), "{go:?}");
        }
        assert!(ProjectState::decode("PAUSED").is_err());
        assert_eq!(ProjectState::Paused.encode().unwrap(), "paused");
    }

    #[test]
    fn timestamps_read_both_forms() {
        let at = Timestamp(1_772_460_306_789);
        assert_eq!(at.encode().unwrap(), "2026-03-02T14:05:06.789Z");
        assert_eq!(Timestamp::decode("2026-03-02T14:05:06.789Z"), Ok(at));
        assert_eq!(Timestamp::decode("1772460306789"), Ok(at));
        let err = Timestamp::decode("soon").unwrap_err().to_string();
        assert!(err.contains("ISO 8601") && err.contains("soon"), "{err}");
    }

    #[test]
    fn numbers_refuse_non_finite_values() {
        assert!(f64::NAN.encode().is_err());
        assert!(f64::decode("inf").is_err());
        assert_eq!(i64::decode(" 42 "), Ok(42));
    }

    #[test]
    fn json_errors_name_the_shape() {
        let err = Json::<JsonObject>::decode("[1]").unwrap_err().to_string();
        assert!(err.contains("JSON object"), "{err}");
    }
}

/// Who holds a lock, and until when (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub owner: String,
    pub expires_at: u64,
}

impl JsonShape for LockRecord {
    const SHAPE: &'static str = "`{owner, expires_at}`";
}
