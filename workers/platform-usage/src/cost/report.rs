//! `GET /cost?period=day|month[&at=ISO]`: the estimate so far, the billed actual where the token
//! can read it, the forecast for the period's end and the top contributors.

use std::collections::BTreeMap;

use platform_core::pricing::{billing_unit, round_usd, BillingPeriod};
use platform_core::time::{iso8601, parse_instant};
use platform_core::{EpochMs, Metric, UtcDay};
use serde_json::{json, Value};
use worker::Env;

use super::billing::Account;
use super::{billed, cached_pricing, days, feature_costs, DAY_MS};
use crate::context;
use crate::ingest::{database, metered_store};

/// Contributors listed in `top`.
const TOP: usize = 10;
const UNATTRIBUTED: &str = "(unattributed)";

pub async fn report(env: &Env, period: &str, at: Option<String>, now: EpochMs) -> Result<Value, platform_worker::ApiError> {
    let at = match at.as_deref() {
        None => now,
        Some(raw) => parse_instant(raw).filter(|at| *at <= now).ok_or_else(|| {
            platform_worker::ApiError::bad_request(format!("at={raw:?} is not an ISO 8601 instant in the past"))
        })?,
    };
    let monthly = match period {
        "month" => true,
        "day" => false,
        other => {
            return Err(platform_worker::ApiError::bad_request(format!(
                "period={other:?}: expected day or month"
            )))
        }
    };
    let store = metered_store(env)?;
    let db = database(env)?;
    let budgets = context::budgets(&store).await?;
    let pricing = cached_pricing(&store, &budgets).await;
    let billing = BillingPeriod::containing(at, pricing.billing_day);
    let through = now.min(billing.end);
    let (bill, skipped) = billed(&db, &pricing, billing, through).await?;

    let day = UtcDay::containing(at);
    let (start, end) = if monthly {
        (billing.start, billing.end)
    } else {
        (day.start_ms(), day.next_start_ms())
    };
    let in_range = |d: &UtcDay| d.start_ms() >= start && d.start_ms() < end;
    let usage_usd: f64 = bill.cells.iter().filter(|((d, _, _), _)| in_range(d)).map(|(_, c)| c.usd).sum();
    let (estimate, forecast) = if monthly {
        (bill.estimate_usd(), bill.forecast_usd)
    } else {
        // A day's share of the period's bill; today's so far scaled to the whole day.
        let elapsed = now.clamp(start, end) - start;
        let scale = if elapsed > 0 { DAY_MS as f64 / elapsed as f64 } else { 1.0 };
        (usage_usd, usage_usd * scale.min(24.0))
    };

    let by_day: Vec<Value> = bill
        .sum_by(|(d, _, _)| in_range(d), |(d, _, _)| *d)
        .into_iter()
        .map(|(d, cell)| json!({"date": d.to_string(), "usd": round_usd(cell.usd)}))
        .collect();
    let metrics = bill.sum_by(|(d, _, _)| in_range(d), |(_, metric, _)| *metric);
    let mut products: BTreeMap<&str, (f64, Vec<Value>)> = BTreeMap::new();
    for (metric, cell) in metrics {
        let product = products.entry(metric.product().name()).or_default();
        product.0 += cell.usd;
        product.1.push(json!({
            "metric": metric.name(),
            "unit": billing_unit(metric),
            "quantity": cell.quantity,
            "billable": cell.billable,
            "usd": round_usd(cell.usd),
        }));
    }
    let mut by_product: Vec<(&str, f64, Vec<Value>)> =
        products.into_iter().map(|(name, (usd, lines))| (name, usd, lines)).collect();
    by_product.sort_by(|a, b| b.1.total_cmp(&a.1));
    let by_product: Vec<Value> = by_product
        .into_iter()
        .map(|(product, usd, metrics)| json!({"product": product, "usd": round_usd(usd), "metrics": metrics}))
        .collect();
    let mut projects: Vec<(String, f64)> = bill
        .sum_by(|(d, _, _)| in_range(d), |(_, _, project)| project.clone())
        .into_iter()
        .map(|(project, cell)| (project.unwrap_or_else(|| UNATTRIBUTED.to_owned()), cell.usd))
        .filter(|(_, usd)| *usd > 0.0)
        .collect();
    projects.sort_by(|a, b| b.1.total_cmp(&a.1));
    let features = feature_costs(&db, &pricing, &days(start, through.min(end))).await?;
    let top = |list: Vec<(String, f64)>, name: &str| -> Vec<Value> {
        list.into_iter()
            .take(TOP)
            .map(|(id, usd)| json!({name: id, "usd": round_usd(usd)}))
            .collect()
    };

    let (actual, actual_note) = actual(env, start, through.min(end)).await;
    let budget = if monthly { &budgets.account.monthly } else { &budgets.account.daily };
    Ok(json!({
        "period": {"kind": period, "start": iso8601(start), "end": iso8601(end)},
        "through": iso8601(through.min(end)),
        "estimate_usd": round_usd(estimate),
        "actual_usd": actual.map(round_usd),
        "actual_note": actual_note,
        "forecast_usd": round_usd(forecast),
        "basis": if actual.is_some() { "billing" } else { "estimate" },
        "subscription_usd": if monthly { bill.subscription_usd } else { 0.0 },
        "by_day": by_day,
        "by_product": by_product,
        "top": {"projects": top(projects, "project"), "features": top(features, "feature")},
        "budget_usd": budget.get(Metric::CostUsd),
        "plan": pricing.catalogue.plan,
        "plan_source": pricing.source,
        "billing_period": {"start": iso8601(billing.start), "end": iso8601(billing.end)},
        "catalogue_version": pricing.catalogue.version,
        "notes": {
            "estimate_usd": "estimate: the account's collected usage at list prices, allowances netted over the billing period",
            "forecast_usd": "estimate: the period's end at the pace so far",
            "actual_usd": "billing-authoritative: Cloudflare's billable-usage API, when the token can read it",
            "features": "estimate: telemetry usage at overage rates plus reported external costs",
        },
        "skipped_rows": skipped.len(),
    }))
}

/// The billed cost from the billable-usage API, or why it is not shown.
async fn actual(env: &Env, start: EpochMs, through: EpochMs) -> (Option<f64>, Option<String>) {
    let account = match Account::from_env(env) {
        Ok(Some(account)) => account,
        Ok(None) => {
            let note = format!("{} and {} are not set", super::API_TOKEN, super::ACCOUNT_ID);
            return (None, Some(note));
        }
        Err(reason) => return (None, Some(reason)),
    };
    let last = UtcDay::containing(through.saturating_sub(1).max(start));
    match account.billed(UtcDay::containing(start), last).await {
        Ok(usd) => (Some(usd), None),
        Err(reason) => {
            worker::console_warn!("billed cost not read: {reason}");
            (None, Some(reason))
        }
    }
}
