//! One discovery run over the stored errors: mine the templates of the open, unclassified,
//! recurring errors, keep the clusters that carry a transient signal, give each the narrowest rule
//! that covers it, and check every rule. Bounded: at most `max_clusters` clusters are considered.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::corpus::StoredError;
use crate::mining::{mine, Cluster};
use crate::safety::{check, Backtest, Limits, Refusal};
use crate::signal;
use crate::synth::{narrowest, Rule};

/// Sample messages kept per cluster and suggestion.
pub const MAX_SAMPLES: usize = 5;
/// Fingerprints of its cluster a suggestion keeps.
pub const MAX_FINGERPRINTS: usize = 50;

/// What a run considers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settings {
    /// Occurrences a fingerprint needs to be mined. 1: recurrence is judged per cluster, since a
    /// noisy family with a request id in its message spreads over fingerprints seen once each.
    pub min_occurrences: u64,
    /// Occurrences a cluster needs (over its fingerprints) to be suggested.
    pub min_cluster_occurrences: u64,
    /// Clusters considered per run, the largest first.
    pub max_clusters: usize,
    /// Similarity a message needs to join a template.
    pub similarity: f64,
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            min_occurrences: 1,
            min_cluster_occurrences: 6,
            max_clusters: 20,
            similarity: 0.7,
            limits: Limits::default(),
        }
    }
}

/// Who proposed a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The template miner.
    Mined,
    /// The optional model, checked exactly like a mined rule.
    Model,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mined => "mined",
            Self::Model => "model",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Mined, Self::Model].into_iter().find(|s| s.as_str() == raw)
    }
}

/// A mined cluster, as a suggestion and a model see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    pub id: String,
    pub template: String,
    pub occurrences: u64,
    pub fingerprints: Vec<String>,
    pub samples: Vec<String>,
    /// The transient category its words signal, if any.
    pub category: Option<String>,
}

impl ClusterView {
    fn of(cluster: &Cluster, members: &[&StoredError], category: Option<&str>) -> Self {
        let mut samples: Vec<String> = Vec::new();
        for error in members {
            if samples.len() < MAX_SAMPLES && !samples.contains(&error.sample) {
                samples.push(error.sample.clone());
            }
        }
        Self {
            id: cluster.id.clone(),
            template: cluster.text(),
            occurrences: cluster.occurrences,
            fingerprints: members.iter().map(|e| e.fingerprint.clone()).collect(),
            samples,
            category: category.map(str::to_owned),
        }
    }
}

/// A rule proposed for a cluster, with its safety verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub id: String,
    pub rule: Rule,
    pub category: String,
    pub source: Source,
    pub cluster: ClusterView,
    pub verdict: Result<Backtest, Refusal>,
}

impl Suggestion {
    /// Checks `rule` for `cluster` against every stored error.
    pub fn checked(
        cluster: &ClusterView,
        rule: Rule,
        category: &str,
        source: Source,
        corpus: &[StoredError],
        limits: &Limits,
    ) -> Self {
        let own: BTreeSet<&str> = cluster.fingerprints.iter().map(String::as_str).collect();
        let verdict = check(&rule, category, &own, corpus, limits);
        let mut cluster = cluster.clone();
        cluster.fingerprints.truncate(MAX_FINGERPRINTS);
        Self {
            id: rule.id(),
            rule,
            category: category.to_owned(),
            source,
            cluster,
            verdict,
        }
    }
}

/// A cluster left without a suggestion, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub cluster: String,
    pub template: String,
    pub reason: String,
}

/// What a run found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Stored errors mined (open, unclassified, recurring).
    pub mined: usize,
    /// The clusters considered, largest first.
    pub clusters: Vec<ClusterView>,
    pub suggestions: Vec<Suggestion>,
    pub skipped: Vec<Skipped>,
}

