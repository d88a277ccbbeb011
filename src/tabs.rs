//! One connection per browser: the pure part (no browser APIs), tested natively.
//!
//! Across the tabs of one origin and deployment, one tab — the **leader** — runs the session
//! engine and holds the WebSocket. The others — **followers** — mirror the leader's UI events
//! and send their user commands to it. Tabs talk over a `BroadcastChannel`
//! (`threadline:{deploymentId}`) in JSON strings ([`TabMessage`]).
//!
//! * A new tab says [`TabMessage::Hello`]; the leader answers with a [`Snapshot`] (connection
//!   state, transcript, expiry, unread count), then streams every engine [`Event`] as
//!   [`TabMessage::Event`].
//! * A follower's user commands ([`TabCommand`]) go to the leader, which runs them on its engine,
//!   so the result shows in every tab with the engine's status (queued, sending, sent).
//! * The leader is elected with the Web Locks API, or with a lease in `localStorage` where locks
//!   are missing ([`LeaseElection`]). A new leader rebuilds the engine from storage (same token,
//!   same outbox) and announces itself with [`TabMessage::Leader`] and a snapshot.
//! * Unread counting happens in the leader only ([`PanelTracker`]); followers show its count.
//!   So do the new-message sound and notifications (`platform::notify`): only the tab running
//!   the engine executes its events.
//! * A follower's file goes to the leader as [`TabMessage::Attach`] with an in-memory copy of
//!   the `File` next to the JSON; the leader uploads it and shares the progress of every upload
//!   ([`TabMessage::Uploads`]), and refuses with [`TabMessage::Failed`] to the sender.
//!
//! Engine events are mirrored through serde "remote" definitions of the core types (below), so
//! a variant added to the core fails to compile here instead of being dropped silently.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use threadline_core::protocol::{AttachmentId, Content, MessageId};
use threadline_core::session::{
    AttachmentUpdate, AuthFailure, Author, CloseReason, CommandError, ConnectionState, DeliveryStatus, Direction, EntryKey,
    EntryKind, Event, FailureReason, NoticeKind, OrderKey, SessionInfo, SessionNotice, TranscriptEntry, UserError,
};
use threadline_core::time::UnixMillis;

/// How long a lease in `localStorage` is valid after its last renewal.
pub const LEASE_TTL_MS: u64 = 2_500;
/// How often the lease holder renews it (and candidates look at it).
pub const LEASE_RENEW_MS: u64 = 1_000;
/// How soon a candidate re-reads a lease it just claimed, to confirm no other tab overwrote it.
pub const LEASE_CONFIRM_MS: u64 = 200;

/// What this tab does with the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// No coordination (no shared storage or no `BroadcastChannel`): this tab runs its own
    /// engine and socket, as every tab did before.
    Solo,
    /// Coordinated, but the election has not decided yet: commands wait.
    Pending,
    /// This tab runs the engine for all tabs.
    Leader,
    /// Another tab runs the engine; this one mirrors it.
    Follower,
}

impl Role {
    /// Whether this tab drives its own engine (and may open a socket).
    pub fn drives_engine(self) -> bool {
        matches!(self, Self::Solo | Self::Leader)
    }
}

// ---------------------------------------------------------------------------------------------
// Messages between tabs

/// One message on the tabs' `BroadcastChannel`. Every message names its sender (`from`, a
/// random per-tab id) so a tab can ignore a leader that has since stepped down.
///
/// Externally tagged (`{"hello":{"from":…}}`), not internally (`{"type":"hello",…}`): serde's
/// internally tagged enums buffer the whole message into an intermediate tree before picking
/// the variant, and their generated deserializers cost ~24 KB gzip of wasm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TabMessage {
    /// A tab joined (or lost track of the leader) and asks for a snapshot.
    Hello {
        /// The asking tab.
        from: String,
    },
    /// `from` is the leader now (followers re-announce an open panel to it).
    Leader {
        /// The new leader.
        from: String,
    },
    /// The leader's full UI state, for `to` (or for everyone when `None`).
    Snapshot {
        /// The leader.
        from: String,
        /// The tab that asked, if one did.
        to: Option<String>,
        /// The state.
        snapshot: Snapshot,
    },
    /// One engine event, as the leader applied it to its own UI.
    Event {
        /// The leader.
        from: String,
        /// The event.
        event: MirroredEvent,
    },
    /// The leader's unread count changed.
    Unread {
        /// The leader.
        from: String,
        /// Agent and bot messages nobody has seen yet.
        count: usize,
    },
    /// A follower's user command for the leader's engine.
    Command {
        /// The follower.
        from: String,
        /// What to do.
        command: TabCommand,
    },
    /// The leader could not run a follower's command.
    Failed {
        /// The leader.
        from: String,
        /// The follower that sent the command.
        to: String,
        /// Why, for the user.
        message: String,
    },
    /// A follower's panel opened or closed (the leader counts unread only while no panel shows).
    Panel {
        /// The follower.
        from: String,
        /// Open now.
        open: bool,
    },
    /// The leader is going away (page hidden or frozen); another tab takes over.
    Resigned {
        /// The former leader.
        from: String,
    },
    /// A follower's file for the leader to upload. The `File` itself travels next to this
    /// JSON in the same channel message (structured clone), see `platform::tabs`.
    Attach {
        /// The follower.
        from: String,
    },
    /// The leader's uploads in progress changed (rows added, progress, rows gone).
    Uploads {
        /// The leader.
        from: String,
        /// Every upload in progress, in order.
        uploads: Vec<SharedUpload>,
    },
}

