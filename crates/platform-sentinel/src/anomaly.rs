//! Cost anomalies on a feature's daily cost: the day judged against a robust baseline of the
//! days before it. The baseline is the median, with the median absolute deviation (MAD) as its
//! spread, so the spike itself, a missing day or a one-off blip barely moves it; the same weekday
//! of earlier weeks raises the expectation, so a weekly rhythm is not an anomaly. A day is
//! anomalous only when it is far above the baseline in robust units, a multiple of it, and above a
//! minimum in dollars, so noise on tiny numbers is ignored.

use std::collections::BTreeMap;

use platform_core::thresholds::{CostAlertThresholds, CostService};
use platform_core::Metric;
use serde::Serialize;

use crate::pricing;

/// Scales the MAD to a standard deviation of normally distributed data.
const MAD_SCALE: f64 = 1.4826;

/// The anomaly rule's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AnomalyRule {
    /// Robust z-score (deviations above the median, in scaled MADs) the day must reach.
    pub min_score: f64,
    /// The day must also be at least this multiple of the expected cost.
    pub min_ratio: f64,
    /// And exceed the expected cost by at least this much (USD).
    pub min_excess_usd: f64,
    /// Days of history needed before a day is judged.
    pub min_history_days: usize,
    /// The spread is never taken below this share of the median (flat history has no MAD).
    pub min_relative_spread: f64,
}

impl Default for AnomalyRule {
    fn default() -> Self {
        Self {
            min_score: 5.0,
            min_ratio: 2.0,
            min_excess_usd: 0.10,
            min_history_days: 3,
            min_relative_spread: 0.1,
        }
    }
}

/// The robust baseline of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Baseline {
    pub median: f64,
    /// The median absolute deviation, scaled to a standard deviation.
    pub spread: f64,
    /// The least of the same weekday's values in earlier weeks, when the history reaches back.
    pub same_weekday: Option<f64>,
    /// What the day is expected to cost: the median, or the same weekday when that is higher.
    pub expected: f64,
}

/// The baseline of `history` (one value a day, oldest first, the day before the judged day last;
/// a day without telemetry is 0).
///
/// A day without telemetry is a quiet day, not a cheap one: a feature that runs on some days only
/// is judged against the days it ran, once it ran on at least two.
pub fn baseline(rule: &AnomalyRule, history: &[f64]) -> Baseline {
    let active: Vec<f64> = history.iter().copied().filter(|v| *v > 0.0).collect();
    let typical = if active.len() >= 2 { &active[..] } else { history };
    let median = median(typical);
    let deviations: Vec<f64> = typical.iter().map(|v| (v - median).abs()).collect();
    let spread = (MAD_SCALE * self::median(&deviations))
        .max(rule.min_relative_spread * median)
        // All-zero history: any day above the dollar minimum stands out.
        .max(rule.min_excess_usd / rule.min_score.max(1.0));
    let same_weekday = (1..)
        .map(|weeks| 7 * weeks)
        .take_while(|lag| *lag <= history.len())
        .map(|lag| history[history.len() - lag])
        .reduce(f64::min);
    Baseline {
        median,
        spread,
        same_weekday,
        expected: median.max(same_weekday.unwrap_or(0.0)),
    }
}

/// How the judged day compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Too little history to judge.
    Learning { history_days: usize },
    Normal {
        observed_usd: f64,
        baseline: Baseline,
        score: f64,
    },
    Anomaly {
        observed_usd: f64,
        baseline: Baseline,
        score: f64,
        excess_usd: f64,
    },
}

/// Judges one day's cost against the history before it.
pub fn judge(rule: &AnomalyRule, history: &[f64], observed: f64) -> Verdict {
    if history.len() < rule.min_history_days {
        return Verdict::Learning {
            history_days: history.len(),
        };
    }
    let baseline = baseline(rule, history);
    let score = (observed - baseline.expected) / baseline.spread;
    let excess_usd = observed - baseline.expected;
    let anomalous = score >= rule.min_score
        && observed >= rule.min_ratio * baseline.expected
        && excess_usd >= rule.min_excess_usd;
    if anomalous {
        Verdict::Anomaly {
            observed_usd: observed,
            baseline,
            score,
            excess_usd,
        }
    } else {
        Verdict::Normal {
            observed_usd: observed,
            baseline,
            score,
        }
    }
}

