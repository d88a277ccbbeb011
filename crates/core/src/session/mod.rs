//! The sans-IO session engine: every decision about connecting, reconnecting, keep-alive,
//! session expiry, delivery and transcript order, with no IO and no clock of its own.
//!
//! # The drive loop
//!
//! A driver (the browser adapter, a native test harness, the gateway's test client) owns one
//! [`Session`], one WebSocket at a time, one timer and the persistent storage. It repeats:
//!
//! 1. Make **one** call into the engine: an input (`handle_*`) or a user command (`open`,
//!    `send_text`, …), passing the current wall-clock time.
//! 2. Drain [`Session::poll_output`] until it returns `None`, executing each [`Output`] in order:
//!    open a socket, send a text frame, close the socket, fetch a history page over HTTP, write
//!    storage, or hand an [`Event`] to the UI.
//! 3. Re-arm the single timer from [`Session::poll_timeout`]: when it fires (however late), call
//!    [`Session::handle_timeout`]. `None` means no timer is needed.
//!
//! ```text
//! loop {
//!     session.handle_frame(&text, now());            // or any other single input/command
//!     while let Some(output) = session.poll_output() { execute(output) }
//!     timer.reset(session.poll_timeout());
//! }
//! ```
//!
//! # Contract with the driver
//!
//! * Only the engine decides to connect: the driver opens a socket **only** on
//!   [`Output::Connect`], and the engine never asks for a second one while one is open or
//!   connecting.
//! * Socket events go to `handle_socket_opened` / `handle_frame` / `handle_socket_closed` /
//!   `handle_socket_error`. After the engine emits [`Output::Close`], or after the driver reported
//!   `handle_socket_closed`, that socket is gone for the engine: the driver closes it, detaches its
//!   handlers and delivers none of its events any more.
//! * Every [`Output::FetchHistory`] gets exactly one answer, through
//!   [`Session::handle_history_page`] or [`Session::handle_history_failed`] (the engine never
//!   has two fetches outstanding, so answers need no id). Pages nobody asked for are merged
//!   for display but never trusted to decide what to re-send.
//! * Storage writes ([`Output::Persist`]) replace the stored value; on the next page load pass
//!   what was stored as [`Persisted`] to [`Session::new`].
//! * Timers may fire late (background tabs) or spuriously; the engine computes everything from
//!   the `now` it is given and never counts ticks.
//! * Ids and jitter come from the driver's [`Entropy`].
//! * Every input and command takes the current wall-clock time, even where it does not need it
//!   today, so callers never have to know which ones do.
//!
//! Peer and transport trouble (bad frames, error codes, lost sockets) become [`Event`]s and
//! states; only caller misuse returns [`CommandError`]. No input makes the engine panic.
//!
//! # Authenticated sessions (SPEC §3.2, §5, §11)
//!
//! The engine performs no HTTP: the driver runs the IdP login and the code exchange
//! (`oauthcodegrantjwtexchange`), or asks the host page's token provider, and hands the result
//! to [`Session::sign_in`]. From then on:
//!
//! * Every (re)configure is `configureAuthenticatedSession` with `data.code` = the JWT.
//!   Signing in discards the guest thread token and runs on a fresh one (SDK ≥ 2.8:
//!   `Persist(Token(None))`, then the new token is persisted when it is minted) — except a
//!   **step-up**: when the deployment allows it ([`SessionConfig::allow_session_upgrade`]) and a
//!   guest session is configured, the same socket and the same token are re-configured as
//!   authenticated. `SessionResponse.clearedExistingSession` then gives
//!   [`Event::Notice`]`(`[`SessionNotice::ClearedExistingSession`]`)`, and a Presence `SignIn`
//!   event becomes a [`NoticeKind::SignedIn`] row carrying the customer's name.
//! * Resume is the default (`startNew:false`): the server finds the customer's conversation by
//!   identity, whatever the thread token. [`Session::start_new_conversation`] is allowed at any
//!   time when signed in (`closeSession`, then `startNew:true`), and only from read-only for
//!   guests.
//! * A 401 on configure emits [`Output::RefreshJwt`]; the driver POSTs `/token/refresh` and
//!   answers with [`Session::handle_jwt_refreshed`] or [`Session::handle_refresh_failed`];
//!   the engine re-configures. At most three configure attempts are refused before
//!   [`Event::AuthorizationRequired`]. A 403 `Session authentication failed` / `Try to
//!   authenticate again` gives [`Event::AuthorizationRequired`] at once. Either way the tokens
//!   are dropped, the socket closed, nothing connects until the next `sign_in`, and the outbox
//!   is kept (messages typed meanwhile are queued too): nothing typed is lost.
//! * `LogoutEvent` and [`Session::sign_out`] forget the JWT, the refresh token and the thread
//!   token (`Persist(Token(None))`), clear the transcript and the outbox, emit
//!   [`Event::LoggedOut`] and stay closed; the next `open` is a guest session on a new token.
//!   `sign_out` first emits [`Output::RevokeTokens`] (the driver DELETEs `/token/revoke`).
//! * `ConnectionClosedEvent{reason:"signedIn"}` (signed in on another device): the thread token
//!   is deleted, the state is `Closed(SignedIn)`, no reconnect.
//! * 4017 (the token was authenticated once, so it cannot be a guest again): the token is
//!   forgotten; the next `open` or `sign_in` connects on a new one.
//!
//! **Where tokens live.** The JWT and the refresh token are held in engine memory only. They
//! are never part of [`Persisted`] or [`StorageWrite`]; outputs that must carry them wrap them
//! in [`Secret`] (redacted `Debug`). A driver that wants a signed-in customer to survive a
//! reload may keep the refresh token in `sessionStorage` (per tab, gone with the tab) — never in
//! `localStorage`, never in a URL — and on start refresh it and call `sign_in` before `open`.
//!
//! **Custom attributes** ([`Session::set_custom_attributes`]) ride on the next text or
//! attachment message only when they changed since the server acknowledged them; the
//! `maxCustomDataBytes` budget is checked locally, and a 4013 discards them.

