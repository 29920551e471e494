//! Message and route normalising: variable parts (ids, times, addresses, numbers) become
//! placeholders so that one error keeps one fingerprint.

use std::sync::OnceLock;

use regex_lite::Regex;
use serde_json::Value;

/// Longest normalised message kept (characters).
pub const MAX_MESSAGE: usize = 200;

/// The message of a log argument: the `.message` of a JSON object line, else the text itself.
pub fn core_message(raw: &str) -> String {
    let trimmed = raw.trim();
    if trimmed.starts_with('{') {
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(trimmed) {
            if let Some(Value::String(message)) = object.get("message") {
                return message.clone();
            }
        }
    }
    raw.to_owned()
}

struct Rules(Vec<(Regex, &'static str)>);

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        let table: [(&str, &str); 7] = [
            (
                r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                "{uuid}",
            ),
            (
                r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?",
                "{ts}",
            ),
            (r"\b\d{4}-\d{2}-\d{2}\b", "{date}"),
            (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "{ip}"),
            (r"(?i)\b(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{1,4}\b", "{ip}"),
            (r"(?i)\b(?:0x)?[0-9a-f]*[a-f][0-9a-f]*\b", "{hex}"),
            (r"\d+", "{n}"),
        ];
        Rules(
            table
                .iter()
                .filter_map(|(pattern, placeholder)| Regex::new(pattern).ok().map(|re| (re, *placeholder)))
                .collect(),
        )
    })
}

/// Hex runs need 8+ characters; the hex rule above matches any hex-looking word, so it is applied
/// through this filter.
fn replace_long_hex(re: &Regex, text: &str) -> String {
    re.replace_all(text, |caps: &regex_lite::Captures<'_>| {
        let word = caps.get(0).map_or("", |m| m.as_str());
        let digits = word.trim_start_matches("0x").trim_start_matches("0X");
        if digits.len() >= 8 {
            "{hex}".to_owned()
        } else {
            word.to_owned()
        }
    })
    .into_owned()
}

/// The normalised form of a message: placeholders for variable parts, whitespace collapsed, cut
/// to [`MAX_MESSAGE`] characters.
pub fn normalize(message: &str) -> String {
    let mut text = core_message(message);
    for (re, placeholder) in &rules().0 {
        text = if *placeholder == "{hex}" {
            replace_long_hex(re, &text)
        } else {
            re.replace_all(&text, *placeholder).into_owned()
        };
    }
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(MAX_MESSAGE).collect()
}

/// The route of a request URL: host and path without query or fragment, with id-like segments
/// replaced. `None` when there is no URL.
pub fn route(url: Option<&str>) -> Option<String> {
    let url = url?;
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = without_scheme.find(['?', '#']).unwrap_or(without_scheme.len());
    let path = &without_scheme[..end];
    let segments: Vec<String> = path
        .split('/')
        .enumerate()
        .map(|(i, segment)| {
            if i == 0 {
                return segment.to_owned();
            }
            let normalized = normalize(segment);
            if normalized.contains('{') {
                ":id".to_owned()
            } else {
                normalized
            }
        })
        .collect();
    Some(segments.join("/").chars().take(MAX_MESSAGE).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_become_placeholders() {
        assert_eq!(
            normalize(
                "user 3f2b8c1e-1111-4a2b-9c3d-0123456789ab failed at 2026-03-02T14:05:06.123Z from 10.0.0.1"
            ),
            "user {uuid} failed at {ts} from {ip}"
        );
        assert_eq!(normalize("on 2026-03-02 retry 3/5"), "on {date} retry {n}/{n}");
        assert_eq!(normalize("trace deadbeefcafe0001 and abc"), "trace {hex} and abc");
        assert_eq!(normalize("addr fe80::1:2:3 down"), "addr {ip} down");
        assert_eq!(normalize("  many   spaces\n here "), "many spaces here");
        assert_eq!(normalize(&"x".repeat(500)).len(), MAX_MESSAGE);
    }

    #[test]
    fn json_lines_are_read_by_their_message() {
        let line =
            r#"{"level":"error","message":"Upstream failed after 1234 ms","correlationId":"a1b2c3d4e5f6"}"#;
        assert_eq!(normalize(line), "Upstream failed after {n} ms");
        assert_eq!(core_message("{not json"), "{not json");
    }

    #[test]
    fn normalising_is_stable() {
        for sample in ["a 12 b", "2026-01-01T00:00:00Z boom", "id=0xdeadbeef99"] {
            let once = normalize(sample);
            assert_eq!(normalize(&once), once);
        }
    }

    #[test]
    fn routes_drop_queries_and_ids() {
        assert_eq!(
            route(Some(
                "https://api.example.com/users/123/orders/3f2b8c1e-1111-4a2b-9c3d-0123456789ab?token=s3cret"
            ))
            .as_deref(),
            Some("api.example.com/users/:id/orders/:id")
        );
        assert_eq!(route(None), None);
    }
}
