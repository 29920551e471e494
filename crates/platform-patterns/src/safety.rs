//! The checks every rule passes before it runs anywhere, whoever proposed it (the miner, a model,
//! an operator approving): its shape (length, no catch-all, a regex that is linear-time and reads
//! the same in the consumer SDK's JavaScript), then a backtest over the stored errors: it must
//! match its own cluster, at most a configured share of everything else, and never an error of a
//! class that is never transient. A refusal says why.

use std::collections::BTreeSet;
use std::fmt;

use platform_errors::patterns::{Pattern, RuleType, MAX_REGEX};
use serde::Serialize;

use crate::corpus::StoredError;
use crate::synth::Rule;

/// What a rule must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Limits {
    /// Longest value of any rule type (characters).
    pub max_value: usize,
    /// Share of the stored errors outside its cluster a rule may match (0.05: 5 %).
    pub max_other_share: f64,
    /// Alternations a regex may have.
    pub max_alternations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_value: MAX_REGEX,
            max_other_share: 0.05,
            max_alternations: 10,
        }
    }
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    TooLong {
        length: usize,
        max: usize,
    },
    /// Too little text to mean anything (`contains "a"`).
    TooShort(String),
    /// Not linear-time or not the same in JavaScript: look-around, back-references, inline flags.
    NotPortable(String),
    Invalid(String),
    /// Matches text that says nothing (`""`, `"error"`).
    CatchAll(&'static str),
    MissesCluster {
        matched: usize,
        of: usize,
    },
    TooBroad {
        matched: usize,
        of: usize,
        max_share: f64,
    },
    /// Matches a stored error of a class that is never transient.
    NeverTransient {
        fingerprint: String,
        class: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { length, max } => write!(f, "too long: {length} characters (at most {max})"),
            Self::TooShort(why) => write!(f, "too short: {why}"),
            Self::NotPortable(why) => write!(f, "not a linear-time, portable regex: {why}"),
            Self::Invalid(why) => write!(f, "invalid: {why}"),
            Self::CatchAll(probe) => write!(f, "catch-all: it matches \"{probe}\""),
            Self::MissesCluster { matched, of } => {
                write!(f, "misses its cluster: matches {matched} of its {of} errors")
            }
            Self::TooBroad {
                matched,
                of,
                max_share,
            } => write!(
                f,
                "too broad: matches {matched} of {of} other stored errors (at most {:.0} %)",
                max_share * 100.0
            ),
            Self::NeverTransient { fingerprint, class } => {
                write!(f, "matches {fingerprint}, a {class}: never transient")
            }
        }
    }
}

/// Texts a meaningful rule never matches.
const PROBES: [&str; 6] = ["", " ", "a", "0", "error", "Error: something went wrong"];

/// What a backtest found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    pub cluster: usize,
    pub cluster_matched: usize,
    /// Stored errors outside the cluster, and those it matches.
    pub others: usize,
    pub others_matched: usize,
    /// Share of the other stored errors it matches.
    pub other_share: f64,
    /// Every fingerprint it matches: those it would silence.
    pub matched: Vec<String>,
}

fn shape(rule: &Rule, limits: &Limits) -> Result<(), Refusal> {
    let length = rule.value.chars().count();
    if length > limits.max_value {
        return Err(Refusal::TooLong {
            length,
            max: limits.max_value,
        });
    }
    match rule.kind {
        RuleType::Contains => {
            let words: BTreeSet<&str> = rule.value.split_whitespace().collect();
            let significant: usize = words.iter().map(|w| w.chars().count()).sum();
            if !words.iter().any(|w| w.chars().count() >= 3) || significant < 6 {
                return Err(Refusal::TooShort(format!(
                    "\"{}\" needs a word of 3 characters and 6 in all",
                    rule.value
                )));
            }
        }
        RuleType::StartsWith if rule.value.trim().chars().count() < 8 => {
            return Err(Refusal::TooShort(format!(
                "prefix \"{}\" is under 8 characters",
                rule.value
            )));
        }
        RuleType::Regex => {
            let value = &rule.value;
            for (construct, why) in [
                ("(?", "look-around, inline flags and named groups"),
                ("\\p", "Unicode classes"),
                ("\\P", "Unicode classes"),
                ("\\A", "text anchors"),
                ("\\z", "text anchors"),
                ("[[:", "POSIX classes"),
            ] {
                if value.contains(construct) {
                    return Err(Refusal::NotPortable(format!("{construct} ({why})")));
                }
            }
            if (1..=9).any(|n| value.contains(&format!("\\{n}"))) {
                return Err(Refusal::NotPortable("back-references".to_owned()));
            }
            let alternations = value.matches('|').count();
            if alternations > limits.max_alternations {
                return Err(Refusal::NotPortable(format!(
                    "{alternations} alternations (at most {})",
                    limits.max_alternations
                )));
            }
        }
        RuleType::StartsWith | RuleType::StatusCode => {}
    }
    Ok(())
}

/// The rule compiled, or why it may not run: shape, compilation, catch-all probes.
pub fn compile(rule: &Rule, category: &str, limits: &Limits) -> Result<Pattern, Refusal> {
    shape(rule, limits)?;
    let pattern = rule.compile(category).map_err(Refusal::Invalid)?;
    if let Some(probe) = PROBES.iter().find(|p| pattern.is_match(p)) {
        return Err(Refusal::CatchAll(probe));
    }
    Ok(pattern)
}

