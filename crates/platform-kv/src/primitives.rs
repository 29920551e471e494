//! Primitives built on the store: dedup markers, locks, windowed counters, cache-aside and
//! deletion by prefix.
//!
//! KV is eventually consistent (other locations see a write after about 60 s) and allows one write
//! per key per second, so these are cost-saving guards, not mutual exclusion: where exactly-once
//! matters, the record of truth is a D1 row and these only save work.

use serde::Serialize;

use crate::key::{Family, Key, KeyPrefix};
use crate::kv::{Expiration, Kv, KvError};
use crate::store::{Clock, Store, StoreError};
use crate::value::{Json, LockRecord, Timestamp};

/// Where a cache-aside value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Cache,
    Computed,
}

/// How far a deletion by prefix got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Deletion {
    pub deleted: u32,
    /// False when it stopped at its budget with keys left.
    pub complete: bool,
}

/// KV answers a racing second write with 429: the other writer got there first.
fn lost_race(result: Result<(), StoreError>) -> Result<bool, StoreError> {
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::Kv(KvError::RateLimited { .. })) => Ok(false),
        Err(other) => Err(other),
    }
}

impl<K: Kv, C: Clock> Store<K, C> {
    /// Sets a dedup marker to the current time if it is not set. `true` only for the first caller
    /// within the family's expiry: send the alert (or do the work) only then.
    pub async fn mark_once<F: Family<Value = Timestamp>>(&self, key: &Key<F>) -> Result<bool, StoreError> {
        self.check_owner::<F>()?;
        if self.kv().get(key.as_str()).await?.is_some() {
            return Ok(false);
        }
        lost_race(self.put(key, &Timestamp(self.now_ms())).await)
    }

    /// Takes the lock for `hold_secs` (at least KV's 60 s expiry is kept in storage) unless another
    /// owner holds it. Re-taking one's own lock extends it. Returns whether `owner` holds it now.
    pub async fn try_lock<F: Family<Value = Json<LockRecord>>>(
        &self,
        key: &Key<F>,
        owner: &str,
        hold_secs: u64,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        if let Some(Json(held)) = self.get(key).await? {
            if held.owner != owner && held.expires_at > now {
                return Ok(false);
            }
        }
        let expires_at = now + hold_secs * 1000;
        let record = Json(LockRecord {
            owner: owner.to_owned(),
            expires_at,
        });
        let keep_until = (expires_at / 1000).max(now / 1000 + crate::kv::limits::MIN_TTL_SECONDS);
        if !lost_race(
            self.put_with(key, &record, Some(Expiration::At(keep_until)), None)
                .await,
        )? {
            return Ok(false);
        }
        // Read back: a racing writer in this location may have replaced us.
        Ok(matches!(self.get(key).await?, Some(Json(held)) if held.owner == owner))
    }

    /// Releases the lock if `owner` holds it. Returns whether it did.
    pub async fn unlock<F: Family<Value = Json<LockRecord>>>(
        &self,
        key: &Key<F>,
        owner: &str,
    ) -> Result<bool, StoreError> {
        match self.get(key).await? {
            Some(Json(held)) if held.owner == owner => {
                self.delete(key).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Adds `by` to a counter whose key names its window (`ERROR_RATE:{script}:{hour}`) and returns
    /// the new total; the family's expiry removes past windows. Read-modify-write: counts are
    /// approximate under concurrent writers, so aggregate per batch and call once per window.
    pub async fn increment<F: Family<Value = i64>>(&self, key: &Key<F>, by: i64) -> Result<i64, StoreError> {
        self.check_owner::<F>()?;
        let total = self.get(key).await?.unwrap_or(0).saturating_add(by);
        self.put(key, &total).await?;
        Ok(total)
    }

    /// Cache-aside: the cached value, or `compute()`'s result, which is then cached with the
    /// family's expiry. An undecodable cached value is recomputed and replaced. A failure to write
    /// the cache does not fail the read: the value is returned with the error.
    pub async fn get_or_set<F, E>(
        &self,
        key: &Key<F>,
        compute: impl AsyncFnOnce() -> Result<F::Value, E>,
    ) -> Result<(F::Value, Source, Option<StoreError>), E>
    where
        F: Family,
        E: From<StoreError>,
    {
        match self.get(key).await {
            Ok(Some(value)) => return Ok((value, Source::Cache, None)),
            Ok(None) | Err(StoreError::Value { .. }) => {}
            Err(other) => return Err(other.into()),
        }
        let value = compute().await?;
        let cache_error = self.put(key, &value).await.err();
        Ok((value, Source::Computed, cache_error))
    }

    /// Deletes the family's keys under `prefix`, at most `budget` of them (a Worker invocation may
    /// make 1,000 KV operations); call again while `complete` is false.
    pub async fn delete_prefix<F: Family>(
        &self,
        prefix: &KeyPrefix<F>,
        budget: u32,
    ) -> Result<Deletion, StoreError> {
        self.check_owner::<F>()?;
        let mut deletion = Deletion::default();
        let mut cursor: Option<String> = None;
        loop {
            let (keys, next) = self.list(prefix, cursor.as_deref()).await?;
            for listed in keys {
                if deletion.deleted == budget {
                    return Ok(deletion);
                }
                self.kv().delete(&listed.name).await?;
                deletion.deleted += 1;
            }
            match next {
                Some(next) => cursor = Some(next),
                None => {
                    deletion.complete = true;
                    return Ok(deletion);
                }
            }
        }
    }
}
