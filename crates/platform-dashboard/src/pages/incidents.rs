//! Gaps and anomalies: the features that went silent (gaps, stale heartbeats) and the cost
//! spikes the sentinel found, with their figures.

use serde_json::Value;

use super::{at, cell, end_table, field, incident_row, number_cell, table, tag};
use crate::data::{list, number, text, Source};
use crate::html::{usd, Html};
use crate::layout::unavailable;

pub fn render(gaps: &Source, anomalies: &Source) -> String {
    let mut html = Html::new();
    html.raw("<h2>Silent features</h2>");
    match gaps {
        Ok(answer) => {
            let open = list(answer, "open");
            if open.is_empty() {
                html.raw("<p><span class=\"tag ok\">none</span> every feature was heard from within its learned cadence.</p>");
            } else {
                table(
                    &mut html,
                    "Open gaps",
                    &["Kind", "Subject", "Silent since", "Why"],
                );
                for incident in open {
                    incident_row(&mut html, incident);
                }
                end_table(&mut html);
            }
        }
        Err(why) => unavailable(&mut html, "Gaps", why),
    }
    if let Ok(answer) = gaps {
        cadences(&mut html, answer);
    }
    html.raw("<h2>Cost anomalies</h2>");
    match anomalies {
        Ok(answer) => {
            let all = list(answer, "anomalies");
            if all.is_empty() {
                html.raw(
                    "<p><span class=\"tag ok\">none</span> no day's cost stood out from its baseline.</p>",
                );
            } else {
                table(
                    &mut html,
                    "Anomalies",
                    &[
                        "State",
                        "Subject",
                        "Day",
                        "#Observed (USD, estimate)",
                        "#Excess (USD)",
                        "Severity",
                        "Why",
                    ],
                );
                for incident in all {
                    anomaly_row(&mut html, incident);
                }
                end_table(&mut html);
            }
        }
        Err(why) => unavailable(&mut html, "Anomalies", why),
    }
    html.into_string()
}

/// Every feature's state at the last detection: its learned rhythm, how long it has been
/// silent and how long it may be.
fn cadences(html: &mut Html, answer: &Value) {
    let Some(features) = answer
        .get("result")
        .and_then(|r| r.get("features"))
        .and_then(Value::as_object)
        .filter(|f| !f.is_empty())
    else {
        return;
    };
    html.raw("<h2>Every feature's rhythm</h2>");
    table(
        html,
        "Feature cadences",
        &[
            "Feature",
            "State",
            "#Heard about every",
            "#Silent for",
            "#Allowed",
        ],
    );
    for (feature, state) in features {
        let name = field(state, "state");
        html.raw("<tr>");
        cell(html, feature);
        html.raw("<td>");
        tag(
            html,
            match name {
                "gap" => "bad",
                "ok" => "ok",
                _ => "warn",
            },
            name,
        );
        html.raw("</td>");
        let every = state.get("cadence").and_then(|c| number(c, "every_ms"));
        number_cell(html, &duration(every));
        number_cell(html, &duration(number(state, "silent_ms")));
        number_cell(html, &duration(number(state, "allowed_ms")));
        html.raw("</tr>");
    }
    end_table(html);
}

/// Milliseconds for people: `36 h`, `45 min`, `—`.
fn duration(ms: Option<f64>) -> String {
    match ms {
        Some(ms) if ms >= 7_200_000.0 => format!("{} h", (ms / 3_600_000.0).round()),
        Some(ms) => format!("{} min", (ms / 60_000.0).round()),
        None => "—".to_owned(),
    }
}

fn anomaly_row(html: &mut Html, incident: &Value) {
    let judgement = incident
        .get("detail")
        .and_then(|d| d.get("judgement"))
        .unwrap_or(&Value::Null);
    let open = incident.get("closed_at").is_none_or(Value::is_null);
    html.raw("<tr><td>");
    tag(
        html,
        if open { "warn" } else { "ok" },
        if open { "open" } else { "closed" },
    );
    html.raw("</td>");
    cell(html, field(incident, "subject"));
    cell(html, &at(incident, "since"));
    let money = |key| number(judgement, key).map_or_else(|| "—".to_owned(), usd);
    number_cell(html, &money("observed_usd"));
    number_cell(html, &money("excess_usd"));
    cell(html, text(judgement, "severity").unwrap_or("—"));
    cell(html, field(incident, "why"));
    html.raw("</tr>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gaps_and_anomalies_are_listed_with_their_figures() {
        let gaps = Ok(
            json!({"result": {"features": {"shop:cron:sync": {"state": "gap", "cadence": {"every_ms": 3_600_000}, "silent_ms": 129_600_000_u64, "allowed_ms": 10_800_000}}}, "open": [{"kind": "gap", "subject": "shop:cron:sync", "since": "2026-03-02T01:00:00.000Z", "why": "no telemetry for 3 h"}]}),
        );
        let anomalies = Ok(
            json!({"open": 1, "anomalies": [{"kind": "anomaly", "subject": "shop", "since": "2026-03-02T00:00:00.000Z",
            "closed_at": null, "why": "cost 5x the baseline", "detail": {"judgement": {"observed_usd": 12.5, "excess_usd": 10, "severity": "high"}}}]}),
        );
        let page = render(&gaps, &anomalies);
        assert!(page.contains("shop:cron:sync") && page.contains("no telemetry for 3 h"));
        assert!(
            page.contains("<td class=\"n\">36 h</td><td class=\"n\">3 h</td>"),
            "{page}"
        );
        assert!(page.contains("60 min"));
        assert!(page.contains("$12.50") && page.contains("$10.00") && page.contains("high"));
    }
}
