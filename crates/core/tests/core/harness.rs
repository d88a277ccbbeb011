//! Test driver for the session engine: owns a `Session`, a fake socket, a virtual clock and,
//! optionally, an in-memory model of the server. Every loop here is bounded.
//!
//! Two ways to use it:
//! * scripted: no server; the test opens the socket, injects frames (`inject`) and inspects what
//!   the engine sent (`sent`), like a conversation transcript;
//! * simulated: with a [`ModelServer`], frames the engine sends are answered automatically and
//!   the answers wait in a delivery queue the test (or proptest) can delay, drop, duplicate or
//!   reorder.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;
use threadline_core::protocol::{
    Channel, ClientAction, ConnectionClosed, Direction as WireDirection, EpochSeconds, FrameKind, HistoryPage, IsoTime,
    JwtResponse, Message, MessageId, MessageType, OriginatingEntity, PresenceType, ServerFrame, SessionResponse, TracingId,
    HEALTH_CHECK_TRACING_ID,
};
use threadline_core::session::{
    ConnectionState, Event, Output, Persisted, SeededEntropy, Session, SessionConfig, StorageWrite, TranscriptEntry,
};
use threadline_core::time::UnixMillis;

/// The deployment id of the shared fixtures.
pub const DEPLOYMENT: &str = "8d2f7a1c-3b4e-4f6a-9c0d-5e1f2a3b4c5d";
/// Socket URL used by the tests (never dialled).
pub const WS_URL: &str = "ws://127.0.0.1:9/v1?deploymentId=8d2f7a1c-3b4e-4f6a-9c0d-5e1f2a3b4c5d";
/// Test epoch: 2026-05-04T09:13:20Z.
pub const T0: u64 = 1_777_886_000_000;
/// Upper bound for any drive loop.
pub const MAX_STEPS: usize = 10_000;

pub fn config() -> SessionConfig {
    SessionConfig::new(DEPLOYMENT.into(), WS_URL)
}

/// The fake socket's state, as the driver sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socket {
    None,
    Connecting,
    Open,
}

/// Something waiting to be delivered to the engine (simulated mode).
#[derive(Clone, Debug)]
pub enum Delivery {
    /// The socket of this generation opened.
    Opened { generation: u32 },
    /// The socket of this generation failed before opening (error + close 1006).
    Refused { generation: u32 },
    /// A text frame on the socket of this generation.
    Frame { generation: u32, text: String },
    /// A history answer.
    History(Result<HistoryPage, u16>),
}

pub struct Harness {
    pub session: Session,
    pub now: UnixMillis,
    pub socket: Socket,
    /// Incremented on each `Connect`; deliveries for older sockets are dropped.
    pub generation: u32,
    /// Times of each `Connect`.
    pub connects: Vec<UnixMillis>,
    /// Every frame the engine sent, parsed.
    pub sent: Vec<Value>,
    /// When each of `sent` left.
    pub sent_times: Vec<UnixMillis>,
    pub closes: Vec<(u16, String)>,
    pub fetches: Vec<(u32, u32, String)>,
    pub events: Vec<Event>,
    /// Every state change, with its time.
    pub states: Vec<(UnixMillis, ConnectionState)>,
    /// What the engine persisted.
    pub storage: Persisted,
    /// Every storage write, in order (to prove no credential is ever written).
    pub persist_log: Vec<StorageWrite>,
    /// Refresh tokens of every `RefreshJwt` the engine asked for.
    pub refreshes: Vec<String>,
    /// `(jwt, refresh_token)` of every `RevokeTokens`.
    pub revokes: Vec<(String, Option<String>)>,
    /// Protocol violations seen by the fake socket (Connect while a socket exists, Send
    /// without an open socket).
    pub violations: Vec<String>,
    pub server: Option<ModelServer>,
    pub pending: VecDeque<Delivery>,
    pub seed: u64,
}

