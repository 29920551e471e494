//! The hourly cost guard: refreshes the pricing in force, bills the period so far and says, once
//! per period each, when the account reaches a warning threshold or the whole of a dollar budget,
//! when the month-end forecast exceeds the monthly budget, and when the Free plan's daily limits
//! come near. Where budgets.yaml asks for it, the projects using a Free limit up are paused at
//! the limit and resumed below a lower mark (`recover_pct`): no flapping around the line. A
//! project's dollar budget counts the account's own usage attributed to it beside its telemetry
//! (`Catalogue::budget_cost`); the queue consumer sees only telemetry, so what the account's usage
//! adds is decided here, hourly.

use platform_core::alert::AlertSubject;
use std::collections::{BTreeMap, BTreeSet};

use platform_core::breaker::{Level, ProjectAssessment, ProjectBreaker};
use platform_core::budget::{format_amount, Overrun, Period};
use platform_core::budgets::BudgetsDocument;
use platform_core::pricing::{Bill, BillingPeriod, Catalogue, PricingInForce, ProductCosts};
use platform_core::sorted::CollectSorted;
use platform_core::time::iso8601;
use platform_core::usage::MetricTotals;
use platform_core::{EpochMs, Metric, ProjectId, UtcDay};
use platform_db::usage::activity::project_totals;
use platform_db::usage::admin::project_breaker;
use platform_db::usage::ledger::Transaction;
use platform_db::usage::sweep::open_breakers;
use platform_kv::families::PricingCache;
use platform_kv::Json;
use platform_worker::alerts::{self, Alert};
use platform_worker::{ApiError, PlatformStore};
use serde::Serialize;
use worker::Env;

use super::billed;
use super::billing::Account;
use crate::context;
use crate::decide::{Event, Plan};
use crate::ingest::{self, database, metered_store};

/// Subjects name their period: an alert raised again within this window is not sent twice.
const ONCE_PER_PERIOD_MS: EpochMs = 40 * 86_400_000;
/// What a guard pause says first, so the guard knows the pauses it may lift.
const FREE_PAUSE: &str = "Free plan limit";
const DEFAULT_RECOVER_PCT: u8 = 90;

#[derive(Debug, Default, Serialize)]
pub struct GuardReport {
    pub event: &'static str,
    pub plan: platform_core::pricing::Plan,
    pub plan_source: String,
    pub estimate_usd: f64,
    pub forecast_usd: f64,
    pub alerts_raised: usize,
    pub projects_paused: usize,
    pub projects_resumed: usize,
    pub pricing_written: bool,
    /// `account_usage` rows the run read: a row per dataset and hour of the period so far.
    pub rows_read: usize,
}

