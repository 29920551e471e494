//! Patterns: the transient-error patterns discovery suggests, with their evidence (the cluster,
//! samples, the backtest, live matches), and for admins approve and reject.

use serde_json::Value;

use super::{actions, cell, end_actions, end_table, field, headers, number_cell, table, tag};
use crate::action::Action;
use crate::data::{list, number, Source};
use crate::html::{figure, Html};
use crate::layout::{button, unavailable, Viewer};

pub fn render(viewer: &Viewer, patterns: &Source) -> String {
    let mut html = Html::new();
    let answer = match patterns {
        Ok(answer) => answer,
        Err(why) => {
            unavailable(&mut html, "Patterns", why);
            return html.into_string();
        }
    };
    let all = list(answer, "patterns");
    if all.is_empty() {
        html.raw("<p>No pattern has been suggested yet: discovery proposes one when an error recurs in a cluster.</p>");
        return html.into_string();
    }
    table(
        &mut html,
        "Patterns",
        headers(
            &[
                "Pattern",
                "State",
                "Evidence",
                "#Live matches",
                "Decided by",
                "Actions",
            ],
            viewer,
        ),
    );
    for pattern in all {
        let status = field(pattern, "status");
        html.raw("<tr><td><code>")
            .text(field(pattern, "value"))
            .raw("</code><br>")
            .text(field(pattern, "type"))
            .raw(", ")
            .text(field(pattern, "category"))
            .raw("</td><td>");
        tag(
            &mut html,
            match status {
                "approved" => "ok",
                "rejected" | "disabled" => "bad",
                _ => "warn",
            },
            status,
        );
        html.raw("</td><td>");
        evidence(&mut html, pattern);
        html.raw("</td>");
        number_cell(&mut html, &figure(number(pattern, "matches").unwrap_or(0.0)));
        cell(&mut html, field(pattern, "decided_by"));
        actions(&mut html, viewer);
        let id = field(pattern, "id");
        if let (Ok(approve), Ok(reject)) = (
            Action::parse("approve-pattern", id),
            Action::parse("reject-pattern", id),
        ) {
            if !matches!(status, "approved" | "rejected") {
                button(&mut html, viewer, &approve, "Approve");
                button(&mut html, viewer, &reject, "Reject");
            }
        }
        end_actions(&mut html, viewer);
    }
    end_table(&mut html);
    html.into_string()
}

fn evidence(html: &mut Html, pattern: &Value) {
    html.raw("cluster <code>")
        .text(field(pattern, "cluster"))
        .raw("</code>");
    if let Some(backtest) = pattern.get("backtest").filter(|b| b.is_object()) {
        let n = |key| figure(number(backtest, key).unwrap_or(0.0));
        html.raw("<br>backtest: matched ")
            .text(&n("cluster_matched"))
            .raw(" of ")
            .text(&n("cluster"))
            .raw(" in its cluster, ")
            .text(&n("others_matched"))
            .raw(" of ")
            .text(&n("others"))
            .raw(" others");
    }
    let samples = list(pattern, "samples");
    if !samples.is_empty() {
        html.raw("<details><summary>")
            .show(samples.len())
            .raw(" samples</summary><ul>");
        for sample in samples {
            html.raw("<li><code>")
                .text(sample.as_str().unwrap_or("—"))
                .raw("</code></li>");
        }
        html.raw("</ul></details>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn suggestions_show_evidence_and_decisions_for_admins() {
        let patterns = Ok(json!({"patterns": [
            {"id": "pat-0123456789abcdef", "type": "contains", "value": "ETIMEDOUT", "category": "network", "status": "shadow", "cluster": "connect ETIMEDOUT <ip>",
             "samples": ["connect ETIMEDOUT 10.0.0.1"], "backtest": {"cluster": 9, "cluster_matched": 9, "others": 40, "others_matched": 0}, "matches": 4},
            {"id": "pat-00000000000000ff", "value": "x", "status": "approved", "decided_by": "ann"}]}));
        let admin = Viewer {
            id: "ann".into(),
            label: "ann".into(),
            admin: true,
            csrf: String::new(),
        };
        let page = render(&admin, &patterns);
        assert!(page.contains("matched 9 of 9 in its cluster, 0 of 40 others"));
        assert_eq!(
            page.matches("value=\"approve-pattern\"").count(),
            1,
            "only the undecided one"
        );
        assert!(!render(
            &Viewer {
                admin: false,
                ..admin
            },
            &patterns
        )
        .contains("<form"));
    }
}