impl Harness {
    /// Scripted mode: no server.
    pub fn new() -> Self {
        Self::with(config(), Persisted::default(), None, 1)
    }

    /// Simulated mode with a fresh model server.
    pub fn simulated() -> Self {
        Self::with(config(), Persisted::default(), Some(ModelServer::new()), 1)
    }

    pub fn with(config: SessionConfig, persisted: Persisted, server: Option<ModelServer>, seed: u64) -> Self {
        let now = UnixMillis(T0);
        let session = Session::new(config, persisted.clone(), Box::new(SeededEntropy::new(seed)), now);
        let mut harness = Self {
            session,
            now,
            socket: Socket::None,
            generation: 0,
            connects: Vec::new(),
            sent: Vec::new(),
            sent_times: Vec::new(),
            closes: Vec::new(),
            fetches: Vec::new(),
            events: Vec::new(),
            states: Vec::new(),
            storage: persisted,
            persist_log: Vec::new(),
            refreshes: Vec::new(),
            revokes: Vec::new(),
            violations: Vec::new(),
            server,
            pending: VecDeque::new(),
            seed,
        };
        harness.pump();
        harness
    }

    /// Rebuilds the engine from what it persisted (a page reload), keeping the server.
    pub fn reload(&mut self, config: SessionConfig) {
        if self.socket != Socket::None {
            // The page died: the browser drops the socket without a close handshake.
            self.socket = Socket::None;
            self.generation += 1;
        }
        self.seed += 1000;
        self.session = Session::new(config, self.storage.clone(), Box::new(SeededEntropy::new(self.seed)), self.now);
        self.pump();
    }

    // --- driving ---------------------------------------------------------------------------

    /// Executes every pending output of the engine.
    pub fn pump(&mut self) {
        for _ in 0..MAX_STEPS {
            let Some(output) = self.session.poll_output() else { return };
            self.execute(output);
        }
        panic!("engine produced more than {MAX_STEPS} outputs in one pump");
    }

    fn execute(&mut self, output: Output) {
        match output {
            Output::Connect { url } => {
                assert_eq!(url, WS_URL);
                if self.socket != Socket::None {
                    self.violations.push(format!("Connect while socket {:?}", self.socket));
                }
                self.generation += 1;
                self.socket = Socket::Connecting;
                self.connects.push(self.now);
                if let Some(server) = &self.server {
                    let generation = self.generation;
                    self.pending.push_back(if server.accepting {
                        Delivery::Opened { generation }
                    } else {
                        Delivery::Refused { generation }
                    });
                }
            }
            Output::Send(text) => {
                if self.socket != Socket::Open {
                    self.violations.push(format!("Send while socket {:?}: {text}", self.socket));
                }
                let value: Value = serde_json::from_str(&text).expect("engine sends JSON");
                self.sent.push(value);
                self.sent_times.push(self.now);
                if let Some(server) = &mut self.server {
                    let generation = self.generation;
                    for reply in server.handle(&text, self.now) {
                        self.pending.push_back(Delivery::Frame { generation, text: reply });
                    }
                }
            }
            Output::Close { code, reason } => {
                self.closes.push((code, reason));
                self.socket = Socket::None;
                if let Some(server) = &mut self.server {
                    server.connection_closed();
                }
            }
            Output::FetchHistory { page_number, page_size, jwt } => {
                self.fetches.push((page_number, page_size, jwt.clone()));
                if let Some(server) = &self.server {
                    self.pending.push_back(Delivery::History(server.history(&jwt, page_number, page_size)));
                }
            }
            Output::Persist(write) => {
                self.persist_log.push(write.clone());
                match write {
                    StorageWrite::Token(token) => self.storage.token = token,
                    StorageWrite::Outbox(outbox) => self.storage.outbox = outbox,
                }
            }
            Output::RefreshJwt { refresh_token } => self.refreshes.push(refresh_token.into_inner()),
            Output::RevokeTokens { jwt, refresh_token } => {
                self.revokes.push((jwt.into_inner(), refresh_token.map(|token| token.into_inner())));
            }
            Output::Event(event) => {
                if let Event::StateChanged(state) = &event {
                    self.states.push((self.now, state.clone()));
                }
                self.events.push(event);
            }
        }
    }

