//! The state a config derives, the plan that brings the platform to it, and the runs that carry
//! the plan out. No runtime here: KV is behind [`platform_kv::Kv`] and D1 rows are plain values
//! (the table rows of [`platform_db::config`]),
//! so all of it is unit-tested natively.
//!
//! The record of truth for what sync-config has written is its D1 table of written keys with
//! each value's digest. A plan is the desired state against that record: puts for keys missing or
//! different, deletes for keys no longer derived, the rest unchanged. A run carries out at most
//! [`KV_OPS_PER_RUN`] KV operations and reports what it did, which the caller adds to the record,
//! so the next run's plan is what is left: an apply resumes wherever it stopped. Every key is
//! written with its digest in its metadata, so drift (a key deleted by hand, or rewritten without
//! that metadata) shows in a list, without reading values.

use std::collections::BTreeMap;

use platform_core::budgets::BudgetsDocument;
use platform_core::config::Config;
use platform_core::services::ScriptMapping;
use platform_core::settings::SETTINGS;
use platform_core::thresholds::CostAlertThresholds;
use platform_core::MetricLimits;
use platform_db::config::{CurrentRows, FeatureRow, ProjectRow, RowWrites, SettingRow, Writes};
use platform_kv::families::{
    AlertThresholds, BudgetsConfig, FeatureBudget, FeatureBudgetMonthly, ScriptMap, SettingValue, SettingsAll,
};
use platform_kv::{Clock, Family, Json, Key, KeyError, KeyPrefix, Kv, KvValue, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// KV operations one run makes at most. A Workers invocation may make 1,000; the rest is headroom
/// for the lists of a drift check and for the settings cache invalidation.
pub const KV_OPS_PER_RUN: u32 = 900;
const _: () = assert!(
    KV_OPS_PER_RUN < 1000,
    "a Workers invocation may make 1,000 KV operations"
);

/// The metadata field holding the digest of the value a key was written with.
pub const DIGEST_FIELD: &str = "digest";

/// The first 16 hex digits of the SHA-256 of a value as written.
pub fn digest(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// One derived key with its typed value.
enum Item {
    Budgets(Key<BudgetsConfig>, Json<BudgetsDocument>),
    Daily(Key<FeatureBudget>, Json<MetricLimits>),
    Monthly(Key<FeatureBudgetMonthly>, Json<MetricLimits>),
    Script(Key<ScriptMap>, Json<ScriptMapping>),
    Thresholds(Key<AlertThresholds>, Json<CostAlertThresholds>),
}

/// A derived key's value as written, and its digest.
pub struct Entry {
    pub value: String,
    pub digest: String,
    item: Item,
}

/// Why the derived state could not be made (a key too long for KV, a value that does not encode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeriveError(pub String);

impl std::fmt::Display for DeriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<KeyError> for DeriveError {
    fn from(error: KeyError) -> Self {
        Self(error.to_string())
    }
}

/// Every KV key a config derives, by key.
pub struct Desired {
    entries: BTreeMap<String, Entry>,
}

impl Desired {
    /// `CONFIG:BUDGETS`, each guarded feature's `:BUDGET` and `:BUDGET_MONTHLY` (when its
    /// effective limits for the period are not empty), `SCRIPT_MAP:{script}` for every script, and
    /// `alert-thresholds:config`.
    pub fn of(config: &Config) -> Result<Self, DeriveError> {
        let mut desired = Self {
            entries: BTreeMap::new(),
        };
        desired.add(BudgetsConfig::key()?, Json(config.budgets.clone()), Item::Budgets)?;
        for (feature, limits) in config.feature_budgets() {
            if !limits.daily.is_empty() {
                desired.add(FeatureBudget::key(feature)?, Json(limits.daily), Item::Daily)?;
            }
            if !limits.monthly.is_empty() {
                desired.add(
                    FeatureBudgetMonthly::key(feature)?,
                    Json(limits.monthly),
                    Item::Monthly,
                )?;
            }
        }
        for (script, mapping) in config.services.script_mappings() {
            desired.add(ScriptMap::key(script)?, Json(mapping), Item::Script)?;
        }
        desired.add(
            AlertThresholds::key()?,
            Json(config.cost_thresholds()),
            Item::Thresholds,
        )?;
        Ok(desired)
    }

    fn add<F: Family>(
        &mut self,
        key: Key<F>,
        value: F::Value,
        item: fn(Key<F>, F::Value) -> Item,
    ) -> Result<(), DeriveError> {
        let encoded = value
            .encode()
            .map_err(|error| DeriveError(format!("value of {key}: {error}")))?;
        self.entries.insert(
            key.to_string(),
            Entry {
                digest: digest(&encoded),
                value: encoded,
                item: item(key, value),
            },
        );
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Whether a put adds a key or changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Change,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Put {
    pub key: String,
    pub action: Action,
    /// The value as it will be written.
    pub value: String,
    pub digest: String,
}

/// The KV part of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvPlan {
    pub put: Vec<Put>,
    pub delete: Vec<String>,
    pub unchanged: Vec<String>,
}

impl KvPlan {
    /// `desired` against `written` (key → digest of what sync-config wrote).
    pub fn new(desired: &Desired, written: &BTreeMap<String, String>) -> Self {
        let mut plan = Self::default();
        for (key, entry) in &desired.entries {
            match written.get(key) {
                Some(digest) if *digest == entry.digest => plan.unchanged.push(key.clone()),
                found => plan.put.push(Put {
                    key: key.clone(),
                    action: if found.is_some() {
                        Action::Change
                    } else {
                        Action::Add
                    },
                    value: entry.value.clone(),
                    digest: entry.digest.clone(),
                }),
            }
        }
        plan.delete = written
            .keys()
            .filter(|key| !desired.entries.contains_key(*key))
            .cloned()
            .collect();
        plan
    }

    /// KV writes and deletes the plan makes.
    pub fn operations(&self) -> usize {
        self.put.len() + self.delete.len()
    }
}

/// An operation that failed; its key stays as it was in the record and the next run retries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub key: String,
    pub error: String,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Keys written, with the digest written.
    pub written: Vec<(String, String)>,
    pub deleted: Vec<String>,
    pub failed: Vec<Failure>,
    /// KV operations made, failed ones included.
    pub kv_ops: u32,
    /// Operations of the plan left for a later run.
    pub remaining: usize,
}

/// Carries out `plan` (puts in key order, then deletes) until `budget` KV operations are made.
pub async fn run<K: Kv, C: Clock>(
    store: &Store<K, C>,
    desired: &Desired,
    plan: &KvPlan,
    budget: u32,
) -> RunReport {
    let mut report = RunReport::default();
    let operations = plan
        .put
        .iter()
        .map(|put| (put.key.as_str(), true))
        .chain(plan.delete.iter().map(|key| (key.as_str(), false)));
    for (done, (key, is_put)) in operations.enumerate() {
        if report.kv_ops >= budget {
            report.remaining = plan.operations() - done;
            break;
        }
        report.kv_ops += 1;
        let result = if is_put {
            // A plan's puts are made from the same desired state.
            let Some(entry) = desired.get(key) else {
                continue;
            };
            put(store, entry)
                .await
                .map(|()| report.written.push((key.to_owned(), entry.digest.clone())))
        } else {
            delete(store, key)
                .await
                .map(|()| report.deleted.push(key.to_owned()))
        };
        if let Err(error) = result {
            report.failed.push(Failure {
                key: key.to_owned(),
                error: error.to_string(),
            });
        }
    }
    report
}

async fn put<K: Kv, C: Clock>(store: &Store<K, C>, entry: &Entry) -> Result<(), StoreError> {
    let mut metadata = Map::new();
    metadata.insert(DIGEST_FIELD.into(), json!(entry.digest));
    let metadata = Some(metadata);
    match &entry.item {
        Item::Budgets(key, value) => store.put_with(key, value, None, metadata).await,
        Item::Daily(key, value) => store.put_with(key, value, None, metadata).await,
        Item::Monthly(key, value) => store.put_with(key, value, None, metadata).await,
        Item::Script(key, value) => store.put_with(key, value, None, metadata).await,
        Item::Thresholds(key, value) => store.put_with(key, value, None, metadata).await,
    }
}

/// Deletes a key sync-config wrote, whichever of its families it belongs to.
async fn delete<K: Kv, C: Clock>(store: &Store<K, C>, raw: &str) -> Result<(), StoreError> {
    if let Ok(key) = Key::<FeatureBudget>::parse(raw) {
        return store.delete(&key).await;
    }
    if let Ok(key) = Key::<FeatureBudgetMonthly>::parse(raw) {
        return store.delete(&key).await;
    }
    if let Ok(key) = Key::<ScriptMap>::parse(raw) {
        return store.delete(&key).await;
    }
    if let Ok(key) = Key::<BudgetsConfig>::parse(raw) {
        return store.delete(&key).await;
    }
    let key = Key::<AlertThresholds>::parse(raw)?;
    store.delete(&key).await
}

/// Deletes the settings cache (`CONFIG:SETTINGS:ALL` and each `CONFIG:SETTINGS:{key}`), after
/// the settings rows changed, so that every worker reads the new rows. Returns the KV operations
/// made and the deletes that failed.
pub async fn invalidate_settings_cache<K: Kv, C: Clock>(store: &Store<K, C>) -> (u32, Vec<Failure>) {
    let mut ops = 0;
    let mut failed = Vec::new();
    let mut note = |key: String, result: Result<(), StoreError>| {
        ops += 1;
        if let Err(error) = result {
            failed.push(Failure {
                key,
                error: error.to_string(),
            });
        }
    };
    match SettingsAll::key() {
        Ok(key) => note(key.to_string(), store.delete(&key).await),
        Err(error) => note("CONFIG:SETTINGS:ALL".into(), Err(error.into())),
    }
    for spec in SETTINGS {
        match SettingValue::key(spec.key) {
            Ok(key) => note(key.to_string(), store.delete(&key).await),
            Err(error) => note(spec.key.into(), Err(error.into())),
        }
    }
    (ops, failed)
}

/// A written key whose KV entry is not what sync-config wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub key: String,
    /// `missing` (deleted or expired) or `changed` (rewritten without sync-config's digest).
    pub reason: String,
}

/// The written keys (key → digest) whose KV entries are missing or carry another digest, found by
/// listing the families sync-config writes: one list operation per 1,000 keys, no value reads.
/// Returns the drift and the list operations made.
pub async fn drift<K: Kv, C: Clock>(
    store: &Store<K, C>,
    written: &BTreeMap<String, String>,
) -> Result<(Vec<Drift>, u32), StoreError> {
    let mut prefixes = vec![
        KeyPrefix::<BudgetsConfig>::all().as_str().to_owned(),
        KeyPrefix::<FeatureBudget>::all().as_str().to_owned(),
        KeyPrefix::<FeatureBudgetMonthly>::all().as_str().to_owned(),
        KeyPrefix::<ScriptMap>::all().as_str().to_owned(),
        KeyPrefix::<AlertThresholds>::all().as_str().to_owned(),
    ];
    prefixes.sort();
    prefixes.dedup();
    let mut found: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut lists = 0;
    for prefix in &prefixes {
        let mut cursor: Option<String> = None;
        loop {
            let page = store.kv().list(prefix, cursor.as_deref(), None).await?;
            lists += 1;
            for listed in page.keys {
                let digest = listed
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get(DIGEST_FIELD))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                found.insert(listed.name, digest);
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let drift = written
        .iter()
        .filter_map(|(key, digest)| {
            let reason = match found.get(key) {
                None => "missing",
                Some(Some(listed)) if listed == digest => return None,
                Some(_) => "changed",
            };
            Some(Drift {
                key: key.clone(),
                reason: reason.into(),
            })
        })
        .collect();
    Ok((drift, lists))
}

/// Rows of a D1 table: the rows a config derives against the rows there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDiff<R> {
    /// Rows to insert or replace.
    pub upsert: Vec<R>,
    /// Keys of rows to delete.
    pub delete: Vec<String>,
    pub unchanged: usize,
}

impl<R> Default for RowDiff<R> {
    fn default() -> Self {
        Self {
            upsert: Vec::new(),
            delete: Vec::new(),
            unchanged: 0,
        }
    }
}

impl<R: Clone + PartialEq> RowDiff<R> {
    pub fn new(desired: &BTreeMap<String, R>, current: &BTreeMap<String, R>) -> Self {
        let mut diff = Self::default();
        for (key, row) in desired {
            if current.get(key) == Some(row) {
                diff.unchanged += 1;
            } else {
                diff.upsert.push(row.clone());
            }
        }
        diff.delete = current
            .keys()
            .filter(|key| !desired.contains_key(*key))
            .cloned()
            .collect();
        diff
    }

    pub fn changes(&self) -> usize {
        self.upsert.len() + self.delete.len()
    }

    /// The writes that carry the diff out.
    pub fn writes(&self) -> RowWrites<'_, R> {
        RowWrites {
            upsert: &self.upsert,
            delete: &self.delete,
        }
    }
}

/// The D1 rows a config derives, by key.
pub struct DesiredRows {
    pub settings: BTreeMap<String, SettingRow>,
    pub projects: BTreeMap<String, ProjectRow>,
    pub features: BTreeMap<String, FeatureRow>,
}

impl DesiredRows {
    pub fn of(config: &Config) -> Self {
        let settings = config
            .settings_rows()
            .into_iter()
            .map(|(key, value)| {
                (
                    key.to_owned(),
                    SettingRow {
                        key: key.to_owned(),
                        value,
                    },
                )
            })
            .collect();
        let projects = config
            .services
            .projects
            .iter()
            .map(|(id, project)| {
                let scripts: Vec<&String> = project.scripts.iter().collect();
                (
                    id.to_string(),
                    ProjectRow {
                        project_id: id.to_string(),
                        display_name: project.display_name.clone(),
                        repository: project.repository.to_string(),
                        tier: project.tier,
                        scripts: serde_json::to_string(&scripts).unwrap_or_default(),
                    },
                )
            })
            .collect();
        let features = config
            .services
            .features()
            .map(|(project, key, feature)| {
                (
                    key.to_string(),
                    FeatureRow {
                        feature_key: key.to_string(),
                        project_id: project.to_string(),
                        category: key.category().to_owned(),
                        feature: key.feature().to_owned(),
                        display_name: feature.display_name.clone(),
                        circuit_breaker: feature.circuit_breaker,
                        cost_tier: feature.cost_tier,
                    },
                )
            })
            .collect();
        Self {
            settings,
            projects,
            features,
        }
    }
}

/// The D1 part of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct D1Plan {
    pub settings: RowDiff<SettingRow>,
    pub projects: RowDiff<ProjectRow>,
    pub features: RowDiff<FeatureRow>,
}