/// Checks a rule proposed for `cluster` (fingerprints) against every stored error: it must match
/// every error of its cluster, and no more of the others than the limits allow.
pub fn check(
    rule: &Rule,
    category: &str,
    cluster: &BTreeSet<&str>,
    corpus: &[StoredError],
    limits: &Limits,
) -> Result<Backtest, Refusal> {
    let test = backtest(rule, category, cluster, corpus, limits)?;
    if test.cluster == 0 || test.cluster_matched < test.cluster {
        return Err(Refusal::MissesCluster {
            matched: test.cluster_matched,
            of: test.cluster,
        });
    }
    within_share(test, limits)
}

/// The check of a rule already past its discovery (at promotion, at approval): its cluster's
/// errors may have aged out of the stored ones, so only its breadth and the never-transient
/// classes are checked.
pub fn breadth(
    rule: &Rule,
    category: &str,
    cluster: &BTreeSet<&str>,
    corpus: &[StoredError],
    limits: &Limits,
) -> Result<Backtest, Refusal> {
    within_share(backtest(rule, category, cluster, corpus, limits)?, limits)
}

fn within_share(test: Backtest, limits: &Limits) -> Result<Backtest, Refusal> {
    if test.other_share > limits.max_other_share {
        return Err(Refusal::TooBroad {
            matched: test.others_matched,
            of: test.others,
            max_share: limits.max_other_share,
        });
    }
    Ok(test)
}

/// The rule compiled and run over every stored error; refused at once when it matches an error
/// of a class that is never transient.
fn backtest(
    rule: &Rule,
    category: &str,
    cluster: &BTreeSet<&str>,
    corpus: &[StoredError],
    limits: &Limits,
) -> Result<Backtest, Refusal> {
    let pattern = compile(rule, category, limits)?;
    let mut test = Backtest {
        cluster: 0,
        cluster_matched: 0,
        others: 0,
        others_matched: 0,
        other_share: 0.0,
        matched: Vec::new(),
    };
    for error in corpus {
        let hit = pattern.is_match(&error.sample);
        if hit && error.never_transient() {
            return Err(Refusal::NeverTransient {
                fingerprint: error.fingerprint.clone(),
                class: error
                    .exception
                    .clone()
                    .unwrap_or_else(|| "programming error".to_owned()),
            });
        }
        if cluster.contains(error.fingerprint.as_str()) {
            test.cluster += 1;
            test.cluster_matched += usize::from(hit);
        } else {
            test.others += 1;
            test.others_matched += usize::from(hit);
        }
        if hit {
            test.matched.push(error.fingerprint.clone());
        }
    }
    if test.others > 0 {
        test.other_share = test.others_matched as f64 / test.others as f64;
    }
    Ok(test)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::fixtures::error;

    fn corpus() -> Vec<StoredError> {
        let mut corpus = vec![
            error("vendor-1", "", "Vendor acme throttled request req_1", 5),
            error("vendor-2", "", "Vendor globex throttled request req_2", 5),
            error(
                "bug",
                "TypeError",
                "Cannot read properties of undefined (reading 'throttled')",
                9,
            ),
        ];
        for i in 0..40 {
            corpus.push(error(
                &format!("other-{i}"),
                "Error",
                &format!("order {i} failed validation"),
                3,
            ));
        }
        corpus
    }

    fn verdict(kind: RuleType, value: &str) -> Result<Backtest, Refusal> {
        let cluster: BTreeSet<&str> = ["vendor-1", "vendor-2"].into();
        check(
            &Rule::new(kind, value),
            "rate-limited",
            &cluster,
            &corpus(),
            &Limits::default(),
        )
    }

    #[test]
    fn a_narrow_rule_passes_with_what_it_would_silence() {
        let test = verdict(RuleType::Contains, "vendor throttled request").unwrap_or_else(|r| panic!("{r}"));
        assert_eq!(test.matched, ["vendor-1", "vendor-2"]);
        assert_eq!(test.others_matched, 0);
    }

    #[test]
    fn catastrophic_and_catch_all_rules_are_refused() {
        let refused = |kind, value: &str| {
            verdict(kind, value)
                .err()
                .map(|r| r.to_string())
                .unwrap_or_default()
        };
        // Catastrophic in a backtracking engine; here linear, and refused for matching "a".
        assert!(refused(RuleType::Regex, "(a+)+$").contains("catch-all"));
        assert!(refused(RuleType::Regex, r"(\w+)\1").contains("back-references"));
        assert!(refused(RuleType::Regex, "(?=vendor)v").contains("look-around"));
        assert!(refused(RuleType::Regex, ".*").contains("catch-all"));
        assert!(refused(RuleType::Regex, "x?").contains("catch-all"));
        assert!(refused(RuleType::Regex, &"a|".repeat(20)).contains("alternations"));
        assert!(refused(RuleType::Regex, &"vendor".repeat(40)).contains("too long"));
        assert!(refused(RuleType::Contains, "a e").contains("too short"));
        assert!(refused(RuleType::StartsWith, "Vendor").contains("too short"));
        assert!(refused(RuleType::Regex, "(").contains("invalid"));
    }

    #[test]
    fn broad_rules_and_rules_touching_bugs_are_refused() {
        let broad = verdict(RuleType::Regex, "(vendor|order)")
            .err()
            .map(|r| r.to_string())
            .unwrap_or_default();
        assert!(broad.starts_with("too broad: matches 40 of 41"), "{broad}");
        let bug = verdict(RuleType::Contains, "throttled")
            .err()
            .map(|r| r.to_string())
            .unwrap_or_default();
        assert_eq!(bug, "matches bug, a TypeError: never transient");
        let misses = verdict(RuleType::Contains, "acme throttled")
            .err()
            .map(|r| r.to_string())
            .unwrap_or_default();
        assert_eq!(misses, "misses its cluster: matches 1 of its 2 errors");
    }
}
