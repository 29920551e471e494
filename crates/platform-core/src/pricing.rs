//! The price catalogue and the bill it gives: what each quantity of the account's usage costs on
//! the Workers Paid and Free plans, with each plan's included allowances and Free's daily hard
//! limits, and the arithmetic that turns hours of usage into dollars per day, product, project and
//! metric. Allowances are netted over the billing period, hour by hour in order, so a day's cost is
//! what that day added to the period's bill. Every figure here is an estimate from list prices;
//! only Cloudflare's billable-usage API is authoritative.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::account::{AccountMetric, Aggregation, Product, Unit, UsageLine};
use crate::metric::Metric;
use crate::time::{EpochMs, UtcDay, UtcMonth};
use crate::usage::MetricTotals;

/// The catalogue's version: the price pages it was taken from (newest found, 2026).
pub const CATALOGUE_VERSION: &str = "2026-05";

const HOUR_MS: EpochMs = 3_600_000;
const DAY_MS: EpochMs = 86_400_000;
const M: f64 = 1_000_000.0;

/// The account's Workers plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    #[default]
    Paid,
    Free,
}

/// When an allowance renews.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Renewal {
    /// Once per billing period.
    #[default]
    Period,
    /// Every UTC day (Workers AI's 10,000 neurons).
    Day,
}

/// The price of one metric, in its billing unit ([`billing_unit`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Price {
    /// Billing units included before anything is charged.
    pub included: f64,
    /// USD for every `per` billing units beyond the allowance.
    pub usd: f64,
    pub per: f64,
    pub renews: Renewal,
    /// Another metric whose allowance this one draws from (Workflows requests count as Workers
    /// requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<AccountMetric>,
}

impl Price {
    const fn new(included: f64, usd: f64, per: f64) -> Self {
        Self {
            included,
            usd,
            per,
            renews: Renewal::Period,
            pool: None,
        }
    }

    /// USD per billing unit.
    pub fn rate(&self) -> f64 {
        if self.per > 0.0 {
            self.usd / self.per
        } else {
            0.0
        }
    }
}

/// What a metric is billed in: stored levels are billed as an average over the month.
pub fn billing_unit(metric: AccountMetric) -> &'static str {
    match (metric.aggregation(), metric.unit()) {
        (Aggregation::Level, Unit::Bytes) => "GB-month",
        (Aggregation::Level, _) => "dimension-month",
        (Aggregation::Sum, unit) => unit.name(),
    }
}

/// A price table in force: a plan's prices, with any overrides from budgets.yaml applied. Small
/// tables searched in order (a few dozen metrics): no map code in the wasm workers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Catalogue {
    pub version: String,
    pub plan: Plan,
    /// The plan's monthly subscription (Workers Paid's $5 minimum).
    pub subscription_usd: f64,
    /// Metrics without a price are not billed (errors, subrequests, D1 queries, Hyperdrive).
    pub prices: Vec<(AccountMetric, Price)>,
    /// Hard limits per UTC day: past them the platform errors (the Free plan).
    pub daily_limits: Vec<(AccountMetric, f64)>,
}

use AccountMetric as A;

/// Workers Paid: included allowances and overage prices.
const PAID: &[(AccountMetric, Price)] = &[
    (A::WorkersRequests, Price::new(10.0 * M, 0.30, M)),
    (A::WorkersCpuMs, Price::new(30.0 * M, 0.02, M)),
    (A::KvReads, Price::new(10.0 * M, 0.50, M)),
    (A::KvWrites, Price::new(M, 5.00, M)),
    (A::KvDeletes, Price::new(M, 5.00, M)),
    (A::KvLists, Price::new(M, 5.00, M)),
    (A::KvStoredBytes, Price::new(1.0, 0.50, 1.0)),
    (A::D1RowsRead, Price::new(25_000.0 * M, 0.001, M)),
    (A::D1RowsWritten, Price::new(50.0 * M, 1.00, M)),
    (A::D1StoredBytes, Price::new(5.0, 0.75, 1.0)),
    (A::R2ClassA, Price::new(M, 4.50, M)),
    (A::R2ClassB, Price::new(10.0 * M, 0.36, M)),
    (A::R2StoredBytes, Price::new(10.0, 0.015, 1.0)),
    (A::DoRequests, Price::new(M, 0.15, M)),
    (A::DoGbSeconds, Price::new(400_000.0, 12.50, M)),
    (A::DoRowsRead, Price::new(25_000.0 * M, 0.001, M)),
    (A::DoRowsWritten, Price::new(50.0 * M, 1.00, M)),
    (A::DoStoredBytes, Price::new(5.0, 0.20, 1.0)),
    (A::QueueOperations, Price::new(M, 0.40, M)),
    (
        A::AiNeurons,
        Price {
            renews: Renewal::Day,
            ..Price::new(10_000.0, 0.011, 1000.0)
        },
    ),
    (A::VectorizeQueriedDimensions, Price::new(50.0 * M, 0.01, M)),
    (
        A::VectorizeStoredDimensions,
        Price::new(10.0 * M, 0.05, 100.0 * M),
    ),
    (A::AnalyticsEngineDataPoints, Price::new(10.0 * M, 0.25, M)),
    (
        A::WorkflowsRequests,
        Price {
            pool: Some(A::WorkersRequests),
            ..Price::new(10.0 * M, 0.30, M)
        },
    ),
    (
        A::WorkflowsCpuMs,
        Price {
            pool: Some(A::WorkersCpuMs),
            ..Price::new(30.0 * M, 0.02, M)
        },
    ),
    (A::WorkflowsStoredBytes, Price::new(1.0, 0.20, 1.0)),
    (A::ImagesTransformations, Price::new(5_000.0, 0.50, 1000.0)),
];

