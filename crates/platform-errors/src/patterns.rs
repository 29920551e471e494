//! Dynamic patterns (`PATTERNS:DYNAMIC:APPROVED`, and the shadow list pattern discovery tests):
//! `contains` (every whitespace-separated token, case-insensitive), `startsWith`
//! (case-insensitive), `statusCode` (the code as a whole word) and `regex` (linear time,
//! case-insensitive, at most 200 characters). Invalid rules are dropped, never fatal.

use std::fmt;

use regex_lite::{Regex, RegexBuilder};
use serde_json::Value;

/// Longest `regex` accepted.
pub const MAX_REGEX: usize = 200;
/// Compiled size a `regex` may take: a rule is small, a huge program is a hostile one.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// The four rule types of the DSL, spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleType {
    Contains,
    StartsWith,
    StatusCode,
    Regex,
}

impl RuleType {
    pub const ALL: [RuleType; 4] = [Self::Contains, Self::StartsWith, Self::StatusCode, Self::Regex];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contains => "contains",
            Self::StartsWith => "startsWith",
            Self::StatusCode => "statusCode",
            Self::Regex => "regex",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

impl fmt::Display for RuleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
enum Rule {
    Contains(Vec<String>),
    StartsWith(String),
    Regex(Regex),
}

impl Rule {
    /// The compiled rule, or why the value is not one.
    fn compile(kind: RuleType, text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("the value is empty".to_owned());
        }
        match kind {
            RuleType::Contains => Ok(Self::Contains(
                text.split_whitespace().map(str::to_lowercase).collect(),
            )),
            RuleType::StartsWith => Ok(Self::StartsWith(text.trim_start().to_lowercase())),
            RuleType::StatusCode => {
                let code: u16 = text
                    .trim()
                    .parse()
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .ok_or_else(|| format!("\"{text}\" is not an HTTP status code"))?;
                Ok(Self::Regex(regex(&format!(r"\b{code}\b"))?))
            }
            RuleType::Regex if text.len() > MAX_REGEX => Err(format!(
                "the regex is {} characters long (at most {MAX_REGEX})",
                text.len()
            )),
            RuleType::Regex => Ok(Self::Regex(regex(text)?)),
        }
    }

    fn matches(&self, message: &str, lower: &str) -> bool {
        match self {
            Self::Contains(tokens) => tokens.iter().all(|t| lower.contains(t.as_str())),
            Self::StartsWith(prefix) => lower.trim_start().starts_with(prefix.as_str()),
            Self::Regex(re) => re.is_match(message),
        }
    }
}

/// Case-insensitive and size-bounded; regex-lite has no backtracking, so matching is linear in
/// the message whatever the pattern.
fn regex(source: &str) -> Result<Regex, String> {
    RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("the regex does not compile: {e}"))
}

/// One pattern and the category it assigns.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern's id when the list gives one (pattern discovery always does).
    pub id: Option<String>,
    pub kind: RuleType,
    pub category: String,
    rule: Rule,
}

/// The valid patterns of a list, in order.
#[derive(Debug, Clone, Default)]
pub struct Patterns(Vec<Pattern>);

/// A category as it may appear in a key and a label: lower-case letters, digits and dashes.
pub fn category(raw: &str) -> Option<String> {
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
    /// A rule of the DSL, or why it is not one.
    pub fn compile(kind: RuleType, value: &str, category_name: &str) -> Result<Self, String> {
        Ok(Self {
            id: None,
            kind,
            category: category(category_name)
                .ok_or_else(|| format!("\"{category_name}\" is not a category"))?,
            rule: Rule::compile(kind, value)?,
        })
    }

    fn parse(value: &Value) -> Option<Self> {
        let kind = RuleType::parse(value.get("type")?.as_str()?)?;
        let text = match value.get("value")? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let mut pattern = Self::compile(kind, &text, value.get("category")?.as_str()?).ok()?;
        pattern.id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        Some(pattern)
    }

    /// Whether the rule matches `message`.
    pub fn is_match(&self, message: &str) -> bool {
        self.rule.matches(message, &message.to_lowercase())
    }
}

impl Patterns {
    /// Reads a pattern list; entries that are not valid rules are skipped.
    pub fn parse(list: &[Value]) -> Self {
        Self(list.iter().filter_map(Pattern::parse).collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first matching pattern.
    pub fn first_match(&self, message: &str) -> Option<&Pattern> {
        let lower = message.to_lowercase();
        self.0.iter().find(|p| p.rule.matches(message, &lower))
    }

    /// The category of the first matching pattern.
    pub fn classify(&self, message: &str) -> Option<&str> {
        self.first_match(message).map(|p| p.category.as_str())
    }

    /// Every matching pattern.
    pub fn matching<'a>(&'a self, message: &str) -> impl Iterator<Item = &'a Pattern> + 'a {
        let lower = message.to_lowercase();
        let message = message.to_owned();
        self.0.iter().filter(move |p| p.rule.matches(&message, &lower))
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
            json!({"type": "regex", "value": "(?<=a)b", "category": "lookbehind"}),
            json!({"type": "statusCode", "value": "4180", "category": "not-a-code"}),
            json!({"type": "contains", "value": "   ", "category": "blank"}),
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

    #[test]
    fn compile_says_why_a_rule_is_refused() {
        let refused = |kind, value: &str| Pattern::compile(kind, value, "c").err().unwrap_or_default();
        assert!(refused(RuleType::Regex, "(a").contains("does not compile"));
        assert!(refused(RuleType::Regex, &"a".repeat(300)).contains("300 characters"));
        assert!(refused(RuleType::StatusCode, "42").contains("not an HTTP status code"));
        assert!(refused(RuleType::Contains, " ").contains("empty"));
        assert!(Pattern::compile(RuleType::Contains, "x", "   ").is_err());
    }
}
