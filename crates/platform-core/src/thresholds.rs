//! The sentinel's per-service cost thresholds (`alert-thresholds:config`): for each billed service,
//! the month's overage in USD that counts as the maximum, and the percentages of it at which a
//! warning, a high and a critical alert are raised. sync-config writes the document from
//! budgets.yaml (each service's stated fields merged over its defaults); the sentinel reads it.

use crate::sorted::CollectSorted;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! services {
    ($($variant:ident => $name:literal, $warning:literal, $high:literal, $critical:literal, $max:literal, $enabled:literal;)*) => {
        /// A billed service the sentinel watches.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum CostService { $(#[serde(rename = $name)] $variant),* }

        impl CostService {
            pub const ALL: &'static [CostService] = &[$(CostService::$variant),*];

            pub const fn name(self) -> &'static str {
                match self { $(CostService::$variant => $name),* }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(CostService::$variant),)* _ => None }
            }

            /// The thresholds that apply when budgets.yaml does not state them.
            pub const fn default_threshold(self) -> ServiceThreshold {
                match self {
                    $(CostService::$variant => ServiceThreshold {
                        warning_pct: $warning,
                        high_pct: $high,
                        critical_pct: $critical,
                        absolute_max_usd: $max,
                        enabled: $enabled,
                    }),*
                }
            }
        }
    };
}

services! {
    Workers => "workers", 50, 75, 90, 5.0, true;
    D1 => "d1", 40, 60, 80, 20.0, true;
    Kv => "kv", 50, 75, 90, 5.0, true;
    R2 => "r2", 50, 75, 90, 20.0, true;
    DurableObjects => "durable_objects", 50, 75, 90, 10.0, true;
    Vectorize => "vectorize", 50, 75, 90, 5.0, true;
    Queues => "queues", 50, 75, 90, 5.0, true;
    Pages => "pages", 50, 75, 90, 5.0, true;
    WorkersAi => "workers_ai", 50, 75, 90, 10.0, true;
    AiGateway => "ai_gateway", 50, 75, 90, 0.0, false;
    Workflows => "workflows", 50, 75, 90, 0.0, false;
}

impl fmt::Display for CostService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One service's thresholds. The percentages are of `absolute_max_usd` and strictly ascending.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServiceThreshold {
    pub warning_pct: u8,
    pub high_pct: u8,
    pub critical_pct: u8,
    pub absolute_max_usd: f64,
    pub enabled: bool,
}

/// What budgets.yaml states for a service; the rest comes from the service's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceThresholdOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_pct: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_pct: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_pct: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_max_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl ServiceThreshold {
    pub fn merged_with(self, overrides: &ServiceThresholdOverride) -> Self {
        Self {
            warning_pct: overrides.warning_pct.unwrap_or(self.warning_pct),
            high_pct: overrides.high_pct.unwrap_or(self.high_pct),
            critical_pct: overrides.critical_pct.unwrap_or(self.critical_pct),
            absolute_max_usd: overrides.absolute_max_usd.unwrap_or(self.absolute_max_usd),
            enabled: overrides.enabled.unwrap_or(self.enabled),
        }
    }

    /// Why the thresholds cannot be used, if they cannot.
    pub fn problem(&self) -> Option<String> {
        let ordered = [
            ("warning_pct", self.warning_pct),
            ("high_pct", self.high_pct),
            ("critical_pct", self.critical_pct),
        ];
        for (name, pct) in ordered {
            if !(1..=100).contains(&pct) {
                return Some(format!("{name} {pct} is not a percentage between 1 and 100"));
            }
        }
        for pair in ordered.windows(2) {
            let ((lower, a), (upper, b)) = (pair[0], pair[1]);
            if a >= b {
                return Some(format!(
                    "thresholds out of order: {lower} ({a}) must be below {upper} ({b})"
                ));
            }
        }
        if !self.absolute_max_usd.is_finite() || self.absolute_max_usd < 0.0 {
            return Some(format!(
                "absolute_max_usd {} is not an amount of 0 or more",
                self.absolute_max_usd
            ));
        }
        None
    }
}

/// The value of `alert-thresholds:config`: every service, defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostAlertThresholds {
    pub thresholds: BTreeMap<CostService, ServiceThreshold>,
}

impl CostAlertThresholds {
    /// Each service's defaults with the stated fields merged over them.
    pub fn resolve(overrides: &BTreeMap<CostService, ServiceThresholdOverride>) -> Self {
        let none = ServiceThresholdOverride::default();
        Self {
            thresholds: CostService::ALL
                .iter()
                .map(|service| {
                    let stated = overrides.get(service).unwrap_or(&none);
                    (*service, service.default_threshold().merged_with(stated))
                })
                .collect_map(),
        }
    }
}

impl Default for CostAlertThresholds {
    fn default() -> Self {
        Self::resolve(&BTreeMap::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_cover_every_service() {
        let defaults = CostAlertThresholds::default();
        assert_eq!(defaults.thresholds.len(), CostService::ALL.len());
        for (service, threshold) in &defaults.thresholds {
            assert_eq!(threshold.problem(), None, "{service}");
            assert_eq!(CostService::parse(service.name()), Some(*service));
        }
    }

    #[test]
    fn stated_fields_merge_over_the_service_defaults() {
        let stated = ServiceThresholdOverride {
            critical_pct: Some(95),
            enabled: Some(false),
            ..Default::default()
        };
        let resolved = CostAlertThresholds::resolve(&BTreeMap::from([(CostService::D1, stated)]));
        let d1 = resolved.thresholds[&CostService::D1];
        assert_eq!((d1.warning_pct, d1.high_pct, d1.critical_pct), (40, 60, 95));
        assert!(!d1.enabled);
        assert_eq!(d1.absolute_max_usd, 20.0);
        assert_eq!(
            serde_json::to_value(&resolved).unwrap()["thresholds"]["durable_objects"]["high_pct"],
            75
        );
    }

    #[test]
    fn thresholds_out_of_order_are_refused() {
        let mut threshold = CostService::Kv.default_threshold();
        threshold.high_pct = 95;
        let problem = threshold.problem().unwrap();
        assert!(
            problem.contains("out of order") && problem.contains("high_pct (95)"),
            "{problem}"
        );
        threshold.high_pct = 0;
        assert!(threshold.problem().unwrap().contains("between 1 and 100"));
    }
}
