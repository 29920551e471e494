//! What every batch and request needs, cached in the isolate for a few tens of seconds: KV itself
//! lags about 60 s behind a write, so a shorter cache adds no staleness that matters while it saves
//! a read per feature per batch.

use std::collections::BTreeMap;

use platform_core::budgets::BudgetsDocument;
use platform_core::settings::Resolved;
use platform_core::{EpochMs, FeatureKey};
use platform_db::usage::settings as ledger;
use platform_db::{Db, Sql};
use platform_kv::families::{BudgetsConfig, FeatureBudget, FeatureBudgetMonthly, SettingsAll};
use platform_kv::primitives::Source;
use platform_kv::{Clock, IsolateCache, IsolateCell, Json, Kv, Store, TypedKey};
use platform_worker::ApiError;

use crate::decide::FeatureLimits;

const CACHE_MS: EpochMs = 30_000;

/// Features whose limits one isolate keeps: far more than a batch touches, far under its memory.
const MAX_FEATURES: usize = 10_000;

thread_local! {
    static LIMITS: IsolateCache<FeatureKey, FeatureLimits> = const { IsolateCache::new(CACHE_MS, MAX_FEATURES) };
    static BUDGETS: IsolateCell<BudgetsDocument> = const { IsolateCell::new(CACHE_MS) };
    static SETTINGS: IsolateCell<Resolved> = const { IsolateCell::new(CACHE_MS) };
}

/// Each feature's daily and monthly limits, reading only those not cached, in one bulk read.
pub async fn feature_limits<K: Kv, C: Clock>(
    store: &Store<K, C>,
    features: &[FeatureKey],
) -> Result<BTreeMap<FeatureKey, FeatureLimits>, ApiError> {
    let now = store.now_ms();
    let mut limits = BTreeMap::new();
    let mut missing = Vec::new();
    LIMITS.with(|cache| {
        for feature in features {
            match cache.get(feature, now) {
                Some(cached) => {
                    limits.insert(feature.clone(), cached);
                }
                None => missing.push(feature.clone()),
            }
        }
    });
    if missing.is_empty() {
        return Ok(limits);
    }
    let mut keys = Vec::with_capacity(missing.len() * 2);
    for feature in &missing {
        keys.push((FeatureBudget::key(feature)?, FeatureBudgetMonthly::key(feature)?));
    }
    let flat: Vec<&dyn TypedKey<Value = Json<platform_core::MetricLimits>>> = keys
        .iter()
        .flat_map(|(daily, monthly)| [daily as &dyn TypedKey<Value = _>, monthly as _])
        .collect();
    let mut values = store.get_bulk(&flat).await?.into_iter();
    LIMITS.with(|cache| {
        for feature in missing {
            let mut read = || match values.next() {
                Some(Ok(value)) => value.map(|Json(limits)| limits),
                Some(Err(error)) => {
                    // A budget that cannot be read is not enforced; say so loudly.
                    worker::console_error!("budget of {feature} ignored: {error}");
                    None
                }
                None => None,
            };
            let entry = FeatureLimits {
                daily: read(),
                monthly: read(),
            };
            cache.put(feature.clone(), entry.clone(), now);
            limits.insert(feature, entry);
        }
    });
    Ok(limits)
}

/// The budgets document (project limits).
pub async fn budgets<K: Kv, C: Clock>(store: &Store<K, C>) -> Result<BudgetsDocument, ApiError> {
    let now = store.now_ms();
    if let Some(budgets) = BUDGETS.with(|c| c.get(now)) {
        return Ok(budgets);
    }
    let budgets = match store.get(&BudgetsConfig::key()?).await {
        Ok(found) => found.map(|Json(document)| document).unwrap_or_default(),
        Err(platform_kv::StoreError::Value { key, error }) => {
            worker::console_error!("{key} ignored: {error}");
            BudgetsDocument::default()
        }
        Err(other) => return Err(other.into()),
    };
    BUDGETS.with(|c| c.put(budgets.clone(), now));
    Ok(budgets)
}

/// The effective settings (cache-aside over D1 behind the isolate cache).
pub async fn settings<K: Kv, C: Clock, S: Sql>(
    store: &Store<K, C>,
    db: &Db<S>,
) -> Result<Resolved, ApiError> {
    let now = store.now_ms();
    if let Some(settings) = SETTINGS.with(|c| c.get(now)) {
        return Ok(settings);
    }
    let (resolved, _) = effective(store, db).await?;
    SETTINGS.with(|c| c.put(resolved.clone(), now));
    Ok(resolved)
}

/// Forgets cached settings, after this isolate changed them.
pub fn forget_settings() {
    SETTINGS.with(IsolateCell::invalidate);
}

/// The settings every decision uses: cached for an hour, recomputed from D1 on a miss.
pub async fn effective<K: Kv, C: Clock, S: Sql>(
    store: &Store<K, C>,
    db: &Db<S>,
) -> Result<(Resolved, Source), ApiError> {
    let key = SettingsAll::key()?;
    let (Json(resolved), source, cache_error) = store
        .get_or_set(&key, async || -> Result<_, ApiError> {
            Ok(Json(ledger::resolved(db).await?))
        })
        .await?;
    if let Some(error) = cache_error {
        worker::console_warn!("settings cache not written: {error}");
    }
    if source == Source::Computed {
        for problem in &resolved.problems {
            worker::console_warn!("{problem}; the default applies");
        }
    }
    Ok((resolved, source))
}
