//! A worker's handle on the keyspace: typed reads and writes, the family's expiry applied by
//! default, a writer stamp in every key's metadata, and writes refused for families the worker
//! does not own.

use std::fmt;

use platform_core::EpochMs;
use serde_json::{json, Map, Value};

use crate::classify;
use crate::key::{Family, Key, KeyError, KeyPrefix, TypedKey};
use crate::kv::{limits, Expiration, Kv, KvError, ListedKey, PutOptions};
use crate::spec::PlatformWorker;
use crate::value::{KvValue, ValueError};

/// The current time, in milliseconds since the epoch.
pub trait Clock {
    fn now_ms(&self) -> EpochMs;
}

/// Metadata fields the store writes on every put; callers may not set them.
pub const WRITER_FIELD: &str = "writer";
pub const WRITTEN_AT_FIELD: &str = "written_at";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    Key(KeyError),
    Kv(KvError),
    /// The worker may not write this family.
    NotOwner {
        worker: PlatformWorker,
        family: &'static str,
        pattern: &'static str,
    },
    /// A stored value is not of the family's type.
    Value {
        key: String,
        error: ValueError,
    },
    /// Caller metadata that is not an object or uses a reserved field.
    Metadata {
        key: String,
        reason: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(error) => error.fmt(f),
            Self::Kv(error) => error.fmt(f),
            Self::NotOwner {
                worker,
                family,
                pattern,
            } => write!(
                f,
                "{worker} may not write {family} ({pattern}): it is not one of the family's writers"
            ),
            Self::Value { key, error } => write!(f, "value of {key:?}: {error}"),
            Self::Metadata { key, reason } => write!(f, "metadata for {key:?}: {reason}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<KeyError> for StoreError {
    fn from(error: KeyError) -> Self {
        Self::Key(error)
    }
}

impl From<KvError> for StoreError {
    fn from(error: KvError) -> Self {
        Self::Kv(error)
    }
}

/// A value read with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct WithMetadata<V> {
    pub value: V,
    pub metadata: Option<Value>,
}

/// See the module documentation.
pub struct Store<K, C> {
    kv: K,
    worker: PlatformWorker,
    clock: C,
}

impl<K: Kv, C: Clock> Store<K, C> {
    pub fn new(kv: K, worker: PlatformWorker, clock: C) -> Self {
        Self { kv, worker, clock }
    }

    pub fn kv(&self) -> &K {
        &self.kv
    }

    pub fn worker(&self) -> PlatformWorker {
        self.worker
    }

    pub fn now_ms(&self) -> EpochMs {
        self.clock.now_ms()
    }

    pub async fn get<F: Family>(&self, key: &Key<F>) -> Result<Option<F::Value>, StoreError> {
        match self.kv.get(key.as_str()).await? {
            None => Ok(None),
            Some(raw) => decode::<F>(key, &raw).map(Some),
        }
    }

    /// Reads part of a JSON family's value: only the fields `P` declares are decoded, so a reader
    /// that needs one section of a large document does not carry the decoder of all of it.
    pub async fn get_part<T, F, P>(&self, key: &Key<F>) -> Result<Option<P>, StoreError>
    where
        T: crate::value::JsonShape,
        F: Family<Value = crate::value::Json<T>>,
        P: serde::de::DeserializeOwned,
    {
        match self.kv.get(key.as_str()).await? {
            None => Ok(None),
            Some(raw) => serde_json::from_str(&raw)
                .map(Some)
                .map_err(|e| StoreError::Value {
                    key: key.to_string(),
                    error: ValueError {
                        expected: format!("JSON {} ({e})", T::SHAPE),
                        found: ValueError::new(F::Value::FORMAT, &raw).found,
                    },
                }),
        }
    }

    pub async fn get_with_metadata<F: Family>(
        &self,
        key: &Key<F>,
    ) -> Result<Option<WithMetadata<F::Value>>, StoreError> {
        match self.kv.get_with_metadata(key.as_str()).await? {
            None => Ok(None),
            Some(stored) => Ok(Some(WithMetadata {
                value: decode::<F>(key, &stored.value)?,
                metadata: stored.metadata,
            })),
        }
    }

    /// Reads many keys, in bulk reads of up to 100 keys each, answering in the order asked. A value
    /// that does not decode is an error of its own key only.
    pub async fn get_bulk<V: KvValue>(
        &self,
        keys: &[&dyn TypedKey<Value = V>],
    ) -> Result<Vec<Result<Option<V>, StoreError>>, StoreError> {
        let mut values = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(limits::MAX_BULK_KEYS) {
            let names: Vec<&str> = chunk.iter().map(|key| key.as_str()).collect();
            let mut found = self.kv.get_many(&names).await?;
            for name in names {
                values.push(
                    found
                        .remove(name)
                        .flatten()
                        .map(|raw| V::decode(&raw))
                        .transpose()
                        .map_err(|error| StoreError::Value {
                            key: name.to_owned(),
                            error,
                        }),
                );
            }
        }
        Ok(values)
    }