mod attributes;
mod auth;
mod backoff;
mod convert;
mod engine;
mod entropy;
mod expiry;
mod outbox;
mod stored;
mod transcript;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protocol::{AttachmentId, Content, DeploymentConfig, DeploymentId, MessageId, SessionToken, TracingId};
use crate::time::UnixMillis;

pub use auth::Secret;
pub use engine::Session;
pub use entropy::SeededEntropy;

/// Everything the engine needs to know about the deployment, with defaults from SPEC §7–§8 and §13.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// The Messenger deployment id (sent in `configureSession`).
    pub deployment_id: DeploymentId,
    /// Full WebSocket URL including `?deploymentId=…` (and optionally `&application=…`).
    pub ws_url: String,
    /// Send a Presence Join once when a new session starts (`autoStart.enabled`).
    pub auto_start: bool,
    /// Send the customer's typing indicator (`showUserTypingIndicator`).
    pub show_user_typing: bool,
    /// Allow clearing the conversation (`conversationClear.enabled`).
    pub conversation_clear: bool,
    /// Keep-alive `echo` period while connected (30–60 s; never below `echo_cooldown_ms`).
    pub echo_interval_ms: u64,
    /// Minimum gap between any two echoes, keep-alive and session-TTL ones alike.
    pub echo_cooldown_ms: u64,
    /// How long before the expiry the "expiring soon" notice shows.
    pub expiry_notice_ms: u64,
    /// How long before the notice an echo verifies whether activity extended the session.
    pub expiry_precheck_ms: u64,
    /// How long after the expected expiry the confirming echo is sent.
    pub expiry_confirm_delay_ms: u64,
    /// How long one outage may last before the engine stops retrying on its own (`Offline`).
    pub reconnect_window_ms: u64,
    /// Ceiling of the first reconnect delay (full jitter: the actual delay is `0..=` this).
    pub first_backoff_ms: u64,
    /// Ceiling of any reconnect delay.
    pub max_backoff_ms: u64,
    /// A socket that has not opened after this long counts as failed.
    pub connect_timeout_ms: u64,
    /// History page size (`pageSize`).
    pub history_page_size: u32,
    /// Own typing indicator: at most one per this many ms.
    pub typing_cooldown_ms: u64,
    /// How long agent typing shows when the event has no `duration`.
    pub agent_typing_fallback_ms: u64,
    /// Client-side limit on message text length in chars (the server's limit is unknown; 4011).
    pub max_message_chars: usize,
    /// Automatic re-sends of a message refused with 429 before it is marked failed.
    pub rate_limit_retries: u32,
    /// When reconciling the outbox with history by text (no tracing id kept by the server), a
    /// history message matches a queued one only if its time is within this window of the
    /// local send time.
    pub reconcile_window_ms: u64,
    /// A configured guest session may be stepped up to an authenticated one on the same socket
    /// and token (`auth.enabled` and `auth.allowSessionUpgrade`).
    pub allow_session_upgrade: bool,
}

