//! Budget evaluation: usage totals of the current period against limits, giving the warnings to
//! send and the overrun that trips a breaker. Level-based rather than edge-based, so a decision a
//! batch missed (a limit lowered mid-day, a concurrent consumer) is made by the next one.

use std::fmt;

use serde::Serialize;

use crate::limits::MetricLimits;
use crate::metric::Metric;
use crate::time::{EpochMs, UtcDay, UtcMonth};
use crate::usage::MetricTotals;

/// A budget period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Day(UtcDay),
    Month(UtcMonth),
}

impl Period {
    /// `2026-03-02` or `2026-03`.
    pub fn id(self) -> String {
        match self {
            Self::Day(day) => day.to_string(),
            Self::Month(month) => month.to_string(),
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Self::Day(_) => "daily",
            Self::Month(_) => "monthly",
        }
    }

    /// When the period turns over and its trips reset.
    pub fn ends_at(self) -> EpochMs {
        match self {
            Self::Day(day) => day.next_start_ms(),
            Self::Month(month) => month.next_start_ms(),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.id())
    }
}

/// Usage at or over a limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overrun {
    pub metric: Metric,
    pub value: f64,
    pub limit: u64,
    #[serde(skip)]
    pub period: Period,
}

impl Overrun {
    /// What consumers and operators are told.
    pub fn reason(&self) -> String {
        format!(
            "{} budget exceeded: {} = {} of {} ({})",
            self.period.kind(),
            self.metric,
            format_amount(self.value),
            self.limit,
            self.period.id()
        )
    }
}

/// A warning threshold reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub metric: Metric,
    /// The threshold the warning is about (the highest reached).
    pub threshold: u8,
    /// Every threshold this warning accounts for: lower ones reached in the same jump are not sent
    /// separately.
    pub covers: Vec<u8>,
    pub value: f64,
    pub limit: u64,
    pub period: Period,
}

impl Warning {
    pub fn message(&self) -> String {
        format!(
            "{} budget at {}%: {} = {} of {} ({})",
            self.period.kind(),
            self.threshold,
            self.metric,
            format_amount(self.value),
            self.limit,
            self.period.id()
        )
    }
}

/// What one period's totals call for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    pub overrun: Option<Overrun>,
    pub warnings: Vec<Warning>,
}

/// Evaluates `totals` against `limits` for `period`. `warned(metric, threshold)` says whether a
/// warning was already sent this period. A limit of 0 allows no usage at all.
pub fn evaluate(
    period: Period,
    limits: &MetricLimits,
    totals: &MetricTotals,
    thresholds: &[u8],
    warned: impl Fn(Metric, u8) -> bool,
) -> Evaluation {
    let usage = |metric: Metric| totals.get(&metric).copied().unwrap_or(0.0);
    let overrun = limits
        .0
        .iter()
        .map(|(metric, limit)| (*metric, usage(*metric), limit.0))
        .filter(|(_, value, limit)| *value > 0.0 && *value >= *limit as f64)
        .max_by(|a, b| ratio(a.1, a.2).total_cmp(&ratio(b.1, b.2)))
        .map(|(metric, value, limit)| Overrun {
            metric,
            value,
            limit,
            period,
        });
    if overrun.is_some() {
        // The trip alert says it all; warnings would only add noise.
        return Evaluation {
            overrun,
            warnings: Vec::new(),
        };
    }
    let mut warnings = Vec::new();
    for (metric, limit) in &limits.0 {
        let value = usage(*metric);
        let reached: Vec<u8> = thresholds
            .iter()
            .copied()
            .filter(|t| value > 0.0 && value >= limit.0 as f64 * f64::from(*t) / 100.0)
            .filter(|t| !warned(*metric, *t))
            .collect();
        if let Some(threshold) = reached.iter().copied().max() {
            warnings.push(Warning {
                metric: *metric,
                threshold,
                covers: reached,
                value,
                limit: limit.0,
                period,
            });
        }
    }
    Evaluation {
        overrun: None,
        warnings,
    }
}

fn ratio(value: f64, limit: u64) -> f64 {
    if limit == 0 {
        f64::INFINITY
    } else {
        value / limit as f64
    }
}

/// `12`, `12.5`: whole amounts without a fraction.
pub fn format_amount(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limit;

    fn limits(pairs: &[(Metric, u64)]) -> MetricLimits {
        MetricLimits(pairs.iter().map(|(m, l)| (*m, Limit(*l))).collect())
    }

    fn totals(pairs: &[(Metric, f64)]) -> MetricTotals {
        pairs.iter().copied().collect()
    }

    fn day() -> Period {
        Period::Day(UtcDay::parse("2026-03-02").unwrap())
    }

    #[test]
    fn below_the_first_threshold_nothing_happens() {
        let evaluation = evaluate(
            day(),
            &limits(&[(Metric::KvReads, 100)]),
            &totals(&[(Metric::KvReads, 69.0)]),
            &[70, 90],
            |_, _| false,
        );
        assert_eq!(evaluation, Evaluation::default());
    }

    #[test]
    fn warns_once_per_threshold_and_folds_a_jump_into_one_warning() {
        let limit = limits(&[(Metric::KvReads, 100)]);
        let at = |value: f64, warned: &[u8]| {
            evaluate(
                day(),
                &limit,
                &totals(&[(Metric::KvReads, value)]),
                &[70, 90],
                |_, t| warned.contains(&t),
            )
            .warnings
        };
        let first = at(75.0, &[]);
        assert_eq!((first[0].threshold, first[0].covers.clone()), (70, vec![70]));
        assert!(at(80.0, &[70]).is_empty(), "70% was sent already");
        let jump = at(95.0, &[]);
        assert_eq!((jump[0].threshold, jump[0].covers.clone()), (90, vec![70, 90]));
        assert_eq!(
            jump[0].message(),
            "daily budget at 90%: kv_reads = 95 of 100 (2026-03-02)"
        );
    }

    #[test]
    fn reaching_a_limit_overruns_with_the_worst_metric_and_no_warnings() {
        let evaluation = evaluate(
            day(),
            &limits(&[(Metric::KvReads, 100), (Metric::D1Writes, 10)]),
            &totals(&[(Metric::KvReads, 100.0), (Metric::D1Writes, 30.0)]),
            &[70, 90],
            |_, _| false,
        );
        let overrun = evaluation.overrun.unwrap();
        assert_eq!((overrun.metric, overrun.limit), (Metric::D1Writes, 10));
        assert_eq!(
            overrun.reason(),
            "daily budget exceeded: d1_writes = 30 of 10 (2026-03-02)"
        );
        assert!(evaluation.warnings.is_empty());
    }

    #[test]
    fn a_zero_limit_allows_no_usage() {
        let zero = limits(&[(Metric::AiNeurons, 0)]);
        assert!(evaluate(day(), &zero, &totals(&[]), &[70], |_, _| false)
            .overrun
            .is_none());
        assert!(evaluate(
            day(),
            &zero,
            &totals(&[(Metric::AiNeurons, 1.0)]),
            &[70],
            |_, _| false
        )
        .overrun
        .is_some());
    }

    #[test]
    fn periods_end_at_the_next_boundary() {
        assert_eq!(crate::time::iso8601(day().ends_at()), "2026-03-03T00:00:00.000Z");
        let month = Period::Month(UtcMonth::containing(day().ends_at()));
        assert_eq!(crate::time::iso8601(month.ends_at()), "2026-04-01T00:00:00.000Z");
        assert_eq!(month.to_string(), "monthly 2026-03");
    }
}
