//! Which hours each dataset collects next. The cursor (`platform-usage:prev-hour:timestamp`) is the
//! first hour not yet collected; a dataset that failed stays behind it (`State::behind`, kept in
//! `platform-usage:prev-hour:account`) and catches up on the next run, within its retention. An
//! hour is stored by replacing its row, so collecting it twice never counts it twice.

use serde_json::{json, Map, Value};

use super::datasets::{Dataset, DATASETS, HOUR_MS};
use super::sampling::Pace;
use crate::time::{iso8601, EpochMs};

const DAY_MS: EpochMs = 86_400_000;
/// An hour is collected once it ended this long ago: analytics settle within minutes.
pub const SETTLE_MS: EpochMs = 5 * 60_000;
/// Hours per request (a day fits any dataset's maximum duration and page size here).
pub const MAX_HOURS: u64 = 24;

/// The collector's state beyond its cursor, in dataset order. Written only when it changes.
/// Stored as `{"behind": {dataset: ms}, "failures": {dataset: {reason, at}}, "retry_after": ms}`
/// (read and written by hand: lists and JSON maps keep the collector's wasm small).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    /// Datasets behind the cursor: the first hour each still has to collect.
    pub behind: Vec<(String, EpochMs)>,
    /// Each dataset's last failure, until it collects again.
    pub failures: Vec<(String, Failure)>,
    /// No request before this instant: the API asked to wait (429 with Retry-After).
    pub retry_after: Option<EpochMs>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub reason: String,
    /// When it last failed (ISO 8601).
    pub at: String,
}

/// One request: a dataset's hours starting in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Job {
    pub dataset: &'static Dataset,
    pub from: EpochMs,
    pub to: EpochMs,
}

/// What became of a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Collected,
    Failed(String),
    /// Not sent: the API asked to wait.
    NotSent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The API asked to wait until then.
    Wait {
        until: EpochMs,
    },
    /// The sampling mode skips this hour.
    Paced(Pace),
    UpToDate,
    /// Run these jobs, then the cursor moves to `cursor`. `gaps` are hours past a dataset's
    /// retention that can no longer be collected.
    Collect {
        jobs: Vec<Job>,
        cursor: EpochMs,
        gaps: Vec<String>,
    },
}

fn floor_hour(ms: EpochMs) -> EpochMs {
    ms - ms % HOUR_MS
}

/// The last hour boundary before which every hour has settled.
pub fn settled_until(now: EpochMs) -> EpochMs {
    floor_hour(now.saturating_sub(SETTLE_MS))
}

/// The oldest whole hour a dataset still holds.
fn oldest(dataset: &Dataset, now: EpochMs) -> EpochMs {
    floor_hour(now.saturating_sub(dataset.retention_days * DAY_MS)) + HOUR_MS
}

/// The next run's work. Without a cursor the collector starts with the last settled hour
/// (older history is `POST /usage/backfill`'s).
pub fn plan(now: EpochMs, cursor: Option<EpochMs>, state: &State, pace: Pace) -> Plan {
    if let Some(until) = state.retry_after.filter(|until| *until > now) {
        return Plan::Wait { until };
    }
    if !pace.collects_at(now) {
        return Plan::Paced(pace);
    }
    let settled = settled_until(now);
    let start = cursor.map_or(settled.saturating_sub(HOUR_MS), floor_hour);
    let next = settled.min(start + MAX_HOURS * HOUR_MS).max(start);
    let mut jobs = Vec::new();
    let mut gaps = Vec::new();
    for dataset in DATASETS {
        let mut from = state.behind_of(dataset.id).unwrap_or(start).min(next);
        let oldest = oldest(dataset, now);
        if from < oldest {
            gaps.push(format!(
                "{}: the hours from {} to {} are past its {}-day retention and were not collected",
                dataset.id,
                iso8601(from),
                iso8601(oldest),
                dataset.retention_days
            ));
            from = oldest;
        }
        // A dataset clamped past the cursor's next stop runs ahead of it; re-collecting those
        // hours later replaces them.
        let to = if from < next { next } else { settled }.min(from + MAX_HOURS * HOUR_MS);
        if from < to {
            jobs.push(Job { dataset, from, to });
        }
    }
    if jobs.is_empty() && next == start {
        return Plan::UpToDate;
    }
    Plan::Collect {
        jobs,
        cursor: next,
        gaps,
    }
}

