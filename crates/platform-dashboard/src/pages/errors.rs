//! Errors: the top fingerprints (by occurrences) with their GitHub issues, and for admins the
//! mute and resolve actions.

use serde_json::Value;

use super::{actions, at, cell, end_actions, end_table, field, headers, number_cell, table, tag};
use crate::action::Action;
use crate::data::{flag, list, number, Source};
use crate::html::{figure, Html};
use crate::layout::{button, unavailable, Viewer};

pub fn render(viewer: &Viewer, errors: &Source) -> String {
    let mut html = Html::new();
    let answer = match errors {
        Ok(answer) => answer,
        Err(why) => {
            unavailable(&mut html, "Errors", why);
            return html.into_string();
        }
    };
    let mut rows: Vec<&Value> = list(answer, "errors").iter().collect();
    rows.sort_by(|a, b| {
        number(b, "occurrences")
            .unwrap_or(0.0)
            .total_cmp(&number(a, "occurrences").unwrap_or(0.0))
    });
    if rows.is_empty() {
        html.raw("<p>No error has been recorded.</p>");
        return html.into_string();
    }
    table(
        &mut html,
        "Errors",
        headers(
            &[
                "Priority",
                "Error",
                "Project",
                "#Occurrences",
                "Last seen",
                "State",
                "Issue",
                "Actions",
            ],
            viewer,
        ),
    );
    for error in rows.iter().take(100) {
        let fingerprint = field(error, "fingerprint");
        html.raw("<tr>");
        cell(&mut html, field(error, "priority"));
        html.raw("<td>")
            .text(field(error, "title"))
            .raw("<br><code>")
            .text(fingerprint)
            .raw("</code></td>");
        cell(&mut html, field(error, "project"));
        number_cell(&mut html, &figure(number(error, "occurrences").unwrap_or(0.0)));
        cell(&mut html, &at(error, "last_seen"));
        html.raw("<td>");
        let muted = flag(error, "muted") || error.get("muted").and_then(Value::as_u64) == Some(1);
        let status = field(error, "status");
        match (muted, status) {
            (true, _) => tag(&mut html, "warn", "muted"),
            (false, "resolved") => tag(&mut html, "ok", "resolved"),
            (false, other) => tag(&mut html, "bad", other),
        }
        html.raw("</td><td>");
        match (
            error.get("repository").and_then(Value::as_str),
            number(error, "issue_number"),
        ) {
            (Some(repository), Some(number)) if is_repository(repository) => {
                let href = format!("https://github.com/{repository}/issues/{number}");
                html.link(&href, &format!("{repository}#{number}"));
            }
            _ => {
                html.raw("none yet");
            }
        }
        html.raw("</td>");
        actions(&mut html, viewer);
        if let (Ok(mute), Ok(resolve)) = (
            Action::parse("mute-error", fingerprint),
            Action::parse("resolve-error", fingerprint),
        ) {
            if !muted {
                button(&mut html, viewer, &mute, "Mute");
            }
            if status != "resolved" {
                button(&mut html, viewer, &resolve, "Resolve");
            }
        }
        end_actions(&mut html, viewer);
    }
    end_table(&mut html);
    html.into_string()
}

/// `owner/name` with GitHub's characters only, so the link cannot point anywhere else.
fn is_repository(raw: &str) -> bool {
    let mut parts = raw.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_link_their_issues_and_offer_actions_to_admins() {
        let fp = "0123456789abcdef0123456789abcdef";
        let errors = Ok(json!({"errors": [
            {"fingerprint": fp, "title": "TypeError: x is undefined", "priority": "P1", "project": "shop",
             "occurrences": 12, "last_seen": 1_772_000_000_000_u64, "status": "open", "muted": 0,
             "repository": "acme/shop", "issue_number": 42},
            {"fingerprint": "f", "title": "<b>", "status": "open", "repository": "evil.example/x/y", "issue_number": 1}
        ]}));
        let admin = Viewer {
            id: "ann".into(),
            label: "ann".into(),
            admin: true,
            csrf: String::new(),
        };
        let page = render(&admin, &errors);
        assert!(page.contains("href=\"https://github.com/acme/shop/issues/42\""));
        assert!(page.contains("value=\"mute-error\"") && page.contains("value=\"resolve-error\""));
        assert!(page.contains("&lt;b&gt;") && !page.contains("evil.example"));
        assert!(!render(
            &Viewer {
                admin: false,
                ..admin
            },
            &errors
        )
        .contains("<form"));
    }
}
