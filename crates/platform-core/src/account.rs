//! What the account itself used, as Cloudflare's analytics report it: the products, the quantities
//! per product, and one line of usage (a quantity of one resource in one UTC hour). The collector
//! writes these lines; pricing, cost budgets and the reports read them. Nothing here knows GraphQL.

use std::fmt;

/// A billed product of the Developer Platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Product {
    Workers,
    Kv,
    D1,
    R2,
    DurableObjects,
    Queues,
    WorkersAi,
    Vectorize,
    AnalyticsEngine,
    Workflows,
    Hyperdrive,
    Images,
}

impl Product {
    pub const ALL: &'static [Product] = &[
        Product::Workers,
        Product::Kv,
        Product::D1,
        Product::R2,
        Product::DurableObjects,
        Product::Queues,
        Product::WorkersAi,
        Product::Vectorize,
        Product::AnalyticsEngine,
        Product::Workflows,
        Product::Hyperdrive,
        Product::Images,
    ];

    /// The snake_case name used in answers, config and stored lines.
    pub const fn name(self) -> &'static str {
        match self {
            Product::Workers => "workers",
            Product::Kv => "kv",
            Product::D1 => "d1",
            Product::R2 => "r2",
            Product::DurableObjects => "durable_objects",
            Product::Queues => "queues",
            Product::WorkersAi => "workers_ai",
            Product::Vectorize => "vectorize",
            Product::AnalyticsEngine => "analytics_engine",
            Product::Workflows => "workflows",
            Product::Hyperdrive => "hyperdrive",
            Product::Images => "images",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|product| product.name() == name)
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an amount counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Requests, operations, rows, data points, queries.
    Count,
    Milliseconds,
    Bytes,
    /// Gigabyte-seconds of Durable Object duration (billed at 128 MB while active).
    GbSeconds,
    Neurons,
    /// Vector dimensions (queried or stored).
    Dimensions,
}

impl Unit {
    pub const fn name(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Milliseconds => "ms",
            Unit::Bytes => "bytes",
            Unit::GbSeconds => "GB-s",
            Unit::Neurons => "neurons",
            Unit::Dimensions => "dimensions",
        }
    }
}

/// How an hour's amounts combine over a longer period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// A flow: a day is the sum of its hours.
    Sum,
    /// A level (stored bytes, stored dimensions): an hour holds the level seen in it, and a
    /// period is billed on the average level over it (GB-month), never on the sum.
    Level,
}

macro_rules! account_metrics {
    ($($variant:ident => $name:literal, $product:ident, $unit:ident, $aggregation:ident;)*) => {
        /// A quantity of the account's usage, named `<product>.<quantity>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum AccountMetric { $($variant),* }

        impl AccountMetric {
            pub const ALL: &'static [AccountMetric] = &[$(AccountMetric::$variant),*];

            pub const fn name(self) -> &'static str {
                match self { $(AccountMetric::$variant => $name),* }
            }

            pub const fn product(self) -> Product {
                match self { $(AccountMetric::$variant => Product::$product),* }
            }

            pub const fn unit(self) -> Unit {
                match self { $(AccountMetric::$variant => Unit::$unit),* }
            }

            pub const fn aggregation(self) -> Aggregation {
                match self { $(AccountMetric::$variant => Aggregation::$aggregation),* }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(AccountMetric::$variant),)* _ => None }
            }
        }
    };
}

