//! How answers are shown: the platform's JSON as is with `--json`, otherwise tables with times in
//! UTC and the operator's timezone, relative times, and usage bars. Colour only on a terminal
//! without NO_COLOR.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Local, TimeZone, Utc};
use serde_json::Value;

use super::Failure;

pub struct Output {
    pub json: bool,
    color: bool,
}

#[derive(Clone, Copy)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Dim,
}

impl Output {
    pub fn new(json: bool, color: bool) -> Self {
        Self { json, color }
    }

    /// The answer: `value` as JSON with `--json`, else what `human` prints.
    pub fn emit(&self, value: &Value, human: impl FnOnce()) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
        } else {
            human();
        }
    }

    /// A line for people; nothing with `--json` (stdout stays one JSON document).
    pub fn line(&self, text: &str) {
        if !self.json {
            println!("{text}");
        }
    }

    pub fn failure(&self, failure: &Failure) {
        let label = self.paint("error:", Tone::Bad);
        eprintln!("{label} {failure}");
    }

    pub fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// Prints rows under a header, each column as wide as its widest cell.
    pub fn table(&self, header: &[&str], rows: &[Vec<String>]) {
        if rows.is_empty() {
            return;
        }
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(i) {
                    *width = (*width).max(visible_width(cell));
                }
            }
        }
        let line = |cells: Vec<String>| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, width)| {
                    format!("{cell}{}", " ".repeat(width.saturating_sub(visible_width(cell))))
                })
                .collect();
            println!("{}", padded.join("  ").trim_end());
        };
        let heading: Vec<String> = header.iter().map(|h| h.to_uppercase()).collect();
        line(heading.iter().map(|h| self.paint(h, Tone::Dim)).collect());
        for row in rows {
            line(row.clone());
        }
    }
}

/// Characters shown, without colour codes.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut escape = false;
    for c in text.chars() {
        match (escape, c) {
            (false, '\x1b') => escape = true,
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// An ISO 8601 time or epoch milliseconds, as the admin API may answer.
pub fn instant(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n.as_i64().and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
        _ => None,
    }
}

/// `2026-03-02 14:05Z (15:05 local, in 2h 5m)`, or `-` for no time.
pub fn when(value: &Value, now: DateTime<Utc>) -> String {
    let Some(at) = instant(value) else {
        return "-".into();
    };
    let local = at.with_timezone(&Local);
    let local_text = if local.format("%Y-%m-%d").to_string() == at.format("%Y-%m-%d").to_string() {
        local.format("%H:%M").to_string()
    } else {
        local.format("%m-%d %H:%M").to_string()
    };
    format!(
        "{}Z ({local_text} local, {})",
        at.format("%Y-%m-%d %H:%M"),
        relative(at, now)
    )
}

/// `in 2h 5m`, `3d 4h ago`, `now`.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (at - now).num_seconds();
    let span = seconds.unsigned_abs();
    if span < 60 {
        return "now".into();
    }
    let (days, hours, minutes) = (span / 86_400, span % 86_400 / 3600, span % 3600 / 60);
    let text = match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    };
    if seconds > 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// `[##########----------]  50%` of `used` against `limit`.
pub fn bar(used: f64, limit: f64, width: usize) -> String {
    if limit <= 0.0 {
        return String::new();
    }
    let ratio = (used / limit).max(0.0);
    let filled = ((ratio.min(1.0) * width as f64).round() as usize).min(width);
    format!(
        "[{}{}] {:>3.0}%",
        "#".repeat(filled),
        "-".repeat(width - filled),
        ratio * 100.0
    )
}

/// A number as people read it: `1,234,567`, `12.5`.
pub fn number(value: f64) -> String {
    if value.fract() != 0.0 {
        return format!("{value:.2}");
    }
    let digits = format!("{}", value.abs() as u64);
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if value < 0.0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// Text of a JSON field for a cell: strings bare, nothing as `-`.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(text) => text.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
        other => other.to_string(),
    }
}

/// A progress bar on stderr for a terminal; plain lines when it changes otherwise.
pub struct Progress {
    label: String,
    terminal: bool,
    quiet: bool,
    last: Option<(u64, u64)>,
}

impl Progress {
    pub fn new(out: &Output, label: &str) -> Self {
        Self {
            label: label.to_owned(),
            terminal: std::io::stderr().is_terminal(),
            quiet: out.json,
            last: None,
        }
    }

    pub fn update(&mut self, done: u64, total: u64) {
        if self.quiet || self.last == Some((done, total)) {
            return;
        }
        self.last = Some((done, total));
        let shown = bar(done as f64, total.max(1) as f64, 30);
        let mut stderr = std::io::stderr();
        if self.terminal {
            let _ = write!(stderr, "\r{} {shown} {done}/{total} KV operations", self.label);
        } else {
            let _ = writeln!(stderr, "{} {done}/{total} KV operations", self.label);
        }
        let _ = stderr.flush();
    }

    pub fn finish(&mut self) {
        if self.terminal && !self.quiet && self.last.is_some() {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bars_numbers_and_relative_times_read_well() {
        assert_eq!(bar(50.0, 100.0, 10), "[#####-----]  50%");
        assert_eq!(bar(150.0, 100.0, 4), "[####] 150%");
        assert_eq!(number(1_234_567.0), "1,234,567");
        assert_eq!(number(12.5), "12.50");
        let now = Utc.timestamp_millis_opt(1_772_460_000_000).single().unwrap();
        assert_eq!(relative(now + chrono::Duration::minutes(125), now), "in 2h 5m");
        assert_eq!(relative(now - chrono::Duration::hours(76), now), "3d 4h ago");
    }

    #[test]
    fn times_are_read_as_iso_8601_or_epoch_milliseconds() {
        let iso = instant(&json!("2026-03-02T14:05:00.000Z")).unwrap();
        assert_eq!(instant(&json!(iso.timestamp_millis())), Some(iso));
        assert!(when(&json!("2026-03-02T14:05:00.000Z"), iso).starts_with("2026-03-02 14:05Z ("));
        assert_eq!(when(&Value::Null, iso), "-");
    }
}