/// One upload in progress, as every tab shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedUpload {
    /// The server's attachment id.
    pub attachment_id: String,
    /// The file's name.
    pub file_name: String,
    /// 0–100.
    pub percent: u32,
}

impl TabMessage {
    /// Encodes as the JSON string posted on the channel.
    pub fn to_json(&self) -> String {
        // Every field is a plain string, number, or a mirror of a core type whose serialisation
        // cannot fail; an error here would be a bug, reported rather than panicking.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Decodes a channel message; `None` for anything another version or page might post.
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The sending tab.
    pub fn sender(&self) -> &str {
        match self {
            Self::Hello { from }
            | Self::Leader { from }
            | Self::Snapshot { from, .. }
            | Self::Event { from, .. }
            | Self::Unread { from, .. }
            | Self::Command { from, .. }
            | Self::Failed { from, .. }
            | Self::Panel { from, .. }
            | Self::Resigned { from }
            | Self::Attach { from }
            | Self::Uploads { from, .. } => from,
        }
    }
}

/// A user command a follower sends to the leader.
/// Externally tagged like [`TabMessage`]: unit variants are plain strings (`"open"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TabCommand {
    /// Open the messenger (connect if needed).
    Open,
    /// Send a text; `key` becomes the message's transcript key (minted by the follower so it
    /// can answer its caller at once).
    SendText {
        /// The transcript key (a fresh UUID).
        key: String,
        /// The text.
        text: String,
    },
    /// The user is typing.
    Typing,
    /// Retry a failed message.
    RetryMessage {
        /// Its transcript key.
        key: EntryKey,
    },
    /// Reconnect now.
    RetryConnection,
    /// Leave a read-only conversation for a new one.
    StartNewConversation,
    /// Load older history.
    LoadOlder,
    /// A quick-reply button.
    QuickReply {
        /// Button text.
        text: String,
        /// Button payload.
        payload: String,
        /// The message that offered it.
        origin: Option<MessageId>,
    },
    /// A card postback button.
    Postback {
        /// Button text.
        text: String,
        /// Button payload.
        payload: String,
        /// The message that offered it.
        origin: Option<MessageId>,
    },
    /// A date picker slot.
    DatePicker {
        /// The chosen slot's ISO-8601 `dateTime`.
        date_time: String,
        /// The message that offered the picker.
        origin: Option<MessageId>,
    },
    /// Ask for a fresh download URL.
    RefreshDownload {
        /// The attachment.
        attachment_id: AttachmentId,
    },
    /// Clear the conversation.
    ClearConversation,
    /// Merge these into the custom attributes sent with the next message.
    SetCustomAttributes {
        /// Name → value.
        attributes: BTreeMap<String, String>,
    },
}

/// The leader's UI state for a tab that joins: replayed as events into the follower's model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// State-setting events, in the order to apply them.
    pub events: Vec<MirroredEvent>,
    /// The leader's unread count.
    pub unread: usize,
    /// The leader's uploads in progress (a new leader has none: stale rows go away).
    #[serde(default)]
    pub uploads: Vec<SharedUpload>,
}

/// The pieces of the leader's UI state a snapshot carries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnapshotParts {
    pub state: Option<ConnectionState>,
    pub session_info: Option<SessionInfo>,
    pub expires_at: Option<UnixMillis>,
    pub ttl_secs: Option<u64>,
    pub expiring_soon: bool,
    pub transcript: Vec<TranscriptEntry>,
    pub older_available: bool,
    /// When the agent typing indicator should go away, if it shows.
    pub agent_typing_until: Option<UnixMillis>,
    pub unread: usize,
    pub uploads: Vec<SharedUpload>,
}

