//! Translation between wire types and the engine's public types (no decisions here).

use crate::protocol::{
    ConnectionClosed, Content, DeploymentConfig, Direction as WireDirection, Message, MessageType, OriginatingEntity,
    PresenceType, SessionResponse,
};
use crate::time::UnixMillis;

use super::{
    Author, CloseReason, DeliveryStatus, Direction, EntryKey, EntryKind, NoticeKind, OrderKey, SessionConfig, SessionInfo,
    TranscriptEntry,
};

/// Copies the feature switches of `config.json` into the engine configuration.
pub(crate) fn apply_deployment(config: &mut SessionConfig, deployment: &DeploymentConfig) {
    config.auto_start = deployment.auto_start_enabled();
    config.show_user_typing = deployment.user_typing_enabled();
    config.conversation_clear = deployment.conversation_clear_enabled();
    config.allow_session_upgrade = deployment.auth.is_some_and(|auth| auth.enabled && auth.allow_session_upgrade);
}

/// What the UI may need from a `SessionResponse`.
pub(crate) fn session_info(response: &SessionResponse) -> SessionInfo {
    SessionInfo {
        new_session: response.new_session,
        read_only: response.read_only,
        cleared_existing_session: response.cleared_existing_session,
        max_custom_data_bytes: response.max_custom_data_bytes.and_then(|bytes| i64::try_from(bytes).ok()),
        allowed_upload_types: response.allowed_file_types().into_iter().map(str::to_owned).collect(),
        max_upload_kb: response.max_file_size_kb(),
        blocked_extensions: response.blocked_extensions.clone(),
    }
}

/// Why the server closed the connection (`ConnectionClosedEvent`). `clearing`: a clear
/// conversation request is outstanding, which is what this close then means.
pub(crate) fn close_reason(closed: &ConnectionClosed, clearing: bool) -> CloseReason {
    if closed.is_signed_in() {
        return CloseReason::SignedIn;
    }
    if clearing {
        return CloseReason::ConversationCleared;
    }
    match closed.reason() {
        // The SDK reports a reason-less close as the session limit (> 3 connections per token).
        None => CloseReason::SessionLimitReached,
        Some(reason) if reason.eq_ignore_ascii_case("sessionLimitReached") => CloseReason::SessionLimitReached,
        Some(reason) if reason.eq_ignore_ascii_case("conversationCleared") => CloseReason::ConversationCleared,
        Some(reason) => CloseReason::Other(reason.to_owned()),
    }
}

/// The text a message shows: its text, else the label of the button it answers.
pub(crate) fn display_text(message: &Message) -> String {
    if let Some(text) = message.text.as_deref().filter(|text| !text.is_empty()) {
        return text.to_owned();
    }
    message
        .content
        .iter()
        .find_map(|content| match content {
            Content::ButtonResponse(response) => Some(response.text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// How a message appears in the transcript: a message row, a notice, or not at all.
pub(crate) fn entry_kind(message: &Message) -> Option<EntryKind> {
    match &message.message_type {
        MessageType::Event => {
            let notice = message.presence_types().find_map(|presence| match presence {
                PresenceType::Join => Some(NoticeKind::ConversationStarted),
                PresenceType::Disconnect if message.is_read_only_disconnect() => Some(NoticeKind::ConversationEnded),
                PresenceType::Disconnect => Some(NoticeKind::AgentLeft),
                PresenceType::SignIn => Some(NoticeKind::SignedIn),
                _ => None,
            })?;
            Some(EntryKind::Notice(notice))
        }
        // Receipts update delivery state on the server side only; nothing to show.
        MessageType::Receipt => None,
        MessageType::Text | MessageType::Structured => Some(EntryKind::Message),
        MessageType::Unknown(_) => {
            let has_body = message.text.as_deref().is_some_and(|text| !text.is_empty()) || !message.content.is_empty();
            has_body.then_some(EntryKind::Message)
        }
    }
}

/// Builds the transcript row for a server message (already known to be shown).
pub(crate) fn entry_from_message(message: &Message, key: EntryKey, kind: EntryKind, order: OrderKey) -> TranscriptEntry {
    let direction = if message.is_inbound() { Direction::Inbound } else { Direction::Outbound };
    let author = match (kind, &message.direction, &message.originating_entity) {
        (EntryKind::Notice(_), _, _) => Author::System,
        (_, Some(WireDirection::Inbound), _) => Author::Customer,
        (_, _, Some(OriginatingEntity::Bot)) => Author::Bot,
        _ => Author::Agent,
    };
    let sender = message.sender();
    TranscriptEntry {
        key,
        message_id: message.id.clone(),
        order,
        direction,
        author,
        display_name: sender.and_then(|participant| participant.display_name()),
        avatar_url: sender.and_then(|participant| participant.image.clone()),
        text: display_text(message),
        content: message.content.clone(),
        status: DeliveryStatus::Sent,
        time: message.time_millis().map(UnixMillis),
        kind,
    }
}