    /// Delivers one queued item; false if the queue was empty.
    pub fn deliver_next(&mut self) -> bool {
        let Some(delivery) = self.pending.pop_front() else { return false };
        self.deliver(delivery);
        true
    }

    pub fn deliver(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Opened { generation } => {
                if generation == self.generation && self.socket == Socket::Connecting {
                    self.socket = Socket::Open;
                    if let Some(server) = &mut self.server {
                        server.connection_opened();
                    }
                    self.session.handle_socket_opened(self.now);
                }
            }
            Delivery::Refused { generation } => {
                if generation == self.generation && self.socket == Socket::Connecting {
                    self.socket = Socket::None;
                    self.session.handle_socket_error(self.now);
                    self.session.handle_socket_closed(1006, "", false, self.now);
                }
            }
            Delivery::Frame { generation, text } => {
                if generation == self.generation && self.socket == Socket::Open {
                    self.session.handle_frame(&text, self.now);
                }
            }
            Delivery::History(Ok(page)) => self.session.handle_history_page(page, self.now),
            Delivery::History(Err(status)) => self.session.handle_history_failed(status, self.now),
        }
        self.pump();
    }

    /// Delivers everything queued (and what that causes), bounded.
    pub fn settle(&mut self) {
        for _ in 0..MAX_STEPS {
            if !self.deliver_next() {
                return;
            }
        }
        panic!("no quiescence after {MAX_STEPS} deliveries");
    }

    /// Moves the clock to `target`, firing every timer on time on the way (and delivering
    /// queued items as they appear). Bounded.
    pub fn run_until(&mut self, target: UnixMillis) {
        for _ in 0..MAX_STEPS {
            self.settle();
            match self.session.poll_timeout() {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    self.session.handle_timeout(self.now);
                    self.pump();
                }
                _ => {
                    self.now = self.now.max(target);
                    self.settle();
                    return;
                }
            }
        }
        panic!("timers did not settle before {target:?} within {MAX_STEPS} steps");
    }

    pub fn advance(&mut self, ms: u64) {
        self.run_until(self.now.saturating_add_ms(ms));
    }

    /// Fires timers up to `ms` from now without delivering anything queued (the network holds
    /// its frames). Bounded.
    pub fn tick(&mut self, ms: u64) {
        let target = self.now.saturating_add_ms(ms);
        for _ in 0..MAX_STEPS {
            match self.session.poll_timeout() {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    self.session.handle_timeout(self.now);
                    self.pump();
                }
                _ => {
                    self.now = target;
                    return;
                }
            }
        }
        panic!("timers did not settle within {MAX_STEPS} steps");
    }

    /// A throttled background tab: the clock jumps by `ms` and only then one timer call runs.
    pub fn jump(&mut self, ms: u64) {
        self.now = self.now.saturating_add_ms(ms);
        self.session.handle_timeout(self.now);
        self.pump();
    }

    // --- scripted helpers ------------------------------------------------------------------

    pub fn open(&mut self) {
        self.session.open(self.now);
        self.pump();
    }

    /// Scripted: the socket from the last Connect opens.
    pub fn accept(&mut self) {
        assert_eq!(self.socket, Socket::Connecting, "no socket is connecting");
        self.socket = Socket::Open;
        self.session.handle_socket_opened(self.now);
        self.pump();
    }

    /// Scripted: a frame arrives on the open socket.
    pub fn inject(&mut self, text: &str) {
        self.session.handle_frame(text, self.now);
        self.pump();
    }

    pub fn inject_frame(&mut self, frame: ServerFrame) {
        self.inject(&frame.to_json());
    }

    /// The socket drops abnormally (no close frame).
    pub fn drop_socket(&mut self) {
        assert_ne!(self.socket, Socket::None, "no socket to drop");
        self.socket = Socket::None;
        self.generation += 1;
        if let Some(server) = &mut self.server {
            server.connection_closed();
        }
        self.session.handle_socket_closed(1006, "", false, self.now);
        self.pump();
    }

    /// Simulated: the agent writes `text`; the frame is queued for delivery.
    pub fn agent_says(&mut self, text: &str) {
        let token = self.session.token().expect("a session token").as_str().to_owned();
        let server = self.server.as_mut().expect("simulated mode");
        let frame = server.agent_says(&token, text, self.now);
        self.pending.push_back(Delivery::Frame { generation: self.generation, text: frame });
        self.settle();
    }

    /// Times at which frames of `action` were sent.
    pub fn sent_times_of(&self, action: &str) -> Vec<UnixMillis> {
        self.sent.iter().zip(&self.sent_times).filter(|(frame, _)| frame["action"] == action).map(|(_, at)| *at).collect()
    }

    /// Scripted: an agent message arrives now (its id is unique per call).
    pub fn agent_message_from_server(&mut self, text: &str) {
        let id = format!("scripted-agent-{}-{}", self.now.0, self.events.len());
        self.inject_frame(message_frame(agent_message(&id, text, self.now.0), None));
    }

    /// The driver signs the customer in with these tokens.
    pub fn sign_in(&mut self, jwt: &str, refresh_token: Option<&str>) {
        self.session.sign_in(jwt.to_owned(), refresh_token.map(str::to_owned), self.now);
        self.pump();
    }

    /// Scripted: answers the last frame sent (a configure, usually) with `frame`, correlated
    /// by its tracing id.
    pub fn reply(&mut self, frame: ServerFrame) {
        let tracing = self.last_sent()["tracingId"].as_str().map(TracingId::from);
        self.inject_frame(frame.with_tracing_id(tracing));
    }

    /// No storage write, ever, contained any of `secrets` (tokens are memory-only).
    pub fn assert_never_persisted(&self, secrets: &[&str]) {
        let mut written: Vec<String> = self.persist_log.iter().map(|write| format!("{write:?}")).collect();
        written.push(serde_json::to_string(&self.storage).expect("persisted state encodes"));
        for secret in secrets {
            for text in &written {
                assert!(!text.contains(secret), "credential {secret:?} was persisted: {text}");
            }
        }
    }

    pub fn send_text(&mut self, text: &str) -> threadline_core::session::EntryKey {
        let key = self.session.send_text(text.to_owned(), self.now).expect("send accepted");
        self.pump();
        key
    }

    // --- inspection ------------------------------------------------------------------------

    pub fn sent_actions(&self, action: &str) -> Vec<&Value> {
        self.sent.iter().filter(|frame| frame["action"] == action).collect()
    }

    pub fn last_sent(&self) -> &Value {
        self.sent.last().expect("something was sent")
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub fn state(&self) -> ConnectionState {
        self.session.state()
    }

    pub fn texts(&self) -> Vec<String> {
        self.session.transcript().iter().map(|entry| entry.text.clone()).collect()
    }

    pub fn entry(&self, key: &threadline_core::session::EntryKey) -> Option<&TranscriptEntry> {
        self.session.transcript().iter().find(|entry| &entry.key == key)
    }

    /// Scripted: open, accept the socket and answer configure with a new session.
    pub fn connect_new_session(&mut self, duration_secs: Option<u64>) {
        self.open();
        self.accept();
        let mut response = SessionResponse::connected(true);
        response.duration_seconds = duration_secs;
        response.expiration_date = duration_secs.map(|secs| EpochSeconds::from_unix_millis(self.now.saturating_add_ms(secs * 1000)));
        let tracing = self.last_sent()["tracingId"].as_str().map(TracingId::from);
        self.inject_frame(ServerFrame::new(FrameKind::SessionResponse(response)).with_tracing_id(tracing));
    }
}

