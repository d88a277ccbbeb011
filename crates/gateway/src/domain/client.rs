//! Client actions (SPEC §3) and their answers (§4, §5).
//!
//! Every frame gets exactly one of: its documented answer, a `string` error frame, or (for
//! Typing) nothing. Bad input never closes the socket, except where the spec says so.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use threadline_core::protocol::{ClientAction, DecodeError, MessageType};

use super::hub::{console_notice, detach_socket, send_to, Hub, HubState, Outgoing, SessionKey};
use super::session::{Session, SocketId};
use crate::clock::iso8601_millis;
use crate::jwt::GuestClaims;
use crate::wire::{self, text};

/// Longest accepted guest session token.
const MAX_TOKEN_CHARS: usize = 2048;

/// A request that failed validation: the frame to answer with.
type Refusal = String;

/// The parts every request shares: the frame decoded by the core (which checked the action and
/// its required parameters), and the raw object, whose message parts are stored verbatim.
struct Request<'a> {
    socket_id: SocketId,
    action: &'a ClientAction,
    frame: &'a Map<String, Value>,
    tracing_id: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// The session token every action carries (checked present by the decoder).
    fn token(&self) -> &'a str {
        self.action.token().as_str()
    }

    fn missing(&self, key: &str) -> Refusal {
        missing_parameter(key, self.tracing_id)
    }

    fn error(&self, code: u16, message: &str) -> Refusal {
        wire::error_string(code, message, self.tracing_id)
    }
}

impl Hub {
    /// Handles one text frame from a socket. Answers go out through the socket channels.
    pub fn handle_client_frame(&self, socket_id: SocketId, frame_text: &str) {
        let answer = self.dispatch(socket_id, frame_text);
        if let Some(answer) = answer {
            let state = self.lock();
            send_to(&state, socket_id, Outgoing::Text(answer));
        }
    }

    /// Answers a frame the adapter could not even hand over (e.g. binary) with a `string` error.
    pub fn refuse_frame(&self, socket_id: SocketId, code: u16, message: &str) {
        tracing::debug!(socket = socket_id, code, message, "client frame refused");
        let state = self.lock();
        send_to(
            &state,
            socket_id,
            Outgoing::Text(wire::error_string(code, message, None)),
        );
    }

    /// Returns the frame to send back to the requester, if any (other sockets are served inside).
    fn dispatch(&self, socket_id: SocketId, frame_text: &str) -> Option<String> {
        let parsed: Value = match serde_json::from_str(frame_text) {
            Ok(value) => value,
            Err(error) => {
                tracing::debug!(socket = socket_id, %error, "malformed client frame");
                let answer = if frame_text.len() > self.options.max_frame_bytes
                    && frame_text.contains("onMessage")
                {
                    wire::error_string(4011, "Message exceeds the maximum length.", None)
                } else {
                    wire::error_string(400, text::REQUEST_FAILED, None)
                };
                return Some(answer);
            }
        };
        let Value::Object(frame) = &parsed else {
            return Some(wire::error_string(400, text::REQUEST_FAILED, None));
        };
        let tracing_id = frame.get("tracingId").and_then(Value::as_str);
        if frame_text.len() > self.options.max_frame_bytes {
            let on_message = frame.get("action").and_then(Value::as_str) == Some("onMessage");
            let code = if on_message { 4011 } else { 400 };
            return Some(wire::error_string(
                code,
                "Request exceeds the maximum frame size.",
                tracing_id,
            ));
        }
        // The core's decoder is the one definition of the client frames (shared with the
        // client engine); its error says what the peer got wrong and which code answers it.
        let action = match ClientAction::from_value(parsed.clone()) {
            Ok(action) => action,
            Err(error) => {
                tracing::debug!(socket = socket_id, %error, "client frame refused");
                return Some(match error {
                    // No action at all is not a request we know, like an unknown action.
                    DecodeError::MissingField(field) if field != "action" => {
                        missing_parameter(&field, tracing_id)
                    }
                    DecodeError::MissingField(_) => {
                        wire::error_string(400, text::REQUEST_FAILED, tracing_id)
                    }
                    other => wire::error_string(
                        u16::try_from(other.error_code().as_u32()).unwrap_or(400),
                        text::REQUEST_FAILED,
                        tracing_id,
                    ),
                });
            }
        };
        let request = Request {
            socket_id,
            action: &action,
            frame,
            tracing_id,
        };
        let result = match &action {
            ClientAction::ConfigureSession(_) => self.configure(&request, false),
            ClientAction::ConfigureAuthenticatedSession(_) => self.configure(&request, true),
            ClientAction::OnMessage(_) => self.on_message(&request),
            ClientAction::Echo(_) => self.echo(&request),
            ClientAction::GetJwt(_) => self.get_jwt(&request),
            ClientAction::OnAttachment(inner) => {
                self.on_attachment(&request_parts(&request), inner)
            }
            ClientAction::GetAttachment(inner) => {
                self.get_attachment(&request_parts(&request), inner.attachment_id.as_str())
            }
            ClientAction::DeleteAttachment(inner) => {
                self.delete_attachment(&request_parts(&request), inner.attachment_id.as_str())
            }
            ClientAction::CloseSession(_) => self.close_session(&request),
            ClientAction::GetConfiguration(_) => self.get_configuration(&request),
        };
        match result {
            Ok(answer) => answer,
            Err(refusal) => Some(refusal),
        }
    }

