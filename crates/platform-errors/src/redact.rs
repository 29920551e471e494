//! What may leave the platform: query strings, credentials and personal data are masked before
//! anything is written to GitHub.

use std::sync::OnceLock;

use regex_lite::Regex;

pub const MASK: &str = "[redacted]";

struct Rules(Vec<(Regex, &'static str)>);

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        let table: [(&str, &str); 8] = [
            // Query strings and fragments of URLs: they carry tokens and personal data.
            (r#"(?i)\b(https?://[^\s?#"'<>`]*)[?#][^\s"'<>`]*"#, "${1}?[redacted]"),
            // Authorization, cookies and API-key headers, as `Name: value` or JSON `"name":"value"`.
            (
                r#"(?i)("?(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token|cf-access-jwt-assertion)"?\s*[:=]\s*)("[^"]*"|[^\n,}]*)"#,
                "${1}[redacted]",
            ),
            (r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+", "Bearer [redacted]"),
            (r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", "[redacted-jwt]"),
            (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "[redacted-email]"),
            // key=value and "key": "value" pairs whose name says secret.
            (
                r#"(?i)("?[a-z0-9_-]*(?:token|secret|password|passwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key|signature|session|credential)[a-z0-9_-]*"?\s*[:=]\s*)("[^"]*"|[^\s&,;}]+)"#,
                "${1}[redacted]",
            ),
            // Well-known key formats: GitHub, Slack, Stripe, AWS, Google.
            (
                r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,})",
                "[redacted-key]",
            ),
            // Long opaque runs of letters and digits (40+) are treated as keys.
            (r"\b[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*[A-Za-z][A-Za-z0-9_-]{38,}\b", "[redacted-key]"),
        ];
        Rules(
            table
                .iter()
                .filter_map(|(pattern, replacement)| Regex::new(pattern).ok().map(|re| (re, *replacement)))
                .collect(),
        )
    })
}

/// `text` with every secret-looking part masked.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for (re, replacement) in &rules().0 {
        out = re.replace_all(&out, *replacement).into_owned();
    }
    out
}

/// A request URL as it may be shown: scheme, host and path, never the query.
pub fn redact_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    redact(&url[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let samples = [
            (
                "GET https://api.example.com/v1/items?api_key=SECRET123&user=bob",
                "SECRET123",
            ),
            ("Authorization: Bearer abc.def-SECRET", "SECRET"),
            (r#"{"headers":{"cookie":"session=SECRETCOOKIE"}}"#, "SECRETCOOKIE"),
            ("contact jane.doe@example.com now", "jane.doe@example.com"),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SIGNATUREPART",
                "SIGNATUREPART",
            ),
            ("password=hunter2 failed", "hunter2"),
            (r#"{"client_secret": "S3CR3T"}"#, "S3CR3T"),
            ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdef"),
            ("sk_live_ABCDEFGHIJKLMNOP used", "sk_live_ABCDEFGHIJ"),
        ];
        for (input, secret) in samples {
            let out = redact(input);
            assert!(!out.contains(secret), "{input} → {out}");
        }
        assert_eq!(redact("plain message 42"), "plain message 42");
    }

    #[test]
    fn urls_lose_their_query() {
        assert_eq!(
            redact_url("https://a.example/x/y?token=1#frag"),
            "https://a.example/x/y"
        );
    }
}
