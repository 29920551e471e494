//! Transient (expected, operational) error categories. A category replaces the message in the
//! fingerprint and allows one issue per category, script and day. Programming errors are never
//! transient, whatever their message says.

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
            " 429",
        ],
    ),
    ("service-unavailable", &["service unavailable", " 503"]),
    ("bad-gateway", &["bad gateway", " 502"]),
    ("gateway-timeout", &["gateway timeout", " 504"]),
    ("upstream-5xx", &["internal server error", " 500"]),
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

/// Whether an exception name rules out a transient category.
pub fn is_programming_error(exception_name: Option<&str>) -> bool {
    exception_name.is_some_and(|name| PROGRAMMING_ERRORS.contains(&name))
}

/// The static category of a raw message, unless the error is a programming error.
pub fn classify(message: &str, exception_name: Option<&str>) -> Option<&'static str> {
    if is_programming_error(exception_name) || starts_with_programming_error(message) {
        return None;
    }
    let padded = format!(" {}", message.to_lowercase());
    STATIC
        .iter()
        .find(|(_, fragments)| fragments.iter().any(|f| padded.contains(f)))
        .map(|(category, _)| *category)
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
    }

    #[test]
    fn programming_errors_are_never_transient() {
        assert_eq!(classify("timeoutMs is not defined", Some("ReferenceError")), None);
        assert_eq!(classify("TypeError: timeout is not a function", None), None);
        assert!(!is_programming_error(Some("Error")));
    }
}