pub async fn guard(env: &Env, at: EpochMs) -> Result<GuardReport, ApiError> {
    let store = metered_store(env)?;
    let db = database(env)?;
    let budgets = context::budgets(&store).await?;
    let settings = context::settings(&store, &db).await?.settings;
    let thresholds = &settings.budget_warning_thresholds;
    let (pricing, pricing_written) = refresh_pricing(env, &store, &budgets).await;
    let period = BillingPeriod::containing(at, pricing.billing_day);
    // Project budgets run by UTC month, which a billing period need not start with.
    let month = UtcDay::containing(at).month();
    let from = period.start.min(month.start_ms());
    let (bill, rows, _) = billed(&db, &pricing, period, from, at).await?;

    let mut candidates = account_alerts(&budgets, &bill, at, thresholds);
    candidates.extend(soft_limit(settings.budget_soft_limit, &bill));
    let paused: Vec<(ProjectId, ProjectBreaker)> = open_breakers(&db)
        .await?
        .projects
        .into_iter()
        .map(|row| (row.project, row.breaker))
        .collect();
    let free = free_limits(&pricing, &budgets, &bill, at, thresholds, &paused);
    candidates.extend(free.alerts);
    let mut plan = free.plan;

    let budgeted = cost_budgeted(&budgets);
    if !budgeted.is_empty() {
        let day = UtcDay::containing(at);
        let telemetry = project_totals(&db, &budgeted, &[&day.to_string(), &month.to_string()]).await?;
        let lines = || {
            rows.iter()
                .flat_map(|row| row.lines.iter().map(move |line| (row.hour_at, line)))
        };
        let month_hours = ((month.next_start_ms() - month.start_ms()) / 3_600_000) as f64;
        let catalogue = &pricing.catalogue;
        let account = (
            catalogue.account_costs(day.start_ms(), at, month_hours, lines()),
            catalogue.account_costs(month.start_ms(), at, month_hours, lines()),
        );
        let verdicts = project_budgets(catalogue, &budgets, at, thresholds, &telemetry, &account);
        for (project, verdict) in verdicts {
            match verdict {
                Verdict::Warn(alert) => candidates.push(alert),
                Verdict::Pause(assessment) => {
                    if plan.project_changes.iter().any(|(p, _)| *p == project) {
                        continue;
                    }
                    // Manual pauses and an operator's resume are left alone (`assess`).
                    let current = project_breaker(&db, &project).await?;
                    let Some(mut breaker) = current.assess(&assessment, at) else {
                        continue;
                    };
                    // The queue consumer, seeing only telemetry, must not lift it: the sweep does,
                    // when the period ends.
                    breaker.exempt_until = breaker.auto_reset_at;
                    let reason = breaker.reason.clone().unwrap_or_default();
                    change(&mut plan, project, breaker, "paused", reason);
                }
            }
        }
    }

    let mut report = GuardReport {
        event: "cost_guard",
        plan: pricing.plan,
        plan_source: pricing.source.clone(),
        estimate_usd: bill.estimate_usd(),
        forecast_usd: bill.forecast_usd,
        pricing_written,
        rows_read: rows.len(),
        ..GuardReport::default()
    };
    for alert in &candidates {
        if alerts::raise(&db, alert, ONCE_PER_PERIOD_MS, at).await? {
            report.alerts_raised += 1;
        }
    }
    if !plan.project_changes.is_empty() {
        let mut tx = Transaction::new(at);
        ingest::record(&mut tx, &plan);
        tx.commit(&db, "recording the cost guard's pauses").await?;
        ingest::publish(&store, &plan).await;
        for (_, breaker) in &plan.project_changes {
            if breaker.level == Level::Paused {
                report.projects_paused += 1;
            } else {
                report.projects_resumed += 1;
            }
        }
    }
    Ok(report)
}

/// The plan and billing day from the subscriptions API when the token can read it, else from
/// budgets.yaml; KV is rewritten only when they changed. Returns whether it was.
async fn refresh_pricing(
    env: &Env,
    store: &PlatformStore,
    budgets: &BudgetsDocument,
) -> (PricingInForce, bool) {
    let config = &budgets.pricing;
    let from_api = match Account::from_env(env) {
        Ok(Some(account)) => match account.subscription().await {
            Ok(found) => {
                let day = found.billing_day.and_then(|d| u8::try_from(d).ok());
                Some(PricingInForce::new(
                    "subscriptions",
                    found.plan,
                    day.or(config.billing_day),
                    config,
                ))
            }
            Err(reason) => {
                worker::console_warn!(
                    "plan not read from the subscriptions API ({reason}); budgets.yaml's applies"
                );
                None
            }
        },
        Ok(None) => None,
        Err(reason) => {
            worker::console_warn!("{reason}; budgets.yaml's plan applies");
            None
        }
    };
    let pricing = from_api.unwrap_or_else(|| PricingInForce::from_config(config));
    let written = match PricingCache::key() {
        Ok(key) => {
            let cached = store.get(&key).await.ok().flatten();
            if cached.map(|Json(p)| p.reprice(config)).as_ref() == Some(&pricing) {
                false
            } else if let Err(error) = store.put(&key, &Json(pricing.clone())).await {
                worker::console_warn!("pricing cache not written: {error}");
                false
            } else {
                true
            }
        }
        Err(error) => {
            worker::console_warn!("pricing cache not written: {error}");
            false
        }
    };
    (pricing, written)
}

