//! One connection per browser: the pure part (no browser APIs), tested natively.
//!
//! Across the tabs of one origin and deployment, one tab — the **leader** — runs the session
//! engine and holds the WebSocket. The others — **followers** — mirror the leader's UI events
//! and send their user commands to it. Tabs talk over a `BroadcastChannel`
//! (`threadline:{deploymentId}`) in JSON strings ([`TabMessage`]).
//!
//! * A new tab says [`TabMessage::Hello`]; the leader answers with a [`Snapshot`] (connection
//!   state, transcript, expiry, unread count), then streams every engine [`Event`] as
//!   [`TabMessage::Event`] — once another tab has spoken to it ([`Audience`]): a leader alone
//!   posts no events, and the first tab to speak gets a snapshot of what was not mirrored.
//! * A follower's user commands ([`TabCommand`]) go to the leader, which runs them on its engine,
//!   so the result shows in every tab with the engine's status (queued, sending, sent).
//! * The leader is elected with the Web Locks API, or with a lease in `localStorage` where locks
//!   are missing ([`LeaseElection`]). A new leader rebuilds the engine from storage (same token,
//!   same outbox) and announces itself with [`TabMessage::Leader`]; the followers answer, and the first answer
//!   brings them a snapshot.
//! * Unread counting happens in the leader only ([`PanelTracker`]); followers show its count.
//!   So do the new-message sound and notifications (`platform::notify`): only the tab running
//!   the engine executes its events.
//! * A follower's file goes to the leader as [`TabMessage::Attach`] with an in-memory copy of
//!   the `File` next to the JSON; the leader uploads it and shares the progress of every upload
//!   ([`TabMessage::Uploads`]). The follower keeps the file until a leader settles it
//!   ([`TabMessage::FileSettled`]: its message is queued, or why it cannot be sent) and posts it
//!   again to each new leader meanwhile, so a leader that goes away mid-upload loses nothing; a
//!   leader ignores a file it already has or has settled ([`SettledFiles`]).
//!
//! Engine events are encoded by hand with exhaustive matches over the core types (below), so
//! a variant added to the core fails to compile here instead of being dropped silently.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use threadline_core::protocol::{AttachmentId, Content, MessageId};
use threadline_core::session::{
    AttachmentUpdate, AuthFailure, Author, CloseReason, CommandError, ConnectionState, DeliveryStatus, Direction, EntryKey,
    EntryKind, Event, FailureReason, NoticeKind, OrderKey, SessionInfo, SessionNotice, TranscriptEntry, UserError,
};
use threadline_core::time::UnixMillis;

use crate::model::UploadRow;

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
/// On the wire a JSON list `[kind, from, fields…]`, e.g. `["hello","t2"]` (see "The wire
/// encoding" below for why it is not a serde derive).
#[derive(Clone, Debug, PartialEq)]
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
        /// The follower's id for this file: it posts the file again to each new leader until
        /// one settles it, and a leader that already has it ignores the copy.
        file: String,
    },
    /// The leader is done with a follower's file: its message is queued (`error` is `None`) or
    /// it cannot be sent (`error` says why, for the user). The follower then forgets the file.
    FileSettled {
        /// The leader.
        from: String,
        /// The follower that attached the file.
        to: String,
        /// The follower's id for the file ([`TabMessage::Attach`]).
        file: String,
        /// Why the file was not sent.
        error: Option<String>,
    },
    /// The leader's uploads in progress changed (rows added, progress, rows gone).
    Uploads {
        /// The leader.
        from: String,
        /// Every upload in progress, in order.
        uploads: Vec<UploadRow>,
    },
}

impl TabMessage {
    /// Encodes as the JSON string posted on the channel.
    pub fn to_json(&self) -> String {
        self.encode().to_string()
    }

    /// Decodes a channel message, saying what is wrong with one that does not fit (another
    /// version's or another script's message: the caller ignores it).
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|error| error.to_string()).and_then(Self::decode)
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
            | Self::Attach { from, .. }
            | Self::FileSettled { from, .. }
            | Self::Uploads { from, .. } => from,
        }
    }
}

/// A user command a follower sends to the leader.
/// On the wire a JSON list `[kind, fields…]`, e.g. `["typing"]`.
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// State-setting events, in the order to apply them.
    pub events: Vec<MirroredEvent>,
    /// The leader's unread count.
    pub unread: usize,
    /// The leader's uploads in progress (a new leader has none: stale rows go away).
    pub uploads: Vec<UploadRow>,
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
    pub uploads: Vec<UploadRow>,
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

/// The leader's knowledge of whether any other tab listens on the channel. Alone (the common
/// case) it would otherwise encode and post every engine event for no reader. Any message from
/// another tab proves one; followers answer each new leader's [`TabMessage::Leader`] with their
/// panel state, so a new leader hears of them at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audience {
    heard: bool,
}

impl Audience {
    /// Notes a message from another tab. True for the first one since this tab began to lead:
    /// the events it did not mirror until then must reach the other tabs as a snapshot.
    pub fn hear(&mut self) -> bool {
        !std::mem::replace(&mut self.heard, true)
    }

    /// Whether mirroring an event reaches anyone.
    pub fn is_listening(&self) -> bool {
        self.heard
    }