/// History page size (`pageSize`). The SDK asks for 25; the API takes larger pages (the Java
/// SDK's helper asks for 100, SPEC §9). 50 restores a typical conversation after a reload with
/// one request instead of showing half of it and loading the rest on scroll.
pub const HISTORY_PAGE_SIZE: u32 = 50;

impl SessionConfig {
    /// A configuration with every optional feature off and the default timings.
    pub fn new(deployment_id: DeploymentId, ws_url: impl Into<String>) -> Self {
        Self {
            deployment_id,
            ws_url: ws_url.into(),
            auto_start: false,
            show_user_typing: false,
            conversation_clear: false,
            echo_interval_ms: 45_000,
            echo_cooldown_ms: 30_000,
            expiry_notice_ms: 300_000,
            expiry_precheck_ms: 10_000,
            expiry_confirm_delay_ms: 2_000,
            reconnect_window_ms: 300_000,
            first_backoff_ms: 1_000,
            max_backoff_ms: 30_000,
            connect_timeout_ms: 30_000,
            history_page_size: HISTORY_PAGE_SIZE,
            typing_cooldown_ms: 5_000,
            agent_typing_fallback_ms: 5_000,
            max_message_chars: 4_096,
            rate_limit_retries: 3,
            reconcile_window_ms: 600_000,
            allow_session_upgrade: false,
        }
    }

    /// Defaults plus the feature switches of the deployment's `config.json`.
    pub fn from_deployment(deployment_id: DeploymentId, ws_url: impl Into<String>, deployment: &DeploymentConfig) -> Self {
        let mut config = Self::new(deployment_id, ws_url);
        convert::apply_deployment(&mut config, deployment);
        config
    }
}

/// Ids and randomness, supplied by the driver so the engine stays deterministic under test.
pub trait Entropy {
    /// A fresh unique id (a UUID v4 string in production): thread tokens, tracing ids,
    /// attachment ids.
    fn new_id(&mut self) -> String;
    /// 32 random bits (reconnect jitter).
    fn next_u32(&mut self) -> u32;
}

/// What the driver loaded from storage when the page started. Holds no credentials: the JWT and
/// refresh token of a signed-in customer are never persisted by the engine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persisted {
    /// The guest session token, if one was stored.
    pub token: Option<SessionToken>,
    /// Messages the user sent that were not yet confirmed by the server.
    pub outbox: Vec<OutboxItem>,
}

/// One message the user sent and the server has not confirmed yet. Stored as JSON by the driver
/// ([`Output::Persist`]), so a reload never loses what the user typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// The `tracingId` of every attempt, also the transcript key of the message.
    pub tracing_id: TracingId,
    /// What to send.
    pub message: OutgoingMessage,
    /// When the user sent it (local clock).
    pub created_at: UnixMillis,
    /// True once it went out on a socket: the server may have it even without an echo, so it
    /// is only re-sent after reconciling with history.
    #[serde(default)]
    pub attempted: bool,
    /// Why it failed, if it did (then it waits for [`Session::retry_message`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailureReason>,
}

