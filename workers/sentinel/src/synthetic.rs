//! The synthetic breaker check: each feature breaker open in D1 (for longer than KV takes to
//! propagate) is read back through both contracts consumers read, as they read them.

use platform_kv::families::{ConfigFeatureStatus, FeatureEnabled};
use platform_kv::BreakerSignal;
use platform_sentinel::incident::Finding;
use platform_sentinel::watch::{judge_breaker, BreakerReadback, PROPAGATION_MS};
use platform_worker::{ApiError, PlatformDb, PlatformStore};

/// Breakers read back per run: two KV reads each.
const PER_RUN: u32 = 10;

pub async fn check(db: &PlatformDb, store: &PlatformStore, now: u64) -> Result<Vec<Finding>, ApiError> {
    let open = platform_db::sentinel::open_breakers(db, now.saturating_sub(PROPAGATION_MS), PER_RUN).await?;
    let mut findings = Vec::new();
    for feature in open {
        let (legacy_key, sdk_key) = (
            FeatureEnabled::key(&feature)?,
            ConfigFeatureStatus::key(&feature)?,
        );
        let legacy = store.get(&legacy_key).await?;
        let sdk = store.get(&sdk_key).await?;
        let read = BreakerReadback {
            keys: [legacy_key.to_string(), sdk_key.to_string()],
            legacy_stops: legacy == Some(false),
            sdk_stops: sdk == Some(BreakerSignal::Stop),
        };
        findings.extend(judge_breaker(&feature, &read, now));
    }
    Ok(findings)
}
