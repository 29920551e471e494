//! The daily warning digest: one issue per project per UTC day listing the warnings (P4) its
//! Workers logged, instead of an issue per warning. Claimed in D1 before GitHub is called, so a
//! cron that runs twice files once.

use std::collections::BTreeMap;

use platform_core::UtcDay;
use platform_errors::milestone::DAY_MS;
use platform_errors::render::{digest_issue, DigestEntry, DIGEST_LABELS};
use platform_worker::ApiError;
use serde::Serialize;
use serde_json::json;
use worker::Env;

use crate::context::Ctx;
use crate::ledger::{listing, DailyIssue, DailyKind};

/// Warnings listed per digest at most (the body is cut to GitHub's limit anyway).
const MAX_WARNINGS: u32 = 2000;

#[derive(Debug, Default, Serialize)]
pub struct DigestReport {
    pub day: String,
    pub projects: u32,
    pub filed: u32,
    pub already_filed: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<&'static str>,
    pub errors: Vec<String>,
}

/// Files the digest of the UTC day before `now`.
pub async fn scheduled(env: &Env, now: u64) -> DigestReport {
    run(env, now).await.unwrap_or_else(|error| DigestReport {
        errors: vec![error.log_message()],
        ..DigestReport::default()
    })
}

/// Why a run failed: a project's digest could not be filed (the `*/15` upkeep then runs it again
/// the same day).
pub fn failure(report: &DigestReport) -> Option<String> {
    (!report.errors.is_empty()).then(|| report.errors.join("; "))
}

async fn run(env: &Env, now: u64) -> Result<DigestReport, ApiError> {
    let day = UtcDay::containing(now.saturating_sub(DAY_MS));
    let mut ctx = Ctx::new(env, now)?;
    if ctx.github.is_none() {
        // Not a failure: without GitHub the collector records only, and /health says so.
        return Ok(DigestReport {
            day: day.to_string(),
            skipped: Some("GITHUB_TOKEN is not set"),
            ..DigestReport::default()
        });
    }
    // Warnings active during the day: seen on it, or first seen before its end and still going.
    let warnings = listing::warnings(&ctx.db, day, MAX_WARNINGS).await?;
    let mut by_project: BTreeMap<(String, String), Vec<DigestEntry>> = BTreeMap::new();
    for w in warnings {
        by_project
            .entry((w.project, w.repository))
            .or_default()
            .push(DigestEntry {
                script: w.script,
                sample: w.sample,
                occurrences: w.occurrences,
                fingerprint: w.fingerprint,
            });
    }
    let day_text = day.to_string();
    let mut report = DigestReport {
        day: day_text.clone(),
        projects: by_project.len() as u32,
        ..DigestReport::default()
    };
    for ((project, repository), entries) in by_project {
        let daily = DailyIssue {
            kind: DailyKind::Digest,
            project: &project,
            day,
        };
        if !daily.claim(&ctx.db, now).await? {
            report.already_filed += 1;
            continue;
        }
        let (title, body) = digest_issue(&project, &day_text, &entries);
        let payload = json!({ "title": title, "body": body, "labels": DIGEST_LABELS });
        match ctx.file_daily_issue(&daily, &repository, &payload).await? {
            Ok(_) => report.filed += 1,
            Err(error) => {
                report.errors.push(format!("{project}: {}", error.describe()));
                if error.halts() {
                    break;
                }
            }
        }
    }
    Ok(report)
}