fn cost_alert(subject: String, text: String) -> Alert {
    Alert {
        subject: AlertSubject::Cost { subject },
        text,
    }
}

/// The highest threshold of `limit` that `value` reached (100 once it is reached), if any.
fn reached(value: f64, limit: f64, thresholds: &[u8]) -> Option<u8> {
    if value <= 0.0 {
        return None;
    }
    if value >= limit {
        return Some(100);
    }
    thresholds
        .iter()
        .copied()
        .filter(|t| value >= limit * f64::from(*t) / 100.0)
        .max()
}

/// The account's dollar budgets against the estimate: today's share of the bill against the
/// daily budget, the period so far (and its forecast) against the monthly one.
pub fn account_alerts(budgets: &BudgetsDocument, bill: &Bill, at: EpochMs, thresholds: &[u8]) -> Vec<Alert> {
    let mut alerts = Vec::new();
    let today = UtcDay::containing(at);
    let period_id = UtcDay::containing(bill.period.start).to_string();
    let today_usd: f64 = bill
        .cells
        .iter()
        .filter(|((d, _, _), _)| *d == today)
        .map(|(_, c)| c.usd)
        .sum();
    let checks = [
        (
            "daily",
            today.to_string(),
            budgets.account.daily.get(Metric::CostUsd),
            today_usd,
        ),
        (
            "monthly",
            period_id.clone(),
            budgets.account.monthly.get(Metric::CostUsd),
            bill.estimate_usd(),
        ),
    ];
    for (kind, id, budget, usd) in checks {
        let Some(budget) = budget else { continue };
        let Some(threshold) = reached(usd, budget as f64, thresholds) else {
            continue;
        };
        let what = if threshold == 100 {
            format!(":rotating_light: the account's {kind} cost budget is spent")
        } else {
            format!(":warning: the account's {kind} cost budget is at {threshold}%")
        };
        alerts.push(cost_alert(
            format!("account:{kind}:{id}:{threshold}"),
            format!("{what}: ${usd:.2} of ${budget} (estimate, {kind} period from {id})"),
        ));
    }
    if let Some(budget) = budgets.account.monthly.get(Metric::CostUsd) {
        if bill.forecast_usd > budget as f64 {
            alerts.push(cost_alert(
                format!("account:forecast:{period_id}"),
                format!(
                    ":crystal_ball: month-end forecast ${:.2} exceeds the ${budget} budget (estimate at the pace so far; the billing period ends {})",
                    bill.forecast_usd,
                    iso8601(bill.period.end)
                ),
            ));
        }
    }
    alerts
}

/// budgets.yaml's `soft_limit_usd` (setting `budget_soft_limit`): a warning, once per billing
/// period, when the estimate so far passes it; below the monthly budget, it warns before it.
pub fn soft_limit(limit_usd: f64, bill: &Bill) -> Option<Alert> {
    let usd = bill.estimate_usd();
    (limit_usd > 0.0 && usd >= limit_usd).then(|| {
        let period_id = UtcDay::containing(bill.period.start);
        cost_alert(
            format!("account:soft-limit:{period_id}"),
            format!(
                ":warning: the account's spend passed its soft limit: ${usd:.2} of ${} (estimate, billing period from {period_id})",
                format_amount(limit_usd)
            ),
        )
    })
}

/// The projects with a dollar budget.
fn cost_budgeted(budgets: &BudgetsDocument) -> BTreeSet<ProjectId> {
    budgets
        .projects
        .iter()
        .filter(|(_, l)| l.daily.get(Metric::CostUsd).is_some() || l.monthly.get(Metric::CostUsd).is_some())
        .map(|(project, _)| project.clone())
        .collect_set()
}

