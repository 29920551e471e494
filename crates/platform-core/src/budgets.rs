//! The normalised budgets document sync-config writes to `CONFIG:BUDGETS`: budgets.yaml parsed,
//! typed and sorted (numbers with `_` separators resolved), not merged. platform-usage reads its
//! project limits from it; the feature limits it enforces come from each feature's own keys
//! (`CONFIG:FEATURE:{key}:BUDGET`, the defaults merged with the feature's overrides).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::feature::{FeatureKey, ProjectId};
use crate::limits::MetricLimits;
use crate::pricing::PricingConfig;
use crate::thresholds::{CostService, ServiceThresholdOverride};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetsDocument {
    /// Limits on a project's accumulated usage, over all its features.
    #[serde(default)]
    pub projects: BTreeMap<ProjectId, PeriodLimits>,
    /// What every guarded feature gets unless it overrides it.
    #[serde(default)]
    pub defaults: Defaults,
    /// Per-feature overrides, merged metric by metric over the defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<FeatureKey, PeriodLimits>,
    #[serde(default)]
    pub alerts: AlertSettings,
    /// The sentinel's per-service cost thresholds, as stated (each merged over the service's
    /// defaults in `alert-thresholds:config`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cost_thresholds: BTreeMap<CostService, ServiceThresholdOverride>,
    /// The whole account's dollar budgets (`cost_usd` only), against its estimated bill.
    #[serde(default, skip_serializing_if = "PeriodLimits::is_empty")]
    pub account: PeriodLimits,
    /// The plan and prices assumed where the Cloudflare API cannot say, and price overrides.
    #[serde(default, skip_serializing_if = "PricingConfig::is_default")]
    pub pricing: PricingConfig,
}

/// Limits per budget period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodLimits {
    #[serde(default)]
    pub daily: MetricLimits,
    #[serde(default)]
    pub monthly: MetricLimits,
}

impl PeriodLimits {
    pub fn is_empty(&self) -> bool {
        self.daily.is_empty() && self.monthly.is_empty()
    }
}

impl PricingConfig {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The defaults section: limits, warning thresholds and breaker timings. A setting left out is
/// not written, so the platform's default applies (`platform_core::settings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defaults {
    #[serde(default)]
    pub daily: MetricLimits,
    #[serde(default)]
    pub monthly: MetricLimits,
    /// Percentages of a budget at which a warning is sent (`budget_warning_thresholds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_thresholds: Option<Vec<u8>>,
    #[serde(default)]
    pub circuit_breaker: BreakerTimings,
}

/// Breaker timings. There is no auto-reset delay: a daily trip ends at the next UTC day and a
/// monthly trip at the next UTC month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerTimings {
    /// `cb_cooldown_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_seconds: Option<u64>,
    /// `cb_max_consecutive_trips`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_trips: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertSettings {
    /// Estimated spend in USD of the billing period past which the cost guard warns once
    /// (`budget_soft_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_limit_usd: Option<f64>,
}

impl BudgetsDocument {
    /// A feature's effective limits: the defaults with its overrides merged over them.
    pub fn feature_limits(&self, feature: &FeatureKey) -> PeriodLimits {
        let none = PeriodLimits::default();
        let overrides = self.features.get(feature).unwrap_or(&none);
        PeriodLimits {
            daily: self.defaults.daily.merged_with(&overrides.daily),
            monthly: self.defaults.monthly.merged_with(&overrides.monthly),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limit;
    use crate::metric::Metric;

    fn limits(pairs: &[(Metric, u64)]) -> MetricLimits {
        MetricLimits(pairs.iter().map(|(m, n)| (*m, Limit(*n))).collect())
    }

    #[test]
    fn overrides_merge_over_defaults_metric_by_metric() {
        let feature = FeatureKey::parse("app:api:main").unwrap();
        let other = FeatureKey::parse("app:api:other").unwrap();
        let mut document = BudgetsDocument::default();
        document.defaults.daily = limits(&[(Metric::D1Writes, 100), (Metric::KvReads, 50)]);
        document.defaults.monthly = limits(&[(Metric::D1Writes, 3000)]);
        document.features.insert(
            feature.clone(),
            PeriodLimits {
                daily: limits(&[(Metric::D1Writes, 500), (Metric::CpuMs, 7)]),
                monthly: MetricLimits::default(),
            },
        );
        let merged = document.feature_limits(&feature);
        assert_eq!(
            merged.daily,
            limits(&[(Metric::D1Writes, 500), (Metric::KvReads, 50), (Metric::CpuMs, 7)])
        );
        assert_eq!(merged.monthly, document.defaults.monthly);
        assert_eq!(document.feature_limits(&other).daily, document.defaults.daily);
    }

    #[test]
    fn a_document_with_only_projects_still_reads() {
        let document: BudgetsDocument =
            serde_json::from_str(r#"{"projects":{"app":{"daily":{"d1_writes":"1_000"}}}}"#).unwrap();
        let app = ProjectId::parse("app").unwrap();
        assert_eq!(document.projects[&app].daily.get(Metric::D1Writes), Some(1000));
        assert_eq!(document.defaults, Defaults::default());
    }
}
