//! The hourly detection: gaps and stale heartbeats from the usage ledger's activity, cost
//! anomalies from its daily usage. The rules are `platform-sentinel`'s; this reads their inputs,
//! records what changed, hands new gaps to the error collector and caches the gap result.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::services::Expect;
use platform_core::thresholds::CostAlertThresholds;
use platform_core::time::iso8601;
use platform_core::{FeatureKey, ProjectId, UtcDay};
use platform_db::usage::activity;
use platform_kv::families::{AlertThresholds, ProjectGapsResult};
use platform_kv::Json;
use platform_sentinel::anomaly::{self, AnomalyRule, DayUsage, Verdict};
use platform_sentinel::gaps::{self, GapRule, GapState, Heard};
use platform_sentinel::heartbeat;
use platform_sentinel::incident::{duration, Finding, IncidentKind};
use platform_sentinel::{DAY_MS, HOUR_MS};
use platform_worker::alerts::{self, Delivery};
use platform_worker::ApiError;
use serde::Serialize;
use serde_json::{json, Value};
use worker::Env;

use crate::incidents::{self, Applied};
use crate::services;

/// The days of activity a cadence is learned from, today included.
const ACTIVITY_DAYS: u64 = 8;
/// The days of usage before the judged day that make its baseline (two weeks, for the weekday).
const BASELINE_DAYS: u64 = 14;
/// The wrangler var that sets the gap multiple (default [`GapRule::DEFAULT_MULTIPLE`]).
pub const GAP_MULTIPLE_VAR: &str = "GAP_SILENCE_MULTIPLE";

#[derive(Debug, Default, Serialize)]
pub struct DetectReport {
    pub features: usize,
    pub gaps: usize,
    pub stale_heartbeats: usize,
    pub anomalies: usize,
    pub applied: Applied,
    pub gap_issues: Vec<Value>,
    pub delivery: Delivery,
    pub problems: Vec<String>,
}

/// Why a run failed, if it did.
pub fn failure(report: &DetectReport) -> Option<String> {
    (!report.problems.is_empty()).then(|| report.problems.join("; "))
}

fn days_back(now: u64, count: u64, skip: u64) -> Vec<String> {
    (skip..skip + count)
        .rev()
        .map(|back| UtcDay::containing(now.saturating_sub(back * DAY_MS)).to_string())
        .collect()
}

fn gap_rule(env: &Env) -> Result<GapRule, String> {
    match env.var(GAP_MULTIPLE_VAR) {
        Err(_) => Ok(GapRule::default()),
        Ok(value) => {
            let text = value.to_string();
            let multiple = text
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("{GAP_MULTIPLE_VAR} {text:?} is not a number"))?;
            GapRule::new(multiple).map_err(|e| format!("{GAP_MULTIPLE_VAR}: {e}"))
        }
    }
}

/// The intervals services.yaml declares (`expect: every 24h`), from the config applied last.
async fn declared(db: &platform_worker::PlatformDb, problems: &mut Vec<String>) -> BTreeMap<FeatureKey, u64> {
    let document = match platform_db::config::latest(db).await {
        Ok(row) => row.and_then(|r| r.document),
        Err(error) => {
            problems.push(format!(
                "the applied config is unreadable, cadences are learned: {error}"
            ));
            None
        }
    };
    let Some(config) = document.and_then(|d| serde_json::from_str::<Value>(&d).ok()) else {
        return BTreeMap::new();
    };
    let mut declared = BTreeMap::new();
    let projects = config["services"]["projects"].as_object().into_iter().flatten();
    for (_, project) in projects {
        for (key, feature) in project["features"].as_object().into_iter().flatten() {
            let expect = serde_json::from_value::<Expect>(feature["expect"].clone());
            if let (Ok(key), Ok(Expect::Every(every_ms))) = (FeatureKey::parse(key), expect) {
                declared.insert(key, every_ms);
            }
        }
    }
    declared
}