    /// The session this socket is configured with for the request's token, or the refusal
    /// (4006 expired, 4007 not configured here). Expired sessions are marked.
    fn current_session(
        &self,
        state: &mut HubState,
        request: &Request<'_>,
    ) -> Result<SessionKey, Refusal> {
        let token = request.token();
        let key = state
            .sockets
            .get(&request.socket_id)
            .and_then(|socket| socket.session.clone())
            .filter(|key| key.1 == token);
        let Some(key) = key else {
            let deployment = state
                .sockets
                .get(&request.socket_id)
                .map(|socket| socket.deployment_id.clone());
            let expired = deployment
                .and_then(|deployment| state.sessions.get(&(deployment, token.to_owned())))
                .is_some_and(|session| session.is_expired_at(self.now_ms()));
            return Err(if expired {
                request.error(4006, text::SESSION_EXPIRED)
            } else {
                request.error(4007, text::SESSION_NOT_FOUND)
            });
        };
        let now = self.now_ms();
        match state.sessions.get(&key) {
            Some(session) if session.is_expired_at(now) => {
                self.expire_session(state, &key);
                Err(request.error(4006, text::SESSION_EXPIRED))
            }
            Some(_) => Ok(key),
            None => Err(request.error(4007, text::SESSION_NOT_FOUND)),
        }
    }

    fn configure(
        &self,
        request: &Request<'_>,
        authenticated: bool,
    ) -> Result<Option<String>, Refusal> {
        let (deployment_id, start_new, jwt) = match request.action {
            ClientAction::ConfigureSession(inner) => {
                (inner.deployment_id.as_str(), inner.start_new, None)
            }
            ClientAction::ConfigureAuthenticatedSession(inner) => (
                inner.deployment_id.as_str(),
                inner.start_new,
                Some(inner.data.code.as_str()),
            ),
            _ => return Err(request.error(400, text::REQUEST_FAILED)),
        };
        let token = request.token();
        let start_new = start_new.unwrap_or(false);
        if token.is_empty() || token.chars().count() > MAX_TOKEN_CHARS {
            return Err(request.error(400, "The session token must be 1 to 2048 characters."));
        }
        let mut state = self.lock();
        let Some(socket_deployment) = state
            .sockets
            .get(&request.socket_id)
            .map(|socket| socket.deployment_id.clone())
        else {
            return Ok(None);
        };
        if socket_deployment != deployment_id {
            return Err(request.error(
                403,
                "The deploymentId does not match the connection's deployment.",
            ));
        }
        let Some(deployment) = state
            .deployments
            .get(deployment_id)
            .map(|deployment| deployment.settings.clone())
        else {
            return Err(request.error(403, "Unknown deployment."));
        };
        if authenticated {
            let jwt = jwt.ok_or_else(|| request.missing("data.code"))?;
            return self.configure_authenticated(
                &mut state,
                super::auth::AuthConfigure {
                    socket_id: request.socket_id,
                    tracing_id: request.tracing_id,
                    deployment_id,
                    token,
                    settings: deployment,
                    start_new,
                    jwt,
                },
            );
        }
        let now = self.now_ms();
        let key: SessionKey = (deployment_id.to_owned(), token.to_owned());
        if state.authenticated_tokens.contains(&key) {
            return Err(request.error(4017, text::CANNOT_DOWNGRADE));
        }
        let new_session = match state.sessions.get(&key) {
            Some(existing) if existing.authenticated => {
                return Err(request.error(4017, text::CANNOT_DOWNGRADE));
            }
            Some(existing) if existing.is_expired_at(now) => {
                // Access refused; the client must start over with a new token.
                self.expire_session(&mut state, &key);
                return Ok(Some(wire::envelope(
                    "response",
                    "SessionExpiredEvent",
                    200,
                    json!({}),
                    request.tracing_id,
                )));
            }
            Some(existing) if start_new && existing.read_only => true,
            Some(_) => false,
            None => true,
        };
        if new_session {
            let previous_sockets = state
                .sessions
                .get(&key)
                .map(|session| session.sockets.clone())
                .unwrap_or_default();
            let mut session = self.new_session(&mut state, deployment_id, token, deployment, None);
            session.sockets = previous_sockets;
            state.sessions.insert(key.clone(), session);
        } else if let Some(session) = state.sessions.get_mut(&key) {
            session.touch(now);
        }
        self.attach_socket(&mut state, request.socket_id, &key);
        let session = state.sessions.get(&key).cloned();
        let Some(session) = session else {
            return Ok(None);
        };
        self.persist_session(&session);
        let body = session_response(&session, true, new_session);
        tracing::info!(token = %session.token, deployment = %session.deployment_id, new_session, "session configured");
        drop(state);
        self.notify_console("session", Some(&session.conversation_id));
        Ok(Some(wire::envelope(
            "response",
            "SessionResponse",
            200,
            body,
            request.tracing_id,
        )))
    }

