//! Usage added by one queue batch, aggregated in memory per feature and period, so that storage is
//! touched once per batch rather than once per message.

use crate::sorted::CollectSorted;
use std::collections::BTreeMap;

use crate::feature::{FeatureKey, ProjectId};
use crate::metric::Metric;
use crate::telemetry::{Kind, Telemetry};
use crate::time::{EpochMs, UtcDay, UtcMonth};

/// Amounts per metric.
pub type MetricTotals = BTreeMap<Metric, f64>;

/// Whose usage a total is: a feature, or a project (the sum of its features).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    Feature(FeatureKey),
    Project(ProjectId),
}

impl Subject {
    /// `feature` or `project`, as the usage ledger names the kind.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Feature(_) => "feature",
            Self::Project(_) => "project",
        }
    }

    /// The feature key or project id.
    pub fn id(&self) -> &str {
        match self {
            Self::Feature(feature) => feature.as_str(),
            Self::Project(project) => project.as_str(),
        }
    }

    /// A subject from its kind and id; `None` for an unknown kind or a malformed id.
    pub fn parse(kind: &str, id: &str) -> Option<Self> {
        match kind {
            "feature" => FeatureKey::parse(id).ok().map(Self::Feature),
            "project" => ProjectId::parse(id).ok().map(Self::Project),
            _ => None,
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchUsage {
    pub daily: BTreeMap<(FeatureKey, UtcDay), MetricTotals>,
    pub monthly: BTreeMap<(FeatureKey, UtcMonth), MetricTotals>,
    /// The latest heartbeat of each feature.
    pub heartbeats: BTreeMap<FeatureKey, EpochMs>,
    /// Errors consumers reported, per feature.
    pub errors: BTreeMap<FeatureKey, u64>,
    /// When each feature sent telemetry of any kind, per UTC day.
    pub activity: BTreeMap<(FeatureKey, UtcDay), Activity>,
}

/// When a feature was heard from on one UTC day, by its messages' own timestamps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Bit `h` is set when a message fell in UTC hour `h` (0..24).
    pub hours: u32,
    /// The latest message timestamp.
    pub last_seen: EpochMs,
}

impl Activity {
    /// The activity of one message at `at`.
    pub fn at(at: EpochMs) -> Self {
        let hour = (at % 86_400_000) / 3_600_000;
        Self {
            hours: 1 << hour,
            last_seen: at,
        }
    }

    /// Both activities together.
    pub fn merge(self, other: Self) -> Self {
        Self {
            hours: self.hours | other.hours,
            last_seen: self.last_seen.max(other.last_seen),
        }
    }

    /// The UTC hours marked, ascending.
    pub fn hours(self) -> impl Iterator<Item = u8> {
        (0..24u8).filter(move |h| self.hours & (1 << h) != 0)
    }
}

impl BatchUsage {
    pub fn add(&mut self, message: &Telemetry) {
        let heard = self
            .activity
            .entry((message.feature.clone(), UtcDay::containing(message.timestamp)))
            .or_default();
        *heard = heard.merge(Activity::at(message.timestamp));
        if message.error_count > 0 {
            *self.errors.entry(message.feature.clone()).or_default() += message.error_count;
        }
        if message.kind == Kind::Heartbeat {
            let latest = self.heartbeats.entry(message.feature.clone()).or_default();
            *latest = (*latest).max(message.timestamp);
            return;
        }
        if message.metrics.is_empty() {
            return;
        }
        let day = UtcDay::containing(message.timestamp);
        add_into(
            self.daily.entry((message.feature.clone(), day)).or_default(),
            &message.metrics,
        );
        add_into(
            self.monthly
                .entry((message.feature.clone(), day.month()))
                .or_default(),
            &message.metrics,
        );
    }

    /// Every feature the batch touched.
    pub fn features(&self) -> Vec<FeatureKey> {
        self.daily
            .keys()
            .map(|(feature, _)| feature.clone())
            .chain(self.heartbeats.keys().cloned())
            .collect_set()
            .into_iter()
            .collect()
    }

    /// The features with metered usage in the batch (heartbeats and error reports add none).
    pub fn used_features(&self) -> Vec<FeatureKey> {
        let mut features: Vec<FeatureKey> = self.daily.keys().map(|(feature, _)| feature.clone()).collect();
        features.dedup();
        features
    }

    /// The daily usage summed per project.
    pub fn project_daily(&self) -> BTreeMap<(ProjectId, UtcDay), MetricTotals> {
        let mut projects: BTreeMap<(ProjectId, UtcDay), MetricTotals> = BTreeMap::new();
        for ((feature, day), totals) in &self.daily {
            add_into(projects.entry((feature.project(), *day)).or_default(), totals);
        }
        projects
    }

    /// The monthly usage summed per project.
    pub fn project_monthly(&self) -> BTreeMap<(ProjectId, UtcMonth), MetricTotals> {
        let mut projects: BTreeMap<(ProjectId, UtcMonth), MetricTotals> = BTreeMap::new();
        for ((feature, month), totals) in &self.monthly {
            add_into(projects.entry((feature.project(), *month)).or_default(), totals);
        }
        projects
    }
}

/// Adds `more` into `totals`.
pub fn add_into(totals: &mut MetricTotals, more: &MetricTotals) {
    for (metric, amount) in more {
        *totals.entry(*metric).or_default() += amount;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Parsed as received at its own timestamp (or at 1970 when it has none).
    fn message(body: serde_json::Value) -> Telemetry {
        let at = body["timestamp"].as_u64().unwrap_or(0);
        Telemetry::parse(&body, at).unwrap()
    }

    #[test]
    fn aggregates_per_feature_day_month_and_project() {
        let mut usage = BatchUsage::default();
        // 2026-03-02 and 2026-03-03, UTC.
        usage.add(&message(
            json!({"feature_key":"app:api:read","metrics":{"kvReads":2},"timestamp":1_772_460_306_789_u64}),
        ));
        usage.add(&message(json!({"feature_key":"app:api:read","metrics":{"kvReads":3,"d1Writes":1},"timestamp":1_772_460_306_790_u64})));
        usage.add(&message(
            json!({"feature_key":"app:api:read","metrics":{"kvReads":5},"timestamp":1_772_546_706_789_u64}),
        ));
        usage.add(&message(
            json!({"feature_key":"app:cron:sync","metrics":{"kvReads":1},"timestamp":1_772_460_306_789_u64}),
        ));
        usage.add(&message(
            json!({"feature_key":"app:cron:sync","metrics":{},"is_heartbeat":true,"timestamp":7}),
        ));
        usage.add(&message(
            json!({"feature_key":"app:cron:sync","metrics":{},"error_count":2,"timestamp":8}),
        ));

        let day = UtcDay::parse("2026-03-02").unwrap();
        let read = FeatureKey::parse("app:api:read").unwrap();
        assert_eq!(usage.daily[&(read.clone(), day)][&Metric::KvReads], 5.0);
        assert_eq!(usage.daily[&(read.clone(), day)][&Metric::D1Writes], 1.0);
        // The error report counts as usage of its own day (1970-01-01): errors are a metric.
        assert_eq!(usage.daily.len(), 4);
        let sync = FeatureKey::parse("app:cron:sync").unwrap();
        let epoch = UtcDay::containing(8);
        assert_eq!(usage.daily[&(sync, epoch)][&Metric::Errors], 2.0);
        assert_eq!(usage.monthly[&(read, day.month())][&Metric::KvReads], 10.0);
        let project = ProjectId::parse("app").unwrap();
        assert_eq!(
            usage.project_daily()[&(project.clone(), day)][&Metric::KvReads],
            6.0
        );
        assert_eq!(
            usage.project_monthly()[&(project, day.month())][&Metric::KvReads],
            11.0
        );
        assert_eq!(usage.heartbeats.values().copied().collect::<Vec<_>>(), [7]);
        assert_eq!(usage.errors.values().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(usage.features().len(), 2);
        let heard = usage.activity[&(FeatureKey::parse("app:api:read").unwrap(), day)];
        // 1_772_460_306_789 is 2026-03-02T14:05:06.789Z.
        assert_eq!(heard.hours().collect::<Vec<_>>(), [14]);
        assert_eq!(heard.last_seen, 1_772_460_306_790);
        assert_eq!(
            usage.activity.len(),
            4,
            "two features on 2026-03-02, one on 03-03, one in 1970"
        );
    }

    #[test]
    fn activity_marks_hours_and_keeps_the_latest() {
        let hour = 3_600_000;
        let merged = Activity::at(23 * hour + 5)
            .merge(Activity::at(2 * hour))
            .merge(Activity::at(2 * hour + 9));
        assert_eq!(merged.hours().collect::<Vec<_>>(), [2, 23]);
        assert_eq!(merged.last_seen, 23 * hour + 5);
    }
}
