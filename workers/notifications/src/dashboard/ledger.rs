//! The last 30 days' usage as the ledger counted it (read-only, as the sentinel reads it) and each
//! feature's limits from the keys sync-config writes: the data of the budgets and usage pages.
//! One D1 statement over the month's day rows, summed in SQLite (bounded by the 30 days, not by
//! history), and one bulk KV read of the limits.

use std::collections::BTreeMap;

use platform_core::{FeatureKey, MetricLimits, UtcDay, UtcMonth};
use platform_dashboard::data::{Ledger, Limits};
use platform_db::usage::activity;
use platform_kv::families::{BudgetsConfig, FeatureBudget, FeatureBudgetMonthly};
use platform_kv::{Json, TypedKey};
use platform_worker::ApiError;

use crate::context::Context;

/// Days of usage the pages draw: the last 30, today included.
const DAYS: u64 = 30;
const DAY_MS: u64 = 86_400_000;

pub async fn month(context: &Context, now: u64) -> Result<Ledger, ApiError> {
    let today = UtcDay::containing(now);
    let days: Vec<String> = (0..DAYS)
        .rev()
        .map(|back| UtcDay::containing(now.saturating_sub(back * DAY_MS)).to_string())
        .collect();
    let first = days.first().cloned().unwrap_or_else(|| today.to_string());
    let rows = activity::day_totals(&context.db, &first, &today.to_string()).await?;
    let mut ledger = Ledger {
        today: today.to_string(),
        month: UtcMonth::containing(now).to_string(),
        days,
        ..Ledger::default()
    };
    let mut features: Vec<FeatureKey> = Vec::new();
    for row in rows {
        if !features.contains(&row.feature) {
            features.push(row.feature.clone());
        }
        *ledger
            .usage
            .entry((row.feature.to_string(), row.day, row.metric))
            .or_default() += row.value;
    }
    let keys = features
        .iter()
        .map(|f| Ok((FeatureBudget::key(f)?, FeatureBudgetMonthly::key(f)?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let flat: Vec<&dyn TypedKey<Value = Json<MetricLimits>>> = keys
        .iter()
        .flat_map(|(daily, monthly)| [daily as &dyn TypedKey<Value = _>, monthly as _])
        .collect();
    let mut values = context.store.get_bulk(&flat).await?.into_iter();
    let mut next = || match values.next() {
        Some(Ok(Some(Json(limits)))) => limits.0.iter().map(|(m, l)| (*m, l.0 as f64)).collect(),
        Some(Err(error)) => {
            // Shown as "no limit"; platform-usage does not enforce it either, and says so too.
            worker::console_error!("dashboard: a budget is unreadable: {error}");
            Default::default()
        }
        _ => Default::default(),
    };
    for feature in features {
        let (daily, monthly) = (next(), next());
        ledger.limits.insert(feature.to_string(), (daily, monthly));
    }
    ledger.project_limits = project_limits(context).await;
    Ok(ledger)
}

/// Each project's limits on the total of its features, from the budgets document sync-config
/// wrote (normalised: whole numbers under metric names). Read as plain JSON: a typed decoder of
/// the whole document would cost the wasm more than the dashboard needs of it.
async fn project_limits(context: &Context) -> BTreeMap<String, (Limits, Limits)> {
    let read = match BudgetsConfig::key() {
        Ok(key) => context.store.get_part::<_, _, serde_json::Value>(&key).await,
        Err(error) => Err(error.into()),
    };
    let document = match read {
        Ok(found) => found.unwrap_or_default(),
        Err(error) => {
            // Shown as "no limit", as an unreadable feature budget is.
            worker::console_error!("dashboard: the project budgets are unreadable: {error}");
            return BTreeMap::new();
        }
    };
    let limits = |period: &serde_json::Value| -> Limits {
        period
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(metric, limit)| Some((metric.parse().ok()?, limit.as_f64()?)))
            .collect()
    };
    document["projects"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(project, period)| {
            (
                project.clone(),
                (limits(&period["daily"]), limits(&period["monthly"])),
            )
        })
        .collect()
}
