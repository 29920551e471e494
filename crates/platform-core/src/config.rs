//! The operator's two files (services.yaml and budgets.yaml) checked and normalised.
//!
//! [`validate`] takes both documents as parsed JSON values (YAML is parsed by the caller) and
//! either returns the normalised [`Config`] or every problem found, each with its file, its path
//! in the file and the reason: an operator fixes the whole file in one go. Nothing is written from
//! a config with a problem.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::account::AccountMetric;
use crate::budgets::{AlertSettings, BreakerTimings, BudgetsDocument, Defaults, PeriodLimits};
use crate::feature::{FeatureKey, ProjectId};
use crate::limits::{too_large, Limit, MetricLimits, MAX_LIMIT};
use crate::metric::Metric;
use crate::pricing::{Plan, PriceOverride, PricingConfig};
use crate::services::{
    check_resource_id, check_script_name, CostTier, Expect, Feature, GithubRepo, Project, ServicesDocument,
    MAX_TIER,
};
use crate::settings::Settings;

/// Validates a script name or resource id.
type NameCheck = fn(&str) -> Result<(), String>;
use crate::thresholds::{CostAlertThresholds, CostService, ServiceThresholdOverride};

/// Which of the two files a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConfigFile {
    #[serde(rename = "services.yaml")]
    Services,
    #[serde(rename = "budgets.yaml")]
    Budgets,
}

impl ConfigFile {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Services => "services.yaml",
            Self::Budgets => "budgets.yaml",
        }
    }
}

impl fmt::Display for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One thing wrong with the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub file: ConfigFile,
    /// Where in the file: `projects.my-app.repository`, `features["a:b:c"].daily.d1_writes`;
    /// empty for the whole document.
    pub path: String,
    pub reason: String,
}

impl Problem {
    pub fn new(file: ConfigFile, path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            file,
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.reason)
        }
    }
}

/// Both files, validated and normalised. Serialised, it is the document whose hash is the
/// config's version: comments, key order and number spelling do not change it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub services: ServicesDocument,
    pub budgets: BudgetsDocument,
}

impl Config {
    /// The first 16 hex digits of the SHA-256 of the normalised document.
    pub fn version(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&canonical)
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Every guarded feature with its effective limits (defaults merged with its overrides).
    /// Unguarded features have none: no breaker would act on them.
    pub fn feature_budgets(&self) -> impl Iterator<Item = (&FeatureKey, PeriodLimits)> {
        self.services
            .features()
            .filter(|(_, _, feature)| feature.circuit_breaker)
            .map(|(_, key, _)| (key, self.budgets.feature_limits(key)))
    }

    /// The D1 `settings` rows budgets.yaml states, by key. A setting it leaves out has no row, so
    /// the platform's default applies.
    pub fn settings_rows(&self) -> BTreeMap<&'static str, String> {
        let defaults = &self.budgets.defaults;
        let mut rows = BTreeMap::new();
        if let Some(percents) = &defaults.warning_thresholds {
            let text: Vec<String> = percents.iter().map(u8::to_string).collect();
            rows.insert("budget_warning_thresholds", text.join(","));
        }
        if let Some(seconds) = defaults.circuit_breaker.cooldown_seconds {
            rows.insert("cb_cooldown_seconds", seconds.to_string());
        }
        if let Some(trips) = defaults.circuit_breaker.max_consecutive_trips {
            rows.insert("cb_max_consecutive_trips", trips.to_string());
        }
        if let Some(usd) = self.budgets.alerts.soft_limit_usd {
            rows.insert("budget_soft_limit", usd.to_string());
        }
        rows
    }

    /// The value of `alert-thresholds:config`.
    pub fn cost_thresholds(&self) -> CostAlertThresholds {
        CostAlertThresholds::resolve(&self.budgets.cost_thresholds)
    }
}

/// Checks and normalises both files; every problem is reported.
pub fn validate(services: &Value, budgets: &Value) -> Result<Config, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut declared = Declared::default();
    let services = {
        let mut check = Check::new(ConfigFile::Services, &mut problems);
        check.services(services, &mut declared)
    };
    let budgets = {
        let mut check = Check::new(ConfigFile::Budgets, &mut problems);
        check.budgets(budgets, &declared)
    };
    if problems.is_empty() {
        Ok(Config { services, budgets })
    } else {
        Err(problems)
    }
}

/// A path inside a document.
#[derive(Debug, Clone, Default)]
struct Path(String);

impl Path {
    fn field(&self, name: &str) -> Path {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        Path(if plain && self.0.is_empty() {
            name.to_owned()
        } else if plain {
            format!("{}.{name}", self.0)
        } else {
            format!("{}[{name:?}]", self.0)
        })
    }

    fn index(&self, index: usize) -> Path {
        Path(format!("{}[{index}]", self.0))
    }
}

/// The projects and features services.yaml declares, whether or not they have problems of their
/// own: budgets.yaml is checked against them without repeating those problems.
#[derive(Debug, Default)]
struct Declared {
    projects: BTreeSet<ProjectId>,
    /// Each feature and whether a breaker guards it.
    features: BTreeMap<FeatureKey, bool>,
}

/// A project slug: the first part of feature keys, so no `:` and no whitespace.
fn project_id(slug: &str) -> Result<ProjectId, String> {
    if slug.contains(':') {
        return Err(format!("project slug {slug:?} may not contain ':'"));
    }
    ProjectId::parse(slug).map_err(|error| error.to_string())
}

/// Fields of a mapping, looked up by name.
type Fields<'v> = BTreeMap<&'v str, &'v Value>;