/// Activity per feature over the window.
fn heard(rows: Vec<activity::FeatureActivity>) -> BTreeMap<FeatureKey, Heard> {
    let mut heard: BTreeMap<FeatureKey, Heard> = BTreeMap::new();
    for row in rows {
        let Some(day) = UtcDay::parse(&row.day) else {
            continue;
        };
        let entry = heard.entry(row.feature).or_insert_with(|| Heard {
            active_hours: BTreeSet::new(),
            last_seen: 0,
        });
        entry.active_hours.extend(
            row.hours
                .iter()
                .filter(|h| **h < 24)
                .map(|h| day.start_ms() + u64::from(*h) * HOUR_MS),
        );
        entry.last_seen = entry.last_seen.max(row.last_seen);
    }
    heard
}

fn gap_finding(feature: &FeatureKey, state: &GapState) -> Option<Finding> {
    let GapState::Gap {
        cadence,
        silent_ms,
        allowed_ms,
        since,
    } = state
    else {
        return None;
    };
    Some(Finding {
        kind: IncidentKind::Gap,
        subject: feature.to_string(),
        project: Some(feature.project()),
        feature: Some(feature.clone()),
        since: *since,
        summary: format!(
            "{feature} has sent no telemetry since {} ({} silent; it is usually heard every {}, and {} of silence is allowed)",
            iso8601(*since),
            duration(*silent_ms),
            duration(cadence.every_ms),
            duration(*allowed_ms)
        ),
        detail: json!({ "state": state }),
    })
}

/// The thresholds from `alert-thresholds:config`, validated; a service whose thresholds cannot
/// be used falls back to its defaults, and the problem is reported.
async fn thresholds(
    store: &platform_worker::PlatformStore,
    problems: &mut Vec<String>,
) -> CostAlertThresholds {
    let key = match AlertThresholds::key() {
        Ok(key) => key,
        Err(error) => {
            problems.push(error.to_string());
            return CostAlertThresholds::default();
        }
    };
    let mut thresholds = match store.get(&key).await {
        Ok(Some(Json(stated))) => stated,
        Ok(None) => CostAlertThresholds::default(),
        Err(error) => {
            problems.push(format!(
                "alert-thresholds:config unreadable, defaults used: {error}"
            ));
            CostAlertThresholds::default()
        }
    };
    for (service, threshold) in thresholds.thresholds.iter_mut() {
        if let Some(problem) = threshold.problem() {
            problems.push(format!(
                "alert-thresholds:config {service}: {problem}; its defaults apply"
            ));
            *threshold = service.default_threshold();
        }
    }
    thresholds
}

fn anomaly_findings(
    usage: Vec<activity::FeatureDayUsage>,
    days: &[String],
    rule: &AnomalyRule,
    thresholds: &CostAlertThresholds,
) -> Vec<Finding> {
    let Some((judged, history_days)) = days.split_last() else {
        return Vec::new();
    };
    let mut by_feature: BTreeMap<FeatureKey, BTreeMap<String, DayUsage>> = BTreeMap::new();
    for row in usage {
        by_feature
            .entry(row.feature)
            .or_default()
            .insert(row.day, row.usage);
    }
    let quiet = DayUsage::new();
    let mut findings = Vec::new();
    for (feature, days_used) in by_feature {
        // History starts at the feature's first day with usage: before it, it did not exist.
        let Some(first) = history_days.iter().position(|d| days_used.contains_key(d)) else {
            continue;
        };
        let history: Vec<DayUsage> = history_days[first..]
            .iter()
            .map(|d| days_used.get(d).cloned().unwrap_or_default())
            .collect();
        let day = days_used.get(judged).unwrap_or(&quiet);
        let judgement = anomaly::judge_feature(rule, thresholds, &history, day);
        let Verdict::Anomaly {
            observed_usd,
            baseline,
            excess_usd,
            score,
        } = &judgement.verdict
        else {
            continue;
        };
        let top: Vec<String> = judgement
            .contributors
            .iter()
            .map(|c| format!("{} +${:.2}", c.metric, c.excess_usd))
            .collect();
        findings.push(Finding {
            kind: IncidentKind::Anomaly,
            subject: feature.to_string(),
            project: Some(feature.project()),
            feature: Some(feature.clone()),
            since: UtcDay::parse(judged).map_or(0, UtcDay::start_ms),
            summary: format!(
                "{feature} cost ${observed_usd:.2} on {judged}, against ${:.2} expected (robust score {score:.1}): about ${excess_usd:.2} more [{}], driven by {}",
                baseline.expected,
                judgement.severity.unwrap_or("warning"),
                top.join(", ")
            ),
            detail: json!({ "day": judged, "project": feature.project(), "judgement": judgement, "rule": rule }),
        });
    }
    findings
}

