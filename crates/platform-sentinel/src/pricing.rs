//! List prices of the metrics telemetry reports (Workers Paid overage rates), to put a dollar
//! figure on usage. The free allowances are account-wide, so a feature's share is priced at the
//! overage rate: an estimate of what the usage costs, not the bill.

use platform_core::thresholds::CostService;
use platform_core::Metric;

/// USD per unit of `metric`.
pub fn usd_per_unit(metric: Metric) -> f64 {
    const M: f64 = 1_000_000.0;
    match metric {
        Metric::Requests | Metric::WorkflowInvocations => 0.30 / M,
        Metric::CpuMs => 0.02 / M,
        // D1 bills rows: the SDK's reads and writes count rows.
        Metric::D1Reads | Metric::D1RowsRead => 0.001 / M,
        Metric::D1Writes | Metric::D1RowsWritten => 1.00 / M,
        Metric::KvReads => 0.50 / M,
        Metric::KvWrites | Metric::KvDeletes | Metric::KvLists => 5.00 / M,
        Metric::R2ClassA => 4.50 / M,
        Metric::R2ClassB => 0.36 / M,
        Metric::AiNeurons => 0.011 / 1000.0,
        // Priced by neurons.
        Metric::AiRequests => 0.0,
        // Billed per dimension, which telemetry does not report: a floor of one dimension.
        Metric::VectorizeQueries => 0.01 / M,
        Metric::VectorizeInserts => 0.05 / (100.0 * M),
        // About three operations (write, read, delete) per message.
        Metric::QueueMessages => 3.0 * 0.40 / M,
        Metric::DoRequests => 0.15 / M,
        Metric::DoGbSeconds => 12.50 / M,
    }
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
