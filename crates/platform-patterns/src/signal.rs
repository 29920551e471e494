//! The transient signal of a template: words that say an error came from outside and passes by
//! itself (a vendor throttling, a deadline, an overloaded upstream, a dropped connection). A
//! template without one is left alone: it is probably a bug, and a bug keeps its issue. The words
//! are matched in the template's constant tokens only, never in what varies.

use std::sync::OnceLock;

use platform_errors::patterns::category;
use regex_lite::Regex;

/// `(category, lower-case fragments)`; first match wins, the most specific first.
const LEXICON: &[(&str, &[&str])] = &[
    (
        "quota-exhausted",
        &[
            "quota",
            "limit exceeded",
            "limit reached",
            "insufficient credits",
            "out of credits",
        ],
    ),
    (
        "rate-limited",
        &[
            "throttl",
            "rate limit",
            "ratelimit",
            "rate-limit",
            "too many requests",
            "slow down",
        ],
    ),
    (
        "timeout",
        &[
            "timeout",
            "timed out",
            "deadline exceeded",
            "took too long",
            "did not respond in time",
        ],
    ),
    (
        "connection-error",
        &[
            "econnreset",
            "econnrefused",
            "etimedout",
            "socket hang up",
            "connection reset",
            "connection refused",
            "connection closed",
            "network connection lost",
            "network error",
            "fetch failed",
        ],
    ),
    (
        "service-unavailable",
        &[
            "unavailable",
            "overloaded",
            "try again later",
            "temporarily",
            "under maintenance",
            "at capacity",
            "server busy",
        ],
    ),
    (
        "upstream-5xx",
        &[
            "internal server error",
            "bad gateway",
            "gateway timeout",
            "internal error",
        ],
    ),
    (
        "deployment-related",
        &[
            "code was updated",
            "worker restarted",
            "object was reset",
            "durable object reset",
        ],
    ),
];

/// The category a template's constant tokens signal, if any.
pub fn category_of<'a>(constants: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let text = constants.into_iter().collect::<Vec<_>>().join(" ").to_lowercase();
    LEXICON
        .iter()
        .find(|(_, fragments)| fragments.iter().any(|f| text.contains(f)))
        .map(|(category, _)| *category)
}

/// A status code that means a passing upstream failure (429, 5xx) and that every sample carries
/// as a whole word: the normaliser masks numbers, so it is read from the samples.
pub fn shared_status<'a>(samples: impl IntoIterator<Item = &'a str>) -> Option<u16> {
    static CODE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = CODE
        .get_or_init(|| Regex::new(r"\b(429|5[0-9][0-9])\b").ok())
        .as_ref()?;
    let mut shared: Option<Vec<u16>> = None;
    for sample in samples {
        let codes: Vec<u16> = re
            .captures_iter(sample)
            .filter_map(|c| c.get(1)?.as_str().parse().ok())
            .collect();
        shared = Some(match shared {
            None => codes,
            Some(before) => before.into_iter().filter(|c| codes.contains(c)).collect(),
        });
    }
    shared?.first().copied()
}

/// The category of a status code.
pub fn status_category(code: u16) -> &'static str {
    match code {
        429 => "rate-limited",
        502 => "bad-gateway",
        503 => "service-unavailable",
        504 => "gateway-timeout",
        _ => "upstream-5xx",
    }
}

/// A category as the DSL accepts it (a model may answer with anything).
pub fn valid_category(raw: &str) -> Option<String> {
    category(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operational_words_signal_a_category_and_bugs_do_not() {
        let of = |text: &str| category_of(text.split(' '));
        assert_eq!(of("vendor <*> throttled request <*>"), Some("rate-limited"));
        assert_eq!(of("upstream deadline exceeded after <*> ms"), Some("timeout"));
        assert_eq!(
            of("billing api is temporarily overloaded"),
            Some("service-unavailable")
        );
        assert_eq!(of("Cannot read properties of undefined (reading 'id')"), None);
        assert_eq!(of("NOT NULL constraint failed: orders.customer_id"), None);
    }

    #[test]
    fn a_status_code_counts_only_when_every_sample_has_it() {
        assert_eq!(
            shared_status(["vendor said 520 (req 1)", "vendor said 520 (req 2)"]),
            Some(520)
        );
        assert_eq!(shared_status(["vendor said 520", "vendor said 522"]), None);
        assert_eq!(shared_status(["order 5201 failed"]), None);
        assert_eq!(status_category(429), "rate-limited");
    }
}
