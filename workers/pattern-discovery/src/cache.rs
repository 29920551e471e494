//! The two pattern lists in KV, rewritten whole from D1 after every change and every run:
//! `PATTERNS:DYNAMIC:APPROVED` (a bare JSON array of `{id, type, value, category, scope}`, as the
//! consumer SDK reads it) and `PATTERNS:DYNAMIC:SHADOW` (same shape; the collector only counts its
//! matches). Both are written with a 7-day expiry, a safety net should discovery stop running.

use platform_db::patterns::{self, Listed};
use platform_kv::families::{ApprovedPatterns, ShadowPatterns};
use platform_kv::value::Json;
use platform_kv::{Expiration, Family, Key};
use platform_patterns::Status;
use platform_worker::{ApiError, PlatformDb, PlatformStore};
use serde::Serialize;

/// Expiry of both lists (7 days).
pub const LIST_TTL_SECONDS: u64 = 604_800;

/// What a refresh wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Refreshed {
    pub approved: usize,
    pub shadow: usize,
}

async fn write<F: Family<Value = Json<Vec<serde_json::Value>>>>(
    store: &PlatformStore,
    key: Key<F>,
    listed: &[Listed],
) -> Result<(), ApiError> {
    let values = listed
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal("encoding a pattern list", e))?;
    store
        .put_with(&key, &Json(values), Some(Expiration::Ttl(LIST_TTL_SECONDS)), None)
        .await?;
    Ok(())
}

/// Rewrites both lists from the patterns' statuses.
pub async fn refresh(db: &PlatformDb, store: &PlatformStore) -> Result<Refreshed, ApiError> {
    let approved = patterns::listed(db, Status::Approved).await?;
    let shadow = patterns::listed(db, Status::Shadow).await?;
    write(store, ApprovedPatterns::key()?, &approved).await?;
    write(store, ShadowPatterns::key()?, &shadow).await?;
    Ok(Refreshed {
        approved: approved.len(),
        shadow: shadow.len(),
    })
}