/// The Free plan's daily hard limits.
const FREE_DAILY: &[(AccountMetric, f64)] = &[
    (A::WorkersRequests, 100_000.0),
    (A::KvReads, 100_000.0),
    (A::KvWrites, 1_000.0),
    (A::KvDeletes, 1_000.0),
    (A::KvLists, 1_000.0),
    (A::D1RowsRead, 5.0 * M),
    (A::D1RowsWritten, 100_000.0),
    (A::DoRequests, 100_000.0),
    (A::DoGbSeconds, 13_000.0),
    (A::DoRowsRead, 5.0 * M),
    (A::DoRowsWritten, 100_000.0),
    (A::QueueOperations, 10_000.0),
    (A::AiNeurons, 10_000.0),
    (A::HyperdriveQueries, 100_000.0),
    (A::AnalyticsEngineDataPoints, 100_000.0),
];

impl Catalogue {
    /// The list prices of `plan`. On Free, usage past a limit errors rather than costs, so only
    /// R2 (billed on every plan past its free tier) has a price.
    pub fn standard(plan: Plan) -> Self {
        let prices = PAID
            .iter()
            .filter(|(metric, _)| plan == Plan::Paid || metric.product() == Product::R2)
            .copied()
            .collect();
        let daily_limits = match plan {
            Plan::Paid => Vec::new(),
            Plan::Free => FREE_DAILY.to_vec(),
        };
        Self {
            version: CATALOGUE_VERSION.to_owned(),
            plan,
            subscription_usd: if plan == Plan::Paid { 5.0 } else { 0.0 },
            prices,
            daily_limits,
        }
    }

    /// `plan`'s prices with `overrides` applied field by field.
    pub fn configured(plan: Plan, overrides: &PricingConfig) -> Self {
        let mut catalogue = Self::standard(plan);
        for change in &overrides.prices {
            let at = match catalogue.prices.iter().position(|(m, _)| *m == change.metric) {
                Some(at) => at,
                None => {
                    catalogue.prices.push((change.metric, Price::new(0.0, 0.0, 1.0)));
                    catalogue.prices.len() - 1
                }
            };
            let price = &mut catalogue.prices[at].1;
            price.included = change.included.unwrap_or(price.included);
            price.usd = change.usd.unwrap_or(price.usd);
            price.per = change.per.unwrap_or(price.per);
        }
        if plan == Plan::Free {
            for (metric, limit) in &overrides.daily_limits {
                catalogue.daily_limits.retain(|(m, _)| m != metric);
                catalogue.daily_limits.push((*metric, *limit));
            }
        }
        catalogue
    }

