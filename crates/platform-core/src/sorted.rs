//! Sorted maps and sets built by insertion, and a small sort, for code that runs in a worker.
//!
//! `collect()` into a `BTreeMap` or `BTreeSet` first sorts a buffer of the items, and the standard
//! stable sort is compiled anew for every element type: about 3.5 KB of wasm each, which made
//! sorting the largest single part of a worker's code. Inserting one by one compiles no sort,
//! gives the same result (a later duplicate key replaces an earlier one, as with `collect()`), and
//! is as fast for the hundreds of entries a worker handles. [`sort_by`] is for the few slices
//! a worker must order itself: an insertion sort, linear on the nearly sorted lists it gets.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// `collect_map()` and `collect_set()` for any iterator.
pub trait CollectSorted: Iterator + Sized {
    /// The items as a map; a later duplicate key replaces an earlier one.
    fn collect_map<K: Ord, V>(self) -> BTreeMap<K, V>
    where
        Self: Iterator<Item = (K, V)>,
    {
        let mut map = BTreeMap::new();
        map.extend(self);
        map
    }

    /// The distinct items, in order.
    fn collect_set(self) -> BTreeSet<Self::Item>
    where
        Self::Item: Ord,
    {
        let mut set = BTreeSet::new();
        set.extend(self);
        set
    }
}

impl<I: Iterator> CollectSorted for I {}

/// Orders `items` by `compare`, keeping the order of equal items (stable). Quadratic in the
/// worst case: for the short lists a worker orders (a page of rows), not for bulk data.
pub fn sort_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && compare(&items[j - 1], &items[j]) == Ordering::Greater {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keep_the_last_duplicate_as_collect_does() {
        let items = [(2, "b"), (1, "a"), (2, "c")];
        let collected: BTreeMap<_, _> = items.iter().copied().collect();
        assert_eq!(items.iter().copied().collect_map(), collected);
        assert_eq!(collected[&2], "c");
    }

    #[test]
    fn sets_are_distinct_and_ordered() {
        let set = [3, 1, 3, 2].into_iter().collect_set();
        assert_eq!(set.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn the_sort_is_stable_and_agrees_with_the_standard_one() {
        let mut items: Vec<(u32, usize)> = (0..200).map(|i| ((i * 7919 % 13) as u32, i)).collect();
        let mut expected = items.clone();
        expected.sort_by_key(|item| item.0);
        sort_by(&mut items, |a, b| a.0.cmp(&b.0));
        assert_eq!(items, expected);
        let mut empty: [u8; 0] = [];
        sort_by(&mut empty, u8::cmp);
    }
}