    /// Forgets the other tabs (a new leader hears them again).
    pub fn clear(&mut self) {
        self.heard = false;
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
            | TabMessage::FileSettled { from, .. }
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

/// The value of `threadline:{deploymentId}:leader` in `localStorage`:
/// `{"owner":…,"expiresAt":…}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The holding tab.
    pub owner: String,
    /// Wall-clock ms after which any tab may take it.
    pub expires_at: u64,
}

impl Lease {
    /// Parses a stored lease; anything unreadable counts as no lease.
    pub fn parse(raw: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(raw).ok()?;
        Some(Self { owner: value.get("owner")?.as_str()?.to_owned(), expires_at: value.get("expiresAt")?.as_u64()? })
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        let mut object = serde_json::Map::new();
        object.insert("owner".to_owned(), Value::from(self.owner.as_str()));
        object.insert("expiresAt".to_owned(), Value::from(self.expires_at));
        Value::Object(object).to_string()
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
// The wire encoding
//
// Written by hand instead of derived: serde's derives for these messages and for "remote"
// mirrors of the core's UI types cost ~130 KB of wasm. Every value is a JSON list — `[tag,
// fields…]` for enums, `[fields…]` for structs — built and read through `serde_json::Value`,
// whose parser and printer the app has anyway. The matches over core types have no wildcard
// arm (structs are destructured), so a variant or field added to the core fails to compile
// here instead of being dropped silently. Anything another version posts that does not fit is
// a decode error: the message is ignored, nothing panics.

/// An engine [`Event`] that can cross the channel.
#[derive(Clone, Debug, PartialEq)]
pub struct MirroredEvent(pub Event);

/// Leader: the ids of the followers' files it settled lately, so a copy posted again (the
/// follower had not yet heard the answer when a new leader was announced) is not sent twice.
#[derive(Debug, Default)]
pub struct SettledFiles(std::collections::VecDeque<String>);

impl SettledFiles {
    /// How many ids are kept (files settle within seconds; copies arrive right after).
    pub const KEPT: usize = 64;

    /// Notes that `file` was settled.
    pub fn remember(&mut self, file: String) {
        if self.0.len() == Self::KEPT {
            self.0.pop_front();
        }
        self.0.push_back(file);
    }

    /// True when `file` was settled lately.
    pub fn contains(&self, file: &str) -> bool {
        self.0.iter().any(|settled| settled == file)
    }
}

/// A JSON list of values convertible with `Value::from`.
macro_rules! list {
    ($($item:expr),* $(,)?) => { Value::Array(vec![$(Value::from($item)),*]) };
}

impl TabMessage {
    fn encode(&self) -> Value {
        match self {
            Self::Hello { from } => list!["hello", from.as_str()],
            Self::Leader { from } => list!["leader", from.as_str()],
            Self::Snapshot { from, to, snapshot } => list!["snapshot", from.as_str(), to.as_deref(), snapshot.encode()],
            Self::Event { from, event } => list!["event", from.as_str(), encode_event(&event.0)],
            Self::Unread { from, count } => list!["unread", from.as_str(), *count],
            Self::Command { from, command } => list!["command", from.as_str(), command.encode()],
            Self::Failed { from, to, message } => list!["failed", from.as_str(), to.as_str(), message.as_str()],
            Self::Panel { from, open } => list!["panel", from.as_str(), *open],
            Self::Resigned { from } => list!["resigned", from.as_str()],
            Self::Attach { from, file } => list!["attach", from.as_str(), file.as_str()],
            Self::FileSettled { from, to, file, error } => list!["fileSettled", from.as_str(), to.as_str(), file.as_str(), error.as_deref()],
            Self::Uploads { from, uploads } => list!["uploads", from.as_str(), encode_uploads(uploads)],
        }
    }

    fn decode(value: Value) -> Result<Self, String> {
        let (tag, mut fields) = Fields::tagged(value)?;
        let from = fields.string()?;
        Ok(match tag.as_str() {
            "hello" => Self::Hello { from },
            "leader" => Self::Leader { from },
            "snapshot" => Self::Snapshot { from, to: fields.optional_string()?, snapshot: Snapshot::decode(fields.next()?)? },
            "event" => Self::Event { from, event: MirroredEvent(decode_event(fields.next()?)?) },
            "unread" => Self::Unread { from, count: fields.number()? },
            "command" => Self::Command { from, command: TabCommand::decode(fields.next()?)? },
            "failed" => Self::Failed { from, to: fields.string()?, message: fields.string()? },
            "panel" => Self::Panel { from, open: fields.bool()? },
            "resigned" => Self::Resigned { from },
            "attach" => Self::Attach { from, file: fields.string()? },
            "fileSettled" => Self::FileSettled { from, to: fields.string()?, file: fields.string()?, error: fields.optional_string()? },
            "uploads" => Self::Uploads { from, uploads: fields.list(decode_upload)? },
            _ => return Err(unknown("tab message", &tag)),
        })
    }
}

impl TabCommand {
    fn encode(&self) -> Value {
        match self {
            Self::Open => list!["open"],
            Self::SendText { key, text } => list!["sendText", key.as_str(), text.as_str()],
            Self::Typing => list!["typing"],
            Self::RetryMessage { key } => list!["retryMessage", key.as_str()],
            Self::RetryConnection => list!["retryConnection"],
            Self::StartNewConversation => list!["startNewConversation"],
            Self::LoadOlder => list!["loadOlder"],
            Self::QuickReply { text, payload, origin } => list!["quickReply", text.as_str(), payload.as_str(), optional_id(origin)],
            Self::Postback { text, payload, origin } => list!["postback", text.as_str(), payload.as_str(), optional_id(origin)],
            Self::DatePicker { date_time, origin } => list!["datePicker", date_time.as_str(), optional_id(origin)],
            Self::RefreshDownload { attachment_id } => list!["refreshDownload", attachment_id.as_str()],
            Self::ClearConversation => list!["clearConversation"],
            Self::SetCustomAttributes { attributes } => list!["setCustomAttributes", string_map(attributes)],
        }
    }

    fn decode(value: Value) -> Result<Self, String> {
        let (tag, mut fields) = Fields::tagged(value)?;
        Ok(match tag.as_str() {
            "open" => Self::Open,
            "sendText" => Self::SendText { key: fields.string()?, text: fields.string()? },
            "typing" => Self::Typing,
            "retryMessage" => Self::RetryMessage { key: EntryKey(fields.string()?) },
            "retryConnection" => Self::RetryConnection,
            "startNewConversation" => Self::StartNewConversation,
            "loadOlder" => Self::LoadOlder,
            "quickReply" => Self::QuickReply { text: fields.string()?, payload: fields.string()?, origin: fields.message_id()? },
            "postback" => Self::Postback { text: fields.string()?, payload: fields.string()?, origin: fields.message_id()? },
            "datePicker" => Self::DatePicker { date_time: fields.string()?, origin: fields.message_id()? },
            "refreshDownload" => Self::RefreshDownload { attachment_id: AttachmentId(fields.string()?) },
            "clearConversation" => Self::ClearConversation,
            "setCustomAttributes" => Self::SetCustomAttributes { attributes: fields.string_map()? },
            _ => return Err(unknown("command", &tag)),
        })
    }
}

impl Snapshot {
    fn encode(&self) -> Value {
        let events = self.events.iter().map(|event| encode_event(&event.0)).collect::<Vec<_>>();
        list![events, self.unread, encode_uploads(&self.uploads)]
    }

    fn decode(value: Value) -> Result<Self, String> {
        let mut fields = Fields::of(value)?;
        Ok(Self {
            events: fields.list(|event| decode_event(event).map(MirroredEvent))?,
            unread: fields.number()?,
            uploads: fields.list(decode_upload)?,
        })
    }
}

fn decode_upload(value: Value) -> Result<UploadRow, String> {
    let mut fields = Fields::of(value)?;
    Ok(UploadRow { attachment_id: fields.string()?, file_name: fields.string()?, percent: fields.number()? })
}

fn encode_uploads(uploads: &[UploadRow]) -> Value {
    Value::Array(uploads.iter().map(|upload| list![upload.attachment_id.as_str(), upload.file_name.as_str(), upload.percent]).collect())
}

fn optional_id(id: &Option<MessageId>) -> Option<&str> {
    id.as_ref().map(MessageId::as_str)
}

// Maps here are filled by `insert`, not `collect`: collecting into a BTreeMap sorts its input
// with a stable sort instantiated for each call site's iterator type (kilobytes of wasm each).
fn string_map(map: &BTreeMap<String, String>) -> Value {
    let mut object = serde_json::Map::new();
    for (name, value) in map {
        object.insert(name.clone(), Value::from(value.as_str()));
    }
    Value::Object(object)
}

fn encode_event(event: &Event) -> Value {
    match event {
        Event::StateChanged(state) => list!["stateChanged", encode_state(state)],
        Event::SessionConfigured(info) => {
            let SessionInfo {
                new_session,
                read_only,
                cleared_existing_session,
                max_custom_data_bytes,
                allowed_upload_types,
                max_upload_kb,
                blocked_extensions,
            } = info;
            let info = list![
                *new_session,
                *read_only,
                *cleared_existing_session,
                *max_custom_data_bytes,
                allowed_upload_types.clone(),
                *max_upload_kb,
                blocked_extensions.clone(),
            ];
            list!["sessionConfigured", info]
        }
        Event::ExpiryKnown { expires_at, duration_secs } => list!["expiryKnown", expires_at.0, *duration_secs],
        Event::ExpiringSoon { expires_at } => list!["expiringSoon", expires_at.0],
        Event::ExpiringCancelled => list!["expiringCancelled"],
        Event::Expired => list!["expired"],
        Event::TranscriptReset(entries) => list!["transcriptReset", entries.iter().map(encode_entry).collect::<Vec<_>>()],
        Event::EntryUpserted(entry) => list!["entryUpserted", encode_entry(entry)],
        Event::EntryRemoved(key) => list!["entryRemoved", key.as_str()],
        Event::AgentTyping { until } => list!["agentTyping", until.0],
        Event::AgentTypingStopped => list!["agentTypingStopped"],
        Event::ConversationCleared => list!["conversationCleared"],
        Event::ReadOnly => list!["readOnly"],
        Event::ConnectionClosed { reason } => list!["connectionClosed", encode_close(reason)],
        Event::LoggedOut => list!["loggedOut"],
        Event::Attachment(update) => list!["attachment", encode_attachment(update)],
        Event::Error(error) => list!["error", encode_user_error(error)],
        Event::OlderAvailable(more) => list!["olderAvailable", *more],
        Event::AuthorizationRequired { reason } => list!["authorizationRequired", encode_auth_failure(reason)],
        Event::Notice(SessionNotice::ClearedExistingSession) => list!["clearedExistingSession"],
    }
}

fn decode_event(value: Value) -> Result<Event, String> {
    let (tag, mut fields) = Fields::tagged(value)?;
    Ok(match tag.as_str() {
        "stateChanged" => Event::StateChanged(decode_state(fields.next()?)?),
        "sessionConfigured" => {
            let mut info = Fields::of(fields.next()?)?;
            Event::SessionConfigured(SessionInfo {
                new_session: info.bool()?,
                read_only: info.bool()?,
                cleared_existing_session: info.bool()?,
                max_custom_data_bytes: info.optional(Value::as_i64)?,
                allowed_upload_types: info.list(string)?,
                max_upload_kb: info.optional(Value::as_u64)?,
                blocked_extensions: info.list(string)?,
            })
        }
        "expiryKnown" => Event::ExpiryKnown { expires_at: UnixMillis(fields.number()?), duration_secs: fields.number()? },
        "expiringSoon" => Event::ExpiringSoon { expires_at: UnixMillis(fields.number()?) },
        "expiringCancelled" => Event::ExpiringCancelled,
        "expired" => Event::Expired,
        "transcriptReset" => Event::TranscriptReset(fields.list(decode_entry)?),
        "entryUpserted" => Event::EntryUpserted(decode_entry(fields.next()?)?),
        "entryRemoved" => Event::EntryRemoved(EntryKey(fields.string()?)),
        "agentTyping" => Event::AgentTyping { until: UnixMillis(fields.number()?) },
        "agentTypingStopped" => Event::AgentTypingStopped,
        "conversationCleared" => Event::ConversationCleared,
        "readOnly" => Event::ReadOnly,
        "connectionClosed" => Event::ConnectionClosed { reason: decode_close(fields.next()?)? },
        "loggedOut" => Event::LoggedOut,
        "attachment" => Event::Attachment(decode_attachment(fields.next()?)?),
        "error" => Event::Error(decode_user_error(fields.next()?)?),
        "olderAvailable" => Event::OlderAvailable(fields.bool()?),
        "authorizationRequired" => Event::AuthorizationRequired { reason: decode_auth_failure(fields.next()?)? },
        "clearedExistingSession" => Event::Notice(SessionNotice::ClearedExistingSession),
        _ => return Err(unknown("event", &tag)),
    })
}

fn encode_state(state: &ConnectionState) -> Value {
    match state {
        ConnectionState::Idle => list!["idle"],
        ConnectionState::Connecting => list!["connecting"],
        ConnectionState::Connected => list!["connected"],
        ConnectionState::Reconnecting { attempt, next_attempt_at } => list!["reconnecting", *attempt, next_attempt_at.map(|at| at.0)],
        ConnectionState::Offline => list!["offline"],
        ConnectionState::ReadOnly => list!["readOnly"],
        ConnectionState::Expired => list!["expired"],
        ConnectionState::Closed { reason } => list!["closed", encode_close(reason)],
        ConnectionState::Error { code, message } => list!["error", *code, message.as_str()],
    }
}

fn decode_state(value: Value) -> Result<ConnectionState, String> {
    let (tag, mut fields) = Fields::tagged(value)?;
    Ok(match tag.as_str() {
        "idle" => ConnectionState::Idle,
        "connecting" => ConnectionState::Connecting,
        "connected" => ConnectionState::Connected,
        "reconnecting" => ConnectionState::Reconnecting {
            attempt: fields.number()?,
            next_attempt_at: fields.optional(Value::as_u64)?.map(UnixMillis),
        },
        "offline" => ConnectionState::Offline,
        "readOnly" => ConnectionState::ReadOnly,
        "expired" => ConnectionState::Expired,
        "closed" => ConnectionState::Closed { reason: decode_close(fields.next()?)? },
        "error" => ConnectionState::Error { code: fields.number()?, message: fields.string()? },
        _ => return Err(unknown("connection state", &tag)),
    })
}

fn encode_close(reason: &CloseReason) -> Value {
    match reason {
        CloseReason::User => list!["user"],
        CloseReason::ServerClosed => list!["serverClosed"],
        CloseReason::ConversationCleared => list!["conversationCleared"],
        CloseReason::SignedIn => list!["signedIn"],
        CloseReason::SessionLimitReached => list!["sessionLimitReached"],
        CloseReason::LoggedOut => list!["loggedOut"],
        CloseReason::Other(text) => list!["other", text.as_str()],
    }
}

fn decode_close(value: Value) -> Result<CloseReason, String> {
    let (tag, mut fields) = Fields::tagged(value)?;
    Ok(match tag.as_str() {
        "user" => CloseReason::User,
        "serverClosed" => CloseReason::ServerClosed,
        "conversationCleared" => CloseReason::ConversationCleared,
        "signedIn" => CloseReason::SignedIn,
        "sessionLimitReached" => CloseReason::SessionLimitReached,
        "loggedOut" => CloseReason::LoggedOut,
        "other" => CloseReason::Other(fields.string()?),
        _ => return Err(unknown("close reason", &tag)),
    })
}

fn encode_entry(entry: &TranscriptEntry) -> Value {
    let TranscriptEntry { key, message_id, order, direction, author, display_name, avatar_url, text, content, status, time, kind } = entry;
    let direction = match direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    };
    let author = match author {
        Author::Customer => "customer",
        Author::Agent => "agent",
        Author::Bot => "bot",
        Author::System => "system",
    };
    let status = match status {
        DeliveryStatus::Sending => list!["sending"],
        DeliveryStatus::Queued => list!["queued"],
        DeliveryStatus::Sent => list!["sent"],
        DeliveryStatus::Failed { reason } => list!["failed", encode_failure(reason)],
    };
    let kind = match kind {
        EntryKind::Message => list!["message"],
        EntryKind::Notice(notice) => list![
            "notice",
            match notice {
                NoticeKind::ConversationStarted => "conversationStarted",
                NoticeKind::AgentLeft => "agentLeft",
                NoticeKind::ConversationEnded => "conversationEnded",
                NoticeKind::SignedIn => "signedIn",
            }
        ],
    };
    list![
        key.as_str(),
        optional_id(message_id),
        order.time_ms,
        order.seq,
        direction,
        author,
        display_name.as_deref(),
        avatar_url.as_deref(),
        text.as_str(),
        content.iter().map(Content::to_value).collect::<Vec<_>>(),
        status,
        time.map(|time| time.0),
        kind,
    ]
}

fn decode_entry(value: Value) -> Result<TranscriptEntry, String> {
    let mut fields = Fields::of(value)?;
    Ok(TranscriptEntry {
        key: EntryKey(fields.string()?),
        message_id: fields.message_id()?,
        order: OrderKey { time_ms: fields.number()?, seq: fields.number()? },
        direction: match fields.string()?.as_str() {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            other => return Err(unknown("direction", other)),
        },
        author: match fields.string()?.as_str() {
            "customer" => Author::Customer,
            "agent" => Author::Agent,
            "bot" => Author::Bot,
            "system" => Author::System,
            other => return Err(unknown("author", other)),
        },
        display_name: fields.optional_string()?,
        avatar_url: fields.optional_string()?,
        text: fields.string()?,
        content: fields.list(|content| Ok(Content::from_value(content)))?,
        status: {
            let (tag, mut status) = Fields::tagged(fields.next()?)?;
            match tag.as_str() {
                "sending" => DeliveryStatus::Sending,
                "queued" => DeliveryStatus::Queued,
                "sent" => DeliveryStatus::Sent,
                "failed" => DeliveryStatus::Failed { reason: decode_failure(status.next()?)? },
                _ => return Err(unknown("delivery status", &tag)),
            }
        },
        time: fields.optional(Value::as_u64)?.map(UnixMillis),
        kind: {
            let (tag, mut kind) = Fields::tagged(fields.next()?)?;
            match tag.as_str() {
                "message" => EntryKind::Message,
                "notice" => EntryKind::Notice(match kind.string()?.as_str() {
                    "conversationStarted" => NoticeKind::ConversationStarted,
                    "agentLeft" => NoticeKind::AgentLeft,
                    "conversationEnded" => NoticeKind::ConversationEnded,
                    "signedIn" => NoticeKind::SignedIn,
                    other => return Err(unknown("notice", other)),
                }),
                _ => return Err(unknown("entry kind", &tag)),
            }
        },
    })
}

fn encode_failure(reason: &FailureReason) -> Value {
    match reason {
        FailureReason::MessageTooLong => list!["messageTooLong"],
        FailureReason::CustomAttributesTooLarge => list!["customAttributesTooLarge"],
        FailureReason::RateLimited => list!["rateLimited"],
        FailureReason::AttachmentRejected { code } => list!["attachmentRejected", *code],
        FailureReason::DeliveryUnconfirmed => list!["deliveryUnconfirmed"],
        FailureReason::Rejected { code } => list!["rejected", *code],
    }
}

fn decode_failure(value: Value) -> Result<FailureReason, String> {
    let (tag, mut fields) = Fields::tagged(value)?;
    Ok(match tag.as_str() {
        "messageTooLong" => FailureReason::MessageTooLong,
        "customAttributesTooLarge" => FailureReason::CustomAttributesTooLarge,
        "rateLimited" => FailureReason::RateLimited,
        "attachmentRejected" => FailureReason::AttachmentRejected { code: fields.number()? },
        "deliveryUnconfirmed" => FailureReason::DeliveryUnconfirmed,
        "rejected" => FailureReason::Rejected { code: fields.number()? },
        _ => return Err(unknown("failure reason", &tag)),
    })
}

fn encode_attachment(update: &AttachmentUpdate) -> Value {
    match update {
        AttachmentUpdate::UploadGranted { attachment_id, url, headers } => {
            list!["uploadGranted", attachment_id.as_str(), url.as_str(), string_map(headers)]
        }
        AttachmentUpdate::DownloadUrlRefreshed { attachment_id, url } => list!["downloadUrlRefreshed", attachment_id.as_str(), url.as_str()],
        AttachmentUpdate::Uploaded { attachment_id, download_url } => list!["uploaded", attachment_id.as_str(), download_url.as_str()],
        AttachmentUpdate::Rejected { attachment_id, code, message } => list!["rejected", attachment_id.as_str(), *code, message.as_str()],
        AttachmentUpdate::Deleted { attachment_id } => list!["deleted", attachment_id.as_str()],
    }
}

fn decode_attachment(value: Value) -> Result<AttachmentUpdate, String> {
    let (tag, mut fields) = Fields::tagged(value)?;
    let attachment_id = AttachmentId(fields.string()?);
    Ok(match tag.as_str() {
        "uploadGranted" => AttachmentUpdate::UploadGranted { attachment_id, url: fields.string()?, headers: fields.string_map()? },
        "downloadUrlRefreshed" => AttachmentUpdate::DownloadUrlRefreshed { attachment_id, url: fields.string()? },
        "uploaded" => AttachmentUpdate::Uploaded { attachment_id, download_url: fields.string()? },
        "rejected" => AttachmentUpdate::Rejected { attachment_id, code: fields.number()?, message: fields.string()? },
        "deleted" => AttachmentUpdate::Deleted { attachment_id },
        _ => return Err(unknown("attachment update", &tag)),
    })
}

fn encode_user_error(error: &UserError) -> Value {
    match error {
        UserError::MessageTooLong { key } => list!["messageTooLong", key.as_ref().map(EntryKey::as_str)],
        UserError::CustomAttributesTooLarge => list!["customAttributesTooLarge"],
        UserError::RateLimited { retry_after_secs } => list!["rateLimited", *retry_after_secs],
        UserError::Forbidden { message } => list!["forbidden", message.as_str()],
        UserError::AuthorizationRequired => list!["authorizationRequired"],
        UserError::ClearConversationFailed => list!["clearConversationFailed"],
        UserError::FeatureUnavailable => list!["featureUnavailable"],
        UserError::HistoryUnavailable { http_status } => list!["historyUnavailable", *http_status],
        UserError::Server { code, message } => list!["server", *code, message.as_str()],
    }
}

fn decode_user_error(value: Value) -> Result<UserError, String> {
    let (tag, mut fields) = Fields::tagged(value)?;
    Ok(match tag.as_str() {
        "messageTooLong" => UserError::MessageTooLong { key: fields.optional_string()?.map(EntryKey) },
        "customAttributesTooLarge" => UserError::CustomAttributesTooLarge,
        "rateLimited" => UserError::RateLimited { retry_after_secs: fields.number()? },
        "forbidden" => UserError::Forbidden { message: fields.string()? },
        "authorizationRequired" => UserError::AuthorizationRequired,
        "clearConversationFailed" => UserError::ClearConversationFailed,
        "featureUnavailable" => UserError::FeatureUnavailable,
        "historyUnavailable" => UserError::HistoryUnavailable { http_status: fields.number()? },
        "server" => UserError::Server { code: fields.number()?, message: fields.string()? },
        _ => return Err(unknown("error", &tag)),
    })
}

fn encode_auth_failure(reason: &AuthFailure) -> Value {
    match reason {
        AuthFailure::Unauthorized => list!["unauthorized"],
        AuthFailure::NoRefreshToken => list!["noRefreshToken"],
        AuthFailure::RefreshFailed { http_status } => list!["refreshFailed", *http_status],
        AuthFailure::Rejected { message } => list!["rejected", message.as_str()],
    }
}

fn decode_auth_failure(value: Value) -> Result<AuthFailure, String> {
    let (tag, mut fields) = Fields::tagged(value)?;
    Ok(match tag.as_str() {
        "unauthorized" => AuthFailure::Unauthorized,
        "noRefreshToken" => AuthFailure::NoRefreshToken,
        "refreshFailed" => AuthFailure::RefreshFailed { http_status: fields.number()? },
        "rejected" => AuthFailure::Rejected { message: fields.string()? },
        _ => return Err(unknown("authorization failure", &tag)),
    })
}

/// The fields of one encoded list, taken in order.
struct Fields(std::vec::IntoIter<Value>);

impl Fields {
    fn of(value: Value) -> Result<Self, String> {
        match value {
            Value::Array(items) => Ok(Self(items.into_iter())),
            other => Err(wrong("a list", &other)),
        }
    }

