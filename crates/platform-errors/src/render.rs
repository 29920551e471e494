//! The text of issues and comments. Everything shown was redacted on capture; here it is made
//! inert (event text in code blocks and code spans, where GitHub renders no mention, link or
//! HTML; titles with `@`, brackets and angle brackets replaced) and cut to GitHub's limits.

use crate::event::ErrorKind;
use crate::priority::Priority;

/// GitHub refuses bodies over 65,536 characters; keep a margin.
pub const MAX_BODY: usize = 60_000;
const MAX_TITLE: usize = 120;

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Text that cannot close a code fence or break a table row.
fn fenced(text: &str) -> String {
    text.replace("```", "`\u{200b}`\u{200b}`")
}

/// A table cell: a code span (no mention, link or HTML renders in one), one line, pipes escaped
/// as GitHub tables need even inside code.
fn cell(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let inner = text
        .replace('`', "\u{2cb}")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ");
    format!("`{inner}`")
}

/// Title text: GitHub renders mentions and links in no title, but a title is copied into
/// notifications and chat; `@`, brackets and angle brackets from event text are replaced by
/// look-alikes that start nothing, and URLs are defanged.
fn inert(text: &str) -> String {
    text.replace("://", ":\u{2215}\u{2215}")
        .replace("www.", "www\u{2024}")
        .chars()
        .map(|c| match c {
            '@' => '\u{ff20}',
            '[' => '\u{ff3b}',
            ']' => '\u{ff3d}',
            '<' => '\u{2039}',
            '>' => '\u{203a}',
            other => other,
        })
        .collect()
}

/// `[script] Name: message` (or what the kind says).
pub fn title(script: &str, kind: ErrorKind, exception: Option<&str>, sample: &str) -> String {
    let first_line = sample.lines().next().unwrap_or("");
    let what = match (kind, exception) {
        (ErrorKind::CpuLimit, _) => "Exceeded CPU limit".to_owned(),
        (ErrorKind::MemoryLimit, _) => "Exceeded memory limit".to_owned(),
        (_, Some(name)) => format!("{name}: {}", cut(first_line, 80)),
        (ErrorKind::SoftError, None) => format!("Error: {}", cut(first_line, 80)),
        (ErrorKind::Warning, None) => format!("Warning: {}", cut(first_line, 80)),
        (other, None) if first_line.is_empty() => format!("Invocation {}", other.as_str()),
        (other, None) => format!("{}: {}", other.as_str(), cut(first_line, 80)),
    };
    cut(
        &format!("[{}] {}", inert(script), inert(&what)).replace(['\n', '\r'], " "),
        MAX_TITLE,
    )
}

/// What an issue body shows.
#[derive(Debug, Clone)]
pub struct IssueFacts<'a> {
    pub fingerprint: &'a str,
    pub project: &'a str,
    pub script: &'a str,
    pub kind: ErrorKind,
    pub priority: Priority,
    pub category: Option<&'a str>,
    pub occurrences: u64,
    pub first_seen: &'a str,
    pub last_seen: &'a str,
    pub message: &'a str,
    pub sample: &'a str,
    pub context: &'a str,
    pub logs: &'a [String],
}

/// The line of an issue body that names its fingerprint: how the collector finds an issue it
/// filed when GitHub's answer was lost.
pub fn marker(fingerprint: &str) -> String {
    format!("Fingerprint: `{fingerprint}`")
}

/// The issue body, at most [`MAX_BODY`] characters. The fingerprint line is the issue's anchor.
pub fn body(f: &IssueFacts<'_>) -> String {
    let mut out = format!(
        "## {kind} in {script}\n\n```\n{sample}\n```\n\n\
         | | |\n|---|---|\n\
         | Project | {project} |\n| Worker | {script_cell} |\n| Priority | {priority} |\n\
         | Kind | {kind} |\n| Transient | {transient} |\n| Occurrences | {n} |\n\
         | First seen | {first} |\n| Last seen | {last} |\n| Last context | {context} |\n\
         | Normalised | {message} |\n\n",
        kind = f.kind.as_str(),
        script = cell(f.script),
        script_cell = cell(f.script),
        sample = fenced(&cut(f.sample, 4000)),
        project = cell(f.project),
        priority = f.priority.as_str(),
        transient = f.category.map_or("no".to_owned(), cell),
        n = f.occurrences,
        first = cell(f.first_seen),
        last = cell(f.last_seen),
        context = cell(&cut(f.context, 500)),
        message = cell(f.message),
    );
    if !f.logs.is_empty() {
        out.push_str("<details><summary>Recent logs</summary>\n\n```\n");
        let budget = MAX_BODY.saturating_sub(out.len() + 400);
        out.push_str(&fenced(&cut(&f.logs.join("\n"), budget)));
        out.push_str("\n```\n</details>\n\n");
    }
    out.push_str(&format!(
        "_Filed by the platform error collector. Occurrence counts live in its database; \
         label `cf:muted` or `cf:wont-fix` to keep this closed._\n\n{}\n",
        marker(f.fingerprint)
    ));
    cut(&out, MAX_BODY)
}

/// The comment on further occurrences.
pub fn occurrence_comment(occurrences: u64, last_seen: &str, context: &str, regression: bool) -> String {
    let head = if regression {
        "**Regression**: this error came back after the issue was closed."
    } else {
        "Further occurrences."
    };
    format!(
        "{head}\n\n| Occurrences | Last seen | Last context |\n|---|---|---|\n| {occurrences} | {} | {} |\n",
        cell(last_seen),
        cell(&cut(context, 500))
    )
}

