//! What the pages are drawn from: the bound workers' answers, read leniently (a missing or
//! mistyped field shows as "—", never breaks a page), and the usage ledger's totals.

use std::collections::BTreeMap;

use platform_core::time::iso8601;
use platform_core::Metric;
use serde_json::Value;

/// A bound worker's answer, or why there is none (said on the page where the data would be).
pub type Source = Result<Value, String>;

pub fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

pub fn number(value: &Value, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

pub fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// An instant for people: epoch milliseconds become ISO 8601 UTC, a string is kept, none is "—".
pub fn when(value: Option<&Value>) -> String {
    match value {
        Some(Value::Number(n)) => n.as_u64().map_or_else(|| n.to_string(), iso8601),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => "—".to_owned(),
    }
}

/// The Cloudflare product a metric is billed under.
pub fn product(metric: Metric) -> &'static str {
    let name = metric.budget_name();
    match name.split('_').next().unwrap_or(name) {
        "d1" => "D1",
        "kv" => "Workers KV",
        "r2" => "R2",
        "ai" => "Workers AI",
        "vectorize" => "Vectorize",
        "queue" => "Queues",
        "do" => "Durable Objects",
        "workflow" => "Workflows",
        _ => "Workers",
    }
}

/// A feature's limit per metric.
pub type Limits = BTreeMap<Metric, f64>;

/// Usage as the ledger counted it from the applications' telemetry, for the last 30 UTC days
/// (which hold the current month), with each feature's limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// Today, `YYYY-MM-DD`.
    pub today: String,
    /// The current UTC month, `YYYY-MM`.
    pub month: String,
    /// The days read, oldest first, today last.
    pub days: Vec<String>,
    /// (feature key, day, metric) → amount.
    pub usage: BTreeMap<(String, String, Metric), f64>,
    /// Feature key → its daily and its monthly limits.
    pub limits: BTreeMap<String, (Limits, Limits)>,
    /// Project → the daily and monthly limits on the total of all its features.
    pub project_limits: BTreeMap<String, (Limits, Limits)>,
}

impl Ledger {
    /// Every feature the ledger or the limits know, sorted.
    pub fn features(&self) -> Vec<String> {
        let mut features: Vec<String> = self
            .usage
            .keys()
            .map(|(f, _, _)| f.clone())
            .chain(self.limits.keys().cloned())
            .collect();
        features.sort();
        features.dedup();
        features
    }

    /// Whether `day` (`YYYY-MM-DD`) is in the current month.
    pub fn in_month(&self, day: &str) -> bool {
        !self.month.is_empty() && day.starts_with(&self.month)
    }

    /// A feature's amount of `metric` today and this month.
    pub fn used(&self, feature: &str, metric: Metric) -> (f64, f64) {
        self.used_where(|f| f == feature, metric)
    }

    /// A project's usage of `metric` over all its features: today's and this month's.
    pub fn project_used(&self, project: &str, metric: Metric) -> (f64, f64) {
        self.used_where(|f| f.split(':').next() == Some(project), metric)
    }

    fn used_where(&self, feature: impl Fn(&str) -> bool, metric: Metric) -> (f64, f64) {
        let mut today = 0.0;
        let mut month = 0.0;
        for ((f, day, m), value) in &self.usage {
            if *m == metric && feature(f) {
                if self.in_month(day) {
                    month += value;
                }
                if *day == self.today {
                    today += value;
                }
            }
        }
        (today, month)
    }

    /// Per day of the month, the total of `metric` over the features `keep` selects.
    pub fn per_day(&self, metric: Metric, keep: impl Fn(&str) -> bool) -> Vec<(String, f64)> {
        self.days
            .iter()
            .map(|day| {
                let total = self
                    .usage
                    .iter()
                    .filter(|((f, d, m), _)| d == day && *m == metric && keep(f))
                    .map(|(_, v)| v)
                    .sum();
                (day.clone(), total)
            })
            .collect()
    }

    /// The metrics with any usage or any limit, in their declaration order.
    pub fn metrics(&self) -> Vec<Metric> {
        Metric::ALL
            .iter()
            .copied()
            .filter(|metric| {
                self.usage.keys().any(|(_, _, m)| m == metric)
                    || self
                        .limits
                        .values()
                        .any(|(d, m)| d.contains_key(metric) || m.contains_key(metric))
            })
            .collect()
    }

    /// The fullest budgets: (feature, metric, used, limit, "today" | "this month"), fullest first.
    pub fn fullest(&self, count: usize) -> Vec<(String, Metric, f64, f64, &'static str)> {
        let mut bars = Vec::new();
        for (feature, (daily, monthly)) in &self.limits {
            for (limits, period) in [(daily, "today"), (monthly, "this month")] {
                for (metric, limit) in limits {
                    let (today, month) = self.used(feature, *metric);
                    let used = if period == "today" { today } else { month };
                    if used > 0.0 {
                        bars.push((feature.clone(), *metric, used, *limit, period));
                    }
                }
            }
        }
        let share = |(_, _, used, limit, _): &(String, Metric, f64, f64, &str)| {
            if *limit > 0.0 {
                used / limit
            } else {
                f64::MAX
            }
        };
        bars.sort_by(|a, b| share(b).total_cmp(&share(a)));
        bars.truncate(count);
        bars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_read_leniently() {
        let v = json!({"a": "x", "n": 2.5, "l": [1], "t": 1_772_000_000_000_u64});
        assert_eq!(text(&v, "a"), Some("x"));
        assert_eq!(text(&v, "n"), None);
        assert_eq!(number(&v, "n"), Some(2.5));
        assert_eq!(list(&v, "l").len(), 1);
        assert!(list(&v, "a").is_empty());
        assert_eq!(when(v.get("t")), "2026-02-25T06:13:20.000Z");
        assert_eq!(when(v.get("missing")), "—");
        assert_eq!(product(Metric::KvWrites), "Workers KV");
        assert_eq!(product(Metric::CpuMs), "Workers");
    }

    #[test]
    fn the_ledger_sums_today_and_the_month() {
        let mut ledger = Ledger {
            today: "2026-03-02".into(),
            month: "2026-03".into(),
            days: vec!["2026-02-28".into(), "2026-03-01".into(), "2026-03-02".into()],
            ..Ledger::default()
        };
        for (day, value) in [("2026-02-28", 100.0), ("2026-03-01", 10.0), ("2026-03-02", 5.0)] {
            ledger
                .usage
                .insert(("a:b:c".into(), day.into(), Metric::KvWrites), value);
        }
        ledger.limits.insert(
            "a:b:c".into(),
            (
                BTreeMap::from([(Metric::KvWrites, 10.0)]),
                BTreeMap::from([(Metric::KvWrites, 100.0)]),
            ),
        );
        assert_eq!(ledger.used("a:b:c", Metric::KvWrites), (5.0, 15.0));
        assert_eq!(
            ledger.per_day(Metric::KvWrites, |_| true)[0].1,
            100.0,
            "last month's day is drawn"
        );
        assert_eq!(ledger.metrics(), vec![Metric::KvWrites]);
        let fullest = ledger.fullest(5);
        assert_eq!(
            fullest[0].4, "today",
            "50 % of the daily limit before 15 % of the monthly"
        );
    }
}
