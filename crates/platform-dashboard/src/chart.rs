//! Inline SVG charts: drawn with attributes and the stylesheet's classes only (the page's CSP
//! allows no inline style), each with a text equivalent for screen readers and a tooltip per bar.

use crate::html::{figure, Html};

/// A bar per labelled value (a day's usage or cost), scaled to the largest, with labelled
/// reference lines (a budget, a forecast). `unit` follows each value in the tooltips: "USD",
/// "d1_writes".
pub fn bars(html: &mut Html, title: &str, points: &[(String, f64)], unit: &str, lines: &[(&str, f64)]) {
    const W: f64 = 600.0;
    const H: f64 = 160.0;
    const BASE: f64 = 140.0;
    let top = points
        .iter()
        .map(|(_, v)| *v)
        .chain(lines.iter().map(|(_, v)| *v))
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let n = points.len().max(1) as f64;
    let slot = W / n;
    let total: f64 = points.iter().map(|(_, v)| v).sum();
    html.raw("<figure class=\"chart\"><svg viewBox=\"0 0 600 160\" role=\"img\" aria-label=\"")
        .text(title)
        .raw(": ")
        .text(&figure(total))
        .raw(" ")
        .text(unit)
        .raw(" in all\"><title>")
        .text(title)
        .raw("</title><line class=\"axis\" x1=\"0\" y1=\"140\" x2=\"600\" y2=\"140\"/>");
    for (i, (label, value)) in points.iter().enumerate() {
        let height = (value.max(0.0) / top * (BASE - 10.0)).max(if *value > 0.0 { 1.0 } else { 0.0 });
        html.raw("<rect class=\"bar\" x=\"")
            .show(fmt1(i as f64 * slot + slot * 0.1))
            .raw("\" y=\"")
            .show(fmt1(BASE - height))
            .raw("\" width=\"")
            .show(fmt1(slot * 0.8))
            .raw("\" height=\"")
            .show(fmt1(height))
            .raw("\"><title>")
            .text(label)
            .raw(": ")
            .text(&figure(*value))
            .raw(" ")
            .text(unit)
            .raw("</title></rect>");
    }
    for (label, line) in lines {
        let y = fmt1(BASE - line / top * (BASE - 10.0));
        html.raw("<line class=\"limit\" x1=\"0\" x2=\"600\" y1=\"")
            .show(&y)
            .raw("\" y2=\"")
            .show(&y)
            .raw("\"><title>")
            .text(label)
            .raw(" ")
            .text(&figure(*line))
            .raw(" ")
            .text(unit)
            .raw("</title></line><text class=\"tick\" x=\"4\" y=\"")
            .show(fmt1((BASE - line / top * (BASE - 10.0) - 3.0).max(10.0)))
            .raw("\">")
            .text(label)
            .raw("</text>");
    }
    if let (Some((first, _)), Some((last, _))) = (points.first(), points.last()) {
        html.raw("<text class=\"tick\" x=\"0\" y=\"156\">")
            .text(first)
            .raw("</text><text class=\"tick end\" x=\"600\" y=\"156\">")
            .text(last)
            .raw("</text>");
    }
    html.raw("</svg></figure>");
    let _ = H;
}

fn fmt1(value: f64) -> String {
    format!("{:.1}", value)
}

/// How full a budget is, as a class: `ok` below 70 %, `warn` below 100 %, `over` from 100 %.
pub fn level(used: f64, limit: f64) -> &'static str {
    if limit <= 0.0 || used >= limit {
        "over"
    } else if used >= limit * 0.7 {
        "warn"
    } else {
        "ok"
    }
}

/// A usage bar against a limit, with its figures written out beside it.
pub fn meter(html: &mut Html, used: f64, limit: f64, unit: &str) {
    let share = if limit > 0.0 { used / limit } else { 1.0 };
    let width = (share.clamp(0.0, 1.0) * 100.0).round();
    html.raw("<span class=\"meter\"><svg viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect class=\"track\" width=\"100\" height=\"8\"/><rect class=\"fill ")
        .raw(level(used, limit))
        .raw("\" width=\"")
        .show(width)
        .raw("\" height=\"8\"/></svg><span>")
        .text(&figure(used))
        .raw(" / ")
        .text(&figure(limit))
        .raw(" ")
        .text(unit)
        .raw(" (")
        .show((share * 100.0).round())
        .raw(" %)</span></span>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_say_their_figures() {
        let mut html = Html::new();
        let points = vec![("2026-03-01".to_owned(), 10.0), ("2026-03-02".to_owned(), 20.0)];
        bars(&mut html, "Cost per day", &points, "USD", &[]);
        let svg = html.into_string();
        assert!(
            svg.contains("aria-label=\"Cost per day: 30 USD in all\""),
            "{svg}"
        );
        assert!(
            svg.contains("height=\"130.0\""),
            "the largest bar fills the chart: {svg}"
        );
        assert!(svg.contains("height=\"65.0\""), "{svg}");
        assert!(svg.contains("<title>2026-03-02: 20 USD</title>"));
        assert!(!svg.contains("style="), "the CSP allows no inline style");
        assert!(!svg.contains("class=\"limit\""));
    }

    #[test]
    fn reference_lines_are_labelled_and_the_scale_makes_room_for_them() {
        let mut html = Html::new();
        let points = vec![("2026-03-01".to_owned(), 10.0)];
        bars(
            &mut html,
            "Month",
            &points,
            "USD",
            &[("budget", 40.0), ("forecast", 20.0)],
        );
        let svg = html.into_string();
        assert!(
            svg.contains("height=\"32.5\""),
            "the bar is scaled to the budget: {svg}"
        );
        assert!(
            svg.contains("y1=\"10.0\" y2=\"10.0\"><title>budget 40 USD</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("y1=\"75.0\" y2=\"75.0\"><title>forecast 20 USD</title>"),
            "{svg}"
        );
        assert!(svg.contains(">forecast</text>"));
    }

    #[test]
    fn meters_say_the_share_and_its_level() {
        let mut html = Html::new();
        meter(&mut html, 95.0, 100.0, "kv_writes");
        let text = html.into_string();
        assert!(text.contains("fill warn"));
        assert!(text.contains("95 / 100 kv_writes (95 %)"));
        assert_eq!(level(100.0, 100.0), "over");
        assert_eq!(level(1.0, 0.0), "over");
        assert_eq!(level(10.0, 100.0), "ok");
    }
}
