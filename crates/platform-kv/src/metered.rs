//! Counts the operations made through a KV backend: the platform meters itself, and tests assert
//! operation budgets.

use std::cell::Cell;
use std::collections::HashMap;

use serde::Serialize;

use crate::kv::{Kv, KvError, ListPage, PutOptions, Stored};

/// Operations made so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OpCounts {
    pub reads: u32,
    pub writes: u32,
    pub deletes: u32,
    pub lists: u32,
}

thread_local! {
    /// Every metered backend's operations in this isolate, until taken.
    static ISOLATE: Cell<OpCounts> = Cell::default();
}

/// The operations made through every metered backend of this isolate since the last call: the
/// platform's own footprint, logged once per invocation. Invocations that overlap in one isolate
/// share the figures between them; their sum stays exact.
pub fn take_isolate_counts() -> OpCounts {
    ISOLATE.with(Cell::take)
}

/// A backend wrapped to count its operations (failed ones included: they are billed too).
#[derive(Debug, Default)]
pub struct Metered<K> {
    inner: K,
    counts: Cell<OpCounts>,
}

impl<K> Metered<K> {
    pub fn new(inner: K) -> Self {
        Self {
            inner,
            counts: Cell::default(),
        }
    }

    pub fn counts(&self) -> OpCounts {
        self.counts.get()
    }

    pub fn inner(&self) -> &K {
        &self.inner
    }

    fn count(&self, bump: impl Fn(&mut OpCounts)) {
        let add = |cell: &Cell<OpCounts>| {
            let mut counts = cell.get();
            bump(&mut counts);
            cell.set(counts);
        };
        add(&self.counts);
        ISOLATE.with(add);
    }
}

impl<K: Kv> Kv for Metered<K> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.count(|c| c.reads += 1);
        self.inner.get(key).await
    }

    async fn get_with_metadata(&self, key: &str) -> Result<Option<Stored>, KvError> {
        self.count(|c| c.reads += 1);
        self.inner.get_with_metadata(key).await
    }

    async fn put(&self, key: &str, value: &str, options: &PutOptions) -> Result<(), KvError> {
        self.count(|c| c.writes += 1);
        self.inner.put(key, value, options).await
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.count(|c| c.deletes += 1);
        self.inner.delete(key).await
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ListPage, KvError> {
        self.count(|c| c.lists += 1);
        self.inner.list(prefix, cursor, limit).await
    }

    /// One operation per call of up to 100 keys, as KV counts a bulk read.
    async fn get_many(&self, keys: &[&str]) -> Result<HashMap<String, Option<String>>, KvError> {
        self.count(|c| c.reads += 1);
        self.inner.get_many(keys).await
    }
}
