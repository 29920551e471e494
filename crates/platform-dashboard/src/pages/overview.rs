//! The overview: the month's cost against its budget, with the forecast and a chart per day; the
//! top projects and features by cost; and whatever is stopped, warning, silent or spiking now.

use serde_json::Value;

use super::{cell, end_table, field, number_cell, table, tag};
use crate::chart;
use crate::data::{list, number, text, Ledger, Source};
use crate::html::{usd, Html};
use crate::layout::unavailable;

pub struct Overview<'a> {
    /// platform-usage `GET /cost?period=month`; `Ok(Value::Null)` while cost is not collected.
    pub cost: &'a Source,
    pub status: &'a Source,
    pub gaps: &'a Source,
    pub anomalies: &'a Source,
    pub ledger: &'a Result<Ledger, String>,
}

pub fn render(data: &Overview<'_>) -> String {
    let mut html = Html::new();
    html.raw("<h2>Cost this month</h2>");
    match data.cost {
        Ok(Value::Null) => {
            html.raw("<p class=\"unavailable\">Cost not collected yet: platform-usage does not report cost (<code>GET /cost</code>) in this deployment. Usage below is what the applications report.</p>");
        }
        Ok(cost) => render_cost(&mut html, cost),
        Err(why) => unavailable(&mut html, "Cost", why),
    }
    html.raw("<h2>Right now</h2>");
    right_now(&mut html, data);
    html.raw("<h2>Fullest budgets</h2>");
    match data.ledger {
        Ok(ledger) => {
            let fullest = ledger.fullest(8);
            if fullest.is_empty() {
                html.raw("<p>No feature has used any of a limited metric this month.</p>");
            } else {
                table(
                    &mut html,
                    "Fullest budgets",
                    &["Feature", "Metric", "Period", "Used of limit"],
                );
                for (feature, metric, used, limit, period) in fullest {
                    html.raw("<tr>");
                    cell(&mut html, &feature);
                    cell(&mut html, metric.budget_name());
                    cell(&mut html, period);
                    html.raw("<td>");
                    chart::meter(&mut html, used, limit, metric.budget_name());
                    html.raw("</td></tr>");
                }
                end_table(&mut html);
            }
        }
        Err(why) => unavailable(&mut html, "Usage", why),
    }
    html.into_string()
}

fn render_cost(html: &mut Html, cost: &Value) {
    let basis = text(cost, "basis").unwrap_or("estimate");
    let billed = basis == "billing";
    let actual = number(cost, "actual_usd");
    let estimate = number(cost, "estimate_usd");
    let so_far = actual.or(estimate).unwrap_or(0.0);
    let budget = number(cost, "budget_usd");
    let period = cost.get("period").unwrap_or(&Value::Null);
    html.raw("<p>From ")
        .text(field(period, "start"))
        .raw(" to ")
        .text(field(period, "end"))
        .raw(", ");
    html.raw(if billed {
        "as billed by Cloudflare."
    } else {
        "estimated from reported usage and list prices (not a bill)."
    });
    html.raw("</p><div class=\"cards\">");
    card(
        html,
        &usd(so_far),
        if actual.is_some() {
            "month to date, billed"
        } else {
            "month to date, estimate"
        },
    );
    if let Some(forecast) = number(cost, "forecast_usd") {
        card(html, &usd(forecast), "forecast for the month, estimate");
    }
    match budget {
        Some(budget) => {
            html.raw("<div class=\"card\"><div class=\"big\">")
                .text(&usd(budget))
                .raw("</div><div class=\"label\">monthly budget</div>");
            chart::meter(html, so_far, budget, "USD");
            html.raw("</div>");
        }
        None => card(html, "—", "no monthly cost budget set"),
    }
    html.raw("</div>");
    let days: Vec<(String, f64)> = list(cost, "by_day")
        .iter()
        .map(|d| (field(d, "date").to_owned(), number(d, "usd").unwrap_or(0.0)))
        .collect();
    if !days.is_empty() {
        let title = if billed {
            "Cost per day (USD, billed)"
        } else {
            "Cost per day (USD, estimate)"
        };
        html.raw("<h3>").text(title).raw("</h3>");
        chart::bars(html, title, &days, "USD", &[]);
        // The month so far, day by day, against where it may end (budget) and where it is
        // heading (forecast).
        let mut total = 0.0;
        let running: Vec<(String, f64)> = days
            .iter()
            .map(|(day, usd)| {
                total += usd;
                (day.clone(), total)
            })
            .collect();
        let mut lines = Vec::new();
        if let Some(budget) = budget {
            lines.push(("budget", budget));
        }
        if let Some(forecast) = number(cost, "forecast_usd") {
            lines.push(("forecast", forecast));
        }
        let title = if billed {
            "Month to date, day by day (USD, billed)"
        } else {
            "Month to date, day by day (USD, estimate)"
        };
        html.raw("<h3>").text(title).raw("</h3>");
        chart::bars(html, title, &running, "USD", &lines);
    }
    let top = cost.get("top").unwrap_or(&Value::Null);
    for (key, name, heading) in [
        ("projects", "project", "Top projects"),
        ("features", "feature", "Top features"),
    ] {
        let rows = list(top, key);
        if rows.is_empty() {
            continue;
        }
        html.raw("<h3>").text(heading).raw(" by cost</h3>");
        table(html, heading, &[name, "#USD"]);
        for row in rows.iter().take(10) {
            html.raw("<tr>");
            cell(html, field(row, name));
            number_cell(html, &usd(number(row, "usd").unwrap_or(0.0)));
            html.raw("</tr>");
        }
        end_table(html);
    }
}

