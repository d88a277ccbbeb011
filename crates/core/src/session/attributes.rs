//! Custom attributes (SPEC §3.3-2, §13, §16.13): a string map the host page sets, sent inside
//! `message.channel.metadata.customAttributes` of the next message, and only when it changed
//! since the server last acknowledged it. The budget is `maxCustomDataBytes` from the
//! `SessionResponse`, counted as UTF-8 bytes of every key and value.

use std::collections::BTreeMap;

use crate::protocol::TracingId;

/// UTF-8 bytes of every key and value: what `maxCustomDataBytes` limits.
pub(crate) fn byte_size(attributes: &BTreeMap<String, String>) -> usize {
    attributes.iter().map(|(key, value)| key.len().saturating_add(value.len())).fold(0, usize::saturating_add)
}

/// What the engine knows about the attributes.
#[derive(Clone, Debug, Default)]
pub(crate) struct CustomAttributes {
    /// What the host page set last.
    current: BTreeMap<String, String>,
    /// What the server acknowledged (the echo of a message carrying them arrived).
    acknowledged: BTreeMap<String, String>,
    /// The message carrying them now, and what it carries.
    in_flight: Option<(TracingId, BTreeMap<String, String>)>,
}

impl CustomAttributes {
    pub(crate) fn current(&self) -> &BTreeMap<String, String> {
        &self.current
    }

    pub(crate) fn set(&mut self, attributes: BTreeMap<String, String>) {
        self.current = attributes;
    }

    /// The attributes the next message must carry, if they changed since the last
    /// acknowledgement and are not already on the wire.
    pub(crate) fn due(&self) -> Option<&BTreeMap<String, String>> {
        if self.current.is_empty() || self.current == self.acknowledged {
            return None;
        }
        match &self.in_flight {
            Some((_, carried)) if carried == &self.current => None,
            _ => Some(&self.current),
        }
    }

    /// Message `tracing_id` carries the current attributes.
    pub(crate) fn attached(&mut self, tracing_id: TracingId) {
        self.in_flight = Some((tracing_id, self.current.clone()));
    }

    /// The echo of `tracing_id` arrived: if it carried attributes, the server has them.
    pub(crate) fn confirmed(&mut self, tracing_id: &TracingId) {
        if self.in_flight.as_ref().is_some_and(|(carrier, _)| carrier == tracing_id) {
            if let Some((_, carried)) = self.in_flight.take() {
                self.acknowledged = carried;
            }
        }
    }

    /// True if message `tracing_id` carried them last time it went out (a re-send of it must
    /// carry them again).
    pub(crate) fn carried_by(&self, tracing_id: &TracingId) -> bool {
        self.in_flight.as_ref().is_some_and(|(carrier, _)| carrier == tracing_id)
    }

    /// Message `tracing_id` failed: if it was the carrier, the next message carries them.
    pub(crate) fn release(&mut self, tracing_id: &TracingId) {
        if self.carried_by(tracing_id) {
            self.in_flight = None;
        }
    }

    /// The carrier did not arrive (socket lost, message refused for another reason): the next
    /// message carries them again.
    pub(crate) fn requeue(&mut self) {
        self.in_flight = None;
    }

    /// A new conversation knows none of them: send them again with its first message.
    pub(crate) fn new_conversation(&mut self) {
        self.acknowledged.clear();
        self.in_flight = None;
    }

    /// 4013 or a budget the attributes do not fit: drop them (SDK behaviour).
    pub(crate) fn discard(&mut self) {
        self.current.clear();
        self.acknowledged.clear();
        self.in_flight = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn size_counts_utf8_bytes_of_keys_and_values() {
        assert_eq!(byte_size(&map(&[("ab", "cde"), ("ü", "€")])), 2 + 3 + 2 + 3);
    }

    #[test]
    fn due_until_acknowledged_then_again_after_a_change() {
        let mut attributes = CustomAttributes::default();
        assert_eq!(attributes.due(), None);
        attributes.set(map(&[("plan", "gold")]));
        assert!(attributes.due().is_some());
        attributes.attached(TracingId::new("t1"));
        assert_eq!(attributes.due(), None, "already on the wire");
        attributes.requeue();
        assert!(attributes.due().is_some(), "lost with the socket: send again");
        attributes.attached(TracingId::new("t2"));
        attributes.confirmed(&TracingId::new("t1"));
        assert_eq!(attributes.due(), None, "another message's echo confirms nothing");
        attributes.confirmed(&TracingId::new("t2"));
        assert_eq!(attributes.due(), None);
        attributes.set(map(&[("plan", "platinum")]));
        assert!(attributes.due().is_some());
    }
}