    /// A `[tag, fields…]` list: its tag and the remaining fields.
    fn tagged(value: Value) -> Result<(String, Self), String> {
        let mut fields = Self::of(value)?;
        let tag = fields.string()?;
        Ok((tag, fields))
    }

    fn next(&mut self) -> Result<Value, String> {
        self.0.next().ok_or_else(|| "a field is missing".to_owned())
    }

    fn string(&mut self) -> Result<String, String> {
        string(self.next()?)
    }

    /// A value that may be `null`, read with `read` (e.g. `Value::as_u64`) otherwise.
    fn optional<T>(&mut self, read: fn(&Value) -> Option<T>) -> Result<Option<T>, String> {
        match self.next()? {
            Value::Null => Ok(None),
            value => read(&value).map(Some).ok_or_else(|| wrong("a number", &value)),
        }
    }

    fn optional_string(&mut self) -> Result<Option<String>, String> {
        match self.next()? {
            Value::Null => Ok(None),
            value => string(value).map(Some),
        }
    }

    fn message_id(&mut self) -> Result<Option<MessageId>, String> {
        Ok(self.optional_string()?.map(MessageId))
    }

    fn bool(&mut self) -> Result<bool, String> {
        let value = self.next()?;
        value.as_bool().ok_or_else(|| wrong("a boolean", &value))
    }