    /// Binds a socket to a session; beyond the per-token limit the oldest socket is closed.
    pub(crate) fn attach_socket(
        &self,
        state: &mut HubState,
        socket_id: SocketId,
        key: &SessionKey,
    ) {
        let already = state
            .sockets
            .get(&socket_id)
            .and_then(|socket| socket.session.clone());
        if already.as_ref() != Some(key) {
            detach_socket(state, socket_id);
        }
        let Some(session) = state.sessions.get_mut(key) else {
            return;
        };
        if !session.sockets.contains(&socket_id) {
            session.sockets.push(socket_id);
        }
        let mut evicted = Vec::new();
        while session.sockets.len() > self.options.max_sockets_per_token {
            evicted.push(session.sockets.remove(0));
        }
        if let Some(socket) = state.sockets.get_mut(&socket_id) {
            socket.session = Some(key.clone());
        }
        for oldest in evicted {
            tracing::info!(
                socket = oldest,
                "closing the oldest socket: connection limit per token reached"
            );
            send_to(
                state,
                oldest,
                Outgoing::Text(wire::event("ConnectionClosedEvent", json!({}), None)),
            );
            send_to(
                state,
                oldest,
                Outgoing::Close(1000, "Session limit reached".into()),
            );
            if let Some(socket) = state.sockets.get_mut(&oldest) {
                socket.session = None;
            }
        }
    }

    fn on_message(&self, request: &Request<'_>) -> Result<Option<String>, Refusal> {
        let ClientAction::OnMessage(typed) = request.action else {
            return Err(request.error(400, text::REQUEST_FAILED));
        };
        // The decoder checked `message` and `message.type`; the raw object is what gets stored.
        let Some(Value::Object(message)) = request.frame.get("message") else {
            return Err(request.error(400, text::REQUEST_FAILED));
        };
        let mut state = self.lock();
        let key = self.current_session(&mut state, request)?;
        match &typed.message.message_type {
            MessageType::Event => self.on_event(&mut state, request, &key, message),
            kind @ (MessageType::Text | MessageType::Structured) => {
                self.on_text(&mut state, request, &key, kind.as_str(), message)
            }
            _ => Err(request.error(400, text::REQUEST_FAILED)),
        }
    }

