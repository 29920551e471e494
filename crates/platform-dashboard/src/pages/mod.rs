//! One module per page; each renders the body of its page from the bound workers' answers.

pub mod budgets;
pub mod errors;
pub mod health;
pub mod inbox;
pub mod incidents;
pub mod overview;
pub mod patterns;
pub mod usage;

use serde_json::Value;

use crate::data::{text, when};
use crate::html::Html;
use crate::layout::Viewer;

/// `<span class="tag {class}">label</span>`.
fn tag(html: &mut Html, class: &str, label: &str) {
    html.raw("<span class=\"tag ")
        .raw(class)
        .raw("\">")
        .text(label)
        .raw("</span>");
}

/// A table's opening with its header cells; a header starting with `#` is numeric.
fn table(html: &mut Html, caption: &str, headers: &[&str]) {
    html.raw("<div class=\"scroll\"><table><caption class=\"skip\">")
        .text(caption)
        .raw("</caption><thead><tr>");
    for header in headers {
        match header.strip_prefix('#') {
            Some(name) => html.raw("<th scope=\"col\" class=\"n\">").text(name),
            None => html.raw("<th scope=\"col\">").text(header),
        };
        html.raw("</th>");
    }
    html.raw("</tr></thead><tbody>");
}

/// The headers, the last ("Actions") only for an admin: nobody else has buttons.
fn headers<'a>(all: &'a [&'a str], viewer: &Viewer) -> &'a [&'a str] {
    if viewer.admin {
        all
    } else {
        &all[..all.len().saturating_sub(1)]
    }
}

/// Opens the row's actions cell (an admin's only).
fn actions(html: &mut Html, viewer: &Viewer) {
    if viewer.admin {
        html.raw("<td>");
    }
}

/// Closes the actions cell and the row.
fn end_actions(html: &mut Html, viewer: &Viewer) {
    if viewer.admin {
        html.raw("</td>");
    }
    html.raw("</tr>");
}

fn end_table(html: &mut Html) {
    html.raw("</tbody></table></div>");
}

fn cell(html: &mut Html, content: &str) {
    html.raw("<td>").text(content).raw("</td>");
}

fn number_cell(html: &mut Html, content: &str) {
    html.raw("<td class=\"n\">").text(content).raw("</td>");
}

/// A text field of an answer, or "—".
fn field<'a>(value: &'a Value, key: &str) -> &'a str {
    text(value, key).filter(|s| !s.is_empty()).unwrap_or("—")
}

/// An instant field of an answer, as ISO 8601 UTC.
fn at(value: &Value, key: &str) -> String {
    when(value.get(key))
}

/// An incident (a gap, a silent heartbeat, an anomaly) as one row: what, since when, why.
fn incident_row(html: &mut Html, incident: &Value) {
    html.raw("<tr>");
    cell(html, field(incident, "kind"));
    cell(html, field(incident, "subject"));
    cell(html, &at(incident, "since"));
    cell(html, field(incident, "why"));
    html.raw("</tr>");
}
