//! Usage: per Cloudflare product and metric, each day of the month as a chart, and per project
//! the month's total. Every figure is what the applications reported (an estimate, not a bill).

use std::collections::BTreeMap;

use super::{cell, end_table, number_cell, table};
use crate::chart;
use crate::data::{product, Ledger};
use crate::html::{figure, Html};
use crate::layout::unavailable;

pub fn render(ledger: &Result<Ledger, String>) -> String {
    let mut html = Html::new();
    let ledger = match ledger {
        Ok(ledger) => ledger,
        Err(why) => {
            unavailable(&mut html, "Usage", why);
            return html.into_string();
        }
    };
    html.raw("<p>Usage counted from the applications' telemetry, per UTC day of the last 30 days: an <strong>estimate</strong> of what Cloudflare bills, not the bill.</p>");
    let metrics: Vec<_> = ledger
        .metrics()
        .into_iter()
        .filter(|m| {
            ledger
                .usage
                .iter()
                .any(|((_, _, metric), v)| metric == m && *v > 0.0)
        })
        .collect();
    if metrics.is_empty() {
        html.raw("<p>No usage has been reported this month.</p>");
        return html.into_string();
    }
    let mut last_product = "";
    for metric in metrics {
        let name = metric.budget_name();
        if product(metric) != last_product {
            last_product = product(metric);
            html.raw("<h2>").text(last_product).raw("</h2>");
        }
        let days = ledger.per_day(metric, |_| true);
        let title = format!("{name} per day (estimate)");
        html.raw("<h3>").text(&title).raw("</h3>");
        chart::bars(&mut html, &title, &days, name, &[]);
        let mut by_project: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for ((feature, day, m), value) in &ledger.usage {
            if *m == metric {
                let project = feature.split(':').next().unwrap_or(feature);
                let slot = by_project.entry(project).or_default();
                if ledger.in_month(day) {
                    slot.1 += value;
                }
                if *day == ledger.today {
                    slot.0 += value;
                }
            }
        }
        table(&mut html, &title, &["Project", "#Today", "#This month"]);
        for (project, (today, month)) in by_project {
            html.raw("<tr>");
            cell(&mut html, project);
            number_cell(&mut html, &format!("{} {name}", figure(today)));
            number_cell(&mut html, &format!("{} {name}", figure(month)));
            html.raw("</tr>");
        }
        end_table(&mut html);
    }
    html.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform_core::Metric;

    #[test]
    fn usage_is_grouped_by_product_and_labelled_an_estimate() {
        let mut ledger = Ledger {
            today: "2026-03-02".into(),
            month: "2026-03".into(),
            days: vec!["2026-03-01".into(), "2026-03-02".into()],
            ..Ledger::default()
        };
        ledger.usage.insert(
            ("shop:api:cart".into(), "2026-03-01".into(), Metric::D1Writes),
            1500.0,
        );
        ledger.usage.insert(
            ("blog:web:feed".into(), "2026-03-02".into(), Metric::D1Writes),
            20.0,
        );
        let page = render(&Ok(ledger));
        assert!(page.contains("<h2>D1</h2>"));
        assert!(page.contains("d1_writes per day (estimate)"));
        assert!(
            page.contains(
                "<td>shop</td><td class=\"n\">0 d1_writes</td><td class=\"n\">1,500 d1_writes</td>"
            ),
            "{page}"
        );
        assert!(render(&Err("D1 is down".into())).contains("could not be read: D1 is down"));
    }
}
