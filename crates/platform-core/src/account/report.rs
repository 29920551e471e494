//! The account's usage over a range of hours, grouped by product, project or script (resource):
//! flows summed, levels as they stood in the last hour, each figure with its unit and exactness.

use serde_json::{json, Value};

use super::{AccountMetric, Aggregation, Exactness, UsageLine};
use crate::time::EpochMs;

/// What the lines are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Product,
    Project,
    /// The resource: a script, namespace, database, bucket, queue, index or model.
    Script,
}

impl By {
    pub fn parse(raw: &str) -> Option<By> {
        match raw {
            "product" => Some(By::Product),
            "project" => Some(By::Project),
            "script" => Some(By::Script),
            _ => None,
        }
    }
}

/// Usage no project owns.
pub const UNATTRIBUTED: &str = "(unattributed)";
/// Datasets that report the account as a whole.
pub const WHOLE_ACCOUNT: &str = "(account)";

/// One figure of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub group: String,
    pub metric: AccountMetric,
    /// A sum over the range, or a level in the range's last collected hour.
    pub amount: f64,
    /// The largest mean sample interval among its hours (1 when exact).
    pub max_sample_interval: f64,
}

impl Row {
    /// As the API answers it: with its unit, how it adds up and whether it is an estimate.
    pub fn to_json(&self) -> Value {
        json!({
            "group": self.group,
            "metric": self.metric.name(),
            "unit": self.metric.unit().name(),
            "amount": self.amount,
            "aggregation": match self.metric.aggregation() {
                Aggregation::Sum => "sum",
                Aggregation::Level => "level",
            },
            "exact": self.max_sample_interval <= 1.0,
            "max_sample_interval": self.max_sample_interval,
        })
    }
}

/// Groups `hours` (each: start, lines, exactness), sorted by group and metric.
pub fn summarize<'a>(
    hours: impl IntoIterator<Item = (EpochMs, &'a [UsageLine], Exactness)>,
    by: By,
) -> Vec<Row> {
    // Rows kept sorted by (group, metric) through binary search, each with the hour of its
    // level (no maps, no sort: the worker's wasm stays small). Hours arrive oldest first.
    let mut rows: Vec<(Row, EpochMs)> = Vec::new();
    for (start, lines, exactness) in hours {
        for line in lines {
            let group = match by {
                By::Product => line.metric.product().name(),
                By::Project => line.project.as_deref().unwrap_or(UNATTRIBUTED),
                By::Script if line.resource.is_empty() => WHOLE_ACCOUNT,
                By::Script => line.resource.as_str(),
            };
            let interval = exactness.interval().max(1.0);
            let found =
                rows.binary_search_by(|(row, _)| (row.group.as_str(), row.metric).cmp(&(group, line.metric)));
            match found {
                Ok(at) => {
                    let (row, hour) = &mut rows[at];
                    let replaces = line.metric.aggregation() == Aggregation::Level && *hour != start;
                    row.amount = if replaces {
                        line.amount
                    } else {
                        row.amount + line.amount
                    };
                    row.max_sample_interval = row.max_sample_interval.max(interval);
                    *hour = start;
                }
                Err(at) => {
                    let row = Row {
                        group: group.to_owned(),
                        metric: line.metric,
                        amount: line.amount,
                        max_sample_interval: interval,
                    };
                    rows.insert(at, (row, start));
                }
            }
        }
    }
    let rows: Vec<Row> = rows.into_iter().map(|(row, _)| row).collect();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_add_up_levels_keep_the_last_hour_and_unattributed_usage_is_shown() {
        let line =
            |metric, resource, project, amount| UsageLine::new(metric, resource, project, amount).unwrap();
        let first = vec![
            line(AccountMetric::KvReads, "ns1", Some("shop"), 10.0),
            line(AccountMetric::KvReads, "ns2", None, 5.0),
            line(AccountMetric::KvStoredBytes, "ns1", Some("shop"), 100.0),
        ];
        let second = vec![
            line(AccountMetric::KvReads, "ns1", Some("shop"), 1.0),
            line(AccountMetric::KvStoredBytes, "ns1", Some("shop"), 300.0),
        ];
        let hours = [
            (0, first.as_slice(), Exactness::Sampled { mean_interval: 10.0 }),
            (3_600_000, second.as_slice(), Exactness::Exact),
        ];
        let rows = summarize(hours, By::Project);
        let find = |group: &str, metric: &str| {
            let row = rows
                .iter()
                .find(|r| r.group == group && r.metric.name() == metric);
            row.unwrap().to_json()
        };
        assert_eq!(find("shop", "kv.reads")["amount"], 11.0);
        assert_eq!(find("shop", "kv.reads")["exact"], false);
        assert_eq!(find("shop", "kv.stored_bytes")["amount"], 300.0);
        assert_eq!(find("shop", "kv.stored_bytes")["aggregation"], "level");
        assert_eq!(find("shop", "kv.stored_bytes")["unit"], "bytes");
        assert_eq!(find(UNATTRIBUTED, "kv.reads")["amount"], 5.0);
        let rows = summarize(hours, By::Product);
        let reads = rows.iter().find(|r| r.metric == AccountMetric::KvReads).unwrap();
        assert_eq!(reads.amount, 16.0);
        // Levels of two resources in the same hour add up.
        let two = [
            line(AccountMetric::KvStoredBytes, "ns1", None, 100.0),
            line(AccountMetric::KvStoredBytes, "ns2", None, 50.0),
        ];
        let rows = summarize([(0, two.as_slice(), Exactness::Exact)], By::Product);
        assert_eq!(rows[0].amount, 150.0);
        assert_eq!(By::parse("script"), Some(By::Script));
        assert_eq!(By::parse("feature"), None);
    }
}
