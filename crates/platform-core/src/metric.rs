//! The metered resources a budget can limit.
//!
//! Each metric has two spellings: the camelCase key consumers send inside a telemetry message's
//! `metrics` object, and the snake_case key budgets use (`CONFIG:FEATURE:{key}:BUDGET`, budgets.yaml).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! metrics {
    ($($variant:ident => $budget:literal, $telemetry:literal;)*) => {
        /// A metered resource.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Metric { $($variant),* }

        impl Metric {
            pub const ALL: &'static [Metric] = &[$(Metric::$variant),*];

            /// The snake_case name used by budgets.
            pub const fn budget_name(self) -> &'static str {
                match self { $(Metric::$variant => $budget),* }
            }

            /// The camelCase name used in telemetry `metrics`.
            pub const fn telemetry_name(self) -> &'static str {
                match self { $(Metric::$variant => $telemetry),* }
            }

            pub fn from_budget_name(name: &str) -> Option<Self> {
                match name { $($budget => Some(Metric::$variant),)* _ => None }
            }

            pub fn from_telemetry_name(name: &str) -> Option<Self> {
                match name { $($telemetry => Some(Metric::$variant),)* _ => None }
            }
        }
    };
}

metrics! {
    D1Writes => "d1_writes", "d1Writes";
    D1Reads => "d1_reads", "d1Reads";
    D1RowsRead => "d1_rows_read", "d1RowsRead";
    D1RowsWritten => "d1_rows_written", "d1RowsWritten";
    KvReads => "kv_reads", "kvReads";
    KvWrites => "kv_writes", "kvWrites";
    KvDeletes => "kv_deletes", "kvDeletes";
    KvLists => "kv_lists", "kvLists";
    R2ClassA => "r2_class_a", "r2ClassA";
    R2ClassB => "r2_class_b", "r2ClassB";
    AiRequests => "ai_requests", "aiRequests";
    AiNeurons => "ai_neurons", "aiNeurons";
    VectorizeQueries => "vectorize_queries", "vectorizeQueries";
    VectorizeInserts => "vectorize_inserts", "vectorizeInserts";
    QueueMessages => "queue_messages", "queueMessages";
    DoRequests => "do_requests", "doRequests";
    DoGbSeconds => "do_gb_seconds", "doGbSeconds";
    WorkflowInvocations => "workflow_invocations", "workflowInvocations";
    Requests => "requests", "requests";
    CpuMs => "cpu_ms", "cpuMs";
    // What a feature spends outside Cloudflare (an AI provider, an API), as it reports it.
    ExternalCostUsd => "external_cost_usd", "externalCostUsd";
    // Errors the consumer SDK counted (its `error_count`).
    Errors => "errors", "errorCount";
    // Derived, never sent: a feature's usage priced by the catalogue plus its external cost.
    CostUsd => "cost_usd", "costUsd";
}

/// An unknown budget metric name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMetric(pub String);

impl fmt::Display for UnknownMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown metric {:?}; known metrics: ", self.0)?;
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.budget_name()).collect();
        f.write_str(&names.join(", "))
    }
}

impl std::error::Error for UnknownMetric {}

impl FromStr for Metric {
    type Err = UnknownMetric;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::from_budget_name(s).ok_or_else(|| UnknownMetric(s.to_owned()))
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.budget_name())
    }
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.budget_name())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_round_trip() {
        for metric in Metric::ALL {
            assert_eq!(Metric::from_budget_name(metric.budget_name()), Some(*metric));
            assert_eq!(
                Metric::from_telemetry_name(metric.telemetry_name()),
                Some(*metric)
            );
        }
        assert_eq!(Metric::from_telemetry_name("r2ClassA"), Some(Metric::R2ClassA));
        assert_eq!(Metric::from_budget_name("d1Writes"), None);
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = "d1_write".parse::<Metric>().unwrap_err().to_string();
        assert!(err.contains("\"d1_write\"") && err.contains("d1_writes"), "{err}");
    }
}