/// The run over `corpus` (every stored error the backtest reads).
pub fn plan(corpus: &[StoredError], settings: &Settings) -> Plan {
    let candidates: Vec<&StoredError> = corpus
        .iter()
        .filter(|e| e.is_candidate(settings.min_occurrences))
        .collect();
    let mut plan = Plan {
        mined: candidates.len(),
        ..Plan::default()
    };
    let clusters = mine(&candidates, settings.similarity);
    let considered = clusters
        .iter()
        .filter(|c| c.occurrences >= settings.min_cluster_occurrences)
        .take(settings.max_clusters);
    let mut ids = BTreeSet::new();
    for cluster in considered {
        let members: Vec<&StoredError> = cluster.members.iter().map(|&i| candidates[i]).collect();
        let category = signal::category_of(cluster.constants()).or_else(|| {
            signal::shared_status(members.iter().map(|e| e.sample.as_str())).map(signal::status_category)
        });
        let view = ClusterView::of(cluster, &members, category);
        let skip = |reason: &str| Skipped {
            cluster: view.id.clone(),
            template: view.template.clone(),
            reason: reason.to_owned(),
        };
        match category {
            None => plan
                .skipped
                .push(skip("no transient signal: probably a bug, left to its issues")),
            Some(category) => match narrowest(cluster, &members, corpus, category) {
                None => plan
                    .skipped
                    .push(skip("no rule of the DSL matches every error of the cluster")),
                Some((rule, _)) if ids.insert(rule.id()) => {
                    let suggestion =
                        Suggestion::checked(&view, rule, category, Source::Mined, corpus, &settings.limits);
                    plan.suggestions.push(suggestion);
                }
                Some(_) => plan.skipped.push(skip("the same rule as a larger cluster's")),
            },
        }
        plan.clusters.push(view);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::fixtures::error;
    use platform_errors::patterns::RuleType;

    /// A week of a shop's errors: three transient families written with varying ids, times and
    /// vendors (none of which the collector's static table knows), mixed with real bugs.
    fn corpus() -> Vec<StoredError> {
        let mut corpus = Vec::new();
        let mut n = 0;
        let mut add = |exception: &str, sample: String, occurrences: u64| {
            n += 1;
            corpus.push(error(&format!("fp-{n:03}"), exception, &sample, occurrences));
        };
        for (i, vendor) in ["acme", "globex", "initech", "umbrella"].iter().enumerate() {
            add(
                "Error",
                format!("Payments API throttled request req_{i}f3a9 for {vendor} at 2026-03-0{}T10:00:00Z, slow down", i + 1),
                4 + i as u64,
            );
        }
        for ms in [3000, 4500, 6000] {
            add(
                "",
                format!("inventory sync: upstream deadline exceeded after {ms}ms (attempt 3)"),
                5,
            );
        }
        for (i, order) in ["8812", "9031", "9120"].iter().enumerate() {
            add(
                "Error",
                format!("shipping vendor answered 521 for order {order} (trace {i}ab77c0d)"),
                3,
            );
        }
        // Bugs: programming errors, a constraint, a validation failure.
        for field in ["id", "sku", "price"] {
            add(
                "TypeError",
                format!("Cannot read properties of undefined (reading '{field}')"),
                9,
            );
        }
        for table in ["orders", "carts"] {
            add(
                "Error",
                format!("D1_ERROR: NOT NULL constraint failed: {table}.customer_id"),
                7,
            );
        }
        for i in 0..3 {
            add(
                "Error",
                format!("checkout total mismatch for cart {i}00{i}: expected 12.50"),
                4,
            );
        }
        add(
            "SyntaxError",
            "Unexpected token < in JSON at position 0 (throttled upstream page)".to_owned(),
            20,
        );
        // A variant seen once, on its own template: too rare to be suggested on its own.
        add(
            "Error",
            "Payments API throttled request req_9 for hooli, slow down".to_owned(),
            1,
        );
        // A bug seen once per report: each fingerprint is rare, the cluster is not.
        for i in 0..30 {
            add("Error", format!("report {i} rendered without its totals"), 1);
        }
        corpus
    }

    #[test]
    fn the_transient_families_are_recovered_and_the_bugs_left_alone() {
        let corpus = corpus();
        let plan = plan(&corpus, &Settings::default());
        let suggested: Vec<(RuleType, &str, &str, usize)> = plan
            .suggestions
            .iter()
            .map(|s| {
                (
                    s.rule.kind,
                    s.rule.value.as_str(),
                    s.category.as_str(),
                    s.cluster.fingerprints.len(),
                )
            })
            .collect();
        assert_eq!(
            suggested,
            [
                (
                    RuleType::Contains,
                    "payments api throttled request slow down",
                    "rate-limited",
                    4
                ),
                (
                    RuleType::Contains,
                    "inventory sync upstream deadline exceeded after attempt",
                    "timeout",
                    3
                ),
                (
                    RuleType::Contains,
                    "shipping vendor answered order trace",
                    "upstream-5xx",
                    3
                ),
            ],
            "{:#?}",
            plan.suggestions
        );
        for suggestion in &plan.suggestions {
            let test = suggestion
                .verdict
                .as_ref()
                .unwrap_or_else(|r| panic!("{}: {r}", suggestion.rule));
            assert_eq!(test.cluster_matched, test.cluster);
            assert!(test.other_share <= 0.05);
        }
        // The once-seen variant has no suggestion of its own, but the rule covers it.
        let throttled = &plan.suggestions[0];
        let matched = throttled.verdict.as_ref().map(|t| t.matched.len()).unwrap_or(0);
        assert_eq!(matched, 5);
        // Every bug cluster was considered and skipped; no suggestion touches a bug's fingerprint.
        let skipped: Vec<&str> = plan.skipped.iter().map(|s| s.template.as_str()).collect();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(skipped.iter().any(|t| t.starts_with("report <*> rendered")));
        assert!(
            skipped.iter().any(|t| t.starts_with("<*> NOT NULL")),
            "{skipped:?}"
        );
        assert!(skipped.iter().any(|t| t.starts_with("checkout total mismatch")));
        assert!(plan
            .skipped
            .iter()
            .all(|s| s.reason.starts_with("no transient signal")));
    }

    #[test]
    fn runs_are_bounded_and_deterministic() {
        let corpus = corpus();
        let one = plan(
            &corpus,
            &Settings {
                max_clusters: 1,
                ..Settings::default()
            },
        );
        assert_eq!(one.clusters.len(), 1);
        let again = plan(&corpus, &Settings::default());
        assert_eq!(again, plan(&corpus, &Settings::default()));
    }
}