/// The account's own usage per project, priced per product (`Catalogue::account_costs`).
pub type AccountCosts = Vec<(String, ProductCosts)>;

/// What a project's dollar budget calls for once the account's own usage is counted.
#[derive(Debug)]
pub enum Verdict {
    /// At the limit: paused until the period ends (unless it already is, or an operator decided).
    Pause(ProjectAssessment),
    /// At the lowest warning threshold only because of the account's usage (telemetry alone
    /// would leave the queue consumer silent): said once per period.
    Warn(Alert),
}

/// Each dollar-budgeted project's cost today and this UTC month, its telemetry (`telemetry`, by
/// project and period id) and the account's usage attributed to it (`account`: today's, the
/// month's) counted by `Catalogue::budget_cost`, against its `cost_usd` limits.
pub fn project_budgets(
    catalogue: &Catalogue,
    budgets: &BudgetsDocument,
    at: EpochMs,
    thresholds: &[u8],
    telemetry: &BTreeMap<(ProjectId, String), MetricTotals>,
    account: &(AccountCosts, AccountCosts),
) -> Vec<(ProjectId, Verdict)> {
    let day = UtcDay::containing(at);
    let lowest = f64::from(thresholds.iter().copied().min().unwrap_or(100)) / 100.0;
    let none = ProductCosts::default();
    let empty = MetricTotals::new();
    let mut out = Vec::new();
    for (project, limits) in &budgets.projects {
        // The month first: a monthly pause outlasts a daily one.
        let periods = [
            (
                Period::Month(day.month()),
                limits.monthly.get(Metric::CostUsd),
                &account.1,
            ),
            (Period::Day(day), limits.daily.get(Metric::CostUsd), &account.0),
        ];
        let mut verdict = None;
        for (period, limit, account) in periods {
            let Some(limit) = limit else { continue };
            let reported = telemetry.get(&(project.clone(), period.id())).unwrap_or(&empty);
            let seen = account
                .iter()
                .find(|(p, _)| p == project.as_str())
                .map_or(&none, |(_, costs)| costs);
            let usd = catalogue.budget_cost(reported, seen);
            let telemetry_usd = catalogue.telemetry_cost(reported);
            let limit_usd = limit as f64;
            if usd > 0.0 && usd >= limit_usd {
                let overrun = Overrun {
                    metric: Metric::CostUsd,
                    value: usd,
                    limit,
                    period,
                };
                verdict = Some(Verdict::Pause(ProjectAssessment {
                    level: Level::Paused,
                    reason: Some(format!(
                        "{} with the account's own usage (estimate)",
                        overrun.reason()
                    )),
                    period: Some(period),
                }));
                break;
            }
            let mark = limit_usd * lowest;
            if verdict.is_none() && usd > 0.0 && usd >= mark && telemetry_usd < mark {
                verdict = Some(Verdict::Warn(cost_alert(
                    format!("project:{project}:{}", period.id()),
                    format!(
                        ":warning: project {project}'s {} cost budget is at {}% with the account's own usage: ${usd:.2} of ${limit} (estimate, {})",
                        period.kind(),
                        (usd / limit_usd * 100.0).floor(),
                        period.id()
                    ),
                )));
            }
        }
        if let Some(verdict) = verdict {
            out.push((project.clone(), verdict));
        }
    }
    out
}

/// What the Free plan's daily limits call for.
#[derive(Debug, Default)]
pub struct FreeLimits {
    pub alerts: Vec<Alert>,
    pub plan: Plan,
}

