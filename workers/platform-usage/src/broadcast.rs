//! Breaker state broadcast to consumers through KV, in both contracts they read: the seed's
//! `FEATURE:*` / `PROJECT:*` / `GLOBAL_STOP_ALL` family and the SDK's `CONFIG:*:STATUS` = `STOP`.
//! Written only on a transition; D1 holds the record.

use platform_core::breaker::{FeatureBreaker, Level, ProjectBreaker};
use platform_core::{FeatureKey, ProjectId};
use platform_kv::families::{
    ConfigFeatureReason, ConfigFeatureStatus, ConfigGlobalStatus, ConfigProjectStatus, FeatureAutoResetAt,
    FeatureDisabledAt, FeatureDisabledReason, FeatureEnabled, GlobalStopAll, ProjectStatus,
};
use platform_kv::{BreakerSignal, Clock, Kv, ProjectState, Store, StoreError, Timestamp};

/// Stops a feature for every consumer.
pub async fn feature_opened<K: Kv, C: Clock>(
    store: &Store<K, C>,
    feature: &FeatureKey,
    breaker: &FeatureBreaker,
) -> Result<(), StoreError> {
    let reason = breaker
        .reason
        .clone()
        .unwrap_or_else(|| "stopped by the platform".to_owned());
    store.put(&FeatureEnabled::key(feature)?, &false).await?;
    store.put(&FeatureDisabledReason::key(feature)?, &reason).await?;
    store
        .put(
            &FeatureDisabledAt::key(feature)?,
            &Timestamp(breaker.tripped_at.unwrap_or(store.now_ms())),
        )
        .await?;
    let reset = FeatureAutoResetAt::key(feature)?;
    match breaker.auto_reset_at {
        Some(at) => store.put(&reset, &Timestamp(at)).await?,
        None => store.delete(&reset).await?,
    }
    store
        .put(&ConfigFeatureStatus::key(feature)?, &BreakerSignal::Stop)
        .await?;
    store.put(&ConfigFeatureReason::key(feature)?, &reason).await
}

/// Lets a feature run again: every stop key is deleted (consumers read a missing key as GO).
pub async fn feature_closed<K: Kv, C: Clock>(
    store: &Store<K, C>,
    feature: &FeatureKey,
) -> Result<(), StoreError> {
    store.delete(&FeatureEnabled::key(feature)?).await?;
    store.delete(&FeatureDisabledReason::key(feature)?).await?;
    store.delete(&FeatureDisabledAt::key(feature)?).await?;
    store.delete(&FeatureAutoResetAt::key(feature)?).await?;
    store.delete(&ConfigFeatureStatus::key(feature)?).await?;
    store.delete(&ConfigFeatureReason::key(feature)?).await
}

/// A project's new level: `paused` also stops it in the SDK contract, any other level lifts that
/// (a delete costs one write on a rare transition, and repairs a stop left behind).
pub async fn project_changed<K: Kv, C: Clock>(
    store: &Store<K, C>,
    project: &ProjectId,
    breaker: &ProjectBreaker,
) -> Result<(), StoreError> {
    store
        .put(&ProjectStatus::key(project)?, &ProjectState::from(breaker.level))
        .await?;
    let sdk = ConfigProjectStatus::key(project)?;
    if breaker.level == Level::Paused {
        store.put(&sdk, &BreakerSignal::Stop).await
    } else {
        store.delete(&sdk).await
    }
}

/// Stops or releases every consumer.
pub async fn global_stop<K: Kv, C: Clock>(store: &Store<K, C>, enabled: bool) -> Result<(), StoreError> {
    if enabled {
        store.put(&GlobalStopAll::key()?, &true).await?;
        store.put(&ConfigGlobalStatus::key()?, &BreakerSignal::Stop).await
    } else {
        store.delete(&GlobalStopAll::key()?).await?;
        store.delete(&ConfigGlobalStatus::key()?).await
    }
}
