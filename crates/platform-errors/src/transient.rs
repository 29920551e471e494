//! Transient (expected, operational) error categories. A category replaces the message in the
//! fingerprint and allows one issue per category, script and day. Programming errors are never
//! transient, whatever their message says. A bare status code counts only next to words that make
//! it one ("returned 503", "status: 429"): "order 503 failed" is not a 503.

use std::sync::OnceLock;

use regex_lite::Regex;

/// Exception names that always mean a bug in the code.
const PROGRAMMING_ERRORS: [&str; 3] = ["TypeError", "ReferenceError", "SyntaxError"];

/// `(category, any of these lower-case fragments)`, first match wins; more specific first.
const STATIC: &[(&str, &[&str])] = &[
    (
        "quota-exhausted",
        &[
            "quota exceeded",
            "quotaexceeded",
            "quota_exceeded",
            "quota exhausted",
            "daily limit exceeded",
            "safety limit",
        ],
    ),
    (
        "rate-limited",
        &[
            "rate limit",
            "ratelimit",
            "rate-limit",
            "rate_limited",
            "too many requests",
        ],
    ),
    ("service-unavailable", &["service unavailable"]),
    ("bad-gateway", &["bad gateway"]),
    ("gateway-timeout", &["gateway timeout"]),
    ("upstream-5xx", &["internal server error"]),
    ("connection-refused", &["econnrefused", "connection refused"]),
    (
        "connection-reset",
        &["econnreset", "connection reset", "network connection lost"],
    ),
    ("dns-not-found", &["enotfound", "getaddrinfo"]),
    ("connection-timeout", &["etimedout"]),
    ("timeout", &["timed out", "timeout"]),
    (
        "do-reset",
        &[
            "durable object reset",
            "durable object is overloaded",
            "durable object storage operation exceeded",
        ],
    ),
    ("deployment-reset", &["code was updated", "worker was updated"]),
    ("d1-rate-limited", &["too many api requests by single worker"]),
];

fn status_code(message: &str) -> Option<&'static str> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| {
            Regex::new(
                r"(?i)\b(?:status|code|http|returned|responded|answered|response|upstream|got|with)\b[^0-9\n]{0,12}\b(429|500|502|503|504)\b",
            )
            .ok()
        })
        .as_ref()?;
    let code = re.captures(message)?.get(1)?.as_str();
    Some(match code {
        "429" => "rate-limited",
        "502" => "bad-gateway",
        "503" => "service-unavailable",
        "504" => "gateway-timeout",
        _ => "upstream-5xx",
    })
}

/// Whether an exception name rules out a transient category.
pub fn is_programming_error(exception_name: Option<&str>) -> bool {
    exception_name.is_some_and(|name| PROGRAMMING_ERRORS.contains(&name))
}

/// Whether the error is a programming error, by its exception name or the message's own
/// `TypeError: ...` prefix: no category, static or dynamic, ever applies to it.
pub fn never_transient(message: &str, exception_name: Option<&str>) -> bool {
    is_programming_error(exception_name) || starts_with_programming_error(message)
}

/// The static category of a raw message, unless the error is a programming error.
pub fn classify(message: &str, exception_name: Option<&str>) -> Option<&'static str> {
    if never_transient(message, exception_name) {
        return None;
    }
    let lower = message.to_lowercase();
    STATIC
        .iter()
        .find(|(_, fragments)| fragments.iter().any(|f| lower.contains(f)))
        .map(|(category, _)| *category)
        .or_else(|| status_code(message))
}

/// `TypeError: ...` written into a log line is a programming error too.
fn starts_with_programming_error(message: &str) -> bool {
    let trimmed = message.trim_start();
    PROGRAMMING_ERRORS
        .iter()
        .any(|name| trimmed.starts_with(name) && trimmed[name.len()..].starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operational_messages_have_categories() {
        assert_eq!(
            classify("Upstream answered 429 Too Many Requests", Some("Error")),
            Some("rate-limited")
        );
        assert_eq!(
            classify("fetch failed: ECONNRESET", None),
            Some("connection-reset")
        );
        assert_eq!(
            classify("Daily quota exceeded for key", None),
            Some("quota-exhausted")
        );
        assert_eq!(
            classify("upstream returned 503", None),
            Some("service-unavailable")
        );
        assert_eq!(
            classify("Durable Object reset because its code was updated", None),
            Some("do-reset")
        );
        assert_eq!(classify("Cannot read properties of undefined", None), None);
        assert_eq!(classify("upstream returned 502", None), Some("bad-gateway"));
        assert_eq!(
            classify("fetch failed with status: 429", None),
            Some("rate-limited")
        );
        assert_eq!(classify("order 503 failed", None), None);
    }

    #[test]
    fn programming_errors_are_never_transient() {
        assert_eq!(classify("timeoutMs is not defined", Some("ReferenceError")), None);
        assert_eq!(classify("TypeError: timeout is not a function", None), None);
        assert!(!is_programming_error(Some("Error")));
    }
}