    /// The price of `metric`, if it is billed.
    pub fn price(&self, metric: AccountMetric) -> Option<&Price> {
        self.prices
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, price)| price)
    }

    /// The daily hard limit of `metric`, if the plan has one.
    pub fn daily_limit(&self, metric: AccountMetric) -> Option<f64> {
        self.daily_limits
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, limit)| *limit)
    }

    /// The account metric a telemetry metric is billed as, and how many of its units one counts
    /// for; `None` for what is not billed (or is priced through another metric).
    pub fn telemetry_metric(metric: Metric) -> Option<(AccountMetric, f64)> {
        Some(match metric {
            Metric::Requests => (A::WorkersRequests, 1.0),
            Metric::WorkflowInvocations => (A::WorkflowsRequests, 1.0),
            Metric::CpuMs => (A::WorkersCpuMs, 1.0),
            // D1 bills rows: the SDK's reads and writes count rows.
            Metric::D1Reads | Metric::D1RowsRead => (A::D1RowsRead, 1.0),
            Metric::D1Writes | Metric::D1RowsWritten => (A::D1RowsWritten, 1.0),
            Metric::KvReads => (A::KvReads, 1.0),
            Metric::KvWrites => (A::KvWrites, 1.0),
            Metric::KvDeletes => (A::KvDeletes, 1.0),
            Metric::KvLists => (A::KvLists, 1.0),
            Metric::R2ClassA => (A::R2ClassA, 1.0),
            Metric::R2ClassB => (A::R2ClassB, 1.0),
            Metric::AiNeurons => (A::AiNeurons, 1.0),
            // Billed per dimension, which telemetry does not report: a floor of one dimension.
            Metric::VectorizeQueries => (A::VectorizeQueriedDimensions, 1.0),
            Metric::VectorizeInserts => (A::VectorizeStoredDimensions, 1.0),
            // About three operations (write, read, delete) per message.
            Metric::QueueMessages => (A::QueueOperations, 3.0),
            Metric::DoRequests => (A::DoRequests, 1.0),
            Metric::DoGbSeconds => (A::DoGbSeconds, 1.0),
            // Priced by neurons; not billed; derived from the others; passed through as it is.
            Metric::AiRequests | Metric::Errors | Metric::CostUsd | Metric::ExternalCostUsd => return None,
        })
    }

    /// USD per unit of a telemetry metric, at the overage rate: a feature's share of usage is
    /// priced as if the account's allowances were spent (an estimate, never the bill).
    pub fn telemetry_rate(&self, metric: Metric) -> f64 {
        if metric == Metric::ExternalCostUsd {
            return 1.0;
        }
        Self::telemetry_metric(metric).map_or(0.0, |(account, units)| {
            units * self.price(account).map_or(0.0, Price::rate)
        })
    }

    /// The estimated USD of a feature's or project's totals: its usage at overage rates plus the
    /// external costs it reported.
    pub fn telemetry_cost(&self, totals: &MetricTotals) -> f64 {
        totals
            .iter()
            .map(|(metric, amount)| self.telemetry_rate(*metric) * amount.max(0.0))
            .sum()
    }

    /// What a project's dollar budget counts: per product, the larger of what its telemetry and
    /// the account's own usage attributed to it cost at overage rates, plus the external costs it
    /// reported. Two measures of the same usage, so each product is counted once, by the one that
    /// saw more: an application without the SDK is still seen by the account, and telemetry of
    /// an hour not yet collected still counts.
    pub fn budget_cost(&self, telemetry: &MetricTotals, account: &ProductCosts) -> f64 {
        let mut seen = ProductCosts::default();
        let mut external = 0.0;
        for (metric, amount) in telemetry {
            if *metric == Metric::ExternalCostUsd {
                external += amount.max(0.0);
            } else if let Some((account_metric, _)) = Self::telemetry_metric(*metric) {
                seen.0[account_metric.product() as usize] += self.telemetry_rate(*metric) * amount.max(0.0);
            }
        }
        let usage: f64 = seen.0.iter().zip(&account.0).map(|(t, a)| t.max(*a)).sum();
        usage + external
    }

    /// The account's own usage per project in `[from, to)`, priced at overage rates per product
    /// (as telemetry is, see [`Self::budget_cost`]): sums as they are, stored levels as their
    /// share of a month of `month_hours` hours. Unattributed usage belongs to no project.
    pub fn account_costs<'a>(
        &self,
        from: EpochMs,
        to: EpochMs,
        month_hours: f64,
        hours: impl IntoIterator<Item = (EpochMs, &'a UsageLine)>,
    ) -> Vec<(String, ProductCosts)> {
        let mut out: Vec<(String, ProductCosts)> = Vec::new();
        for (at, line) in hours {
            let (Some(project), true) = (&line.project, at >= from && at < to) else {
                continue;
            };
            let Some(price) = self.price(line.metric) else {
                continue;
            };
            let quantity = billing_quantity(line, month_hours);
            let i = match out.iter().position(|(p, _)| p == project) {
                Some(i) => i,
                None => {
                    out.push((project.clone(), ProductCosts::default()));
                    out.len() - 1
                }
            };
            out[i].1 .0[line.metric.product() as usize] += quantity * price.rate();
        }
        out
    }
}

/// USD per product, indexed by [`Product`]'s declaration order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProductCosts(pub [f64; Product::ALL.len()]);

impl ProductCosts {
    pub fn total(&self) -> f64 {
        self.0.iter().sum()
    }
}

/// A line's quantity in its billing unit: stored levels held one hour of a `period_hours` period.
fn billing_quantity(line: &UsageLine, period_hours: f64) -> f64 {
    match (line.metric.aggregation(), line.metric.unit()) {
        (Aggregation::Sum, _) => line.amount,
        (Aggregation::Level, Unit::Bytes) => line.amount / 1e9 / period_hours,
        (Aggregation::Level, _) => line.amount / period_hours,
    }
}

