//! Budget limits: metric → maximum per period, as written to `CONFIG:FEATURE:{key}:BUDGET`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::metric::Metric;

/// Limits per metric for one period (a day or a month).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MetricLimits(pub BTreeMap<Metric, Limit>);

impl MetricLimits {
    pub fn get(&self, metric: Metric) -> Option<u64> {
        self.0.get(&metric).map(|limit| limit.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These limits with `overrides` merged over them: a metric the overrides name takes their
    /// limit, every other metric keeps this one.
    pub fn merged_with(&self, overrides: &MetricLimits) -> MetricLimits {
        let mut merged = self.0.clone();
        merged.extend(overrides.0.iter().map(|(metric, limit)| (*metric, *limit)));
        MetricLimits(merged)
    }
}

/// One limit: a whole number of 0 or more. Read from a JSON number or from a string with `_`
/// separators (`"1_000"`), because YAML 1.2 tools emit both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Limit(pub u64);

/// The largest limit a config may set: far beyond any real budget, and exact as a JSON number
/// (below 2^53), so `1e30` or `2^64` are refused as mistakes instead of meaning "unlimited".
pub const MAX_LIMIT: u64 = 1_000_000_000_000_000;

/// Why a limit past [`MAX_LIMIT`] is refused.
pub fn too_large(number: f64) -> String {
    format!("{number:e} is more than the largest limit, 1e15")
}

impl Limit {
    /// This limit, if it is at most [`MAX_LIMIT`].
    pub fn bounded(self) -> Result<Self, String> {
        if self.0 > MAX_LIMIT {
            return Err(too_large(self.0 as f64));
        }
        Ok(self)
    }

    /// Parses `1000`, `1_000` or `1000.0`; refuses negative, fractional and non-numeric text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits: String = text.trim().chars().filter(|c| *c != '_').collect();
        if let Ok(whole) = digits.parse::<u64>() {
            return Ok(Limit(whole));
        }
        match digits.parse::<f64>() {
            Ok(number) => Self::from_f64(number),
            Err(_) => Err(format!("{text:?} is not a number")),
        }
    }

    pub fn from_f64(number: f64) -> Result<Self, String> {
        if !number.is_finite() || number < 0.0 {
            return Err(format!("{number} is not a limit of 0 or more"));
        }
        if number.fract() != 0.0 {
            return Err(format!("{number} is not a whole number"));
        }
        // Exact: whole, non-negative and (being an f64) at most 2^1024; clamp beyond u64.
        Ok(Limit(if number >= u64::MAX as f64 {
            u64::MAX
        } else {
            number as u64
        }))
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LimitVisitor;
        impl Visitor<'_> for LimitVisitor {
            type Value = Limit;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of 0 or more, or a string such as \"1_000\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Limit, E> {
                Ok(Limit(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limit, E> {
                u64::try_from(v)
                    .map(Limit)
                    .map_err(|_| E::custom(format!("{v} is negative")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Limit, E> {
                Limit::from_f64(v).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Limit, E> {
                Limit::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(LimitVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_and_underscored_strings() {
        let limits: MetricLimits =
            serde_json::from_str(r#"{"d1_writes": "1_000", "kv_reads": 5000, "cpu_ms": 2.0}"#).unwrap();
        assert_eq!(limits.get(Metric::D1Writes), Some(1000));
        assert_eq!(limits.get(Metric::KvReads), Some(5000));
        assert_eq!(limits.get(Metric::CpuMs), Some(2));
        assert_eq!(
            serde_json::to_string(&limits).unwrap(),
            r#"{"d1_writes":1000,"kv_reads":5000,"cpu_ms":2}"#
        );
    }

    #[test]
    fn refuses_bad_limits_with_a_reason() {
        for (json, reason) in [
            (r#"{"d1_writes": -1}"#, "negative"),
            (r#"{"d1_writes": 1.5}"#, "whole"),
            (r#"{"d1_writes": "lots"}"#, "not a number"),
            (r#"{"d1_write": 1}"#, "unknown metric"),
        ] {
            let err = serde_json::from_str::<MetricLimits>(json)
                .unwrap_err()
                .to_string();
            assert!(err.contains(reason), "{json}: {err}");
        }
    }
}
