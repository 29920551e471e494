//! Message templates, mined as Drain does: a message is split into tokens, variable tokens (ids,
//! numbers, the normaliser's placeholders) are masked, messages are grouped by token count and
//! first token, and a message joins the most similar template of its group when enough of the
//! template's constant tokens agree; the tokens that differ become wildcards. One pass, no
//! randomness: the same errors always give the same templates.

use std::collections::BTreeMap;

use crate::corpus::StoredError;

/// A variable token of a template.
pub const WILDCARD: &str = "<*>";
/// Tokens compared per message: longer messages are cut (the normaliser already cuts at 200
/// characters).
const MAX_TOKENS: usize = 40;

/// Whether a token is a variable: it holds a digit, a normaliser placeholder (`{n}`, `{uuid}`,
/// ...), an address or a path, or is too long to be a word.
pub fn is_variable(token: &str) -> bool {
    token.chars().any(|c| c.is_ascii_digit())
        || token.contains('{')
        || token.contains("://")
        || token.contains('@')
        || token.matches('/').count() > 1
        || token.chars().count() > 32
}

/// The masked tokens of a message.
pub fn tokens(message: &str) -> Vec<String> {
    message
        .split_whitespace()
        .take(MAX_TOKENS)
        .map(|t| {
            if is_variable(t) {
                WILDCARD.to_owned()
            } else {
                t.to_owned()
            }
        })
        .collect()
}

/// A template and the stored errors it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Stable within a run and across runs over the same errors: a digest of the template.
    pub id: String,
    pub template: Vec<String>,
    /// Indices into the mined slice.
    pub members: Vec<usize>,
    /// Occurrences of all members.
    pub occurrences: u64,
}

impl Cluster {
    /// The template as text.
    pub fn text(&self) -> String {
        self.template.join(" ")
    }

    /// The constant tokens, in order.
    pub fn constants(&self) -> impl Iterator<Item = &str> {
        self.template
            .iter()
            .map(String::as_str)
            .filter(|t| *t != WILDCARD)
    }
}

/// A template being mined and the indices of its members.
type Draft = (Vec<String>, Vec<usize>);

/// How alike a message is to a template: the share of the template's constant tokens it has in
/// the same place. Positions the template already made variable do not count.
fn similarity(template: &[String], message: &[String]) -> f64 {
    let constants = template.iter().filter(|t| *t != WILDCARD).count();
    if constants == 0 {
        return if message.iter().all(|t| t == WILDCARD) {
            1.0
        } else {
            0.0
        };
    }
    let equal = template
        .iter()
        .zip(message)
        .filter(|(t, m)| *t != WILDCARD && t == m)
        .count();
    equal as f64 / constants as f64
}

fn cluster_id(template: &[String]) -> String {
    format!("c-{}", &crate::digest(&template.join(" "))[..12])
}

/// Mines the templates of `errors`, most frequent errors first; `threshold` is the similarity a
/// message needs to join a template (0.7 keeps two different words of a four-word message apart).
/// Clusters come out largest first.
pub fn mine(errors: &[&StoredError], threshold: f64) -> Vec<Cluster> {
    let mut order: Vec<usize> = (0..errors.len()).collect();
    order.sort_by(|&a, &b| {
        errors[b]
            .occurrences
            .cmp(&errors[a].occurrences)
            .then_with(|| errors[a].fingerprint.cmp(&errors[b].fingerprint))
    });
    // (token count, first token) → the group's templates with their members.
    let mut groups: BTreeMap<(usize, String), Vec<Draft>> = BTreeMap::new();
    for index in order {
        let message = tokens(&errors[index].message);
        let Some(first) = message.first() else {
            continue;
        };
        let group = groups.entry((message.len(), first.clone())).or_default();
        let best = group
            .iter()
            .enumerate()
            .map(|(i, (template, _))| (i, similarity(template, &message)))
            .filter(|(_, s)| *s >= threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((i, _)) => {
                let (template, members) = &mut group[i];
                for (t, m) in template.iter_mut().zip(&message) {
                    if t != m {
                        *t = WILDCARD.to_owned();
                    }
                }
                members.push(index);
            }
            None => group.push((message, vec![index])),
        }
    }
    let mut clusters: Vec<Cluster> = groups
        .into_values()
        .flatten()
        .map(|(template, members)| Cluster {
            id: cluster_id(&template),
            occurrences: members.iter().map(|&i| errors[i].occurrences).sum(),
            template,
            members,
        })
        .collect();
    clusters.sort_by(|a, b| b.occurrences.cmp(&a.occurrences).then_with(|| a.id.cmp(&b.id)));
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::fixtures::error;

    #[test]
    fn variable_tokens_are_masked() {
        assert_eq!(
            tokens("vendor acme throttled request req_{n}f{n}a at {ts}"),
            ["vendor", "acme", "throttled", "request", WILDCARD, "at", WILDCARD]
        );
        assert!(is_variable("https://x.example/a"));
        assert!(is_variable("jane@example.com"));
        assert!(!is_variable("throttled"));
    }

    #[test]
    fn a_differing_word_becomes_a_wildcard_but_different_messages_stay_apart() {
        let errors = [
            error("a", "", "vendor acme throttled request req_1 slow down", 4),
            error("b", "", "vendor globex throttled request req_2 slow down", 3),
            error("c", "", "vendor initech throttled request req_3 slow down", 3),
            error("d", "", "order 12 failed: card declined", 5),
            error("e", "", "order 13 failed: gateway busy", 5),
        ];
        let refs: Vec<&StoredError> = errors.iter().collect();
        let clusters = mine(&refs, 0.7);
        assert_eq!(clusters.len(), 3, "{clusters:#?}");
        let vendor = clusters
            .iter()
            .find(|c| c.members.len() == 3)
            .unwrap_or_else(|| panic!("no vendor cluster"));
        assert_eq!(vendor.text(), "vendor <*> throttled request <*> slow down");
        assert_eq!(vendor.occurrences, 10);
    }

    #[test]
    fn mining_is_deterministic_whatever_the_input_order() {
        let errors = [
            error("a", "", "queue backlog on shard 1 is draining", 4),
            error("b", "", "queue backlog on shard 2 is draining", 9),
            error("c", "", "queue backlog on shard 3 is growing", 2),
        ];
        let forward: Vec<&StoredError> = errors.iter().collect();
        let backward: Vec<&StoredError> = errors.iter().rev().collect();
        let ids = |refs: &[&StoredError]| -> Vec<(String, String)> {
            mine(refs, 0.7)
                .into_iter()
                .map(|c| (c.id.clone(), c.text()))
                .collect()
        };
        assert_eq!(ids(&forward), ids(&backward));
    }
}