impl Snapshot {
    /// The events that rebuild `parts` in a fresh model (transcript replaced, not merged).
    pub fn from_parts(parts: SnapshotParts) -> Self {
        let mut events = Vec::new();
        if let Some(state) = parts.state {
            events.push(Event::StateChanged(state));
        }
        if let Some(info) = parts.session_info {
            events.push(Event::SessionConfigured(info));
        }
        if let (Some(expires_at), Some(duration_secs)) = (parts.expires_at, parts.ttl_secs) {
            events.push(Event::ExpiryKnown { expires_at, duration_secs });
        }
        if let (true, Some(expires_at)) = (parts.expiring_soon, parts.expires_at) {
            events.push(Event::ExpiringSoon { expires_at });
        }
        events.push(Event::TranscriptReset(parts.transcript));
        events.push(Event::OlderAvailable(parts.older_available));
        events.push(match parts.agent_typing_until {
            Some(until) => Event::AgentTyping { until },
            None => Event::AgentTypingStopped,
        });
        Self { events: events.into_iter().map(MirroredEvent).collect(), unread: parts.unread, uploads: parts.uploads }
    }
}

/// Whether the leader mirrors `event` to other tabs. An upload grant is for the tab holding
/// the file (always the leader), and carries a presigned URL nobody else needs.
pub fn is_mirrored(event: &Event) -> bool {
    !matches!(event, Event::Attachment(AttachmentUpdate::UploadGranted { .. }))
}

/// The checks the engine makes before queueing a text, made in a follower so the composer can
/// answer at once (the leader's engine checks again).
pub fn check_text(text: &str, max_chars: usize, state: &ConnectionState) -> Result<(), CommandError> {
    if text.trim().is_empty() {
        return Err(CommandError::EmptyMessage);
    }
    if text.chars().count() > max_chars {
        return Err(CommandError::TooLong { max: max_chars });
    }
    if matches!(state, ConnectionState::ReadOnly) {
        return Err(CommandError::ReadOnly);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Leader bookkeeping

/// The leader's view of which tabs show the open panel: unread messages are counted only while
/// none does (the leader's own panel is passed in, it is not a channel member).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PanelTracker {
    open_elsewhere: BTreeSet<String>,
}

impl PanelTracker {
    /// Records a follower's panel state.
    pub fn set(&mut self, tab: &str, open: bool) {
        if open {
            self.open_elsewhere.insert(tab.to_string());
        } else {
            self.open_elsewhere.remove(tab);
        }
    }

    /// Whether a new agent message counts as unread.
    pub fn counts_unread(&self, own_panel_open: bool) -> bool {
        !own_panel_open && self.open_elsewhere.is_empty()
    }

    /// Forgets every follower (a new leader hears their state again).
    pub fn clear(&mut self) {
        self.open_elsewhere.clear();
    }
}

/// A follower's idea of who leads: events from any other tab (a leader that stepped down but
/// still has a message in flight) are ignored once a leader is known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderWatch {
    leader: Option<String>,
}

impl LeaderWatch {
    /// The current leader, if known.
    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    /// Notes `message` and says whether a follower should apply it.
    pub fn admit(&mut self, message: &TabMessage) -> bool {
        match message {
            TabMessage::Leader { from } | TabMessage::Snapshot { from, .. } => {
                self.leader = Some(from.clone());
                true
            }
            TabMessage::Resigned { from } => {
                if self.leader.as_deref() == Some(from) {
                    self.leader = None;
                }
                false
            }
            TabMessage::Event { from, .. }
            | TabMessage::Unread { from, .. }
            | TabMessage::Failed { from, .. }
            | TabMessage::Uploads { from, .. } => self.leader.as_deref().is_none_or(|leader| leader == from),
            // Only a leader answers these.
            TabMessage::Hello { .. } | TabMessage::Command { .. } | TabMessage::Panel { .. } | TabMessage::Attach { .. } => false,
        }
    }

    /// Forgets the leader (this tab leads now, or the page was hidden).
    pub fn reset(&mut self) {
        self.leader = None;
    }
}

// ---------------------------------------------------------------------------------------------
// The localStorage lease (where Web Locks are missing)

/// The value of `threadline:{deploymentId}:leader` in `localStorage`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// The holding tab.
    pub owner: String,
    /// Wall-clock ms after which any tab may take it.
    pub expires_at: u64,
}