impl D1Plan {
    pub fn new(desired: &DesiredRows, current: &CurrentRows) -> Self {
        Self {
            settings: RowDiff::new(&desired.settings, &current.settings),
            projects: RowDiff::new(&desired.projects, &current.projects),
            features: RowDiff::new(&desired.features, &current.features),
        }
    }

    pub fn changes(&self) -> usize {
        self.settings.changes() + self.projects.changes() + self.features.changes()
    }

    /// The writes that carry the plan out.
    pub fn writes(&self) -> Writes<'_> {
        Writes {
            settings: self.settings.writes(),
            projects: self.projects.writes(),
            features: self.features.writes(),
        }
    }
}

/// The complete plan: KV and D1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub kv: KvPlan,
    pub d1: D1Plan,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.kv.operations() == 0 && self.d1.changes() == 0
    }
}

#[cfg(test)]
mod tests {
    use platform_core::config::validate;
    use platform_kv::{block_on, ManualClock, MemoryKv, Metered, PlatformWorker, PutOptions};
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_772_460_306_789;

    fn config(features: &[&str], budgets: Value) -> Config {
        let mut scanner = Map::new();
        for feature in features {
            scanner.insert((*feature).to_owned(), Value::Null);
        }
        let services = json!({"projects": {"app": {
            "repository": "acme/app",
            "scripts": ["app-api"],
            "features": {"scanner": scanner, "admin": {"export": {"circuit_breaker": false}}},
        }}});
        validate(&services, &budgets).unwrap()
    }