/// The title and body of a project's coverage-gap issue (from the sentinel).
pub fn gap_issue(project: &str, day: &str, coverage: Option<f64>, details: &str) -> (String, String) {
    let title = match coverage {
        Some(pct) => format!("Data coverage gap: {project} at {pct:.0}% ({day})"),
        None => format!("Data coverage gap: {project} ({day})"),
    };
    let body = format!(
        "The sentinel found a coverage gap for project `{}` on {}.\n\n```\n{}\n```\n\n\
         _Filed at most once per project per day by the platform error collector._\n",
        cell(project),
        cell(day),
        fenced(&cut(details, 20_000))
    );
    (cut(&title.replace(['\n', '\r'], " "), MAX_TITLE), body)
}

/// Labels of a gap issue.
pub const GAP_LABELS: [&str; 3] = ["cf:error:auto-generated", "cf:gap-alert", "cf:priority:p2"];

/// One warning in a daily digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestEntry {
    pub script: String,
    pub sample: String,
    pub occurrences: u64,
    pub fingerprint: String,
}

/// Labels of a warning digest.
pub const DIGEST_LABELS: [&str; 4] = [
    "cf:error:auto-generated",
    "cf:error:warning",
    "cf:priority:p4",
    "cf:digest",
];

/// The title and body of a project's daily warning digest: one table row per warning, most
/// frequent first, cut to the body limit.
pub fn digest_issue(project: &str, day: &str, entries: &[DigestEntry]) -> (String, String) {
    let title = cut(
        &format!("Warning digest: {project} ({day}, {} warnings)", entries.len()),
        MAX_TITLE,
    );
    let mut sorted: Vec<&DigestEntry> = entries.iter().collect();
    platform_core::sorted::sort_by(&mut sorted, |a, b| {
        b.occurrences
            .cmp(&a.occurrences)
            .then(a.fingerprint.cmp(&b.fingerprint))
    });
    let mut body = format!(
        "Warnings logged by project `{}`'s Workers on {}.\n\n| Worker | Warning | Occurrences (total) | Fingerprint |\n|---|---|---|---|\n",
        cell(project),
        cell(day)
    );
    for entry in sorted {
        let line = format!(
            "| {} | {} | {} | `{}` |\n",
            cell(&entry.script),
            cell(&cut(&entry.sample, 200)),
            entry.occurrences,
            entry.fingerprint
        );
        if body.len() + line.len() > MAX_BODY - 200 {
            body.push_str("| … | more warnings left out | | |\n");
            break;
        }
        body.push_str(&line);
    }
    body.push_str("\n_One digest per project per day, filed by the platform error collector._\n");
    (title, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(sample: &'a str, logs: &'a [String]) -> IssueFacts<'a> {
        IssueFacts {
            fingerprint: "0123456789abcdef0123456789abcdef",
            project: "shop",
            script: "shop-api",
            kind: ErrorKind::Exception,
            priority: Priority::P1,
            category: None,
            occurrences: 3,
            first_seen: "2026-03-02T14:00:00Z",
            last_seen: "2026-03-02T15:00:00Z",
            message: "boom {n}",
            sample,
            context: "POST https://shop.example/orders",
            logs,
        }
    }

    #[test]
    fn titles_name_script_and_error() {
        assert_eq!(
            title("shop", ErrorKind::Exception, Some("TypeError"), "x is undefined"),
            "[shop] TypeError: x is undefined"
        );
        assert_eq!(
            title("shop", ErrorKind::CpuLimit, None, ""),
            "[shop] Exceeded CPU limit"
        );
        assert!(
            title("shop", ErrorKind::SoftError, None, &"y".repeat(500))
                .chars()
                .count()
                <= MAX_TITLE
        );
    }

    #[test]
    fn bodies_carry_the_fingerprint_fence_safely_and_stay_under_the_cap() {
        let logs = vec!["z".repeat(100_000)];
        let text = body(&facts("evil ``` fence", &logs));
        assert!(text.contains("Fingerprint: `0123456789abcdef0123456789abcdef`"));
        assert!(!text.contains("evil ```"));
        assert!(text.chars().count() <= MAX_BODY);
        assert!(text.contains("| Occurrences | 3 |"));
    }

    #[test]
    fn digests_list_warnings_most_frequent_first() {
        let entry = |sample: &str, occurrences| DigestEntry {
            script: "shop-api".into(),
            sample: sample.into(),
            occurrences,
            fingerprint: "f".repeat(32),
        };
        let (title, body) = digest_issue(
            "shop",
            "2026-03-02",
            &[entry("slow | query", 2), entry("cache cold", 9)],
        );
        assert_eq!(title, "Warning digest: shop (2026-03-02, 2 warnings)");
        let (cold, slow) = (
            body.find("cache cold").unwrap(),
            body.find("slow \\| query").unwrap(),
        );
        assert!(cold < slow);
        let many: Vec<_> = (0..2000).map(|i| entry(&"w".repeat(150), i)).collect();
        assert!(digest_issue("shop", "2026-03-02", &many).1.len() <= MAX_BODY);
    }

    #[test]
    fn gap_issues_name_project_and_day() {
        let (title, body) = gap_issue("shop", "2026-03-02", Some(42.4), "missing ``` d1");
        assert_eq!(title, "Data coverage gap: shop at 42% (2026-03-02)");
        assert!(!body.contains("missing ```"));
    }
}
