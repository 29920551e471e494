//! Budgets and breakers: every feature and project with its usage against its daily and monthly
//! limits, its state, why, since and until when, and (for admins) the actions that change it.

use std::collections::BTreeSet;

use platform_core::{FeatureKey, Metric, ProjectId};
use serde_json::Value;

use super::{actions, at, cell, end_actions, end_table, field, headers, table, tag};
use crate::action::Action;
use crate::chart;
use crate::data::{list, Ledger, Limits, Source};
use crate::html::Html;
use crate::layout::{button, unavailable, Viewer};

pub fn render(viewer: &Viewer, status: &Source, ledger: &Result<Ledger, String>) -> String {
    let mut html = Html::new();
    let empty = Value::Null;
    let status_value = status.as_ref().unwrap_or(&empty);
    if let Err(why) = status {
        unavailable(&mut html, "The breakers' state", why);
    }
    global(&mut html, viewer, status_value);
    let ledger_value;
    let ledger = match ledger {
        Ok(ledger) => ledger,
        Err(why) => {
            unavailable(&mut html, "Usage and limits", why);
            ledger_value = Ledger::default();
            &ledger_value
        }
    };
    projects(&mut html, viewer, status_value, ledger);
    features(&mut html, viewer, status_value, ledger);
    html.into_string()
}

fn global(html: &mut Html, viewer: &Viewer, status: &Value) {
    let global = status.get("global").unwrap_or(&Value::Null);
    html.raw("<h2>Global stop</h2><p>");
    if global.get("stopped").and_then(Value::as_bool) == Some(true) {
        tag(html, "bad", "stopped");
        html.raw(" since ")
            .text(&at(global, "since"))
            .raw(": ")
            .text(field(global, "reason"))
            .raw(" ");
        button(html, viewer, &Action::GlobalRelease, "Release the global stop");
    } else {
        tag(html, "ok", "running");
        html.raw(" every application runs within its budgets. ");
        button(html, viewer, &Action::GlobalStop, "Global stop");
    }
    html.raw("</p>");
}

fn projects(html: &mut Html, viewer: &Viewer, status: &Value, ledger: &Ledger) {
    let mut names: BTreeSet<String> = ledger
        .features()
        .iter()
        .filter_map(|f| f.split(':').next().map(str::to_owned))
        .collect();
    let listed = list(status, "projects");
    names.extend(listed.iter().map(|p| field(p, "project").to_owned()));
    names.extend(ledger.project_limits.keys().cloned());
    html.raw("<h2>Projects</h2>");
    if names.is_empty() {
        html.raw("<p>No project has reported usage this month.</p>");
        return;
    }
    table(
        html,
        "Projects",
        headers(
            &[
                "Project",
                "State",
                "Why",
                "Since",
                "Until",
                "Today",
                "This month",
                "Actions",
            ],
            viewer,
        ),
    );
    let no_limits = Default::default();
    for name in names {
        let state = listed.iter().find(|p| field(p, "project") == name);
        html.raw("<tr>");
        cell(html, &name);
        html.raw("<td>");
        let level = state.map_or("running", |p| field(p, "level"));
        tag(
            html,
            match level {
                "paused" => "bad",
                "warning" => "warn",
                _ => "ok",
            },
            level,
        );
        html.raw("</td>");
        let empty = Value::Null;
        let state_value = state.unwrap_or(&empty);
        cell(html, field(state_value, "reason"));
        cell(html, &at(state_value, "since"));
        cell(html, &at(state_value, "until"));
        let (daily, monthly) = ledger.project_limits.get(&name).unwrap_or(&no_limits);
        meters(html, daily, monthly, |metric| ledger.project_used(&name, metric));
        actions(html, viewer);
        if let Ok(project) = ProjectId::parse(&name) {
            if level == "paused" {
                button(html, viewer, &Action::ResumeProject(project), "Resume");
            } else {
                button(html, viewer, &Action::PauseProject(project), "Pause");
            }
        }
        end_actions(html, viewer);
    }
    end_table(html);
}

fn features(html: &mut Html, viewer: &Viewer, status: &Value, ledger: &Ledger) {
    let open = list(status, "features");
    let mut names = ledger.features();
    names.extend(open.iter().map(|f| field(f, "feature").to_owned()));
    names.sort();
    names.dedup();
    html.raw("<h2>Features</h2>");
    if names.is_empty() {
        html.raw("<p>No feature has reported usage or has a budget.</p>");
        return;
    }
    table(
        html,
        "Features",
        headers(
            &[
                "Feature",
                "State",
                "Why",
                "Since",
                "Resets",
                "Today",
                "This month",
                "Actions",
            ],
            viewer,
        ),
    );
    let no_limits = Default::default();
    for name in names {
        let breaker = open.iter().find(|f| field(f, "feature") == name);
        let (daily, monthly) = ledger.limits.get(&name).unwrap_or(&no_limits);
        html.raw("<tr>");
        cell(html, &name);
        html.raw("<td>");
        match breaker {
            Some(b) if b.get("manual").and_then(Value::as_bool) == Some(true) => tag(html, "bad", "disabled"),
            Some(_) => tag(html, "bad", "tripped"),
            None => tag(html, "ok", "enabled"),
        }
        html.raw("</td>");
        let empty = Value::Null;
        let b = breaker.unwrap_or(&empty);
        cell(html, field(b, "reason"));
        cell(html, &at(b, "since"));
        let until = at(b, "until");
        cell(
            html,
            if breaker.is_some() && until == "—" {
                "only when an admin enables it"
            } else {
                &until
            },
        );
        meters(html, daily, monthly, |metric| ledger.used(&name, metric));
        actions(html, viewer);
        if let Ok(key) = FeatureKey::parse(&name) {
            if breaker.is_some() {
                button(html, viewer, &Action::EnableFeature(key), "Enable");
            } else {
                button(html, viewer, &Action::DisableFeature(key), "Disable");
            }
        }
        end_actions(html, viewer);
    }
    end_table(html);
}

