//! A pattern's life: `pending` (proposed and safe; an operator may reject it before it runs) →
//! `shadow` (the collector tests it on live errors without acting on it) → `ready` (enough
//! evidence; waits for review) → `approved` (in the cache the collector and consumers read) →
//! `stale` (no match for a while) or `disabled`. `rejected`, `expired` (not enough evidence in its
//! window) and `refused` (failed a safety check) are remembered, so the same rule is never
//! suggested again. Time is passed in.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::safety::Refusal;
use crate::DAY_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Shadow,
    Ready,
    Approved,
    Stale,
    Disabled,
    Rejected,
    Expired,
    Refused,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Self::Pending,
        Self::Shadow,
        Self::Ready,
        Self::Approved,
        Self::Stale,
        Self::Disabled,
        Self::Rejected,
        Self::Expired,
        Self::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Shadow => "shadow",
            Self::Ready => "ready",
            Self::Approved => "approved",
            Self::Stale => "stale",
            Self::Disabled => "disabled",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Refused => "refused",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The evidence a pattern needs, and how long each stage lasts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// How long a suggestion stays pending before its shadow starts (ms).
    pub pending_ms: u64,
    /// How long a shadow window lasts (ms).
    pub shadow_ms: u64,
    /// Matches recorded in the window needed to be ready for review.
    pub min_matches: u64,
    /// Distinct UTC days with a match needed in the window.
    pub min_days: usize,
    /// An approved pattern without a match for this long is stale (ms).
    pub stale_ms: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            pending_ms: DAY_MS,
            shadow_ms: 7 * DAY_MS,
            min_matches: 5,
            min_days: 3,
            stale_ms: 30 * DAY_MS,
        }
    }
}

/// The recorded matches of one pattern: per UTC day (days since the epoch), the matches and the
/// fingerprints they were on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub days: BTreeMap<u64, DayEvidence>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DayEvidence {
    pub matches: u64,
    pub fingerprints: u64,
}

impl Evidence {
    /// Matches and distinct days between two instants (whole UTC days, both included).
    pub fn within(&self, from: u64, until: u64) -> (u64, usize) {
        let days = self.days.range(from / DAY_MS..=until / DAY_MS);
        let (matches, count) = days.fold((0, 0), |(m, c), (_, d)| (m + d.matches, c + 1));
        (matches, count)
    }

    /// The end of the last day with a match.
    pub fn last_match_end(&self) -> Option<u64> {
        self.days.keys().next_back().map(|day| (day + 1) * DAY_MS)
    }
}

/// What the lifecycle reads of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub status: Status,
    pub created_at: u64,
    pub shadow_from: Option<u64>,
    pub shadow_until: Option<u64>,
    pub approved_at: Option<u64>,
}

/// A change the lifecycle makes on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    EnterShadow {
        from: u64,
        until: u64,
    },
    Ready,
    /// Not enough evidence by the end of its window, or the backtest refuses it now: why.
    Expire(String),
    Stale(String),
}

impl Decision {
    pub fn status(&self) -> Status {
        match self {
            Self::EnterShadow { .. } => Status::Shadow,
            Self::Ready => Status::Ready,
            Self::Expire(_) => Status::Expired,
            Self::Stale(_) => Status::Stale,
        }
    }
}

/// The lifecycle's decision for one pattern at `now`. `backtest` is the safety check over today's
/// stored errors, read only for a shadow pattern with enough evidence.
pub fn decide(
    facts: &Facts,
    evidence: &Evidence,
    backtest: impl FnOnce() -> Result<(), Refusal>,
    now: u64,
    thresholds: &Thresholds,
) -> Option<Decision> {
    match facts.status {
        Status::Pending if now >= facts.created_at.saturating_add(thresholds.pending_ms) => {
            Some(Decision::EnterShadow {
                from: now,
                until: now.saturating_add(thresholds.shadow_ms),
            })
        }
        Status::Shadow => {
            let from = facts.shadow_from.unwrap_or(facts.created_at);
            let until = facts
                .shadow_until
                .unwrap_or(from.saturating_add(thresholds.shadow_ms));
            let (matches, days) = evidence.within(from, until);
            if matches >= thresholds.min_matches && days >= thresholds.min_days {
                return Some(match backtest() {
                    Ok(()) => Decision::Ready,
                    Err(refusal) => Decision::Expire(format!("the backtest refuses it now: {refusal}")),
                });
            }
            (now >= until).then(|| {
                Decision::Expire(format!(
                    "{matches} matches on {days} days in its shadow window; it needed {} on {} days",
                    thresholds.min_matches, thresholds.min_days
                ))
            })
        }
        Status::Approved => {
            let since = evidence
                .last_match_end()
                .into_iter()
                .chain(facts.approved_at)
                .max()
                .unwrap_or(facts.created_at);
            (now >= since.saturating_add(thresholds.stale_ms))
                .then(|| Decision::Stale(format!("no match for {} days", thresholds.stale_ms / DAY_MS)))
        }
        _ => None,
    }
}

/// What an operator does to a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Approve,
    Reject,
    Disable,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Disable => "disable",
        }
    }

    /// The action as done: `approved`.
    pub fn done(self) -> &'static str {
        match self {
            Self::Approve => "approved",
            Self::Reject => "rejected",
            Self::Disable => "disabled",
        }
    }
}

