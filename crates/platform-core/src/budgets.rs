//! The normalised budgets document sync-config writes to `CONFIG:BUDGETS`. platform-usage reads its
//! project limits from it; the feature limits it enforces come from each feature's own keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::feature::ProjectId;
use crate::limits::MetricLimits;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetsDocument {
    /// Limits on a project's accumulated usage, over all its features.
    #[serde(default)]
    pub projects: BTreeMap<ProjectId, PeriodLimits>,
}

/// Limits per budget period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodLimits {
    #[serde(default)]
    pub daily: MetricLimits,
    #[serde(default)]
    pub monthly: MetricLimits,
}