/// budgets.yaml's `pricing` section: what the platform assumes when the Cloudflare API cannot say,
/// and prices that differ from the list (a contract, a new price).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PricingConfig {
    /// The plan, when the subscriptions API cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// The day of the month (1-28) the billing period starts, when the API cannot say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_day: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<PriceOverride>,
    /// Free plan limits per UTC day that differ from the catalogue's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub daily_limits: Vec<(AccountMetric, f64)>,
    /// Pause the projects that use a Free plan daily limit up, until their usage is back under
    /// `recover_pct` of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_at_limit: bool,
    /// Percentage of a limit under which paused projects resume (default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_pct: Option<u8>,
}

/// Fields of a metric's price that budgets.yaml changes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriceOverride {
    pub metric: AccountMetric,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<f64>,
}

impl Serialize for AccountMetric {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for AccountMetric {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        AccountMetric::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown account metric {name:?} (e.g. kv.writes)"))
        })
    }
}

/// The pricing in force, as cached in KV: the plan (and where it was learnt), the day billing
/// periods start, and the catalogue with budgets.yaml's overrides applied. The catalogue is
/// written for readers; a reader rebuilds it from the plan and budgets.yaml ([`Self::reprice`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricingInForce {
    /// `subscriptions` (the Cloudflare API said) or `budgets.yaml` (assumed from config).
    pub source: String,
    pub plan: Plan,
    pub billing_day: u8,
    #[serde(skip_deserializing)]
    pub catalogue: Catalogue,
}

impl PricingInForce {
    /// What budgets.yaml assumes: its plan (Paid by default) and billing day (the 1st).
    pub fn from_config(config: &PricingConfig) -> Self {
        Self::new(
            "budgets.yaml",
            config.plan.unwrap_or_default(),
            config.billing_day,
            config,
        )
    }

    pub fn new(source: &str, plan: Plan, billing_day: Option<u8>, config: &PricingConfig) -> Self {
        Self {
            source: source.to_owned(),
            plan,
            billing_day: billing_day.unwrap_or(1).clamp(1, 28),
            catalogue: Catalogue::configured(plan, config),
        }
    }

    /// The same plan and billing day, with the catalogue rebuilt from `config`.
    pub fn reprice(mut self, config: &PricingConfig) -> Self {
        self.billing_day = self.billing_day.clamp(1, 28);
        self.catalogue = Catalogue::configured(self.plan, config);
        self
    }
}

/// A billing period: `[start, end)` in epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BillingPeriod {
    pub start: EpochMs,
    pub end: EpochMs,
}

impl BillingPeriod {
    /// The monthly period containing `at` that starts on day `anchor` (1-28) at 00:00 UTC.
    pub fn containing(at: EpochMs, anchor: u8) -> Self {
        let offset = u64::from(anchor.clamp(1, 28) - 1) * DAY_MS;
        let month = UtcMonth::containing(at);
        let mut start = month.start_ms() + offset;
        let mut end = month.next_start_ms() + offset;
        if at < start {
            end = start;
            start = UtcMonth::containing(month.start_ms().saturating_sub(1)).start_ms() + offset;
        }
        Self { start, end }
    }

    pub fn hours(self) -> f64 {
        (self.end.saturating_sub(self.start) / HOUR_MS).max(1) as f64
    }
}

/// One cell of a bill: a metric's usage and cost of one project on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cell {
    /// In the metric's billing unit.
    pub quantity: f64,
    /// The part beyond the allowance.
    pub billable: f64,
    pub usd: f64,
}

type CellKey = (UtcDay, AccountMetric, Option<String>);

/// The estimated bill of a billing period up to `through`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub period: BillingPeriod,
    pub through: EpochMs,
    pub subscription_usd: f64,
    pub cells: BTreeMap<CellKey, Cell>,
    /// The whole period's expected bill, at the pace so far.
    pub forecast_usd: f64,
}

/// Metrics indexed by their declaration order.
const METRICS: usize = AccountMetric::ALL.len();

fn index(metric: AccountMetric) -> usize {
    metric as usize
}

