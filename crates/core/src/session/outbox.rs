//! The outbox: what the user sent and the server has not confirmed, in send order.
//!
//! Every item keeps its tracing id for all attempts. The tracing id also travels in
//! `message.metadata.tracingId`, so an echo that lost its top-level `tracingId` (another tab,
//! a history page) still identifies the send: this is what makes re-sending after a reconnect
//! exactly-once.

use std::collections::BTreeMap;

use crate::protocol::{ButtonResponse, ButtonResponseType, ClientAction, Content, Message, MessageType, SessionToken, TracingId};
use crate::time::UnixMillis;

use super::{FailureReason, OutboxItem, OutgoingMessage};

/// Metadata key carrying the client's tracing id inside the message.
pub(crate) const TRACING_METADATA_KEY: &str = "tracingId";

/// Runtime state of an outbox item that is not persisted.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flight {
    /// On the wire on the current socket, waiting for the echo.
    pub in_flight: bool,
    /// When it last went on the wire.
    pub sent_at: Option<UnixMillis>,
    /// 429 answers so far.
    pub rate_limited: u32,
    /// Do not send before this time (429 `retryAfter`).
    pub not_before: Option<UnixMillis>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Outbox {
    items: Vec<(OutboxItem, Flight)>,
}

impl Outbox {
    pub(crate) fn from_persisted(items: Vec<OutboxItem>) -> Self {
        let mut outbox = Self::default();
        for item in items {
            // A corrupted store might hold duplicates; keep the first.
            if outbox.position(&item.tracing_id).is_none() {
                outbox.items.push((item, Flight::default()));
            }
        }
        outbox
    }