/// The message kinds a user can send.
// `Deserialize` is written by hand (stored.rs): same JSON, far less wasm than the derive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum OutgoingMessage {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An already uploaded attachment, with optional text.
    Attachment {
        /// The id from [`Session::request_upload`], after `UploadSuccessEvent`.
        attachment_id: AttachmentId,
        /// Accompanying text (may be empty).
        text: String,
        /// File name for display while sending.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_name: Option<String>,
    },
    /// A quick-reply button press.
    QuickReply {
        /// The button text.
        text: String,
        /// The button payload.
        payload: String,
        /// The id of the message that offered the button.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        originating_message_id: Option<MessageId>,
    },
    /// A card or carousel postback button press.
    Postback {
        /// The button text.
        text: String,
        /// The button payload.
        payload: String,
        /// The id of the message that offered the card.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        originating_message_id: Option<MessageId>,
    },
    /// The answer to a date/time-slot picker: the chosen slot's ISO-8601 date-time.
    DatePicker {
        /// The chosen `dateTime`, as offered by the picker.
        date_time: String,
        /// The id of the message that offered the picker.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        originating_message_id: Option<MessageId>,
    },
}

impl OutgoingMessage {
    /// The text shown in the transcript for this message.
    pub fn display_text(&self) -> &str {
        match self {
            Self::Text { text } | Self::Attachment { text, .. } | Self::QuickReply { text, .. } | Self::Postback { text, .. } => text,
            Self::DatePicker { date_time, .. } => date_time,
        }
    }
}

/// Something the driver must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Open a WebSocket to `url`. Never emitted while another socket is open or connecting.
    Connect {
        /// The full `ws(s)://` URL.
        url: String,
    },
    /// Send one JSON text frame on the open socket.
    Send(String),
    /// Close the socket with this code and reason, then forget it.
    Close {
        /// 1000 or 4000–4999 (codes a browser may send).
        code: u16,
        /// Human-readable reason.
        reason: String,
    },
    /// GET the history page with `Authorization: bearer {jwt}`; answer with
    /// `handle_history_page` or `handle_history_failed`.
    FetchHistory {
        /// 1-based page number (1 = newest).
        page_number: u32,
        /// Page size.
        page_size: u32,
        /// The history JWT from `JwtResponse` (not the sign-in JWT).
        jwt: String,
    },
    /// Write this to persistent storage (replacing the previous value).
    Persist(StorageWrite),
    /// Tell the UI.
    Event(Event),
    /// The JWT was refused (401): POST `/api/v2/webdeployments/token/refresh` with
    /// `{"refreshToken":…}` and answer with [`Session::handle_jwt_refreshed`] or
    /// [`Session::handle_refresh_failed`] (exactly one answer).
    RefreshJwt {
        /// The refresh token to send.
        refresh_token: Secret,
    },
    /// The customer signed out: DELETE `/api/v2/webdeployments/token/revoke` with
    /// `Authorization: bearer {jwt}` (on 401, refresh with `refresh_token` and retry, at most 3
    /// times). The engine has already forgotten both tokens and expects no answer.
    RevokeTokens {
        /// The JWT to revoke with.
        jwt: Secret,
        /// For renewing an expired `jwt` before revoking, if there is one.
        refresh_token: Option<Secret>,
    },
}

/// A storage write. Never carries the JWT or the refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageWrite {
    /// The thread (session) token (`None` = delete it).
    Token(Option<SessionToken>),
    /// The full outbox (unconfirmed sends).
    Outbox(Vec<OutboxItem>),
}