    fn on_event(
        &self,
        state: &mut HubState,
        request: &Request<'_>,
        key: &SessionKey,
        message: &Map<String, Value>,
    ) -> Result<Option<String>, Refusal> {
        let Some(events) = message
            .get("events")
            .and_then(Value::as_array)
            .filter(|events| !events.is_empty())
        else {
            return Err(request.missing("message.events"));
        };
        let Some(session) = state.sessions.get(key).cloned() else {
            return Err(request.error(4007, text::SESSION_NOT_FOUND));
        };
        let event = &events[0];
        match event.get("eventType").and_then(Value::as_str) {
            Some("Typing") => {
                if !session.settings.show_user_typing_indicator {
                    return Err(request.error(403, text::FEATURE_TOGGLE));
                }
                self.notify_console("customerTyping", Some(&session.conversation_id));
                Ok(None)
            }
            Some("Presence") => match event.pointer("/presence/type").and_then(Value::as_str) {
                Some("Join") => {
                    if session.read_only {
                        return Err(request.error(403, "The conversation is read-only."));
                    }
                    let attributes = self.merged_attributes(request, &session, message)?;
                    let now = self.now_ms();
                    let stamp = self.stamp(state);
                    let id = uuid::Uuid::new_v4().to_string();
                    let mut body = json!({
                        "id": id,
                        "type": "Event",
                        "direction": "Inbound",
                        "channel": {"time": iso8601_millis(stamp), "messageId": id},
                        "events": [{"eventType": "Presence", "presence": {"type": "Join"}}],
                        "originatingEntity": "Human"
                    });
                    copy_client_metadata(&mut body, message);
                    mark_authenticated(&mut body, &session);
                    self.commit_inbound(
                        state, request, key, &session, attributes, &body, &id, stamp, now,
                    )
                }
                Some("Clear") => {
                    if !session.settings.conversation_clear {
                        return Err(request.error(403, text::CLEAR_NOT_SUPPORTED));
                    }
                    self.clear_conversation(state, request, key, &session);
                    Ok(None)
                }
                _ => Err(request.error(400, text::REQUEST_FAILED)),
            },
            _ => Err(request.error(400, text::REQUEST_FAILED)),
        }
    }

