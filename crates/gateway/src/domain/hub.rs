//! [`Hub`]: the in-memory state of every deployment, session, conversation and live socket,
//! written through to the [`Store`]. All methods are synchronous and never hold the lock
//! across IO other than short SQLite statements; frames leave through per-socket channels.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::deployment::{
    DeploymentSettings, SettingsError, DEMO_DEPLOYMENT_ID, UNCURATED_MESSAGE_TTL_DAYS,
};
use super::idp::IdentityProvider;
use super::session::{Conversation, ConversationState, RateLimit, Session, SocketId};
use crate::clock::{iso8601_millis, Clock};
use crate::jwt::Signer;
use crate::store::{Store, StoreError};
use crate::wire;

/// Tunables of the gateway's behaviour (not per deployment).
#[derive(Clone, Debug)]
pub struct HubOptions {
    pub rate_limit: RateLimit,
    /// Longest accepted message text in characters (longer → 4011).
    pub max_text_chars: usize,
    /// Largest accepted client frame in bytes (larger → 4011 for onMessage, 400 otherwise).
    pub max_frame_bytes: usize,
    /// How long a download URL stays valid.
    pub download_url_ttl_ms: u64,
    /// How long an upload URL stays valid.
    pub upload_url_ttl_ms: u64,
    /// Lifetime of a guest JWT from `getJwt`.
    pub jwt_ttl_seconds: u64,
    /// Concurrent sockets per token before the oldest is closed.
    pub max_sockets_per_token: usize,
    /// Display name of agent messages sent without a name.
    pub default_agent_name: String,
    /// Default lifetime of Web Messaging auth JWTs (a deployment's `auth.jwtTtlSeconds` wins).
    pub auth_jwt_ttl_seconds: u64,
    /// Default lifetime of refresh tokens (a deployment's `auth.refreshTokenTtlSeconds` wins).
    pub refresh_token_ttl_seconds: u64,
    /// Lifetime of the development IdP's authorization codes.
    pub auth_code_ttl_ms: u64,
    /// Lifetime of the development IdP's id and access tokens.
    pub id_token_ttl_seconds: u64,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            rate_limit: RateLimit::default(),
            max_text_chars: 4096,
            max_frame_bytes: 64 * 1024,
            download_url_ttl_ms: 10 * 60 * 1000,
            upload_url_ttl_ms: 10 * 60 * 1000,
            jwt_ttl_seconds: 15 * 60,
            max_sockets_per_token: 3,
            default_agent_name: "Agent".into(),
            auth_jwt_ttl_seconds: 15 * 60,
            refresh_token_ttl_seconds: 24 * 3600,
            auth_code_ttl_ms: 2 * 60 * 1000,
            id_token_ttl_seconds: 3600,
        }
    }
}

/// What a socket task should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// Send a text frame.
    Text(String),
    /// Send a close frame with this code and reason, then stop.
    Close(u16, String),
    /// Stop at once without a close frame (simulated network failure).
    Abort,
}

/// Transport faults injected by the control API (SPEC §15.11).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Faults {
    /// Applies to sockets of this deployment only; absent = every deployment.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// Delay before each frame is sent.
    #[serde(default)]
    pub delay_ms: u64,
    /// Probability (0..=1) of sending a frame twice.
    #[serde(default)]
    pub duplicate_rate: f64,
    /// Probability (0..=1) of holding a frame back behind the next one.
    #[serde(default)]
    pub reorder_rate: f64,
    /// Abort a socket (no close frame) after it has sent this many frames.
    #[serde(default)]
    pub drop_after_frames: Option<u64>,
}

/// Why a control/console operation failed (maps to an HTTP status).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SettingsError> for ControlError {
    fn from(error: SettingsError) -> Self {
        ControlError::BadRequest(error.to_string())
    }
}

pub(crate) type SessionKey = (String, String);

pub(crate) struct SocketEntry {
    pub deployment_id: String,
    /// `http://host:port` as the client reached us; upload/download URLs are built on it.
    pub base_url: String,
    pub tx: mpsc::UnboundedSender<Outgoing>,
    pub session: Option<SessionKey>,
}

pub(crate) struct Deployment {
    pub ordinal: i64,
    pub settings: DeploymentSettings,
}

