//! What every batch and request needs, cached in the isolate for a few tens of seconds: KV itself
//! lags about 60 s behind a write, so a shorter cache adds no staleness that matters while it saves
//! a read per feature per batch.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use platform_core::budgets::BudgetsDocument;
use platform_core::settings::Resolved;
use platform_core::{EpochMs, FeatureKey};
use platform_db::usage::settings as ledger;
use platform_db::{Db, Sql};
use platform_kv::families::{BudgetsConfig, FeatureBudget, FeatureBudgetMonthly, SettingsAll};
use platform_kv::primitives::Source;
use platform_kv::{Clock, Json, Kv, Store, TypedKey};
use platform_worker::ApiError;

use crate::decide::FeatureLimits;

const CACHE_MS: EpochMs = 30_000;

#[derive(Default)]
struct Cache {
    limits: HashMap<FeatureKey, (EpochMs, FeatureLimits)>,
    budgets: Option<(EpochMs, BudgetsDocument)>,
    settings: Option<(EpochMs, Resolved)>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

fn fresh(fetched: EpochMs, now: EpochMs) -> bool {
    now.saturating_sub(fetched) < CACHE_MS
}

/// Each feature's daily and monthly limits, reading only those not cached, in one bulk read.
pub async fn feature_limits<K: Kv, C: Clock>(
    store: &Store<K, C>,
    features: &[FeatureKey],
) -> Result<BTreeMap<FeatureKey, FeatureLimits>, ApiError> {
    let now = store.now_ms();
    let mut limits = BTreeMap::new();
    let mut missing = Vec::new();
    CACHE.with_borrow(|cache| {
        for feature in features {
            match cache.limits.get(feature) {
                Some((at, cached)) if fresh(*at, now) => {
                    limits.insert(feature.clone(), cached.clone());
                }
                _ => missing.push(feature.clone()),
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
    CACHE.with_borrow_mut(|cache| {
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
            cache.limits.insert(feature.clone(), (now, entry.clone()));
            limits.insert(feature, entry);
        }
    });
    Ok(limits)
}

/// The budgets document (project limits).
pub async fn budgets<K: Kv, C: Clock>(store: &Store<K, C>) -> Result<BudgetsDocument, ApiError> {
    let now = store.now_ms();
    if let Some(budgets) = CACHE.with_borrow(|c| {
        c.budgets
            .clone()
            .filter(|(at, _)| fresh(*at, now))
            .map(|(_, b)| b)
    }) {
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
    CACHE.with_borrow_mut(|c| c.budgets = Some((now, budgets.clone())));
    Ok(budgets)
}

/// The effective settings (cache-aside over D1 behind the isolate cache).
pub async fn settings<K: Kv, C: Clock, S: Sql>(
    store: &Store<K, C>,
    db: &Db<S>,
) -> Result<Resolved, ApiError> {
    let now = store.now_ms();
    if let Some(settings) = CACHE.with_borrow(|c| {
        c.settings
            .clone()
            .filter(|(at, _)| fresh(*at, now))
            .map(|(_, s)| s)
    }) {
        return Ok(settings);
    }
    let (resolved, _) = effective(store, db).await?;
    CACHE.with_borrow_mut(|c| c.settings = Some((now, resolved.clone())));
    Ok(resolved)
}

/// Forgets cached settings, after this isolate changed them.
pub fn forget_settings() {
    CACHE.with_borrow_mut(|c| c.settings = None);
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
