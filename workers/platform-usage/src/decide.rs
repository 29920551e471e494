//! What a batch's usage calls for: trips, project level changes, warnings, the events and alerts
//! that record them. Pure: everything it needs is passed in, including the time.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::alert::AlertSubject;
use platform_core::breaker::{FeatureBreaker, Policy, ProjectAssessment, ProjectBreaker};
use platform_core::budget::{evaluate, Period, Warning};
use platform_core::budgets::BudgetsDocument;
use platform_core::pricing::Catalogue;
use platform_core::settings::Settings;
use platform_core::sorted::CollectSorted;
use platform_core::time::iso8601;
pub use platform_core::usage::Subject;
use platform_core::usage::{add_into, BatchUsage, MetricTotals};
use platform_core::{EpochMs, FeatureKey, Metric, MetricLimits, ProjectId, UtcDay};
use platform_db::usage::ledger::EventRecord;
use platform_worker::alerts::Alert;

/// Totals per subject and period id (`2026-03-02`, `2026-03`), as the ledger reads them.
pub type Totals = BTreeMap<(Subject, String), MetricTotals>;

/// A feature's enforced limits: daily and monthly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureLimits {
    pub daily: Option<MetricLimits>,
    pub monthly: Option<MetricLimits>,
}

/// A warning already sent: feature, metric, period id, threshold.
pub type Warned = BTreeSet<(FeatureKey, Metric, String, u8)>;

/// The state a decision is made from.
pub struct Inputs<'a> {
    pub now: EpochMs,
    /// Usage of the batch's new messages.
    pub usage: &'a BatchUsage,
    /// Totals of the current day and month before this batch.
    pub before: &'a Totals,
    pub feature_breakers: &'a BTreeMap<FeatureKey, FeatureBreaker>,
    pub project_breakers: &'a BTreeMap<ProjectId, ProjectBreaker>,
    pub warned: &'a Warned,
    pub limits: &'a BTreeMap<FeatureKey, FeatureLimits>,
    pub budgets: &'a BudgetsDocument,
    pub settings: &'a Settings,
}

/// A row for `breaker_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub scope: &'static str,
    pub subject: String,
    pub event: &'static str,
    pub reason: Option<String>,
}

impl Event {
    /// The event as the ledger records it.
    pub fn record(&self) -> EventRecord<'_> {
        EventRecord {
            scope: self.scope,
            subject: &self.subject,
            event: self.event,
            reason: self.reason.as_deref(),
        }
    }
}

/// What to record and broadcast.
#[derive(Debug, Default)]
pub struct Plan {
    pub feature_trips: Vec<(FeatureKey, FeatureBreaker)>,
    pub project_changes: Vec<(ProjectId, ProjectBreaker)>,
    /// Warnings to send, with every threshold each accounts for.
    pub warnings: Vec<(FeatureKey, Warning)>,
    pub events: Vec<Event>,
    pub alerts: Vec<Alert>,
}

impl Plan {
    pub fn transitions(&self) -> usize {
        self.feature_trips.len() + self.project_changes.len()
    }
}

/// Decides on every feature and project the batch touched, over the current day and month only:
/// late messages for a past period are counted but cannot trip a breaker that period has reset.
pub fn decide(inputs: &Inputs<'_>) -> Plan {
    let day = UtcDay::containing(inputs.now);
    let periods = [Period::Day(day), Period::Month(day.month())];
    let after = totals_after(inputs, &periods);
    let mut plan = Plan::default();
    let policy = Policy::from(inputs.settings);
    for feature in inputs.usage.used_features() {
        let Some(limits) = inputs.limits.get(&feature) else {
            continue;
        };
        let mut overruns = Vec::new();
        for (period, limits) in periods.iter().zip([&limits.daily, &limits.monthly]) {
            let Some(limits) = limits else { continue };
            let totals = after
                .get(&(Subject::Feature(feature.clone()), period.id()))
                .cloned()
                .unwrap_or_default();
            let warned = |metric, threshold| {
                inputs
                    .warned
                    .contains(&(feature.clone(), metric, period.id(), threshold))
            };
            let evaluation = evaluate(
                *period,
                limits,
                &totals,
                &inputs.settings.budget_warning_thresholds,
                warned,
            );
            overruns.extend(evaluation.overrun);
            plan.warnings
                .extend(evaluation.warnings.into_iter().map(|w| (feature.clone(), w)));
        }
        // A monthly overrun outlasts a daily one: trip for the longer period.
        let breaker = inputs.feature_breakers.get(&feature).cloned().unwrap_or_default();
        if let Some(tripped) = overruns
            .last()
            .and_then(|overrun| breaker.trip(overrun, inputs.now, policy))
        {
            plan.warnings.retain(|(warned, _)| *warned != feature);
            record_trip(&mut plan, &feature, &tripped);
            plan.feature_trips.push((feature, tripped));
        }
    }
    for (feature, warning) in &plan.warnings {
        plan.alerts.push(Alert {
            subject: AlertSubject::Budget {
                feature: feature.clone(),
                metric: warning.metric,
                period: warning.period,
                threshold: warning.threshold,
            },
            text: format!(":warning: {feature}: {}", warning.message()),
        });
    }
    assess_projects(inputs, &after, day, &mut plan);
    plan
}