/// Bills the hours of usage in `period` before `through`. `hours` come oldest first (as the
/// ledger reads them); lines outside the period or of metrics without a price cost nothing but
/// are still counted.
pub fn bill<'a>(
    catalogue: &Catalogue,
    period: BillingPeriod,
    through: EpochMs,
    hours: impl IntoIterator<Item = (EpochMs, &'a UsageLine)>,
) -> Bill {
    let through = through.clamp(period.start, period.end);
    let period_hours = period.hours();
    let quantity = |line: &UsageLine| billing_quantity(line, period_hours);
    // Per metric: its price, and the pool whose allowance it draws from.
    let prices: Vec<Option<(Price, usize)>> = AccountMetric::ALL
        .iter()
        .map(|m| catalogue.price(*m).map(|p| (*p, index(p.pool.unwrap_or(*m)))))
        .collect();
    let mut used = [0.0; METRICS];
    let mut latest = [(0, 0.0); METRICS];
    let mut cells: BTreeMap<CellKey, Cell> = BTreeMap::new();
    let mut current_day = None;
    let lines: Vec<(EpochMs, &UsageLine)> = hours
        .into_iter()
        .filter(|(at, _)| *at >= period.start && *at < through)
        .collect();
    for group in lines.chunk_by(|a, b| a.0 == b.0) {
        let at = group[0].0;
        let day = UtcDay::containing(at);
        if current_day != Some(day) {
            // Daily allowances start again.
            for (i, price) in prices.iter().enumerate() {
                if price.is_some_and(|(p, _)| p.renews == Renewal::Day) {
                    used[i] = 0.0;
                }
            }
            current_day = Some(day);
        }
        // The hour's quantity per allowance pool, then the share of it beyond the allowance.
        let mut added = [0.0; METRICS];
        for (_, line) in group {
            let q = quantity(line);
            if let Some((_, pool)) = prices[index(line.metric)] {
                added[pool] += q;
            }
            let last = &mut latest[index(line.metric)];
            if last.0 != at {
                *last = (at, 0.0);
            }
            last.1 += q;
        }
        let mut share = [0.0; METRICS];
        for pool in 0..METRICS {
            if added[pool] > 0.0 {
                let included = prices[pool].map_or(0.0, |(p, _)| p.included);
                let before = used[pool];
                let over = (before + added[pool] - included).max(0.0) - (before - included).max(0.0);
                used[pool] += added[pool];
                share[pool] = over / added[pool];
            }
        }
        for (_, line) in group {
            let cell = cells.entry((day, line.metric, line.project.clone())).or_default();
            let q = quantity(line);
            cell.quantity += q;
            if let Some((price, pool)) = prices[index(line.metric)] {
                cell.billable += q * share[pool];
                cell.usd += q * share[pool] * price.rate();
            }
        }
    }
    let forecast_usd = forecast(catalogue, &prices, period, through, &cells, &latest);
    Bill {
        period,
        through,
        subscription_usd: catalogue.subscription_usd,
        cells,
        forecast_usd,
    }
}

/// The period's bill if usage goes on at its pace so far: flows scaled to the whole period,
/// levels held at their latest hour, daily allowances scaled by cost.
fn forecast(
    catalogue: &Catalogue,
    prices: &[Option<(Price, usize)>],
    period: BillingPeriod,
    through: EpochMs,
    cells: &BTreeMap<CellKey, Cell>,
    latest: &[(EpochMs, f64); METRICS],
) -> f64 {
    let spent: f64 = cells.values().map(|c| c.usd).sum();
    let elapsed_hours = (through.saturating_sub(period.start) / HOUR_MS) as f64;
    if through >= period.end || elapsed_hours < 1.0 {
        return catalogue.subscription_usd + spent;
    }
    let remaining_hours = period.hours() - elapsed_hours;
    let scale = period.hours() / elapsed_hours;
    // Projected quantity and the rate-weighted quantity per pool.
    let mut quantity = [0.0; METRICS];
    let mut weighted = [0.0; METRICS];
    let mut daily = 0.0;
    let mut project = |metric: AccountMetric, projected: f64| {
        if let Some((price, pool)) = prices[index(metric)] {
            quantity[pool] += projected;
            weighted[pool] += projected * price.rate();
        }
    };
    for ((_, metric, _), cell) in cells {
        match prices[index(*metric)] {
            None => {}
            Some((price, _)) if price.renews == Renewal::Day => daily += cell.usd * scale,
            Some(_) if metric.aggregation() == Aggregation::Level => project(*metric, cell.quantity),
            Some(_) => project(*metric, cell.quantity * scale),
        }
    }
    for metric in AccountMetric::ALL {
        if metric.aggregation() == Aggregation::Level {
            project(*metric, latest[index(*metric)].1 * remaining_hours);
        }
    }
    let overage: f64 = (0..METRICS)
        .filter(|pool| quantity[*pool] > 0.0)
        .map(|pool| {
            let included = prices[pool].map_or(0.0, |(p, _)| p.included);
            (quantity[pool] - included).max(0.0) * weighted[pool] / quantity[pool]
        })
        .sum();
    catalogue.subscription_usd + overage + daily
}

impl Bill {
    /// The estimate so far: subscription and usage.
    pub fn estimate_usd(&self) -> f64 {
        self.subscription_usd + self.cells.values().map(|c| c.usd).sum::<f64>()
    }