/// The median of unsorted values (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// One day of a feature's usage, per metric.
pub type DayUsage = BTreeMap<Metric, f64>;

/// What made a day expensive: a metric, its service and its cost above its own median.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contributor {
    pub metric: &'static str,
    pub service: CostService,
    pub observed_usd: f64,
    pub excess_usd: f64,
}

/// A feature's day judged, with what drove it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Metrics by how much they rose, largest first (at most five).
    pub contributors: Vec<Contributor>,
    /// `warning`, `high` or `critical` by the excess as a share of the service's
    /// `absolute_max_usd` in `alert-thresholds:config`; `notice` below the warning share.
    pub severity: Option<&'static str>,
}

/// The day's cost of a usage (USD).
pub fn day_cost(day: &DayUsage) -> f64 {
    day.iter()
        .map(|(metric, amount)| pricing::cost(*metric, *amount))
        .sum()
}

/// Judges a feature's `day` against its `history` (oldest first; an empty map for a quiet day),
/// counting only the services the thresholds leave enabled.
pub fn judge_feature(
    rule: &AnomalyRule,
    thresholds: &CostAlertThresholds,
    history: &[DayUsage],
    day: &DayUsage,
) -> Judgement {
    let enabled = |metric: &Metric| {
        thresholds
            .thresholds
            .get(&pricing::service(*metric))
            .is_none_or(|t| t.enabled)
    };
    let only_enabled = |usage: &DayUsage| -> DayUsage {
        usage
            .iter()
            .filter(|(m, _)| enabled(m))
            .map(|(m, v)| (*m, *v))
            .collect()
    };
    let history: Vec<DayUsage> = history.iter().map(only_enabled).collect();
    let day = only_enabled(day);
    let costs: Vec<f64> = history.iter().map(day_cost).collect();
    let verdict = judge(rule, &costs, day_cost(&day));
    let mut contributors: Vec<Contributor> = day
        .iter()
        .map(|(metric, amount)| {
            let observed_usd = pricing::cost(*metric, *amount);
            let usual: Vec<f64> = history
                .iter()
                .map(|d| pricing::cost(*metric, d.get(metric).copied().unwrap_or(0.0)))
                .collect();
            Contributor {
                metric: metric.budget_name(),
                service: pricing::service(*metric),
                observed_usd,
                excess_usd: observed_usd - median(&usual),
            }
        })
        .filter(|c| c.excess_usd > 0.0)
        .collect();
    contributors.sort_by(|a, b| b.excess_usd.total_cmp(&a.excess_usd));
    contributors.truncate(5);
    let severity = match &verdict {
        Verdict::Anomaly { excess_usd, .. } => contributors
            .first()
            .map(|top| severity(thresholds, top.service, *excess_usd)),
        _ => None,
    };
    Judgement {
        verdict,
        contributors,
        severity,
    }
}