// ---------------------------------------------------------------------------------------------
// Frame builders

pub fn iso(ms: u64) -> IsoTime {
    IsoTime::from_unix_millis(ms)
}

pub fn session_response(new_session: bool, read_only: bool) -> ServerFrame {
    let mut response = SessionResponse::connected(new_session);
    response.read_only = read_only;
    ServerFrame::new(FrameKind::SessionResponse(response))
}

/// An agent (Outbound) text message.
pub fn agent_message(id: &str, text: &str, time_ms: u64) -> Message {
    Message {
        id: Some(MessageId::from(id)),
        message_type: MessageType::Text,
        text: Some(text.to_owned()),
        direction: Some(WireDirection::Outbound),
        channel: Some(Channel { time: Some(iso(time_ms)), ..Channel::default() }),
        originating_entity: Some(OriginatingEntity::Human),
        ..Message::default()
    }
}

/// The guest's own (Inbound) text message as the server stores it.
pub fn customer_message(id: &str, text: &str, time_ms: u64, tracing_metadata: Option<&str>) -> Message {
    let mut metadata = BTreeMap::new();
    if let Some(tracing) = tracing_metadata {
        metadata.insert("tracingId".to_owned(), tracing.to_owned());
    }
    Message {
        id: Some(MessageId::from(id)),
        message_type: MessageType::Text,
        text: Some(text.to_owned()),
        direction: Some(WireDirection::Inbound),
        channel: Some(Channel { time: Some(iso(time_ms)), ..Channel::default() }),
        metadata,
        ..Message::default()
    }
}