    fn budgets() -> Value {
        json!({"defaults": {"daily": {"d1_writes": 1000, "kv_reads": 50}, "monthly": {"d1_writes": 20000}},
               "features": {"app:scanner:ocr": {"daily": {"d1_writes": 5000}}}})
    }

    struct Platform {
        clock: ManualClock,
        kv: MemoryKv,
        store: Store<Metered<MemoryKv>, ManualClock>,
        /// sync-config's record of written keys (the D1 table, here a map).
        written: BTreeMap<String, String>,
    }

    impl Platform {
        fn new() -> Self {
            let clock = ManualClock::at(NOW);
            let kv = MemoryKv::new(clock.clone());
            let store = Store::new(
                Metered::new(kv.clone()),
                PlatformWorker::SyncConfig,
                clock.clone(),
            );
            Self {
                clock,
                kv,
                store,
                written: BTreeMap::new(),
            }
        }

        fn plan(&self, config: &Config) -> (Desired, KvPlan) {
            let desired = Desired::of(config).unwrap();
            let plan = KvPlan::new(&desired, &self.written);
            (desired, plan)
        }

        /// One run, recorded as the worker records it; the clock moves a second, as between
        /// invocations.
        fn run(&mut self, config: &Config) -> RunReport {
            let (desired, plan) = self.plan(config);
            let report = block_on(run(&self.store, &desired, &plan, KV_OPS_PER_RUN));
            self.written.extend(report.written.iter().cloned());
            for key in &report.deleted {
                self.written.remove(key);
            }
            self.clock.advance_secs(1);
            report
        }

