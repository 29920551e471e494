//! The account's usage over a range of hours, grouped by product, project or script (resource):
//! flows summed, levels as they stood in the last hour, each figure with its unit and exactness.

use std::collections::BTreeMap;

use serde::Serialize;

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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub group: String,
    pub metric: &'static str,
    pub unit: &'static str,
    pub amount: f64,
    /// `sum` over the range, or `level` in the range's last collected hour.
    pub aggregation: &'static str,
    /// False when any of its hours was sampled: the amount is an estimate.
    pub exact: bool,
    /// The largest mean sample interval among its hours (1 when exact).
    pub max_sample_interval: f64,
}

#[derive(Default)]
struct Acc {
    total: f64,
    /// Per hour, for levels.
    levels: BTreeMap<EpochMs, f64>,
    interval: f64,
}

/// Groups `hours` (each: start, lines, exactness).
pub fn summarize<'a>(
    hours: impl IntoIterator<Item = (EpochMs, &'a [UsageLine], Exactness)>,
    by: By,
) -> Vec<Row> {
    let mut groups: BTreeMap<(String, AccountMetric), Acc> = BTreeMap::new();
    for (start, lines, exactness) in hours {
        for line in lines {
            let group = match by {
                By::Product => line.metric.product().name().to_owned(),
                By::Project => line.project.clone().unwrap_or_else(|| UNATTRIBUTED.to_owned()),
                By::Script if line.resource.is_empty() => WHOLE_ACCOUNT.to_owned(),
                By::Script => line.resource.clone(),
            };
            let acc = groups.entry((group, line.metric)).or_default();
            acc.total += line.amount;
            *acc.levels.entry(start).or_insert(0.0) += line.amount;
            acc.interval = acc.interval.max(exactness.interval());
        }
    }
    groups
        .into_iter()
        .map(|((group, metric), acc)| {
            let (amount, aggregation) = match metric.aggregation() {
                Aggregation::Sum => (acc.total, "sum"),
                Aggregation::Level => (acc.levels.values().next_back().copied().unwrap_or(0.0), "level"),
            };
            Row {
                group,
                metric: metric.name(),
                unit: metric.unit().name(),
                amount,
                aggregation,
                exact: acc.interval <= 1.0,
                max_sample_interval: acc.interval.max(1.0),
            }
        })
        .collect()
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
        let rows = summarize(hours.clone(), By::Project);
        let find = |group: &str, metric: &str| {
            rows.iter()
                .find(|r| r.group == group && r.metric == metric)
                .unwrap()
        };
        assert_eq!(find("shop", "kv.reads").amount, 11.0);
        assert!(!find("shop", "kv.reads").exact);
        assert_eq!(find("shop", "kv.stored_bytes").amount, 300.0);
        assert_eq!(find("shop", "kv.stored_bytes").aggregation, "level");
        assert_eq!(find(UNATTRIBUTED, "kv.reads").amount, 5.0);
        let rows = summarize(hours, By::Product);
        assert_eq!(rows.iter().find(|r| r.metric == "kv.reads").unwrap().amount, 16.0);
        assert_eq!(By::parse("script"), Some(By::Script));
        assert_eq!(By::parse("feature"), None);
    }
}