fn totals_after(inputs: &Inputs<'_>, periods: &[Period; 2]) -> Totals {
    let mut after = inputs.before.clone();
    let [Period::Day(day), Period::Month(month)] = *periods else {
        return after;
    };
    for ((feature, added_day), totals) in &inputs.usage.daily {
        if *added_day == day {
            add_into(
                after
                    .entry((Subject::Feature(feature.clone()), day.to_string()))
                    .or_default(),
                totals,
            );
            add_into(
                after
                    .entry((Subject::Project(feature.project()), day.to_string()))
                    .or_default(),
                totals,
            );
        }
    }
    for ((feature, added_month), totals) in &inputs.usage.monthly {
        if *added_month == month {
            add_into(
                after
                    .entry((Subject::Feature(feature.clone()), month.to_string()))
                    .or_default(),
                totals,
            );
            add_into(
                after
                    .entry((Subject::Project(feature.project()), month.to_string()))
                    .or_default(),
                totals,
            );
        }
    }
    // Dollar budgets limit `cost_usd`: the usage priced by the catalogue plus external costs.
    let pricing = &inputs.budgets.pricing;
    let catalogue = Catalogue::configured(pricing.plan.unwrap_or_default(), pricing);
    for totals in after.values_mut() {
        let usd = catalogue.telemetry_cost(totals);
        if usd > 0.0 {
            totals.insert(Metric::CostUsd, usd);
        }
    }
    after
}

fn record_trip(plan: &mut Plan, feature: &FeatureKey, breaker: &FeatureBreaker) {
    let reason = breaker.reason.clone().unwrap_or_default();
    let until = match breaker.auto_reset_at {
        Some(at) => format!("it resets at {}", iso8601(at)),
        None => "it stays off until an operator enables it".to_owned(),
    };
    plan.events.push(Event {
        scope: "feature",
        subject: feature.to_string(),
        event: "trip",
        reason: Some(reason.clone()),
    });
    plan.alerts.push(Alert {
        subject: AlertSubject::Trip {
            feature: feature.clone(),
            tripped_at: breaker.tripped_at.unwrap_or_default(),
            consecutive_trips: breaker.consecutive_trips,
        },
        text: format!(":rotating_light: {feature} stopped: {reason}; {until}"),
    });
}

