//! A small HTML writer: markup the code writes is pushed as is, everything else is escaped, so
//! nothing an upstream answer or a request holds can become markup.

use std::fmt::Display;

#[derive(Debug, Default)]
pub struct Html(String);

impl Html {
    pub fn new() -> Self {
        Self(String::with_capacity(8192))
    }

    /// Markup written by this crate (never data).
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Text or an attribute value: `& < > " '` escaped.
    pub fn text(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            match c {
                '&' => self.0.push_str("&amp;"),
                '<' => self.0.push_str("&lt;"),
                '>' => self.0.push_str("&gt;"),
                '"' => self.0.push_str("&quot;"),
                '\'' => self.0.push_str("&#39;"),
                c => self.0.push(c),
            }
        }
        self
    }

    /// A number or other displayable value, escaped.
    pub fn show(&mut self, value: impl Display) -> &mut Self {
        self.text(&value.to_string())
    }

    /// `<tag>text</tag>` with the text escaped.
    pub fn el(&mut self, tag: &str, text: &str) -> &mut Self {
        self.raw("<")
            .raw(tag)
            .raw(">")
            .text(text)
            .raw("</")
            .raw(tag)
            .raw(">")
    }

    /// A link to `href` (a dashboard path or an https URL) with `label`.
    pub fn link(&mut self, href: &str, label: &str) -> &mut Self {
        self.raw("<a href=\"")
            .text(href)
            .raw("\">")
            .text(label)
            .raw("</a>")
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A figure for people: thousands separated, at most two decimals.
pub fn figure(value: f64) -> String {
    if !value.is_finite() {
        return "?".to_owned();
    }
    let rounded = (value * 100.0).round() / 100.0;
    let whole = rounded.trunc().abs() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let cents = ((rounded.abs() - whole as f64) * 100.0).round() as u64;
    let sign = if rounded < 0.0 { "-" } else { "" };
    if cents == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{cents:02}")
    }
}

/// US dollars with cents: `$1,234.50`.
pub fn usd(value: f64) -> String {
    let text = figure(value);
    match text.split_once('.') {
        Some(_) => format!("${text}"),
        None => format!("${text}.00"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_escaped_and_markup_is_not() {
        let mut html = Html::new();
        html.raw("<p title=\"")
            .text("a\"b")
            .raw("\">")
            .text("<script>&'")
            .raw("</p>");
        assert_eq!(
            html.as_str(),
            "<p title=\"a&quot;b\">&lt;script&gt;&amp;&#39;</p>"
        );
    }

    #[test]
    fn figures_are_grouped_and_rounded() {
        assert_eq!(figure(0.0), "0");
        assert_eq!(figure(1234567.0), "1,234,567");
        assert_eq!(figure(12.345), "12.35");
        assert_eq!(figure(-1500.5), "-1,500.50");
        assert_eq!(figure(f64::NAN), "?");
        assert_eq!(usd(3.0), "$3.00");
        assert_eq!(usd(1234.5), "$1,234.50");
    }
}
