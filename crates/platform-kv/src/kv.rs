//! The storage interface: what a Workers KV namespace does, as a trait with two backends
//! ([`crate::workers::WorkersKv`] over the binding, [`crate::MemoryKv`] for native tests).

use std::collections::HashMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// KV's limits, enforced by the in-memory backend so tests fail where production would.
pub mod limits {
    pub const MIN_TTL_SECONDS: u64 = 60;
    pub const MAX_METADATA_BYTES: usize = 1024;
    pub const MAX_VALUE_BYTES: usize = 25 * 1024 * 1024;
    pub const MAX_LIST_PAGE: u32 = 1000;
    /// Writes to one key at most once per second.
    pub const MIN_WRITE_INTERVAL_MS: u64 = 1000;
    /// Keys per bulk read; a bulk read is one operation.
    pub const MAX_BULK_KEYS: usize = 100;
}

/// When a written key expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    /// Seconds after the write (at least 60).
    Ttl(u64),
    /// At this instant, in seconds since the epoch (at least 60 s ahead).
    At(u64),
}

/// Options of a put.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutOptions {
    pub expiration: Option<Expiration>,
    pub metadata: Option<Value>,
}

/// A value with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub value: String,
    pub metadata: Option<Value>,
}

/// One key of a list page.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedKey {
    pub name: String,
    /// Seconds since the epoch.
    pub expiration: Option<u64>,
    pub metadata: Option<Value>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    pub keys: Vec<ListedKey>,
    /// Pass to the next call; `None` when the list is complete.
    pub cursor: Option<String>,
}

/// A refused or failed KV operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    InvalidKey {
        key: String,
        reason: String,
    },
    InvalidExpiration {
        key: String,
        reason: String,
    },
    MetadataTooLarge {
        key: String,
        bytes: usize,
    },
    ValueTooLarge {
        key: String,
        bytes: usize,
    },
    /// More than one write to the same key within a second (KV answers 429).
    RateLimited {
        key: String,
    },
    InvalidListLimit {
        limit: u32,
    },
    /// A stored value could not be parsed as the JSON asked for.
    Json {
        key: String,
        reason: String,
    },
    /// The runtime refused or failed the operation.
    Backend {
        operation: &'static str,
        key: String,
        reason: String,
    },
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKey { key, reason } => write!(f, "invalid KV key {key:?}: {reason}"),
            Self::InvalidExpiration { key, reason } => {
                write!(f, "invalid expiration for {key:?}: {reason}")
            }
            Self::MetadataTooLarge { key, bytes } => write!(
                f,
                "metadata of {key:?} is {bytes} bytes serialized; KV allows {}",
                limits::MAX_METADATA_BYTES
            ),
            Self::ValueTooLarge { key, bytes } => {
                write!(f, "value of {key:?} is {bytes} bytes; KV allows 25 MiB")
            }
            Self::RateLimited { key } => write!(
                f,
                "KV PUT failed: 429 Too Many Requests ({key:?} written twice within a second)"
            ),
            Self::InvalidListLimit { limit } => write!(f, "list limit {limit} is outside 1..=1000"),
            Self::Json { key, reason } => {
                write!(f, "value of {key:?} is not the expected JSON: {reason}")
            }
            Self::Backend {
                operation,
                key,
                reason,
            } => write!(f, "KV {operation} {key:?} failed: {reason}"),
        }
    }
}

impl std::error::Error for KvError {}

/// A KV namespace. Futures are not `Send`: Workers run single-threaded.
#[allow(async_fn_in_trait)]
pub trait Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError>;

    async fn get_with_metadata(&self, key: &str) -> Result<Option<Stored>, KvError>;

    async fn put(&self, key: &str, value: &str, options: &PutOptions) -> Result<(), KvError>;

    async fn delete(&self, key: &str) -> Result<(), KvError>;

    /// One page of the keys starting with `prefix`, in byte order; `limit` defaults to 1000.
    async fn list(&self, prefix: &str, cursor: Option<&str>, limit: Option<u32>)
        -> Result<ListPage, KvError>;

    /// Reads up to 100 keys in one operation; missing keys map to `None`.
    async fn get_many(&self, keys: &[&str]) -> Result<HashMap<String, Option<String>>, KvError> {
        let mut values = HashMap::with_capacity(keys.len());
        for key in keys {
            values.insert((*key).to_owned(), self.get(key).await?);
        }
        Ok(values)
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, KvError> {
        match self.get(key).await? {
            None => Ok(None),
            Some(raw) => serde_json::from_str(&raw).map(Some).map_err(|e| KvError::Json {
                key: key.to_owned(),
                reason: e.to_string(),
            }),
        }
    }
}

impl<K: Kv> Kv for &K {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        (**self).get(key).await
    }
    async fn get_with_metadata(&self, key: &str) -> Result<Option<Stored>, KvError> {
        (**self).get_with_metadata(key).await
    }
    async fn put(&self, key: &str, value: &str, options: &PutOptions) -> Result<(), KvError> {
        (**self).put(key, value, options).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        (**self).delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ListPage, KvError> {
        (**self).list(prefix, cursor, limit).await
    }
    async fn get_many(&self, keys: &[&str]) -> Result<HashMap<String, Option<String>>, KvError> {
        (**self).get_many(keys).await
    }
}