/// The status an action leads to from `status`, or why it may not be taken. A refused rule is
/// never approved (it failed a safety check); a rejected one stays rejected.
pub fn act(status: Status, action: Action) -> Result<Status, String> {
    use Status::*;
    let next = match (action, status) {
        (Action::Approve, Pending | Shadow | Ready | Stale | Disabled | Expired) => Approved,
        (Action::Reject, Pending | Shadow | Ready | Approved | Stale | Disabled | Expired | Refused) => {
            Rejected
        }
        (Action::Disable, Pending | Shadow | Ready | Approved | Stale) => Disabled,
        _ => return Err(format!("a {status} pattern cannot be {}", action.done())),
    };
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 20_000 * DAY_MS;

    fn facts(status: Status) -> Facts {
        Facts {
            status,
            created_at: T0,
            shadow_from: Some(T0 + DAY_MS),
            shadow_until: Some(T0 + 8 * DAY_MS),
            approved_at: None,
        }
    }

    fn evidence(days: &[(u64, u64)]) -> Evidence {
        Evidence {
            days: days
                .iter()
                .map(|&(day, matches)| {
                    (
                        T0 / DAY_MS + day,
                        DayEvidence {
                            matches,
                            fingerprints: 1,
                        },
                    )
                })
                .collect(),
        }
    }

    fn pass() -> Result<(), Refusal> {
        Ok(())
    }

    #[test]
    fn a_pending_pattern_enters_shadow_after_its_delay() {
        let t = Thresholds::default();
        assert_eq!(
            decide(
                &facts(Status::Pending),
                &Evidence::default(),
                pass,
                T0 + 3_600_000,
                &t
            ),
            None
        );
        assert_eq!(
            decide(
                &facts(Status::Pending),
                &Evidence::default(),
                pass,
                T0 + DAY_MS,
                &t
            ),
            Some(Decision::EnterShadow {
                from: T0 + DAY_MS,
                until: T0 + 8 * DAY_MS
            })
        );
    }

    #[test]
    fn shadow_needs_enough_matches_on_enough_days() {
        let t = Thresholds::default();
        let shadow = facts(Status::Shadow);
        // 6 matches but on 2 days: not yet; expired at the end of the window.
        let two_days = evidence(&[(1, 3), (2, 3)]);
        assert_eq!(decide(&shadow, &two_days, pass, T0 + 3 * DAY_MS, &t), None);
        assert_eq!(
            decide(&shadow, &two_days, pass, T0 + 8 * DAY_MS, &t),
            Some(Decision::Expire(
                "6 matches on 2 days in its shadow window; it needed 5 on 3 days".to_owned()
            ))
        );
        // Matches before the window do not count.
        let early = evidence(&[(0, 9), (1, 1), (2, 1), (3, 1)]);
        assert_eq!(decide(&shadow, &early, pass, T0 + 4 * DAY_MS, &t), None);
        let enough = evidence(&[(1, 1), (2, 2), (4, 2)]);
        assert_eq!(
            decide(&shadow, &enough, pass, T0 + 5 * DAY_MS, &t),
            Some(Decision::Ready)
        );
        let broad = || {
            Err(Refusal::TooBroad {
                matched: 9,
                of: 10,
                max_share: 0.05,
            })
        };
        assert!(matches!(
            decide(&shadow, &enough, broad, T0 + 5 * DAY_MS, &t),
            Some(Decision::Expire(why)) if why.starts_with("the backtest refuses it now: too broad")
        ));
    }

    #[test]
    fn an_approved_pattern_without_matches_goes_stale() {
        let t = Thresholds::default();
        let approved = Facts {
            approved_at: Some(T0),
            ..facts(Status::Approved)
        };
        let recent = evidence(&[(10, 1)]);
        assert_eq!(decide(&approved, &recent, pass, T0 + 35 * DAY_MS, &t), None);
        assert!(matches!(
            decide(&approved, &recent, pass, T0 + 41 * DAY_MS, &t),
            Some(Decision::Stale(_))
        ));
        assert!(matches!(
            decide(&approved, &Evidence::default(), pass, T0 + 30 * DAY_MS, &t),
            Some(Decision::Stale(_))
        ));
    }

    #[test]
    fn operators_move_patterns_only_along_the_lifecycle() {
        assert_eq!(act(Status::Ready, Action::Approve), Ok(Status::Approved));
        assert_eq!(act(Status::Shadow, Action::Approve), Ok(Status::Approved));
        assert_eq!(act(Status::Approved, Action::Disable), Ok(Status::Disabled));
        assert_eq!(act(Status::Disabled, Action::Approve), Ok(Status::Approved));
        assert_eq!(act(Status::Ready, Action::Reject), Ok(Status::Rejected));
        assert_eq!(
            act(Status::Refused, Action::Approve),
            Err("a refused pattern cannot be approved".to_owned())
        );
        assert_eq!(
            act(Status::Rejected, Action::Approve),
            Err("a rejected pattern cannot be approved".to_owned())
        );
        assert_eq!(
            act(Status::Rejected, Action::Disable),
            Err("a rejected pattern cannot be disabled".to_owned())
        );
        assert!(act(Status::Approved, Action::Approve).is_err());
    }
}