/// What the UI needs to know.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The connection state changed.
    StateChanged(ConnectionState),
    /// A `SessionResponse` configured the session.
    SessionConfigured(SessionInfo),
    /// The expected expiry of the guest session (moves with activity).
    ExpiryKnown {
        /// Expected expiry.
        expires_at: UnixMillis,
        /// The inactivity TTL in seconds.
        duration_secs: u64,
    },
    /// At most `expiry_notice_ms` remain; shown once per expected expiry.
    ExpiringSoon {
        /// Expected expiry.
        expires_at: UnixMillis,
    },
    /// Activity extended the session after `ExpiringSoon`: hide the notice.
    ExpiringCancelled,
    /// The session expired: token, transcript and outbox are gone; `open` starts afresh.
    Expired,
    /// Replace the whole transcript with this list (ordered).
    TranscriptReset(Vec<TranscriptEntry>),
    /// Insert this entry, or replace the entry with the same key; then keep the list sorted by
    /// [`TranscriptEntry::order`].
    EntryUpserted(TranscriptEntry),
    /// Remove the entry with this key.
    EntryRemoved(EntryKey),
    /// The agent is typing until this time (the engine also sends `AgentTypingStopped`).
    AgentTyping {
        /// When the indicator should disappear at the latest.
        until: UnixMillis,
    },
    /// Hide the agent typing indicator.
    AgentTypingStopped,
    /// The conversation was cleared (transcript emptied).
    ConversationCleared,
    /// The conversation became read-only: sending is disabled; clear and start-new remain.
    ReadOnly,
    /// The server closed this connection on purpose; no reconnect.
    ConnectionClosed {
        /// Why.
        reason: CloseReason,
    },
    /// The (authenticated) session was logged out; the token is gone.
    LoggedOut,
    /// Attachment progress from the server.
    Attachment(AttachmentUpdate),
    /// Something the user should be told.
    Error(UserError),
    /// After a history page: whether older pages remain.
    OlderAvailable(bool),
    /// The signed-in customer must sign in again ([`Session::sign_in`]); the tokens were
    /// dropped, nothing connects until then, unsent messages are kept.
    AuthorizationRequired {
        /// Why.
        reason: AuthFailure,
    },
    /// A one-off notice for the UI (not a transcript row).
    Notice(SessionNotice),
}

/// Why the customer must sign in again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// `configureAuthenticatedSession` was refused with 401 three times.
    Unauthorized,
    /// The JWT was refused and there is no refresh token (implicit-flow sign-in).
    NoRefreshToken,
    /// The refresh call failed with this HTTP status.
    RefreshFailed {
        /// The HTTP status.
        http_status: u16,
    },
    /// 403 `Session authentication failed` / `Try to authenticate again`.
    Rejected {
        /// Server text.
        message: String,
    },
}

/// One-off notices about the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionNotice {
    /// Signing in ended this customer's authenticated session on other devices
    /// (`SessionResponse.clearedExistingSession`).
    ClearedExistingSession,
}

/// The connection as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not started (before `open`, or after `close`).
    Idle,
    /// First connection in progress (socket opening or session configuring).
    Connecting,
    /// Configured: sending allowed.
    Connected,
    /// The link was lost and is being restored.
    Reconnecting {
        /// Failed attempts in this outage so far.
        attempt: u32,
        /// When the next attempt starts (`None` while one is in progress).
        next_attempt_at: Option<UnixMillis>,
    },
    /// Retrying stopped (window used up or browser offline); `retry_connection`, `open`, a send
    /// or the network coming back restarts.
    Offline,
    /// Configured but read-only (agent ended with a read-only disconnect).
    ReadOnly,
    /// The guest session expired; `open` starts a new one.
    Expired,
    /// Closed on purpose (by the user or the server); `open` connects again.
    Closed {
        /// Why.
        reason: CloseReason,
    },
    /// A terminal error; `open` or `retry_connection` starts again.
    Error {
        /// The server or local error code.
        code: u32,
        /// Human-readable detail.
        message: String,
    },
}

/// Why a connection ended without reconnecting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The user or page closed the messenger.
    User,
    /// The server closed the socket cleanly (code 1000).
    ServerClosed,
    /// The conversation was cleared.
    ConversationCleared,
    /// The user signed in elsewhere (`reason: "signedIn"`); the guest token was dropped.
    SignedIn,
    /// Too many connections for this token.
    SessionLimitReached,
    /// Logged out.
    LoggedOut,
    /// Another reason given by the server, verbatim.
    Other(String),
}

