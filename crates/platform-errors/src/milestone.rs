//! When an issue hears about further occurrences: when the count passes 10, 100, 1,000, ... and
//! otherwise at most once a day, never per occurrence.

/// A day in ms.
pub const DAY_MS: u64 = 86_400_000;

/// Whether going from `before` to `after` occurrences passes a power of ten (10 or more).
pub fn crosses_milestone(before: u64, after: u64) -> bool {
    let mut milestone = 10u64;
    while milestone <= after {
        if before < milestone {
            return true;
        }
        match milestone.checked_mul(10) {
            Some(next) => milestone = next,
            None => return false,
        }
    }
    false
}

/// Whether to comment now: a milestone was passed, or new occurrences arrived and the last update
/// is a day old.
pub fn update_due(before: u64, after: u64, last_update_ms: Option<u64>, now_ms: u64) -> bool {
    after > before
        && (crosses_milestone(before, after)
            || last_update_ms.is_none_or(|last| now_ms.saturating_sub(last) >= DAY_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milestones_are_powers_of_ten() {
        assert!(crosses_milestone(9, 10));
        assert!(crosses_milestone(1, 100));
        assert!(!crosses_milestone(10, 99));
        assert!(crosses_milestone(99, 1000));
        assert!(!crosses_milestone(1, 9));
    }

    #[test]
    fn otherwise_at_most_daily() {
        let now = 10 * DAY_MS;
        assert!(!update_due(2, 3, Some(now - 1000), now));
        assert!(update_due(2, 3, Some(now - DAY_MS), now));
        assert!(!update_due(3, 3, Some(0), now));
        assert!(update_due(5, 12, Some(now), now));
    }
}
