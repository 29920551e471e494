//! Watching the platform: each worker's `/health`, read through a service binding, judged into
//! findings. A worker that does not answer, answers unhealthy (a binding missing), or has a cron
//! that is stale or a handler failing repeatedly is one finding each.

use serde::Deserialize;

use crate::incident::{Finding, IncidentKind};

/// A handler failing this many runs in a row is an incident (one failure may be a blip).
pub const FAILURES_BEFORE_ALERT: u64 = 3;

/// The parts of a worker's `/health` the watch reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HealthReport {
    pub ok: bool,
    #[serde(default)]
    pub handlers: Vec<HandlerReport>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HandlerReport {
    pub name: String,
    /// `never-run`, `healthy`, `failing` or `stale`.
    pub condition: String,
    #[serde(default)]
    pub consecutive_failures: u64,
    #[serde(default)]
    pub problem: Option<String>,
}

/// What one worker's `/health` answered: its report, or why there was none.
pub type Answer = Result<HealthReport, String>;

/// The findings of one worker's answer, observed at `now`.
pub fn judge(worker: &str, answer: &Answer, now: u64) -> Vec<Finding> {
    let finding = |subject: String, summary: String, detail: serde_json::Value| Finding {
        kind: IncidentKind::Platform,
        subject,
        project: None,
        feature: None,
        since: now,
        summary,
        detail,
    };
    match answer {
        Err(error) => vec![finding(
            worker.to_owned(),
            format!("{worker} does not answer /health: {error}"),
            serde_json::json!({ "worker": worker, "error": error }),
        )],
        Ok(report) => {
            let mut findings = Vec::new();
            if !report.ok {
                findings.push(finding(
                    worker.to_owned(),
                    format!("{worker} reports itself unhealthy (a required binding is missing)"),
                    serde_json::json!({ "worker": worker, "ok": false }),
                ));
            }
            for handler in &report.handlers {
                let failing =
                    handler.condition == "failing" && handler.consecutive_failures >= FAILURES_BEFORE_ALERT;
                if handler.condition == "stale" || failing {
                    let problem = handler
                        .problem
                        .clone()
                        .unwrap_or_else(|| format!("handler {} is {}", handler.name, handler.condition));
                    findings.push(finding(
                        format!("{worker}:{}", handler.name),
                        format!("{worker}: {problem}"),
                        serde_json::json!({
                            "worker": worker,
                            "handler": handler.name,
                            "condition": handler.condition,
                            "consecutive_failures": handler.consecutive_failures,
                        }),
                    ));
                }
            }
            findings
        }
    }
}

/// How long a breaker must have been open before both contracts must show it: KV takes about a
/// minute to reach every location.
pub const PROPAGATION_MS: u64 = 120_000;

/// What consumers read of an open breaker: whether `FEATURE:{key}:enabled` is exactly `false`
/// (the seed's contract) and whether `CONFIG:FEATURE:{key}:STATUS` is exactly `STOP` (the SDK's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerReadback {
    /// The keys read, as platform-kv names them: the seed's and the SDK's.
    pub keys: [String; 2],
    pub legacy_stops: bool,
    pub sdk_stops: bool,
}

/// The synthetic check of one breaker open in D1 since `tripped_at`: a finding when either
/// contract would let consumers run on.
pub fn judge_breaker(
    feature: &platform_core::FeatureKey,
    read: &BreakerReadback,
    now: u64,
) -> Option<Finding> {
    if read.legacy_stops && read.sdk_stops {
        return None;
    }
    let mut missing = Vec::new();
    if !read.legacy_stops {
        missing.push(format!("{} is not false", read.keys[0]));
    }
    if !read.sdk_stops {
        missing.push(format!("{} is not STOP", read.keys[1]));
    }
    Some(Finding {
        kind: IncidentKind::Platform,
        subject: format!("breaker:{feature}"),
        project: Some(feature.project()),
        feature: Some(feature.clone()),
        since: now,
        summary: format!(
            "the breaker of {feature} is open, but consumers would run on: {}",
            missing.join(", ")
        ),
        detail: serde_json::json!({
            "feature": feature,
            "legacy_stops": read.legacy_stops,
            "sdk_stops": read.sdk_stops,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(condition: &str, failures: u64) -> HandlerReport {
        HandlerReport {
            name: "sweep".into(),
            condition: condition.into(),
            consecutive_failures: failures,
            problem: None,
        }
    }

    #[test]
    fn a_worker_that_does_not_answer_is_one_finding() {
        let findings = judge("platform-usage", &Err("connection refused".into()), 5);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].subject, "platform-usage");
    }

    #[test]
    fn a_stale_cron_or_a_repeatedly_failing_handler_is_a_finding() {
        let report = HealthReport {
            ok: true,
            handlers: vec![handler("stale", 0), handler("healthy", 0)],
        };
        let findings = judge("platform-usage", &Ok(report), 5);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].subject, "platform-usage:sweep");
        let once = HealthReport {
            ok: true,
            handlers: vec![handler("failing", 1)],
        };
        assert!(judge("w", &Ok(once), 5).is_empty());
        let thrice = HealthReport {
            ok: true,
            handlers: vec![handler("failing", 3)],
        };
        assert_eq!(judge("w", &Ok(thrice), 5).len(), 1);
    }

    #[test]
    fn an_open_breaker_must_stop_consumers_through_both_contracts() {
        let feature = platform_core::FeatureKey::parse("app:api:search").unwrap();
        let both = BreakerReadback {
            keys: [
                "FEATURE:app:api:search:enabled".into(),
                "CONFIG:FEATURE:app:api:search:STATUS".into(),
            ],
            legacy_stops: true,
            sdk_stops: true,
        };
        assert!(judge_breaker(&feature, &both, 5).is_none());
        let found = judge_breaker(
            &feature,
            &BreakerReadback {
                sdk_stops: false,
                ..both.clone()
            },
            5,
        )
        .unwrap();
        assert_eq!(found.subject, "breaker:app:api:search");
        assert!(found
            .summary
            .contains("CONFIG:FEATURE:app:api:search:STATUS is not STOP"));
    }

    #[test]
    fn an_unhealthy_report_is_a_finding() {
        let report = HealthReport {
            ok: false,
            handlers: Vec::new(),
        };
        assert_eq!(judge("w", &Ok(report), 5).len(), 1);
    }
}