/// Facts from the `SessionResponse` the UI may need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionInfo {
    /// A brand-new session (no history).
    pub new_session: bool,
    /// Read-only conversation.
    pub read_only: bool,
    /// An authenticated step-up removed another session.
    pub cleared_existing_session: bool,
    /// Custom attribute byte budget, if given.
    pub max_custom_data_bytes: Option<i64>,
    /// MIME types the guest may upload (`*/*` wildcard allowed); empty = uploads disabled.
    pub allowed_upload_types: Vec<String>,
    /// Upload size limit in KB, if given.
    pub max_upload_kb: Option<u64>,
    /// Blocked file extensions like `.exe`.
    pub blocked_extensions: Vec<String>,
}

/// Stable transcript key: the local tracing id for the user's own sends (kept after the echo),
/// otherwise the server message id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryKey(pub String);

impl EntryKey {
    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Sort key: server time (ms) then arrival sequence. Unique per entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderKey {
    /// `channel.time` in ms (local send time until the echo; inherited for `time: null`).
    pub time_ms: u64,
    /// Arrival sequence, the tie-breaker.
    pub seq: u64,
}

/// One row of the transcript.
#[derive(Clone, Debug, PartialEq)]
pub struct TranscriptEntry {
    /// Stable key (see [`EntryKey`]).
    pub key: EntryKey,
    /// The server message id once known.
    pub message_id: Option<MessageId>,
    /// Position in the transcript.
    pub order: OrderKey,
    /// Inbound = from this customer; Outbound = to the customer.
    pub direction: Direction,
    /// Who wrote it.
    pub author: Author,
    /// Author's display name, if the server gave one.
    pub display_name: Option<String>,
    /// Author's avatar URL, if the server gave one.
    pub avatar_url: Option<String>,
    /// Message text (may be empty, e.g. attachment only).
    pub text: String,
    /// Structured content: attachments, quick replies, cards, …
    pub content: Vec<Content>,
    /// Delivery state (always `Sent` for messages from the server).
    pub status: DeliveryStatus,
    /// Server time, if known.
    pub time: Option<UnixMillis>,
    /// Message or notice.
    pub kind: EntryKind,
}

/// Message direction, in Genesys terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Customer → contact center.
    Inbound,
    /// Contact center → customer.
    Outbound,
}

/// Who wrote an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Author {
    /// This customer (any tab or device).
    Customer,
    /// A human agent.
    Agent,
    /// A bot.
    Bot,
    /// The system (presence notices).
    System,
}

/// Delivery state of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// On the wire, waiting for the echo.
    Sending,
    /// Waiting for a connection (or for reconciliation after one).
    Queued,
    /// Confirmed by the server.
    Sent,
    /// Refused or undeliverable; `retry_message` tries again.
    Failed {
        /// Why.
        reason: FailureReason,
    },
}

/// Why a send failed.
// `Deserialize` is written by hand (stored.rs): same JSON, far less wasm than the derive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum FailureReason {
    /// 4011: text too long.
    MessageTooLong,
    /// 4013: custom attributes too large.
    CustomAttributesTooLarge,
    /// 429 retries exhausted.
    RateLimited,
    /// An attachment problem (4008–4010).
    AttachmentRejected {
        /// The error code.
        code: u32,
    },
    /// The link dropped while it was on the wire and history could not confirm whether the
    /// server got it; retrying may duplicate it.
    DeliveryUnconfirmed,
    /// Another server error code.
    Rejected {
        /// The error code.
        code: u32,
    },
}

/// What kind of row an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A text / structured message.
    Message,
    /// A presence notice.
    Notice(NoticeKind),
}

/// Presence notices shown in the transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// The conversation started (Presence Join).
    ConversationStarted,
    /// The agent left (Presence Disconnect, type Send).
    AgentLeft,
    /// The conversation ended read-only (Presence Disconnect with `readOnly`).
    ConversationEnded,
    /// The customer signed in (Presence SignIn).
    SignedIn,
}