    /// Writes with the family's expiry.
    pub fn put<'a, F: Family>(
        &'a self,
        key: &'a Key<F>,
        value: &F::Value,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + 'a {
        self.put_with(key, value, None, None)
    }

    /// Writes with an explicit expiry (`None`: the family's) and extra metadata fields. A family
    /// with an expiry policy always expires: there is no way to write it forever.
    pub fn put_with<'a, F: Family>(
        &'a self,
        key: &'a Key<F>,
        value: &F::Value,
        expiration: Option<Expiration>,
        metadata: Option<Map<String, Value>>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + 'a {
        // The typed part (and the stamp's time) is done when the write is made; the I/O is one
        // future shared by every family, compiled once instead of once per value type (~4 KB gzip).
        let write = self.check_owner::<F>().and_then(|()| {
            let encoded = value.encode().map_err(|error| StoreError::Value {
                key: key.to_string(),
                error,
            })?;
            let options = PutOptions {
                expiration: expiration.or(F::SPEC.ttl.seconds().map(|s| Expiration::Ttl(u64::from(s)))),
                metadata: Some(self.stamp(key.as_str(), metadata)?),
            };
            Ok((encoded, options))
        });
        self.write(key.as_str(), write)
    }

    pub fn delete<'a, F: Family>(
        &'a self,
        key: &'a Key<F>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + 'a {
        self.remove(key.as_str(), self.check_owner::<F>())
    }

    /// The I/O of every typed write: see [`Store::put_with`].
    async fn write(
        &self,
        key: &str,
        write: Result<(String, PutOptions), StoreError>,
    ) -> Result<(), StoreError> {
        let (encoded, options) = write?;
        self.kv.put(key, &encoded, &options).await?;
        Ok(())
    }

    async fn remove(&self, key: &str, allowed: Result<(), StoreError>) -> Result<(), StoreError> {
        allowed?;
        self.kv.delete(key).await?;
        Ok(())
    }

    /// One page of the family's keys under `prefix`. Keys of other families that share the
    /// prefix are left out, so a page may hold fewer keys than KV returned.
    pub async fn list<F: Family>(
        &self,
        prefix: &KeyPrefix<F>,
        cursor: Option<&str>,
    ) -> Result<(Vec<ListedKey>, Option<String>), StoreError> {
        let page = self.kv.list(prefix.as_str(), cursor, None).await?;
        let keys = page
            .keys
            .into_iter()
            .filter(|listed| {
                classify::family_of(F::registry(), &listed.name).is_some_and(|spec| spec.name == F::SPEC.name)
            })
            .collect();
        Ok((keys, page.cursor))
    }

    /// Every key of the family under `prefix`, across pages.
    pub async fn list_all<F: Family>(&self, prefix: &KeyPrefix<F>) -> Result<Vec<ListedKey>, StoreError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (keys, next) = self.list(prefix, cursor.as_deref()).await?;
            all.extend(keys);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }

    pub(crate) fn check_owner<F: Family>(&self) -> Result<(), StoreError> {
        if F::SPEC.writers.allows(self.worker) {
            Ok(())
        } else {
            Err(StoreError::NotOwner {
                worker: self.worker,
                family: F::SPEC.name,
                pattern: F::SPEC.pattern,
            })
        }
    }

    /// The caller's metadata plus who wrote the key and when.
    fn stamp(&self, key: &str, extra: Option<Map<String, Value>>) -> Result<Value, StoreError> {
        let mut metadata = extra.unwrap_or_default();
        for reserved in [WRITER_FIELD, WRITTEN_AT_FIELD] {
            if metadata.contains_key(reserved) {
                return Err(StoreError::Metadata {
                    key: key.to_owned(),
                    reason: format!("field {reserved:?} is written by the store"),
                });
            }
        }
        metadata.insert(WRITER_FIELD.into(), json!(self.worker.script_name()));
        metadata.insert(WRITTEN_AT_FIELD.into(), json!(self.clock.now_ms()));
        Ok(Value::Object(metadata))
    }
}

fn decode<F: Family>(key: &Key<F>, raw: &str) -> Result<F::Value, StoreError> {
    F::Value::decode(raw).map_err(|error| StoreError::Value {
        key: key.to_string(),
        error,
    })
}