/// Why a field some operators expect is not accepted.
const FIELD_HINTS: &[(&str, &str)] = &[(
    "auto_reset_seconds",
    "breakers do not reset after a delay: a daily trip ends at the next UTC day and a monthly trip at the next UTC month",
)];

struct Check<'p> {
    file: ConfigFile,
    problems: &'p mut Vec<Problem>,
}

impl<'p> Check<'p> {
    fn new(file: ConfigFile, problems: &'p mut Vec<Problem>) -> Self {
        Self { file, problems }
    }

    fn report(&mut self, path: &Path, reason: impl Into<String>) {
        self.problems
            .push(Problem::new(self.file, path.0.clone(), reason));
    }

    /// A mapping's entries; `null` (a YAML key with nothing under it) is an empty mapping.
    fn mapping<'v>(&mut self, value: Option<&'v Value>, path: &Path) -> Vec<(&'v str, &'v Value)> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            Some(other) => {
                self.report(path, format!("expected a mapping, found {}", kind_of(other)));
                Vec::new()
            }
        }
    }

    /// A mapping with a fixed set of fields; any other field is reported.
    fn fields<'v>(&mut self, value: Option<&'v Value>, path: &Path, known: &[&str]) -> Fields<'v> {
        let mut fields = Fields::new();
        for (name, value) in self.mapping(value, path) {
            if known.contains(&name) {
                fields.insert(name, value);
            } else if let Some((_, hint)) = FIELD_HINTS.iter().find(|(field, _)| *field == name) {
                self.report(&path.field(name), format!("not accepted: {hint}"));
            } else {
                self.report(
                    &path.field(name),
                    format!("unknown field; expected one of: {}", known.join(", ")),
                );
            }
        }
        fields
    }

    fn string(&mut self, value: Option<&Value>, path: &Path) -> Option<String> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            Some(Value::String(_)) => {
                self.report(path, "is empty");
                None
            }
            Some(other) => {
                self.report(path, format!("expected text, found {}", kind_of(other)));
                None
            }
        }
    }

    fn boolean(&mut self, value: Option<&Value>, path: &Path) -> Option<bool> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::Bool(flag)) => Some(*flag),
            Some(other) => {
                self.report(path, format!("expected true or false, found {}", kind_of(other)));
                None
            }
        }
    }

    /// A whole number in `range`, written as a number or as text with `_` separators.
    fn whole(
        &mut self,
        value: Option<&Value>,
        path: &Path,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<u64> {
        let value = value.filter(|v| !v.is_null())?;
        let number = self.limit(value, path)?.0;
        if range.contains(&number) {
            Some(number)
        } else {
            self.report(
                path,
                format!(
                    "{number} is out of range: expected {} to {}",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }

    fn amount(&mut self, value: Option<&Value>, path: &Path) -> Option<f64> {
        let value = value.filter(|v| !v.is_null())?;
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(text) => text.trim().replace('_', "").parse().ok(),
            _ => None,
        };
        match number {
            Some(usd) if usd.is_finite() && usd >= 0.0 => Some(usd),
            Some(usd) => {
                self.report(path, format!("{usd} is not an amount of 0 or more"));
                None
            }
            None => {
                self.report(
                    path,
                    format!("expected an amount of 0 or more, found {}", describe(value)),
                );
                None
            }
        }
    }

    fn limit(&mut self, value: &Value, path: &Path) -> Option<Limit> {
        let parsed = match value {
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(whole), _, _) => Ok(Limit(whole)),
                (None, Some(negative), _) => Err(format!(
                    "{negative} is negative: expected a whole number of 0 or more"
                )),
                (_, _, Some(number)) if number > MAX_LIMIT as f64 => Err(too_large(number)),
                (_, _, Some(number)) => Limit::from_f64(number),
                _ => Err(format!("{n} is not a number")),
            },
            Value::String(text) => Limit::parse(text),
            other => Err(format!(
                "expected a whole number of 0 or more, found {}",
                kind_of(other)
            )),
        };
        parsed
            .and_then(Limit::bounded)
            .map_err(|reason| self.report(path, reason))
            .ok()
    }

    fn limits(&mut self, value: Option<&Value>, path: &Path) -> MetricLimits {
        let mut limits = BTreeMap::new();
        for (name, value) in self.mapping(value, path) {
            let at = path.field(name);
            match name.parse::<Metric>() {
                Ok(metric) => {
                    if let Some(limit) = self.limit(value, &at) {
                        limits.insert(metric, limit);
                    }
                }
                Err(unknown) => self.report(&at, unknown.to_string()),
            }
        }
        MetricLimits(limits)
    }

    fn period_limits(&mut self, value: Option<&Value>, path: &Path) -> PeriodLimits {
        let fields = self.fields(value, path, &["daily", "monthly"]);
        PeriodLimits {
            daily: self.limits(fields.get("daily").copied(), &path.field("daily")),
            monthly: self.limits(fields.get("monthly").copied(), &path.field("monthly")),
        }
    }

    /// Checks a value with the settings' own rule, so that a row sync-config writes is never one
    /// the settings reader would refuse.
    fn setting(&mut self, key: &str, text: &str, path: &Path) -> bool {
        match Settings::default().set(key, text) {
            Ok(()) => true,
            Err(problem) => {
                self.report(path, problem.reason);
                false
            }
        }
    }

    fn services(&mut self, document: &Value, declared: &mut Declared) -> ServicesDocument {
        let root = Path::default();
        if document.is_null() {
            self.report(&root, "the file is empty; it must list `projects`");
            return ServicesDocument::default();
        }
        let top = self.fields(Some(document), &root, &["projects"]);
        if !top.contains_key("projects") && self.problems.is_empty() {
            self.report(&root, "missing `projects`");
        }
        let projects_path = root.field("projects");
        let mut projects = BTreeMap::new();
        // Which project claimed each script first, to report a script claimed twice.
        let mut claimed: BTreeMap<String, ProjectId> = BTreeMap::new();
        // Consumers read a project's stop key by its upper-case slug: two slugs that differ only
        // in case would share one. (Slugs are ASCII, ProjectId refuses any other: ASCII case is
        // all there is.)
        let mut slugs: BTreeMap<String, ProjectId> = BTreeMap::new();
        for (slug, value) in self.mapping(top.get("projects").copied(), &projects_path) {
            let path = projects_path.field(slug);
            let id = match project_id(slug) {
                Ok(_) if slugs.contains_key(&slug.to_ascii_uppercase()) => {
                    let first = &slugs[&slug.to_ascii_uppercase()];
                    self.report(
                        &path,
                        format!(
                            "project {slug:?} is {:?} in another case: both would share \
                             PROJECT:{}:STATUS; give each project a slug of its own",
                            first.as_str(),
                            slug.to_ascii_uppercase()
                        ),
                    );
                    None
                }
                Ok(id) => {
                    slugs.insert(slug.to_ascii_uppercase(), id.clone());
                    declared.projects.insert(id.clone());
                    Some(id)
                }
                Err(reason) => {
                    self.report(&path, reason);
                    None
                }
            };
            let project = self.project(slug, value, &path, id.as_ref(), &mut claimed, declared);
            if let Some(project) = project {
                if let Some(id) = id {
                    projects.insert(id, project);
                }
            }
        }
        ServicesDocument { projects }
    }

    fn project(
        &mut self,
        slug: &str,
        value: &Value,
        path: &Path,
        id: Option<&ProjectId>,
        claimed: &mut BTreeMap<String, ProjectId>,
        declared: &mut Declared,
    ) -> Option<Project> {
        let fields = self.fields(
            Some(value),
            path,
            &[
                "display_name",
                "repository",
                "tier",
                "scripts",
                "resources",
                "features",
            ],
        );
        let display_name = self
            .string(fields.get("display_name").copied(), &path.field("display_name"))
            .unwrap_or_else(|| slug.to_owned());
        let repository_path = path.field("repository");
        let repository = match self.string(fields.get("repository").copied(), &repository_path) {
            Some(raw) => GithubRepo::parse(&raw)
                .map_err(|reason| self.report(&repository_path, reason))
                .ok(),
            None => {
                if fields.get("repository").is_none_or(|v| v.is_null()) {
                    self.report(
                        &repository_path,
                        "missing: the GitHub owner/repo where the project's errors are filed",
                    );
                }
                None
            }
        };
        let tier = self
            .whole(
                fields.get("tier").copied(),
                &path.field("tier"),
                0..=u64::from(MAX_TIER),
            )
            .map_or(MAX_TIER, |tier| u8::try_from(tier).unwrap_or(MAX_TIER));
        let scripts = self.owned(
            fields.get("scripts").copied(),
            &path.field("scripts"),
            (id, claimed),
            ("script", check_script_name),
        );
        let resources = self.owned(
            fields.get("resources").copied(),
            &path.field("resources"),
            (id, claimed),
            ("resource", check_resource_id),
        );
        let features = self.features(slug, fields.get("features").copied(), &path.field("features"));
        declared.features.extend(
            features
                .iter()
                .map(|(key, feature)| (key.clone(), feature.circuit_breaker)),
        );
        Some(Project {
            display_name,
            repository: repository?,
            tier,
            scripts,
            resources,
            features,
        })
    }

    /// The script names or resource ids a project owns; each may belong to one project only.
    /// `check` validates one name.
    fn owned(
        &mut self,
        value: Option<&Value>,
        path: &Path,
        (project, claimed): (Option<&ProjectId>, &mut BTreeMap<String, ProjectId>),
        (noun, check): (&str, NameCheck),
    ) -> BTreeSet<String> {
        let items = match value {
            None | Some(Value::Null) => return BTreeSet::new(),
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.report(
                    path,
                    format!("expected a list of {noun} names, found {}", kind_of(other)),
                );
                return BTreeSet::new();
            }
        };
        let mut names = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            let at = path.index(index);
            let Some(name) = self.string(Some(item), &at) else {
                continue;
            };
            if let Err(reason) = check(&name) {
                self.report(&at, reason);
                continue;
            }
            if !names.insert(name.clone()) {
                self.report(&at, format!("{noun} {name:?} is listed twice"));
                continue;
            }
            let Some(project) = project else { continue };
            match claimed.get(&name) {
                Some(owner) if owner != project => self.report(
                    &at,
                    format!("{noun} {name:?} is claimed by two projects: {owner} and {project}"),
                ),
                Some(_) => {}
                None => {
                    claimed.insert(name, project.clone());
                }
            }
        }
        names
    }

    fn features(
        &mut self,
        project: &str,
        value: Option<&Value>,
        path: &Path,
    ) -> BTreeMap<FeatureKey, Feature> {
        let mut features = BTreeMap::new();
        for (category, group) in self.mapping(value, path) {
            let category_path = path.field(category);
            for (name, value) in self.mapping(Some(group), &category_path) {
                let at = category_path.field(name);
                let key = match FeatureKey::parse(&format!("{project}:{category}:{name}")) {
                    Ok(key) => key,
                    Err(error) => {
                        self.report(&at, format!("malformed feature key: {error}"));
                        continue;
                    }
                };
                let fields = self.fields(
                    Some(value),
                    &at,
                    &["display_name", "circuit_breaker", "cost_tier", "expect"],
                );
                let display_name = self
                    .string(fields.get("display_name").copied(), &at.field("display_name"))
                    .unwrap_or_else(|| name.to_owned());
                let circuit_breaker = self
                    .boolean(
                        fields.get("circuit_breaker").copied(),
                        &at.field("circuit_breaker"),
                    )
                    .unwrap_or(true);
                let tier_path = at.field("cost_tier");
                let cost_tier = match self.string(fields.get("cost_tier").copied(), &tier_path) {
                    None => CostTier::Medium,
                    Some(name) => CostTier::parse(&name).unwrap_or_else(|| {
                        self.report(
                            &tier_path,
                            format!(
                                "unknown cost tier {name:?}; expected one of: low, medium, high, critical"
                            ),
                        );
                        CostTier::Medium
                    }),
                };
                let expect_path = at.field("expect");
                let expect = self
                    .string(fields.get("expect").copied(), &expect_path)
                    .and_then(|raw| match Expect::parse(&raw) {
                        Ok(expect) => Some(expect),
                        Err(reason) => {
                            self.report(&expect_path, reason);
                            None
                        }
                    });
                features.insert(
                    key,
                    Feature {
                        display_name,
                        circuit_breaker,
                        cost_tier,
                        expect,
                    },
                );
            }
        }
        features
    }

    fn budgets(&mut self, document: &Value, declared: &Declared) -> BudgetsDocument {
        let root = Path::default();
        let top = self.fields(
            Some(document),
            &root,
            &[
                "defaults",
                "projects",
                "features",
                "alerts",
                "cost_thresholds",
                "account",
                "pricing",
            ],
        );
        let defaults = self.defaults(top.get("defaults").copied(), &root.field("defaults"));

        let projects_path = root.field("projects");
        let mut projects = BTreeMap::new();
        for (slug, value) in self.mapping(top.get("projects").copied(), &projects_path) {
            let path = projects_path.field(slug);
            let limits = self.period_limits(Some(value), &path);
            match project_id(slug) {
                Ok(id) if declared.projects.contains(&id) => {
                    projects.insert(id, limits);
                }
                Ok(_) => self.report(&path, "unknown project: services.yaml does not list it"),
                Err(reason) => self.report(&path, reason),
            }
        }

        let features_path = root.field("features");
        let mut features = BTreeMap::new();
        for (raw, value) in self.mapping(top.get("features").copied(), &features_path) {
            let path = features_path.field(raw);
            let limits = self.period_limits(Some(value), &path);
            let key = match FeatureKey::parse(raw) {
                Ok(key) => key,
                Err(error) => {
                    self.report(&path, format!("malformed feature key: {error}"));
                    continue;
                }
            };
            if !declared.projects.contains(&key.project()) {
                self.report(
                    &path,
                    format!(
                        "feature of an unknown project: services.yaml does not list project {:?}",
                        key.project().as_str()
                    ),
                );
            } else {
                match declared.features.get(&key) {
                    None => self.report(&path, "unknown feature: services.yaml does not list it"),
                    Some(false) => self.report(
                        &path,
                        "the feature has circuit_breaker: false in services.yaml, so no budget applies to it",
                    ),
                    Some(true) => {
                        features.insert(key, limits);
                    }
                }
            }
        }

        let alerts_path = root.field("alerts");
        let alerts_fields = self.fields(top.get("alerts").copied(), &alerts_path, &["soft_limit_usd"]);
        let soft_path = alerts_path.field("soft_limit_usd");
        let soft_limit_usd = self
            .amount(alerts_fields.get("soft_limit_usd").copied(), &soft_path)
            .filter(|usd| self.setting("budget_soft_limit", &usd.to_string(), &soft_path));

        let cost_thresholds = self.cost_thresholds(
            top.get("cost_thresholds").copied(),
            &root.field("cost_thresholds"),
        );

        let account_path = root.field("account");
        let account = self.period_limits(top.get("account").copied(), &account_path);
        for (period, limits) in [("daily", &account.daily), ("monthly", &account.monthly)] {
            for metric in limits.0.keys().filter(|m| **m != Metric::CostUsd) {
                self.report(
                    &account_path.field(period).field(metric.budget_name()),
                    "the account's budgets are in dollars: only cost_usd applies to it",
                );
            }
        }
        let pricing = self.pricing(top.get("pricing").copied(), &root.field("pricing"));

        BudgetsDocument {
            projects,
            defaults,
            features,
            alerts: AlertSettings { soft_limit_usd },
            cost_thresholds,
            account,
            pricing,
        }
    }

    /// budgets.yaml's `pricing`: the plan and billing day assumed, and price overrides keyed by
    /// account metric (`kv.writes`).
    fn pricing(&mut self, value: Option<&Value>, path: &Path) -> PricingConfig {
        let fields = self.fields(
            value,
            path,
            &[
                "plan",
                "billing_day",
                "prices",
                "daily_limits",
                "stop_at_limit",
                "recover_pct",
            ],
        );
        let plan_path = path.field("plan");
        let plan = self
            .string(fields.get("plan").copied(), &plan_path)
            .and_then(|raw| match raw.as_str() {
                "paid" => Some(Plan::Paid),
                "free" => Some(Plan::Free),
                other => {
                    self.report(
                        &plan_path,
                        format!("unknown plan {other:?}: expected paid or free"),
                    );
                    None
                }
            });
        let billing_day = self
            .whole(
                fields.get("billing_day").copied(),
                &path.field("billing_day"),
                1..=28,
            )
            .and_then(|day| u8::try_from(day).ok());
        let metric = |check: &mut Self, name: &str, at: &Path| {
            let parsed = AccountMetric::parse(name);
            if parsed.is_none() {
                check.report(
                    at,
                    format!("unknown account metric {name:?}; account metrics are named like kv.writes, d1.rows_read, r2.stored_bytes"),
                );
            }
            parsed
        };
        let prices_path = path.field("prices");
        let mut prices = Vec::new();
        for (name, value) in self.mapping(fields.get("prices").copied(), &prices_path) {
            let at = prices_path.field(name);
            let given = self.fields(Some(value), &at, &["included", "usd", "per"]);
            let included = self.amount(given.get("included").copied(), &at.field("included"));
            let usd = self.amount(given.get("usd").copied(), &at.field("usd"));
            let per = self.amount(given.get("per").copied(), &at.field("per"));
            if per == Some(0.0) {
                self.report(&at.field("per"), "a price is per 1 unit or more, not per 0");
            }
            if let Some(metric) = metric(self, name, &at) {
                prices.push(PriceOverride {
                    metric,
                    included,
                    usd,
                    per,
                });
            }
        }
        let limits_path = path.field("daily_limits");
        let mut daily_limits = Vec::new();
        for (name, value) in self.mapping(fields.get("daily_limits").copied(), &limits_path) {
            let at = limits_path.field(name);
            let limit = self.amount(Some(value), &at);
            if let (Some(metric), Some(limit)) = (metric(self, name, &at), limit) {
                daily_limits.push((metric, limit));
            }
        }
        PricingConfig {
            plan,
            billing_day,
            prices,
            daily_limits,
            stop_at_limit: self
                .boolean(fields.get("stop_at_limit").copied(), &path.field("stop_at_limit"))
                .unwrap_or(false),
            recover_pct: self
                .whole(
                    fields.get("recover_pct").copied(),
                    &path.field("recover_pct"),
                    1..=99,
                )
                .and_then(|pct| u8::try_from(pct).ok()),
        }
    }

    fn defaults(&mut self, value: Option<&Value>, path: &Path) -> Defaults {
        let fields = self.fields(
            value,
            path,
            &["daily", "monthly", "warning_thresholds", "circuit_breaker"],
        );
        let daily = self.limits(fields.get("daily").copied(), &path.field("daily"));
        let monthly = self.limits(fields.get("monthly").copied(), &path.field("monthly"));
        let warning_thresholds = self.warning_thresholds(
            fields.get("warning_thresholds").copied(),
            &path.field("warning_thresholds"),
        );
        let breaker_path = path.field("circuit_breaker");
        let breaker = self.fields(
            fields.get("circuit_breaker").copied(),
            &breaker_path,
            &["cooldown_seconds", "max_consecutive_trips"],
        );
        let cooldown_seconds = self.whole(
            breaker.get("cooldown_seconds").copied(),
            &breaker_path.field("cooldown_seconds"),
            0..=u64::from(u32::MAX),
        );
        let max_consecutive_trips = self.whole(
            breaker.get("max_consecutive_trips").copied(),
            &breaker_path.field("max_consecutive_trips"),
            1..=1000,
        );
        Defaults {
            daily,
            monthly,
            warning_thresholds,
            circuit_breaker: BreakerTimings {
                cooldown_seconds,
                max_consecutive_trips,
            },
        }
    }

    /// `[70, 90]` or `"70,90"`.
    fn warning_thresholds(&mut self, value: Option<&Value>, path: &Path) -> Option<Vec<u8>> {
        let text = match value {
            None | Some(Value::Null) => return None,
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            Some(other) => {
                self.report(
                    path,
                    format!(
                        "expected a list of percentages such as [70, 90], found {}",
                        kind_of(other)
                    ),
                );
                return None;
            }
        };
        if !self.setting("budget_warning_thresholds", &text, path) {
            return None;
        }
        let mut settings = Settings::default();
        settings.set("budget_warning_thresholds", &text).ok()?;
        Some(settings.budget_warning_thresholds)
    }

    fn cost_thresholds(
        &mut self,
        value: Option<&Value>,
        path: &Path,
    ) -> BTreeMap<CostService, ServiceThresholdOverride> {
        let mut stated = BTreeMap::new();
        for (name, value) in self.mapping(value, path) {
            let at = path.field(name);
            let Some(service) = CostService::parse(name) else {
                let known: Vec<&str> = CostService::ALL.iter().map(|s| s.name()).collect();
                self.report(
                    &at,
                    format!("unknown service {name:?}; known services: {}", known.join(", ")),
                );
                continue;
            };
            let fields = self.fields(
                Some(value),
                &at,
                &[
                    "warning_pct",
                    "high_pct",
                    "critical_pct",
                    "absolute_max_usd",
                    "enabled",
                ],
            );
            let pct = |check: &mut Self, field: &str| {
                check
                    .whole(fields.get(field).copied(), &at.field(field), 1..=100)
                    .and_then(|p| u8::try_from(p).ok())
            };
            let overrides = ServiceThresholdOverride {
                warning_pct: pct(self, "warning_pct"),
                high_pct: pct(self, "high_pct"),
                critical_pct: pct(self, "critical_pct"),
                absolute_max_usd: self.amount(
                    fields.get("absolute_max_usd").copied(),
                    &at.field("absolute_max_usd"),
                ),
                enabled: self.boolean(fields.get("enabled").copied(), &at.field("enabled")),
            };
            if let Some(reason) = service.default_threshold().merged_with(&overrides).problem() {
                self.report(&at, reason);
            }
            stated.insert(service, overrides);
        }
        stated
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        Value::Number(n) => n.to_string(),
        other => kind_of(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn services() -> Value {
        json!({
            "projects": {
                "my-app": {
                    "display_name": "My App",
                    "repository": "acme/my-app",
                    "tier": 0,
                    "scripts": ["my-app-api", "my-app-cron"],
                    "features": {
                        "scanner": {
                            "ocr": {"display_name": "OCR", "cost_tier": "high"},
                            "thumbnails": null,
                        },
                        "admin": {"export": {"circuit_breaker": false}},
                    },
                },
                "blog": {"repository": "acme/blog"},
            }
        })
    }

    fn budgets() -> Value {
        json!({
            "defaults": {
                "daily": {"d1_writes": "100_000", "kv_reads": 50_000},
                "monthly": {"d1_writes": 2_000_000},
                "warning_thresholds": [70, 90],
                "circuit_breaker": {"cooldown_seconds": 600, "max_consecutive_trips": 3},
            },
            "projects": {"my-app": {"daily": {"d1_writes": 500_000}}},
            "features": {"my-app:scanner:ocr": {"daily": {"d1_writes": 200_000, "ai_neurons": 10}}},
            "alerts": {"soft_limit_usd": 40},
            "cost_thresholds": {"d1": {"critical_pct": 95}},
            "account": {"monthly": {"cost_usd": 50}},
            "pricing": {"plan": "free", "billing_day": 15, "prices": {"kv.writes": {"usd": "4.5"}},
                        "daily_limits": {"kv.writes": "2_000"}, "stop_at_limit": true, "recover_pct": 80},
        })
    }

    fn problems(services: &Value, budgets: &Value) -> Vec<(ConfigFile, String, String)> {
        validate(services, budgets)
            .unwrap_err()
            .into_iter()
            .map(|p| (p.file, p.path, p.reason))
            .collect()
    }

    fn assert_reported(found: &[(ConfigFile, String, String)], file: ConfigFile, path: &str, reason: &str) {
        assert!(
            found
                .iter()
                .any(|(f, p, r)| *f == file && p == path && r.contains(reason)),
            "no problem at {file} {path} containing {reason:?}; found:\n{}",
            found
                .iter()
                .map(|(f, p, r)| format!("  {f}: {p}: {r}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn a_valid_config_is_normalised() {
        let config = validate(&services(), &budgets()).unwrap();
        let app = ProjectId::parse("my-app").unwrap();
        let project = &config.services.projects[&app];
        assert_eq!(project.repository.to_string(), "acme/my-app");
        assert_eq!(project.tier, 0);
        let blog = &config.services.projects[&ProjectId::parse("blog").unwrap()];
        assert_eq!((blog.display_name.as_str(), blog.tier), ("blog", MAX_TIER));

        let thumbnails = FeatureKey::parse("my-app:scanner:thumbnails").unwrap();
        let feature = &project.features[&thumbnails];
        assert_eq!(
            (
                feature.display_name.as_str(),
                feature.circuit_breaker,
                feature.cost_tier
            ),
            ("thumbnails", true, CostTier::Medium)
        );

        let budgets = &config.budgets;
        assert_eq!(budgets.defaults.daily.get(Metric::D1Writes), Some(100_000));
        assert_eq!(budgets.projects[&app].daily.get(Metric::D1Writes), Some(500_000));
        assert_eq!(budgets.defaults.warning_thresholds, Some(vec![70, 90]));
        assert_eq!(budgets.account.monthly.get(Metric::CostUsd), Some(50));
        let pricing = &budgets.pricing;
        assert_eq!((pricing.plan, pricing.billing_day), (Some(Plan::Free), Some(15)));
        assert_eq!(pricing.prices[0].metric, AccountMetric::KvWrites);
        assert_eq!(pricing.prices[0].usd, Some(4.5));
        assert_eq!(pricing.daily_limits, [(AccountMetric::KvWrites, 2000.0)]);
        assert_eq!((pricing.stop_at_limit, pricing.recover_pct), (true, Some(80)));

        let scripts = config.services.script_mappings();
        assert_eq!(scripts.len(), 2);
        assert_eq!(scripts["my-app-cron"].project, app);
        assert_eq!(scripts["my-app-cron"].display_name, "My App");
    }

    #[test]
    fn a_feature_may_declare_its_rhythm_for_the_sentinel() {
        let mut declared = services();
        declared["projects"]["my-app"]["features"]["admin"]["nightly"] = json!({"expect": "every 24h"});
        declared["projects"]["my-app"]["features"]["admin"]["export"]["expect"] = json!("traffic");
        let config = validate(&declared, &budgets()).unwrap();
        let feature = |key: &str| {
            config
                .services
                .feature(&FeatureKey::parse(key).unwrap())
                .unwrap()
                .expect
        };
        assert_eq!(feature("my-app:admin:nightly"), Some(Expect::Every(86_400_000)));
        assert_eq!(feature("my-app:admin:export"), Some(Expect::Traffic));
        assert_eq!(feature("my-app:scanner:ocr"), None);
        // Undeclared, nothing changes in the recorded document (nor in its version).
        let plain = validate(&services(), &budgets()).unwrap();
        assert!(!serde_json::to_string(&plain).unwrap().contains("expect"));

        declared["projects"]["my-app"]["features"]["admin"]["nightly"] = json!({"expect": "every 30d"});
        let found = problems(&declared, &budgets());
        assert_reported(
            &found,
            ConfigFile::Services,
            "projects.my-app.features.admin.nightly.expect",
            "1 minute to 7 days",
        );
        declared["projects"]["my-app"]["features"]["admin"]["nightly"] = json!({"expect": "sometimes"});
        let found = problems(&declared, &budgets());
        assert_reported(
            &found,
            ConfigFile::Services,
            "projects.my-app.features.admin.nightly.expect",
            "is not `traffic`",
        );
    }

    #[test]
    fn unguarded_features_get_no_budget_and_overrides_merge() {
        let config = validate(&services(), &budgets()).unwrap();
        let budgets: BTreeMap<String, PeriodLimits> = config
            .feature_budgets()
            .map(|(key, limits)| (key.to_string(), limits))
            .collect();
        assert_eq!(
            budgets.keys().collect::<Vec<_>>(),
            ["my-app:scanner:ocr", "my-app:scanner:thumbnails"]
        );
        let ocr = &budgets["my-app:scanner:ocr"];
        assert_eq!(ocr.daily.get(Metric::D1Writes), Some(200_000));
        assert_eq!(
            ocr.daily.get(Metric::KvReads),
            Some(50_000),
            "kept from the defaults"
        );
        assert_eq!(ocr.daily.get(Metric::AiNeurons), Some(10));
        assert_eq!(ocr.monthly.get(Metric::D1Writes), Some(2_000_000));
    }

    #[test]
    fn settings_rows_are_what_budgets_yaml_states() {
        let config = validate(&services(), &budgets()).unwrap();
        let rows = config.settings_rows();
        assert_eq!(
            rows,
            BTreeMap::from([
                ("budget_soft_limit", "40".to_owned()),
                ("budget_warning_thresholds", "70,90".to_owned()),
                ("cb_cooldown_seconds", "600".to_owned()),
                ("cb_max_consecutive_trips", "3".to_owned()),
            ])
        );
        let resolved = Settings::resolve(rows.iter().map(|(k, v)| (*k, v.as_str())));
        assert!(resolved.problems.is_empty(), "{:?}", resolved.problems);

        let bare = validate(&services(), &json!({})).unwrap();
        assert!(bare.settings_rows().is_empty());
        assert_eq!(bare.cost_thresholds(), CostAlertThresholds::default());
        let thresholds = config.cost_thresholds();
        assert_eq!(thresholds.thresholds[&CostService::D1].critical_pct, 95);
    }

    #[test]
    fn resources_belong_to_one_project_and_are_kept_in_the_document() {
        let services = json!({ "projects": {
            "shop": { "repository": "acme/shop", "scripts": ["shop-api"], "resources": ["ns-1", "eu_media"] },
            "blog": { "repository": "acme/blog", "resources": ["ns-1", "has space", ""] },
        } });
        let found = problems(&services, &json!({}));
        let paths: Vec<&str> = found.iter().map(|(_, path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "projects.blog.resources[1]",
                "projects.blog.resources[2]",
                "projects.shop.resources[0]"
            ],
            "{found:?}"
        );
        assert!(
            found[2]
                .2
                .contains("resource \"ns-1\" is claimed by two projects"),
            "{found:?}"
        );
        let config = validate(
            &json!({ "projects": { "shop": { "repository": "acme/shop", "resources": ["eu_media"] } } }),
            &json!({}),
        )
        .unwrap();
        let shop = &config.services.projects[&ProjectId::parse("shop").unwrap()];
        assert!(shop.resources.contains("eu_media"));
        let without = validate(
            &json!({ "projects": { "shop": { "repository": "acme/shop" } } }),
            &json!({}),
        )
        .unwrap();
        let document = serde_json::to_string(&without).unwrap();
        assert!(
            !document.contains("resources"),
            "an empty list leaves the version unchanged"
        );
    }

    #[test]
    fn every_problem_is_reported_with_file_path_and_reason() {
        let services = json!({
            "projects": {
                "my-app": {
                    "repository": "acme",
                    "tier": 5,
                    "scripts": ["shared-worker", "Bad Name"],
                    "features": {"scan:ner": {"ocr": {}}, "api": {"main": {"cost_tier": "huge", "colour": "red"}}},
                },
                "other": {"repository": "acme/other", "scripts": ["shared-worker"]},
                "bad:slug": {"repository": "acme/x"},
            }
        });
        let budgets = json!({
            "defaults": {
                "daily": {"d1_write": 5, "kv_reads": -1, "kv_writes": 1.5, "requests": "lots"},
                "warning_thresholds": [90, 70],
                "circuit_breaker": {"auto_reset_seconds": 3600},
            },
            "projects": {"ghost": {"daily": {"d1_writes": 1}}},
            "features": {
                "my-app:api": {"daily": {"d1_writes": 1}},
                "ghost:api:main": {"daily": {"d1_writes": 1}},
                "my-app:api:missing": {},
            },
            "alerts": {"soft_limit_usd": -3},
            "cost_thresholds": {"d1": {"warning_pct": 90}, "email": {}},
            "account": {"daily": {"kv_writes": 5, "cost_usd": 2}},
            "pricing": {"plan": "enterprise", "billing_day": 31, "prices": {"kv.write": {"usd": 1}, "kv.reads": {"per": 0}},
                        "daily_limits": {"kv.writes": -1}},
            "extra": true,
        });
        let found = problems(&services, &budgets);
        use ConfigFile::{Budgets as B, Services as S};
        let expected = [
            (S, "projects.my-app.repository", "is not owner/repo"),
            (S, "projects.my-app.tier", "5 is out of range"),
            (S, "projects.my-app.scripts[1]", "is not a Worker script name"),
            (
                S,
                "projects.other.scripts[0]",
                "claimed by two projects: my-app and other",
            ),
            (
                S,
                "projects.my-app.features[\"scan:ner\"].ocr",
                "malformed feature key",
            ),
            (
                S,
                "projects.my-app.features.api.main.cost_tier",
                "unknown cost tier \"huge\"",
            ),
            (S, "projects.my-app.features.api.main.colour", "unknown field"),
            (S, "projects[\"bad:slug\"]", "may not contain ':'"),
            (B, "defaults.daily.d1_write", "unknown metric \"d1_write\""),
            (B, "defaults.daily.kv_reads", "-1 is negative"),
            (B, "defaults.daily.kv_writes", "1.5 is not a whole number"),
            (B, "defaults.daily.requests", "\"lots\" is not a number"),
            (B, "defaults.warning_thresholds", "ascending order"),
            (B, "defaults.circuit_breaker.auto_reset_seconds", "next UTC day"),
            (B, "projects.ghost", "unknown project"),
            (B, "features[\"my-app:api\"]", "malformed feature key"),
            (B, "features[\"ghost:api:main\"]", "feature of an unknown project"),
            (B, "features[\"my-app:api:missing\"]", "unknown feature"),
            (B, "alerts.soft_limit_usd", "-3 is not an amount of 0 or more"),
            (
                B,
                "cost_thresholds.d1",
                "thresholds out of order: warning_pct (90) must be below high_pct (60)",
            ),
            (B, "cost_thresholds.email", "unknown service \"email\""),
            (B, "account.daily.kv_writes", "only cost_usd applies"),
            (B, "pricing.plan", "unknown plan \"enterprise\""),
            (B, "pricing.billing_day", "31 is out of range"),
            (
                B,
                "pricing.prices[\"kv.write\"]",
                "unknown account metric \"kv.write\"",
            ),
            (B, "pricing.prices[\"kv.reads\"].per", "not per 0"),
            (B, "pricing.daily_limits[\"kv.writes\"]", "-1 is not an amount"),
            (B, "extra", "unknown field"),
        ];
        for (file, path, reason) in expected {
            assert_reported(&found, file, path, reason);
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    #[test]
    fn refuses_slugs_equal_but_for_case_names_too_long_and_limits_out_of_range() {
        let long = "f".repeat(300);
        let services = json!({"projects": {
            "casey": {"repository": "acme/casey"},
            "CASEY": {"repository": "acme/casey2"},
            "shop": {"repository": "acme/shop", "features": {"api": {long.as_str(): {}}}},
        }});
        let budgets = json!({"defaults": {"daily": {"d1_writes": 1e30, "kv_reads": 18446744073709551616_f64,
            "kv_writes": "1_000_000_000_000_001"}, "monthly": {"d1_writes": 1_000_000_000_000_000_u64}}});
        let found = problems(&services, &budgets);
        use ConfigFile::{Budgets as B, Services as S};
        let expected = [
            (
                S,
                "projects.casey",
                "is \"CASEY\" in another case: both would share PROJECT:CASEY:STATUS",
            ),
            (
                S,
                &format!("projects.shop.features.api.{long}"),
                "at most 256 are allowed",
            ),
            (B, "defaults.daily.d1_writes", "more than the largest limit"),
            (B, "defaults.daily.kv_reads", "more than the largest limit"),
            (B, "defaults.daily.kv_writes", "more than the largest limit"),
        ];
        for (file, path, reason) in expected {
            assert_reported(&found, file, path, reason);
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    #[test]
    fn guarded_features_only_take_overrides() {
        let found = problems(
            &services(),
            &json!({"features": {"my-app:admin:export": {"daily": {"d1_writes": 1}}}}),
        );
        assert_reported(
            &found,
            ConfigFile::Budgets,
            "features[\"my-app:admin:export\"]",
            "circuit_breaker: false",
        );
    }

    #[test]
    fn an_empty_or_misshapen_file_is_a_problem() {
        assert_reported(
            &problems(&Value::Null, &json!({})),
            ConfigFile::Services,
            "",
            "empty",
        );
        assert_reported(
            &problems(&json!({}), &json!({})),
            ConfigFile::Services,
            "",
            "missing `projects`",
        );
        assert_reported(
            &problems(&json!({"projects": []}), &json!([])),
            ConfigFile::Budgets,
            "",
            "expected a mapping, found a list",
        );
        assert!(validate(&json!({"projects": {}}), &Value::Null).is_ok());
    }

    #[test]
    fn the_version_is_the_hash_of_the_normalised_document() {
        let config = validate(&services(), &budgets()).unwrap();
        let version = config.version();
        assert_eq!(version.len(), 16);
        assert!(version.chars().all(|c| c.is_ascii_hexdigit()));

        // The same config spelt differently: other key order, numbers without separators, defaults written out.
        let mut respelt = budgets();
        respelt["defaults"]["daily"] = json!({"kv_reads": "50_000", "d1_writes": 100000});
        let mut services = services();
        services["projects"]["my-app"]["features"]["scanner"]["thumbnails"] =
            json!({"circuit_breaker": true, "cost_tier": "medium", "display_name": "thumbnails"});
        services["projects"]["my-app"]["scripts"] = json!(["my-app-cron", "my-app-api"]);
        assert_eq!(validate(&services, &respelt).unwrap().version(), version);

        respelt["defaults"]["daily"]["kv_reads"] = json!(50_001);
        assert_ne!(validate(&services, &respelt).unwrap().version(), version);
        // Stable across builds: the hash of this exact document.
        assert_eq!(Config::default().version(), Config::default().version());
    }
}