impl State {
    /// The first hour a dataset behind the cursor still has to collect.
    pub fn behind_of(&self, dataset: &str) -> Option<EpochMs> {
        self.behind
            .iter()
            .find(|(id, _)| id == dataset)
            .map(|(_, at)| *at)
    }

    fn failure_of(&self, dataset: &str) -> Option<&Failure> {
        self.failures
            .iter()
            .find(|(id, _)| id == dataset)
            .map(|(_, failure)| failure)
    }

    /// The state after a run that moved the cursor to `cursor`: each dataset is behind where its
    /// job left it.
    pub fn after(&self, jobs: &[(Job, Outcome)], cursor: EpochMs, now: EpochMs) -> State {
        let mut next = State {
            retry_after: self.retry_after.filter(|until| *until > now),
            ..State::default()
        };
        for dataset in DATASETS {
            let id = dataset.id.to_owned();
            let job = jobs.iter().find(|(job, _)| job.dataset.id == dataset.id);
            let mut failure = self.failure_of(dataset.id).cloned();
            let reached = match job {
                Some((job, Outcome::Collected)) => {
                    failure = None;
                    job.to
                }
                Some((job, Outcome::Failed(reason))) => {
                    failure = Some(Failure {
                        reason: reason.clone(),
                        at: iso8601(now),
                    });
                    job.from
                }
                Some((job, Outcome::NotSent)) => job.from,
                None => self.behind_of(dataset.id).unwrap_or(cursor),
            };
            if let Some(failure) = failure {
                next.failures.push((id.clone(), failure));
            }
            if reached < cursor {
                next.behind.push((id, reached));
            }
        }
        next
    }

    pub fn to_json(&self) -> Map<String, Value> {
        // Filled by insert, not collected: a collected map sorts (more wasm).
        let mut object = Map::new();
        if !self.behind.is_empty() {
            let mut behind = Map::new();
            for (id, at) in &self.behind {
                behind.insert(id.clone(), json!(at));
            }
            object.insert("behind".into(), Value::Object(behind));
        }
        if !self.failures.is_empty() {
            let mut failures = Map::new();
            for (id, failure) in &self.failures {
                failures.insert(id.clone(), json!({ "reason": failure.reason, "at": failure.at }));
            }
            object.insert("failures".into(), Value::Object(failures));
        }
        if let Some(until) = self.retry_after {
            object.insert("retry_after".into(), json!(until));
        }
        object
    }

    /// Reads the stored state; unknown datasets are dropped (a dataset no longer collected).
    pub fn from_json(value: &Value) -> Result<State, String> {
        let object = value.as_object().ok_or("not a JSON object")?;
        let entries = |name: &str| object.get(name).and_then(Value::as_object).into_iter().flatten();
        let mut state = State {
            retry_after: object.get("retry_after").and_then(Value::as_u64),
            ..State::default()
        };
        for dataset in DATASETS {
            for (id, value) in entries("behind").filter(|(id, _)| *id == dataset.id) {
                let at = value
                    .as_u64()
                    .ok_or_else(|| format!("behind.{id} is not an instant"))?;
                state.behind.push((id.clone(), at));
            }
            for (id, value) in entries("failures").filter(|(id, _)| *id == dataset.id) {
                let text = |field: &str| value[field].as_str().unwrap_or_default().to_owned();
                let failure = Failure {
                    reason: text("reason"),
                    at: text("at"),
                };
                state.failures.push((id.clone(), failure));
            }
        }
        Ok(state)
    }
}

/// `from` or `to` of a range: `YYYY-MM-DD` (its midnight), ISO 8601 or epoch milliseconds.
pub fn parse_bound(raw: &str) -> Option<EpochMs> {
    super::instant::parse(raw)
}