pub(crate) struct HubState {
    pub deployments: HashMap<String, Deployment>,
    pub sessions: HashMap<SessionKey, Session>,
    pub conversations: HashMap<String, Conversation>,
    pub sockets: HashMap<SocketId, SocketEntry>,
    pub next_socket_id: SocketId,
    /// Last `channel.time` handed out, so stamps strictly increase in send order.
    pub last_stamp_ms: u64,
    /// Tokens that were ever authenticated: a guest configure on them answers 4017.
    pub authenticated_tokens: HashSet<SessionKey>,
    /// Auth JWTs issued at or before this instant count as expired (control API).
    pub jwts_expired_before_ms: Option<u64>,
    /// The same, per user.
    pub user_jwts_expired_before_ms: HashMap<String, u64>,
}

/// The gateway's shared state. Cheap to share via `Arc`.
pub struct Hub {
    pub(crate) state: Mutex<HubState>,
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: HubOptions,
    pub(crate) signer: Signer,
    /// Signs Web Messaging auth JWTs (a key of its own: guest JWTs never pass as auth JWTs).
    pub(crate) auth_signer: Signer,
    pub(crate) idp: IdentityProvider,
    faults: Mutex<Vec<Faults>>,
    /// Whether any fault is installed: lets every outgoing frame skip the faults lock.
    faults_installed: AtomicBool,
    console: broadcast::Sender<String>,
}