/// Two cells: today's usage against the daily limits and the month's against the monthly ones,
/// a bar per limited metric. `used` answers (today, this month) for a metric.
fn meters(html: &mut Html, daily: &Limits, monthly: &Limits, used: impl Fn(Metric) -> (f64, f64)) {
    for (limits, monthly_cell) in [(daily, false), (monthly, true)] {
        html.raw("<td>");
        if limits.is_empty() {
            html.raw("no limit");
        }
        for (metric, limit) in limits {
            let (today, month) = used(*metric);
            let amount = if monthly_cell { month } else { today };
            chart::meter(html, amount, *limit, metric.budget_name());
        }
        html.raw("</td>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn every_feature_shows_its_bars_state_and_the_admins_actions() {
        let mut ledger = Ledger {
            today: "2026-03-02".into(),
            month: "2026-03".into(),
            days: vec!["2026-03-02".into()],
            ..Ledger::default()
        };
        ledger.usage.insert(
            ("shop:api:cart".into(), "2026-03-02".into(), Metric::KvWrites),
            80.0,
        );
        ledger.limits.insert(
            "shop:api:cart".into(),
            (BTreeMap::from([(Metric::KvWrites, 100.0)]), BTreeMap::new()),
        );
        let status = Ok(json!({"global": {"stopped": false}, "projects": [], "features": [
            {"feature": "shop:api:checkout", "manual": true, "reason": "by ann from the dashboard", "since": 1_772_000_000_000_u64}]}));
        let admin = Viewer {
            id: "ann".into(),
            label: "ann".into(),
            admin: true,
            csrf: String::new(),
        };
        let page = render(&admin, &status, &Ok(ledger.clone()));
        assert!(page.contains("80 / 100 kv_writes (80 %)"));
        assert!(page.contains("disabled") && page.contains("by ann from the dashboard"));
        assert!(page.contains("only when an admin enables it"));
        assert!(page.contains("value=\"enable-feature\"") && page.contains("value=\"disable-feature\""));
        assert!(page.contains("value=\"pause-project\"") && page.contains("value=\"global-stop\""));
        let reader = Viewer {
            admin: false,
            ..admin
        };
        let page = render(&reader, &status, &Ok(ledger));
        assert!(!page.contains("<form"), "no action for a non-admin");
        assert!(!page.contains("Actions"), "nor an empty column for them");
    }

    #[test]
    fn a_project_bars_the_total_of_its_features_against_its_own_limits() {
        let mut ledger = Ledger {
            today: "2026-03-02".into(),
            month: "2026-03".into(),
            days: vec!["2026-03-01".into(), "2026-03-02".into()],
            ..Ledger::default()
        };
        for (feature, day, amount) in [
            ("shop:api:cart", "2026-03-02", 30.0),
            ("shop:api:search", "2026-03-02", 20.0),
            ("shop:api:cart", "2026-03-01", 100.0),
            ("blog:web:render", "2026-03-02", 999.0),
        ] {
            ledger
                .usage
                .insert((feature.into(), day.into(), Metric::KvWrites), amount);
        }
        ledger.project_limits.insert(
            "shop".into(),
            (
                BTreeMap::from([(Metric::KvWrites, 200.0)]),
                BTreeMap::from([(Metric::KvWrites, 1000.0)]),
            ),
        );
        let reader = Viewer {
            id: "bo".into(),
            label: "bo".into(),
            admin: false,
            csrf: String::new(),
        };
        let page = render(&reader, &Ok(json!({"projects": [], "features": []})), &Ok(ledger));
        let shop = &page[page.find("<td>shop</td>").unwrap()..];
        let shop = &shop[..shop.find("</tr>").unwrap()];
        assert!(shop.contains("50 / 200 kv_writes (25 %)"), "{shop}");
        assert!(shop.contains("150 / 1,000 kv_writes (15 %)"), "{shop}");
        let blog = &page[page.find("<td>blog</td>").unwrap()..];
        assert!(blog[..blog.find("</tr>").unwrap()].contains("no limit"));
    }
}
