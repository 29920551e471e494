//! Platform health: each worker's `/health`, its warnings and each handler's last run and failure.

use serde_json::Value;

use super::{at, cell, end_table, field, number_cell, table, tag};
use crate::data::{list, number, text, Source};
use crate::html::{figure, Html};
use crate::layout::unavailable;

pub fn render(workers: &[(&str, Source)]) -> String {
    let mut html = Html::new();
    for (name, health) in workers {
        html.raw("<h2>").text(name).raw(" ");
        match health {
            Ok(report) => {
                let ok = report.get("ok").and_then(Value::as_bool) == Some(true);
                tag(
                    &mut html,
                    if ok { "ok" } else { "bad" },
                    if ok { "healthy" } else { "unhealthy" },
                );
                html.raw("</h2>");
                let warnings = list(report, "warnings");
                if !warnings.is_empty() {
                    html.raw("<ul>");
                    for warning in warnings {
                        html.raw("<li>")
                            .text(warning.as_str().unwrap_or("—"))
                            .raw("</li>");
                    }
                    html.raw("</ul>");
                }
                handlers(&mut html, name, list(report, "handlers"));
            }
            Err(why) => {
                tag(&mut html, "bad", "unreachable");
                html.raw("</h2>");
                unavailable(&mut html, "Its health", why);
            }
        }
    }
    html.into_string()
}

fn handlers(html: &mut Html, worker: &str, handlers: &[Value]) {
    if handlers.is_empty() {
        html.raw("<p>No handlers (routes only).</p>");
        return;
    }
    table(
        html,
        &format!("Handlers of {worker}"),
        &[
            "Handler",
            "#Failures in a row",
            "Condition",
            "Last run",
            "Last success",
            "Last error",
        ],
    );
    for handler in handlers {
        let condition = field(handler, "condition");
        html.raw("<tr>");
        cell(html, field(handler, "name"));
        number_cell(
            html,
            &figure(number(handler, "consecutive_failures").unwrap_or(0.0)),
        );
        html.raw("<td>");
        tag(
            html,
            match condition {
                "healthy" => "ok",
                "never-run" => "warn",
                _ => "bad",
            },
            condition,
        );
        html.raw("</td>");
        cell(html, &at(handler, "last_run_at"));
        cell(html, &at(handler, "last_ok_at"));
        let problem = text(handler, "problem").or_else(|| text(handler, "last_error"));
        cell(html, problem.unwrap_or("—"));
        html.raw("</tr>");
    }
    end_table(html);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_worker_shows_its_handlers_and_an_unreachable_one_says_why() {
        let workers = [
            (
                "platform-usage",
                Ok(
                    json!({"ok": false, "warnings": ["handler sweep is stale"], "handlers": [
                {"name": "sweep", "condition": "failing", "last_run_at": "2026-03-02T00:00:00.000Z", "last_ok_at": null,
                 "last_error": "D1 is down", "consecutive_failures": 3}]}),
                ),
            ),
            (
                "platform-sentinel",
                Err("the binding SENTINEL is not configured".to_owned()),
            ),
        ];
        let page = render(&workers);
        assert!(
            page.contains("handler sweep is stale")
                && page.contains("<td class=\"n\">3</td>")
                && page.contains("2026-03-02T00:00:00.000Z")
                && page.contains("D1 is down")
        );
        assert!(page.contains("unreachable") && page.contains("SENTINEL is not configured"));
    }
}
