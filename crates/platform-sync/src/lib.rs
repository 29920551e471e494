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
