//! What an exception says reaches GitHub inert: no mention pings anyone, no link or HTML renders.

use platform_errors::patterns::Patterns;
use platform_errors::render::{body, occurrence_comment, title, IssueFacts};
use platform_errors::{capture, Priority, TailEvent};
use serde_json::json;

/// The Markdown GitHub renders live: the text outside fenced code blocks and code spans.
fn live(markdown: &str) -> String {
    let mut live = String::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Code spans: text between single backticks on one line.
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                live.push_str(part);
            }
        }
        live.push('\n');
    }
    live
}

/// A mention, link, autolink or HTML tag in live Markdown.
fn active(live: &str) -> Option<String> {
    let bytes = live.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let next = bytes.get(i + 1).copied().unwrap_or(b' ');
        let found = match b {
            b'@' => next.is_ascii_alphanumeric(),
            b']' => next == b'(' || next == b'[',
            // The body's own collapsible logs are the only HTML it may carry.
            b'<' => {
                (next.is_ascii_alphabetic() || next == b'/')
                    && !["<details>", "</details>", "<summary>", "</summary>"]
                        .iter()
                        .any(|tag| live[i..].starts_with(tag))
            }
            _ if !live.is_char_boundary(i) => false,
            _ => {
                live[i..].starts_with("http://")
                    || live[i..].starts_with("https://")
                    || live[i..].starts_with("www.")
            }
        };
        if found {
            return Some(
                String::from_utf8_lossy(&bytes[i.saturating_sub(20)..(i + 30).min(bytes.len())]).into_owned(),
            );
        }
    }
    None
}

const HOSTILE: &str = "@octocat @acme/security see [reset your password](https://evil.example/login) \
    <img src=x onerror=alert(1)> <a href=\"https://evil.example\">here</a> www.evil.example https://evil.example/x";

#[test]
fn no_mention_or_link_from_event_text_is_live_in_an_issue() {
    let event = TailEvent::from_json(&json!({
        "scriptName": "shop@home", "outcome": "exception", "eventTimestamp": 5,
        "event": {"request": {"url": "https://shop.example/@admin/[x](https://evil.example)", "method": "GET"}},
        "exceptions": [{"name": "Error", "message": HOSTILE}],
        "logs": [
            {"level": "error", "message": [HOSTILE]},
            {"level": "warn", "message": [format!("```\n{HOSTILE}\n```")]},
            {"level": "error", "message": [format!("cell | `{HOSTILE}` | breaks")]},
        ]
    }))
    .unwrap();
    let occurrences = capture(&event, "shop@home", &Patterns::default(), 0);
    assert!(occurrences.len() >= 2);
    for o in &occurrences {
        let text = body(&IssueFacts {
            fingerprint: &o.fingerprint,
            project: "shop",
            script: &o.script,
            kind: o.kind,
            priority: Priority::P1,
            category: o.category.as_deref(),
            occurrences: 2,
            first_seen: "2026-03-02T14:00:00Z",
            last_seen: "2026-03-02T15:00:00Z",
            message: &o.message,
            sample: &o.sample,
            context: &o.context,
            logs: &o.logs,
        });
        assert_eq!(active(&live(&text)), None, "live in the body:\n{text}");
        assert_eq!(active(&live(&o.title)), None, "live in the title: {}", o.title);
        assert!(!o.title.contains('@'), "{}", o.title);
        let comment = occurrence_comment(2, "2026-03-02T15:00:00Z", &o.context, true);
        assert_eq!(active(&live(&comment)), None, "{comment}");
    }
    assert!(title("s", platform_errors::ErrorKind::SoftError, None, "@here").contains("\u{ff20}here"));
}