fn severity(thresholds: &CostAlertThresholds, service: CostService, excess_usd: f64) -> &'static str {
    let threshold = thresholds
        .thresholds
        .get(&service)
        .copied()
        .unwrap_or_else(|| service.default_threshold());
    if threshold.absolute_max_usd <= 0.0 {
        return "warning";
    }
    let pct = excess_usd / threshold.absolute_max_usd * 100.0;
    if pct >= f64::from(threshold.critical_pct) {
        "critical"
    } else if pct >= f64::from(threshold.high_pct) {
        "high"
    } else if pct >= f64::from(threshold.warning_pct) {
        "warning"
    } else {
        "notice"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> AnomalyRule {
        AnomalyRule::default()
    }

    fn is_anomaly(history: &[f64], observed: f64) -> bool {
        matches!(judge(&rule(), history, observed), Verdict::Anomaly { .. })
    }

    #[test]
    fn a_spike_on_flat_history_is_an_anomaly() {
        assert!(is_anomaly(&[1.0; 7], 10.0));
        assert!(!is_anomaly(&[1.0; 7], 1.05));
    }

    #[test]
    fn the_day_after_the_spike_is_judged_against_a_baseline_the_spike_did_not_move() {
        let history = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 10.0];
        let baseline = baseline(&rule(), &history);
        assert_eq!(baseline.median, 1.0);
        // A second spike the next day is still one.
        assert!(is_anomaly(&history, 10.0));
        // A normal day after it is normal.
        assert!(!is_anomaly(&history, 1.0));
    }

    #[test]
    fn a_weekly_rhythm_is_not_an_anomaly() {
        // Busy weekends, two weeks running, then Monday to Friday.
        let week = [1.0, 1.0, 1.0, 1.0, 1.0, 4.0, 4.0];
        let history: Vec<f64> = week.iter().chain(&week).chain(&week[..5]).copied().collect();
        // Saturday: four times the median, usual for a Saturday.
        assert!(!is_anomaly(&history, 4.0));
        // Ten times a Saturday is still an anomaly.
        assert!(is_anomaly(&history, 40.0));
        // Without the weeks before, the same Saturday would have been flagged.
        assert!(is_anomaly(&history[13..], 4.0));
    }

    #[test]
    fn a_gradual_rise_is_not_an_anomaly() {
        let history = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6];
        assert!(!is_anomaly(&history, 1.7));
    }

    #[test]
    fn a_feature_that_runs_on_some_days_is_judged_by_those_days() {
        // Four days with no telemetry among the seven.
        assert!(!is_anomaly(&[0.0, 2.0, 0.0, 2.0, 0.0, 0.0, 2.0], 2.5));
        assert!(is_anomaly(&[0.0, 2.0, 0.0, 2.0, 0.0, 0.0, 2.0], 40.0));
    }

    #[test]
    fn all_zero_history_flags_only_amounts_above_the_minimum() {
        assert!(!is_anomaly(&[0.0; 7], 0.05));
        assert!(is_anomaly(&[0.0; 7], 1.0));
    }

    #[test]
    fn noise_on_tiny_numbers_is_ignored() {
        // A hundred times more, but a tenth of a cent.
        assert!(!is_anomaly(&[0.00001; 7], 0.001));
    }

    #[test]
    fn too_short_a_history_is_not_judged() {
        assert_eq!(
            judge(&rule(), &[1.0, 1.0], 100.0),
            Verdict::Learning { history_days: 2 }
        );
    }

    #[test]
    fn a_feature_names_its_contributors_and_severity() {
        let usual: DayUsage = [(Metric::KvWrites, 1_000.0), (Metric::Requests, 100_000.0)].into();
        let spike: DayUsage = [(Metric::KvWrites, 2_000_000.0), (Metric::Requests, 100_000.0)].into();
        let thresholds = CostAlertThresholds::default();
        let judged = judge_feature(&rule(), &thresholds, &vec![usual; 7], &spike);
        assert!(matches!(judged.verdict, Verdict::Anomaly { .. }), "{judged:?}");
        assert_eq!(judged.contributors.len(), 1);
        assert_eq!(judged.contributors[0].metric, "kv_writes");
        // About $10 over a KV maximum of $5: critical.
        assert_eq!(judged.severity, Some("critical"));
    }

    #[test]
    fn a_disabled_service_is_not_judged() {
        let usual: DayUsage = [(Metric::KvWrites, 1_000.0)].into();
        let spike: DayUsage = [(Metric::KvWrites, 2_000_000.0)].into();
        let mut thresholds = CostAlertThresholds::default();
        if let Some(kv) = thresholds.thresholds.get_mut(&CostService::Kv) {
            kv.enabled = false;
        }
        let judged = judge_feature(&rule(), &thresholds, &vec![usual; 7], &spike);
        assert!(matches!(judged.verdict, Verdict::Normal { .. }), "{judged:?}");
    }
}
