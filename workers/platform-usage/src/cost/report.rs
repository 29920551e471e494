//! `GET /cost?period=day|month[&at=ISO]`: the estimate so far, the billed actual where the token
//! can read it, the forecast for the period's end and the top contributors.

use platform_core::account::Product;
use platform_core::pricing::{billing_unit, round_usd, BillingPeriod};
use platform_core::time::iso8601;
use platform_core::{EpochMs, Metric, UtcDay};
use serde_json::{json, Value};
use worker::Env;

use super::billing::Account;
use super::{billed, cached_pricing, days, feature_costs, largest_first, DAY_MS};
use crate::context;
use crate::ingest::{database, metered_store};

const UNATTRIBUTED: &str = "(unattributed)";

pub async fn report(
    env: &Env,
    period: &str,
    at: Option<String>,
    now: EpochMs,
) -> Result<Value, platform_worker::ApiError> {
    let at = match at.as_deref() {
        None => now,
        // A day of the period to report: its end, or now for today.
        Some(raw) => UtcDay::parse(raw)
            .map(|day| now.min(day.next_start_ms() - 1))
            .ok_or_else(|| {
                platform_worker::ApiError::bad_request(format!("at={raw:?} is not a UTC day YYYY-MM-DD"))
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
    let (bill, _, skipped) = billed(&db, &pricing, billing, billing.start, through).await?;

    let day = UtcDay::containing(at);
    let (start, end) = if monthly {
        (billing.start, billing.end)
    } else {
        (day.start_ms(), day.next_start_ms())
    };
    let in_range = |d: &UtcDay| d.start_ms() >= start && d.start_ms() < end;
    let usage_usd: f64 = bill
        .cells
        .iter()
        .filter(|((d, _, _), _)| in_range(d))
        .map(|(_, c)| c.usd)
        .sum();
    let (estimate, forecast) = if monthly {
        (bill.estimate_usd(), bill.forecast_usd)
    } else {
        // A day's share of the period's bill; today's so far scaled to the whole day.
        let elapsed = now.clamp(start, end) - start;
        let scale = if elapsed > 0 {
            DAY_MS as f64 / elapsed as f64
        } else {
            1.0
        };
        (usage_usd, usage_usd * scale.min(24.0))
    };

    let by_day: Vec<Value> = bill
        .sum_by(|(d, _, _)| in_range(d), |(d, _, _)| *d)
        .into_iter()
        .map(|(d, cell)| json!({"date": d.to_string(), "usd": round_usd(cell.usd)}))
        .collect();
    let metrics = bill.sum_by(|(d, _, _)| in_range(d), |(_, metric, _)| *metric);
    // Products in catalogue order, each with its metrics.
    let by_product: Vec<Value> = Product::ALL
        .iter()
        .filter_map(|product| {
            let mine = || metrics.iter().filter(|(metric, _)| metric.product() == *product);
            let lines: Vec<Value> = mine()
                .map(|(metric, cell)| {
                    json!({"metric": metric.name(), "unit": billing_unit(*metric), "quantity": cell.quantity,
                           "billable": cell.billable, "usd": round_usd(cell.usd)})
                })
                .collect();
            let usd: f64 = mine().map(|(_, c)| c.usd).sum();
            (!lines.is_empty())
                .then(|| json!({"product": product.name(), "usd": round_usd(usd), "metrics": lines}))
        })
        .collect();
    let projects = largest_first(
        bill.sum_by(|(d, _, _)| in_range(d), |(_, _, project)| project.clone())
            .into_iter()
            .map(|(project, cell)| (project.unwrap_or_else(|| UNATTRIBUTED.to_owned()), cell.usd))
            .collect(),
    );
    let features = feature_costs(&db, &pricing, &days(start, through.min(end))).await?;
    let top = |list: Vec<(String, f64)>, name: &str| -> Vec<Value> {
        list.into_iter()
            .map(|(id, usd)| json!({name: id, "usd": round_usd(usd)}))
            .collect()
    };

    let (actual, actual_note) = actual(env, start, through.min(end)).await;
    let budget = if monthly {
        &budgets.account.monthly
    } else {
        &budgets.account.daily
    };
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
        "skipped_rows": skipped,
    }))
}

/// The billed cost from the billable-usage API, or why it is not shown.
async fn actual(env: &Env, start: EpochMs, through: EpochMs) -> (Option<f64>, Option<String>) {
    let account = match Account::from_env(env) {
        Ok(Some(account)) => account,
        Ok(None) => {
            let note = format!("{} is not set", crate::cloudflare::TOKEN);
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