account_metrics! {
    WorkersRequests => "workers.requests", Workers, Count, Sum;
    WorkersErrors => "workers.errors", Workers, Count, Sum;
    WorkersSubrequests => "workers.subrequests", Workers, Count, Sum;
    WorkersCpuMs => "workers.cpu_ms", Workers, Milliseconds, Sum;
    KvReads => "kv.reads", Kv, Count, Sum;
    KvWrites => "kv.writes", Kv, Count, Sum;
    KvDeletes => "kv.deletes", Kv, Count, Sum;
    KvLists => "kv.lists", Kv, Count, Sum;
    KvStoredBytes => "kv.stored_bytes", Kv, Bytes, Level;
    D1RowsRead => "d1.rows_read", D1, Count, Sum;
    D1RowsWritten => "d1.rows_written", D1, Count, Sum;
    D1Queries => "d1.queries", D1, Count, Sum;
    D1StoredBytes => "d1.stored_bytes", D1, Bytes, Level;
    R2ClassA => "r2.class_a", R2, Count, Sum;
    R2ClassB => "r2.class_b", R2, Count, Sum;
    R2FreeOperations => "r2.free_operations", R2, Count, Sum;
    R2StoredBytes => "r2.stored_bytes", R2, Bytes, Level;
    DoRequests => "durable_objects.requests", DurableObjects, Count, Sum;
    DoGbSeconds => "durable_objects.gb_seconds", DurableObjects, GbSeconds, Sum;
    DoRowsRead => "durable_objects.rows_read", DurableObjects, Count, Sum;
    DoRowsWritten => "durable_objects.rows_written", DurableObjects, Count, Sum;
    DoStoredBytes => "durable_objects.stored_bytes", DurableObjects, Bytes, Level;
    QueueOperations => "queues.operations", Queues, Count, Sum;
    AiNeurons => "workers_ai.neurons", WorkersAi, Neurons, Sum;
    VectorizeQueriedDimensions => "vectorize.queried_dimensions", Vectorize, Dimensions, Sum;
    VectorizeStoredDimensions => "vectorize.stored_dimensions", Vectorize, Dimensions, Level;
    AnalyticsEngineDataPoints => "analytics_engine.data_points", AnalyticsEngine, Count, Sum;
    WorkflowsRequests => "workflows.requests", Workflows, Count, Sum;
    WorkflowsCpuMs => "workflows.cpu_ms", Workflows, Milliseconds, Sum;
    WorkflowsStoredBytes => "workflows.stored_bytes", Workflows, Bytes, Level;
    HyperdriveQueries => "hyperdrive.queries", Hyperdrive, Count, Sum;
    ImagesTransformations => "images.transformations", Images, Count, Sum;
    ImagesRequests => "images.requests", Images, Count, Sum;
}

impl fmt::Display for AccountMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One resource's amount of one metric in one collected hour.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageLine {
    pub metric: AccountMetric,
    /// What the dataset groups by: a script name, a namespace, database, bucket or queue id, a
    /// model id; empty when the dataset reports the account as a whole.
    pub resource: String,
    /// The project the resource belongs to (from `SCRIPT_MAP` or `services.yaml`); `None` is
    /// usage no project owns, shown as unattributed, never dropped.
    pub project: Option<String>,
    /// In the metric's unit; finite and not negative.
    pub amount: f64,
}

impl UsageLine {
    /// A line whose amount can be added up: finite and not negative.
    pub fn new(
        metric: AccountMetric,
        resource: &str,
        project: Option<&str>,
        amount: f64,
    ) -> Result<Self, String> {
        if !amount.is_finite() || amount < 0.0 {
            return Err(format!(
                "{metric} of {resource:?}: {amount} is not a finite, non-negative amount"
            ));
        }
        Ok(Self {
            metric,
            resource: resource.to_owned(),
            project: project.map(str::to_owned),
            amount,
        })
    }
}

/// How exact a dataset's figures for an hour are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Exactness {
    /// Not sampled.
    Exact,
    /// Adaptive sampling: the mean `sampleInterval` (10 means about one event in ten was kept).
    Sampled { mean_interval: f64 },
}

impl Exactness {
    /// The mean sample interval: 1 when exact.
    pub fn interval(self) -> f64 {
        match self {
            Exactness::Exact => 1.0,
            Exactness::Sampled { mean_interval } => mean_interval,
        }
    }

    /// From a stored interval: anything at or below 1 (or not a number) is exact.
    pub fn from_interval(interval: f64) -> Self {
        if interval.is_finite() && interval > 1.0 {
            Exactness::Sampled {
                mean_interval: interval,
            }
        } else {
            Exactness::Exact
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_name_parses_back_and_names_its_product() {
        for metric in AccountMetric::ALL {
            assert_eq!(AccountMetric::parse(metric.name()), Some(*metric));
            let (product, _) = metric.name().split_once('.').expect("product.quantity");
            assert_eq!(Product::parse(product), Some(metric.product()), "{metric}");
        }
        assert_eq!(AccountMetric::parse("kv.nope"), None);
    }

    #[test]
    fn every_product_has_a_metric() {
        for product in Product::ALL {
            assert!(
                AccountMetric::ALL.iter().any(|m| m.product() == *product),
                "{product}"
            );
        }
    }

    #[test]
    fn a_line_refuses_amounts_that_cannot_be_summed() {
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            assert!(UsageLine::new(AccountMetric::KvReads, "ns", None, bad).is_err());
        }
        let line = UsageLine::new(AccountMetric::KvReads, "ns", Some("app"), 3.0).expect("valid");
        assert_eq!(line.project.as_deref(), Some("app"));
    }

    #[test]
    fn exactness_round_trips_through_its_interval() {
        assert_eq!(Exactness::from_interval(1.0), Exactness::Exact);
        assert_eq!(Exactness::from_interval(f64::NAN), Exactness::Exact);
        assert_eq!(Exactness::from_interval(10.0).interval(), 10.0);
    }
}