/// Attachment progress reported by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachmentUpdate {
    /// Upload grant: PUT the bytes to `url` with these headers (plus `Content-Type`).
    UploadGranted {
        /// The attachment.
        attachment_id: AttachmentId,
        /// Presigned upload URL.
        url: String,
        /// Headers the PUT must carry.
        headers: BTreeMap<String, String>,
    },
    /// A refreshed download URL (answer to `refresh_download`).
    DownloadUrlRefreshed {
        /// The attachment.
        attachment_id: AttachmentId,
        /// The new URL.
        url: String,
    },
    /// The upload finished; the attachment can be sent.
    Uploaded {
        /// The attachment.
        attachment_id: AttachmentId,
        /// Where it can be downloaded.
        download_url: String,
    },
    /// The server refused the upload (`GenerateUrlError`, `UploadFailureEvent`).
    Rejected {
        /// The attachment.
        attachment_id: AttachmentId,
        /// The error code (4001–4005 typically).
        code: u32,
        /// Server text.
        message: String,
    },
    /// The unsent attachment was deleted.
    Deleted {
        /// The attachment.
        attachment_id: AttachmentId,
    },
}

/// Problems to show to the user, by what they mean rather than by wire code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserError {
    /// A message was too long (4011).
    MessageTooLong {
        /// The failed entry, if known.
        key: Option<EntryKey>,
    },
    /// Custom attributes were too large (4013).
    CustomAttributesTooLarge,
    /// Sending too fast; the engine retries after this many seconds.
    RateLimited {
        /// Seconds until the next attempt.
        retry_after_secs: u64,
    },
    /// The server refused a request (403), with its text.
    Forbidden {
        /// Server text.
        message: String,
    },
    /// A guest session got 403 "Session authentication failed" (signed-in sessions get
    /// [`Event::AuthorizationRequired`] instead and stop).
    AuthorizationRequired,
    /// Clearing the conversation is not supported by this deployment.
    ClearConversationFailed,
    /// A feature is not available (4000).
    FeatureUnavailable,
    /// History could not be loaded.
    HistoryUnavailable {
        /// The HTTP status (0 = network error).
        http_status: u16,
    },
    /// Other server error, with its code and text.
    Server {
        /// The code.
        code: u32,
        /// Server text.
        message: String,
    },
}

/// Caller misuse: the command cannot run in the current state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Sending is disabled in a read-only conversation.
    #[error("the conversation is read-only; start a new one to send")]
    ReadOnly,
    /// The messenger is not open (call `open` first) or the session ended.
    #[error("the messenger is not open")]
    NotOpen,
    /// The command needs a configured connection right now.
    #[error("not connected")]
    NotConnected,
    /// Nothing to send.
    #[error("the message is empty")]
    EmptyMessage,
    /// The text is longer than the configured limit.
    #[error("the message is longer than {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// The deployment does not enable this feature.
    #[error("this feature is disabled for the deployment")]
    FeatureDisabled,
    /// Only allowed in a read-only conversation.
    #[error("only a read-only conversation can be restarted")]
    NotReadOnly,
    /// No such entry in the transcript/outbox.
    #[error("unknown message")]
    UnknownEntry,
    /// The message has not failed, so there is nothing to retry.
    #[error("the message has not failed")]
    NotFailed,
    /// A request of this kind is already in flight or nothing more can be loaded.
    #[error("nothing to do right now")]
    NothingToDo,
    /// The custom attributes exceed the deployment's `maxCustomDataBytes`.
    #[error("custom attributes take {size} bytes; the limit is {max}")]
    CustomAttributesTooLarge {
        /// UTF-8 bytes of all keys and values.
        size: usize,
        /// The budget.
        max: usize,
    },
    /// The date-time is not ISO-8601.
    #[error("not an ISO-8601 date-time: {0}")]
    InvalidDateTime(String),
}