    /// A whole number that fits `T`.
    fn number<T: TryFrom<u64>>(&mut self) -> Result<T, String> {
        let value = self.next()?;
        value.as_u64().and_then(|number| T::try_from(number).ok()).ok_or_else(|| wrong("a whole number in range", &value))
    }

    fn list<T>(&mut self, item: impl Fn(Value) -> Result<T, String>) -> Result<Vec<T>, String> {
        match self.next()? {
            Value::Array(items) => items.into_iter().map(item).collect(),
            other => Err(wrong("a list", &other)),
        }
    }

    fn string_map(&mut self) -> Result<BTreeMap<String, String>, String> {
        match self.next()? {
            Value::Object(map) => {
                let mut strings = BTreeMap::new();
                for (name, value) in map {
                    strings.insert(name, string(value)?);
                }
                Ok(strings)
            }
            other => Err(wrong("an object", &other)),
        }
    }
}

fn string(value: Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(wrong("a string", &other)),
    }
}

fn wrong(expected: &str, found: &Value) -> String {
    let found = match found {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    format!("expected {expected}, found {found}")
}

fn unknown(what: &str, tag: &str) -> String {
    format!("unknown {what} `{tag}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use threadline_core::protocol::{Attachment, QuickReply};

    /// Optional fields filled in, so a round trip shows each of them survives.
    fn entry(key: &str, author: Author, status: DeliveryStatus) -> TranscriptEntry {
        TranscriptEntry {
            message_id: Some(MessageId::new(format!("m-{key}"))),
            order: OrderKey { time_ms: 1_700_000_000_000, seq: 7 },
            display_name: Some("Ana".into()),
            text: "hello **there**".into(),
            content: vec![
                Content::Attachment(Attachment::reference(AttachmentId::new("a-1"))),
                Content::QuickReply(QuickReply { text: "Yes".into(), payload: "yes".into(), ..Default::default() }),
            ],
            ..crate::model::test_entry(key, author, status)
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

    /// Every variant of every core type the encoding covers that `every_event` leaves out.
    fn more_events() -> Vec<Event> {
        let mut events: Vec<Event> = [
            ConnectionState::Connecting,
            ConnectionState::Connected,
            ConnectionState::Reconnecting { attempt: 1, next_attempt_at: None },
            ConnectionState::Offline,
            ConnectionState::ReadOnly,
            ConnectionState::Expired,
        ]
        .into_iter()
        .map(Event::StateChanged)
        .collect();
        events.extend(
            [
                CloseReason::User,
                CloseReason::ServerClosed,
                CloseReason::ConversationCleared,
                CloseReason::SignedIn,
                CloseReason::LoggedOut,
            ]
            .into_iter()
            .map(|reason| Event::ConnectionClosed { reason }),
        );
        events.extend(
            [
                FailureReason::MessageTooLong,
                FailureReason::CustomAttributesTooLarge,
                FailureReason::RateLimited,
                FailureReason::DeliveryUnconfirmed,
                FailureReason::Rejected { code: 4020 },
            ]
            .into_iter()
            .map(|reason| Event::EntryUpserted(entry("f", Author::Bot, DeliveryStatus::Failed { reason }))),
        );
        events.extend(
            [NoticeKind::ConversationStarted, NoticeKind::ConversationEnded, NoticeKind::SignedIn].into_iter().map(|notice| {
                Event::EntryUpserted(TranscriptEntry {
                    kind: EntryKind::Notice(notice),
                    message_id: None,
                    display_name: None,
                    avatar_url: Some("https://x/a.png".into()),
                    time: None,
                    content: Vec::new(),
                    ..entry("n", Author::System, DeliveryStatus::Sending)
                })
            }),
        );
        events.extend(
            [
                UserError::MessageTooLong { key: None },
                UserError::CustomAttributesTooLarge,
                UserError::RateLimited { retry_after_secs: 9 },
                UserError::Forbidden { message: "no".into() },
                UserError::AuthorizationRequired,
                UserError::ClearConversationFailed,
                UserError::FeatureUnavailable,
                UserError::Server { code: 5000, message: "boom".into() },
            ]
            .into_iter()
            .map(Event::Error),
        );
        events.extend(
            [AuthFailure::Unauthorized, AuthFailure::NoRefreshToken, AuthFailure::Rejected { message: "again".into() }]
                .into_iter()
                .map(|reason| Event::AuthorizationRequired { reason }),
        );
        events.extend(
            [
                AttachmentUpdate::UploadGranted {
                    attachment_id: AttachmentId::new("a"),
                    url: "https://upload".into(),
                    headers: BTreeMap::from([("x-amz-acl".into(), "private".into())]),
                },
                AttachmentUpdate::DownloadUrlRefreshed { attachment_id: AttachmentId::new("a"), url: "https://x/z".into() },
                AttachmentUpdate::Deleted { attachment_id: AttachmentId::new("a") },
            ]
            .into_iter()
            .map(Event::Attachment),
        );
        events.push(Event::SessionConfigured(SessionInfo {
            read_only: true,
            cleared_existing_session: true,
            max_custom_data_bytes: Some(-1),
            ..SessionInfo::default()
        }));
        events
    }

    #[test]
    fn every_event_survives_the_channel() {
        for event in every_event().into_iter().chain(more_events()) {
            let message = TabMessage::Event { from: "leader".into(), event: MirroredEvent(event.clone()) };
            let json = message.to_json();
            assert!(!json.is_empty(), "{event:?} did not serialise");
            let back = TabMessage::parse(&json).unwrap_or_else(|error| panic!("{json} did not parse: {error}"));
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
            TabMessage::Attach { from: "t2".into(), file: "f-1".into() },
            TabMessage::FileSettled { from: "t1".into(), to: "t2".into(), file: "f-1".into(), error: None },
            TabMessage::FileSettled { from: "t1".into(), to: "t2".into(), file: "f-2".into(), error: Some("too big".into()) },
            TabMessage::Uploads {
                from: "t1".into(),
                uploads: vec![UploadRow { attachment_id: "a-1".into(), file_name: "cat.png".into(), percent: 40 }],
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
            TabMessage::Command { from: "t2".into(), command: TabCommand::Typing },
            TabMessage::Command { from: "t2".into(), command: TabCommand::RetryConnection },
            TabMessage::Command { from: "t2".into(), command: TabCommand::StartNewConversation },
            TabMessage::Command { from: "t2".into(), command: TabCommand::LoadOlder },
            TabMessage::Command {
                from: "t2".into(),
                command: TabCommand::Postback { text: "Buy".into(), payload: "buy".into(), origin: None },
            },
            TabMessage::Command {
                from: "t2".into(),
                command: TabCommand::DatePicker { date_time: "2026-01-01T10:00:00Z".into(), origin: Some(MessageId::new("m")) },
            },
            TabMessage::Snapshot {
                from: "t1".into(),
                to: None,
                snapshot: Snapshot {
                    events: vec![MirroredEvent(Event::Expired)],
                    unread: 0,
                    uploads: vec![UploadRow { attachment_id: "a".into(), file_name: "é.txt".into(), percent: 100 }],
                },
            },
        ];
        for message in messages {
            assert_eq!(TabMessage::parse(&message.to_json()), Ok(message.clone()));
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
            // The internally and externally tagged forms of older versions are not mistaken
            // for messages.
            "{\"type\":\"hello\",\"from\":\"x\"}",
            "{\"hello\":{\"from\":\"x\"}}",
            "not json",
            "[]",
            "[\"hello\"]",
            "[\"hello\",7]",
            "[7,\"x\"]",
            "[\"launchMissiles\",\"x\"]",
            "[\"command\",\"x\",[\"fly\"]]",
            "[\"command\",\"x\",\"typing\"]",
            "[\"command\",\"x\",[\"sendText\",\"k\"]]",
            "[\"command\",\"x\",[\"setCustomAttributes\",{\"plan\":1}]]",
            "[\"unread\",\"x\",-1]",
            "[\"unread\",\"x\",1.5]",
            "[\"panel\",\"x\",\"yes\"]",
            "[\"event\",\"x\",[\"teleported\"]]",
            "[\"event\",\"x\",[\"stateChanged\",[\"dancing\"]]]",
            "[\"event\",\"x\",[\"stateChanged\",[\"error\",4294967296,\"big\"]]]",
            "[\"event\",\"x\",[\"error\",[\"historyUnavailable\",70000]]]",
            "[\"event\",\"x\",[\"entryUpserted\",[\"k\"]]]",
            "[\"event\",\"x\",[\"transcriptReset\",[[\"k\",null,1,2,\"sideways\",\"agent\",null,null,\"t\",[],[\"sent\"],null,[\"message\"]]]]]",
            "[\"snapshot\",\"x\",null,{\"events\":[]}]",
            "[\"uploads\",\"x\",[[\"a\",\"f\"]]]",
        ] {
            assert!(TabMessage::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn a_message_that_does_not_fit_says_why() {
        assert_eq!(TabMessage::parse("[\"launchMissiles\",\"x\"]"), Err("unknown tab message `launchMissiles`".into()));
        assert_eq!(TabMessage::parse("[\"panel\",\"x\",\"yes\"]"), Err("expected a boolean, found a string".into()));
        assert_eq!(TabMessage::parse("[\"hello\"]"), Err("a field is missing".into()));
        assert_eq!(TabMessage::parse("{\"hello\":{\"from\":\"x\"}}"), Err("expected a list, found an object".into()));
        assert_eq!(
            TabMessage::parse("[\"event\",\"x\",[\"error\",[\"historyUnavailable\",70000]]]"),
            Err("expected a whole number in range, found a number".into())
        );
        assert!(TabMessage::parse("not json").is_err_and(|error| !error.is_empty()));
    }

    #[test]
    fn the_wire_form_is_a_compact_tagged_list() {
        assert_eq!(TabMessage::Hello { from: "t2".into() }.to_json(), r#"["hello","t2"]"#);
        let typing = TabMessage::Command { from: "t2".into(), command: TabCommand::Typing };
        assert_eq!(typing.to_json(), r#"["command","t2",["typing"]]"#);
        let unread = TabMessage::Unread { from: "t1".into(), count: 4 };
        assert_eq!(unread.to_json(), r#"["unread","t1",4]"#);
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
        assert_eq!(TabMessage::parse(&message.to_json()), Ok(message));
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

    /// Regression: a leader alone encoded and posted every engine event (~0.3 ms per append)
    /// for no reader. It mirrors once another tab has spoken, and that tab's first word brings
    /// a snapshot of what was not mirrored.
    #[test]
    fn a_leader_mirrors_only_once_another_tab_has_spoken() {
        let mut audience = Audience::default();
        assert!(!audience.is_listening(), "alone at first");
        assert!(audience.hear(), "the first message from another tab calls for a snapshot");
        assert!(audience.is_listening());
        assert!(!audience.hear(), "later messages do not");
        audience.clear();
        assert!(!audience.is_listening(), "a new term starts alone");
        assert!(audience.hear());
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
        assert!(!watch.admit(&TabMessage::Attach { from: "t3".into(), file: "f".into() }), "only the leader takes files");
        assert!(watch.admit(&TabMessage::Leader { from: "t2".into() }));
        assert!(watch.admit(&TabMessage::Uploads { from: "t2".into(), uploads: Vec::new() }));
        assert!(!watch.admit(&TabMessage::Uploads { from: "t1".into(), uploads: Vec::new() }), "uploads of a former leader");
        let settled = |from: &str| TabMessage::FileSettled { from: from.into(), to: "t3".into(), file: "f".into(), error: None };
        assert!(watch.admit(&settled("t2")));
        assert!(!watch.admit(&settled("t1")), "a former leader's word on a file");
    }

    #[test]
    fn settled_files_are_remembered_up_to_a_bound() {
        let mut settled = SettledFiles::default();
        assert!(!settled.contains("f-0"));
        for n in 0..SettledFiles::KEPT + 10 {
            settled.remember(format!("f-{n}"));
        }
        assert!(!settled.contains("f-0"), "the oldest are forgotten");
        assert!(settled.contains(&format!("f-{}", SettledFiles::KEPT + 9)));
        assert!(settled.contains(&format!("f-{}", 10)));
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
        assert_eq!(other.to_json(), r#"{"expiresAt":10,"owner":"b"}"#);
        assert_eq!(Lease::parse(&other.to_json()), Some(other));
        assert_eq!(Lease::parse(r#"{"owner":"c","expiresAt":5}"#), Some(Lease { owner: "c".into(), expires_at: 5 }));
        assert_eq!(Lease::parse("{broken"), None);
        assert_eq!(Lease::parse(r#"{"owner":"c"}"#), None);
        assert_eq!(Lease::parse(r#"{"owner":1,"expiresAt":5}"#), None);
    }
}