/// One detection run at `now`.
pub async fn run(env: &Env, now: u64) -> DetectReport {
    let mut report = DetectReport::default();
    let (db, store) = match crate::storage(env) {
        Ok(storage) => storage,
        Err(error) => {
            report.problems.push(error.log_message());
            return report;
        }
    };
    let rule = gap_rule(env).unwrap_or_else(|problem| {
        report.problems.push(problem);
        GapRule::default()
    });
    let open = match platform_db::sentinel::open_incidents(&db).await {
        Ok(open) => open,
        Err(error) => {
            report.problems.push(format!("incidents unreadable: {error}"));
            return report;
        }
    };
    let mut findings = Vec::new();
    let mut evaluated = Vec::new();
    let mut states: BTreeMap<FeatureKey, GapState> = BTreeMap::new();

    match activity::recent(&db, &days_back(now, ACTIVITY_DAYS, 0)).await {
        Ok(rows) => {
            let declared = declared(&db, &mut report.problems).await;
            for (feature, heard) in heard(rows) {
                let state = gaps::assess(rule, &heard, declared.get(&feature).copied(), now);
                findings.extend(gap_finding(&feature, &state));
                states.insert(feature, state);
            }
            // A feature silent for longer than the window has no activity left in it: its gap
            // is still open, not over.
            findings.extend(
                open.iter()
                    .filter(|i| i.open.kind == IncidentKind::Gap)
                    .filter(|i| i.open.feature.as_ref().is_none_or(|f| !states.contains_key(f)))
                    .map(|i| Finding {
                        kind: IncidentKind::Gap,
                        subject: i.open.subject.clone(),
                        project: i.open.project.clone(),
                        feature: i.open.feature.clone(),
                        since: i.open.since,
                        summary: i.summary.clone(),
                        detail: i.detail.clone(),
                    }),
            );
            evaluated.push(IncidentKind::Gap);
        }
        Err(error) => report.problems.push(format!("activity unreadable: {error}")),
    }
    match activity::heartbeats(&db).await {
        Ok(beats) => {
            for (feature, last) in beats {
                let cadence = match states.get(&feature) {
                    Some(GapState::Ok { cadence, .. } | GapState::Gap { cadence, .. }) => Some(cadence),
                    _ => None,
                };
                let allowed = heartbeat::heartbeat_allowance(rule, cadence);
                if heartbeat::is_stale(allowed, last, now) {
                    findings.push(Finding {
                        kind: IncidentKind::Heartbeat,
                        subject: feature.to_string(),
                        project: Some(feature.project()),
                        feature: Some(feature.clone()),
                        since: last,
                        summary: format!(
                            "{feature}'s heartbeat is stale: last at {} ({} of silence allowed)",
                            iso8601(last),
                            duration(allowed)
                        ),
                        detail: json!({ "last_heartbeat": iso8601(last), "allowed_ms": allowed }),
                    });
                }
            }
            evaluated.push(IncidentKind::Heartbeat);
        }
        Err(error) => report.problems.push(format!("heartbeats unreadable: {error}")),
    }
    let anomaly_rule = AnomalyRule::default();
    let thresholds = thresholds(&store, &mut report.problems).await;
    // The judged day is yesterday, complete; the two weeks before it are its baseline.
    let usage_days = days_back(now, BASELINE_DAYS + 1, 1);
    match activity::daily_usage(&db, &usage_days).await {
        Ok(usage) => {
            findings.extend(anomaly_findings(usage, &usage_days, &anomaly_rule, &thresholds));
            evaluated.push(IncidentKind::Anomaly);
        }
        Err(error) => report.problems.push(format!("daily usage unreadable: {error}")),
    }
    report.features = states.len();
    for finding in &findings {
        match finding.kind {
            IncidentKind::Gap => report.gaps += 1,
            IncidentKind::Heartbeat => report.stale_heartbeats += 1,
            IncidentKind::Anomaly => report.anomalies += 1,
            IncidentKind::Platform => {}
        }
    }

    let recorded = async {
        let silences = platform_db::sentinel::silences(&db, now).await?;
        incidents::apply(&db, &findings, &evaluated, &open, &silences, now).await
    };
    match recorded.await {
        Ok((applied, new_gaps)) => {
            report.gap_issues = file_gap_issues(env, &db, &new_gaps, now, &mut report.problems).await;
            report.applied = applied;
        }
        Err(error) => report.problems.push(error.log_message()),
    }
    cache_gaps(&store, &rule, &states, now, &mut report.problems).await;
    match alerts::deliver_pending(env, &store, &db).await {
        Ok(delivery) => report.delivery = delivery,
        Err(error) => report.problems.push(error.log_message()),
    }
    report
}