pub fn message_frame(message: Message, tracing_id: Option<&str>) -> ServerFrame {
    ServerFrame::new(FrameKind::StructuredMessage(message)).with_tracing_id(tracing_id.map(TracingId::from))
}

/// `shared/protocol/frames`, which sits beside the repository.
pub fn fixtures_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/protocol/frames");
    assert!(dir.is_dir(), "fixture directory {} is missing: the shared/ checkout must sit beside the repository", dir.display());
    dir
}

/// The text of one fixture frame.
pub fn fixture(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The names of every fixture frame (`*.json`), sorted, so failures come in the same order on
/// every filesystem.
pub fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixture directory is readable")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// The texts of every `server.*` fixture frame, in name order.
pub fn server_fixtures() -> Vec<String> {
    fixture_names().iter().filter(|name| name.starts_with("server.")).map(|name| fixture(name)).collect()
}

// ---------------------------------------------------------------------------------------------
// Model server

/// One guest session on the model server.
#[derive(Clone, Debug, Default)]
pub struct ServerSession {
    /// Stored messages, oldest first.
    pub messages: Vec<Message>,
    pub expires_at_ms: u64,
    pub read_only: bool,
}

/// An in-memory model of the Web Messaging service, faithful where the engine's guarantees
/// depend on it: sessions by token, echoes with `tracingId`, increasing `channel.time`,
/// newest-first history pages, TTL, keep-alive answers.
#[derive(Clone, Debug)]
pub struct ModelServer {
    pub sessions: HashMap<String, ServerSession>,
    /// Token configured on the current connection.
    pub connection_token: Option<String>,
    pub duration_secs: u64,
    /// Whether stored messages keep the client's `metadata` (if not, the engine falls back to
    /// matching by text).
    pub keep_metadata: bool,
    /// Whether socket upgrades succeed.
    pub accepting: bool,
    /// Whether the server answers at all (false = a dead link that swallows frames).
    pub responsive: bool,
    /// Drop the next N echoes of user messages (the server keeps the message).
    pub lose_echoes: u32,
    /// Every accepted onMessage text, per token, in order (the exactly-once ledger).
    pub accepted: Vec<(String, String)>,
    last_time_ms: u64,
    next_id: u64,
    now_ms: u64,
}

impl Default for ModelServer {
    fn default() -> Self {
        Self::new()
    }
}

impl ModelServer {
    pub fn new() -> Self {
        Self {
            sessions: HashMap::new(),
            connection_token: None,
            duration_secs: 86_400,
            keep_metadata: true,
            accepting: true,
            responsive: true,
            lose_echoes: 0,
            accepted: Vec::new(),
            last_time_ms: 0,
            next_id: 0,
            now_ms: 0,
        }
    }

    pub fn connection_opened(&mut self) {
        self.connection_token = None;
    }

    pub fn connection_closed(&mut self) {
        self.connection_token = None;
    }

    /// A strictly increasing server timestamp.
    fn stamp(&mut self, now: UnixMillis) -> u64 {
        self.last_time_ms = (self.last_time_ms + 1).max(now.0);
        self.last_time_ms
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("srv-{:06}", self.next_id)
    }

    fn expiry_metadata(&self, token: &str) -> BTreeMap<String, String> {
        let mut metadata = BTreeMap::new();
        if let Some(session) = self.sessions.get(token) {
            metadata.insert("durationSeconds".to_owned(), self.duration_secs.to_string());
            metadata.insert("expirationDate".to_owned(), (session.expires_at_ms / 1000).to_string());
        }
        metadata
    }

    fn alive(&self, token: &str) -> bool {
        self.sessions.get(token).is_some_and(|session| session.expires_at_ms > self.now_ms)
    }

    /// Answers one client frame.
    pub fn handle(&mut self, text: &str, now: UnixMillis) -> Vec<String> {
        self.now_ms = now.0;
        if !self.responsive {
            return Vec::new();
        }
        let Ok(action) = ClientAction::from_json(text) else {
            return vec![ServerFrame::error(400u32.into(), "Request failed.").to_json()];
        };
        let tracing = action.tracing_id().cloned();
        let token = action.token().as_str().to_owned();
        let reply = |kind: FrameKind| ServerFrame::new(kind).with_tracing_id(tracing.clone()).to_json();
        match &action {
            ClientAction::ConfigureSession(configure) => {
                let start_new = configure.start_new == Some(true);
                let existing = self.alive(&token) && !(start_new && self.sessions.get(&token).is_some_and(|s| s.read_only));
                if !existing {
                    self.sessions.insert(token.clone(), ServerSession::default());
                }
                let expires_at_ms = now.0 + self.duration_secs * 1000;
                let session = self.sessions.entry(token.clone()).or_default();
                session.expires_at_ms = expires_at_ms;
                let read_only = session.read_only;
                self.connection_token = Some(token);
                let mut response = SessionResponse::connected(!existing);
                response.read_only = read_only;
                response.duration_seconds = Some(self.duration_secs);
                response.expiration_date = Some(EpochSeconds((expires_at_ms / 1000) as i64));
                vec![reply(FrameKind::SessionResponse(response))]
            }
            _ if self.connection_token.as_deref() != Some(token.as_str()) => {
                vec![reply(FrameKind::Error { code: 4007u32.into(), text: "session not found".into() })]
            }
            _ if !self.alive(&token) => vec![reply(FrameKind::SessionExpired)],
            ClientAction::OnMessage(on_message) => {
                let mut message = on_message.message.clone();
                if message.message_type == MessageType::Event {
                    if message.has_presence(&PresenceType::Join) {
                        let id = self.new_id();
                        let time = self.stamp(now);
                        message.id = Some(MessageId::from(id.as_str()));
                        message.direction = Some(WireDirection::Inbound);
                        message.channel = Some(Channel { time: Some(iso(time)), ..Channel::default() });
                        self.sessions.entry(token).or_default().messages.push(message.clone());
                        return vec![reply(FrameKind::StructuredMessage(message))];
                    }
                    if message.has_presence(&PresenceType::Clear) {
                        if let Some(session) = self.sessions.get_mut(&token) {
                            session.messages.clear();
                        }
                        return vec![
                            ServerFrame::new(FrameKind::SessionCleared).to_json(),
                            ServerFrame::new(FrameKind::ConnectionClosed(ConnectionClosed::default())).to_json(),
                        ];
                    }
                    return Vec::new();
                }
                let id = self.new_id();
                let time = self.stamp(now);
                message.id = Some(MessageId::from(id.as_str()));
                message.direction = Some(WireDirection::Inbound);
                message.channel = Some(Channel { time: Some(iso(time)), ..Channel::default() });
                let mut stored = message.clone();
                if !self.keep_metadata {
                    stored.metadata.clear();
                }
                self.accepted.push((token.clone(), message.text.clone().unwrap_or_default()));
                let duration_ms = self.duration_secs * 1000;
                let session = self.sessions.entry(token).or_default();
                session.messages.push(stored);
                session.expires_at_ms = now.0 + duration_ms;
                if self.lose_echoes > 0 {
                    self.lose_echoes -= 1;
                    return Vec::new();
                }
                vec![reply(FrameKind::StructuredMessage(message))]
            }
            ClientAction::Echo(_) => {
                let mut message = Message::text("ping");
                message.direction = Some(WireDirection::Inbound);
                message.id = Some(MessageId::from(self.new_id().as_str()));
                message.metadata = self.expiry_metadata(&token);
                let frame = ServerFrame::new(FrameKind::StructuredMessage(message))
                    .with_tracing_id(TracingId::from(HEALTH_CHECK_TRACING_ID));
                vec![frame.to_json()]
            }
            ClientAction::GetJwt(_) => {
                let exp = EpochSeconds(((now.0 / 1000) + 3600) as i64);
                vec![reply(FrameKind::Jwt(JwtResponse { jwt: format!("jwt:{token}"), exp }))]
            }
            ClientAction::CloseSession(_) => {
                let mut response = SessionResponse::connected(false);
                response.connected = false;
                response.read_only = true;
                vec![reply(FrameKind::SessionResponse(response))]
            }
            _ => Vec::new(),
        }
    }

    /// An agent writes: stores the message and returns the frame to push.
    pub fn agent_says(&mut self, token: &str, text: &str, now: UnixMillis) -> String {
        let id = format!("agent-{:06}", {
            self.next_id += 1;
            self.next_id
        });
        let time = self.stamp(now);
        let message = agent_message(&id, text, time);
        self.sessions.entry(token.to_owned()).or_default().messages.push(message.clone());
        message_frame(message, None).to_json()
    }

    /// The history endpoint: newest first.
    pub fn history(&self, jwt: &str, page_number: u32, page_size: u32) -> Result<HistoryPage, u16> {
        let token = jwt.strip_prefix("jwt:").ok_or(401u16)?;
        let session = self.sessions.get(token).ok_or(401u16)?;
        let size = page_size.max(1) as usize;
        let newest_first: Vec<&Message> = session.messages.iter().rev().collect();
        let start = (page_number.max(1) as usize - 1) * size;
        let entities: Vec<Message> = newest_first.iter().skip(start).take(size).map(|message| (*message).clone()).collect();
        let total = newest_first.len() as u64;
        Ok(HistoryPage {
            entities,
            page_size,
            page_number,
            total,
            page_count: newest_first.len().div_ceil(size) as u32,
        })
    }

    /// Messages stored for a token, as (direction, text), oldest first.
    pub fn stored(&self, token: &str) -> Vec<(WireDirection, String)> {
        self.sessions
            .get(token)
            .map(|session| {
                session
                    .messages
                    .iter()
                    .filter(|message| message.message_type != MessageType::Event)
                    .map(|message| (message.direction.clone().unwrap_or(WireDirection::Inbound), message.text.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
    }
}
