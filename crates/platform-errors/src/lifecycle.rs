//! What a fingerprint's issue needs after a batch counted more occurrences: nothing, a new issue,
//! a reopening, or an update (comment and/or relabel). Decided from the D1 row, never from KV.

use crate::event::ErrorKind;
use crate::milestone::update_due;
use crate::priority::Priority;

/// A creation claimed by another invocation this long ago is taken over.
pub const CLAIM_MS: u64 = 60_000;
/// Creation attempts before the retry cron gives up (an operator sees `last_error`).
pub const MAX_ATTEMPTS: u64 = 10;

/// The row's facts the decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub kind: ErrorKind,
    pub has_repository: bool,
    pub muted: bool,
    pub resolved: bool,
    pub issue: Option<u64>,
    pub occurrences: u64,
    pub notified_count: u64,
    pub notified_at: Option<u64>,
    pub claimed_at: Option<u64>,
    pub next_attempt_at: Option<u64>,
    pub attempts: u64,
    pub priority: Priority,
    pub issue_priority: Option<Priority>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    Create,
    Reopen,
    Update {
        comment: bool,
        relabel: Option<Priority>,
    },
}

/// Milliseconds to wait after the `attempts`-th failed creation: 1, 2, 4, ... minutes, at most 6 h.
pub fn backoff_ms(attempts: u64) -> u64 {
    let minutes = 1u64 << attempts.saturating_sub(1).min(9);
    (minutes * 60_000).min(6 * 3_600_000)
}

pub fn decide(s: &State, now: u64) -> Action {
    if s.kind == ErrorKind::Warning || !s.has_repository || s.muted {
        return Action::Nothing;
    }
    match s.issue {
        None => {
            let waiting = s.next_attempt_at.is_some_and(|at| at > now);
            let claimed = s.claimed_at.is_some_and(|at| now.saturating_sub(at) < CLAIM_MS);
            if waiting || claimed || s.attempts >= MAX_ATTEMPTS {
                Action::Nothing
            } else {
                Action::Create
            }
        }
        Some(_) if s.resolved => Action::Reopen,
        Some(_) => {
            let comment = update_due(s.notified_count, s.occurrences, s.notified_at, now);
            let relabel = s
                .issue_priority
                .filter(|labelled| s.priority < *labelled)
                .map(|_| s.priority);
            if comment || relabel.is_some() {
                Action::Update { comment, relabel }
            } else {
                Action::Nothing
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            kind: ErrorKind::Exception,
            has_repository: true,
            muted: false,
            resolved: false,
            issue: None,
            occurrences: 1,
            notified_count: 0,
            notified_at: None,
            claimed_at: None,
            next_attempt_at: None,
            attempts: 0,
            priority: Priority::P2,
            issue_priority: None,
        }
    }

    #[test]
    fn new_errors_get_an_issue_unless_claimed_waiting_or_given_up() {
        let now = 1_000_000;
        assert_eq!(decide(&state(), now), Action::Create);
        assert_eq!(
            decide(
                &State {
                    claimed_at: Some(now - 1000),
                    ..state()
                },
                now
            ),
            Action::Nothing
        );
        assert_eq!(
            decide(
                &State {
                    claimed_at: Some(now - CLAIM_MS),
                    ..state()
                },
                now
            ),
            Action::Create
        );
        assert_eq!(
            decide(
                &State {
                    next_attempt_at: Some(now + 1),
                    ..state()
                },
                now
            ),
            Action::Nothing
        );
        assert_eq!(
            decide(
                &State {
                    attempts: MAX_ATTEMPTS,
                    ..state()
                },
                now
            ),
            Action::Nothing
        );
        assert_eq!(
            decide(
                &State {
                    kind: ErrorKind::Warning,
                    ..state()
                },
                now
            ),
            Action::Nothing
        );
        assert_eq!(
            decide(
                &State {
                    has_repository: false,
                    ..state()
                },
                now
            ),
            Action::Nothing
        );
    }

    #[test]
    fn known_issues_reopen_update_or_rest() {
        let now = 10 * crate::milestone::DAY_MS;
        let known = State {
            issue: Some(7),
            occurrences: 5,
            notified_count: 4,
            notified_at: Some(now - 10),
            ..state()
        };
        assert_eq!(decide(&known, now), Action::Nothing);
        assert_eq!(
            decide(
                &State {
                    resolved: true,
                    ..known.clone()
                },
                now
            ),
            Action::Reopen
        );
        assert_eq!(
            decide(
                &State {
                    resolved: true,
                    muted: true,
                    ..known.clone()
                },
                now
            ),
            Action::Nothing
        );
        assert_eq!(
            decide(
                &State {
                    occurrences: 10,
                    ..known.clone()
                },
                now
            ),
            Action::Update {
                comment: true,
                relabel: None
            }
        );
        assert_eq!(
            decide(
                &State {
                    priority: Priority::P2,
                    issue_priority: Some(Priority::P3),
                    ..known
                },
                now
            ),
            Action::Update {
                comment: false,
                relabel: Some(Priority::P2)
            }
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(1), 60_000);
        assert_eq!(backoff_ms(3), 240_000);
        assert_eq!(backoff_ms(50), 6 * 3_600_000);
    }
}
