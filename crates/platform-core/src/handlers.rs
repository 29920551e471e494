//! Self-health of a worker's handlers: each cron, queue or tail handler stamps its runs, and a
//! handler that stopped running or keeps failing is told apart from one that is merely idle.

use serde::Serialize;

/// A handler a worker runs, and how often it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerSpec {
    pub name: &'static str,
    /// The interval of a cron handler; `None` for event-driven handlers (queue, tail), which are
    /// idle, not stale, when nothing happens.
    pub every_ms: Option<u64>,
}

impl HandlerSpec {
    /// A queue or tail handler: runs when there is work.
    pub const fn event_driven(name: &'static str) -> Self {
        Self { name, every_ms: None }
    }

    /// A cron handler that runs every `minutes`.
    pub const fn every_minutes(name: &'static str, minutes: u64) -> Self {
        Self {
            name,
            every_ms: Some(minutes * 60_000),
        }
    }
}

/// What was last recorded of a handler's runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandlerRun {
    pub last_run_at: u64,
    pub last_ok_at: Option<u64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<u64>,
    pub consecutive_failures: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Not run since the database was created: a fresh deployment is not an incident.
    NeverRun,
    Healthy,
    /// The last run failed.
    Failing,
    /// A cron that missed at least one run: nothing recorded for two intervals.
    Stale,
}

impl Condition {
    pub fn is_problem(self) -> bool {
        matches!(self, Self::Failing | Self::Stale)
    }
}

/// A cron handler is stale when it has not run for two of its intervals (one missed run, with the
/// slack Cloudflare's scheduling needs); staleness wins over failing, as it says more.
pub fn assess(spec: &HandlerSpec, run: Option<&HandlerRun>, now_ms: u64) -> Condition {
    let Some(run) = run else {
        return Condition::NeverRun;
    };
    if spec
        .every_ms
        .is_some_and(|every| now_ms.saturating_sub(run.last_run_at) > 2 * every)
    {
        return Condition::Stale;
    }
    if run.consecutive_failures > 0 {
        Condition::Failing
    } else {
        Condition::Healthy
    }
}

/// One line for /health and alerts; `None` when there is nothing to say.
pub fn describe(spec: &HandlerSpec, run: Option<&HandlerRun>, now_ms: u64) -> Option<String> {
    let run_ref = run?;
    match assess(spec, run, now_ms) {
        Condition::Stale => Some(format!(
            "handler {} has not run since {} (expected every {} min)",
            spec.name,
            crate::time::iso8601(run_ref.last_run_at),
            spec.every_ms.unwrap_or(0) / 60_000
        )),
        Condition::Failing => Some(format!(
            "handler {} failed its last {} run(s): {}",
            spec.name,
            run_ref.consecutive_failures,
            run_ref.last_error.as_deref().unwrap_or("no reason recorded")
        )),
        Condition::NeverRun | Condition::Healthy => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    const CRON: HandlerSpec = HandlerSpec {
        name: "retry",
        every_ms: Some(15 * MIN),
    };
    const TAIL: HandlerSpec = HandlerSpec {
        name: "tail",
        every_ms: None,
    };

    fn ran_at(at: u64) -> HandlerRun {
        HandlerRun {
            last_run_at: at,
            last_ok_at: Some(at),
            ..HandlerRun::default()
        }
    }

    #[test]
    fn a_handler_never_run_is_not_an_incident() {
        assert_eq!(assess(&CRON, None, 10 * 24 * 60 * MIN), Condition::NeverRun);
        assert_eq!(describe(&CRON, None, 0), None);
    }

    #[test]
    fn a_cron_is_stale_after_two_intervals_without_a_run() {
        let now = 1_000 * MIN;
        assert_eq!(
            assess(&CRON, Some(&ran_at(now - 30 * MIN)), now),
            Condition::Healthy
        );
        assert_eq!(
            assess(&CRON, Some(&ran_at(now - 31 * MIN)), now),
            Condition::Stale
        );
        let said = describe(&CRON, Some(&ran_at(now - 31 * MIN)), now).unwrap_or_default();
        assert!(
            said.contains("retry has not run since") && said.contains("every 15 min"),
            "{said}"
        );
    }

    #[test]
    fn event_driven_handlers_are_idle_not_stale() {
        assert_eq!(
            assess(&TAIL, Some(&ran_at(0)), 365 * 24 * 60 * MIN),
            Condition::Healthy
        );
    }

    #[test]
    fn the_last_run_failing_is_reported_until_one_succeeds() {
        let now = 100 * MIN;
        let failing = HandlerRun {
            last_error: Some("D1 unavailable".into()),
            last_error_at: Some(now),
            consecutive_failures: 3,
            ..ran_at(now)
        };
        assert_eq!(assess(&CRON, Some(&failing), now), Condition::Failing);
        assert!(Condition::Failing.is_problem());
        let said = describe(&CRON, Some(&failing), now).unwrap_or_default();
        assert!(
            said.contains("failed its last 3 run(s): D1 unavailable"),
            "{said}"
        );
    }
}