fn card(html: &mut Html, big: &str, label: &str) {
    html.raw("<div class=\"card\"><div class=\"big\">")
        .text(big)
        .raw("</div><div class=\"label\">")
        .text(label)
        .raw("</div></div>");
}

fn right_now(html: &mut Html, data: &Overview<'_>) {
    let mut rows = Html::new();
    let mut count = 0;
    match data.status {
        Ok(status) => {
            let global = status.get("global").unwrap_or(&Value::Null);
            if global.get("stopped").and_then(Value::as_bool) == Some(true) {
                count += 1;
                row(
                    &mut rows,
                    "bad",
                    "global stop",
                    "every application",
                    field(global, "reason"),
                );
            }
            for project in list(status, "projects") {
                count += 1;
                let level = field(project, "level");
                let class = if level == "paused" { "bad" } else { "warn" };
                row(
                    &mut rows,
                    class,
                    level,
                    field(project, "project"),
                    field(project, "reason"),
                );
            }
            for feature in list(status, "features") {
                count += 1;
                let what = if feature.get("manual").and_then(Value::as_bool) == Some(true) {
                    "disabled"
                } else {
                    "tripped"
                };
                row(
                    &mut rows,
                    "bad",
                    what,
                    field(feature, "feature"),
                    field(feature, "reason"),
                );
            }
        }
        Err(why) => unavailable(html, "Breakers", why),
    }
    for (source, key, what, class) in [
        (data.gaps, "open", "silent", "warn"),
        (data.anomalies, "anomalies", "spiking", "warn"),
    ] {
        match source {
            Ok(answer) => {
                for incident in list(answer, key)
                    .iter()
                    .filter(|i| i.get("closed_at").is_none_or(Value::is_null))
                {
                    count += 1;
                    row(
                        &mut rows,
                        class,
                        what,
                        field(incident, "subject"),
                        field(incident, "why"),
                    );
                }
            }
            Err(why) => unavailable(html, what, why),
        }
    }
    if count == 0 {
        html.raw("<p>").raw(
            "<span class=\"tag ok\">all clear</span> nothing is stopped, warning, silent or spiking.</p>",
        );
        return;
    }
    table(html, "What needs attention", &["State", "Subject", "Why"]);
    html.raw(rows.as_str());
    end_table(html);
}

fn row(html: &mut Html, class: &str, state: &str, subject: &str, why: &str) {
    html.raw("<tr><td>");
    tag(html, class, state);
    html.raw("</td>");
    cell(html, subject);
    cell(html, why);
    html.raw("</tr>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render_with(cost: Source) -> String {
        let status = Ok(json!({"global": {"stopped": false}, "projects": [], "features": [
            {"feature": "shop:api:checkout", "manual": false, "reason": "d1_writes over the daily budget"}]}));
        let gaps =
            Ok(json!({"open": [{"kind": "gap", "subject": "shop:cron:sync", "why": "silent for 3 h"}]}));
        let anomalies = Ok(json!({"open": 0, "anomalies": []}));
        let ledger = Ok(Ledger::default());
        render(&Overview {
            cost: &cost,
            status: &status,
            gaps: &gaps,
            anomalies: &anomalies,
            ledger: &ledger,
        })
    }

    #[test]
    fn without_cost_it_says_so_and_still_shows_what_is_wrong() {
        let page = render_with(Ok(Value::Null));
        assert!(page.contains("Cost not collected yet"));
        assert!(page.contains("shop:api:checkout") && page.contains("tripped"));
        assert!(page.contains("shop:cron:sync") && page.contains("silent"));
    }

    #[test]
    fn cost_is_drawn_leniently() {
        let page = render_with(Ok(json!({
            "period": {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"},
            "estimate_usd": 12.5, "forecast_usd": 40, "basis": "estimate",
            "by_day": [{"date": "2026-03-01", "usd": 5}, {"date": "2026-03-02"}],
            "top": {"projects": [{"project": "shop", "usd": 12.5}]},
            "budget_usd": 50
        })));
        assert!(page.contains("$12.50") && page.contains("month to date, estimate"));
        assert!(page.contains("$40.00") && page.contains("$50.00"));
        assert!(page.contains("Cost per day (USD, estimate)"));
        let month = &page[page.find("Month to date, day by day (USD, estimate)").unwrap()..];
        assert!(
            month.contains("<title>2026-03-02: 5 USD</title>"),
            "running total: {month}"
        );
        assert!(
            month.contains("<title>budget 50 USD</title>")
                && month.contains("<title>forecast 40 USD</title>")
        );
        assert!(page.contains("<td>shop</td>"));
        let sparse = render_with(Ok(json!({"basis": "billing", "actual_usd": 3})));
        assert!(sparse.contains("$3.00") && sparse.contains("billed"));
    }
}