/// One request per project with new gaps; the collector files at most one issue a day.
async fn file_gap_issues(
    env: &Env,
    db: &platform_worker::PlatformDb,
    new_gaps: &[Finding],
    now: u64,
    problems: &mut Vec<String>,
) -> Vec<Value> {
    let mut by_project: BTreeMap<ProjectId, Vec<&Finding>> = BTreeMap::new();
    for gap in new_gaps {
        if let Some(project) = &gap.project {
            by_project.entry(project.clone()).or_default().push(gap);
        }
    }
    if by_project.is_empty() {
        return Vec::new();
    }
    let projects: Vec<ProjectId> = by_project.keys().cloned().collect();
    // Else the collector uses a repository the project's errors went to, or its default.
    let repositories = platform_db::sentinel::repositories(db, &projects)
        .await
        .unwrap_or_else(|error| {
            problems.push(format!("project repositories unreadable: {error}"));
            BTreeMap::new()
        });
    let mut answers = Vec::new();
    for (project, gaps) in by_project {
        let body = json!({
            "project": project,
            "repository": repositories.get(project.as_str()),
            "details": {
                "detected_at": iso8601(now),
                "gaps": gaps.iter().map(|g| json!({ "feature": g.subject, "why": g.summary })).collect::<Vec<_>>(),
            },
        });
        match services::gap_alert(env, &body).await {
            Ok(answer) => answers.push(json!({ "project": project, "answer": answer })),
            Err(error) => problems.push(format!("gap issue of {project} not filed: {error}")),
        }
    }
    answers
}

async fn cache_gaps(
    store: &platform_worker::PlatformStore,
    rule: &GapRule,
    states: &BTreeMap<FeatureKey, GapState>,
    now: u64,
    problems: &mut Vec<String>,
) {
    let features: serde_json::Map<String, Value> = states
        .iter()
        .map(|(feature, state)| (feature.to_string(), json!(state)))
        .collect();
    let gaps: Vec<&str> = states
        .iter()
        .filter(|(_, s)| s.is_gap())
        .map(|(f, _)| f.as_str())
        .collect();
    let mut result = serde_json::Map::new();
    result.insert("checked_at".into(), json!(iso8601(now)));
    result.insert("rule".into(), json!(rule));
    result.insert("gaps".into(), json!(gaps));
    result.insert("features".into(), Value::Object(features));
    let written = async {
        let key = ProjectGapsResult::key()?;
        store.put(&key, &Json(result)).await?;
        Ok::<(), ApiError>(())
    };
    if let Err(error) = written.await {
        problems.push(format!("gap result not cached: {}", error.log_message()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_end_where_they_should() {
        let now = 1_772_460_306_789; // 2026-03-02T14:05Z
        assert_eq!(days_back(now, 2, 0), ["2026-03-01", "2026-03-02"]);
        let usage = days_back(now, BASELINE_DAYS + 1, 1);
        assert_eq!(usage.len(), 15);
        assert_eq!(usage.last().map(String::as_str), Some("2026-03-01"));
    }
}