fn assess_projects(inputs: &Inputs<'_>, after: &Totals, day: UtcDay, plan: &mut Plan) {
    let projects: BTreeSet<ProjectId> = inputs
        .usage
        .used_features()
        .iter()
        .map(FeatureKey::project)
        .collect_set();
    let empty = MetricTotals::new();
    for project in projects {
        let Some(limits) = inputs.budgets.projects.get(&project) else {
            continue;
        };
        let totals = |period: String| {
            after
                .get(&(Subject::Project(project.clone()), period))
                .unwrap_or(&empty)
        };
        let assessment = ProjectAssessment::of(
            limits,
            (day, totals(day.to_string())),
            (day.month(), totals(day.month().to_string())),
            &inputs.settings.budget_warning_thresholds,
        );
        let current = inputs.project_breakers.get(&project).cloned().unwrap_or_default();
        let Some(changed) = current.assess(&assessment, inputs.now) else {
            continue;
        };
        let level = platform_kv::ProjectState::from(changed.level).as_str();
        plan.events.push(Event {
            scope: "project",
            subject: project.to_string(),
            event: level,
            reason: changed.reason.clone(),
        });
        plan.alerts.push(Alert {
            subject: AlertSubject::Project {
                project: project.clone(),
                level,
            },
            text: format!(
                ":vertical_traffic_light: project {project} is now {level}{}",
                changed
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        });
        plan.project_changes.push((project, changed));
    }
}

#[cfg(test)]
mod tests {
    use platform_core::budgets::PeriodLimits;
    use platform_core::telemetry::Telemetry;
    use platform_core::Limit;
    use serde_json::json;

    use super::*;

    const NOON: EpochMs = 1_772_452_800_000; // 2026-03-02T12:00:00Z

    struct World {
        usage: BatchUsage,
        before: Totals,
        feature_breakers: BTreeMap<FeatureKey, FeatureBreaker>,
        project_breakers: BTreeMap<ProjectId, ProjectBreaker>,
        warned: Warned,
        limits: BTreeMap<FeatureKey, FeatureLimits>,
        budgets: BudgetsDocument,
        settings: Settings,
    }

    fn feature() -> FeatureKey {
        FeatureKey::parse("app:api:read").unwrap()
    }

    fn limits(kv_reads: u64) -> MetricLimits {
        MetricLimits([(Metric::KvReads, Limit(kv_reads))].into())
    }

    impl World {
        fn new(daily_limit: u64) -> Self {
            Self {
                usage: BatchUsage::default(),
                before: Totals::new(),
                feature_breakers: BTreeMap::new(),
                project_breakers: BTreeMap::new(),
                warned: Warned::new(),
                limits: [(
                    feature(),
                    FeatureLimits {
                        daily: Some(limits(daily_limit)),
                        monthly: None,
                    },
                )]
                .into(),
                budgets: BudgetsDocument::default(),
                settings: Settings::default(),
            }
        }

        fn send(&mut self, kv_reads: u64, at: EpochMs) {
            let body =
                json!({"feature_key": feature().as_str(), "metrics": {"kvReads": kv_reads}, "timestamp": at});
            self.usage.add(&Telemetry::parse(&body, at).unwrap());
        }

        fn decide(&self) -> Plan {
            decide(&Inputs {
                now: NOON,
                usage: &self.usage,
                before: &self.before,
                feature_breakers: &self.feature_breakers,
                project_breakers: &self.project_breakers,
                warned: &self.warned,
                limits: &self.limits,
                budgets: &self.budgets,
                settings: &self.settings,
            })
        }
    }

    #[test]
    fn accumulates_over_earlier_batches_and_trips_at_the_limit() {
        let mut world = World::new(100);
        world.before.insert(
            (Subject::Feature(feature()), "2026-03-02".into()),
            [(Metric::KvReads, 95.0)].into(),
        );
        world
            .warned
            .extend([70, 90].map(|t| (feature(), Metric::KvReads, "2026-03-02".into(), t)));
        world.send(5, NOON);
        let plan = world.decide();
        assert_eq!(plan.feature_trips.len(), 1);
        let (_, breaker) = &plan.feature_trips[0];
        assert_eq!(
            breaker.reason.as_deref(),
            Some("daily budget exceeded: kv_reads = 100 of 100 (2026-03-02)")
        );
        assert_eq!(
            iso8601(breaker.auto_reset_at.unwrap()),
            "2026-03-03T00:00:00.000Z"
        );
        assert_eq!(plan.events[0].event, "trip");
        assert!(
            plan.alerts[0].text.contains("resets at 2026-03-03T00:00:00.000Z"),
            "{:?}",
            plan.alerts
        );
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn warns_below_the_limit_and_never_trips_an_open_breaker_again() {
        let mut world = World::new(100);
        world.send(75, NOON);
        let plan = world.decide();
        assert_eq!(plan.warnings.len(), 1);
        assert_eq!(plan.alerts[0].subject.kind(), "budget");

        world.send(50, NOON);
        world.feature_breakers.insert(
            feature(),
            FeatureBreaker {
                open: true,
                ..FeatureBreaker::default()
            },
        );
        let plan = world.decide();
        assert!(plan.feature_trips.is_empty());
        assert!(plan.events.is_empty());
    }

    #[test]
    fn usage_of_a_past_day_is_not_enforced() {
        let mut world = World::new(10);
        world.send(500, NOON - 86_400_000);
        assert_eq!(world.decide().transitions(), 0);
    }

    #[test]
    fn a_project_over_its_limit_is_paused_once() {
        let mut world = World::new(1_000_000);
        let project = feature().project();
        world.budgets.projects.insert(
            project.clone(),
            PeriodLimits {
                daily: limits(100),
                monthly: MetricLimits::default(),
            },
        );
        world.send(150, NOON);
        let plan = world.decide();
        assert_eq!(plan.project_changes.len(), 1);
        assert_eq!(
            plan.project_changes[0].1.level,
            platform_core::breaker::Level::Paused
        );
        world
            .project_breakers
            .insert(project, plan.project_changes[0].1.clone());
        assert!(
            world.decide().project_changes.is_empty(),
            "no write without a transition"
        );
    }

    #[test]
    fn a_dollar_budget_counts_priced_usage_and_external_costs() {
        let mut world = World::new(1_000_000);
        world.limits.insert(
            feature(),
            FeatureLimits {
                daily: Some(MetricLimits([(Metric::CostUsd, Limit(2))].into())),
                monthly: None,
            },
        );
        // 200,000 KV reads at $0.50/M is $0.10; with $1.50 of external cost: 80 % of $2.
        let body = json!({"feature_key": feature().as_str(), "metrics": {"kvReads": 200_000},
            "external_cost_usd": 1.5, "timestamp": NOON});
        world.usage.add(&Telemetry::parse(&body, NOON).unwrap());
        let plan = world.decide();
        assert_eq!(plan.warnings.len(), 1, "{:?}", plan.alerts);
        assert_eq!(plan.warnings[0].1.metric, Metric::CostUsd);
        assert!((plan.warnings[0].1.value - 1.6).abs() < 1e-9);
        let body = json!({"feature_key": feature().as_str(), "external_cost_usd": 0.5, "timestamp": NOON});
        world.usage.add(&Telemetry::parse(&body, NOON).unwrap());
        let plan = world.decide();
        assert_eq!(plan.feature_trips.len(), 1);
        assert!(
            plan.feature_trips[0]
                .1
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("cost_usd = 2.10 of 2"),
            "{:?}",
            plan.feature_trips
        );
    }

    #[test]
    fn features_without_budgets_are_counted_but_not_enforced() {
        let mut world = World::new(1);
        world.limits.clear();
        world.send(500, NOON);
        assert_eq!(world.decide().transitions(), 0);
    }
}