impl Lease {
    /// Parses a stored lease; anything unreadable counts as no lease.
    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_str(raw).ok()
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What one look at the lease asks the tab to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseStep {
    /// Write this lease (claim or renewal).
    pub write: Option<Lease>,
    /// Start leading (`Some(true)`) or stop (`Some(false)`).
    pub lead: Option<bool>,
    /// Look again after this many ms.
    pub next_look_ms: u64,
}

/// Leader election with a lease: a tab claims a free or stale lease, confirms on its next look
/// that no other tab overwrote the claim, and only then leads; the leader renews every
/// [`LEASE_RENEW_MS`]; a lease not renewed for [`LEASE_TTL_MS`] is stale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseElection {
    me: String,
    leading: bool,
    /// A claim was written and awaits confirmation.
    claimed: bool,
}

impl LeaseElection {
    /// A candidate named `me`.
    pub fn new(me: impl Into<String>) -> Self {
        Self { me: me.into(), leading: false, claimed: false }
    }

    /// Whether this tab leads.
    pub fn is_leading(&self) -> bool {
        self.leading
    }

    /// One look at the stored lease at `now`.
    pub fn look(&mut self, stored: Option<&Lease>, now: u64) -> LeaseStep {
        let renewal = Lease { owner: self.me.clone(), expires_at: now.saturating_add(LEASE_TTL_MS) };
        let mine = stored.is_some_and(|lease| lease.owner == self.me);
        let free = stored.is_none_or(|lease| now >= lease.expires_at);
        if mine && (self.leading || self.claimed) {
            // Our claim survived a look (or we lead): lead and keep it fresh.
            self.claimed = false;
            let lead = (!self.leading).then_some(true);
            self.leading = true;
            return LeaseStep { write: Some(renewal), lead, next_look_ms: LEASE_RENEW_MS };
        }
        if free || mine {
            // A leader whose lease went stale unnoticed (a throttled timer) re-claims it without
            // stepping down; a candidate claims and confirms shortly.
            if self.leading {
                return LeaseStep { write: Some(renewal), lead: None, next_look_ms: LEASE_RENEW_MS };
            }
            self.claimed = true;
            return LeaseStep { write: Some(renewal), lead: None, next_look_ms: LEASE_CONFIRM_MS };
        }
        // Another tab holds a live lease.
        self.claimed = false;
        let lead = self.leading.then_some(false);
        self.leading = false;
        LeaseStep { write: None, lead, next_look_ms: LEASE_RENEW_MS }
    }

    /// Gives the lease up (page hidden): returns whether the stored lease should be removed.
    pub fn resign(&mut self, stored: Option<&Lease>) -> bool {
        self.leading = false;
        self.claimed = false;
        stored.is_some_and(|lease| lease.owner == self.me)
    }
}

// ---------------------------------------------------------------------------------------------
// Serde mirrors of the core's UI types (serde "remote" definitions)

/// An engine [`Event`] that can cross the channel as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MirroredEvent(#[serde(with = "EventDef")] pub Event);

