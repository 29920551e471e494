//! The operator's approved dynamic patterns (`PATTERNS:DYNAMIC:APPROVED`): `contains` (every
//! whitespace-separated token, case-insensitive), `startsWith` (case-insensitive), `statusCode`
//! (the code as a whole word) and `regex` (linear time, case-insensitive, at most 200 characters).
//! Invalid rules are dropped, never fatal.

use regex_lite::Regex;
use serde_json::Value;

/// Longest `regex` accepted.
pub const MAX_REGEX: usize = 200;

#[derive(Debug, Clone)]
enum Rule {
    Contains(Vec<String>),
    StartsWith(String),
    Regex(Regex),
}

/// One approved pattern and the category it assigns.
#[derive(Debug, Clone)]
pub struct Pattern {
    rule: Rule,
    pub category: String,
}

/// The valid patterns of the approved list, in order.
#[derive(Debug, Clone, Default)]
pub struct Patterns(Vec<Pattern>);

/// A category as it may appear in a key and a label: lower-case letters, digits and dashes.
fn category(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let cleaned = cleaned.trim_matches('-').to_owned();
    (!cleaned.is_empty() && cleaned.len() <= 64).then_some(cleaned)
}

impl Pattern {
    fn parse(value: &Value) -> Option<Self> {
        let kind = value.get("type")?.as_str()?;
        let raw = value.get("value")?;
        let text = match raw {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        if text.trim().is_empty() {
            return None;
        }
        let rule = match kind {
            "contains" => Rule::Contains(text.split_whitespace().map(str::to_lowercase).collect()),
            "startsWith" => Rule::StartsWith(text.to_lowercase()),
            "statusCode" => {
                let code: u16 = text.trim().parse().ok()?;
                Rule::Regex(Regex::new(&format!(r"\b{code}\b")).ok()?)
            }
            "regex" if text.len() <= MAX_REGEX => Rule::Regex(Regex::new(&format!("(?i){text}")).ok()?),
            _ => return None,
        };
        Some(Self {
            rule,
            category: category(value.get("category")?.as_str()?)?,
        })
    }

    fn matches(&self, message: &str, lower: &str) -> bool {
        match &self.rule {
            Rule::Contains(tokens) => tokens.iter().all(|t| lower.contains(t.as_str())),
            Rule::StartsWith(prefix) => lower.trim_start().starts_with(prefix.as_str()),
            Rule::Regex(re) => re.is_match(message),
        }
    }
}

impl Patterns {
    /// Reads the approved list; entries that are not valid rules are skipped.
    pub fn parse(list: &[Value]) -> Self {
        Self(list.iter().filter_map(Pattern::parse).collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The category of the first matching pattern.
    pub fn classify(&self, message: &str) -> Option<&str> {
        let lower = message.to_lowercase();
        self.0
            .iter()
            .find(|p| p.matches(message, &lower))
            .map(|p| p.category.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_rule_type_matches_and_invalid_rules_are_dropped() {
        let patterns = Patterns::parse(&[
            json!({"type": "contains", "value": "vendor flaky", "category": "vendor-flaky"}),
            json!({"type": "startsWith", "value": "Payment gateway", "category": "payments"}),
            json!({"type": "statusCode", "value": 418, "category": "teapot"}),
            json!({"type": "regex", "value": "^cache miss .* shard \\d+$", "category": "Cache Miss"}),
            json!({"type": "regex", "value": "(", "category": "broken"}),
            json!({"type": "regex", "value": "a".repeat(201), "category": "too-long"}),
            json!({"type": "glob", "value": "*", "category": "unknown-type"}),
            json!("not an object"),
        ]);
        assert_eq!(patterns.len(), 4);
        assert_eq!(patterns.classify("The FLAKY vendor again"), Some("vendor-flaky"));
        assert_eq!(patterns.classify("payment gateway said no"), Some("payments"));
        assert_eq!(patterns.classify("got 418 from pot"), Some("teapot"));
        assert_eq!(patterns.classify("got 4180 from pot"), None);
        assert_eq!(patterns.classify("Cache miss on shard 7"), Some("cache-miss"));
        assert_eq!(patterns.classify("vendor only"), None);
    }
}
