//! The page around every view: navigation, who is signed in, the stylesheet, and the forms of
//! actions (an admin's button opens the confirmation step; only that step posts, with the token).

use crate::action::Action;
use crate::html::Html;

/// The stylesheet's path; the worker serves [`STYLE`] there with a long cache lifetime, so the
/// version is part of the path.
pub const STYLE_PATH: &str = concat!("/dashboard/assets/style-", env!("CARGO_PKG_VERSION"), ".css");
pub const STYLE: &str = include_str!("style.css");

/// Every page: its path under `/dashboard/` and its name.
pub const PAGES: &[(&str, &str)] = &[
    ("overview", "Overview"),
    ("budgets", "Budgets and breakers"),
    ("usage", "Usage"),
    ("errors", "Errors"),
    ("anomalies", "Gaps and anomalies"),
    ("patterns", "Patterns"),
    ("inbox", "Inbox"),
    ("health", "Platform health"),
];

/// The person looking at the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub id: String,
    pub label: String,
    /// The `admin` role: may act, not only look.
    pub admin: bool,
    /// The anti-CSRF token of this person's forms.
    pub csrf: String,
}

fn head(html: &mut Html, title: &str) {
    html.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>")
        .text(title)
        .raw(" · Platform</title><link rel=\"stylesheet\" href=\"")
        .raw(STYLE_PATH)
        .raw("\"></head><body>");
}

/// A whole page: `body` is markup written by a view.
pub fn page(title: &str, active: &str, viewer: &Viewer, flash: Option<&str>, body: &str) -> String {
    let mut html = Html::new();
    head(&mut html, title);
    html.raw("<header><a class=\"skip\" href=\"#main\">Skip to content</a><nav aria-label=\"Pages\"><ul>");
    for (path, name) in PAGES {
        html.raw("<li><a href=\"/dashboard/").raw(path).raw("\"");
        if *path == active {
            html.raw(" aria-current=\"page\"");
        }
        html.raw(">").raw(name).raw("</a></li>");
    }
    html.raw("</ul></nav><form class=\"who\" method=\"post\" action=\"/dashboard/logout\"><span>")
        .text(&viewer.label)
        .raw(if viewer.admin { " (admin)" } else { "" })
        .raw("</span> <button class=\"link\">Sign out</button></form></header><main id=\"main\"><h1>")
        .text(title)
        .raw("</h1>");
    if let Some(flash) = flash {
        html.raw("<p class=\"flash\" role=\"status\">")
            .text(flash)
            .raw("</p>");
    }
    html.raw(body)
        .raw("<p class=\"foot\">Times are UTC (ISO 8601). Usage counts are what the applications report (estimates); costs say whether they are estimates or billed.</p></main></body></html>");
    html.into_string()
}

/// The page of anyone not signed in or not a registered person: why, and how to sign in. Never data.
pub fn refusal(message: &str) -> String {
    let mut html = Html::new();
    head(&mut html, "Sign in");
    html.raw("<main id=\"main\" class=\"narrow\"><h1>Sign in</h1><p class=\"flash bad\" role=\"alert\">")
        .text(message)
        .raw("</p><p>Sign in through your organisation's Cloudflare Access, or with a personal token an admin issued you (<code>ntk_…</code>).</p><form method=\"post\" action=\"/dashboard/login\"><label for=\"token\">Personal token</label><input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required><button>Sign in</button></form></main></body></html>");
    html.into_string()
}

/// A short page saying what went wrong and what to do, for a signed-in person.
pub fn problem(viewer: &Viewer, title: &str, message: &str) -> String {
    let mut body = Html::new();
    body.raw("<p class=\"flash bad\" role=\"alert\">")
        .text(message)
        .raw("</p><p><a href=\"/dashboard/overview\">Back to the overview</a></p>");
    page(title, "", viewer, None, body.as_str())
}

/// Says where data is missing and why, in place of it.
pub fn unavailable(html: &mut Html, what: &str, why: &str) {
    html.raw("<p class=\"unavailable\">")
        .text(what)
        .raw(" could not be read: ")
        .text(why)
        .raw("</p>");
}

/// An admin's button for `action`: it opens the confirmation step. Nothing for anyone else.
pub fn button(html: &mut Html, viewer: &Viewer, action: &Action, label: &str) {
    if !viewer.admin {
        return;
    }
    html.raw("<form class=\"act\" method=\"get\" action=\"/dashboard/confirm\"><input type=\"hidden\" name=\"action\" value=\"")
        .raw(action.name())
        .raw("\"><input type=\"hidden\" name=\"target\" value=\"")
        .text(&action.target())
        .raw("\"><button>")
        .text(label)
        .raw("</button></form>");
}

/// The confirmation step: the question, what follows, and the form that posts the action with
/// the person's token.
pub fn confirm(viewer: &Viewer, action: &Action) -> String {
    let (question, consequence) = action.question();
    let mut body = Html::new();
    body.raw("<p>")
        .text(consequence)
        .raw("</p><form method=\"post\" action=\"/dashboard/actions\"><input type=\"hidden\" name=\"csrf\" value=\"")
        .text(&viewer.csrf)
        .raw("\"><input type=\"hidden\" name=\"action\" value=\"")
        .raw(action.name())
        .raw("\"><input type=\"hidden\" name=\"target\" value=\"")
        .text(&action.target())
        .raw("\"><button class=\"danger\">Yes, ")
        .text(&question.trim_end_matches('?').to_lowercase())
        .raw("</button> <a href=\"/dashboard/")
        .raw(action.page())
        .raw("\">Cancel</a></form>");
    page(&question, "", viewer, None, body.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(admin: bool) -> Viewer {
        Viewer {
            id: "ann".into(),
            label: "Ann <A>".into(),
            admin,
            csrf: "c".repeat(64),
        }
    }

    #[test]
    fn only_admins_get_buttons_and_the_confirmation_carries_the_token() {
        let action = Action::parse("pause-project", "shop").unwrap_or_else(|e| panic!("{e}"));
        let mut html = Html::new();
        button(&mut html, &viewer(false), &action, "Pause");
        assert!(html.as_str().is_empty());
        button(&mut html, &viewer(true), &action, "Pause");
        assert!(html
            .as_str()
            .contains("method=\"get\" action=\"/dashboard/confirm\""));
        assert!(
            !html.as_str().contains("csrf"),
            "the button itself changes nothing"
        );
        let page = confirm(&viewer(true), &action);
        assert!(page.contains("name=\"csrf\" value=\"cccc"));
        assert!(page.contains("method=\"post\" action=\"/dashboard/actions\""));
        assert!(page.contains("Ann &lt;A&gt; (admin)"));
    }

    #[test]
    fn the_refusal_shows_no_data_and_the_way_in() {
        let page = refusal("sign in first");
        assert!(page.contains("action=\"/dashboard/login\""));
        assert!(!page.contains("<nav"));
    }
}