/// The jobs that re-collect the hours of `[from, to)` (at most a day, within retention, settled).
pub fn backfill(now: EpochMs, from: &str, to: &str) -> Result<Vec<Job>, String> {
    let bound = |name: &str, raw: &str| {
        parse_bound(raw)
            .ok_or_else(|| format!("{name}={raw:?} is not a date (YYYY-MM-DD) or an ISO 8601 instant"))
    };
    let (from, to) = (floor_hour(bound("from", from)?), bound("to", to)?);
    let to = floor_hour(to + HOUR_MS - 1);
    let settled = settled_until(now);
    if from >= to {
        return Err("from must be before to".into());
    }
    if to > settled {
        return Err(format!(
            "to is after {}: hours that have not settled are collected by the hourly run",
            iso8601(settled)
        ));
    }
    if to - from > MAX_HOURS * HOUR_MS {
        return Err(format!(
            "at most {MAX_HOURS} hours per call: call again for the next range"
        ));
    }
    let jobs: Vec<Job> = DATASETS
        .iter()
        .filter_map(|dataset| {
            let from = from.max(oldest(dataset, now));
            (from < to).then_some(Job { dataset, from, to })
        })
        .collect();
    if jobs.is_empty() {
        return Err("the range is past every dataset's retention (31 to 90 days)".into());
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY0: EpochMs = 1_772_409_600_000; // 2026-03-02T00:00:00Z

    fn at(hours: u64, minutes: u64) -> EpochMs {
        DAY0 + hours * HOUR_MS + minutes * 60_000
    }

    fn jobs(plan: &Plan) -> (&[Job], EpochMs) {
        match plan {
            Plan::Collect { jobs, cursor, .. } => (jobs, *cursor),
            other => panic!("expected jobs, got {other:?}"),
        }
    }

    #[test]
    fn the_first_run_collects_the_last_settled_hour_and_a_second_run_nothing() {
        let plan = plan(at(10, 7), None, &State::default(), Pace::Full);
        let (jobs, cursor) = jobs(&plan);
        assert_eq!(jobs.len(), DATASETS.len(), "one request per dataset");
        assert!(jobs.iter().all(|j| (j.from, j.to) == (at(9, 0), at(10, 0))));
        assert_eq!(cursor, at(10, 0));
        assert_eq!(
            super::plan(at(10, 30), Some(cursor), &State::default(), Pace::Full),
            Plan::UpToDate
        );
        // Minutes after the hour, it has not settled yet.
        assert_eq!(
            super::plan(at(11, 2), Some(cursor), &State::default(), Pace::Full),
            Plan::UpToDate
        );
    }

    #[test]
    fn a_missed_day_is_one_request_per_dataset_and_longer_outages_catch_up_a_day_a_run() {
        let cursor = at(0, 0);
        let plan = plan(at(24, 7), Some(cursor), &State::default(), Pace::Full);
        let (jobs, next) = jobs(&plan);
        assert!(jobs.iter().all(|j| (j.from, j.to) == (at(0, 0), at(24, 0))));
        assert_eq!(next, at(24, 0));
        let plan = super::plan(at(72, 7), Some(cursor), &State::default(), Pace::Full);
        assert_eq!(jobs_of(&plan).1, at(24, 0));
    }

    fn jobs_of(plan: &Plan) -> (usize, EpochMs) {
        let (jobs, cursor) = jobs(plan);
        (jobs.len(), cursor)
    }

    #[test]
    fn a_failed_dataset_stays_behind_and_catches_up_alone() {
        let plan = plan(at(10, 7), Some(at(9, 0)), &State::default(), Pace::Full);
        let (planned, cursor) = jobs(&plan);
        let outcomes: Vec<_> = planned
            .iter()
            .map(|job| {
                let outcome = if job.dataset.id == "kv_operations" {
                    Outcome::Failed("502".into())
                } else {
                    Outcome::Collected
                };
                (*job, outcome)
            })
            .collect();
        let state = State::default().after(&outcomes, cursor, at(10, 7));
        assert_eq!(state.behind_of("kv_operations"), Some(at(9, 0)));
        assert_eq!(state.failure_of("kv_operations").unwrap().reason, "502");
        assert_eq!(state.behind.len(), 1);

        let plan = super::plan(at(11, 7), Some(cursor), &state, Pace::Full);
        let (planned, cursor) = jobs(&plan);
        let kv = planned.iter().find(|j| j.dataset.id == "kv_operations").unwrap();
        assert_eq!((kv.from, kv.to), (at(9, 0), at(11, 0)));
        let workers = planned.iter().find(|j| j.dataset.id == "workers").unwrap();
        assert_eq!((workers.from, workers.to), (at(10, 0), at(11, 0)));
        let outcomes: Vec<_> = planned.iter().map(|job| (*job, Outcome::Collected)).collect();
        let state = state.after(&outcomes, cursor, at(11, 7));
        assert_eq!(state, State::default(), "caught up, nothing left to write");
    }

    #[test]
    fn retry_after_waits_and_unsent_jobs_stay_behind() {
        let state = State {
            retry_after: Some(at(10, 30)),
            ..State::default()
        };
        assert_eq!(
            plan(at(10, 7), Some(at(9, 0)), &state, Pace::Full),
            Plan::Wait { until: at(10, 30) }
        );
        let plan = plan(at(11, 7), Some(at(9, 0)), &state, Pace::Full);
        let (planned, cursor) = jobs(&plan);
        let outcomes: Vec<_> = planned.iter().map(|job| (*job, Outcome::NotSent)).collect();
        let after = state.after(&outcomes, cursor, at(11, 7));
        assert_eq!(after.retry_after, None, "expired");
        assert!(after.behind.iter().all(|(_, from)| *from == at(9, 0)));
        assert_eq!(after.behind.len(), DATASETS.len());
    }

    #[test]
    fn slower_paces_skip_hours_and_then_cover_them() {
        assert_eq!(
            plan(at(9, 7), Some(at(8, 0)), &State::default(), Pace::Half),
            Plan::Paced(Pace::Half)
        );
        let plan = plan(at(10, 7), Some(at(8, 0)), &State::default(), Pace::Half);
        assert_eq!(jobs_of(&plan), (DATASETS.len(), at(10, 0)));
    }

    #[test]
    fn hours_past_retention_are_reported_as_gaps() {
        let now = at(24 * 40, 7);
        let Plan::Collect { jobs, gaps, .. } = plan(now, Some(at(0, 0)), &State::default(), Pace::Full)
        else {
            panic!("expected jobs");
        };
        assert!(
            gaps.iter().any(|gap| gap.starts_with("kv_operations:")),
            "{gaps:?}"
        );
        assert!(!gaps.iter().any(|gap| gap.starts_with("workers:")), "90 days");
        let kv = jobs.iter().find(|j| j.dataset.id == "kv_operations").unwrap();
        assert_eq!(kv.from, oldest(kv.dataset, now));
    }

    #[test]
    fn backfill_is_bounded_and_says_what_to_do() {
        let now = at(72, 7);
        let jobs = backfill(now, "2026-03-02", "2026-03-03").unwrap();
        assert!(jobs.iter().all(|j| (j.from, j.to) == (at(0, 0), at(24, 0))));
        assert!(backfill(now, "2026-03-02", "2026-03-04T00:30:00Z")
            .unwrap_err()
            .contains("at most 24 hours"));
        assert!(backfill(now, "2026-03-03", "2026-03-02")
            .unwrap_err()
            .contains("before"));
        assert!(backfill(now, "2026-03-05", "2026-03-06")
            .unwrap_err()
            .contains("settled"));
        assert!(backfill(now, "yesterday", "2026-03-02")
            .unwrap_err()
            .contains("from=\"yesterday\""));
        assert!(backfill(at(24 * 200, 0), "2026-03-02", "2026-03-03")
            .unwrap_err()
            .contains("retention"));
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let failure = Failure {
            reason: "HTTP 502".into(),
            at: iso8601(at(2, 0)),
        };
        let state = State {
            behind: vec![("d1".to_owned(), at(1, 0))],
            failures: vec![("d1".to_owned(), failure)],
            retry_after: Some(at(3, 0)),
        };
        let json = Value::Object(state.to_json());
        assert_eq!(State::from_json(&json).unwrap(), state);
        assert!(State::default().to_json().is_empty());
        assert!(State::from_json(&json!({ "behind": { "d1": "soon" } })).is_err());
        let gone = State::from_json(&json!({ "behind": { "gone": 1 } })).unwrap();
        assert_eq!(gone, State::default());
    }
}
