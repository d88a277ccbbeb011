//! The [`Session`] state machine. See the module docs of `session` for the drive loop.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::BuildHasherDefault;

use crate::protocol::{
    is_auth_failure_text, ClientAction, ErrorCode, Event as WireEvent, FrameKind, HistoryPage, IsoTime, Message, MessageId,
    MessageType, PresenceType, ServerFrame, SessionResponse, SessionToken, TracingId, TypingType, HEALTH_CHECK_TRACING_ID,
};
use crate::time::UnixMillis;

use super::attributes::{self, CustomAttributes};
use super::auth::{AuthMode, Credentials, Secret, MAX_CONFIGURE_ATTEMPTS};
use super::backoff::{BackoffPolicy, Outage};
use super::convert;
use super::expiry::{Ttl, TtlAction, TtlChange, TtlPolicy};
use super::outbox::{self, Outbox, TRACING_METADATA_KEY};
use super::transcript::{FastHasher, Transcript};
use super::{
    AttachmentUpdate, AuthFailure, Author, CloseReason, CommandError, ConnectionState, DeliveryStatus, Direction, EntryKey,
    EntryKind, Entropy, Event, FailureReason, OrderKey, OutboxItem, OutgoingMessage, Output, Persisted, SessionConfig,
    SessionInfo, SessionNotice, StorageWrite, TranscriptEntry, UserError,
};
use crate::protocol::AttachmentId;

/// Close code and reason the engine uses when it drops a socket itself.
const CLOSE_NORMAL: u16 = 1000;
/// A JWT is reused only while it stays valid this much longer (SDK: 5 s).
const JWT_MARGIN_MS: u64 = 5_000;
/// How far a local send time may differ from the server's time when deciding whether a history
/// page reaches back far enough to contain it.
const CLOCK_SKEW_MS: u64 = 60_000;
/// At most this many older pages are fetched to reconcile one reconnect.
const MAX_RECONCILE_PAGES: u32 = 20;
/// History fetch retries (network/5xx) before giving up on reconciling.
const MAX_HISTORY_RETRIES: u32 = 3;
/// Remembered request tracing ids (to attribute error frames); older ones are forgotten.
const MAX_TRACKED_REQUESTS: usize = 64;
/// Client-local code of a state that waits for the customer to sign in again (SDK AuthFailed).
const AUTH_FAILED: u32 = 6001;

/// The session engine. Create one per messenger instance; drive it as described in the
/// [module docs](super).
pub struct Session {
    config: SessionConfig,
    entropy: Box<dyn Entropy>,
    backoff: BackoffPolicy,
    ttl_policy: TtlPolicy,

    token: Option<SessionToken>,
    /// Guest or signed in; the only place the JWT and refresh token live.
    auth: AuthMode,
    attributes: CustomAttributes,
    link: Link,
    outage: Option<Outage>,
    network_online: bool,
    visible: bool,

    /// When the last echo left (any socket): the shared cooldown.
    last_echo_at: Option<UnixMillis>,
    /// An echo is wanted as soon as the cooldown allows.
    echo_requested: bool,

    ttl: Ttl,
    transcript: Transcript,
    outbox: Outbox,
    history: History,
    requests: VecDeque<(TracingId, Request)>,

    session_info: Option<SessionInfo>,
    typing_sent_at: Option<UnixMillis>,
    agent_typing_until: Option<UnixMillis>,
    /// A Presence Clear is outstanding: the following `ConnectionClosedEvent` means "cleared".
    clearing: bool,

    outputs: VecDeque<Output>,
    reported_state: ConnectionState,
    outbox_dirty: bool,
}

/// The socket and what it is doing. Each variant holds only what is valid in it.
#[derive(Clone, Debug)]
enum Link {
    /// No socket and none scheduled.
    Down(Down),
    /// Backoff: the next attempt starts at `retry_at`.
    Waiting { retry_at: UnixMillis },
    /// `Connect` emitted, socket not open yet.
    Connecting { since: UnixMillis },
    /// Socket open.
    Open(OpenLink),
}

#[derive(Clone, Debug)]
enum Down {
    Idle,
    Offline,
    Expired,
    Closed(CloseReason),
    Failed { code: u32, message: String },
    /// The signed-in customer's tokens were refused: waiting for `sign_in`.
    SignInRequired,
}

#[derive(Clone, Debug)]
struct OpenLink {
    phase: Phase,
    /// When the current phase began (configure sent / session active).
    phase_since: UnixMillis,
    /// Set when an echo leaves, cleared by any frame: an echo nobody answered.
    unanswered_echo_since: Option<UnixMillis>,
    /// Entries that live frames touched since the last `SessionResponse` (history truth must
    /// not remove them: the history snapshot may predate them).
    live_keys: HashSet<EntryKey>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// `configureSession` sent, waiting for `SessionResponse`.
    Configuring { start_new: bool },
    /// The JWT was refused; waiting for the driver's refresh before configuring again.
    AwaitingJwt { start_new: bool },
    /// Configured.
    Active { read_only: bool },
    /// `closeSession` sent (start-new flow), waiting for `SessionResponse{connected:false}`.
    ClosingSession,
}

/// What a tracing id we sent was for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Request {
    Configure,
    Jwt,
    Join,
    Clear,
    Typing,
    CloseSession,
    Attachment(AttachmentId),
}

/// History paging and reconciliation.
#[derive(Clone, Debug, Default)]
struct History {
    /// Cached guest JWT and its expiry.
    jwt: Option<(String, UnixMillis)>,
    fetch: Fetch,
    /// A page to fetch once the current fetch finishes.
    queued_page: Option<u32>,
    /// The next older page `load_older` fetches.
    next_older: u32,
    /// No older pages remain.
    complete: bool,
    /// Page 1 after a resume has not been applied yet: it is the truth for the transcript and
    /// decides which queued sends the server already has.
    truth_pending: bool,
    /// Sends wait until reconciliation with history has finished.
    holding_sends: bool,
    /// The page the ongoing reconciliation needs next (`None`: not reconciling).
    reconcile_next: Option<u32>,
    /// Failed attempts of the current fetch.
    failures: u32,
    /// Retry a failed fetch at this time.
    retry_at: Option<(u32, UnixMillis)>,
    /// The fetch in flight belongs to a conversation the engine has left (expired, logged out,
    /// signed in, started anew): its answer is dropped, never shown.
    discard_answer: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Fetch {
    #[default]
    Idle,
    /// `getJwt` sent for this page at `since` (asked again if no answer within an interval).
    AwaitingJwt { page: u32, since: UnixMillis },
    /// `FetchHistory` emitted. `stale`: requested before the latest resume, so its answer is
    /// merged but not used to reconcile.
    InFlight { page: u32, stale: bool },
}

// ---------------------------------------------------------------------------------------------
// Construction and getters

impl Session {
    /// A session in state `Idle`. `persisted` is what the driver loaded from storage; unsent
    /// messages in it show as queued and are delivered (exactly once) after the next connect.
    /// Drain [`Session::poll_output`] once after construction.
    pub fn new(config: SessionConfig, persisted: Persisted, entropy: Box<dyn Entropy>, _now: UnixMillis) -> Self {
        let backoff = BackoffPolicy {
            first_ceiling_ms: config.first_backoff_ms,
            cap_ms: config.max_backoff_ms.max(config.first_backoff_ms),
            window_ms: config.reconnect_window_ms,
        };
        let ttl_policy = TtlPolicy {
            notice_ms: config.expiry_notice_ms,
            precheck_ms: config.expiry_precheck_ms,
            confirm_delay_ms: config.expiry_confirm_delay_ms,
        };
        let mut session = Self {
            config,
            entropy,
            backoff,
            ttl_policy,
            token: persisted.token,
            auth: AuthMode::Guest,
            attributes: CustomAttributes::default(),
            link: Link::Down(Down::Idle),
            outage: None,
            network_online: true,
            visible: true,
            last_echo_at: None,
            echo_requested: false,
            ttl: Ttl::default(),
            transcript: Transcript::default(),
            outbox: Outbox::from_persisted(persisted.outbox),
            history: History { next_older: 2, ..History::default() },
            requests: VecDeque::new(),
            session_info: None,
            typing_sent_at: None,
            agent_typing_until: None,
            clearing: false,
            outputs: VecDeque::new(),
            reported_state: ConnectionState::Idle,
            outbox_dirty: false,
        };
        let pending: Vec<OutboxItem> = session.outbox.snapshot();
        for item in &pending {
            let entry = session.local_entry(item);
            session.transcript.upsert(entry);
        }
        if !pending.is_empty() {
            session.emit(Event::TranscriptReset(session.transcript.entries().to_vec()));
        }
        session
    }

    /// The connection state as the UI shows it.
    pub fn state(&self) -> ConnectionState {
        self.public_state()
    }

    /// The transcript, oldest first.
    pub fn transcript(&self) -> &[TranscriptEntry] {
        self.transcript.entries()
    }

    /// The guest session token in use, if any.
    pub fn token(&self) -> Option<&SessionToken> {
        self.token.as_ref()
    }

    /// The expected expiry of the guest session, if known.
    pub fn expires_at(&self) -> Option<UnixMillis> {
        self.ttl.expires_at()
    }

    /// True while the "expiring soon" notice applies.
    pub fn expiring_soon(&self) -> bool {
        self.ttl.notice_shown() && self.ttl.expires_at().is_some()
    }

    /// Unconfirmed sends, in order.
    pub fn outbox(&self) -> Vec<OutboxItem> {
        self.outbox.snapshot()
    }

    /// Facts from the last `SessionResponse`.
    pub fn session_info(&self) -> Option<&SessionInfo> {
        self.session_info.as_ref()
    }

    /// True when older history pages can be loaded.
    pub fn older_available(&self) -> bool {
        !self.history.complete
    }

    /// True when the user may send right now (configured, not read-only). Sends are also
    /// accepted (queued) while reconnecting.
    pub fn can_send_now(&self) -> bool {
        matches!(self.active_phase(), Some(false)) && !self.history.holding_sends
    }

    /// The configuration in use.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// True while the engine holds a signed-in customer's tokens.
    pub fn is_signed_in(&self) -> bool {
        self.auth.credentials().is_some()
    }