impl Hub {
    /// Loads everything from `store`, applies file deployments and (with `dev`) the demo one.
    pub fn open(
        store: Store,
        clock: Arc<dyn Clock>,
        options: HubOptions,
        file_deployments: Vec<super::deployment::FileDeployment>,
        dev: bool,
    ) -> Result<Self, StoreError> {
        let secret = match store.meta("signing_secret")? {
            Some(secret) => secret,
            None => {
                let secret = format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                );
                store.set_meta("signing_secret", &secret)?;
                secret
            }
        };
        let mut deployments: HashMap<String, Deployment> = store
            .deployments()?
            .into_iter()
            .map(|(id, ordinal, settings)| (id, Deployment { ordinal, settings }))
            .collect();
        let mut next_ordinal = deployments
            .values()
            .map(|deployment| deployment.ordinal)
            .max()
            .unwrap_or(0)
            + 1;
        for file_deployment in file_deployments {
            let ordinal = match deployments.get(&file_deployment.id) {
                Some(existing) => existing.ordinal,
                None => {
                    next_ordinal += 1;
                    next_ordinal
                }
            };
            store.save_deployment(&file_deployment.id, ordinal, &file_deployment.settings)?;
            deployments.insert(
                file_deployment.id,
                Deployment {
                    ordinal,
                    settings: file_deployment.settings,
                },
            );
        }
        if dev && !deployments.contains_key(DEMO_DEPLOYMENT_ID) {
            let settings = DeploymentSettings::demo();
            store.save_deployment(DEMO_DEPLOYMENT_ID, -1, &settings)?;
            deployments.insert(
                DEMO_DEPLOYMENT_ID.into(),
                Deployment {
                    ordinal: -1,
                    settings,
                },
            );
        }
        let sessions = store
            .sessions()?
            .into_iter()
            .map(|session| {
                (
                    (session.deployment_id.clone(), session.token.clone()),
                    session,
                )
            })
            .collect();
        let conversations = store
            .conversations()?
            .into_iter()
            .map(|conversation| (conversation.id.clone(), conversation))
            .collect();
        let authenticated_tokens = store.authenticated_tokens()?.into_iter().collect();
        let (console, _) = broadcast::channel(256);
        let signer = Signer::new(secret.into_bytes());
        Ok(Self {
            state: Mutex::new(HubState {
                deployments,
                sessions,
                conversations,
                sockets: HashMap::new(),
                next_socket_id: 1,
                last_stamp_ms: 0,
                authenticated_tokens,
                jwts_expired_before_ms: None,
                user_jwts_expired_before_ms: HashMap::new(),
            }),
            store,
            clock,
            options,
            auth_signer: signer.derive("web-messaging-auth-jwt"),
            idp: IdentityProvider::new(&signer),
            signer,
            faults: Mutex::new(Vec::new()),
            faults_installed: AtomicBool::new(false),
            console,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current time of the injected clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The behaviour tunables.
    pub fn options(&self) -> &HubOptions {
        &self.options
    }

    /// Subscribes to console change notifications (JSON strings).
    pub fn subscribe_console(&self) -> broadcast::Receiver<String> {
        self.console.subscribe()
    }

    pub(crate) fn notify_console(&self, kind: &str, conversation_id: Option<&str>) {
        // Nobody listening is common (no console open): skip building the notice.
        if self.console.receiver_count() > 0 {
            let _ = self.console.send(console_notice(kind, conversation_id));
        }
    }

    /// The console channel, for notices sent from outside the hub (the store's writer thread).
    pub(crate) fn console_sender(&self) -> broadcast::Sender<String> {
        self.console.clone()
    }

    // ----- deployments -------------------------------------------------------------------

    /// Settings of a deployment, if it exists.
    pub fn deployment(&self, id: &str) -> Option<DeploymentSettings> {
        self.lock()
            .deployments
            .get(id)
            .map(|deployment| deployment.settings.clone())
    }

    /// All deployments as `(id, settings)`, the demo one first, then in creation order.
    pub fn deployments(&self) -> Vec<(String, DeploymentSettings)> {
        let state = self.lock();
        let mut list: Vec<_> = state
            .deployments
            .iter()
            .map(|(id, deployment)| (deployment.ordinal, id.clone(), deployment.settings.clone()))
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        list.into_iter()
            .map(|(_, id, settings)| (id, settings))
            .collect()
    }

    /// Creates a deployment from a control-API body; returns its new id.
    pub fn create_deployment(&self, body: Value) -> Result<String, ControlError> {
        let settings = DeploymentSettings::from_json(body)?;
        let id = uuid::Uuid::new_v4().to_string();
        let mut state = self.lock();
        let ordinal = state
            .deployments
            .values()
            .map(|deployment| deployment.ordinal)
            .max()
            .unwrap_or(0)
            + 1;
        self.store.save_deployment(&id, ordinal, &settings)?;
        state
            .deployments
            .insert(id.clone(), Deployment { ordinal, settings });
        tracing::info!(deployment = %id, "deployment created");
        Ok(id)
    }

    /// Applies a partial update. Live sessions keep the settings they started with.
    pub fn patch_deployment(
        &self,
        id: &str,
        patch: Value,
    ) -> Result<DeploymentSettings, ControlError> {
        let mut state = self.lock();
        let deployment = state
            .deployments
            .get_mut(id)
            .ok_or_else(|| ControlError::NotFound(format!("no deployment {id}")))?;
        let updated = deployment.settings.patched(patch)?;
        self.store
            .save_deployment(id, deployment.ordinal, &updated)?;
        deployment.settings = updated.clone();
        tracing::info!(deployment = %id, "deployment updated (new sessions only)");
        Ok(updated)
    }

    // ----- faults ------------------------------------------------------------------------

    /// Installs transport faults (replacing those for the same deployment scope).
    pub fn set_faults(&self, faults: Faults) -> Result<(), ControlError> {
        for rate in [faults.duplicate_rate, faults.reorder_rate] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ControlError::BadRequest(
                    "rates must be between 0 and 1".into(),
                ));
            }
        }
        let mut all = self
            .faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.retain(|existing| existing.deployment_id != faults.deployment_id);
        all.push(faults);
        self.faults_installed.store(true, Ordering::Release);
        Ok(())
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        let mut all = self
            .faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.clear();
        self.faults_installed.store(false, Ordering::Release);
    }

    /// The faults that apply to a socket of `deployment_id` (deployment-specific wins).
    pub fn faults_for(&self, deployment_id: &str) -> Option<Faults> {
        if !self.faults_installed.load(Ordering::Acquire) {
            return None;
        }
        let all = self
            .faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.iter()
            .find(|faults| faults.deployment_id.as_deref() == Some(deployment_id))
            .or_else(|| all.iter().find(|faults| faults.deployment_id.is_none()))
            .cloned()
    }

    // ----- sockets -----------------------------------------------------------------------

    /// Registers a new WebSocket of `deployment_id`; frames for it arrive on the receiver.
    pub fn register_socket(
        &self,
        deployment_id: &str,
        base_url: &str,
    ) -> (SocketId, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.lock();
        let id = state.next_socket_id;
        state.next_socket_id += 1;
        state.sockets.insert(
            id,
            SocketEntry {
                deployment_id: deployment_id.into(),
                base_url: base_url.into(),
                tx,
                session: None,
            },
        );
        (id, rx)
    }

    /// Forgets a socket that has ended.
    pub fn unregister_socket(&self, socket_id: SocketId) {
        let mut state = self.lock();
        let conversation = detach_socket(&mut state, socket_id).and_then(|key| {
            state
                .sessions
                .get(&key)
                .map(|session| session.conversation_id.clone())
        });
        state.sockets.remove(&socket_id);
        drop(state);
        if let Some(conversation) = conversation {
            self.notify_console("sockets", Some(&conversation));
        }
    }

    /// Asks every socket to close (graceful shutdown).
    pub fn close_all_sockets(&self, code: u16, reason: &str) {
        let state = self.lock();
        for socket in state.sockets.values() {
            let _ = socket.tx.send(Outgoing::Close(code, reason.into()));
        }
    }

    /// Number of live sockets.
    pub fn socket_count(&self) -> usize {
        self.lock().sockets.len()
    }

    // ----- helpers shared by the client and control paths --------------------------------

    /// A strictly increasing timestamp for the next `channel.time`.
    pub(crate) fn stamp(&self, state: &mut HubState) -> u64 {
        let stamp = self.now_ms().max(state.last_stamp_ms + 1);
        state.last_stamp_ms = stamp;
        stamp
    }

    /// Sends `frame` to every socket of a session (`except` skipped).
    pub(crate) fn fan_out(
        &self,
        state: &HubState,
        key: &SessionKey,
        frame: &str,
        except: Option<SocketId>,
    ) {
        if let Some(session) = state.sessions.get(key) {
            for socket_id in &session.sockets {
                if Some(*socket_id) != except {
                    send_to(state, *socket_id, Outgoing::Text(frame.to_owned()));
                }
            }
        }
    }

    /// Queues a session row for the writer thread (failures are logged there). Memory is the
    /// source of truth while running; the row follows in queue order.
    pub(crate) fn persist_session(&self, session: &Session) {
        self.store.queue_session(session.clone());
    }

    /// Queues a conversation row for the writer thread (failures are logged there).
    pub(crate) fn persist_conversation(&self, conversation: &Conversation) {
        self.store.queue_conversation(conversation.clone());
    }

    /// Marks a session expired and tells its live sockets (`SessionExpiredEvent`).
    pub(crate) fn expire_session(&self, state: &mut HubState, key: &SessionKey) {
        let Some(session) = state.sessions.get_mut(key) else {
            return;
        };
        if session.expired {
            return;
        }
        session.expired = true;
        let session = session.clone();
        self.persist_session(&session);
        tracing::info!(token = %session.token, deployment = %session.deployment_id, "guest session expired");
        let frame = wire::event("SessionExpiredEvent", json!({}), None);
        self.fan_out(state, key, &frame, None);
        self.notify_console("expired", Some(&session.conversation_id));
    }

    /// Starts a new session (and queued conversation) for `token`.
    pub(crate) fn new_session(
        &self,
        state: &mut HubState,
        deployment_id: &str,
        token: &str,
        settings: DeploymentSettings,
        user: Option<&str>,
    ) -> Session {
        let now = self.now_ms();
        let session_id = uuid::Uuid::new_v4().to_string();
        let conversation = Conversation {
            id: uuid::Uuid::new_v4().to_string(),
            deployment_id: deployment_id.into(),
            token: token.into(),
            session_id: session_id.clone(),
            state: ConversationState::Queued,
            agent: None,
            queue: "General".into(),
            created_ms: now,
            ended_ms: None,
            last_activity_ms: now,
            user: user.map(str::to_owned),
        };
        self.persist_conversation(&conversation);
        let mut session = Session {
            session_id,
            deployment_id: deployment_id.into(),
            token: token.into(),
            conversation_id: conversation.id.clone(),
            settings,
            created_ms: now,
            last_active_ms: now,
            expires_ms: now,
            read_only: false,
            expired: false,
            authenticated: user.is_some(),
            user: user.map(str::to_owned),
            custom_attributes: Default::default(),
            sockets: Vec::new(),
            recent_sends: Default::default(),
        };
        session.touch(now);
        state
            .conversations
            .insert(conversation.id.clone(), conversation);
        session
    }

    /// Reopens an ended conversation when the customer writes again (back to the last agent).
    pub(crate) fn rejoin_if_ended(&self, state: &mut HubState, conversation_id: &str, now: u64) {
        if let Some(conversation) = state.conversations.get_mut(conversation_id) {
            // Activity time only orders the console list: kept in memory, not worth a write.
            conversation.last_activity_ms = now;
            if conversation.state == ConversationState::Ended {
                conversation.state = if conversation.agent.is_some() {
                    ConversationState::Agent
                } else {
                    ConversationState::Queued
                };
                conversation.ended_ms = None;
                tracing::info!(conversation = %conversation_id, "ended conversation rejoined");
                let conversation = conversation.clone();
                self.persist_conversation(&conversation);
            }
        }
    }

    /// A download URL for an attachment, valid for `download_url_ttl_ms`.
    pub(crate) fn download_url(&self, base_url: &str, attachment_id: &str) -> String {
        let expires = self
            .now_ms()
            .saturating_add(self.options.download_url_ttl_ms);
        let signature = self
            .signer
            .sign(&format!("download:{attachment_id}:{expires}"));
        format!(
            "{base_url}/api/v2/downloads/{attachment_id}?expires={expires}&signature={signature}"
        )
    }

    // ----- expiry and retention ----------------------------------------------------------

    /// Expires every session whose inactivity TTL has passed (pushing `SessionExpiredEvent`).
    pub fn expire_due_sessions(&self) -> usize {
        let now = self.now_ms();
        let mut state = self.lock();
        let due: Vec<SessionKey> = state
            .sessions
            .iter()
            .filter(|(_, session)| !session.expired && now >= session.expires_ms)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &due {
            self.expire_session(&mut state, key);
        }
        due.len()
    }

    /// Retention: deletes messages of curated contacts older than their deployment's
    /// `messageTtlDays`, and every other message older than that or 15 days, whichever is
    /// shorter. Returns how many went.
    pub fn purge_retention(&self) -> usize {
        let now = self.now_ms();
        let policies: Vec<(String, u64)> = self
            .lock()
            .deployments
            .iter()
            .map(|(id, deployment)| (id.clone(), deployment.settings.message_ttl_days))
            .collect();
        let mut purged = 0;
        for (deployment_id, days) in policies {
            let cutoff = |days: u64| now.saturating_sub(days.saturating_mul(86_400_000));
            let default_cutoff = cutoff(days.min(UNCURATED_MESSAGE_TTL_DAYS));
            match self
                .store
                .purge_messages_before(&deployment_id, default_cutoff, cutoff(days))
            {
                Ok(count) => purged += count,
                Err(error) => {
                    tracing::error!(%error, deployment = %deployment_id, "retention purge failed")
                }
            }
        }
        if purged > 0 {
            tracing::info!(purged, "retention purge deleted old messages");
        }
        purged
    }

    // ----- control / console -------------------------------------------------------------

    /// Finds the session of `token` in `deployment_id`, or its most recently active one.
    pub fn select_session(
        &self,
        token: &str,
        deployment_id: Option<&str>,
    ) -> Option<(String, String)> {
        let state = self.lock();
        select_key(&state, token, deployment_id)
    }

    /// Control-API view of sessions, optionally of one deployment, most recent first.
    pub fn sessions_json(&self, deployment_id: Option<&str>) -> Vec<Value> {
        let now = self.now_ms();
        let state = self.lock();
        let mut sessions: Vec<&Session> = state
            .sessions
            .values()
            .filter(|session| deployment_id.is_none_or(|wanted| session.deployment_id == wanted))
            .collect();
        sessions.sort_by_key(|session| std::cmp::Reverse(session.last_active_ms));
        sessions
            .into_iter()
            .map(|session| session_json(&state, session, now))
            .collect()
    }

    /// One session with its transcript (message bodies, oldest first).
    pub fn session_detail(
        &self,
        token: &str,
        deployment_id: Option<&str>,
    ) -> Result<Value, ControlError> {
        let now = self.now_ms();
        let (mut detail, conversation_id) = {
            let state = self.lock();
            let key = select_key(&state, token, deployment_id).ok_or_else(|| no_session(token))?;
            let session = state.sessions.get(&key).ok_or_else(|| no_session(token))?;
            (
                session_json(&state, session, now),
                session.conversation_id.clone(),
            )
        };
        let transcript = self.store.transcript(&conversation_id)?;
        let earlier = self.earlier_conversations(&conversation_id)?;
        if let Value::Object(object) = &mut detail {
            object.insert("transcript".into(), Value::Array(transcript));
            if let Some(earlier) = earlier {
                object.insert("earlierConversations".into(), Value::Array(earlier));
            }
        }
        Ok(detail)
    }

    /// Sends an agent message (Outbound) to a session; returns the stored body.
    pub fn agent_message(
        &self,
        token: &str,
        deployment_id: Option<&str>,
        text: Option<String>,
        content: Option<Vec<Value>>,
        agent_name: Option<String>,
    ) -> Result<Value, ControlError> {
        let content = content.unwrap_or_default();
        if text.as_deref().is_none_or(str::is_empty) && content.is_empty() {
            return Err(ControlError::BadRequest(
                "a message needs text or content".into(),
            ));
        }
        if content
            .iter()
            .any(|item| item.get("contentType").and_then(Value::as_str).is_none())
        {
            return Err(ControlError::BadRequest(
                "every content item needs a contentType".into(),
            ));
        }
        let structured = content.iter().any(|item| {
            !matches!(
                item.get("contentType").and_then(Value::as_str),
                Some("Attachment") | Some("Notification")
            )
        });
        let agent = agent_name.unwrap_or_else(|| self.options.default_agent_name.clone());
        let mut state = self.lock();
        let key = select_key(&state, token, deployment_id).ok_or_else(|| no_session(token))?;
        let now = self.now_ms();
        let stamp = self.stamp(&mut state);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut body = json!({
            "id": id,
            "type": if structured { "Structured" } else { "Text" },
            "direction": "Outbound",
            "channel": {
                "time": iso8601_millis(stamp),
                "messageId": id,
                "type": "Private",
                "from": {"nickname": agent, "firstName": agent}
            },
            "originatingEntity": "Human"
        });
        if let Some(text) = text.filter(|text| !text.is_empty()) {
            body["text"] = Value::from(text);
        }
        if !content.is_empty() {
            body["content"] = Value::Array(content);
        }
        let session = state
            .sessions
            .get_mut(&key)
            .ok_or_else(|| no_session(token))?;
        if session.is_expired_at(now) {
            return Err(ControlError::Conflict(
                "the guest session has expired".into(),
            ));
        }
        session.touch(now);
        let session = session.clone();
        if session.authenticated {
            body["metadata"] = json!({"authenticated": "true"});
        }
        self.store.insert_message(&session, &id, stamp, &body)?;
        self.persist_session(&session);
        if let Some(conversation) = state.conversations.get_mut(&session.conversation_id) {
            conversation.state = ConversationState::Agent;
            conversation.agent = Some(agent.clone());
            conversation.ended_ms = None;
            conversation.last_activity_ms = now;
            let conversation = conversation.clone();
            self.persist_conversation(&conversation);
        }
        self.fan_out(&state, &key, &wire::structured_message(&body, None), None);
        drop(state);
        self.notify_console("message", Some(&session.conversation_id));
        Ok(body)
    }

    /// Pushes an agent Typing On event (not stored).
    pub fn agent_typing(
        &self,
        token: &str,
        deployment_id: Option<&str>,
    ) -> Result<(), ControlError> {
        let mut state = self.lock();
        let key = select_key(&state, token, deployment_id).ok_or_else(|| no_session(token))?;
        let stamp = self.stamp(&mut state);
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "id": id,
            "type": "Event",
            "direction": "Outbound",
            "channel": {"time": iso8601_millis(stamp), "messageId": id},
            "events": [{"eventType": "Typing", "typing": {"type": "On", "duration": 5000}}]
        });
        self.fan_out(&state, &key, &wire::structured_message(&body, None), None);
        Ok(())
    }

    /// Agent disconnect: Presence Disconnect event, conversation ended; `read_only` overrides
    /// the deployment's disconnect type for this call.
    pub fn disconnect(
        &self,
        token: &str,
        deployment_id: Option<&str>,
        read_only: Option<bool>,
    ) -> Result<Value, ControlError> {
        let mut state = self.lock();
        let key = select_key(&state, token, deployment_id).ok_or_else(|| no_session(token))?;
        let now = self.now_ms();
        let stamp = self.stamp(&mut state);
        let session = state
            .sessions
            .get_mut(&key)
            .ok_or_else(|| no_session(token))?;
        let disconnect = &session.settings.conversation_disconnect;
        let read_only = read_only.unwrap_or(
            disconnect.enabled && disconnect.kind == super::deployment::DisconnectType::ReadOnly,
        );
        session.read_only = read_only;
        let session = session.clone();
        let id = uuid::Uuid::new_v4().to_string();
        let mut body = json!({
            "id": id,
            "type": "Event",
            "direction": "Outbound",
            "channel": {"time": iso8601_millis(stamp), "messageId": id},
            "events": [{"eventType": "Presence", "presence": {"type": "Disconnect"}}]
        });
        if read_only {
            body["metadata"] = json!({"readOnly": "true"});
        }
        self.store.insert_message(&session, &id, stamp, &body)?;
        self.persist_session(&session);
        if let Some(conversation) = state.conversations.get_mut(&session.conversation_id) {
            conversation.state = ConversationState::Ended;
            conversation.ended_ms = Some(now);
            let conversation = conversation.clone();
            self.persist_conversation(&conversation);
        }
        self.fan_out(&state, &key, &wire::structured_message(&body, None), None);
        drop(state);
        self.notify_console("ended", Some(&session.conversation_id));
        Ok(body)
    }

    /// Sets the session to expire in `in_seconds` (0 = now, pushing `SessionExpiredEvent`).
    pub fn expire_in(
        &self,
        token: &str,
        deployment_id: Option<&str>,
        in_seconds: u64,
    ) -> Result<(), ControlError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let key = select_key(&state, token, deployment_id).ok_or_else(|| no_session(token))?;
        let session = state
            .sessions
            .get_mut(&key)
            .ok_or_else(|| no_session(token))?;
        session.expires_ms = now.saturating_add(in_seconds.saturating_mul(1000));
        let session = session.clone();
        self.persist_session(&session);
        if in_seconds == 0 {
            self.expire_session(&mut state, &key);
        }
        Ok(())
    }

    /// Aborts every socket of a session without a close frame; returns how many.
    pub fn drop_sockets(
        &self,
        token: &str,
        deployment_id: Option<&str>,
    ) -> Result<usize, ControlError> {
        let mut state = self.lock();
        let key = select_key(&state, token, deployment_id).ok_or_else(|| no_session(token))?;
        let sockets = state
            .sessions
            .get_mut(&key)
            .map(|session| std::mem::take(&mut session.sockets))
            .unwrap_or_default();
        for socket_id in &sockets {
            send_to(&state, *socket_id, Outgoing::Abort);
            if let Some(socket) = state.sockets.get_mut(socket_id) {
                socket.session = None;
            }
        }
        Ok(sockets.len())
    }

    /// Moves a conversation to another queue (kept across customer reconnects).
    pub fn transfer(&self, conversation_id: &str, queue: &str) -> Result<(), ControlError> {
        let mut state = self.lock();
        let conversation = state
            .conversations
            .get_mut(conversation_id)
            .ok_or_else(|| ControlError::NotFound(format!("no conversation {conversation_id}")))?;
        conversation.queue = queue.into();
        conversation.state = ConversationState::Queued;
        let conversation = conversation.clone();
        self.persist_conversation(&conversation);
        drop(state);
        self.notify_console("transfer", Some(conversation_id));
        Ok(())
    }

    /// `GET /api/v2/conversations/{id}`: the conversation's routing state.
    pub fn conversation_json(&self, conversation_id: &str) -> Option<Value> {
        let state = self.lock();
        let conversation = state.conversations.get(conversation_id)?;
        let now = self.now_ms();
        let session = state.sessions.get(&(
            conversation.deployment_id.clone(),
            conversation.token.clone(),
        ));
        let mut value = json!({
            "id": conversation.id,
            "state": conversation.state.as_str(),
            "startTime": iso8601_millis(conversation.created_ms),
            "queue": conversation.queue,
            "agent": conversation.agent,
            "deploymentId": conversation.deployment_id,
            "user": conversation.user.as_deref().map(user_json),
            "sessionExpired": session.is_some_and(|session| session.session_id == conversation.session_id && session.is_expired_at(now)),
        });
        if let Some(ended) = conversation.ended_ms {
            value["endTime"] = Value::from(iso8601_millis(ended));
        }
        Some(value)
    }

    /// Every conversation for the console, most recently active first.
    pub fn conversations_json(&self) -> Vec<Value> {
        let now = self.now_ms();
        let state = self.lock();
        let mut conversations: Vec<&Conversation> = state.conversations.values().collect();
        conversations.sort_by_key(|conversation| std::cmp::Reverse(conversation.last_activity_ms));
        conversations
            .into_iter()
            .map(|conversation| {
                let session = state
                    .sessions
                    .get(&(
                        conversation.deployment_id.clone(),
                        conversation.token.clone(),
                    ))
                    .filter(|session| session.session_id == conversation.session_id);
                json!({
                    "id": conversation.id,
                    "state": conversation.state.as_str(),
                    "token": conversation.token,
                    "user": conversation.user.as_deref().map(user_json),
                    "deploymentId": conversation.deployment_id,
                    "agent": conversation.agent,
                    "queue": conversation.queue,
                    "lastActivity": iso8601_millis(conversation.last_activity_ms),
                    "sessionState": session.map_or("closed", |session| session.state_name(now)),
                    "sockets": session.map_or(0, |session| session.sockets.len()),
                    "authenticated": session.is_some_and(|session| session.authenticated),
                })
            })
            .collect()
    }

    /// A conversation's transcript (for the console).
    pub fn conversation_transcript(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<Value>, ControlError> {
        Ok(self.store.transcript(conversation_id)?)
    }

    /// The (token, deployment) behind a conversation, if its session is still current.
    pub fn conversation_session(&self, conversation_id: &str) -> Option<(String, String)> {
        let state = self.lock();
        let conversation = state.conversations.get(conversation_id)?;
        Some((
            conversation.token.clone(),
            conversation.deployment_id.clone(),
        ))
    }
}

