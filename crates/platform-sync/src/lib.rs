//! What the sync-config worker and the operator's command line share: the state a validated
//! config derives and the plan that brings the platform to it ([`state`]). No runtime here, so
//! `platform config plan` offline plans exactly what the worker would.

pub mod state;

pub use state::{Desired, KvPlan, Plan};

/// The plan for a platform on which nothing has been applied yet: every derived key and row is
/// added. What `POST /sync?dry_run=1` answers on a fresh platform.
pub fn plan_from_nothing(
    config: &platform_core::config::Config,
) -> Result<(Desired, Plan), state::DeriveError> {
    let desired = Desired::of(config)?;
    let plan = Plan {
        kv: KvPlan::new(&desired, &Default::default()),
        d1: state::D1Plan::new(&state::DesiredRows::of(config), &Default::default()),
    };
    Ok((desired, plan))
}

/// Counts describing a config and its plan, recorded with each version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub projects: usize,
    pub scripts: usize,
    pub features: usize,
    pub guarded_features: usize,
    pub kv_keys: usize,
    pub kv_put: usize,
    pub kv_delete: usize,
    pub kv_unchanged: usize,
    pub d1_changes: usize,
}

impl Summary {
    pub fn of(config: &platform_core::config::Config, desired: &Desired, plan: &Plan) -> Self {
        let services = &config.services;
        Self {
            projects: services.projects.len(),
            scripts: services.projects.values().map(|p| p.scripts.len()).sum(),
            features: services.features().count(),
            guarded_features: config.feature_budgets().count(),
            kv_keys: desired.len(),
            kv_put: plan.kv.put.len(),
            kv_delete: plan.kv.delete.len(),
            kv_unchanged: plan.kv.unchanged.len(),
            d1_changes: plan.d1.changes(),
        }
    }
}
