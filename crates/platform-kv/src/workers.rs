//! The Workers KV binding as a [`Kv`] backend, and the runtime clock.

use std::collections::HashMap;

use platform_core::EpochMs;
use worker::kv::KvStore;

use crate::kv::{Expiration, Kv, KvError, ListPage, ListedKey, PutOptions, Stored};
use crate::store::Clock;

/// A KV namespace binding.
pub struct WorkersKv(KvStore);

impl WorkersKv {
    pub fn new(store: KvStore) -> Self {
        Self(store)
    }
}

fn backend(operation: &'static str, key: &str, error: impl std::fmt::Display) -> KvError {
    KvError::Backend {
        operation,
        key: key.to_owned(),
        reason: error.to_string(),
    }
}

impl Kv for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.0.get(key).text().await.map_err(|e| backend("get", key, e))
    }

    async fn get_with_metadata(&self, key: &str) -> Result<Option<Stored>, KvError> {
        let (value, metadata) = self
            .0
            .get(key)
            .text_with_metadata::<serde_json::Value>()
            .await
            .map_err(|e| backend("get", key, e))?;
        Ok(value.map(|value| Stored { value, metadata }))
    }

    async fn put(&self, key: &str, value: &str, options: &PutOptions) -> Result<(), KvError> {
        // As bytes: `put(&str)` would take worker's generic `Serialize` path (a JS round trip and
        // its number and JSON fallbacks) for what is already text; KV stores both the same.
        let mut put = self
            .0
            .put_bytes(key, value.as_bytes())
            .map_err(|e| backend("put", key, e))?;
        put = match options.expiration {
            Some(Expiration::Ttl(seconds)) => put.expiration_ttl(seconds),
            Some(Expiration::At(at)) => put.expiration(at),
            None => put,
        };
        if let Some(metadata) = &options.metadata {
            put = put.metadata(metadata).map_err(|e| backend("put", key, e))?;
        }
        put.execute().await.map_err(|e| backend("put", key, e))
    }

    async fn get_many(&self, keys: &[&str]) -> Result<HashMap<String, Option<String>>, KvError> {
        let first = keys.first().copied().unwrap_or_default();
        let mut values = self
            .0
            .get_bulk(keys)
            .text()
            .await
            .map_err(|e| backend("get", first, e))?;
        // The runtime leaves absent keys out or maps them to null; answer every key asked.
        for key in keys {
            values.entry((*key).to_owned()).or_insert(None);
        }
        Ok(values)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.0.delete(key).await.map_err(|e| backend("delete", key, e))
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ListPage, KvError> {
        let mut list = self.0.list().prefix(prefix.to_owned());
        if let Some(cursor) = cursor {
            list = list.cursor(cursor.to_owned());
        }
        if let Some(limit) = limit {
            list = list.limit(u64::from(limit));
        }
        let response = list.execute().await.map_err(|e| backend("list", prefix, e))?;
        let keys = response
            .keys
            .into_iter()
            .map(|key| ListedKey {
                name: key.name,
                expiration: key.expiration,
                metadata: key.metadata,
            })
            .collect();
        let cursor = if response.list_complete {
            None
        } else {
            response.cursor
        };
        Ok(ListPage { keys, cursor })
    }
}

/// The runtime's clock. On deployed Workers it advances only across I/O, which is fine for
/// stamping writes and comparing against expiry instants.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkersClock;

impl Clock for WorkersClock {
    fn now_ms(&self) -> EpochMs {
        worker::Date::now().as_millis()
    }
}