    fn on_text(
        &self,
        state: &mut HubState,
        request: &Request<'_>,
        key: &SessionKey,
        kind: &str,
        message: &Map<String, Value>,
    ) -> Result<Option<String>, Refusal> {
        let Some(session) = state.sessions.get(key).cloned() else {
            return Err(request.error(4007, text::SESSION_NOT_FOUND));
        };
        if session.read_only {
            return Err(request.error(403, "The conversation is read-only."));
        }
        let text_value = match message.get("text") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(_) => return Err(request.error(400, text::REQUEST_FAILED)),
        };
        if text_value.chars().count() > self.options.max_text_chars {
            return Err(request.error(
                4011,
                &format!(
                    "Message exceeds the maximum length of {} characters.",
                    self.options.max_text_chars
                ),
            ));
        }
        let content_in = match message.get("content") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => return Err(request.error(400, text::REQUEST_FAILED)),
        };
        if text_value.is_empty() && content_in.is_empty() {
            return Err(request.missing("message.text"));
        }
        let attributes = self.merged_attributes(request, &session, message)?;
        let base_url = state
            .sockets
            .get(&request.socket_id)
            .map(|socket| socket.base_url.clone())
            .unwrap_or_default();
        let mut content = Vec::with_capacity(content_in.len());
        for item in content_in {
            if item.get("contentType").and_then(Value::as_str) == Some("Attachment") {
                content.push(self.resolve_attachment(
                    &request_parts(request),
                    &session,
                    &base_url,
                    &item,
                )?);
            } else {
                content.push(item);
            }
        }
        let now = self.now_ms();
        if let Some(session) = state.sessions.get_mut(key) {
            if let Err(retry_after) = self
                .options
                .rate_limit
                .admit(&mut session.recent_sends, now)
            {
                return Err(wire::too_many_requests(retry_after, request.tracing_id));
            }
        }
        let stamp = self.stamp(state);
        let id = uuid::Uuid::new_v4().to_string();
        let mut body = json!({
            "id": id,
            "type": kind,
            "text": text_value,
            "direction": "Inbound",
            "channel": {"time": iso8601_millis(stamp), "messageId": id},
            "originatingEntity": "Human"
        });
        if !content.is_empty() {
            body["content"] = Value::Array(content);
        }
        if let Some(sent) = custom_attributes_of(request.frame, message) {
            body["channel"]["metadata"] = json!({"customAttributes": sent});
        }
        copy_client_metadata(&mut body, message);
        mark_authenticated(&mut body, &session);
        self.commit_inbound(
            state, request, key, &session, attributes, &body, &id, stamp, now,
        )
    }

    /// Stores an inbound message (commit first), then echoes it: with the tracingId to the
    /// sender, without it to the token's other sockets. The commit happens on the store's writer
    /// thread (grouped with other pending writes); the echoes leave from there once it is done,
    /// so no lock is held across SQLite. Returns no immediate answer.
    #[allow(clippy::too_many_arguments)]
    fn commit_inbound(
        &self,
        state: &mut HubState,
        request: &Request<'_>,
        key: &SessionKey,
        session: &Session,
        attributes: BTreeMap<String, String>,
        body: &Value,
        id: &str,
        stamp: u64,
        now: u64,
    ) -> Result<Option<String>, Refusal> {
        let mut updated = session.clone();
        updated.custom_attributes = attributes;
        updated.touch(now);
        let conversation_id = session.conversation_id.clone();
        if let Some(live) = state.sessions.get_mut(key) {
            live.custom_attributes = updated.custom_attributes.clone();
            live.last_active_ms = updated.last_active_ms;
            live.expires_ms = updated.expires_ms;
        }
        // Queued before the message: the same group commit (or an earlier one) carries it.
        self.rejoin_if_ended(state, &conversation_id, now);
        let sender = state
            .sockets
            .get(&request.socket_id)
            .map(|socket| socket.tx.clone());
        let others: Vec<_> = updated
            .sockets
            .iter()
            .filter(|socket_id| **socket_id != request.socket_id)
            .filter_map(|socket_id| state.sockets.get(socket_id))
            .map(|socket| socket.tx.clone())
            .collect();
        let echo = wire::structured_message(body, request.tracing_id);
        let push = (!others.is_empty()).then(|| wire::structured_message(body, None));
        let failure = request.error(500, text::SERVER_ERROR);
        let console = self.console_sender();
        let notice = (console.receiver_count() > 0)
            .then(|| console_notice("message", Some(&conversation_id)));
        self.store.queue_inbound(
            updated,
            id.to_owned(),
            stamp,
            body.to_string(),
            Box::new(move |outcome| {
                // Closed channels mean those sockets are already gone: nothing to tell them.
                match outcome {
                    Ok(()) => {
                        if let Some(push) = push {
                            for other in &others {
                                let _ = other.send(Outgoing::Text(push.clone()));
                            }
                        }
                        if let Some(sender) = &sender {
                            let _ = sender.send(Outgoing::Text(echo));
                        }
                        if let Some(notice) = notice {
                            let _ = console.send(notice);
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "failed to store an inbound message");
                        if let Some(sender) = &sender {
                            let _ = sender.send(Outgoing::Text(failure));
                        }
                    }
                }
            }),
        );
        Ok(None)
    }

    /// The session's custom attributes merged with this message's, or 4013 if over budget.
    fn merged_attributes(
        &self,
        request: &Request<'_>,
        session: &Session,
        message: &Map<String, Value>,
    ) -> Result<BTreeMap<String, String>, Refusal> {
        let mut merged = session.custom_attributes.clone();
        if let Some(Value::Object(sent)) = custom_attributes_of(request.frame, message) {
            for (name, value) in sent {
                let value = match value {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                merged.insert(name, value);
            }
        }
        let limit = session.settings.max_custom_data_bytes;
        if Session::custom_attribute_bytes(&merged) as u64 > limit {
            return Err(request.error(
                4013,
                &format!("Custom Attributes in channel metadata is larger than {limit} bytes"),
            ));
        }
        Ok(merged)
    }

    fn clear_conversation(
        &self,
        state: &mut HubState,
        request: &Request<'_>,
        key: &SessionKey,
        session: &Session,
    ) {
        let cleared = wire::event("SessionClearedEvent", json!({}), None);
        let closed = wire::event("ConnectionClosedEvent", json!({}), None);
        for socket_id in &session.sockets {
            let frame = if *socket_id == request.socket_id {
                wire::event("SessionClearedEvent", json!({}), request.tracing_id)
            } else {
                cleared.clone()
            };
            send_to(state, *socket_id, Outgoing::Text(frame));
            send_to(state, *socket_id, Outgoing::Text(closed.clone()));
            send_to(
                state,
                *socket_id,
                Outgoing::Close(1000, "Conversation cleared".into()),
            );
            if let Some(socket) = state.sockets.get_mut(socket_id) {
                socket.session = None;
            }
        }
        state.sessions.remove(key);
        let now = self.now_ms();
        if let Some(conversation) = state.conversations.get_mut(&session.conversation_id) {
            conversation.state = super::session::ConversationState::Ended;
            conversation.ended_ms = Some(now);
            let conversation = conversation.clone();
            self.persist_conversation(&conversation);
        }
        if let Err(error) =
            self.store
                .delete_session(&session.deployment_id, &session.token, &session.session_id)
        {
            tracing::error!(%error, "failed to delete a cleared session");
        }
        tracing::info!(token = %session.token, "conversation cleared by the guest");
        self.notify_console("cleared", Some(&session.conversation_id));
    }

    fn echo(&self, request: &Request<'_>) -> Result<Option<String>, Refusal> {
        let mut state = self.lock();
        let key = match self.current_session(&mut state, request) {
            Ok(key) => key,
            Err(refusal) if refusal.contains("\"code\":4006") => {
                // SPEC §3.4: an echo on an expired session is answered with SessionExpiredEvent.
                return Ok(Some(wire::envelope(
                    "response",
                    "SessionExpiredEvent",
                    200,
                    json!({}),
                    request.tracing_id,
                )));
            }
            Err(refusal) => return Err(refusal),
        };
        let Some(session) = state.sessions.get(&key) else {
            return Ok(None);
        };
        // Only two numbers are needed: no copy of the session on the keep-alive path.
        let (duration_seconds, expiration_epoch_seconds) =
            (session.duration_seconds(), session.expiration_epoch_seconds());
        let stamp = self.stamp(&mut state);
        drop(state);
        let id = uuid::Uuid::new_v4().to_string();
        let text_value = request
            .frame
            .get("message")
            .and_then(|message| message.get("text"))
            .and_then(Value::as_str)
            .unwrap_or("ping");
        let reply = wire::EchoReply {
            id: &id,
            text: text_value,
            time: &iso8601_millis(stamp),
            duration_seconds,
            expiration_epoch_seconds,
        };
        Ok(Some(wire::echo_response(&reply, request.tracing_id)))
    }

    fn get_jwt(&self, request: &Request<'_>) -> Result<Option<String>, Refusal> {
        let mut state = self.lock();
        let key = self.current_session(&mut state, request)?;
        let Some(session) = state.sessions.get(&key) else {
            return Ok(None);
        };
        let now = self.now_ms() / 1000;
        let claims = GuestClaims {
            sub: session.token.clone(),
            dep: session.deployment_id.clone(),
            sid: session.session_id.clone(),
            iat: now,
            exp: now + self.options.jwt_ttl_seconds,
        };
        let jwt = self.signer.issue(&claims);
        Ok(Some(wire::envelope(
            "response",
            "JwtResponse",
            200,
            json!({"jwt": jwt, "exp": claims.exp}),
            request.tracing_id,
        )))
    }

    fn close_session(&self, request: &Request<'_>) -> Result<Option<String>, Refusal> {
        let mut state = self.lock();
        let key = self.current_session(&mut state, request)?;
        let Some(session) = state.sessions.get(&key).cloned() else {
            return Ok(None);
        };
        let close_all = request
            .frame
            .get("closeAllConnections")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if close_all {
            for socket_id in session
                .sockets
                .iter()
                .filter(|id| **id != request.socket_id)
            {
                send_to(
                    &state,
                    *socket_id,
                    Outgoing::Text(wire::event("ConnectionClosedEvent", json!({}), None)),
                );
                send_to(
                    &state,
                    *socket_id,
                    Outgoing::Close(1000, "Session closed".into()),
                );
                if let Some(socket) = state.sockets.get_mut(socket_id) {
                    socket.session = None;
                }
            }
            if let Some(session) = state.sessions.get_mut(&key) {
                session.sockets.retain(|id| *id == request.socket_id);
            }
        }
        // The requester keeps its socket but is no longer bound: next comes configure{startNew}.
        detach_socket(&mut state, request.socket_id);
        let body = json!({
            "connected": false,
            "newSession": false,
            "readOnly": true,
            "maxCustomDataBytes": session.settings.max_custom_data_bytes
        });
        Ok(Some(wire::envelope(
            "response",
            "SessionResponse",
            200,
            body,
            request.tracing_id,
        )))
    }

    fn get_configuration(&self, request: &Request<'_>) -> Result<Option<String>, Refusal> {
        let state = self.lock();
        let Some(deployment_id) = state
            .sockets
            .get(&request.socket_id)
            .map(|socket| socket.deployment_id.clone())
        else {
            return Ok(None);
        };
        let settings = state
            .sockets
            .get(&request.socket_id)
            .and_then(|socket| socket.session.as_ref())
            .and_then(|key| state.sessions.get(key))
            .map(|session| session.settings.clone())
            .or_else(|| {
                state
                    .deployments
                    .get(&deployment_id)
                    .map(|deployment| deployment.settings.clone())
            });
        let Some(settings) = settings else {
            return Err(request.error(403, "Unknown deployment."));
        };
        let body = json!({
            "allowedMedia": settings.allowed_media_json(),
            "blockedExtensions": settings.attachments.blocked_extensions,
            "maxCustomDataBytes": settings.max_custom_data_bytes,
            "messageRoutingEnabled": true,
            "sessionDurationSeconds": settings.ttl_seconds()
        });
        Ok(Some(wire::envelope(
            "response",
            "GetConfigurationResponse",
            200,
            body,
            request.tracing_id,
        )))
    }
}