    /// The cells `keep` selects, added up per `key`, in the order keys first appear (cells are
    /// ordered by day, metric, project). Few keys: a list, not a map.
    pub fn sum_by<K: PartialEq>(
        &self,
        keep: impl Fn(&CellKey) -> bool,
        key: impl Fn(&CellKey) -> K,
    ) -> Vec<(K, Cell)> {
        let mut out: Vec<(K, Cell)> = Vec::new();
        for (k, cell) in self.cells.iter().filter(|(k, _)| keep(k)) {
            let k = key(k);
            let at = match out.iter().position(|(seen, _)| *seen == k) {
                Some(at) => at,
                None => {
                    out.push((k, Cell::default()));
                    out.len() - 1
                }
            };
            let total = &mut out[at].1;
            total.quantity += cell.quantity;
            total.billable += cell.billable;
            total.usd += cell.usd;
        }
        out
    }
}

/// Rounds to a tenth of a cent, for answers (sums are kept exact).
pub fn round_usd(usd: f64) -> f64 {
    (usd * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_instant;

    const MARCH: &str = "2026-03-01T00:00:00Z";

    fn at(iso: &str) -> EpochMs {
        parse_instant(iso).unwrap()
    }

    fn march() -> BillingPeriod {
        BillingPeriod::containing(at("2026-03-15T12:00:00Z"), 1)
    }

    fn line(metric: AccountMetric, project: Option<&str>, amount: f64) -> UsageLine {
        UsageLine::new(metric, "r", project, amount).unwrap()
    }

    /// The whole of March billed, each hour's lines as given.
    fn march_bill(plan: Plan, hours: &[(EpochMs, UsageLine)]) -> Bill {
        let period = march();
        bill(
            &Catalogue::standard(plan),
            period,
            period.end,
            hours.iter().map(|(at, line)| (*at, line)),
        )
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 0.005, "{a} vs {b}");
    }

    #[test]
    fn a_billing_period_starts_on_its_anchor_day() {
        let period = BillingPeriod::containing(at("2026-03-10T00:00:00Z"), 15);
        assert_eq!(period.start, at("2026-02-15T00:00:00Z"));
        assert_eq!(period.end, at("2026-03-15T00:00:00Z"));
        assert_eq!(march().start, at(MARCH));
        assert_eq!(march().hours(), 744.0);
    }

    /// Each product's bill by hand: (metric, amount for the month, USD beyond the allowance).
    #[test]
    fn every_priced_product_matches_a_hand_computed_bill() {
        let cases = [
            // 12 M requests: 2 M over 10 M at $0.30/M.
            (A::WorkersRequests, 12.0 * M, 0.60),
            // 40 M CPU-ms: 10 M over 30 M at $0.02/M.
            (A::WorkersCpuMs, 40.0 * M, 0.20),
            (A::KvReads, 14.0 * M, 2.00),
            (A::KvWrites, 3.0 * M, 10.00),
            (A::KvDeletes, 1.5 * M, 2.50),
            (A::KvLists, 1.2 * M, 1.00),
            // 30 B rows read: 5 B over 25 B at $0.001/M.
            (A::D1RowsRead, 30_000.0 * M, 5.00),
            (A::D1RowsWritten, 60.0 * M, 10.00),
            (A::R2ClassA, 2.0 * M, 4.50),
            (A::R2ClassB, 20.0 * M, 3.60),
            (A::DoRequests, 3.0 * M, 0.30),
            // 1.4 M GB-s: 1 M over 400,000 at $12.50/M.
            (A::DoGbSeconds, 1_400_000.0, 12.50),
            (A::QueueOperations, 6.0 * M, 2.00),
            (A::VectorizeQueriedDimensions, 150.0 * M, 1.00),
            (A::AnalyticsEngineDataPoints, 14.0 * M, 1.00),
            (A::ImagesTransformations, 15_000.0, 5.00),
            // Not billed.
            (A::WorkersErrors, 5.0 * M, 0.0),
            (A::HyperdriveQueries, 50.0 * M, 0.0),
        ];
        for (metric, amount, overage) in cases {
            // Spread over two days: the allowance is netted over the period, not per day.
            let half = line(metric, Some("app"), amount / 2.0);
            let bill = march_bill(
                Plan::Paid,
                &[
                    (at("2026-03-02T10:00:00Z"), half.clone()),
                    (at("2026-03-20T10:00:00Z"), half),
                ],
            );
            close(bill.estimate_usd(), 5.0 + overage);
            assert_eq!(
                bill.forecast_usd,
                bill.estimate_usd(),
                "{metric}: a closed period"
            );
        }
    }

    #[test]
    fn the_allowance_boundary_is_free_and_the_next_unit_is_not() {
        let hour = at("2026-03-05T00:00:00Z");
        let bill = march_bill(Plan::Paid, &[(hour, line(A::KvWrites, None, M))]);
        assert_eq!(bill.estimate_usd(), 5.0, "exactly the allowance");
        let bill = march_bill(
            Plan::Paid,
            &[
                (hour, line(A::KvWrites, None, M)),
                (hour + HOUR_MS, line(A::KvWrites, None, 1.0)),
            ],
        );
        close((bill.estimate_usd() - 5.0) * 1e6, 5.0);
        // The day that crossed the allowance carries the cost; earlier usage stays free.
        let by_day = bill.sum_by(|_| true, |(day, _, _)| *day);
        assert!(by_day.iter().all(|(_, c)| c.usd > 0.0));
    }

    #[test]
    fn the_day_that_crosses_the_allowance_pays_and_projects_share_its_hour() {
        let first = at("2026-03-02T08:00:00Z");
        let second = at("2026-03-03T08:00:00Z");
        let bill = march_bill(
            Plan::Paid,
            &[
                (first, line(A::KvWrites, Some("a"), 800_000.0)),
                (second, line(A::KvWrites, Some("a"), 300_000.0)),
                (second, line(A::KvWrites, Some("b"), 300_000.0)),
            ],
        );
        // 1.4 M writes: 0.4 M over at $5/M = $2, all on the 3rd, split evenly by a and b.
        let by_day = bill.sum_by(|_| true, |(day, _, _)| day.to_string());
        assert_eq!(
            (by_day[0].0.as_str(), by_day[1].0.as_str()),
            ("2026-03-02", "2026-03-03")
        );
        close(by_day[0].1.usd, 0.0);
        close(by_day[1].1.usd, 2.0);
        let by_project = bill.sum_by(|_| true, |(_, _, project)| project.clone());
        assert_eq!(by_project.len(), 2);
        close(by_project[0].1.usd, 1.0);
        close(by_project[1].1.usd, 1.0);
    }

    #[test]
    fn storage_is_billed_on_its_average_over_the_month() {
        // 3 GB of KV held all month: 2 GB-month over 1 at $0.50 = $1.00.
        let period = march();
        let hours: Vec<(EpochMs, UsageLine)> = (0..744)
            .map(|h| {
                (
                    period.start + h * HOUR_MS,
                    line(A::KvStoredBytes, Some("app"), 3e9),
                )
            })
            .collect();
        close(march_bill(Plan::Paid, &hours).estimate_usd(), 6.0);
        // Half the month at 3 GB: 1.5 GB-month, 0.5 over: $0.25. R2 at 30 GB-month: 20 × $0.015.
        let mut half: Vec<(EpochMs, UsageLine)> = hours[..372].to_vec();
        half.extend((0..744).map(|h| (period.start + h * HOUR_MS, line(A::R2StoredBytes, None, 30e9))));
        close(march_bill(Plan::Paid, &half).estimate_usd(), 5.0 + 0.25 + 0.30);
    }

    #[test]
    fn workers_ai_nets_its_allowance_each_day() {
        // 15,000 neurons on each of two days: 5,000 over each day at $0.011/1,000.
        let bill = march_bill(
            Plan::Paid,
            &[
                (at("2026-03-02T01:00:00Z"), line(A::AiNeurons, None, 15_000.0)),
                (at("2026-03-03T01:00:00Z"), line(A::AiNeurons, None, 15_000.0)),
            ],
        );
        close(bill.estimate_usd() - 5.0, 0.11);
    }

    #[test]
    fn workflows_draw_from_the_workers_allowance() {
        let hour = at("2026-03-02T01:00:00Z");
        let bill = march_bill(
            Plan::Paid,
            &[
                (hour, line(A::WorkersRequests, None, 8.0 * M)),
                (hour, line(A::WorkflowsRequests, None, 4.0 * M)),
            ],
        );
        close(bill.estimate_usd() - 5.0, 0.60);
    }

    #[test]
    fn the_free_plan_costs_nothing_but_r2_and_has_daily_limits() {
        let hour = at("2026-03-02T01:00:00Z");
        let bill = march_bill(
            Plan::Free,
            &[
                (hour, line(A::KvWrites, None, 5.0 * M)),
                (hour, line(A::R2ClassA, None, 2.0 * M)),
            ],
        );
        close(bill.estimate_usd(), 4.50);
        assert_eq!(
            Catalogue::standard(Plan::Free).daily_limit(A::KvWrites),
            Some(1000.0)
        );
        assert!(Catalogue::standard(Plan::Paid).daily_limits.is_empty());
    }

    #[test]
    fn a_forecast_extrapolates_flows_and_holds_levels() {
        let period = march();
        // 10 days in: 6 M KV writes so far → 18.6 M for 31 days, 17.6 M over at $5/M.
        let through = period.start + 240 * HOUR_MS;
        let usage = line(A::KvWrites, None, 6.0 * M);
        let stored = line(A::KvStoredBytes, None, 2e9);
        let hours: Vec<(EpochMs, &UsageLine)> = std::iter::once((period.start, &usage))
            .chain((0..240).map(|h| (period.start + h * HOUR_MS, &stored)))
            .collect();
        let bill = bill(&Catalogue::standard(Plan::Paid), period, through, hours);
        // Storage held at 2 GB all month: 1 GB-month over, $0.50.
        close(bill.forecast_usd, 5.0 + 17.6 * 5.0 + 0.50);
        close(bill.estimate_usd(), 5.0 + 25.0);
    }

    #[test]
    fn overrides_change_one_field_and_keep_the_rest() {
        let overrides: PricingConfig = serde_json::from_str(
            r#"{"prices":[{"metric":"kv.writes","usd":4}],"daily_limits":[["kv.writes",500]],"plan":"free"}"#,
        )
        .unwrap();
        let paid = Catalogue::configured(Plan::Paid, &overrides);
        assert_eq!(paid.price(A::KvWrites).unwrap().usd, 4.0);
        assert_eq!(paid.price(A::KvWrites).unwrap().included, M);
        let free = Catalogue::configured(Plan::Free, &overrides);
        assert_eq!(free.daily_limit(A::KvWrites), Some(500.0));
        assert!(serde_json::from_str::<PricingConfig>(r#"{"prices":[{"metric":"kv.nope"}]}"#).is_err());
        // The cached pricing keeps its plan and billing day; the catalogue is rebuilt on read.
        let cached = PricingInForce::new("subscriptions", Plan::Free, Some(15), &overrides);
        let text = serde_json::to_string(&cached).unwrap();
        assert!(text.contains(r#""prices":[["#), "{text}");
        let read: PricingInForce = serde_json::from_str(&text).unwrap();
        assert_eq!(read.reprice(&overrides), cached);
    }

    #[test]
    fn a_project_budget_counts_each_product_once_by_the_larger_measure() {
        let paid = Catalogue::standard(Plan::Paid);
        let period = march();
        let day = at("2026-03-02T00:00:00Z");
        // The account saw 2 M KV writes by shop ($10 at $5/M), of which telemetry reported 1 M, and
        // 10 GB of KV held by shop for one hour; telemetry alone reported 1,000 M D1 rows read ($1).
        let writes = line(A::KvWrites, Some("shop"), 2.0 * M);
        let stored = line(A::KvStoredBytes, Some("shop"), 10e9);
        let other = line(A::KvWrites, Some("blog"), 4.0 * M);
        let unattributed = line(A::KvWrites, None, 9.0 * M);
        let hours = [
            (day + HOUR_MS, &writes),
            (day + HOUR_MS, &stored),
            (day + HOUR_MS, &other),
            (day + HOUR_MS, &unattributed),
            // Before the range: not counted.
            (day - HOUR_MS, &writes),
        ];
        let costs = paid.account_costs(day, day + DAY_MS, period.hours(), hours);
        assert_eq!(costs.len(), 2, "{costs:?}");
        let (project, shop) = &costs[0];
        assert_eq!(project, "shop");
        // 10 GB for one hour of 744: 10/744 GB-month at $0.50.
        close(shop.0[Product::Kv as usize], 10.0 + 10.0 / 744.0 * 0.5);
        close(costs[1].1.total(), 20.0);

        let telemetry: MetricTotals = [
            (Metric::KvWrites, M),
            (Metric::D1RowsRead, 1000.0 * M),
            (Metric::ExternalCostUsd, 0.25),
        ]
        .into();
        let usd = paid.budget_cost(&telemetry, shop);
        close(usd, shop.total() + 1.0 + 0.25);
        // Telemetry that saw more than the account (an hour not yet collected) counts instead.
        let more: MetricTotals = [(Metric::KvWrites, 3.0 * M)].into();
        close(paid.budget_cost(&more, shop), 15.0);
        // Without account usage the figure is the telemetry's, as the queue consumer counts it.
        close(
            paid.budget_cost(&telemetry, &ProductCosts::default()),
            paid.telemetry_cost(&telemetry),
        );
    }

    #[test]
    fn telemetry_is_priced_at_overage_rates_with_external_costs_as_they_are() {
        let paid = Catalogue::standard(Plan::Paid);
        let totals: MetricTotals = [
            (Metric::KvWrites, M),
            (Metric::D1RowsRead, 1000.0 * M),
            (Metric::ExternalCostUsd, 2.5),
        ]
        .into();
        close(paid.telemetry_cost(&totals), 5.0 + 1.0 + 2.5);
        assert_eq!(paid.telemetry_rate(Metric::Errors), 0.0);
    }
}
