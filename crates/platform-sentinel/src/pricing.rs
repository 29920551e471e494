//! List prices of the metrics telemetry reports (Workers Paid overage rates, from the platform's one
//! price catalogue), to put a dollar figure on usage. The free allowances are account-wide, so a feature's share is priced at the
//! overage rate: an estimate of what the usage costs, not the bill.

use platform_core::pricing::{Catalogue, Plan};
use platform_core::thresholds::CostService;
use platform_core::Metric;

/// USD per unit of `metric`: the catalogue's Workers Paid overage rate.
pub fn usd_per_unit(metric: Metric) -> f64 {
    thread_local! {
        static PAID: Catalogue = Catalogue::standard(Plan::Paid);
    }
    PAID.with(|catalogue| catalogue.telemetry_rate(metric))
}

/// The billed service a metric belongs to (whose thresholds apply).
pub fn service(metric: Metric) -> CostService {
    match metric {
        Metric::Requests | Metric::CpuMs => CostService::Workers,
        Metric::D1Reads | Metric::D1RowsRead | Metric::D1Writes | Metric::D1RowsWritten => CostService::D1,
        Metric::KvReads | Metric::KvWrites | Metric::KvDeletes | Metric::KvLists => CostService::Kv,
        Metric::R2ClassA | Metric::R2ClassB => CostService::R2,
        Metric::AiNeurons | Metric::AiRequests => CostService::WorkersAi,
        Metric::VectorizeQueries | Metric::VectorizeInserts => CostService::Vectorize,
        Metric::QueueMessages => CostService::Queues,
        Metric::DoRequests | Metric::DoGbSeconds => CostService::DurableObjects,
        Metric::WorkflowInvocations => CostService::Workflows,
        // Spent outside Cloudflare, or not billed: no Cloudflare service's threshold applies.
        Metric::ExternalCostUsd | Metric::Errors | Metric::CostUsd => CostService::Workers,
    }
}

/// The cost of `amount` of `metric` (USD).
pub fn cost(metric: Metric, amount: f64) -> f64 {
    usd_per_unit(metric) * amount.max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_the_published_rates() {
        assert!((cost(Metric::KvWrites, 1_000_000.0) - 5.0).abs() < 1e-9);
        assert!((cost(Metric::D1RowsRead, 1_000_000_000.0) - 1.0).abs() < 1e-9);
        assert_eq!(service(Metric::D1Writes), CostService::D1);
        assert_eq!(cost(Metric::Requests, -5.0), 0.0);
    }
}