    /// True when the customer must sign in again before anything connects.
    pub fn sign_in_required(&self) -> bool {
        matches!(self.auth, AuthMode::SignInRequired(_))
    }

    /// The custom attributes set last (sent with the next message if they changed).
    pub fn custom_attributes(&self) -> &BTreeMap<String, String> {
        self.attributes.current()
    }

    // -----------------------------------------------------------------------------------------
    // Outputs

    /// The next thing the driver must do, or `None` when there is nothing left.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Session::handle_timeout`] must be called next (`None` = no timer needed).
    /// Calling it earlier or later is harmless.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        let mut next: Option<UnixMillis> = None;
        let mut consider = |at: Option<UnixMillis>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |current| current.min(at)));
            }
        };
        match &self.link {
            Link::Down(_) => {}
            Link::Waiting { retry_at } => consider(Some(*retry_at)),
            Link::Connecting { since } => consider(Some(since.saturating_add_ms(self.config.connect_timeout_ms))),
            Link::Open(open) => match open.phase {
                Phase::Configuring { .. } | Phase::AwaitingJwt { .. } | Phase::ClosingSession => {
                    consider(Some(open.phase_since.saturating_add_ms(self.config.echo_interval_ms)));
                }
                Phase::Active { .. } => {
                    consider(Some(self.keepalive_due(open)));
                    if self.echo_requested {
                        consider(Some(self.echo_allowed_at()));
                    }
                    if !self.history.holding_sends {
                        consider(self.outbox.next_retry_at());
                        consider(self.outbox.echo_deadline(self.config.echo_interval_ms));
                    }
                }
            },
        }
        if self.ttl_live() {
            consider(self.ttl.next_deadline(self.active_phase().is_some(), &self.ttl_policy));
        }
        consider(self.agent_typing_until);
        consider(self.history.retry_at.map(|(_, at)| at));
        if let Fetch::AwaitingJwt { since, .. } = self.history.fetch {
            consider(Some(since.saturating_add_ms(self.config.echo_interval_ms)));
        }
        next
    }

    // -----------------------------------------------------------------------------------------
    // Inputs

    /// The socket from the last [`Output::Connect`] opened: the engine configures the session.
    pub fn handle_socket_opened(&mut self, now: UnixMillis) {
        if matches!(self.link, Link::Connecting { .. }) {
            self.link = Link::Open(OpenLink {
                phase: Phase::Configuring { start_new: false },
                phase_since: now,
                unanswered_echo_since: None,
                live_keys: HashSet::new(),
            });
            self.begin_configure(false, now);
        }
        self.finish();
    }

    /// One text frame arrived on the open socket. Malformed or unknown frames are ignored.
    pub fn handle_frame(&mut self, text: &str, now: UnixMillis) {
        let Link::Open(open) = &mut self.link else {
            // A frame from a socket the engine already let go of.
            self.finish();
            return;
        };
        // Any frame proves the link alive.
        open.unanswered_echo_since = None;
        if let Ok(frame) = ServerFrame::from_json(text) {
            self.on_frame(frame, now);
        }
        self.finish();
    }

    /// The socket closed. `was_clean` with code 1000 is a deliberate server close (no
    /// reconnect); anything else is a failure that is retried with backoff.
    pub fn handle_socket_closed(&mut self, code: u16, _reason: &str, was_clean: bool, now: UnixMillis) {
        match self.link {
            Link::Open(_) | Link::Connecting { .. } => {
                if was_clean && code == CLOSE_NORMAL {
                    self.socket_gone();
                    self.link = Link::Down(Down::Closed(CloseReason::ServerClosed));
                    self.outage = None;
                    self.emit(Event::ConnectionClosed { reason: CloseReason::ServerClosed });
                } else {
                    self.socket_gone();
                    self.schedule_reconnect(now);
                }
            }
            _ => {}
        }
        self.finish();
    }

    /// The socket reported an error (browsers follow with a close; the engine does not wait
    /// for it: it closes the socket and schedules a reconnect).
    pub fn handle_socket_error(&mut self, now: UnixMillis) {
        if matches!(self.link, Link::Open(_) | Link::Connecting { .. }) {
            self.abandon_socket("socket error", now);
        }
        self.finish();
    }

    /// The timer from [`Session::poll_timeout`] fired (possibly late, possibly early).
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        self.on_timeout(now);
        self.finish();
    }

    /// The page became visible or hidden. Becoming visible retries a waiting reconnect at once
    /// and probes a quiet link.
    pub fn handle_visibility(&mut self, visible: bool, now: UnixMillis) {
        self.visible = visible;
        if visible {
            match &self.link {
                Link::Waiting { .. } => self.connect(now),
                Link::Open(open) if matches!(open.phase, Phase::Active { .. }) => {
                    self.request_echo(now);
                }
                _ => {}
            }
            // Timers may have been throttled while hidden: catch up now.
            self.on_timeout(now);
        }
        self.finish();
    }

    /// The browser's online/offline signal. Coming online reconnects at once (new window);
    /// going offline pauses a waiting reconnect.
    pub fn handle_network(&mut self, online: bool, now: UnixMillis) {
        self.network_online = online;
        match (&self.link, online) {
            (Link::Waiting { .. } | Link::Down(Down::Offline), true) => {
                self.outage = Some(Outage::begin(now));
                self.connect(now);
            }
            (Link::Waiting { .. }, false) => self.link = Link::Down(Down::Offline),
            _ => {}
        }
        self.finish();
    }

    /// A history page requested by [`Output::FetchHistory`] arrived.
    pub fn handle_history_page(&mut self, page: HistoryPage, now: UnixMillis) {
        self.on_history_page(page, now);
        self.finish();
    }

    /// A history fetch failed with this HTTP status (0 = network error).
    pub fn handle_history_failed(&mut self, http_status: u16, now: UnixMillis) {
        self.on_history_failed(http_status, now);
        self.finish();
    }

    // -----------------------------------------------------------------------------------------
    // User commands

    /// The user opened the messenger: connect if not connected (a fresh token after expiry),
    /// otherwise check the session's expiry with an echo (within the cooldown).
    pub fn open(&mut self, now: UnixMillis) {
        match &self.link {
            Link::Down(_) => {
                self.outage = None;
                self.connect(now);
            }
            Link::Waiting { .. } => self.connect(now),
            Link::Connecting { .. } => {}
            Link::Open(open) => {
                if matches!(open.phase, Phase::Active { .. }) {
                    self.request_echo(now);
                }
            }
        }
        self.finish();
    }

    /// Sends a text message. Returns its transcript key. Queued while disconnected.
    pub fn send_text(&mut self, text: String, now: UnixMillis) -> Result<EntryKey, CommandError> {
        if text.trim().is_empty() {
            return Err(CommandError::EmptyMessage);
        }
        self.submit(OutgoingMessage::Text { text }, now)
    }

    /// Sends an uploaded attachment (after `AttachmentUpdate::Uploaded`) with optional text.
    pub fn send_attachment(&mut self, attachment_id: AttachmentId, text: String, file_name: Option<String>, now: UnixMillis) -> Result<EntryKey, CommandError> {
        self.submit(OutgoingMessage::Attachment { attachment_id, text, file_name }, now)
    }

    /// Answers a quick reply offered by message `originating_message_id`.
    pub fn send_quick_reply(&mut self, text: String, payload: String, originating_message_id: Option<MessageId>, now: UnixMillis) -> Result<EntryKey, CommandError> {
        self.submit(OutgoingMessage::QuickReply { text, payload, originating_message_id }, now)
    }

    /// Answers a card or carousel postback button.
    pub fn send_postback(&mut self, text: String, payload: String, originating_message_id: Option<MessageId>, now: UnixMillis) -> Result<EntryKey, CommandError> {
        self.submit(OutgoingMessage::Postback { text, payload, originating_message_id }, now)
    }

    /// The user is typing: sends a typing indicator if enabled, at most one per cooldown.
    pub fn typing(&mut self, now: UnixMillis) {
        let cooled = self.typing_sent_at.is_none_or(|at| now >= at.saturating_add_ms(self.config.typing_cooldown_ms));
        if self.config.show_user_typing && cooled && self.active_phase() == Some(false) {
            if let Some(token) = self.token.clone() {
                let tracing_id = self.new_tracing_id();
                self.track(tracing_id.clone(), Request::Typing);
                self.send(ClientAction::typing_on(token).with_tracing_id(tracing_id));
                self.typing_sent_at = Some(now);
            }
        }
        self.finish();
    }

    /// Tries a failed message again (same key).
    pub fn retry_message(&mut self, key: &EntryKey, now: UnixMillis) -> Result<(), CommandError> {
        let tracing_id = TracingId::new(key.as_str());
        let Some((item, flight)) = self.outbox.get_mut(&tracing_id) else {
            return Err(CommandError::UnknownEntry);
        };
        if item.failed.is_none() {
            return Err(CommandError::NotFailed);
        }
        item.failed = None;
        flight.rate_limited = 0;
        flight.not_before = None;
        self.outbox_dirty = true;
        self.set_entry_status(&tracing_id, DeliveryStatus::Queued);
        self.after_user_action(now);
        self.finish();
        Ok(())
    }

    /// Reconnects now (from `Offline`, `Error`, `Closed` or a waiting backoff), with a fresh
    /// retry window.
    pub fn retry_connection(&mut self, now: UnixMillis) {
        match &self.link {
            Link::Down(_) | Link::Waiting { .. } => {
                self.outage = self.outage.map(|_| Outage::begin(now));
                self.connect(now);
            }
            _ => {}
        }
        self.finish();
    }

    /// Asks the server to clear the conversation (deployment must enable it).
    pub fn clear_conversation(&mut self, _now: UnixMillis) -> Result<(), CommandError> {
        if !self.config.conversation_clear {
            return Err(CommandError::FeatureDisabled);
        }
        let (Some(_), Some(token)) = (self.active_phase(), self.token.clone()) else {
            return Err(CommandError::NotConnected);
        };
        let tracing_id = self.new_tracing_id();
        self.track(tracing_id.clone(), Request::Clear);
        self.send(ClientAction::clear(token).with_tracing_id(tracing_id));
        self.clearing = true;
        self.finish();
        Ok(())
    }

    /// Leaves the conversation and starts a new one on the same socket (`closeSession` →
    /// `SessionResponse{connected:false}` → configure with `startNew:true`). Guests may do this
    /// only from a read-only conversation; a signed-in customer at any time.
    pub fn start_new_conversation(&mut self, now: UnixMillis) -> Result<(), CommandError> {
        match self.active_phase() {
            Some(true) => {}
            Some(false) if self.is_signed_in() => {}
            Some(false) => return Err(CommandError::NotReadOnly),
            None => return Err(CommandError::NotConnected),
        }
        let Some(token) = self.token.clone() else { return Err(CommandError::NotConnected) };
        let tracing_id = self.new_tracing_id();
        self.track(tracing_id.clone(), Request::CloseSession);
        self.send(ClientAction::close_session(token).with_tracing_id(tracing_id));
        if let Link::Open(open) = &mut self.link {
            open.phase = Phase::ClosingSession;
            open.phase_since = now;
        }
        self.finish();
        Ok(())
    }

    /// The page is unloading or the messenger is destroyed: close the socket, stop timers.
    /// Unsent messages stay in the persisted outbox.
    pub fn close(&mut self, _now: UnixMillis) {
        if matches!(self.link, Link::Open(_) | Link::Connecting { .. }) {
            self.emit_output(Output::Close { code: CLOSE_NORMAL, reason: "The user has closed the connection.".into() });
            self.socket_gone();
        }
        if !matches!(self.link, Link::Down(Down::Expired)) {
            self.link = Link::Down(Down::Closed(CloseReason::User));
        }
        self.outage = None;
        self.finish();
    }

    /// Loads the next older history page.
    pub fn load_older(&mut self, now: UnixMillis) -> Result<(), CommandError> {
        if self.history.complete {
            return Err(CommandError::NothingToDo);
        }
        if self.history.fetch != Fetch::Idle {
            return Err(CommandError::NothingToDo);
        }
        if self.active_phase().is_none() && !self.jwt_valid(now) {
            return Err(CommandError::NotConnected);
        }
        let page = self.history.next_older;
        self.start_fetch(page, now);
        self.finish();
        Ok(())
    }

    /// Requests an upload URL for a file (`onAttachment`); returns the new attachment id.
    /// The grant arrives as [`AttachmentUpdate::UploadGranted`].
    pub fn request_upload(&mut self, file_name: &str, mime: &str, size: u64, _now: UnixMillis) -> Result<AttachmentId, CommandError> {
        let token = self.sendable_token()?;
        let attachment_id = AttachmentId::new(self.entropy.new_id());
        let tracing_id = self.new_tracing_id();
        self.track(tracing_id.clone(), Request::Attachment(attachment_id.clone()));
        self.send(ClientAction::on_attachment(token, attachment_id.clone(), file_name, mime, size, tracing_id));
        self.finish();
        Ok(attachment_id)
    }

    /// Requests a fresh download URL for an attachment (`getAttachment`).
    pub fn refresh_download(&mut self, attachment_id: AttachmentId, _now: UnixMillis) -> Result<(), CommandError> {
        let token = match (self.active_phase(), self.token.clone()) {
            (Some(_), Some(token)) => token,
            _ => return Err(CommandError::NotConnected),
        };
        let tracing_id = self.new_tracing_id();
        self.track(tracing_id.clone(), Request::Attachment(attachment_id.clone()));
        self.send(ClientAction::get_attachment(token, attachment_id, tracing_id));
        self.finish();
        Ok(())
    }

    /// Deletes an uploaded, unsent attachment (`deleteAttachment`).
    pub fn delete_attachment(&mut self, attachment_id: AttachmentId, _now: UnixMillis) -> Result<(), CommandError> {
        let token = self.sendable_token()?;
        let tracing_id = self.new_tracing_id();
        self.track(tracing_id.clone(), Request::Attachment(attachment_id.clone()));
        self.send(ClientAction::delete_attachment(token, attachment_id, tracing_id));
        self.finish();
        Ok(())
    }

    /// Sets the custom attributes (replacing earlier ones). They go out with the next text or
    /// attachment message, and again only after they change. Refused if they exceed the
    /// deployment's `maxCustomDataBytes` (known after the first `SessionResponse`).
    pub fn set_custom_attributes(&mut self, attributes: BTreeMap<String, String>, _now: UnixMillis) -> Result<(), CommandError> {
        let size = attributes::byte_size(&attributes);
        if let Some(max) = self.custom_data_budget() {
            if size > max {
                return Err(CommandError::CustomAttributesTooLarge { size, max });
            }
        }
        self.attributes.set(attributes);
        self.finish();
        Ok(())
    }

    /// Answers a date/time-slot picker offered by message `originating_message_id` with the
    /// chosen slot's ISO-8601 `dateTime`.
    pub fn send_date_picker_answer(&mut self, date_time_iso: String, originating_message_id: Option<MessageId>, now: UnixMillis) -> Result<EntryKey, CommandError> {
        if IsoTime::new(date_time_iso.as_str()).to_unix_millis().is_none() {
            return Err(CommandError::InvalidDateTime(date_time_iso));
        }
        self.submit(OutgoingMessage::DatePicker { date_time: date_time_iso, originating_message_id }, now)
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication (see the module docs)

impl Session {
    /// The customer signed in: `jwt` from the code exchange (or the host page's provider),
    /// `refresh_token` if the flow gave one. Both stay in memory only.
    ///
    /// * Already signed in: the tokens are replaced (a configure waiting for a refresh goes on
    ///   with the new JWT); the connection is kept.
    /// * A configured guest session and [`SessionConfig::allow_session_upgrade`]: step-up on the
    ///   same socket and token.
    /// * Otherwise the guest token is discarded and the guest conversation left; the engine
    ///   connects at once on a new token unless the messenger is idle or was closed by the
    ///   user (then the next `open` does).
    pub fn sign_in(&mut self, jwt: String, refresh_token: Option<String>, now: UnixMillis) {
        let credentials = Credentials::new(Secret::new(jwt), refresh_token.map(Secret::new));
        if let Some(current) = self.auth.credentials_mut() {
            // A stale refresh answer for the old tokens is ignored from now on.
            *current = credentials;
            if let Link::Open(OpenLink { phase: Phase::AwaitingJwt { start_new }, .. }) = self.link {
                self.begin_configure(start_new, now);
            }
            self.finish();
            return;
        }
        let was_guest = self.auth.is_guest();
        let step_up = was_guest && self.config.allow_session_upgrade && self.active_phase() == Some(false);
        self.auth = AuthMode::SignedIn(credentials);
        if step_up {
            // SPEC §11 step 6: same socket, same token.
            self.begin_configure(false, now);
            self.finish();
            return;
        }
        let reconnect = !matches!(self.link, Link::Down(Down::Idle | Down::Closed(CloseReason::User)));
        if matches!(self.link, Link::Open(_) | Link::Connecting { .. }) {
            self.drop_socket("signing in");
        }
        self.outage = None;
        // SDK ≥ 2.8: an authenticated session always runs on a fresh thread token.
        self.forget_token();
        if was_guest {
            self.leave_conversation();
        }
        if reconnect {
            self.connect(now);
        }
        self.finish();
    }

    /// The customer signs out: the driver revokes the tokens ([`Output::RevokeTokens`]); the
    /// engine forgets them, the thread token, the transcript and the outbox, and stays closed
    /// (the next `open` is a guest session). Does nothing for a guest.
    pub fn sign_out(&mut self, _now: UnixMillis) {
        match std::mem::replace(&mut self.auth, AuthMode::Guest) {
            AuthMode::Guest => {}
            AuthMode::SignedIn(credentials) => {
                self.emit_output(Output::RevokeTokens { jwt: credentials.jwt, refresh_token: credentials.refresh_token });
                self.logged_out();
            }
            AuthMode::SignInRequired(_) => self.logged_out(),
        }
        self.finish();
    }

    /// The answer to [`Output::RefreshJwt`]: the new JWT, and the rotated refresh token if the
    /// response carried one (`None` keeps the old one). Configuring continues.
    pub fn handle_jwt_refreshed(&mut self, jwt: String, refresh_token: Option<String>, now: UnixMillis) {
        if let Some(credentials) = self.auth.credentials_mut().filter(|credentials| credentials.refreshing) {
            credentials.refreshing = false;
            credentials.jwt = Secret::new(jwt);
            if let Some(refresh_token) = refresh_token {
                credentials.refresh_token = Some(Secret::new(refresh_token));
            }
            if let Link::Open(OpenLink { phase: Phase::AwaitingJwt { start_new }, .. }) = self.link {
                self.begin_configure(start_new, now);
            }
        }
        self.finish();
    }

    /// [`Output::RefreshJwt`] failed with this HTTP status (0 = network error). A refused
    /// refresh (4xx) means the customer must sign in again; a network or server error is
    /// retried through a reconnect, within the same three-attempt budget.
    pub fn handle_refresh_failed(&mut self, http_status: u16, now: UnixMillis) {
        if let Some(credentials) = self.auth.credentials_mut().filter(|credentials| credentials.refreshing) {
            credentials.refreshing = false;
            let transient = http_status == 0 || http_status == 408 || http_status == 429 || http_status >= 500;
            if !transient {
                self.require_sign_in(AuthFailure::RefreshFailed { http_status });
            } else if matches!(self.link, Link::Open(OpenLink { phase: Phase::AwaitingJwt { .. }, .. })) {
                self.abandon_socket("token refresh failed", now);
            }
        }
        self.finish();
    }
}

// ---------------------------------------------------------------------------------------------
// Connection management

impl Session {
    /// Opens a socket unless one is open or connecting (never two at once).
    fn connect(&mut self, now: UnixMillis) {
        if matches!(self.link, Link::Open(_) | Link::Connecting { .. }) {
            return;
        }
        if let AuthMode::SignInRequired(reason) = &self.auth {
            // Connecting with refused tokens (or as a guest on an authenticated token) cannot
            // work: remind the UI instead.
            let reason = reason.clone();
            self.link = Link::Down(Down::SignInRequired);
            self.emit(Event::AuthorizationRequired { reason });
            return;
        }
        if self.token.is_none() {
            let token = SessionToken::new(self.entropy.new_id());
            self.token = Some(token.clone());
            self.emit_output(Output::Persist(StorageWrite::Token(Some(token))));
        }
        self.link = Link::Connecting { since: now };
        self.emit_output(Output::Connect { url: self.config.ws_url.clone() });
    }

    /// Drops the current socket ourselves (dead link, timeout, error) and retries.
    fn abandon_socket(&mut self, reason: &str, now: UnixMillis) {
        self.emit_output(Output::Close { code: CLOSE_NORMAL, reason: reason.to_owned() });
        self.socket_gone();
        self.schedule_reconnect(now);
    }

    /// Bookkeeping when a socket is gone, whatever the cause.
    fn socket_gone(&mut self) {
        self.outbox.socket_lost();
        // Unconfirmed attributes ride again on the next message.
        self.attributes.requeue();
        self.requests.clear();
        self.clearing = false;
        self.history.holding_sends = false;
        self.history.reconcile_next = None;
        match self.history.fetch {
            // The JwtResponse died with the socket; the next resume asks again.
            Fetch::AwaitingJwt { .. } => self.history.fetch = Fetch::Idle,
            Fetch::InFlight { page, .. } => self.history.fetch = Fetch::InFlight { page, stale: true },
            Fetch::Idle => {}
        }
        self.stop_agent_typing();
        self.link = Link::Down(Down::Idle);
        // Entries that were on the wire show as queued again until reconciled.
        let queued: Vec<TracingId> = self
            .outbox
            .iter()
            .filter(|(item, _)| item.failed.is_none())
            .map(|(item, _)| item.tracing_id.clone())
            .collect();
        for tracing_id in queued {
            self.set_entry_status(&tracing_id, DeliveryStatus::Queued);
        }
    }

    /// After a failure: wait with backoff, or go `Offline` when the window is used up or the
    /// browser is offline.
    fn schedule_reconnect(&mut self, now: UnixMillis) {
        let outage = self.outage.get_or_insert_with(|| Outage::begin(now));
        outage.failures = outage.failures.saturating_add(1);
        let outage = *outage;
        if !self.network_online {
            self.link = Link::Down(Down::Offline);
            return;
        }
        let random = self.entropy.next_u32();
        self.link = match self.backoff.next_retry(&outage, now, random) {
            Some(retry_at) => Link::Waiting { retry_at },
            None => Link::Down(Down::Offline),
        };
    }

    /// Configures the open socket, or waits for a refreshed JWT if one is on its way.
    fn begin_configure(&mut self, start_new: bool, now: UnixMillis) {
        let waiting = self.auth.credentials().is_some_and(|credentials| credentials.refreshing);
        let Link::Open(open) = &mut self.link else { return };
        open.phase = if waiting { Phase::AwaitingJwt { start_new } } else { Phase::Configuring { start_new } };
        open.phase_since = now;
        if !waiting {
            self.send_configure(start_new);
        }
    }

    fn send_configure(&mut self, start_new: bool) {
        let Some(token) = self.token.clone() else { return };
        let tracing_id = self.new_tracing_id();
        self.track(tracing_id.clone(), Request::Configure);
        let deployment_id = self.config.deployment_id.clone();
        let action = match self.auth.credentials() {
            Some(credentials) => {
                ClientAction::configure_authenticated_session(token, deployment_id, credentials.jwt.expose(), start_new, tracing_id)
            }
            None => ClientAction::configure_session(token, deployment_id, start_new, tracing_id),
        };
        self.send(action);
    }

    /// A terminal error: close, stop, optionally forget the token.
    fn fail(&mut self, code: u32, message: String, forget_token: bool) {
        if matches!(self.link, Link::Open(_) | Link::Connecting { .. }) {
            self.emit_output(Output::Close { code: CLOSE_NORMAL, reason: message.clone() });
        }
        self.socket_gone();
        self.link = Link::Down(Down::Failed { code, message });
        self.outage = None;
        if forget_token {
            self.forget_token();
        }
    }

    /// The server ended this connection on purpose (`ConnectionClosedEvent`, `LogoutEvent`).
    fn closed_by_server(&mut self, reason: CloseReason) {
        if matches!(self.link, Link::Open(_) | Link::Connecting { .. }) {
            self.emit_output(Output::Close { code: CLOSE_NORMAL, reason: "closed by server".into() });
        }
        self.socket_gone();
        self.link = Link::Down(Down::Closed(reason));
        self.outage = None;
    }

    fn forget_token(&mut self) {
        if self.token.take().is_some() {
            self.emit_output(Output::Persist(StorageWrite::Token(None)));
        }
    }

    /// Closes the socket (if any) ourselves and forgets it.
    fn drop_socket(&mut self, reason: &str) {
        if matches!(self.link, Link::Open(_) | Link::Connecting { .. }) {
            self.emit_output(Output::Close { code: CLOSE_NORMAL, reason: reason.to_owned() });
        }
        self.socket_gone();
    }

    /// The signed-in customer's tokens are no longer accepted: drop them and wait for a new
    /// sign-in. The outbox and the transcript stay.
    fn require_sign_in(&mut self, reason: AuthFailure) {
        self.drop_socket("sign-in required");
        self.link = Link::Down(Down::SignInRequired);
        self.outage = None;
        self.auth = AuthMode::SignInRequired(reason.clone());
        self.emit(Event::AuthorizationRequired { reason });
    }

    /// A 401 on configure: refresh the JWT and configure again, within the attempt budget.
    fn on_unauthorized(&mut self, now: UnixMillis) {
        let start_new = match &self.link {
            Link::Open(open) => match open.phase {
                Phase::Configuring { start_new } => start_new,
                // Already waiting for a refresh: a duplicate 401 changes nothing.
                Phase::AwaitingJwt { .. } => return,
                // A refused closeSession: the new conversation is still wanted.
                Phase::ClosingSession => true,
                Phase::Active { .. } => return,
            },
            _ => return,
        };
        let Some(credentials) = self.auth.credentials_mut() else { return };
        credentials.rejected_configures = credentials.rejected_configures.saturating_add(1);
        if credentials.rejected_configures >= MAX_CONFIGURE_ATTEMPTS {
            return self.require_sign_in(AuthFailure::Unauthorized);
        }
        let Some(refresh_token) = credentials.refresh_token.clone() else {
            return self.require_sign_in(AuthFailure::NoRefreshToken);
        };
        // One refresh at a time (a reconnect may meet a 401 while one is still out).
        let already_refreshing = std::mem::replace(&mut credentials.refreshing, true);
        if let Link::Open(open) = &mut self.link {
            open.phase = Phase::AwaitingJwt { start_new };
            open.phase_since = now;
        }
        if !already_refreshing {
            self.emit_output(Output::RefreshJwt { refresh_token });
        }
    }

    /// Forgets the current conversation locally (another identity's or a finished one):
    /// transcript rows the server confirmed, history paging, expiry and session facts.
    /// Unsent messages stay.
    fn leave_conversation(&mut self) {
        self.transcript.retain(|entry| entry.status != DeliveryStatus::Sent);
        self.emit(Event::TranscriptReset(self.transcript.entries().to_vec()));
        if self.ttl.notice_shown() {
            self.emit(Event::ExpiringCancelled);
        }
        self.ttl.reset();
        self.reset_history(false);
        self.session_info = None;
        self.echo_requested = false;
        self.attributes.new_conversation();
    }

    /// `LogoutEvent` or `sign_out`: tokens, thread token, transcript and outbox are gone; no
    /// reconnect until the next `open`, which starts a guest session on a new token.
    fn logged_out(&mut self) {
        self.auth = AuthMode::Guest;
        self.drop_socket("logged out");
        self.link = Link::Down(Down::Closed(CloseReason::LoggedOut));
        self.outage = None;
        self.forget_token();
        // What the signed-in customer typed must not go out in a guest session.
        if !self.outbox.is_empty() {
            self.outbox.clear();
            self.outbox_dirty = true;
        }
        self.transcript.clear();
        self.leave_conversation();
        self.emit(Event::LoggedOut);
    }

    /// Forgets history paging for a conversation the engine left. A fetch still in flight stays
    /// counted (the driver answers every fetch exactly once) but its answer is dropped.
    fn reset_history(&mut self, keep_jwt: bool) {
        let outstanding = matches!(self.history.fetch, Fetch::InFlight { .. });
        let jwt = if keep_jwt { self.history.jwt.take() } else { None };
        self.history = History { next_older: 2, jwt, ..History::default() };
        if outstanding {
            self.history.fetch = Fetch::InFlight { page: 0, stale: true };
            self.history.discard_answer = true;
        }
    }

    /// The deployment's custom-attribute budget, once a `SessionResponse` told it.
    fn custom_data_budget(&self) -> Option<usize> {
        self.session_info.as_ref()?.max_custom_data_bytes.and_then(|max| usize::try_from(max).ok())
    }

    /// The session expired: forget everything and close. `open` starts a fresh session.
    fn expire(&mut self) {
        if matches!(self.link, Link::Open(_) | Link::Connecting { .. }) {
            self.emit_output(Output::Close { code: CLOSE_NORMAL, reason: "session expired".into() });
        }
        self.socket_gone();
        self.link = Link::Down(Down::Expired);
        self.outage = None;
        self.forget_token();
        self.transcript.clear();
        self.emit(Event::TranscriptReset(Vec::new()));
        if !self.outbox.is_empty() {
            self.outbox.clear();
            self.outbox_dirty = true;
        }
        self.ttl.reset();
        self.reset_history(false);
        self.session_info = None;
        self.echo_requested = false;
        self.emit(Event::Expired);
    }

    /// A user action while retrying stopped: try again now.
    fn after_user_action(&mut self, now: UnixMillis) {
        match &self.link {
            Link::Down(Down::Offline) => {
                self.outage = Some(Outage::begin(now));
                self.connect(now);
            }
            Link::Open(_) => self.flush_outbox(now),
            _ => {}
        }
    }

    /// `Some(read_only)` when the session is configured on an open socket.
    fn active_phase(&self) -> Option<bool> {
        match &self.link {
            Link::Open(OpenLink { phase: Phase::Active { read_only }, .. }) => Some(*read_only),
            _ => None,
        }
    }

    /// The TTL clock matters while the session is in use (not before open, not after an end).
    fn ttl_live(&self) -> bool {
        matches!(self.link, Link::Open(_) | Link::Connecting { .. } | Link::Waiting { .. } | Link::Down(Down::Offline))
    }

    fn sendable_token(&self) -> Result<SessionToken, CommandError> {
        match (self.active_phase(), &self.token) {
            (Some(true), _) => Err(CommandError::ReadOnly),
            (Some(false), Some(token)) => Ok(token.clone()),
            _ => Err(CommandError::NotConnected),
        }
    }

    fn public_state(&self) -> ConnectionState {
        let retrying = |next_attempt_at| match &self.outage {
            Some(outage) => ConnectionState::Reconnecting { attempt: outage.failures, next_attempt_at },
            None => ConnectionState::Connecting,
        };
        match &self.link {
            Link::Down(Down::Idle) => ConnectionState::Idle,
            Link::Down(Down::Offline) => ConnectionState::Offline,
            Link::Down(Down::Expired) => ConnectionState::Expired,
            Link::Down(Down::Closed(reason)) => ConnectionState::Closed { reason: reason.clone() },
            Link::Down(Down::Failed { code, message }) => ConnectionState::Error { code: *code, message: message.clone() },
            Link::Down(Down::SignInRequired) => {
                ConnectionState::Error { code: AUTH_FAILED, message: "Sign in again to continue.".to_owned() }
            }
            Link::Waiting { retry_at } => retrying(Some(*retry_at)),
            Link::Connecting { .. } => retrying(None),
            Link::Open(open) => match open.phase {
                Phase::Active { read_only: true } => ConnectionState::ReadOnly,
                Phase::Active { read_only: false } => ConnectionState::Connected,
                Phase::Configuring { start_new: true } | Phase::AwaitingJwt { start_new: true } | Phase::ClosingSession => {
                    ConnectionState::Connecting
                }
                Phase::Configuring { start_new: false } | Phase::AwaitingJwt { start_new: false } => retrying(None),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Timers

impl Session {
    fn on_timeout(&mut self, now: UnixMillis) {
        match &self.link {
            Link::Connecting { since } if now >= since.saturating_add_ms(self.config.connect_timeout_ms) => {
                self.abandon_socket("connect timeout", now);
            }
            Link::Waiting { retry_at } if now >= *retry_at => self.connect(now),
            Link::Open(open) => match open.phase {
                Phase::Configuring { .. } | Phase::AwaitingJwt { .. } | Phase::ClosingSession => {
                    if now >= open.phase_since.saturating_add_ms(self.config.echo_interval_ms) {
                        self.abandon_socket("no session response", now);
                    }
                }
                Phase::Active { .. } => {
                    if now >= self.keepalive_due(open) {
                        if open.unanswered_echo_since.is_some() {
                            // An echo went unanswered for a whole interval: the link is dead.
                            self.abandon_socket("keep-alive timeout", now);
                        } else {
                            self.send_echo(now);
                        }
                    }
                    if self.echo_requested && now >= self.echo_allowed_at() {
                        self.send_echo(now);
                    }
                    if !self.history.holding_sends && self.outbox.next_retry_at().is_some_and(|at| at <= now) {
                        self.flush_outbox(now);
                    }
                    if !self.history.holding_sends && self.outbox.expire_overdue_echoes(now, self.config.echo_interval_ms) {
                        // The server may have the message and lost only the echo: ask history
                        // before sending it again.
                        self.begin_reconcile(now);
                    }
                }
            },
            _ => {}
        }
        if self.ttl_live() {
            let socket_ready = self.active_phase().is_some();
            for action in self.ttl.on_timeout(now, socket_ready, &self.ttl_policy) {
                match action {
                    TtlAction::RequestEcho => self.request_echo(now),
                    TtlAction::Notify(expires_at) => self.emit(Event::ExpiringSoon { expires_at }),
                    TtlAction::ExpireLocally => {
                        self.expire();
                        break;
                    }
                }
            }
        }
        if self.agent_typing_until.is_some_and(|until| now >= until) {
            self.stop_agent_typing();
        }
        if let Fetch::AwaitingJwt { page, since } = self.history.fetch {
            if now >= since.saturating_add_ms(self.config.echo_interval_ms) {
                // The JwtResponse was lost: ask again.
                self.history.fetch = Fetch::Idle;
                self.start_fetch(page, now);
            }
        }
        if let Some((page, at)) = self.history.retry_at {
            if now >= at {
                self.history.retry_at = None;
                self.start_fetch(page, now);
            }
        }
    }

    /// Next keep-alive echo: one interval after the last echo or after configuration.
    fn keepalive_due(&self, open: &OpenLink) -> UnixMillis {
        let base = match self.last_echo_at {
            Some(at) if at > open.phase_since => at,
            _ => open.phase_since,
        };
        base.saturating_add_ms(self.config.echo_interval_ms.max(self.config.echo_cooldown_ms))
    }

    fn echo_allowed_at(&self) -> UnixMillis {
        self.last_echo_at.map_or(UnixMillis(0), |at| at.saturating_add_ms(self.config.echo_cooldown_ms))
    }

    /// Wants an echo: now if the cooldown allows, else as soon as it does.
    fn request_echo(&mut self, now: UnixMillis) {
        if self.active_phase().is_none() {
            return;
        }
        if now >= self.echo_allowed_at() {
            self.send_echo(now);
        } else {
            self.echo_requested = true;
        }
    }

    fn send_echo(&mut self, now: UnixMillis) {
        let Some(token) = self.token.clone() else { return };
        self.send(ClientAction::health_check(token));
        self.last_echo_at = Some(now);
        self.echo_requested = false;
        if let Link::Open(open) = &mut self.link {
            open.unanswered_echo_since.get_or_insert(now);
        }
    }

    fn stop_agent_typing(&mut self) {
        if self.agent_typing_until.take().is_some() {
            self.emit(Event::AgentTypingStopped);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Frames

impl Session {
    fn on_frame(&mut self, frame: ServerFrame, now: UnixMillis) {
        let tracing_id = frame.tracing_id.clone();
        let request = tracing_id.as_ref().and_then(|id| self.take_request(id));
        match frame.kind {
            FrameKind::SessionResponse(response) => self.on_session_response(response, now),
            FrameKind::StructuredMessage(message) => {
                if tracing_id.as_deref_str() == Some(HEALTH_CHECK_TRACING_ID) {
                    self.on_echo_answer(&message, now);
                } else {
                    self.on_message(message, tracing_id, now);
                }
            }
            FrameKind::Error { code, text } => self.on_error(code, text, tracing_id, request, now),
            FrameKind::TooManyRequests(body) => {
                let retry_after_secs = body.retry_after.unwrap_or(3);
                self.on_rate_limited(retry_after_secs, tracing_id, now);
            }
            FrameKind::SessionExpired => self.expire(),
            FrameKind::ConnectionClosed(closed) => {
                let reason = convert::close_reason(&closed, self.clearing);
                if reason == CloseReason::SignedIn {
                    self.forget_token();
                }
                self.emit(Event::ConnectionClosed { reason: reason.clone() });
                self.closed_by_server(reason);
            }
            FrameKind::Logout => self.logged_out(),
            FrameKind::SessionCleared => {
                self.transcript.retain(|entry| entry.status != DeliveryStatus::Sent);
                self.emit(Event::TranscriptReset(self.transcript.entries().to_vec()));
                self.emit(Event::ConversationCleared);
                self.history.complete = true;
            }
            FrameKind::Jwt(jwt) => {
                let expires_at = jwt.exp.to_unix_millis().unwrap_or(UnixMillis(0));
                self.history.jwt = Some((jwt.jwt, expires_at));
                if let Fetch::AwaitingJwt { page, .. } = self.history.fetch {
                    self.history.fetch = Fetch::Idle;
                    self.start_fetch(page, now);
                }
            }
            FrameKind::PresignedUrl(grant) => {
                let update = if grant.is_refresh() {
                    AttachmentUpdate::DownloadUrlRefreshed { attachment_id: grant.attachment_id, url: grant.url }
                } else {
                    AttachmentUpdate::UploadGranted { attachment_id: grant.attachment_id, url: grant.url, headers: grant.headers }
                };
                self.emit(Event::Attachment(update));
            }
            FrameKind::UploadSuccess(success) => self.emit(Event::Attachment(AttachmentUpdate::Uploaded {
                attachment_id: success.attachment_id,
                download_url: success.download_url,
            })),
            FrameKind::UploadFailure(failure) | FrameKind::GenerateUrlError(failure) => {
                self.emit(Event::Attachment(AttachmentUpdate::Rejected {
                    attachment_id: failure.attachment_id,
                    code: failure.error_code.as_u32(),
                    message: failure.error_message.unwrap_or_default(),
                }))
            }
            FrameKind::AttachmentDeleted(deleted) => {
                self.emit(Event::Attachment(AttachmentUpdate::Deleted { attachment_id: deleted.attachment_id }))
            }
            FrameKind::GetConfiguration(_) | FrameKind::Unknown { .. } => {}
        }
    }

    fn on_session_response(&mut self, response: SessionResponse, now: UnixMillis) {
        let Link::Open(open) = &mut self.link else { return };
        if !response.connected {
            // The answer to closeSession in the start-new flow: wipe and configure afresh on the
            // same socket. Anything else with connected:false is not actionable.
            if open.phase == Phase::ClosingSession {
                self.wipe_conversation();
                self.begin_configure(true, now);
            }
            return;
        }
        if !matches!(open.phase, Phase::Configuring { .. }) {
            // Only the answer to our configure counts; a duplicated or replayed one must not
            // reset delivery state (it would re-send what the server already has).
            return;
        }
        open.phase = Phase::Active { read_only: response.read_only };
        open.phase_since = now;
        open.live_keys.clear();
        self.outage = None;
        // The SDK drops the JWT on every SessionResponse.
        self.history.jwt = None;

        if let Some(credentials) = self.auth.credentials_mut() {
            credentials.rejected_configures = 0;
        }

        let info = convert::session_info(&response);
        self.session_info = Some(info.clone());
        self.emit(Event::SessionConfigured(info));
        if response.cleared_existing_session {
            self.emit(Event::Notice(SessionNotice::ClearedExistingSession));
        }
        if self.custom_data_budget().is_some_and(|max| attributes::byte_size(self.attributes.current()) > max) {
            // Set before the budget was known, and too large for it: the server would refuse
            // every message carrying them (4013).
            self.attributes.discard();
            self.emit(Event::Error(UserError::CustomAttributesTooLarge));
        }

        let expiration = response.expiration_date.and_then(|date| date.to_unix_millis());
        let change = self.ttl.server_says(response.duration_seconds, expiration, now, &self.ttl_policy);
        self.report_ttl(change, now);

        if response.read_only {
            self.emit(Event::ReadOnly);
        }

        if response.new_session {
            // Nothing on the server: the transcript keeps only what still has to be sent, and
            // every queued message goes to this new session.
            self.transcript.retain(|entry| entry.status != DeliveryStatus::Sent);
            self.emit(Event::TranscriptReset(self.transcript.entries().to_vec()));
            for (item, _) in self.outbox.iter_mut() {
                item.attempted = false;
            }
            self.outbox_dirty = true;
            self.history.truth_pending = false;
            self.history.holding_sends = false;
            self.history.reconcile_next = None;
            self.history.complete = true;
            self.history.next_older = 2;
            self.emit(Event::OlderAvailable(false));
            self.attributes.new_conversation();
            if self.config.auto_start && !response.read_only && response.auto_started != Some(true) {
                if let Some(token) = self.token.clone() {
                    let tracing_id = self.new_tracing_id();
                    self.track(tracing_id.clone(), Request::Join);
                    // The Join starts the conversation, so it carries the attributes (SDK).
                    let mut join = Message::event(WireEvent::presence(PresenceType::Join));
                    if let Some(attributes) = self.attributes.due().cloned() {
                        join = join.with_custom_attributes(attributes);
                        self.attributes.attached(tracing_id.clone());
                    }
                    self.send(ClientAction::message(token, join, tracing_id));
                }
            }
        } else {
            // Resumed: page 1 of history is the truth, and decides what queued sends the server
            // already has.
            self.history.truth_pending = true;

            self.history.failures = 0;
            self.history.retry_at = None;
            self.history.holding_sends = self.outbox.has_unreconciled();
            self.history.reconcile_next = self.history.holding_sends.then_some(1);
            self.history.next_older = 2;
            match self.history.fetch {
                Fetch::InFlight { page, .. } => {
                    self.history.fetch = Fetch::InFlight { page, stale: true };
                    self.history.queued_page = Some(1);
                }
                _ => self.start_fetch(1, now),
            }
        }
        self.flush_outbox(now);
    }

    /// The answer to an echo: TTL facts, never shown.
    fn on_echo_answer(&mut self, message: &Message, now: UnixMillis) {
        let expiration = message.metadata_expiration_date().and_then(|date| date.to_unix_millis());
        let duration = message.metadata_duration_seconds();
        if expiration.is_some() || duration.is_some() {
            let change = self.ttl.server_says(duration, expiration, now, &self.ttl_policy);
            self.report_ttl(change, now);
        }
    }

    fn on_message(&mut self, message: Message, tracing_id: Option<TracingId>, now: UnixMillis) {
        if message.message_type == MessageType::Event || !message.events.is_empty() {
            self.on_events(&message, now);
        }
        let Some(kind) = convert::entry_kind(&message) else { return };
        if kind == EntryKind::Message {
            if message.is_outbound() {
                self.stop_agent_typing();
            }
            let change = self.ttl.activity(now, &self.ttl_policy);
            self.report_ttl(change, now);
        }
        let own_tracing = tracing_id.or_else(|| message.metadata.get(TRACING_METADATA_KEY).map(|id| TracingId::new(id.as_str())));
        if let Some(tracing_id) = own_tracing.as_ref().filter(|_| message.is_inbound()) {
            self.attributes.confirmed(tracing_id);
        }
        let key = self.merge_live(&message, kind, own_tracing.as_ref(), now);
        if let (Some(key), Link::Open(open)) = (key, &mut self.link) {
            open.live_keys.insert(key);
        }
        // A confirmed send may unblock the next one held behind a 429.
        self.flush_outbox(now);
    }

    fn on_events(&mut self, message: &Message, now: UnixMillis) {
        if let Some(typing) = message.typing().filter(|_| message.is_outbound()) {
            match typing.typing_type {
                TypingType::On => {
                    let until = now.saturating_add_ms(typing.duration.filter(|ms| *ms > 0).unwrap_or(self.config.agent_typing_fallback_ms));
                    self.agent_typing_until = Some(until);
                    self.emit(Event::AgentTyping { until });
                }
                _ => self.stop_agent_typing(),
            }
        }
        if message.has_presence(&PresenceType::SessionExpired) {
            self.expire();
            return;
        }
        if message.is_outbound() && message.is_read_only_disconnect() {
            if let Link::Open(open) = &mut self.link {
                if open.phase == (Phase::Active { read_only: false }) {
                    open.phase = Phase::Active { read_only: true };
                    self.emit(Event::ReadOnly);
                }
            }
        }
    }

    /// Merges one live message: confirms an own send, or updates a known row, or inserts.
    /// Returns the key of the row.
    fn merge_live(&mut self, message: &Message, kind: EntryKind, own_tracing: Option<&TracingId>, now: UnixMillis) -> Option<EntryKey> {
        if let Some(tracing_id) = own_tracing.filter(|_| message.is_inbound()) {
            if self.outbox.get(tracing_id).is_some() {
                return Some(self.confirm_send(tracing_id, message));
            }
            let key = EntryKey(tracing_id.as_str().to_owned());
            if self.transcript.contains(&key) {
                self.update_entry(&key, message, kind);
                return Some(key);
            }
        }
        if let Some(key) = message.id.as_ref().and_then(|id| self.transcript.key_for_message(id)).cloned() {
            self.update_entry(&key, message, kind);
            return Some(key);
        }
        let key = match (&message.id, own_tracing) {
            (Some(id), _) => EntryKey(id.as_str().to_owned()),
            (None, Some(tracing_id)) => EntryKey(tracing_id.as_str().to_owned()),
            (None, None) => EntryKey(format!("local-{}", self.entropy.new_id())),
        };
        let order = OrderKey { time_ms: message.time_millis().unwrap_or(now.0), seq: self.transcript.next_seq() };
        let entry = convert::entry_from_message(message, key.clone(), kind, order);
        self.transcript.upsert(entry.clone());
        self.emit(Event::EntryUpserted(entry));
        Some(key)
    }

    /// The server has this send: drop it from the outbox and mark its row sent.
    fn confirm_send(&mut self, tracing_id: &TracingId, message: &Message) -> EntryKey {
        self.attributes.confirmed(tracing_id);
        self.outbox.remove(tracing_id);
        self.outbox_dirty = true;
        let key = EntryKey(tracing_id.as_str().to_owned());
        self.update_entry(&key, message, EntryKind::Message);
        key
    }

    /// Refreshes row `key` from a server copy of its message (keeps its key and sequence).
    fn update_entry(&mut self, key: &EntryKey, message: &Message, kind: EntryKind) {
        let Some(existing) = self.transcript.get(key) else { return };
        let time_ms = message.time_millis().unwrap_or(existing.order.time_ms);
        let order = OrderKey { time_ms, seq: existing.order.seq };
        let mut entry = convert::entry_from_message(message, key.clone(), kind, order);
        if entry.time.is_none() {
            entry.time = existing.time;
        }
        if entry.message_id.is_none() {
            entry.message_id = existing.message_id.clone();
        }
        if self.transcript.get(key) != Some(&entry) {
            self.transcript.upsert(entry.clone());
            self.emit(Event::EntryUpserted(entry));
        }
    }

    fn on_error(&mut self, code: ErrorCode, text: String, tracing_id: Option<TracingId>, request: Option<Request>, now: UnixMillis) {
        let configuring = matches!(&self.link, Link::Open(open) if !matches!(open.phase, Phase::Active { .. }));
        if self.is_signed_in() {
            // SPEC §5 rules 1–2 for authenticated sessions.
            if code == ErrorCode::Forbidden && is_auth_failure_text(&text) {
                return self.require_sign_in(AuthFailure::Rejected { message: text });
            }
            if code == ErrorCode::Unauthorized && configuring {
                return self.on_unauthorized(now);
            }
        }
        match code {
            ErrorCode::SessionHasExpired => return self.expire(),
            ErrorCode::SessionNotFound | ErrorCode::CannotDowngradeToUnauthenticated => {
                return self.fail(code.as_u32(), text, true);
            }
            ErrorCode::TooManyRequests | ErrorCode::RequestRateTooHigh => {
                return self.on_rate_limited(3, tracing_id, now);
            }
            _ => {}
        }
        if configuring {
            // SPEC §5 rule 2: a guest cannot recover from a refused configure.
            return self.fail(code.as_u32(), text, false);
        }
        let send_target = tracing_id.as_ref().filter(|id| self.outbox.get(id).is_some()).cloned();
        if matches!(code, ErrorCode::MessageTooLong | ErrorCode::CustomAttributeSizeTooLarge) {
            // An error frame without tracing id applies to the oldest send on the wire.
            let target = match (&request, send_target) {
                (Some(_), None) => None,
                (_, Some(target)) => Some(target),
                (None, None) => self.outbox.oldest_in_flight(),
            };
            if let Some(target) = &target {
                self.fail_send(target, outbox::failure_for_code(code.as_u32()));
            }
            if code == ErrorCode::CustomAttributeSizeTooLarge {
                // SPEC §5: the attributes are discarded (not re-sent with the next message).
                self.attributes.discard();
            }
            let key = target.map(|target| EntryKey(target.into_string()));
            let error = if code == ErrorCode::MessageTooLong {
                UserError::MessageTooLong { key }
            } else {
                UserError::CustomAttributesTooLarge
            };
            self.emit(Event::Error(error));
            return;
        }
        if let Some(target) = send_target {
            self.fail_send(&target, outbox::failure_for_code(code.as_u32()));
            self.emit(Event::Error(UserError::Server { code: code.as_u32(), message: text }));
            return;
        }
        match request {
            Some(Request::Jwt) => {
                self.history.fetch = Fetch::Idle;
                self.history_gave_up(u16::try_from(code.as_u32()).unwrap_or(0));
                return;
            }
            Some(Request::Clear) => {
                self.clearing = false;
                self.emit(Event::Error(UserError::ClearConversationFailed));
                return;
            }
            _ => {}
        }
        let error = match code {
            ErrorCode::Forbidden if crate::protocol::is_auth_failure_text(&text) => UserError::AuthorizationRequired,
            _ if crate::protocol::is_clear_conversation_failure_text(&text) => {
                self.clearing = false;
                UserError::ClearConversationFailed
            }
            ErrorCode::Forbidden => UserError::Forbidden { message: text },
            ErrorCode::FeatureUnavailable => UserError::FeatureUnavailable,
            _ => UserError::Server { code: code.as_u32(), message: text },
        };
        self.emit(Event::Error(error));
    }

    fn on_rate_limited(&mut self, retry_after_secs: u64, tracing_id: Option<TracingId>, now: UnixMillis) {
        let retry_after_ms = retry_after_secs.max(1).saturating_mul(1000);
        if tracing_id.as_deref_str() == Some(HEALTH_CHECK_TRACING_ID) {
            // Our echo was too fast: push the cooldown out.
            self.last_echo_at = Some(now.saturating_add_ms(retry_after_ms));
            return;
        }
        let target = match tracing_id.filter(|id| self.outbox.get(id).is_some()) {
            Some(id) => Some(id),
            None => self.outbox.oldest_in_flight(),
        };
        if let Some(target) = target {
            let limit = self.config.rate_limit_retries;
            if let Some((_, flight)) = self.outbox.get_mut(&target) {
                flight.in_flight = false;
                flight.rate_limited += 1;
                flight.not_before = Some(now.saturating_add_ms(retry_after_ms));
                if flight.rate_limited > limit {
                    self.fail_send(&target, FailureReason::RateLimited);
                } else {
                    self.set_entry_status(&target, DeliveryStatus::Queued);
                }
            }
        }
        self.emit(Event::Error(UserError::RateLimited { retry_after_secs }));
    }

    fn fail_send(&mut self, tracing_id: &TracingId, reason: FailureReason) {
        // Whatever attributes it carried go with the next message instead.
        self.attributes.release(tracing_id);
        if let Some((item, flight)) = self.outbox.get_mut(tracing_id) {
            item.failed = Some(reason.clone());
            flight.in_flight = false;
            self.outbox_dirty = true;
            self.set_entry_status(tracing_id, DeliveryStatus::Failed { reason });
        }
    }

    fn report_ttl(&mut self, change: TtlChange, now: UnixMillis) {
        if change.notice_cancelled {
            self.emit(Event::ExpiringCancelled);
            // SDK: verify the extension with the server.
            self.request_echo(now);
        }
        if change.moved {
            if let (Some(expires_at), Some(duration_secs)) = (self.ttl.expires_at(), self.ttl.duration_secs()) {
                self.emit(Event::ExpiryKnown { expires_at, duration_secs });
            }
        }
    }

    /// Start-new: the old conversation is gone locally (queued sends stay).
    fn wipe_conversation(&mut self) {
        self.transcript.retain(|entry| entry.status != DeliveryStatus::Sent);
        self.emit(Event::TranscriptReset(self.transcript.entries().to_vec()));
        self.ttl.reset();
        // Same token: its history JWT stays good.
        self.reset_history(true);
    }
}

/// `Option<TracingId>` → `Option<&str>` without cloning.
trait TracingStr {
    fn as_deref_str(&self) -> Option<&str>;
}

impl TracingStr for Option<TracingId> {
    fn as_deref_str(&self) -> Option<&str> {
        self.as_ref().map(TracingId::as_str)
    }
}

// ---------------------------------------------------------------------------------------------
// Sending

impl Session {
    fn submit(&mut self, message: OutgoingMessage, now: UnixMillis) -> Result<EntryKey, CommandError> {
        let chars = message.display_text().chars().count();
        if chars > self.config.max_message_chars {
            return Err(CommandError::TooLong { max: self.config.max_message_chars });
        }
        match &self.link {
            Link::Open(OpenLink { phase: Phase::Active { read_only: true }, .. }) => return Err(CommandError::ReadOnly),
            // While waiting for a new sign-in, sends queue like offline ones: nothing typed is lost.
            Link::Down(Down::Offline | Down::SignInRequired) | Link::Waiting { .. } | Link::Connecting { .. } | Link::Open(_) => {}
            Link::Down(_) => return Err(CommandError::NotOpen),
        }
        let tracing_id = self.new_tracing_id();
        let item = OutboxItem { tracing_id: tracing_id.clone(), message, created_at: now, attempted: false, failed: None };
        let entry = self.local_entry(&item);
        self.outbox.push(item);
        self.outbox_dirty = true;
        self.transcript.upsert(entry.clone());
        self.emit(Event::EntryUpserted(entry));
        self.after_user_action(now);
        self.finish();
        Ok(EntryKey(tracing_id.into_string()))
    }

    /// Sends every queued message that may go now, in order.
    fn flush_outbox(&mut self, now: UnixMillis) {
        if self.active_phase() != Some(false) || self.history.holding_sends {
            return;
        }
        let Some(token) = self.token.clone() else { return };
        for tracing_id in self.outbox.sendable(now) {
            let carries = self.attributes.due().is_some() || self.attributes.carried_by(&tracing_id);
            let Some((item, flight)) = self.outbox.get_mut(&tracing_id) else { continue };
            item.attempted = true;
            flight.in_flight = true;
            flight.sent_at = Some(now);
            flight.not_before = None;
            let attributes = (carries && outbox::carries_attributes(&item.message) && !self.attributes.current().is_empty())
                .then(|| self.attributes.current().clone());
            let action = outbox::wire_action(token.clone(), item, attributes.clone());
            if attributes.is_some() {
                self.attributes.attached(tracing_id.clone());
            }
            self.outbox_dirty = true;
            self.send(action);
            self.set_entry_status(&tracing_id, DeliveryStatus::Sending);
            let change = self.ttl.activity(now, &self.ttl_policy);
            self.report_ttl(change, now);
        }
    }

    fn local_entry(&mut self, item: &OutboxItem) -> TranscriptEntry {
        let status = match &item.failed {
            Some(reason) => DeliveryStatus::Failed { reason: reason.clone() },
            None => DeliveryStatus::Queued,
        };
        TranscriptEntry {
            key: EntryKey(item.tracing_id.as_str().to_owned()),
            message_id: None,
            order: OrderKey { time_ms: item.created_at.0, seq: self.transcript.next_seq() },
            direction: Direction::Inbound,
            author: Author::Customer,
            display_name: None,
            avatar_url: None,
            text: item.message.display_text().to_owned(),
            content: outbox::local_content(&item.message),
            status,
            time: None,
            kind: EntryKind::Message,
        }
    }

    fn set_entry_status(&mut self, tracing_id: &TracingId, status: DeliveryStatus) {
        let key = EntryKey(tracing_id.as_str().to_owned());
        if let Some(entry) = self.transcript.get(&key) {
            if entry.status != status {
                let mut entry = entry.clone();
                entry.status = status;
                self.transcript.upsert(entry.clone());
                self.emit(Event::EntryUpserted(entry));
            }
        }
    }

    fn send(&mut self, action: ClientAction) {
        self.emit_output(Output::Send(action.to_json()));
    }

    fn new_tracing_id(&mut self) -> TracingId {
        TracingId::new(self.entropy.new_id())
    }

    fn track(&mut self, tracing_id: TracingId, request: Request) {
        if self.requests.len() >= MAX_TRACKED_REQUESTS {
            self.requests.pop_front();
        }
        self.requests.push_back((tracing_id, request));
    }

    fn take_request(&mut self, tracing_id: &TracingId) -> Option<Request> {
        let index = self.requests.iter().position(|(id, _)| id == tracing_id)?;
        self.requests.remove(index).map(|(_, request)| request)
    }
}

// ---------------------------------------------------------------------------------------------
// History

impl Session {
    fn jwt_valid(&self, now: UnixMillis) -> bool {
        self.history.jwt.as_ref().is_some_and(|(_, exp)| *exp > now.saturating_add_ms(JWT_MARGIN_MS))
    }

    /// Fetches `page`, asking for a JWT first if the cached one is not good for 5 more seconds.
    fn start_fetch(&mut self, page: u32, now: UnixMillis) {
        if self.history.fetch != Fetch::Idle {
            self.history.queued_page = Some(page);
            return;
        }
        if self.jwt_valid(now) {
            if let Some((jwt, _)) = &self.history.jwt {
                let jwt = jwt.clone();
                self.history.fetch = Fetch::InFlight { page, stale: false };
                self.emit_output(Output::FetchHistory { page_number: page, page_size: self.config.history_page_size, jwt });
            }
            return;
        }
        self.history.jwt = None;
        let Some(token) = self.token.clone() else { return };
        if self.active_phase().is_none() {
            // No socket to ask for a JWT: the next SessionResponse starts over.
            return;
        }
        let tracing_id = self.new_tracing_id();
        self.track(tracing_id.clone(), Request::Jwt);
        self.send(ClientAction::get_jwt(token, tracing_id));
        self.history.fetch = Fetch::AwaitingJwt { page, since: now };
    }

    fn on_history_page(&mut self, page: HistoryPage, now: UnixMillis) {
        if self.drop_discarded_answer(now) {
            return;
        }
        let (requested, stale) = match self.history.fetch {
            Fetch::InFlight { page, stale } => (page, stale),
            // An answer nobody is waiting for: still merge it, it is server data.
            _ => (page.page_number.max(1), true),
        };
        self.history.fetch = Fetch::Idle;
        self.history.failures = 0;
        let page_complete = page.entities.is_empty()
            || (page.page_count > 0 && requested >= page.page_count)
            || u64::from(requested).saturating_mul(u64::from(page.page_size.max(1))) >= page.total;

        let oldest_ms = page.entities.iter().filter_map(Message::time_millis).min();
        let reconciling = !stale && self.history.holding_sends && self.history.reconcile_next == Some(requested);
        let applying_truth = !stale && requested == 1 && self.history.truth_pending;

        // Reconcile first: a send found on the page takes the server's id, so merging the page
        // afterwards updates that row instead of adding a second copy.
        if reconciling {
            self.reconcile(&page.entities);
        }
        let changed = self.merge_history(&page.entities);
        if applying_truth {
            self.apply_truth(&page.entities, if page_complete { None } else { oldest_ms });
            self.history.truth_pending = false;
        }
        if applying_truth {
            self.emit(Event::TranscriptReset(self.transcript.entries().to_vec()));
        } else {
            for key in changed {
                if let Some(entry) = self.transcript.get(&key) {
                    self.emit(Event::EntryUpserted(entry.clone()));
                }
            }
        }
        if requested == 1 || requested >= self.history.next_older {
            self.history.next_older = requested.saturating_add(1);
            self.history.complete = page_complete;
            self.emit(Event::OlderAvailable(!page_complete));
        }

        if reconciling {
            // Keep paging back while an unconfirmed send may hide on an older page.
            let oldest_pending = self
                .outbox
                .iter()
                .filter(|(item, _)| item.attempted && item.failed.is_none())
                .map(|(item, _)| item.created_at)
                .min();
            let needs_older = match (oldest_pending, oldest_ms) {
                (Some(pending), Some(oldest)) => !page_complete && pending.0.saturating_sub(CLOCK_SKEW_MS) < oldest,
                _ => false,
            };
            if needs_older && requested < MAX_RECONCILE_PAGES {
                self.history.reconcile_next = Some(requested.saturating_add(1));
                self.start_fetch(requested.saturating_add(1), now);
            } else {
                self.finish_reconcile(now);
            }
        }
        if let Some(page) = self.history.queued_page.take() {
            self.start_fetch(page, now);
        }
    }

    /// True if this history answer belongs to a conversation already left: it is dropped and
    /// a fetch queued meanwhile starts.
    fn drop_discarded_answer(&mut self, now: UnixMillis) -> bool {
        if !std::mem::take(&mut self.history.discard_answer) {
            return false;
        }
        self.history.fetch = Fetch::Idle;
        if let Some(page) = self.history.queued_page.take() {
            self.start_fetch(page, now);
        }
        true
    }

    /// Holds sends and fetches page 1 to learn which unconfirmed sends the server has.
    fn begin_reconcile(&mut self, now: UnixMillis) {
        self.history.holding_sends = true;
        self.history.reconcile_next = Some(1);
        match self.history.fetch {
            // An answer to a request made before this decision cannot vouch for the sends.
            Fetch::InFlight { page, .. } => {
                self.history.fetch = Fetch::InFlight { page, stale: true };
                self.history.queued_page = Some(1);
            }
            Fetch::AwaitingJwt { .. } => self.history.queued_page = Some(1),
            Fetch::Idle => self.start_fetch(1, now),
        }
    }

    /// Merges history entities (newest first) into the transcript; returns the changed keys.
    fn merge_history(&mut self, entities: &[Message]) -> Vec<EntryKey> {
        // Oldest first, so `time: null` entries inherit the time of the message before them.
        let mut inherited: Option<u64> = entities.iter().rev().find_map(Message::time_millis);
        let mut fresh: Vec<TranscriptEntry> = Vec::new();
        let mut changed: Vec<EntryKey> = Vec::new();
        let mut seen: HashSet<&str, BuildHasherDefault<FastHasher>> = HashSet::with_capacity_and_hasher(entities.len(), BuildHasherDefault::default());
        for message in entities.iter().rev() {
            let time_ms = message.time_millis();
            if let Some(time) = time_ms {
                inherited = Some(time);
            }
            let Some(kind) = convert::entry_kind(message) else { continue };
            let Some(id) = message.id.as_ref() else { continue };
            if !seen.insert(id.as_str()) {
                continue;
            }
            let own_tracing = message.metadata.get(TRACING_METADATA_KEY).map(|id| TracingId::new(id.as_str()));
            let existing = self.transcript.key_for_message(id).cloned().or_else(|| {
                own_tracing.map(|tracing| EntryKey(tracing.into_string())).filter(|key| self.transcript.contains(key))
            });
            if let Some(key) = existing {
                // Known row: refresh it from the server copy, keep key and sequence. A pending
                // send stays pending here; reconciliation decides.
                if self.outbox.get(&TracingId::new(key.as_str())).is_some() {
                    continue;
                }
                let Some(current) = self.transcript.get(&key) else { continue };
                let order = OrderKey { time_ms: time_ms.or(inherited).unwrap_or(current.order.time_ms), seq: current.order.seq };
                let mut entry = convert::entry_from_message(message, key.clone(), kind, order);
                if entry.time.is_none() {
                    entry.time = current.time;
                }
                if self.transcript.get(&key) != Some(&entry) {
                    self.transcript.upsert(entry);
                    changed.push(key);
                }
                continue;
            }
            let key = EntryKey(id.as_str().to_owned());
            let order = OrderKey { time_ms: time_ms.or(inherited).unwrap_or(0), seq: self.transcript.next_seq() };
            fresh.push(convert::entry_from_message(message, key.clone(), kind, order));
            changed.push(key);
        }
        self.transcript.extend(fresh);
        changed
    }

    /// After a resume, page 1 is the truth: rows the server does not have (within the page's
    /// time range) are dropped, unless they are pending sends or arrived live since the resume.
    fn apply_truth(&mut self, entities: &[Message], oldest_ms: Option<u64>) {
        let ids: HashSet<&str, BuildHasherDefault<FastHasher>> =
            entities.iter().filter_map(|message| message.id.as_ref().map(MessageId::as_str)).collect();
        let live: HashSet<EntryKey> = match &self.link {
            Link::Open(open) => open.live_keys.clone(),
            _ => HashSet::new(),
        };
        self.transcript.retain(|entry| {
            if entry.kind != EntryKind::Message || entry.status != DeliveryStatus::Sent || live.contains(&entry.key) {
                return true;
            }
            let in_range = match (entry.time, oldest_ms) {
                (_, None) => true,
                (Some(time), Some(oldest)) => time.0 >= oldest,
                (None, Some(_)) => false,
            };
            !in_range || entry.message_id.as_ref().is_some_and(|id| ids.contains(id.as_str()))
        });
    }

    /// Confirms queued sends the server already has (by tracing id in metadata, by id, or by
    /// text and time), so they are not sent twice.
    fn reconcile(&mut self, entities: &[Message]) {
        let pending: Vec<OutboxItem> = self
            .outbox
            .iter()
            .filter(|(item, _)| item.attempted && item.failed.is_none())
            .map(|(item, _)| item.clone())
            .collect();
        let mut claimed: HashSet<&str> = HashSet::new();
        for item in &pending {
            let tracing = item.tracing_id.as_str();
            let exact = entities.iter().find(|message| {
                message.is_inbound()
                    && (message.metadata.get(TRACING_METADATA_KEY).map(String::as_str) == Some(tracing)
                        || message.id.as_ref().map(MessageId::as_str) == Some(tracing))
            });
            let found = exact.or_else(|| {
                // Servers that drop metadata: same text from this customer, near the send time,
                // not already a known row and not claimed by an earlier item. Oldest first.
                entities.iter().rev().find(|message| {
                    let Some(id) = message.id.as_ref() else { return false };
                    message.is_inbound()
                        && !claimed.contains(id.as_str())
                        && self.transcript.key_for_message(id).is_none()
                        && !message.metadata.contains_key(TRACING_METADATA_KEY)
                        && convert::display_text(message) == item.message.display_text()
                        && message.time_millis().is_none_or(|time| time.abs_diff(item.created_at.0) <= self.config.reconcile_window_ms)
                })
            });
            if let Some(message) = found {
                if let Some(id) = message.id.as_ref() {
                    claimed.insert(id.as_str());
                    // A history copy may already sit in the transcript under its own id: drop
                    // it, the row keyed by the tracing id takes over.
                    if let Some(other) = self.transcript.key_for_message(id).cloned() {
                        if other.as_str() != tracing {
                            self.transcript.remove(&other);
                        }
                    }
                }
                self.confirm_send(&item.tracing_id, message);
            }
        }
    }

    /// Reconciliation is over: whatever is still queued was not received and goes out now.
    fn finish_reconcile(&mut self, now: UnixMillis) {
        self.history.holding_sends = false;
        self.history.reconcile_next = None;
        for (item, _) in self.outbox.iter_mut() {
            if item.failed.is_none() {
                item.attempted = false;
            }
        }
        self.outbox_dirty = true;
        self.flush_outbox(now);
    }

    fn on_history_failed(&mut self, http_status: u16, now: UnixMillis) {
        if self.drop_discarded_answer(now) {
            return;
        }
        let page = match self.history.fetch {
            Fetch::InFlight { page, stale: false } => page,
            Fetch::InFlight { stale: true, .. } => {
                self.history.fetch = Fetch::Idle;
                if let Some(page) = self.history.queued_page.take() {
                    self.start_fetch(page, now);
                }
                return;
            }
            _ => return,
        };
        self.history.fetch = Fetch::Idle;
        self.history.failures += 1;
        if http_status == 401 {
            // The JWT expired early: get a new one once.
            self.history.jwt = None;
        }
        if self.history.failures <= MAX_HISTORY_RETRIES {
            let delay = 1_000u64 << self.history.failures.min(10);
            self.history.retry_at = Some((page, now.saturating_add_ms(delay)));
            return;
        }
        self.history_gave_up(http_status);
    }

    /// History is unavailable: report it; sends that may or may not have arrived are marked
    /// failed (the user decides), the rest go out.
    fn history_gave_up(&mut self, http_status: u16) {
        self.history.failures = 0;
        self.history.retry_at = None;
        self.history.truth_pending = false;
        self.emit(Event::Error(UserError::HistoryUnavailable { http_status }));
        if self.history.holding_sends {
            let unsure: Vec<TracingId> = self
                .outbox
                .iter()
                .filter(|(item, _)| item.attempted && item.failed.is_none())
                .map(|(item, _)| item.tracing_id.clone())
                .collect();
            for tracing_id in unsure {
                self.fail_send(&tracing_id, FailureReason::DeliveryUnconfirmed);
            }
            self.history.holding_sends = false;
            self.history.reconcile_next = None;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output plumbing

impl Session {
    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    fn emit_output(&mut self, output: Output) {
        self.outputs.push_back(output);
    }

    /// End of every mutation: persist the outbox if it changed, report a state change.
    fn finish(&mut self) {
        if self.outbox_dirty {
            self.outbox_dirty = false;
            self.emit_output(Output::Persist(StorageWrite::Outbox(self.outbox.snapshot())));
        }
        let state = self.public_state();
        if state != self.reported_state {
            self.reported_state = state.clone();
            self.emit(Event::StateChanged(state));
        }
    }
}