/// Usage of the Free plan's daily limits today: a warning from the lowest threshold, an alert at
/// the limit, and (with `stop_at_limit`) the projects that used it paused until the account's
/// usage of every limit is back under `recover_pct`.
pub fn free_limits(
    pricing: &PricingInForce,
    budgets: &BudgetsDocument,
    bill: &Bill,
    at: EpochMs,
    thresholds: &[u8],
    paused: &[(ProjectId, ProjectBreaker)],
) -> FreeLimits {
    let mut out = FreeLimits::default();
    let limits = &pricing.catalogue.daily_limits;
    if limits.is_empty() {
        return out;
    }
    let today = UtcDay::containing(at);
    let used = bill.sum_by(|(d, _, _)| *d == today, |(_, metric, _)| *metric);
    let by_project = bill.sum_by(
        |(d, _, _)| *d == today,
        |(_, metric, project)| (*metric, project.clone()),
    );
    let config = &budgets.pricing;
    let recover = f64::from(config.recover_pct.unwrap_or(DEFAULT_RECOVER_PCT)) / 100.0;
    let mut to_pause: Vec<(ProjectId, String)> = Vec::new();
    let mut all_recovered = true;
    for (metric, limit) in limits {
        let amount = used
            .iter()
            .find(|(m, _)| m == metric)
            .map_or(0.0, |(_, c)| c.quantity);
        if amount >= limit * recover {
            all_recovered = false;
        }
        let Some(threshold) = reached(amount, *limit, thresholds) else {
            continue;
        };
        let figure = format!(
            "{metric} = {} of {} per day ({today})",
            format_amount(amount.round()),
            format_amount(*limit)
        );
        let text = if threshold == 100 {
            let reason = format!("{FREE_PAUSE} reached: {figure}");
            if config.stop_at_limit {
                for ((m, project), cell) in &by_project {
                    let project = project.as_deref().and_then(|p| ProjectId::parse(p).ok());
                    if let (true, Some(project)) = (m == metric && cell.quantity > 0.0, project) {
                        if !to_pause.iter().any(|(p, _)| *p == project) {
                            to_pause.push((project, reason.clone()));
                        }
                    }
                }
            }
            format!(":rotating_light: {reason}; Cloudflare refuses more until 00:00 UTC")
        } else {
            format!(
                ":warning: {FREE_PAUSE} at {threshold}%: {figure}; past it Cloudflare refuses the requests"
            )
        };
        out.alerts
            .push(cost_alert(format!("free:{metric}:{today}:{threshold}"), text));
    }
    for (project, reason) in to_pause {
        if paused
            .iter()
            .any(|(p, b)| *p == project && b.level == Level::Paused)
        {
            continue;
        }
        let breaker = ProjectBreaker {
            level: Level::Paused,
            manual: false,
            reason: Some(reason.clone()),
            since: Some(at),
            auto_reset_at: None,
            // The budget evaluation of telemetry leaves the pause alone; the guard lifts it.
            exempt_until: Some(today.next_start_ms()),
        };
        change(&mut out.plan, project, breaker, "paused", reason);
    }
    if all_recovered {
        for (project, breaker) in paused {
            let ours = !breaker.manual
                && breaker
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with(FREE_PAUSE));
            if ours && breaker.level == Level::Paused {
                let resumed = ProjectBreaker {
                    since: Some(at),
                    ..ProjectBreaker::default()
                };
                let reason = format!(
                    "every Free plan limit is back under {}%",
                    (recover * 100.0).round()
                );
                change(&mut out.plan, project.clone(), resumed, "active", reason);
            }
        }
    }
    out
}

fn change(plan: &mut Plan, project: ProjectId, breaker: ProjectBreaker, level: &'static str, reason: String) {
    plan.events.push(Event {
        scope: "project",
        subject: project.to_string(),
        event: level,
        reason: Some(reason.clone()),
    });
    plan.alerts.push(Alert {
        subject: AlertSubject::Project {
            project: project.clone(),
            level,
        },
        text: format!(":vertical_traffic_light: project {project} is now {level}: {reason}"),
    });
    plan.project_changes.push((project, breaker));
}

#[cfg(test)]
mod tests {
    use platform_core::account::{AccountMetric, UsageLine};
    use platform_core::pricing::{bill, Plan, PricingConfig};
    use platform_core::time::parse_instant;
    use platform_core::{Limit, MetricLimits};