    pub(crate) fn snapshot(&self) -> Vec<OutboxItem> {
        self.items.iter().map(|(item, _)| item.clone()).collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn push(&mut self, item: OutboxItem) {
        self.items.push((item, Flight::default()));
    }

    pub(crate) fn position(&self, tracing_id: &TracingId) -> Option<usize> {
        self.items.iter().position(|(item, _)| &item.tracing_id == tracing_id)
    }

    pub(crate) fn get(&self, tracing_id: &TracingId) -> Option<&OutboxItem> {
        self.position(tracing_id).map(|index| &self.items[index].0)
    }

    pub(crate) fn get_mut(&mut self, tracing_id: &TracingId) -> Option<(&mut OutboxItem, &mut Flight)> {
        let index = self.position(tracing_id)?;
        let (item, flight) = &mut self.items[index];
        Some((item, flight))
    }

    pub(crate) fn remove(&mut self, tracing_id: &TracingId) -> Option<OutboxItem> {
        let index = self.position(tracing_id)?;
        Some(self.items.remove(index).0)
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(OutboxItem, Flight)> {
        self.items.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut (OutboxItem, Flight)> {
        self.items.iter_mut()
    }

    /// The oldest item currently on the wire (errors without a tracing id apply to it).
    pub(crate) fn oldest_in_flight(&self) -> Option<TracingId> {
        self.items.iter().find(|(_, flight)| flight.in_flight).map(|(item, _)| item.tracing_id.clone())
    }

    /// Forget which items were on the wire (the socket is gone).
    pub(crate) fn socket_lost(&mut self) {
        for (_, flight) in &mut self.items {
            flight.in_flight = false;
        }
    }

    /// Items that still need to reach the server: not failed, not on the wire.
    pub(crate) fn sendable(&self, now: UnixMillis) -> Vec<TracingId> {
        let mut ready = Vec::new();
        for (item, flight) in &self.items {
            if item.failed.is_some() || flight.in_flight {
                continue;
            }
            if flight.not_before.is_some_and(|at| at > now) {
                // Keep order: nothing after a held-back message may overtake it.
                break;
            }
            ready.push(item.tracing_id.clone());
        }
        ready
    }

    /// The earliest 429 hold-back still pending.
    pub(crate) fn next_retry_at(&self) -> Option<UnixMillis> {
        self.items
            .iter()
            .filter(|(item, flight)| item.failed.is_none() && !flight.in_flight)
            .filter_map(|(_, flight)| flight.not_before)
            .min()
    }

    /// When the oldest echo still awaited is due (sent + `timeout_ms`).
    pub(crate) fn echo_deadline(&self, timeout_ms: u64) -> Option<UnixMillis> {
        self.items
            .iter()
            .filter(|(_, flight)| flight.in_flight)
            .filter_map(|(_, flight)| flight.sent_at.map(|at| at.saturating_add_ms(timeout_ms)))
            .min()
    }

    /// Takes every send whose echo is overdue off the wire (it stays `attempted`, so it is
    /// re-sent only if history shows the server does not have it). Returns whether any was.
    pub(crate) fn expire_overdue_echoes(&mut self, now: UnixMillis, timeout_ms: u64) -> bool {
        let mut any = false;
        for (_, flight) in &mut self.items {
            if flight.in_flight && flight.sent_at.is_some_and(|at| now >= at.saturating_add_ms(timeout_ms)) {
                flight.in_flight = false;
                any = true;
            }
        }
        any
    }

    pub(crate) fn has_unreconciled(&self) -> bool {
        self.items.iter().any(|(item, _)| item.attempted && item.failed.is_none())
    }
}

/// Whether a message of this kind carries custom attributes when they are due (the SDK attaches
/// them to text messages, attachments included, not to button answers).
pub(crate) fn carries_attributes(message: &OutgoingMessage) -> bool {
    matches!(message, OutgoingMessage::Text { .. } | OutgoingMessage::Attachment { .. })
}

/// The `onMessage` frame for an item, with `attributes` in `message.channel.metadata` if given.
pub(crate) fn wire_action(token: SessionToken, item: &OutboxItem, attributes: Option<BTreeMap<String, String>>) -> ClientAction {
    let mut message = match (&item.message, button_answer(&item.message)) {
        (_, Some((message_type, text, response))) => Message::button_response(message_type, text, response),
        (OutgoingMessage::Attachment { attachment_id, text, .. }, None) => Message::text(text.clone()).with_attachment(attachment_id.clone()),
        (plain, None) => Message::text(plain.display_text()),
    };
    if let Some(attributes) = attributes {
        message = message.with_custom_attributes(attributes);
    }
    message.metadata.insert(TRACING_METADATA_KEY.to_owned(), item.tracing_id.as_str().to_owned());
    ClientAction::message(token, message, item.tracing_id.clone())
}

/// A button answer's message type, text and `ButtonResponse`, as the SDK sends them; `None` for
/// text and attachments.
fn button_answer(message: &OutgoingMessage) -> Option<(MessageType, String, ButtonResponse)> {
    let answer = match message {
        OutgoingMessage::Text { .. } | OutgoingMessage::Attachment { .. } => return None,
        OutgoingMessage::QuickReply { text, payload, originating_message_id } => (
            MessageType::Text,
            String::new(),
            ButtonResponse {
                text: text.clone(),
                payload: payload.clone(),
                button_type: ButtonResponseType::QuickReply,
                originating_message_id: originating_message_id.clone(),
            },
        ),
        OutgoingMessage::Postback { text, payload, originating_message_id } => (
            MessageType::Structured,
            text.clone(),
            ButtonResponse {
                text: text.clone(),
                payload: payload.clone(),
                button_type: ButtonResponseType::Button,
                originating_message_id: originating_message_id.clone(),
            },
        ),
        // SDK `prepareTimeSlotSubmissionMessageWith`: empty text, the slot as the payload.
        OutgoingMessage::DatePicker { date_time, originating_message_id } => (
            MessageType::Text,
            String::new(),
            ButtonResponse {
                text: date_time.clone(),
                payload: date_time.clone(),
                button_type: ButtonResponseType::DatePicker,
                originating_message_id: originating_message_id.clone(),
            },
        ),
    };
    Some(answer)
}

/// Content shown locally for an item before its echo: what the echo will carry, so a view (or
/// another tab, or a reload before the echo) reads a button answer the same way before and after.
pub(crate) fn local_content(message: &OutgoingMessage) -> Vec<Content> {
    match message {
        OutgoingMessage::Attachment { attachment_id, file_name, .. } => {
            let mut content = Content::attachment_ref(attachment_id.clone());
            if let Content::Attachment(attachment) = &mut content {
                attachment.filename = file_name.clone();
            }
            vec![content]
        }
        OutgoingMessage::Text { .. } => Vec::new(),
        answer => button_answer(answer).map(|(_, _, response)| Content::ButtonResponse(response)).into_iter().collect(),
    }
}

/// The failure reason for a server error code on a send.
pub(crate) fn failure_for_code(code: u32) -> FailureReason {
    match code {
        4011 => FailureReason::MessageTooLong,
        4013 => FailureReason::CustomAttributesTooLarge,
        4029 | 429 => FailureReason::RateLimited,
        4008..=4010 => FailureReason::AttachmentRejected { code },
        other => FailureReason::Rejected { code: other },
    }
}
