//! The person's inbox: their notifications, newest first, as the inbox's own list answers them.

use super::{at, cell, end_table, field, table, tag};
use crate::data::{flag, list, Source};
use crate::html::Html;
use crate::layout::unavailable;

pub fn render(notifications: &Source) -> String {
    let mut html = Html::new();
    let answer = match notifications {
        Ok(answer) => answer,
        Err(why) => {
            unavailable(&mut html, "Your notifications", why);
            return html.into_string();
        }
    };
    let items = list(answer, "notifications");
    if items.is_empty() {
        html.raw("<p>Nothing in your inbox.</p>");
        return html.into_string();
    }
    table(
        &mut html,
        "Notifications",
        &["", "When", "Priority", "What", "From"],
    );
    for item in items {
        html.raw("<tr><td>");
        if flag(item, "read") {
            tag(&mut html, "ok", "read");
        } else {
            tag(&mut html, "warn", "unread");
        }
        html.raw("</td>");
        cell(&mut html, &at(item, "created_at"));
        cell(&mut html, field(item, "priority"));
        html.raw("<td><strong>")
            .text(field(item, "title"))
            .raw("</strong><br>")
            .text(field(item, "body"));
        if let Some(url) = item
            .get("action_url")
            .and_then(|u| u.as_str())
            .filter(|u| u.starts_with("https://") || u.starts_with('/'))
        {
            html.raw("<br>").link(url, "Open");
        }
        html.raw("</td>");
        cell(&mut html, field(item, "source"));
        html.raw("</tr>");
    }
    end_table(&mut html);
    html.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notifications_are_listed_with_safe_links_only() {
        let page = render(&Ok(json!({"notifications": [
            {"title": "Breaker tripped", "body": "shop:api:cart", "priority": "critical", "source": "platform-usage", "read": false,
             "created_at": "2026-03-02T10:00:00.000Z", "action_url": "javascript:alert(1)"}]})));
        assert!(page.contains("Breaker tripped") && page.contains("unread"));
        assert!(!page.contains("javascript:"));
    }
}
