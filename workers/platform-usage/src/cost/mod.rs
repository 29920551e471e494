//! The account's cost: the pricing in force (plan, billing day, catalogue), the `/cost` answer,
//! and the hourly guard over the account's dollar budgets and the Free plan's daily limits. The
//! arithmetic is platform-core's (`pricing`); this reads and writes what it needs.

mod billing;
mod guard;
mod report;

use platform_core::budgets::BudgetsDocument;
use platform_core::pricing::{BillingPeriod, PricingInForce};
use platform_core::{EpochMs, UtcDay};
use platform_db::account::{hours, DatasetHour};
use platform_db::usage::activity::daily_usage;
use platform_kv::families::PricingCache;
use platform_kv::Json;
use platform_worker::{ApiError, PlatformDb, PlatformStore};

pub use guard::guard;
pub use report::report;

const DAY_MS: EpochMs = 86_400_000;
/// Contributors listed in `/cost`'s `top`.
const TOP: usize = 10;

/// The pricing in force: KV's cached copy, or what budgets.yaml assumes when there is none.
async fn cached_pricing(store: &PlatformStore, budgets: &BudgetsDocument) -> PricingInForce {
    let read = match PricingCache::key() {
        Ok(key) => store.get(&key).await.map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    match read {
        Ok(Some(Json(pricing))) => pricing.reprice(&budgets.pricing),
        Ok(None) => PricingInForce::from_config(&budgets.pricing),
        Err(error) => {
            worker::console_warn!("pricing cache ignored: {error}");
            PricingInForce::from_config(&budgets.pricing)
        }
    }
}

/// The bill of `period` through `through`, and the rows of the hours in `[from, through)` it was
/// made from (`from` at or before the period's start: the period's hours are billed), and how
/// many rows could not be read.
async fn billed(
    db: &PlatformDb,
    pricing: &PricingInForce,
    period: BillingPeriod,
    from: EpochMs,
    through: EpochMs,
) -> Result<(platform_core::pricing::Bill, Vec<DatasetHour>, usize), ApiError> {
    let mut skipped = Vec::new();
    let rows = hours(db, from, through, &mut skipped).await?;
    for row in &skipped {
        worker::console_warn!("account usage row ignored: {row}");
    }
    let lines = rows
        .iter()
        .flat_map(|row| row.lines.iter().map(move |line| (row.hour_at, line)));
    let bill = platform_core::pricing::bill(&pricing.catalogue, period, through, lines);
    Ok((bill, rows, skipped.len()))
}

/// The UTC days from `from` up to (not including) `to`: at most 31 of them.
fn days(from: EpochMs, to: EpochMs) -> Vec<String> {
    let mut days = Vec::new();
    let mut at = UtcDay::containing(from).start_ms();
    while at < to && days.len() < 31 {
        days.push(UtcDay::containing(at).to_string());
        at += DAY_MS;
    }
    days
}

/// Each feature's telemetry-priced cost over `days` (usage at overage rates plus external costs).
async fn feature_costs(
    db: &PlatformDb,
    pricing: &PricingInForce,
    days: &[String],
) -> Result<Vec<(String, f64)>, ApiError> {
    let mut costs: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for usage in daily_usage(db, days).await? {
        *costs.entry(usage.feature.to_string()).or_default() +=
            pricing.catalogue.telemetry_cost(&usage.usage);
    }
    Ok(largest_first(costs.into_iter().collect()))
}

/// The `TOP` largest positive amounts, largest first (a few picks: no sort code).
fn largest_first(mut list: Vec<(String, f64)>) -> Vec<(String, f64)> {
    list.retain(|(_, usd)| *usd > 0.0);
    let mut top = Vec::new();
    while top.len() < TOP && !list.is_empty() {
        let mut best = 0;
        for (i, (_, usd)) in list.iter().enumerate() {
            if *usd > list[best].1 {
                best = i;
            }
        }
        top.push(list.swap_remove(best));
    }
    top
}
