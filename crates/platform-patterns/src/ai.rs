//! The optional model: it is shown the mined clusters, each under its id, and may name a category
//! and propose a rule for some of them. Its answer is untrusted input: each proposal is matched
//! to its cluster by the id it gives (never by its position, since it may skip clusters), and
//! goes through the same safety checks, shadow and review as a mined rule.

use serde_json::{json, Value};

use crate::discovery::ClusterView;
use crate::signal::valid_category;
use crate::synth::Rule;
use platform_errors::patterns::RuleType;

/// Clusters shown to the model per run.
pub const MAX_CLUSTERS: usize = 10;

/// The instructions and the clusters, as the chat messages of a Workers AI text model.
pub fn messages(clusters: &[ClusterView]) -> Value {
    let shown: Vec<Value> = clusters
        .iter()
        .take(MAX_CLUSTERS)
        .map(|c| json!({"id": c.id, "template": c.template, "occurrences": c.occurrences, "samples": c.samples}))
        .collect();
    json!([
        {"role": "system", "content": "You classify recurring errors of Cloudflare Workers. An error is transient when it comes from outside the code and passes by itself (rate limits, timeouts, upstream 5xx, dropped connections). For each TRANSIENT cluster only, propose the narrowest rule that matches all its samples: type contains (space-separated words that must all appear), startsWith, statusCode or regex. Answer only JSON: {\"patterns\": [{\"cluster\": \"<the cluster id>\", \"type\": \"contains\", \"value\": \"...\", \"category\": \"rate-limited\"}]}. Skip clusters that look like bugs."},
        {"role": "user", "content": Value::Array(shown).to_string()},
    ])
}

/// A proposal read from the answer: the cluster it names and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub cluster: String,
    pub rule: Rule,
    pub category: String,
}

/// The JSON object in a model's answer: the answer itself, or the first object in its text
/// (`{"response": "Here you go: {...}"}`).
fn answer_object(answer: &Value) -> Option<Value> {
    let text = match answer.get("response") {
        Some(Value::String(text)) => text.clone(),
        Some(object @ Value::Object(_)) => return Some(object.clone()),
        _ => return answer.get("patterns").map(|_| answer.clone()),
    };
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str(text.get(start..=end)?).ok()
}

/// The proposals of an answer that name a cluster that was shown, with a known rule type and a
/// usable category; what was left out, and why, in `ignored`.
pub fn read(answer: &Value, clusters: &[ClusterView], ignored: &mut Vec<String>) -> Vec<Proposal> {
    let Some(object) = answer_object(answer) else {
        ignored.push("the answer holds no JSON object".to_owned());
        return Vec::new();
    };
    let Some(list) = object.get("patterns").and_then(Value::as_array) else {
        ignored.push("the answer has no \"patterns\" list".to_owned());
        return Vec::new();
    };
    let mut proposals = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let text = |field: &str| item.get(field).and_then(Value::as_str).map(str::trim);
        let cluster = match text("cluster") {
            Some(id) if clusters.iter().take(MAX_CLUSTERS).any(|c| c.id == id) => id.to_owned(),
            Some(id) => {
                ignored.push(format!("patterns[{i}]: cluster \"{id}\" was not shown"));
                continue;
            }
            None => {
                ignored.push(format!("patterns[{i}]: no cluster id"));
                continue;
            }
        };
        let Some(kind) = text("type").and_then(RuleType::parse) else {
            ignored.push(format!("patterns[{i}]: unknown rule type"));
            continue;
        };
        let value = match item.get("value") {
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                ignored.push(format!("patterns[{i}]: no value"));
                continue;
            }
        };
        let Some(category) = text("category").and_then(valid_category) else {
            ignored.push(format!("patterns[{i}]: no usable category"));
            continue;
        };
        proposals.push(Proposal {
            cluster,
            rule: Rule::new(kind, value),
            category,
        });
    }
    proposals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(id: &str) -> ClusterView {
        ClusterView {
            id: id.to_owned(),
            template: format!("template of {id}"),
            occurrences: 9,
            fingerprints: vec![format!("fp-{id}")],
            samples: vec![format!("sample of {id}")],
            category: None,
        }
    }

    #[test]
    fn proposals_are_matched_by_cluster_id_even_when_the_model_skips_clusters() {
        let clusters = [cluster("c-1"), cluster("c-2"), cluster("c-3")];
        // The model skipped c-1 and answered c-3 before c-2, inside prose.
        let answer = json!({"response": "Sure! {\"patterns\": [\
            {\"cluster\": \"c-3\", \"type\": \"contains\", \"value\": \"vendor busy\", \"category\": \"Service Unavailable\"},\
            {\"cluster\": \"c-2\", \"type\": \"statusCode\", \"value\": 521, \"category\": \"upstream-5xx\"},\
            {\"cluster\": \"c-9\", \"type\": \"contains\", \"value\": \"x\", \"category\": \"y\"},\
            {\"cluster\": \"c-1\", \"type\": \"glob\", \"value\": \"*\", \"category\": \"y\"}]} Hope it helps."});
        let mut ignored = Vec::new();
        let proposals = read(&answer, &clusters, &mut ignored);
        assert_eq!(
            proposals,
            [
                Proposal {
                    cluster: "c-3".into(),
                    rule: Rule::new(RuleType::Contains, "vendor busy"),
                    category: "service-unavailable".into()
                },
                Proposal {
                    cluster: "c-2".into(),
                    rule: Rule::new(RuleType::StatusCode, "521"),
                    category: "upstream-5xx".into()
                },
            ]
        );
        assert_eq!(
            ignored,
            [
                "patterns[2]: cluster \"c-9\" was not shown",
                "patterns[3]: unknown rule type"
            ]
        );
    }

    #[test]
    fn an_answer_without_json_is_ignored_with_a_reason() {
        let mut ignored = Vec::new();
        assert!(read(&json!({"response": "no idea"}), &[cluster("c-1")], &mut ignored).is_empty());
        assert_eq!(ignored, ["the answer holds no JSON object"]);
        assert!(messages(&[cluster("c-1")]).to_string().contains("c-1"));
    }
}