    use super::*;

    const HOUR: EpochMs = 3_600_000;

    fn at(iso: &str) -> EpochMs {
        parse_instant(iso).unwrap()
    }

    fn free(stop: bool) -> (PricingInForce, BudgetsDocument) {
        let budgets = BudgetsDocument {
            pricing: PricingConfig {
                plan: Some(Plan::Free),
                stop_at_limit: stop,
                ..PricingConfig::default()
            },
            ..BudgetsDocument::default()
        };
        (PricingInForce::from_config(&budgets.pricing), budgets)
    }

    fn kv_writes(pricing: &PricingInForce, now: EpochMs, by_project: &[(&str, f64)]) -> Bill {
        let lines: Vec<UsageLine> = by_project
            .iter()
            .map(|(p, n)| UsageLine::new(AccountMetric::KvWrites, "ns", Some(p), *n).unwrap())
            .collect();
        let hour = now - now % HOUR - HOUR;
        let period = BillingPeriod::containing(now, 1);
        bill(&pricing.catalogue, period, now, lines.iter().map(|l| (hour, l)))
    }

    #[test]
    fn a_free_limit_warns_before_it_and_pauses_the_projects_at_it() {
        let (pricing, budgets) = free(true);
        let now = at("2026-03-02T12:30:00Z");
        let near = kv_writes(&pricing, now, &[("a", 600.0), ("b", 150.0)]);
        let out = free_limits(&pricing, &budgets, &near, now, &[70, 90], &[]);
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].subject.to_string(), "free:kv.writes:2026-03-02:70");
        assert!(out.plan.project_changes.is_empty());

        let over = kv_writes(&pricing, now, &[("a", 900.0), ("b", 150.0)]);
        let out = free_limits(&pricing, &budgets, &over, now, &[70, 90], &[]);
        assert!(
            out.alerts[0].text.contains("kv.writes = 1050 of 1000 per day"),
            "{}",
            out.alerts[0].text
        );
        let paused = out.plan.project_changes;
        assert_eq!(paused.len(), 2);
        // Still above the recover mark: nothing changes, nothing is paused twice.
        let again = free_limits(&pricing, &budgets, &over, now + HOUR, &[70, 90], &paused);
        assert!(again.plan.project_changes.is_empty());
        // Under the limit but above 90 %: still paused (hysteresis).
        let between = kv_writes(&pricing, now, &[("a", 950.0)]);
        assert!(free_limits(&pricing, &budgets, &between, now, &[70, 90], &paused)
            .plan
            .project_changes
            .is_empty());
        // The next day, usage starts again from nothing: both resume.
        let tomorrow = at("2026-03-03T01:30:00Z");
        let quiet = kv_writes(&pricing, tomorrow, &[("a", 10.0)]);
        let out = free_limits(&pricing, &budgets, &quiet, tomorrow, &[70, 90], &paused);
        assert_eq!(out.plan.project_changes.len(), 2);
        assert!(out
            .plan
            .project_changes
            .iter()
            .all(|(_, b)| b.level == Level::Active));
    }

    #[test]
    fn the_accounts_own_usage_counts_toward_a_project_dollar_budget() {
        let project = ProjectId::parse("shop").unwrap();
        let mut budgets = BudgetsDocument::default();
        budgets.projects.insert(
            project.clone(),
            platform_core::budgets::PeriodLimits {
                daily: MetricLimits([(Metric::CostUsd, Limit(10))].into()),
                ..Default::default()
            },
        );
        let pricing = PricingInForce::from_config(&PricingConfig::default());
        let now = at("2026-03-02T12:30:00Z");
        let hour = at("2026-03-02T11:00:00Z");
        let day = "2026-03-02".to_owned();
        let costs = |writes: f64| {
            let line = UsageLine::new(AccountMetric::KvWrites, "ns", Some("shop"), writes).unwrap();
            let lines = [(hour, &line)];
            let today = pricing.catalogue.account_costs(hour, now, 744.0, lines);
            (today.clone(), today)
        };
        // Telemetry saw 0.4 M KV writes ($2); the account saw 1.5 M ($7.50): a warning, from the
        // account's figure only, not $9.50.
        let telemetry: BTreeMap<(ProjectId, String), MetricTotals> = [(
            (project.clone(), day.clone()),
            [(Metric::KvWrites, 400_000.0)].into(),
        )]
        .into();
        let out = project_budgets(
            &pricing.catalogue,
            &budgets,
            now,
            &[70, 90],
            &telemetry,
            &costs(1.5e6),
        );
        let [(_, Verdict::Warn(alert))] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(alert.subject.to_string(), "project:shop:2026-03-02");
        assert!(alert.text.contains("$7.50 of $10"), "{}", alert.text);
        // 2.2 M writes by the account: $11, paused until the day ends.
        let out = project_budgets(
            &pricing.catalogue,
            &budgets,
            now,
            &[70, 90],
            &telemetry,
            &costs(2.2e6),
        );
        let [(_, Verdict::Pause(assessment))] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(assessment.period, Some(Period::Day(UtcDay::containing(now))));
        assert!(
            assessment
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("cost_usd = 11"),
            "{assessment:?}"
        );
        // Nothing from the account and little telemetry: nothing to say.
        let quiet = project_budgets(
            &pricing.catalogue,
            &budgets,
            now,
            &[70, 90],
            &telemetry,
            &(vec![], vec![]),
        );
        assert!(quiet.is_empty(), "{quiet:?}");
    }

    #[test]
    fn the_soft_limit_warns_once_the_estimate_passes_it() {
        let pricing = PricingInForce::from_config(&PricingConfig::default());
        let now = at("2026-03-02T12:30:00Z");
        // 3 M KV writes: $10 + $5 subscription.
        let bill = kv_writes(&pricing, now, &[("a", 3_000_000.0)]);
        assert!(soft_limit(20.0, &bill).is_none());
        let alert = soft_limit(15.0, &bill).unwrap();
        assert_eq!(alert.subject.to_string(), "account:soft-limit:2026-03-01");
        assert!(alert.text.contains("$15.00 of $15"), "{}", alert.text);
        assert!(soft_limit(0.0, &bill).is_none(), "0 turns it off");
    }

    #[test]
    fn without_stop_at_limit_a_free_limit_only_alerts() {
        let (pricing, budgets) = free(false);
        let now = at("2026-03-02T12:30:00Z");
        let over = kv_writes(&pricing, now, &[("a", 2000.0)]);
        let out = free_limits(&pricing, &budgets, &over, now, &[70, 90], &[]);
        assert_eq!(out.alerts[0].subject.to_string(), "free:kv.writes:2026-03-02:100");
        assert!(out.plan.project_changes.is_empty());
    }

    #[test]
    fn the_account_budget_warns_and_the_forecast_warns_once_per_period() {
        let budgets = BudgetsDocument {
            account: platform_core::budgets::PeriodLimits {
                monthly: MetricLimits([(Metric::CostUsd, Limit(20))].into()),
                ..Default::default()
            },
            ..BudgetsDocument::default()
        };
        let pricing = PricingInForce::from_config(&PricingConfig::default());
        // 3 M KV writes by the 2nd: $10 of overage plus the $5 subscription = 75 % of $20.
        let now = at("2026-03-02T12:30:00Z");
        let so_far = kv_writes(&pricing, now, &[("a", 3_000_000.0)]);
        let alerts = account_alerts(&budgets, &so_far, now, &[70, 90]);
        let subjects: Vec<String> = alerts.iter().map(|a| a.subject.to_string()).collect();
        assert_eq!(
            subjects,
            ["account:monthly:2026-03-01:70", "account:forecast:2026-03-01"]
        );
        assert!(
            alerts[1].text.contains("exceeds the $20 budget"),
            "{}",
            alerts[1].text
        );
    }
}
