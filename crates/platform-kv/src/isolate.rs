//! One typed cache in front of KV, kept in the isolate: a value read once serves the requests and
//! batches of the next `ttl_ms`. KV itself lags up to 60 s behind a write, so a cache of that
//! order adds no staleness that matters while it saves a read per request. Bounded in entries, so
//! a worker with many subjects stays far under the isolate's memory limit.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;

/// Values by key, each fresh for `ttl_ms` after it was stored. Declare one per kind of value in a
/// `thread_local!` (an isolate runs one thread): `static LIMITS: IsolateCache<FeatureKey, Limits>
/// = const { IsolateCache::new(30_000, 10_000) };`.
pub struct IsolateCache<K, V> {
    ttl_ms: u64,
    max_entries: usize,
    /// Empty until the first `put`: a `const` constructor cannot build a `HashMap`.
    entries: RefCell<Option<HashMap<K, (u64, V)>>>,
}

impl<K: Hash + Eq + Clone, V: Clone> IsolateCache<K, V> {
    pub const fn new(ttl_ms: u64, max_entries: usize) -> Self {
        Self {
            ttl_ms,
            max_entries,
            entries: RefCell::new(None),
        }
    }

    /// The value stored for `key`, if it is still fresh at `now`.
    pub fn get(&self, key: &K, now: u64) -> Option<V> {
        let entries = self.entries.borrow();
        let (stored_at, value) = entries.as_ref()?.get(key)?;
        (now.saturating_sub(*stored_at) < self.ttl_ms).then(|| value.clone())
    }

    /// Stores `value` for `key`. When full, expired entries go first, then the oldest.
    pub fn put(&self, key: K, value: V, now: u64) {
        let mut entries = self.entries.borrow_mut();
        let entries = entries.get_or_insert_with(HashMap::new);
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            let ttl = self.ttl_ms;
            entries.retain(|_, (at, _)| now.saturating_sub(*at) < ttl);
            if entries.len() >= self.max_entries {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(key, (now, value));
    }

    /// Forgets `key`, so the next read goes to KV (after this isolate wrote it).
    pub fn invalidate(&self, key: &K) {
        if let Some(entries) = self.entries.borrow_mut().as_mut() {
            entries.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.borrow().as_ref().map_or(0, HashMap::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A single cached value (the budgets document, the resolved settings), by the same rule.
pub struct IsolateCell<V> {
    ttl_ms: u64,
    value: RefCell<Option<(u64, V)>>,
}

impl<V: Clone> IsolateCell<V> {
    pub const fn new(ttl_ms: u64) -> Self {
        Self {
            ttl_ms,
            value: RefCell::new(None),
        }
    }

    /// The value, if it is still fresh at `now`.
    pub fn get(&self, now: u64) -> Option<V> {
        let value = self.value.borrow();
        let (stored_at, value) = value.as_ref()?;
        (now.saturating_sub(*stored_at) < self.ttl_ms).then(|| value.clone())
    }

    pub fn put(&self, value: V, now: u64) {
        *self.value.borrow_mut() = Some((now, value));
    }

    /// Forgets the value, so the next read goes to KV (after this isolate wrote it).
    pub fn invalidate(&self) {
        *self.value.borrow_mut() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_fresh_for_its_ttl_only() {
        let cache: IsolateCache<&str, u32> = IsolateCache::new(30_000, 10);
        cache.put("a", 1, 1_000);
        assert_eq!(cache.get(&"a", 30_999), Some(1));
        assert_eq!(cache.get(&"a", 31_000), None);
        assert_eq!(cache.get(&"b", 1_000), None);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_then_the_oldest() {
        let cache: IsolateCache<u32, u32> = IsolateCache::new(100, 2);
        cache.put(1, 1, 0);
        cache.put(2, 2, 50);
        cache.put(3, 3, 120); // 1 has expired: it goes, 2 stays
        assert_eq!(
            (cache.get(&2, 120), cache.get(&3, 120), cache.len()),
            (Some(2), Some(3), 2)
        );
        cache.put(4, 4, 130); // nothing expired: the oldest (2) goes
        assert_eq!((cache.get(&2, 130), cache.get(&4, 130)), (None, Some(4)));
    }

    #[test]
    fn an_invalidated_key_is_read_again() {
        let cache: IsolateCell<&str> = IsolateCell::new(1_000);
        cache.put("v1", 0);
        assert_eq!(cache.get(999), Some("v1"));
        cache.invalidate();
        assert_eq!(cache.get(1), None);
    }
}