#[derive(Serialize, Deserialize)]
#[serde(remote = "Event", rename_all = "camelCase")]
enum EventDef {
    StateChanged(#[serde(with = "ConnectionStateDef")] ConnectionState),
    SessionConfigured(#[serde(with = "SessionInfoDef")] SessionInfo),
    ExpiryKnown { expires_at: UnixMillis, duration_secs: u64 },
    ExpiringSoon { expires_at: UnixMillis },
    ExpiringCancelled,
    Expired,
    TranscriptReset(#[serde(with = "entries")] Vec<TranscriptEntry>),
    EntryUpserted(#[serde(with = "TranscriptEntryDef")] TranscriptEntry),
    EntryRemoved(EntryKey),
    AgentTyping { until: UnixMillis },
    AgentTypingStopped,
    ConversationCleared,
    ReadOnly,
    ConnectionClosed {
        #[serde(with = "CloseReasonDef")]
        reason: CloseReason,
    },
    LoggedOut,
    Attachment(#[serde(with = "AttachmentUpdateDef")] AttachmentUpdate),
    Error(#[serde(with = "UserErrorDef")] UserError),
    OlderAvailable(bool),
    AuthorizationRequired {
        #[serde(with = "AuthFailureDef")]
        reason: AuthFailure,
    },
    Notice(#[serde(with = "SessionNoticeDef")] SessionNotice),
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ConnectionState", rename_all = "camelCase")]
enum ConnectionStateDef {
    Idle,
    Connecting,
    Connected,
    Reconnecting {
        attempt: u32,
        next_attempt_at: Option<UnixMillis>,
    },
    Offline,
    ReadOnly,
    Expired,
    Closed {
        #[serde(with = "CloseReasonDef")]
        reason: CloseReason,
    },
    Error {
        code: u32,
        message: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "CloseReason", rename_all = "camelCase")]
enum CloseReasonDef {
    User,
    ServerClosed,
    ConversationCleared,
    SignedIn,
    SessionLimitReached,
    LoggedOut,
    Other(String),
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "SessionInfo")]
struct SessionInfoDef {
    new_session: bool,
    read_only: bool,
    cleared_existing_session: bool,
    max_custom_data_bytes: Option<i64>,
    allowed_upload_types: Vec<String>,
    max_upload_kb: Option<u64>,
    blocked_extensions: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "TranscriptEntry")]
struct TranscriptEntryDef {
    key: EntryKey,
    message_id: Option<MessageId>,
    order: OrderKey,
    #[serde(with = "DirectionDef")]
    direction: Direction,
    #[serde(with = "AuthorDef")]
    author: Author,
    display_name: Option<String>,
    avatar_url: Option<String>,
    text: String,
    content: Vec<Content>,
    #[serde(with = "DeliveryStatusDef")]
    status: DeliveryStatus,
    time: Option<UnixMillis>,
    #[serde(with = "EntryKindDef")]
    kind: EntryKind,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Direction")]
enum DirectionDef {
    Inbound,
    Outbound,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Author")]
enum AuthorDef {
    Customer,
    Agent,
    Bot,
    System,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "DeliveryStatus")]
enum DeliveryStatusDef {
    Sending,
    Queued,
    Sent,
    Failed { reason: FailureReason },
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "EntryKind")]
enum EntryKindDef {
    Message,
    Notice(#[serde(with = "NoticeKindDef")] NoticeKind),
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "NoticeKind")]
enum NoticeKindDef {
    ConversationStarted,
    AgentLeft,
    ConversationEnded,
    SignedIn,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "AttachmentUpdate", rename_all = "camelCase")]
enum AttachmentUpdateDef {
    UploadGranted { attachment_id: AttachmentId, url: String, headers: BTreeMap<String, String> },
    DownloadUrlRefreshed { attachment_id: AttachmentId, url: String },
    Uploaded { attachment_id: AttachmentId, download_url: String },
    Rejected { attachment_id: AttachmentId, code: u32, message: String },
    Deleted { attachment_id: AttachmentId },
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "UserError", rename_all = "camelCase")]
enum UserErrorDef {
    MessageTooLong { key: Option<EntryKey> },
    CustomAttributesTooLarge,
    RateLimited { retry_after_secs: u64 },
    Forbidden { message: String },
    AuthorizationRequired,
    ClearConversationFailed,
    FeatureUnavailable,
    HistoryUnavailable { http_status: u16 },
    Server { code: u32, message: String },
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "AuthFailure", rename_all = "camelCase")]
enum AuthFailureDef {
    Unauthorized,
    NoRefreshToken,
    RefreshFailed { http_status: u16 },
    Rejected { message: String },
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "SessionNotice", rename_all = "camelCase")]
enum SessionNoticeDef {
    ClearedExistingSession,
}

/// `Vec<TranscriptEntry>` through [`TranscriptEntryDef`].
mod entries {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use threadline_core::session::TranscriptEntry;

    use super::TranscriptEntryDef;

    struct Borrowed<'a>(&'a TranscriptEntry);

    impl Serialize for Borrowed<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            TranscriptEntryDef::serialize(self.0, serializer)
        }
    }

    #[derive(Deserialize)]
    struct Owned(#[serde(with = "TranscriptEntryDef")] TranscriptEntry);

    pub fn serialize<S: Serializer>(entries: &[TranscriptEntry], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(entries.len()))?;
        for entry in entries {
            seq.serialize_element(&Borrowed(entry))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<TranscriptEntry>, D::Error> {
        Ok(Vec::<Owned>::deserialize(deserializer)?.into_iter().map(|owned| owned.0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use threadline_core::protocol::{Attachment, QuickReply};

    fn entry(key: &str, author: Author, status: DeliveryStatus) -> TranscriptEntry {
        TranscriptEntry {
            key: EntryKey(key.into()),
            message_id: Some(MessageId::new(format!("m-{key}"))),
            order: OrderKey { time_ms: 1_700_000_000_000, seq: 7 },
            direction: if author == Author::Customer { Direction::Inbound } else { Direction::Outbound },
            author,
            display_name: Some("Ana".into()),
            avatar_url: None,
            text: "hello **there**".into(),
            content: vec![
                Content::Attachment(Attachment::reference(AttachmentId::new("a-1"))),
                Content::QuickReply(QuickReply { text: "Yes".into(), payload: "yes".into(), ..Default::default() }),
            ],
            status,
            time: Some(UnixMillis(1_700_000_000_000)),
            kind: EntryKind::Message,
        }
    }

    fn every_event() -> Vec<Event> {
        vec![
            Event::StateChanged(ConnectionState::Idle),
            Event::StateChanged(ConnectionState::Reconnecting { attempt: 2, next_attempt_at: Some(UnixMillis(5)) }),
            Event::StateChanged(ConnectionState::Closed { reason: CloseReason::Other("bye".into()) }),
            Event::StateChanged(ConnectionState::Error { code: 4007, message: "no session".into() }),
            Event::SessionConfigured(SessionInfo {
                new_session: true,
                allowed_upload_types: vec!["image/*".into()],
                max_upload_kb: Some(10),
                blocked_extensions: vec![".exe".into()],
                max_custom_data_bytes: Some(2048),
                ..SessionInfo::default()
            }),
            Event::ExpiryKnown { expires_at: UnixMillis(9), duration_secs: 3600 },
            Event::ExpiringSoon { expires_at: UnixMillis(9) },
            Event::ExpiringCancelled,
            Event::Expired,
            Event::TranscriptReset(vec![
                entry("k1", Author::Customer, DeliveryStatus::Queued),
                entry("k2", Author::Agent, DeliveryStatus::Sent),
                TranscriptEntry { kind: EntryKind::Notice(NoticeKind::AgentLeft), ..entry("k3", Author::System, DeliveryStatus::Sent) },
            ]),
            Event::EntryUpserted(entry("k4", Author::Customer, DeliveryStatus::Failed { reason: FailureReason::AttachmentRejected { code: 4008 } })),
            Event::EntryRemoved(EntryKey("k4".into())),
            Event::AgentTyping { until: UnixMillis(3) },
            Event::AgentTypingStopped,
            Event::ConversationCleared,
            Event::ReadOnly,
            Event::ConnectionClosed { reason: CloseReason::SessionLimitReached },
            Event::LoggedOut,
            Event::Attachment(AttachmentUpdate::Uploaded { attachment_id: AttachmentId::new("a"), download_url: "https://x/y".into() }),
            Event::Attachment(AttachmentUpdate::Rejected { attachment_id: AttachmentId::new("a"), code: 4001, message: "no".into() }),
            Event::Error(UserError::MessageTooLong { key: Some(EntryKey("k".into())) }),
            Event::Error(UserError::HistoryUnavailable { http_status: 502 }),
            Event::OlderAvailable(true),
            Event::AuthorizationRequired { reason: AuthFailure::RefreshFailed { http_status: 401 } },
            Event::Notice(SessionNotice::ClearedExistingSession),
        ]
    }

    #[test]
    fn every_event_survives_the_channel() {
        for event in every_event() {
            let message = TabMessage::Event { from: "leader".into(), event: MirroredEvent(event.clone()) };
            let json = message.to_json();
            assert!(!json.is_empty(), "{event:?} did not serialise");
            let back = TabMessage::from_json(&json).unwrap_or_else(|| panic!("{json} did not parse"));
            assert_eq!(back, message, "round trip changed {json}");
        }
    }

    #[test]
    fn commands_and_control_messages_round_trip() {
        let messages = [
            TabMessage::Hello { from: "t2".into() },
            TabMessage::Leader { from: "t1".into() },
            TabMessage::Unread { from: "t1".into(), count: 3 },
            TabMessage::Failed { from: "t1".into(), to: "t2".into(), message: "not open".into() },
            TabMessage::Panel { from: "t2".into(), open: true },
            TabMessage::Resigned { from: "t1".into() },
            TabMessage::Attach { from: "t2".into() },
            TabMessage::Uploads {
                from: "t1".into(),
                uploads: vec![SharedUpload { attachment_id: "a-1".into(), file_name: "cat.png".into(), percent: 40 }],
            },
            TabMessage::Command { from: "t2".into(), command: TabCommand::Open },
            TabMessage::Command { from: "t2".into(), command: TabCommand::SendText { key: "k".into(), text: "hi".into() } },
            TabMessage::Command {
                from: "t2".into(),
                command: TabCommand::QuickReply { text: "Yes".into(), payload: "y".into(), origin: Some(MessageId::new("m")) },
            },
            TabMessage::Command { from: "t2".into(), command: TabCommand::RetryMessage { key: EntryKey("k".into()) } },
            TabMessage::Command { from: "t2".into(), command: TabCommand::RefreshDownload { attachment_id: AttachmentId::new("a") } },
            TabMessage::Command { from: "t2".into(), command: TabCommand::ClearConversation },
            TabMessage::Command {
                from: "t2".into(),
                command: TabCommand::SetCustomAttributes { attributes: BTreeMap::from([("plan".into(), "gold".into())]) },
            },
        ];
        for message in messages {
            assert_eq!(TabMessage::from_json(&message.to_json()), Some(message.clone()));
        }
    }

    #[test]
    fn foreign_or_broken_channel_messages_are_ignored() {
        for text in [
            "",
            "{}",
            "null",
            "{\"launchMissiles\":{\"from\":\"x\"}}",
            "{\"hello\":{}}",
            "{\"command\":{\"from\":\"x\",\"command\":\"fly\"}}",
            // The internally tagged form of an older version is not mistaken for a message.
            "{\"type\":\"hello\",\"from\":\"x\"}",
            "not json",
        ] {
            assert_eq!(TabMessage::from_json(text), None, "{text:?} was accepted");
        }
    }

    #[test]
    fn the_wire_form_is_externally_tagged_and_compact() {
        assert_eq!(TabMessage::Hello { from: "t2".into() }.to_json(), r#"{"hello":{"from":"t2"}}"#);
        let typing = TabMessage::Command { from: "t2".into(), command: TabCommand::Typing };
        assert_eq!(typing.to_json(), r#"{"command":{"from":"t2","command":"typing"}}"#);
    }

    #[test]
    fn snapshot_rebuilds_state_then_replaces_the_transcript() {
        let transcript = vec![entry("k1", Author::Agent, DeliveryStatus::Sent)];
        let snapshot = Snapshot::from_parts(SnapshotParts {
            state: Some(ConnectionState::Connected),
            expires_at: Some(UnixMillis(50)),
            ttl_secs: Some(60),
            expiring_soon: true,
            transcript: transcript.clone(),
            older_available: true,
            unread: 2,
            ..SnapshotParts::default()
        });
        let events: Vec<Event> = snapshot.events.iter().map(|event| event.0.clone()).collect();
        assert_eq!(
            events,
            vec![
                Event::StateChanged(ConnectionState::Connected),
                Event::ExpiryKnown { expires_at: UnixMillis(50), duration_secs: 60 },
                Event::ExpiringSoon { expires_at: UnixMillis(50) },
                Event::TranscriptReset(transcript),
                Event::OlderAvailable(true),
                Event::AgentTypingStopped,
            ]
        );
        assert_eq!(snapshot.unread, 2);
        let message = TabMessage::Snapshot { from: "t1".into(), to: Some("t2".into()), snapshot };
        assert_eq!(TabMessage::from_json(&message.to_json()), Some(message));
    }

    #[test]
    fn upload_grants_stay_in_the_leader() {
        let grant = Event::Attachment(AttachmentUpdate::UploadGranted {
            attachment_id: AttachmentId::new("a"),
            url: "https://upload".into(),
            headers: BTreeMap::new(),
        });
        assert!(!is_mirrored(&grant));
        assert!(is_mirrored(&Event::Expired));
    }

    #[test]
    fn follower_checks_match_the_engine_rules() {
        assert_eq!(check_text("  ", 10, &ConnectionState::Connected), Err(CommandError::EmptyMessage));
        assert_eq!(check_text("abcdefghijk", 10, &ConnectionState::Connected), Err(CommandError::TooLong { max: 10 }));
        assert_eq!(check_text("héllo", 5, &ConnectionState::Connected), Ok(()), "chars, not bytes");
        assert_eq!(check_text("hi", 10, &ConnectionState::ReadOnly), Err(CommandError::ReadOnly));
        assert_eq!(check_text("hi", 10, &ConnectionState::Offline), Ok(()), "offline sends are queued");
    }

    #[test]
    fn unread_counts_only_while_no_tab_shows_the_panel() {
        let mut panels = PanelTracker::default();
        assert!(panels.counts_unread(false));
        assert!(!panels.counts_unread(true));
        panels.set("t2", true);
        assert!(!panels.counts_unread(false));
        panels.set("t3", true);
        panels.set("t2", false);
        assert!(!panels.counts_unread(false), "t3 still shows the panel");
        panels.set("t3", false);
        assert!(panels.counts_unread(false));
        panels.set("t4", true);
        panels.clear();
        assert!(panels.counts_unread(false));
    }

    #[test]
    fn followers_ignore_a_former_leader() {
        let mut watch = LeaderWatch::default();
        let event = |from: &str| TabMessage::Event { from: from.into(), event: MirroredEvent(Event::Expired) };
        assert!(watch.admit(&event("t1")), "before any leader is known, events are taken");
        assert!(watch.admit(&TabMessage::Leader { from: "t2".into() }));
        assert_eq!(watch.leader(), Some("t2"));
        assert!(!watch.admit(&event("t1")), "t1 stepped down");
        assert!(watch.admit(&event("t2")));
        assert!(!watch.admit(&TabMessage::Resigned { from: "t1".into() }));
        assert_eq!(watch.leader(), Some("t2"), "a stale resignation changes nothing");
        assert!(!watch.admit(&TabMessage::Resigned { from: "t2".into() }));
        assert_eq!(watch.leader(), None);
        assert!(!watch.admit(&TabMessage::Hello { from: "t3".into() }));
        assert!(!watch.admit(&TabMessage::Command { from: "t3".into(), command: TabCommand::Typing }));
        assert!(!watch.admit(&TabMessage::Attach { from: "t3".into() }), "only the leader takes files");
        assert!(watch.admit(&TabMessage::Leader { from: "t2".into() }));
        assert!(watch.admit(&TabMessage::Uploads { from: "t2".into(), uploads: Vec::new() }));
        assert!(!watch.admit(&TabMessage::Uploads { from: "t1".into(), uploads: Vec::new() }), "uploads of a former leader");
    }

    #[test]
    fn a_free_lease_is_claimed_then_confirmed() {
        let mut election = LeaseElection::new("a");
        let step = election.look(None, 1_000);
        assert_eq!(step.write, Some(Lease { owner: "a".into(), expires_at: 1_000 + LEASE_TTL_MS }));
        assert_eq!(step.lead, None, "a claim is not leadership yet");
        assert_eq!(step.next_look_ms, LEASE_CONFIRM_MS);
        let stored = step.write;
        let step = election.look(stored.as_ref(), 1_200);
        assert_eq!(step.lead, Some(true));
        assert!(election.is_leading());
        assert_eq!(step.next_look_ms, LEASE_RENEW_MS);
        let step = election.look(step.write.as_ref(), 2_200);
        assert_eq!(step.lead, None, "already leading");
        assert_eq!(step.write.map(|lease| lease.expires_at), Some(2_200 + LEASE_TTL_MS));
    }

    #[test]
    fn a_lost_race_for_the_lease_means_following() {
        let mut a = LeaseElection::new("a");
        let mut b = LeaseElection::new("b");
        let claim_a = a.look(None, 0).write;
        let claim_b = b.look(None, 1).write;
        // b wrote last: its claim is what both read back.
        let a_step = a.look(claim_b.as_ref(), 200);
        assert_eq!((a_step.write, a_step.lead), (None, None));
        assert!(!a.is_leading());
        let b_step = b.look(claim_b.as_ref(), 201);
        assert_eq!(b_step.lead, Some(true));
        assert_ne!(claim_a, claim_b);
    }

    #[test]
    fn a_stale_lease_is_taken_over_and_the_old_leader_steps_down() {
        let mut old = LeaseElection::new("old");
        let claim = old.look(None, 0).write;
        let renewed = old.look(claim.as_ref(), 200).write;
        assert!(old.is_leading());
        let mut next = LeaseElection::new("next");
        let fresh = next.look(renewed.as_ref(), 1_000);
        assert_eq!((fresh.write, fresh.lead), (None, None), "a live lease is respected");
        // The old leader froze: its lease is stale 2.5 s after the last renewal.
        let stale_at = 200 + LEASE_TTL_MS;
        let claim = next.look(renewed.as_ref(), stale_at).write;
        assert_eq!(claim.as_ref().map(|lease| lease.owner.as_str()), Some("next"));
        assert_eq!(next.look(claim.as_ref(), stale_at + 200).lead, Some(true));
        // The old leader wakes up and sees another owner: it steps down.
        assert_eq!(old.look(claim.as_ref(), stale_at + 300).lead, Some(false));
        assert!(!old.is_leading());
    }

    #[test]
    fn a_leader_keeps_a_lease_that_went_stale_unnoticed() {
        let mut leader = LeaseElection::new("a");
        let claim = leader.look(None, 0).write;
        leader.look(claim.as_ref(), 100);
        let late = leader.look(claim.as_ref(), 60_000);
        assert_eq!(late.lead, None, "no step down for a late timer when nobody took over");
        assert!(leader.is_leading());
    }

    #[test]
    fn resigning_removes_only_an_own_lease() {
        let mut election = LeaseElection::new("a");
        let claim = election.look(None, 0).write;
        election.look(claim.as_ref(), 100);
        assert!(election.resign(claim.as_ref()));
        assert!(!election.is_leading());
        let other = Lease { owner: "b".into(), expires_at: 10 };
        assert!(!election.resign(Some(&other)));
        assert_eq!(Lease::parse(&other.to_json()), Some(other));
        assert_eq!(Lease::parse("{broken"), None);
    }
}
