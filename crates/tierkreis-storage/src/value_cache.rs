//! A bounded in-memory copy of the values a controller wrote or linked into
//! its own checkpoint folder, so that reading one back (a builtin's inputs,
//! the elements a map folds) costs no system call.
//!
//! The file is always written first; the cache only ever holds what the file
//! holds. Entries are keyed by the path's bytes relative to the workflow
//! folder and share their bytes between hard links (as the files do): a
//! value's bytes count once however many paths hold it. Entries are dropped
//! oldest first once the total passes the budget, after which a read simply
//! goes to the file.

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::FxHashMap;

/// Bytes counted for an entry besides its key (its value's bytes are
/// counted once per value): the map slot, the key's allocation, the shared
/// value's header and the entry's place in the queue.
const ENTRY_OVERHEAD: usize = 96;

/// Values by path, oldest dropped first past a budget in bytes.
#[derive(Debug)]
pub(crate) struct ValueCache {
    entries: FxHashMap<Arc<[u8]>, Entry>,
    /// Keys in insertion order, each with the number of its insertion; a
    /// slot whose number is not its entry's any more (replaced or removed
    /// since) is stale and skipped.
    order: VecDeque<(Arc<[u8]>, u64)>,
    inserted: u64,
    /// How many entries hold each value, by the address of its bytes.
    holders: FxHashMap<usize, usize>,
    bytes: usize,
    budget: usize,
}

#[derive(Debug)]
struct Entry {
    value: Arc<[u8]>,
    /// The key's share of the bytes (the value is counted in `holders`).
    cost: usize,
    /// Which insertion made this entry (its slot in `order`).
    seq: u64,
}

