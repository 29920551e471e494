//! From a template to a rule of the DSL. Every rule a template allows is tried (`contains` with its
//! constant words, `regex` with them in order, `startsWith` with its constant beginning,
//! `statusCode` with a code every sample carries); of those that match the whole cluster, the
//! narrowest wins: the one matching the fewest other stored errors, then the safest type
//! (`contains`, which every consumer reads alike, before `regex`), then the longest value.

use std::collections::BTreeSet;
use std::fmt;

use platform_errors::patterns::{Pattern, RuleType, MAX_REGEX};
use serde::Serialize;

use crate::corpus::StoredError;
use crate::mining::{Cluster, WILDCARD};
use crate::signal;

/// Words too common to narrow a rule.
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "with", "from", "was", "are", "has", "had", "this", "that", "into", "onto", "our",
    "you", "its", "not", "but",
];
/// Constant words a `contains` or `regex` rule keeps at most.
const MAX_WORDS: usize = 8;
/// Shortest `startsWith` prefix worth a rule.
pub const MIN_PREFIX: usize = 12;

/// A rule of the DSL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Rule {
    #[serde(rename = "type", serialize_with = "kind_text")]
    pub kind: RuleType,
    pub value: String,
}

fn kind_text<S: serde::Serializer>(kind: &RuleType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

impl Rule {
    pub fn new(kind: RuleType, value: impl Into<String>) -> Self {
        Self {
            kind,
            value: value.into(),
        }
    }

    /// The pattern id of this rule: the same rule always has the same id, so a rule rejected once
    /// is recognised when it is found again.
    pub fn id(&self) -> String {
        format!(
            "pat-{}",
            crate::digest(&format!("{}\n{}", self.kind.as_str(), self.value))
        )
    }

    /// The compiled rule.
    pub fn compile(&self, category: &str) -> Result<Pattern, String> {
        Pattern::compile(self.kind, &self.value, category)
    }

    /// Preference among rules that match alike: the most portable first.
    fn rank(&self) -> u8 {
        match self.kind {
            RuleType::Contains => 0,
            RuleType::Regex => 1,
            RuleType::StartsWith => 2,
            RuleType::StatusCode => 3,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\"", self.kind, self.value)
    }
}

/// A template token as a word of a rule: surrounding punctuation dropped, lower-cased.
fn word(token: &str) -> Option<String> {
    let trimmed = token.trim_matches(|c: char| !c.is_alphanumeric());
    let lower = trimmed.to_lowercase();
    (lower.chars().count() >= 3 && !STOPWORDS.contains(&lower.as_str()) && !lower.contains('{'))
        .then_some(lower)
}

fn words(cluster: &Cluster) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut kept: Vec<String> = cluster
        .constants()
        .filter_map(word)
        .filter(|w| seen.insert(w.clone()))
        .collect();
    if kept.len() > MAX_WORDS {
        // The longest words narrow most; kept in template order for the regex.
        let mut by_length: Vec<&String> = kept.iter().collect();
        by_length.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        let longest: BTreeSet<String> = by_length.into_iter().take(MAX_WORDS).cloned().collect();
        kept.retain(|w| longest.contains(w));
    }
    kept
}

/// `text` with the characters that are syntax in both Rust's and JavaScript's regexes escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The constant beginning of a template, as the message starts.
fn prefix(cluster: &Cluster) -> Option<String> {
    let constant: Vec<&str> = cluster
        .template
        .iter()
        .map(String::as_str)
        .take_while(|t| *t != WILDCARD)
        .collect();
    let text = constant.join(" ");
    (text.chars().count() >= MIN_PREFIX).then_some(text)
}

/// Every rule the cluster's template allows, most specific shapes first.
pub fn rules(cluster: &Cluster, samples: &[&str]) -> Vec<Rule> {
    let mut rules = Vec::new();
    let words = words(cluster);
    if !words.is_empty() {
        rules.push(Rule::new(RuleType::Contains, words.join(" ")));
        if words.len() > 1 {
            let ordered = words.iter().map(|w| escape(w)).collect::<Vec<_>>().join(".*");
            if ordered.len() <= MAX_REGEX {
                rules.push(Rule::new(RuleType::Regex, ordered));
            }
        }
    }
    if let Some(prefix) = prefix(cluster) {
        rules.push(Rule::new(RuleType::StartsWith, prefix));
    }
    if let Some(code) = signal::shared_status(samples.iter().copied()) {
        rules.push(Rule::new(RuleType::StatusCode, code.to_string()));
    }
    rules
}

/// The narrowest rule that matches every member of the cluster, with the number of other stored
/// errors it matches; `None` when no rule covers the whole cluster.
pub fn narrowest(
    cluster: &Cluster,
    members: &[&StoredError],
    corpus: &[StoredError],
    category: &str,
) -> Option<(Rule, usize)> {
    let samples: Vec<&str> = members.iter().map(|e| e.sample.as_str()).collect();
    let own: BTreeSet<&str> = members.iter().map(|e| e.fingerprint.as_str()).collect();
    rules(cluster, &samples)
        .into_iter()
        .filter_map(|rule| {
            let pattern = rule.compile(category).ok()?;
            if !samples.iter().all(|s| pattern.is_match(s)) {
                return None;
            }
            let others = corpus
                .iter()
                .filter(|e| !own.contains(e.fingerprint.as_str()) && pattern.is_match(&e.sample))
                .count();
            Some((rule, others))
        })
        .min_by(|(a, a_others), (b, b_others)| {
            a_others
                .cmp(b_others)
                .then(a.rank().cmp(&b.rank()))
                .then(b.value.len().cmp(&a.value.len()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::fixtures::error;
    use crate::mining::mine;

    #[test]
    fn the_narrowest_rule_covering_the_cluster_wins() {
        let corpus = vec![
            error("a", "", "Vendor acme throttled request req_1a, slow down", 4),
            error("b", "", "Vendor globex throttled request req_2b, slow down", 4),
            error("c", "", "billing request failed, slow down the retries", 4),
        ];
        let members: Vec<&StoredError> = corpus[..2].iter().collect();
        let clusters = mine(&members, 0.7);
        let (rule, others) =
            narrowest(&clusters[0], &members, &corpus, "rate-limited").unwrap_or_else(|| panic!("no rule"));
        assert_eq!(
            rule,
            Rule::new(RuleType::Contains, "vendor throttled request slow down")
        );
        assert_eq!(others, 0);
    }

    #[test]
    fn regex_values_are_escaped_and_ids_are_stable() {
        assert_eq!(escape("a.b(c)"), r"a\.b\(c\)");
        let rule = Rule::new(RuleType::Contains, "vendor throttled");
        assert_eq!(rule.id(), Rule::new(RuleType::Contains, "vendor throttled").id());
        assert_ne!(rule.id(), Rule::new(RuleType::Regex, "vendor throttled").id());
        assert!(rule.id().starts_with("pat-"));
    }

    #[test]
    fn a_code_every_sample_carries_gives_a_status_rule() {
        let corpus = [
            error("a", "", "upstream 520 on order 1", 4),
            error("b", "", "upstream 520 on order 2", 4),
        ];
        let members: Vec<&StoredError> = corpus.iter().collect();
        let clusters = mine(&members, 0.7);
        let all = rules(
            &clusters[0],
            &["upstream 520 on order 1", "upstream 520 on order 2"],
        );
        assert!(all.contains(&Rule::new(RuleType::StatusCode, "520")), "{all:?}");
    }
}
