//! An in-memory KV namespace for native tests, with a clock the test controls. It enforces KV's
//! rules (key length, expiration minimum, metadata size, list page size, one write per key per
//! second) so that a test fails where production would refuse.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::rc::Rc;

use platform_core::EpochMs;
use serde_json::Value;

use crate::key::MAX_KEY_BYTES;
use crate::kv::{limits, Expiration, Kv, KvError, ListPage, ListedKey, PutOptions, Stored};
use crate::store::Clock;

/// A clock that moves only when the test says so.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Rc<Cell<EpochMs>>);

impl ManualClock {
    pub fn at(now: EpochMs) -> Self {
        Self(Rc::new(Cell::new(now)))
    }

    pub fn set(&self, now: EpochMs) {
        self.0.set(now);
    }

    pub fn advance_ms(&self, ms: u64) {
        self.0.set(self.0.get() + ms);
    }

    pub fn advance_secs(&self, seconds: u64) {
        self.advance_ms(seconds * 1000);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> EpochMs {
        self.0.get()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    metadata: Option<Value>,
    /// Seconds since the epoch.
    expiration: Option<u64>,
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct MemoryKv {
    clock: ManualClock,
    entries: Rc<RefCell<BTreeMap<String, Entry>>>,
    last_write_ms: Rc<RefCell<BTreeMap<String, EpochMs>>>,
}

impl MemoryKv {
    pub fn new(clock: ManualClock) -> Self {
        Self {
            clock,
            entries: Rc::default(),
            last_write_ms: Rc::default(),
        }
    }

    /// Every live key with its expiration (seconds since the epoch), for assertions.
    pub fn snapshot(&self) -> Vec<(String, Option<u64>)> {
        let now = self.now_secs();
        self.entries
            .borrow()
            .iter()
            .filter(|(_, entry)| is_live(entry, now))
            .map(|(key, entry)| (key.clone(), entry.expiration))
            .collect()
    }

    fn now_secs(&self) -> u64 {
        self.clock.now_ms() / 1000
    }

    fn live(&self, key: &str) -> Option<Entry> {
        let now = self.now_secs();
        self.entries
            .borrow()
            .get(key)
            .filter(|entry| is_live(entry, now))
            .cloned()
    }

    /// KV refuses a second write to a key within a second.
    fn record_write(&self, key: &str) -> Result<(), KvError> {
        let now = self.clock.now_ms();
        let mut last = self.last_write_ms.borrow_mut();
        if let Some(previous) = last.get(key) {
            if now < previous + limits::MIN_WRITE_INTERVAL_MS {
                return Err(KvError::RateLimited { key: key.to_owned() });
            }
        }
        last.insert(key.to_owned(), now);
        Ok(())
    }
}

fn is_live(entry: &Entry, now_secs: u64) -> bool {
    entry.expiration.is_none_or(|at| at > now_secs)
}

fn check_key(key: &str) -> Result<(), KvError> {
    let reason = if key.is_empty() {
        "empty"
    } else if key == "." || key == ".." {
        "KV does not allow \".\" or \"..\" as a key"
    } else if key.len() > MAX_KEY_BYTES {
        "longer than 512 bytes"
    } else {
        return Ok(());
    };
    Err(KvError::InvalidKey {
        key: key.to_owned(),
        reason: reason.to_owned(),
    })
}

fn expiration_secs(key: &str, expiration: Option<Expiration>, now_secs: u64) -> Result<Option<u64>, KvError> {
    let invalid = |reason: String| KvError::InvalidExpiration {
        key: key.to_owned(),
        reason,
    };
    match expiration {
        None => Ok(None),
        Some(Expiration::Ttl(ttl)) if ttl < limits::MIN_TTL_SECONDS => Err(invalid(format!(
            "expiration_ttl {ttl} s is below KV's minimum of 60 s"
        ))),
        Some(Expiration::Ttl(ttl)) => Ok(Some(now_secs + ttl)),
        Some(Expiration::At(at)) if at < now_secs + limits::MIN_TTL_SECONDS => Err(invalid(format!(
            "expiration {at} is less than 60 s after now ({now_secs})"
        ))),
        Some(Expiration::At(at)) => Ok(Some(at)),
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        check_key(key)?;
        Ok(self.live(key).map(|entry| entry.value))
    }

    async fn get_with_metadata(&self, key: &str) -> Result<Option<Stored>, KvError> {
        check_key(key)?;
        Ok(self.live(key).map(|entry| Stored {
            value: entry.value,
            metadata: entry.metadata,
        }))
    }

    async fn put(&self, key: &str, value: &str, options: &PutOptions) -> Result<(), KvError> {
        check_key(key)?;
        if value.len() > limits::MAX_VALUE_BYTES {
            return Err(KvError::ValueTooLarge {
                key: key.to_owned(),
                bytes: value.len(),
            });
        }
        if let Some(metadata) = &options.metadata {
            let bytes = metadata.to_string().len();
            if bytes > limits::MAX_METADATA_BYTES {
                return Err(KvError::MetadataTooLarge {
                    key: key.to_owned(),
                    bytes,
                });
            }
        }
        let expiration = expiration_secs(key, options.expiration, self.now_secs())?;
        self.record_write(key)?;
        let entry = Entry {
            value: value.to_owned(),
            metadata: options.metadata.clone(),
            expiration,
        };
        self.entries.borrow_mut().insert(key.to_owned(), entry);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        check_key(key)?;
        self.record_write(key)?;
        self.entries.borrow_mut().remove(key);
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ListPage, KvError> {
        let limit = limit.unwrap_or(limits::MAX_LIST_PAGE);
        if limit == 0 || limit > limits::MAX_LIST_PAGE {
            return Err(KvError::InvalidListLimit { limit });
        }
        let now = self.now_secs();
        let entries = self.entries.borrow();
        // The cursor is the last key returned: opaque to callers, as KV's is.
        let start = cursor.map_or(Bound::Included(prefix), Bound::Excluded);
        let mut matching = entries
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .filter(|(_, entry)| is_live(entry, now));
        let keys: Vec<ListedKey> = matching
            .by_ref()
            .take(limit as usize)
            .map(|(name, entry)| ListedKey {
                name: name.clone(),
                expiration: entry.expiration,
                metadata: entry.metadata.clone(),
            })
            .collect();
        let more = matching.next().is_some();
        let cursor = if more {
            keys.last().map(|key| key.name.clone())
        } else {
            None
        };
        Ok(ListPage { keys, cursor })
    }
}

/// Runs a future that never waits, as everything over [`MemoryKv`] is: native tests need no async
/// runtime. Panics if the future does wait, which would mean real I/O crept in.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("a MemoryKv future waited; it must complete at once"),
    }
}