        fn keys(&self) -> Vec<String> {
            self.kv.snapshot().into_iter().map(|(key, _)| key).collect()
        }

        fn value(&self, key: &str) -> Option<String> {
            block_on(self.kv.get(key)).unwrap()
        }
    }

    #[test]
    fn a_plan_against_nothing_puts_every_derived_key() {
        let platform = Platform::new();
        let (desired, plan) = platform.plan(&config(&["ocr", "thumbs"], budgets()));
        let keys: Vec<&str> = plan.put.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "CONFIG:BUDGETS",
                "CONFIG:FEATURE:app:scanner:ocr:BUDGET",
                "CONFIG:FEATURE:app:scanner:ocr:BUDGET_MONTHLY",
                "CONFIG:FEATURE:app:scanner:thumbs:BUDGET",
                "CONFIG:FEATURE:app:scanner:thumbs:BUDGET_MONTHLY",
                "SCRIPT_MAP:app-api",
                "alert-thresholds:config",
            ],
            "no budget keys for the unguarded app:admin:export"
        );
        assert!(plan.put.iter().all(|p| p.action == Action::Add));
        assert!(plan.delete.is_empty() && plan.unchanged.is_empty());
        assert_eq!(desired.len(), 7);
        let ocr = desired.get("CONFIG:FEATURE:app:scanner:ocr:BUDGET").unwrap();
        assert_eq!(
            ocr.value, r#"{"d1_writes":5000,"kv_reads":50}"#,
            "merged over the defaults"
        );
        assert_eq!(
            desired.get("SCRIPT_MAP:app-api").unwrap().value,
            r#"{"project":"app","repository":"acme/app","tier":2,"displayName":"app"}"#
        );
    }

    #[test]
    fn applying_twice_writes_nothing_the_second_time() {
        let mut platform = Platform::new();
        let config = config(&["ocr"], budgets());
        let first = platform.run(&config);
        assert_eq!((first.written.len(), first.remaining), (5, 0));
        assert!(first.failed.is_empty(), "{:?}", first.failed);
        let stamped = block_on(platform.kv.get_with_metadata("SCRIPT_MAP:app-api"))
            .unwrap()
            .unwrap();
        let metadata = stamped.metadata.unwrap();
        assert_eq!(metadata["writer"], "platform-sync-config");
        assert_eq!(metadata[DIGEST_FIELD], json!(digest(&stamped.value)));

        let before = platform.store.kv().counts();
        let (_, plan) = platform.plan(&config);
        assert_eq!((plan.operations(), plan.unchanged.len()), (0, 5));
        let second = platform.run(&config);
        assert_eq!(second, RunReport::default());
        assert_eq!(platform.store.kv().counts(), before, "no KV operation at all");
    }

    #[test]
    fn a_removed_feature_loses_its_keys_and_a_change_is_a_change() {
        let mut platform = Platform::new();
        platform.run(&config(&["ocr", "thumbs"], budgets()));
        let mut smaller = budgets();
        smaller["defaults"]["daily"]["kv_reads"] = json!(60);
        let smaller = config(&["ocr"], smaller);
        let (_, plan) = platform.plan(&smaller);
        assert_eq!(
            plan.delete,
            [
                "CONFIG:FEATURE:app:scanner:thumbs:BUDGET",
                "CONFIG:FEATURE:app:scanner:thumbs:BUDGET_MONTHLY"
            ]
        );
        let changed: Vec<(&str, Action)> = plan.put.iter().map(|p| (p.key.as_str(), p.action)).collect();
        assert_eq!(
            changed,
            [
                ("CONFIG:BUDGETS", Action::Change),
                ("CONFIG:FEATURE:app:scanner:ocr:BUDGET", Action::Change)
            ]
        );
        platform.run(&smaller);
        assert!(
            !platform.keys().iter().any(|k| k.contains("thumbs")),
            "{:?}",
            platform.keys()
        );
        assert_eq!(
            platform.value("CONFIG:FEATURE:app:scanner:ocr:BUDGET").unwrap(),
            r#"{"d1_writes":5000,"kv_reads":60}"#
        );
        assert_eq!(platform.written.len(), 5);
    }

    #[test]
    fn drift_is_found_by_listing_and_repaired_by_the_next_run() {
        let mut platform = Platform::new();
        let config = config(&["ocr", "thumbs"], budgets());
        platform.run(&config);
        let (drift_now, _) = block_on(drift(&platform.store, &platform.written)).unwrap();
        assert!(drift_now.is_empty(), "{drift_now:?}");

        let deleted = "CONFIG:FEATURE:app:scanner:thumbs:BUDGET";
        block_on(platform.kv.delete(deleted)).unwrap();
        let edited = "SCRIPT_MAP:app-api";
        block_on(
            platform
                .kv
                .put(edited, r#"{"project":"other"}"#, &PutOptions::default()),
        )
        .unwrap();
        // A key of the family sync-config did not write is left alone.
        block_on(
            platform
                .kv
                .put("SCRIPT_MAP:learned", "{}", &PutOptions::default()),
        )
        .unwrap();

        let before = platform.store.kv().counts();
        let (found, lists) = block_on(drift(&platform.store, &platform.written)).unwrap();
        assert_eq!(
            found,
            [
                Drift {
                    key: deleted.into(),
                    reason: "missing".into()
                },
                Drift {
                    key: edited.into(),
                    reason: "changed".into()
                },
            ]
        );
        let counts = platform.store.kv().counts();
        assert_eq!(
            (counts.reads - before.reads, counts.lists - before.lists),
            (0, lists)
        );

        for drift in &found {
            platform.written.remove(&drift.key);
        }
        platform.clock.advance_secs(1);
        let repair = platform.run(&config);
        assert_eq!(repair.written.len(), 2);
        assert!(platform.value(deleted).is_some());
        assert!(platform.value(edited).unwrap().contains("acme/app"));
        assert!(block_on(drift(&platform.store, &platform.written))
            .unwrap()
            .0
            .is_empty());
    }

    #[test]
    fn two_thousand_features_apply_across_runs_within_the_operation_limit() {
        let names: Vec<String> = (0..2000).map(|i| format!("f{i:04}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let config = config(
            &names,
            json!({"defaults": {"daily": {"d1_writes": 10}, "monthly": {"d1_writes": 300}}}),
        );
        let mut platform = Platform::new();
        let (_, plan) = platform.plan(&config);
        assert_eq!(plan.operations(), 4003);

        let mut runs = 0;
        loop {
            let before = platform.store.kv().counts();
            let report = platform.run(&config);
            let after = platform.store.kv().counts();
            let ops = (after.reads + after.writes + after.deletes + after.lists)
                - (before.reads + before.writes + before.deletes + before.lists);
            assert!(ops < 1000, "run {runs} made {ops} KV operations");
            assert!(report.failed.is_empty());
            runs += 1;
            if report.remaining == 0 {
                break;
            }
        }
        assert_eq!(runs, 5);
        assert_eq!(platform.keys().len(), 4003);
        assert_eq!(platform.plan(&config).1.operations(), 0);
    }

    #[test]
    fn a_failed_write_stays_in_the_plan() {
        let mut platform = Platform::new();
        let config = config(&["ocr"], budgets());
        // KV refuses a second write to a key within a second: written by someone else just now.
        block_on(platform.kv.put("CONFIG:BUDGETS", "{}", &PutOptions::default())).unwrap();
        let (desired, plan) = platform.plan(&config);
        let report = block_on(run(&platform.store, &desired, &plan, KV_OPS_PER_RUN));
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].key, "CONFIG:BUDGETS");
        assert!(report.failed[0].error.contains("429"), "{:?}", report.failed);
        platform.written.extend(report.written);
        platform.clock.advance_secs(1);
        let (_, retry) = platform.plan(&config);
        assert_eq!(retry.put.len(), 1);
        assert_eq!(retry.put[0].key, "CONFIG:BUDGETS");
    }

    #[test]
    fn settings_cache_invalidation_deletes_every_settings_key() {
        let platform = Platform::new();
        let usage = Store::new(
            platform.kv.clone(),
            PlatformWorker::PlatformUsage,
            platform.clock.clone(),
        );
        block_on(usage.put(
            &SettingValue::key("cb_cooldown_seconds").unwrap(),
            &"300".to_owned(),
        ))
        .unwrap();
        block_on(
            usage
                .kv()
                .put("CONFIG:SETTINGS:ALL", "{}", &PutOptions::default()),
        )
        .unwrap();
        platform.clock.advance_secs(1);
        let (ops, failed) = block_on(invalidate_settings_cache(&platform.store));
        assert_eq!(ops as usize, 1 + SETTINGS.len());
        assert!(failed.is_empty());
        assert!(platform.keys().is_empty(), "{:?}", platform.keys());
    }

    #[test]
    fn rows_diff_against_what_d1_holds() {
        let config = config(&["ocr"], json!({"defaults": {"warning_thresholds": [50, 80]}}));
        let desired = DesiredRows::of(&config);
        let empty = D1Plan::new(&desired, &CurrentRows::default());
        assert_eq!(
            empty.settings.upsert,
            [SettingRow {
                key: "budget_warning_thresholds".into(),
                value: "50,80".into()
            }]
        );
        assert_eq!(empty.projects.upsert[0].scripts, r#"["app-api"]"#);
        assert_eq!(empty.features.upsert.len(), 2);
        assert_eq!(
            empty
                .features
                .upsert
                .iter()
                .filter(|f| !f.circuit_breaker)
                .count(),
            1
        );

        let mut current = CurrentRows {
            settings: desired.settings.clone(),
            projects: desired.projects.clone(),
            features: desired.features.clone(),
            skipped: Vec::new(),
        };
        assert_eq!(D1Plan::new(&desired, &current).changes(), 0);
        current.settings.insert(
            "cb_cooldown_seconds".into(),
            SettingRow {
                key: "cb_cooldown_seconds".into(),
                value: "60".into(),
            },
        );
        if let Some(row) = current.features.get_mut("app:scanner:ocr") {
            row.cost_tier = platform_core::services::CostTier::High;
        }
        let plan = D1Plan::new(&desired, &current);
        assert_eq!(plan.settings.delete, ["cb_cooldown_seconds"]);
        assert_eq!(plan.features.upsert.len(), 1);
        assert_eq!((plan.changes(), plan.features.unchanged), (2, 1));
    }
}