/// The 4020 answer naming the missing parameter.
fn missing_parameter(key: &str, tracing_id: Option<&str>) -> Refusal {
    wire::error_string(
        4020,
        &format!("Missing required parameter: {key}"),
        tracing_id,
    )
}

/// The attachment handlers need the request's parts.
pub(crate) struct RequestParts<'a> {
    pub socket_id: SocketId,
    action: &'a ClientAction,
    frame: &'a Map<String, Value>,
    pub tracing_id: Option<&'a str>,
}

fn request_parts<'a>(request: &Request<'a>) -> RequestParts<'a> {
    RequestParts {
        socket_id: request.socket_id,
        action: request.action,
        frame: request.frame,
        tracing_id: request.tracing_id,
    }
}

impl Hub {
    /// Shared by the attachment handlers: a copy of the requesting socket's current session,
    /// if it still has one, or the refusal.
    pub(crate) fn socket_session(
        &self,
        state: &mut HubState,
        parts: &RequestParts<'_>,
    ) -> Result<Option<Session>, String> {
        let request = Request {
            socket_id: parts.socket_id,
            action: parts.action,
            frame: parts.frame,
            tracing_id: parts.tracing_id,
        };
        let key = self.current_session(state, &request)?;
        Ok(state.sessions.get(&key).cloned())
    }
}

