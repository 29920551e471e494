//! What starts a handler, and how often a cron runs: the interval `/health` holds a cron to is
//! derived from its expression, so the two cannot disagree.

use platform_core::handlers::HandlerSpec;

/// What runs a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A cron of the worker's `[triggers] crons`, by its exact expression.
    Cron(&'static str),
    /// A queue the worker consumes, named by the value of a wrangler var (never in code).
    Queue { var: &'static str },
    /// The tail events of the Workers that name this one as their tail consumer.
    Tail,
}

impl Trigger {
    /// The cron's interval; `None` for event-driven triggers (and for a cron this cannot read,
    /// which the wiring test refuses).
    pub fn every_ms(self) -> Option<u64> {
        match self {
            Self::Cron(expression) => interval_ms(expression),
            Self::Queue { .. } | Self::Tail => None,
        }
    }

    /// The handler's spec for `/health` and its watch.
    pub fn spec(self, name: &'static str) -> HandlerSpec {
        HandlerSpec {
            name,
            every_ms: self.every_ms(),
        }
    }
}

const MINUTE_MS: u64 = 60_000;

/// The interval of the cron shapes the platform uses: every N minutes (`*/N * * * *`), hourly
/// (`M * * * *`), every N hours (`M */N * * *`), daily (`M H * * *`) and weekly (`M H * * D`).
pub fn interval_ms(expression: &str) -> Option<u64> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let [minute, hour, day, month, weekday] = fields.as_slice() else {
        return None;
    };
    let number = |field: &str, max: u64| field.parse::<u64>().ok().filter(|n| *n <= max);
    let every = |field: &str| {
        field
            .strip_prefix("*/")
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 0)
    };
    if (*day, *month) != ("*", "*") {
        return None;
    }
    let minutes = match (*minute, *hour, *weekday) {
        ("*", "*", "*") => 1,
        (m, "*", "*") if every(m).is_some() => every(m)?,
        (m, "*", "*") => number(m, 59).map(|_| 60)?,
        (m, h, "*") if every(h).is_some() => number(m, 59).and(every(h))? * 60,
        (m, h, "*") => number(m, 59).and(number(h, 23)).map(|_| 24 * 60)?,
        (m, h, d) => number(m, 59)
            .and(number(h, 23))
            .and(number(d, 7))
            .map(|_| 7 * 24 * 60)?,
    };
    Some(minutes * MINUTE_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_the_expression() {
        let minutes = |expression: &str| interval_ms(expression).map(|ms| ms / MINUTE_MS);
        assert_eq!(minutes("*/5 * * * *"), Some(5));
        assert_eq!(minutes("*/15 * * * *"), Some(15));
        assert_eq!(minutes("17 * * * *"), Some(60));
        assert_eq!(minutes("0 */6 * * *"), Some(360));
        assert_eq!(minutes("10 0 * * *"), Some(1440));
        assert_eq!(minutes("17 4 * * *"), Some(1440));
        assert_eq!(minutes("0 9 * * 1"), Some(7 * 1440));
        assert_eq!(minutes("* * * * *"), Some(1));
        for unreadable in [
            "",
            "5 * * *",
            "0 0 1 * *",
            "61 * * * *",
            "*/0 * * * *",
            "0 25 * * *",
            "1,2 * * * *",
        ] {
            assert_eq!(interval_ms(unreadable), None, "{unreadable:?}");
        }
    }

    #[test]
    fn specs_carry_the_interval() {
        assert_eq!(
            Trigger::Cron("*/5 * * * *").spec("sweep"),
            HandlerSpec::every_minutes("sweep", 5)
        );
        assert_eq!(
            Trigger::Queue {
                var: "TELEMETRY_QUEUE"
            }
            .spec("telemetry"),
            HandlerSpec::event_driven("telemetry")
        );
        assert_eq!(Trigger::Tail.spec("tail"), HandlerSpec::event_driven("tail"));
    }
}