impl ValueCache {
    /// An empty cache holding at most about `budget` bytes.
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            entries: FxHashMap::default(),
            order: VecDeque::new(),
            inserted: 0,
            holders: FxHashMap::default(),
            bytes: 0,
            budget,
        }
    }

    /// The value at `key`, if held.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Arc<[u8]>> {
        self.entries.get(key).map(|e| Arc::clone(&e.value))
    }

    /// Hold `value` as the content of `key`, replacing what was held.
    pub(crate) fn insert(&mut self, key: &[u8], value: Arc<[u8]>) {
        let cost = key.len() + ENTRY_OVERHEAD;
        if cost + value.len() > self.budget {
            self.remove(key);
            return;
        }
        let key: Arc<[u8]> = Arc::from(key);
        self.inserted += 1;
        let seq = self.inserted;
        self.hold(&value);
        let entry = Entry { value, cost, seq };
        if let Some(old) = self.entries.insert(Arc::clone(&key), entry) {
            self.bytes -= old.cost;
            self.release(&old.value);
        }
        self.bytes += cost;
        self.order.push_back((key, seq));
        self.shrink();
    }

    /// Hold for `dst` the value held for `src` (a hard link); forget `dst`
    /// if `src` is not held.
    pub(crate) fn link(&mut self, src: &[u8], dst: &[u8]) {
        match self.get(src) {
            Some(value) => self.insert(dst, value),
            None => self.remove(dst),
        }
    }

    /// Like [`ValueCache::link`] for a `dst` that did not exist (so is not
    /// held): nothing to forget if `src` is not held.
    pub(crate) fn link_new(&mut self, src: &[u8], dst: &[u8]) {
        if let Some(value) = self.get(src) {
            self.insert(dst, value);
        }
    }

    /// Forget `key`.
    pub(crate) fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= old.cost;
            self.release(&old.value);
        }
    }

    /// Forget everything.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.holders.clear();
        self.bytes = 0;
    }

    /// One more entry holds `value`: count its bytes if it is the first.
    fn hold(&mut self, value: &Arc<[u8]>) {
        let n = self.holders.entry(address(value)).or_insert(0);
        if *n == 0 {
            self.bytes += value.len();
        }
        *n += 1;
    }

    /// One entry less holds `value`: uncount its bytes if it was the last.
    fn release(&mut self, value: &Arc<[u8]>) {
        let addr = address(value);
        if let Some(n) = self.holders.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                self.holders.remove(&addr);
                self.bytes -= value.len();
            }
        }
    }

    /// Whether queue slot `(key, seq)` is still its entry's.
    fn is_live(&self, key: &[u8], seq: u64) -> bool {
        self.entries.get(key).is_some_and(|e| e.seq == seq)
    }

    /// Drop the oldest entries until within budget, and the stale queue
    /// slots once they outnumber the entries.
    fn shrink(&mut self) {
        while self.bytes > self.budget {
            let Some((key, seq)) = self.order.pop_front() else {
                break;
            };
            if self.is_live(&key, seq) {
                self.remove(&key);
            }
        }
        if self.order.len() > 2 * self.entries.len() + 1024 {
            let entries = &self.entries;
            self.order
                .retain(|(k, seq)| entries.get(&**k).is_some_and(|e| e.seq == *seq));
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Where `value`'s bytes live: the identity of a shared value (an address
/// is not reused while an entry holds the value).
fn address(value: &Arc<[u8]>) -> usize {
    Arc::as_ptr(value).cast::<u8>() as usize
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn links_share_values_and_forget_unknown_sources() {
        let mut c = ValueCache::new(1 << 20);
        c.insert(b"a/outputs/value", v("42"));
        c.link(b"a/outputs/value", b"b/outputs/value");
        assert_eq!(&*c.get(b"b/outputs/value").unwrap(), b"42");
        assert!(Arc::ptr_eq(
            &c.get(b"a/outputs/value").unwrap(),
            &c.get(b"b/outputs/value").unwrap()
        ));
        // A link from something not held must not leave an older value.
        c.insert(b"c", v("old"));
        c.link(b"unknown", b"c");
        assert!(c.get(b"c").is_none());
    }

    #[test]
    fn replacing_and_removing_keep_the_count_right() {
        let mut c = ValueCache::new(1 << 20);
        c.insert(b"k", v("1"));
        let one = c.bytes();
        assert_eq!(one, 1 + 1 + ENTRY_OVERHEAD);
        c.insert(b"k", v("22"));
        assert_eq!(c.bytes(), one + 1);
        assert_eq!(&*c.get(b"k").unwrap(), b"22");
        c.remove(b"k");
        assert_eq!(c.bytes(), 0);
        assert!(c.get(b"k").is_none());
    }

    #[test]
    fn a_linked_value_counts_once() {
        let mut c = ValueCache::new(1 << 20);
        let big = Arc::from(vec![7u8; 1000]);
        c.insert(b"a", big);
        for k in ["b", "c", "d"] {
            c.link(b"a", k.as_bytes());
        }
        assert_eq!(c.bytes(), 1000 + 4 * (1 + ENTRY_OVERHEAD));
        // The bytes stay counted while any path holds them.
        for k in ["a", "b", "c"] {
            c.remove(k.as_bytes());
        }
        assert_eq!(c.bytes(), 1000 + 1 + ENTRY_OVERHEAD);
        c.insert(b"d", v("x"));
        // Its last holder took another value: only that one is counted.
        assert_eq!(c.bytes(), 1 + 1 + ENTRY_OVERHEAD);
        assert_eq!(c.holders.len(), 1);
    }

    #[test]
    fn oldest_entries_go_first_past_the_budget() {
        let cost = 2 + 1 + ENTRY_OVERHEAD; // each value is its own
        let mut c = ValueCache::new(3 * cost);
        for k in ["k0", "k1", "k2", "k3", "k4"] {
            c.insert(k.as_bytes(), v("x"));
        }
        assert!(c.get(b"k0").is_none() && c.get(b"k1").is_none());
        for k in ["k2", "k3", "k4"] {
            assert!(c.get(k.as_bytes()).is_some(), "{k}");
        }
        assert_eq!(c.bytes(), 3 * cost);
        // A value larger than the whole budget is not held at all.
        c.insert(b"k2", Arc::from(vec![0u8; 4 * cost]));
        assert!(c.get(b"k2").is_none());
        assert_eq!(c.bytes(), 2 * cost);
    }

    #[test]
    fn the_queue_does_not_grow_without_bound() {
        let mut c = ValueCache::new(1 << 30);
        for i in 0..10_000 {
            c.insert(b"same", v("x"));
            c.insert(format!("gone{i}").as_bytes(), v("y"));
            c.remove(format!("gone{i}").as_bytes());
        }
        assert!(c.order.len() <= 2 * c.entries.len() + 1024 + 1);
        assert_eq!(&*c.get(b"same").unwrap(), b"x");
    }

    #[test]
    fn clear_forgets_everything() {
        let mut c = ValueCache::new(1 << 20);
        c.insert(b"a", v("1"));
        c.clear();
        assert!(c.get(b"a").is_none());
        assert_eq!(c.bytes(), 0);
    }
}