/// `SessionResponse` body for a connected socket.
pub(crate) fn session_response(session: &Session, connected: bool, new_session: bool) -> Value {
    json!({
        "connected": connected,
        "newSession": new_session,
        "readOnly": session.read_only,
        "maxCustomDataBytes": session.settings.max_custom_data_bytes,
        "allowedMedia": session.settings.allowed_media_json(),
        "blockedExtensions": session.settings.attachments.blocked_extensions,
        "clearedExistingSession": false,
        "durationSeconds": session.duration_seconds(),
        "expirationDate": session.expiration_epoch_seconds()
    })
}

/// Custom attributes from `message.channel.metadata` or the top-level `channel` (both accepted).
fn custom_attributes_of(frame: &Map<String, Value>, message: &Map<String, Value>) -> Option<Value> {
    message
        .get("channel")
        .and_then(|channel| channel.pointer("/metadata/customAttributes"))
        .or_else(|| {
            frame
                .get("channel")
                .and_then(|channel| channel.pointer("/metadata/customAttributes"))
        })
        .filter(|attributes| attributes.is_object())
        .cloned()
}

/// Messages of an authenticated session carry `metadata.authenticated: "true"` (SPEC §11.6).
fn mark_authenticated(body: &mut Value, session: &Session) {
    if session.authenticated {
        if !body.get("metadata").is_some_and(Value::is_object) {
            body["metadata"] = json!({});
        }
        body["metadata"]["authenticated"] = Value::from("true");
    }
}

/// Keeps the client's `message.metadata` (clients put reconciliation ids there).
fn copy_client_metadata(body: &mut Value, message: &Map<String, Value>) {
    if let Some(Value::Object(metadata)) = message.get("metadata") {
        body["metadata"] = Value::Object(metadata.clone());
    }
}