/// A console change notice: `{"kind", "conversationId"}`.
pub(crate) fn console_notice(kind: &str, conversation_id: Option<&str>) -> String {
    json!({"kind": kind, "conversationId": conversation_id}).to_string()
}

/// `{sub, name}` of a signed-in customer (name from the development IdP's directory).
pub(crate) fn user_json(sub: &str) -> Value {
    let name =
        super::idp::demo_user(sub).map_or_else(|| sub.to_owned(), |user| user.display_name());
    json!({"sub": sub, "name": name})
}

fn no_session(token: &str) -> ControlError {
    ControlError::NotFound(format!("no session for token {token}"))
}

pub(crate) fn select_key(
    state: &HubState,
    token: &str,
    deployment_id: Option<&str>,
) -> Option<SessionKey> {
    match deployment_id {
        Some(deployment_id) => {
            let key = (deployment_id.to_owned(), token.to_owned());
            state.sessions.contains_key(&key).then_some(key)
        }
        None => state
            .sessions
            .iter()
            .filter(|(key, _)| key.1 == token)
            .max_by_key(|(_, session)| session.last_active_ms)
            .map(|(key, _)| key.clone()),
    }
}

fn session_json(state: &HubState, session: &Session, now: u64) -> Value {
    let conversation_state = state
        .conversations
        .get(&session.conversation_id)
        .map(|conversation| conversation.state.as_str());
    json!({
        "token": session.token,
        "deploymentId": session.deployment_id,
        "conversationId": session.conversation_id,
        "authenticated": session.authenticated,
        "user": session.user.as_deref().map(user_json),
        "state": session.state_name(now),
        "expirationDate": session.expiration_epoch_seconds(),
        "sockets": session.sockets.len(),
        "durationSeconds": session.duration_seconds(),
        "readOnly": session.read_only,
        "conversationState": conversation_state,
    })
}

/// Queues a frame for a socket (a closed channel means the socket is already gone).
pub(crate) fn send_to(state: &HubState, socket_id: SocketId, outgoing: Outgoing) {
    if let Some(socket) = state.sockets.get(&socket_id) {
        let _ = socket.tx.send(outgoing);
    }
}

/// Detaches a socket from its session; returns the session it was on.
pub(crate) fn detach_socket(state: &mut HubState, socket_id: SocketId) -> Option<SessionKey> {
    let key = state.sockets.get_mut(&socket_id)?.session.take()?;
    if let Some(session) = state.sessions.get_mut(&key) {
        session.sockets.retain(|id| *id != socket_id);
    }
    Some(key)
}
