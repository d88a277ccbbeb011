//! The ordered transcript: one list merged from live frames, echoes, other tabs and history
//! pages, keyed so nothing appears twice.
//!
//! Entries stay sorted by [`OrderKey`] in one `Vec` (the UI reads it as a slice). Lookups go
//! through two maps: entry key → order key (then a binary search), and server message id →
//! entry key, so a history page or a duplicate frame finds the row it already has.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::protocol::MessageId;

use super::{EntryKey, OrderKey, TranscriptEntry};

/// A fast, non-cryptographic string hasher (FxHash's mixing step). SipHash dominated the cost
/// of merging a large history page; keys here are message ids, and a server able to craft
/// colliding ids could only slow its own guest down.
#[derive(Default)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[derive(Debug, Default)]
pub(crate) struct Transcript {
    entries: Vec<TranscriptEntry>,
    order_of: FastMap<EntryKey, OrderKey>,
    key_of_message: FastMap<MessageId, EntryKey>,
    next_seq: u64,
}

impl Transcript {
    /// The entries, oldest first.
    pub(crate) fn entries(&self) -> &[TranscriptEntry] {
        &self.entries
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// A fresh arrival sequence number (the order tie-breaker).
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub(crate) fn get(&self, key: &EntryKey) -> Option<&TranscriptEntry> {
        let order = self.order_of.get(key)?;
        self.position(order).map(|index| &self.entries[index])
    }

    /// The key of the entry holding server message `id`, if any.
    pub(crate) fn key_for_message(&self, id: &MessageId) -> Option<&EntryKey> {
        self.key_of_message.get(id)
    }

    pub(crate) fn contains(&self, key: &EntryKey) -> bool {
        self.order_of.contains_key(key)
    }

    /// Inserts `entry`, or replaces the entry with the same key (moving it if its order changed).
    pub(crate) fn upsert(&mut self, entry: TranscriptEntry) {
        self.remove(&entry.key);
        self.index(&entry);
        let index = self.entries.partition_point(|existing| existing.order < entry.order);
        self.entries.insert(index, entry);
    }

    /// Inserts many entries whose keys are new, sorting once (history pages, bulk merges).
    /// Entries whose key already exists replace the old ones.
    pub(crate) fn extend(&mut self, new_entries: Vec<TranscriptEntry>) {
        if new_entries.len() < 8 {
            for entry in new_entries {
                self.upsert(entry);
            }
            return;
        }
        for entry in &new_entries {
            if self.order_of.contains_key(&entry.key) {
                self.remove(&entry.key.clone());
            }
        }
        self.order_of.reserve(new_entries.len());
        self.key_of_message.reserve(new_entries.len());
        for entry in &new_entries {
            self.index(entry);
        }
        self.entries.extend(new_entries);
        // Stable sort of an already mostly sorted vector: close to linear.
        self.entries.sort_by_key(|entry| entry.order);
    }

    pub(crate) fn remove(&mut self, key: &EntryKey) -> Option<TranscriptEntry> {
        let order = self.order_of.remove(key)?;
        let index = self.position(&order)?;
        let entry = self.entries.remove(index);
        if let Some(id) = &entry.message_id {
            if self.key_of_message.get(id) == Some(key) {
                self.key_of_message.remove(id);
            }
        }
        Some(entry)
    }

    /// Removes every entry for which `keep` is false; returns the removed keys.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&TranscriptEntry) -> bool) -> Vec<EntryKey> {
        let mut removed = Vec::new();
        self.entries.retain(|entry| {
            let kept = keep(entry);
            if !kept {
                removed.push(entry.key.clone());
            }
            kept
        });
        for key in &removed {
            self.order_of.remove(key);
        }
        if !removed.is_empty() {
            // Whatever no longer has an order is gone; linear in the index size.
            let order_of = &self.order_of;
            self.key_of_message.retain(|_, key| order_of.contains_key(key));
        }
        removed
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.order_of.clear();
        self.key_of_message.clear();
    }

    fn index(&mut self, entry: &TranscriptEntry) {
        self.order_of.insert(entry.key.clone(), entry.order);
        if let Some(id) = &entry.message_id {
            self.key_of_message.insert(id.clone(), entry.key.clone());
        }
        // A local send is also findable by its tracing id used as a message id (servers that
        // adopt the client id).
    }

    fn position(&self, order: &OrderKey) -> Option<usize> {
        self.entries.binary_search_by(|entry| entry.order.cmp(order)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Author, DeliveryStatus, Direction, EntryKind};

    fn entry(key: &str, id: Option<&str>, time_ms: u64, seq: u64) -> TranscriptEntry {
        TranscriptEntry {
            key: EntryKey(key.to_owned()),
            message_id: id.map(MessageId::from),
            order: OrderKey { time_ms, seq },
            direction: Direction::Outbound,
            author: Author::Agent,
            display_name: None,
            avatar_url: None,
            text: key.to_owned(),
            content: Vec::new(),
            status: DeliveryStatus::Sent,
            time: None,
            kind: EntryKind::Message,
        }
    }

    fn keys(transcript: &Transcript) -> Vec<&str> {
        transcript.entries().iter().map(|entry| entry.key.as_str()).collect()
    }

    #[test]
    fn upsert_orders_and_replaces() {
        let mut transcript = Transcript::default();
        transcript.upsert(entry("b", Some("B"), 20, 1));
        transcript.upsert(entry("a", Some("A"), 10, 2));
        transcript.upsert(entry("c", None, 30, 3));
        assert_eq!(keys(&transcript), ["a", "b", "c"]);
        transcript.upsert(entry("a", Some("A"), 40, 4));
        assert_eq!(keys(&transcript), ["b", "c", "a"]);
        assert_eq!(transcript.key_for_message(&MessageId::from("A")), Some(&EntryKey("a".into())));
        assert_eq!(transcript.len(), 3);
    }

    #[test]
    fn extend_and_retain_keep_indexes_consistent() {
        let mut transcript = Transcript::default();
        let batch: Vec<_> = (0..20).rev().map(|n| entry(&format!("k{n:02}"), Some(&format!("m{n}")), n * 10, n)).collect();
        transcript.extend(batch);
        assert_eq!(transcript.entries().first().map(|e| e.key.as_str()), Some("k00"));
        let removed = transcript.retain(|entry| entry.order.time_ms >= 100);
        assert_eq!(removed.len(), 10);
        assert!(transcript.get(&EntryKey("k05".into())).is_none());
        assert!(transcript.key_for_message(&MessageId::from("m5")).is_none());
        assert!(transcript.get(&EntryKey("k15".into())).is_some());
    }
}
