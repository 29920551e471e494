//! How often the account collector runs, by the platform's own D1 write pressure: each collected
//! hour writes rows, so as the platform's writes over 24 hours approach the configured limit the
//! collector runs less often (each run then covers more hours in the same number of requests).

use super::datasets::HOUR_MS;
use crate::time::EpochMs;

/// The collection pace, stored by name in `platform-usage:sampling-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pace {
    /// Every hour.
    Full,
    /// Every second hour.
    Half,
    /// Every fourth hour.
    Quarter,
    /// Once a day, at 00:00 UTC.
    Minimal,
}

/// Percent of the write limit at which each slower pace starts.
const STEPS: [(u64, Pace); 3] = [(90, Pace::Minimal), (80, Pace::Quarter), (60, Pace::Half)];
/// A pace relaxes only once the writes are this many points below its threshold: no flapping.
const HYSTERESIS: u64 = 10;

impl Pace {
    pub const fn name(self) -> &'static str {
        match self {
            Pace::Full => "FULL",
            Pace::Half => "HALF",
            Pace::Quarter => "QUARTER",
            Pace::Minimal => "MINIMAL",
        }
    }

    pub const fn interval_hours(self) -> u64 {
        match self {
            Pace::Full => 1,
            Pace::Half => 2,
            Pace::Quarter => 4,
            Pace::Minimal => 24,
        }
    }

    /// Whether a run in the hour containing `at` collects.
    pub fn collects_at(self, at: EpochMs) -> bool {
        (at / HOUR_MS).is_multiple_of(self.interval_hours())
    }

    fn for_percent(percent: u64) -> Pace {
        STEPS
            .iter()
            .find(|(threshold, _)| percent >= *threshold)
            .map_or(Pace::Full, |(_, pace)| *pace)
    }

    /// The pace after this one, given the platform's D1 rows written over 24 hours and the limit:
    /// slower as soon as a threshold is reached, faster only once well below it. A limit of 0
    /// sets no limit.
    pub fn next(self, writes_24h: u64, limit: u64) -> Pace {
        if limit == 0 {
            return Pace::Full;
        }
        let percent = writes_24h.saturating_mul(100) / limit;
        let strict = Self::for_percent(percent);
        let relaxed = Self::for_percent(percent.saturating_add(HYSTERESIS));
        if strict > self {
            strict
        } else if relaxed < self {
            relaxed
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_steps_down_at_each_threshold_and_back_up_with_hysteresis() {
        let limit = 1000;
        let mut pace = Pace::Full;
        let mut seen = Vec::new();
        for writes in [100, 600, 650, 800, 900, 950, 850, 790, 700, 690, 550, 490, 0] {
            pace = pace.next(writes, limit);
            seen.push(pace.name());
        }
        assert_eq!(
            seen,
            [
                "FULL", "HALF", "HALF", "QUARTER", "MINIMAL", "MINIMAL", "MINIMAL", "QUARTER", "QUARTER",
                "HALF", "HALF", "FULL", "FULL"
            ]
        );
        assert_eq!(Pace::Minimal.next(10_000, 0), Pace::Full, "no limit");
    }

    #[test]
    fn slower_paces_collect_in_fewer_hours() {
        let hours = |pace: Pace| (0..24).filter(|h| pace.collects_at(h * HOUR_MS)).count();
        assert_eq!(
            [Pace::Full, Pace::Half, Pace::Quarter, Pace::Minimal].map(hours),
            [24, 12, 6, 1]
        );
    }
}
