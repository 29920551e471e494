//! Operator settings: named values stored as text rows (D1 `settings`), each with a default, a type
//! and a validation rule. A row that fails validation is reported and its default is used, so a bad
//! edit can never switch a guard off.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The settings every worker understands, with their defaults.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: "budget_warning_thresholds",
        default: "70,90",
        kind: SettingKind::Percentages,
        description: "Percentages of a budget at which a warning is sent, ascending, each below 100",
    },
    SettingSpec {
        key: "cb_cooldown_seconds",
        default: "300",
        kind: SettingKind::Count,
        description: "After an automatic reset, a feature that trips again within this many seconds counts as a consecutive trip",
    },
    SettingSpec {
        key: "cb_max_consecutive_trips",
        default: "3",
        kind: SettingKind::Count,
        description: "Consecutive trips after which a feature stays off until an operator resets it",
    },
    SettingSpec {
        key: "budget_soft_limit",
        default: "25",
        kind: SettingKind::Usd,
        description: "Estimated account spend, in USD, of the billing period so far past which the hourly cost guard warns, once per period (0: never)",
    },
    SettingSpec {
        key: "d1_write_limit",
        default: "1000000",
        kind: SettingKind::Count,
        description: "The platform's own D1 rows written per 24 hours that account collection stays under: from 60, 80 and 90 % of it, collection runs every 2nd, 4th or 24th hour (0: no limit)",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// Comma-separated ascending integers in 1..=99.
    Percentages,
    /// A non-negative integer.
    Count,
    /// A non-negative amount of US dollars.
    Usd,
}

#[derive(Debug, Clone, Copy)]
pub struct SettingSpec {
    pub key: &'static str,
    pub default: &'static str,
    pub kind: SettingKind,
    pub description: &'static str,
}

impl SettingSpec {
    pub fn find(key: &str) -> Option<&'static SettingSpec> {
        SETTINGS.iter().find(|spec| spec.key == key)
    }
}

/// A setting that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingProblem {
    pub key: String,
    pub value: String,
    pub reason: String,
}

impl fmt::Display for SettingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting {} = {:?}: {}", self.key, self.value, self.reason)
    }
}

impl std::error::Error for SettingProblem {}

/// The effective settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub budget_warning_thresholds: Vec<u8>,
    pub cb_cooldown_seconds: u64,
    pub cb_max_consecutive_trips: u64,
    pub budget_soft_limit: f64,
    /// Cached settings written before this setting existed read as its default.
    #[serde(default = "default_d1_write_limit")]
    pub d1_write_limit: u64,
}

fn default_d1_write_limit() -> u64 {
    1_000_000
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            budget_warning_thresholds: vec![70, 90],
            cb_cooldown_seconds: 300,
            cb_max_consecutive_trips: 3,
            budget_soft_limit: 25.0,
            d1_write_limit: default_d1_write_limit(),
        }
    }
}

/// Settings resolved from stored rows, with the rows that were refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    pub settings: Settings,
    pub problems: Vec<SettingProblem>,
}

impl Settings {
    /// Applies stored `(key, value)` rows over the defaults. Unknown keys and invalid values are
    /// reported and otherwise ignored.
    pub fn resolve<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str)>) -> Resolved {
        let mut settings = Settings::default();
        let mut problems = Vec::new();
        for (key, value) in rows {
            if let Err(problem) = settings.set(key, value) {
                problems.push(problem);
            }
        }
        Resolved { settings, problems }
    }

    /// Validates and applies one setting.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingProblem> {
        let problem = |reason: String| SettingProblem {
            key: key.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let spec = SettingSpec::find(key).ok_or_else(|| {
            let known: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
            problem(format!("unknown setting; known settings: {}", known.join(", ")))
        })?;
        let value = value.trim();
        match spec.kind {
            SettingKind::Percentages => {
                let percents = parse_percentages(value).map_err(problem)?;
                self.budget_warning_thresholds = percents;
            }
            SettingKind::Count => {
                let count: u64 = value
                    .parse()
                    .map_err(|_| problem("expected a whole number of 0 or more".into()))?;
                match key {
                    "cb_cooldown_seconds" => self.cb_cooldown_seconds = count,
                    "d1_write_limit" => self.d1_write_limit = count,
                    _ => self.cb_max_consecutive_trips = count,
                }
            }
            SettingKind::Usd => {
                let usd: f64 = value
                    .parse()
                    .ok()
                    .filter(|usd: &f64| usd.is_finite() && *usd >= 0.0)
                    .ok_or_else(|| problem("expected an amount of 0 or more".into()))?;
                self.budget_soft_limit = usd;
            }
        }
        Ok(())
    }
}

fn parse_percentages(value: &str) -> Result<Vec<u8>, String> {
    let mut percents = Vec::new();
    for part in value.split(',') {
        let percent: u8 = part
            .trim()
            .parse()
            .ok()
            .filter(|p| (1..100).contains(p))
            .ok_or_else(|| format!("{:?} is not a whole percentage between 1 and 99", part.trim()))?;
        if percents.last().is_some_and(|last| *last >= percent) {
            return Err("percentages must be in ascending order".into());
        }
        percents.push(percent);
    }
    Ok(percents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_declared_defaults() {
        let from_specs = Settings::resolve(SETTINGS.iter().map(|s| (s.key, s.default)));
        assert!(from_specs.problems.is_empty(), "{:?}", from_specs.problems);
        assert_eq!(from_specs.settings, Settings::default());
    }

    #[test]
    fn rows_override_defaults() {
        let resolved = Settings::resolve([
            ("budget_warning_thresholds", "50, 80,95"),
            ("cb_max_consecutive_trips", "5"),
        ]);
        assert!(resolved.problems.is_empty());
        assert_eq!(resolved.settings.budget_warning_thresholds, vec![50, 80, 95]);
        assert_eq!(resolved.settings.cb_max_consecutive_trips, 5);
        assert_eq!(resolved.settings.cb_cooldown_seconds, 300);
    }

    #[test]
    fn bad_rows_are_reported_and_defaults_kept() {
        let resolved = Settings::resolve([
            ("budget_warning_thresholds", "90,70"),
            ("cb_cooldown_seconds", "-1"),
            ("budget_soft_limit", "NaN"),
            ("colour", "blue"),
        ]);
        assert_eq!(resolved.settings, Settings::default());
        let reasons: Vec<String> = resolved.problems.iter().map(ToString::to_string).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].contains("ascending"), "{reasons:?}");
        assert!(reasons[3].contains("unknown setting"), "{reasons:?}");
        assert!(Settings::default()
            .set("budget_warning_thresholds", "100")
            .is_err());
    }
}
