//! Authenticated messaging (SPEC §3.2, §11): the Web Messaging token endpoints, the
//! `configureAuthenticatedSession` rules (resume, start new, step-up, other devices), logout,
//! and the signed-in customer's earlier conversations.
//!
//! Model: every sign-in is a *grant* (stored), which owns at most one refresh token; auth JWTs
//! name their grant, so signing out (revoking the grant) kills them. A signed-in customer has at
//! most one current authenticated session per deployment. Configuring from another token (a
//! reload with a fresh token, another device) moves that session to the new token and closes
//! the old token's sockets with `ConnectionClosedEvent{reason:"signedIn"}`.

use std::collections::HashMap;

use serde_json::{json, Value};
use threadline_core::protocol::{
    CodeExchangeRequest, JwtExchangeResponse, OAuthGrant, RefreshRequest, RefreshResponse,
};

use super::deployment::DeploymentSettings;
use super::hub::{send_to, ControlError, Hub, HubState, Outgoing, SessionKey};
use super::idp::{demo_user, redirect_location, AuthorizeRequest, IdpError};
use super::session::{ConversationState, Session, SocketId};
use crate::clock::iso8601_millis;
use crate::jwt::{random_token, sha256_hex, AuthClaims, JwtError};
use crate::store::{GrantRecord, StoreError};
use crate::wire::{self, text};

/// Why a token endpoint refused a request; maps to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// 400: the body is malformed or incomplete (the caller's fault).
    #[error("{0}")]
    BadRequest(String),
    /// 401: the credentials (code, verifier, id token, refresh token, JWT) do not verify.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authentication is turned off for the deployment.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such deployment.
    #[error("{0}")]
    NotFound(String),
    /// 500: storage failed (the gateway's fault).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an auth JWT was refused on `configureAuthenticatedSession`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthJwtError {
    /// 401: refresh and try again.
    Expired,
    /// 403 "Session authentication failed": sign in again.
    Invalid(&'static str),
}

/// The parts of a `configureAuthenticatedSession` the session rules need.
pub(crate) struct AuthConfigure<'a> {
    pub socket_id: SocketId,
    pub tracing_id: Option<&'a str>,
    pub deployment_id: &'a str,
    pub token: &'a str,
    pub settings: DeploymentSettings,
    pub start_new: bool,
    pub jwt: &'a str,
}

impl Hub {
    // ----- development identity provider ---------------------------------------------------

    /// The login form was submitted: issues a code for `user` and returns where to redirect.
    pub fn authorize_submit(&self, params: &HashMap<String, String>) -> Result<String, IdpError> {
        let request = AuthorizeRequest::from_params(params)?;
        let user = params
            .get("user")
            .ok_or_else(|| IdpError::InvalidRequest("choose a user".into()))?;
        let state = request.state.clone();
        let redirect_uri = request.redirect_uri.clone();
        let code =
            self.idp
                .issue_code(request, user, self.now_ms(), self.options.auth_code_ttl_ms)?;
        tracing::info!(user = %user, "development IdP issued an authorization code");
        Ok(redirect_location(&redirect_uri, &code, state.as_deref()))
    }

    /// `POST /auth/token` (authorization_code grant): the IdP's own token endpoint.
    pub fn oauth_token(&self, params: &HashMap<String, String>) -> Result<Value, IdpError> {
        let get = |key: &str| {
            params
                .get(key)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        match get("grant_type") {
            Some("authorization_code") => {}
            Some(other) => {
                return Err(IdpError::Unsupported(format!(
                    "grant_type {other:?} (only authorization_code)"
                )))
            }
            None => return Err(IdpError::InvalidRequest("grant_type is required".into())),
        }
        let code =
            get("code").ok_or_else(|| IdpError::InvalidRequest("code is required".into()))?;
        let redirect_uri = get("redirect_uri")
            .ok_or_else(|| IdpError::InvalidRequest("redirect_uri is required".into()))?;
        let now = self.now_ms();
        let redeemed = self.idp.redeem_code(
            code,
            redirect_uri,
            get("client_id"),
            get("code_verifier"),
            now,
        )?;
        let ttl = self.options.id_token_ttl_seconds;
        Ok(json!({
            "id_token": self.idp.id_token(redeemed.user, &redeemed.client_id, redeemed.nonce, now, ttl),
            "access_token": self.idp.access_token(redeemed.user, &redeemed.client_id, now, ttl),
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": "openid profile email"
        }))
    }

    // ----- Web Messaging token endpoints ---------------------------------------------------

    fn auth_deployment(&self, deployment_id: &str) -> Result<DeploymentSettings, AuthError> {
        let settings = self
            .deployment(deployment_id)
            .ok_or_else(|| AuthError::NotFound(format!("no deployment {deployment_id}")))?;
        if !settings.auth.enabled {
            return Err(AuthError::Forbidden(format!(
                "authentication is not enabled for deployment {deployment_id}"
            )));
        }
        Ok(settings)
    }

    fn jwt_ttl_seconds(&self, settings: &DeploymentSettings) -> u64 {
        settings
            .auth
            .jwt_ttl_seconds
            .unwrap_or(self.options.auth_jwt_ttl_seconds)
    }

    fn issue_auth_jwt(&self, grant: &GrantRecord, settings: &DeploymentSettings) -> String {
        let now = self.now_ms();
        self.auth_signer.issue(&AuthClaims {
            sub: grant.sub.clone(),
            dep: grant.deployment_id.clone(),
            gid: grant.id.clone(),
            iat: now / 1000,
            ims: now,
            exp: (now / 1000).saturating_add(self.jwt_ttl_seconds(settings)),
        })
    }

    /// `POST /api/v2/webdeployments/token/oauthcodegrantjwtexchange`: an IdP code (verified
    /// with its PKCE verifier) or id token (verified with its nonce) for an auth JWT and, for
    /// the code flow, a refresh token.
    pub fn exchange(&self, request: CodeExchangeRequest) -> Result<JwtExchangeResponse, AuthError> {
        let deployment_id = request.deployment_id.as_str().to_owned();
        let settings = self.auth_deployment(&deployment_id)?;
        let now = self.now_ms();
        let (sub, with_refresh) = match request.oauth {
            OAuthGrant::Code(grant) => {
                let redeemed = self
                    .idp
                    .redeem_code(
                        &grant.code,
                        &grant.redirect_uri,
                        None,
                        grant.code_verifier.as_deref(),
                        now,
                    )
                    .map_err(|error| AuthError::Unauthorized(error.to_string()))?;
                if grant.nonce.is_some() && grant.nonce != redeemed.nonce {
                    return Err(AuthError::Unauthorized(
                        "nonce does not match the authorization request".into(),
                    ));
                }
                (redeemed.user.sub.to_owned(), true)
            }
            OAuthGrant::Implicit(grant) => {
                let claims = self
                    .idp
                    .verify_id_token(&grant.id_token, now)
                    .map_err(|error| AuthError::Unauthorized(format!("id token: {error}")))?;
                if claims.nonce.is_some() && claims.nonce != grant.nonce {
                    return Err(AuthError::Unauthorized(
                        "nonce does not match the id token".into(),
                    ));
                }
                (claims.sub, false)
            }
        };
        let refresh_token = with_refresh.then(random_token);
        let refresh_ttl_ms = settings
            .auth
            .refresh_token_ttl_seconds
            .unwrap_or(self.options.refresh_token_ttl_seconds)
            .saturating_mul(1000);
        let grant = GrantRecord {
            id: uuid::Uuid::new_v4().to_string(),
            deployment_id,
            sub,
            created_ms: now,
            refresh_hash: refresh_token.as_deref().map(sha256_hex),
            refresh_expires_ms: now.saturating_add(refresh_ttl_ms),
            refresh_revoked: false,
            revoked: false,
        };
        self.store.insert_grant(&grant)?;
        tracing::info!(user = %grant.sub, deployment = %grant.deployment_id, "signed in");
        Ok(JwtExchangeResponse {
            jwt: self.issue_auth_jwt(&grant, &settings),
            refresh_token,
        })
    }

    /// `POST /api/v2/webdeployments/token/refresh`: a new auth JWT for a live refresh token.
    pub fn refresh(&self, request: RefreshRequest) -> Result<RefreshResponse, AuthError> {
        let refused = || AuthError::Unauthorized("the refresh token is not valid".into());
        let grant = self
            .store
            .grant_by_refresh_hash(&sha256_hex(&request.refresh_token))?
            .ok_or_else(refused)?;
        if grant.revoked || grant.refresh_revoked || grant.refresh_expires_ms <= self.now_ms() {
            return Err(refused());
        }
        let settings = self.auth_deployment(&grant.deployment_id)?;
        Ok(RefreshResponse {
            jwt: self.issue_auth_jwt(&grant, &settings),
            refresh_token: None,
        })
    }

    /// `DELETE /api/v2/webdeployments/token/revoke` with the auth JWT: signs the grant out and
    /// pushes `LogoutEvent` to every socket of the user's authenticated sessions. Returns how
    /// many sockets were told.
    pub fn revoke(&self, jwt: &str) -> Result<usize, AuthError> {
        let mut state = self.lock();
        let claims = self
            .verify_auth_jwt(&state, jwt)
            .map_err(|error| match error {
                AuthJwtError::Expired => AuthError::Unauthorized("the JWT has expired".into()),
                AuthJwtError::Invalid(reason) => AuthError::Unauthorized(reason.into()),
            })?;
        self.store.revoke_grant(&claims.gid)?;
        let keys: Vec<SessionKey> = state
            .sessions
            .iter()
            .filter(|(key, session)| {
                key.0 == claims.dep && session.user.as_deref() == Some(claims.sub.as_str())
            })
            .map(|(key, _)| key.clone())
            .collect();
        let logout = wire::event("LogoutEvent", json!({}), None);
        let mut told = 0;
        for key in keys {
            let sockets = state
                .sessions
                .get_mut(&key)
                .map(|session| std::mem::take(&mut session.sockets))
                .unwrap_or_default();
            for socket_id in sockets {
                send_to(&state, socket_id, Outgoing::Text(logout.clone()));
                // Logged out: this socket may no longer act for the session.
                if let Some(socket) = state.sockets.get_mut(&socket_id) {
                    socket.session = None;
                }
                told += 1;
            }
        }
        tracing::info!(user = %claims.sub, deployment = %claims.dep, sockets = told, "signed out");
        Ok(told)
    }

    /// Verifies an auth JWT: signature, expiry (and the control API's forced expiry), grant.
    pub(crate) fn verify_auth_jwt(
        &self,
        state: &HubState,
        jwt: &str,
    ) -> Result<AuthClaims, AuthJwtError> {
        let claims: AuthClaims = match self.auth_signer.verify_jwt(jwt, self.now_ms() / 1000) {
            Ok(claims) => claims,
            Err(JwtError::Expired) => return Err(AuthJwtError::Expired),
            Err(JwtError::Malformed | JwtError::BadSignature) => {
                return Err(AuthJwtError::Invalid("the token is not valid"))
            }
        };
        let forced = [
            state.jwts_expired_before_ms,
            state.user_jwts_expired_before_ms.get(&claims.sub).copied(),
        ];
        if forced.iter().flatten().any(|cutoff| claims.ims <= *cutoff) {
            return Err(AuthJwtError::Expired);
        }
        match self.store.grant(&claims.gid) {
            Ok(Some(grant)) if !grant.revoked => Ok(claims),
            Ok(Some(_)) => Err(AuthJwtError::Invalid("the user signed out")),
            Ok(None) => Err(AuthJwtError::Invalid("unknown sign-in")),
            Err(error) => {
                tracing::error!(%error, "cannot read a grant");
                Err(AuthJwtError::Invalid("the sign-in cannot be checked"))
            }
        }
    }

    // ----- configureAuthenticatedSession ---------------------------------------------------

    /// The rules of SPEC §3.2 / §11: returns the answer for the requesting socket.
    pub(crate) fn configure_authenticated(
        &self,
        state: &mut HubState,
        request: AuthConfigure<'_>,
    ) -> Result<Option<String>, String> {
        let error =
            |code: u16, message: &str| wire::error_string(code, message, request.tracing_id);
        if !request.settings.auth.enabled {
            return Err(error(403, text::FEATURE_TOGGLE));
        }
        let claims = match self.verify_auth_jwt(state, request.jwt) {
            Ok(claims) => claims,
            Err(AuthJwtError::Expired) => return Err(error(401, text::AUTH_EXPIRED)),
            Err(AuthJwtError::Invalid(reason)) => {
                return Err(error(403, &format!("{}: {reason}.", text::AUTH_FAILED)))
            }
        };
        if claims.dep != request.deployment_id {
            return Err(error(
                403,
                &format!(
                    "{}: the token was issued for another deployment.",
                    text::AUTH_FAILED
                ),
            ));
        }
        let sub = claims.sub.as_str();
        let now = self.now_ms();
        let key: SessionKey = (request.deployment_id.to_owned(), request.token.to_owned());
        let user_current = user_session(state, request.deployment_id, sub, now);
        let at_key = state.sessions.get(&key).map(|session| {
            (
                session.authenticated,
                session.user.clone(),
                session.is_expired_at(now),
            )
        });
        match &at_key {
            Some((false, _, false)) if !request.start_new => {
                if !request.settings.auth.allow_session_upgrade {
                    return Err(error(403, text::FEATURE_TOGGLE));
                }
                return Ok(Some(self.step_up(state, &request, &key, sub, user_current)));
            }
            Some((true, Some(owner), _)) if owner != sub => {
                return Err(error(
                    403,
                    &format!(
                        "{}: the session token belongs to another user.",
                        text::AUTH_FAILED
                    ),
                ));
            }
            _ => {}
        }
        let at_key_is_current = matches!(&at_key, Some((true, Some(owner), false)) if owner == sub);
        let current = if at_key_is_current {
            Some(key.clone())
        } else {
            user_current
        };
        let mut cleared = false;
        let new_session = match current {
            Some(current) if !request.start_new => {
                if current != key {
                    // Resume from another token: move the session here; the old device goes.
                    let sockets = self
                        .retire_session(state, &key, None, true)
                        .map(|session| session.sockets)
                        .unwrap_or_default();
                    if let Some(mut session) =
                        self.retire_session(state, &current, Some("signedIn"), false)
                    {
                        session.token = request.token.to_owned();
                        session.sockets = sockets;
                        if let Some(conversation) =
                            state.conversations.get_mut(&session.conversation_id)
                        {
                            conversation.token = request.token.to_owned();
                            let conversation = conversation.clone();
                            self.persist_conversation(&conversation);
                        }
                        state.sessions.insert(key.clone(), session);
                    }
                }
                if let Some(session) = state.sessions.get_mut(&key) {
                    session.touch(now);
                }
                false
            }
            _ => {
                if let Some(current) = current.filter(|current| *current != key) {
                    self.retire_session(state, &current, Some("signedIn"), true);
                    cleared = true;
                }
                let sockets = self
                    .retire_session(state, &key, None, true)
                    .map(|session| session.sockets)
                    .unwrap_or_default();
                let mut session = self.new_session(
                    state,
                    request.deployment_id,
                    request.token,
                    request.settings.clone(),
                    Some(sub),
                );
                session.sockets = sockets;
                state.sessions.insert(key.clone(), session);
                true
            }
        };
        self.mark_authenticated(state, &key);
        self.attach_socket(state, request.socket_id, &key);
        let Some(session) = state.sessions.get(&key).cloned() else {
            return Ok(None);
        };
        self.persist_session(&session);
        let mut body = super::client::session_response(&session, true, new_session);
        body["clearedExistingSession"] = Value::from(cleared);
        tracing::info!(user = %sub, token = %session.token, new_session, cleared, "authenticated session configured");
        self.notify_console("session", Some(&session.conversation_id));
        Ok(Some(wire::envelope(
            "response",
            "SessionResponse",
            200,
            body,
            request.tracing_id,
        )))
    }

    /// Step-up: the live guest session at `key` becomes `sub`'s authenticated session. The
    /// user's other authenticated session (another device) is removed; a Presence SignIn
    /// event goes to every socket of the session, then the SessionResponse.
    fn step_up(
        &self,
        state: &mut HubState,
        request: &AuthConfigure<'_>,
        key: &SessionKey,
        sub: &str,
        user_current: Option<SessionKey>,
    ) -> String {
        let now = self.now_ms();
        let mut cleared = false;
        if let Some(other) = user_current.filter(|other| other != key) {
            self.retire_session(state, &other, Some("signedIn"), true);
            cleared = true;
        }
        if let Some(session) = state.sessions.get_mut(key) {
            session.authenticated = true;
            session.user = Some(sub.to_owned());
            session.touch(now);
        }
        self.mark_authenticated(state, key);
        self.attach_socket(state, request.socket_id, key);
        let Some(session) = state.sessions.get(key).cloned() else {
            return wire::error_string(4007, text::SESSION_NOT_FOUND, request.tracing_id);
        };
        self.persist_session(&session);
        if let Some(conversation) = state.conversations.get_mut(&session.conversation_id) {
            conversation.user = Some(sub.to_owned());
            let conversation = conversation.clone();
            self.persist_conversation(&conversation);
        }
        let stamp = self.stamp(state);
        let id = uuid::Uuid::new_v4().to_string();
        let (first_name, last_name) = demo_user(sub)
            .map_or((sub.to_owned(), String::new()), |user| {
                (user.given_name.to_owned(), user.family_name.to_owned())
            });
        let sign_in = json!({
            "id": id,
            "type": "Event",
            "direction": "Inbound",
            "channel": {"time": iso8601_millis(stamp), "messageId": id,
                        "from": {"firstName": first_name, "lastName": last_name}},
            "events": [{"eventType": "Presence", "presence": {"type": "SignIn"}}],
            "metadata": {"authenticated": "true"},
            "originatingEntity": "Human"
        });
        if let Err(error) = self.store.insert_message(&session, &id, stamp, &sign_in) {
            tracing::error!(%error, "failed to store the SignIn event");
        }
        self.fan_out(state, key, &wire::structured_message(&sign_in, None), None);
        let mut body = super::client::session_response(&session, true, false);
        body["clearedExistingSession"] = Value::from(cleared);
        tracing::info!(user = %sub, token = %session.token, cleared, "guest session stepped up");
        self.notify_console("session", Some(&session.conversation_id));
        wire::envelope("response", "SessionResponse", 200, body, request.tracing_id)
    }

    fn mark_authenticated(&self, state: &mut HubState, key: &SessionKey) {
        if state.authenticated_tokens.insert(key.clone()) {
            if let Err(error) = self.store.mark_token_authenticated(&key.0, &key.1) {
                tracing::error!(%error, "failed to remember an authenticated token");
            }
        }
    }

    /// Removes the session at `key` (its messages stay). With `close_reason`, its sockets get
    /// `ConnectionClosedEvent{reason}` and are closed; otherwise they are handed back in the
    /// returned session for the caller to rebind. `end_conversation` marks its conversation
    /// ended (it becomes an earlier conversation of the customer).
    fn retire_session(
        &self,
        state: &mut HubState,
        key: &SessionKey,
        close_reason: Option<&str>,
        end_conversation: bool,
    ) -> Option<Session> {
        let mut session = state.sessions.remove(key)?;
        if let Some(reason) = close_reason {
            let closed = wire::event("ConnectionClosedEvent", json!({"reason": reason}), None);
            for socket_id in std::mem::take(&mut session.sockets) {
                send_to(state, socket_id, Outgoing::Text(closed.clone()));
                send_to(
                    state,
                    socket_id,
                    Outgoing::Close(1000, "Signed in on another device".into()),
                );
                if let Some(socket) = state.sockets.get_mut(&socket_id) {
                    socket.session = None;
                }
            }
        }
        if let Err(error) = self.store.delete_session_row(&key.0, &key.1) {
            tracing::error!(%error, "failed to delete a replaced session");
        }
        if end_conversation {
            let now = self.now_ms();
            if let Some(conversation) = state.conversations.get_mut(&session.conversation_id) {
                if conversation.state != ConversationState::Ended {
                    conversation.state = ConversationState::Ended;
                    conversation.ended_ms = Some(now);
                }
                let conversation = conversation.clone();
                self.persist_conversation(&conversation);
            }
            self.notify_console("ended", Some(&session.conversation_id));
        }
        Some(session)
    }

    // ----- control API and console ---------------------------------------------------------

    /// Revokes `sub`'s refresh tokens (the next refresh answers 401). Returns how many.
    pub fn revoke_refresh_tokens(
        &self,
        sub: &str,
        deployment_id: Option<&str>,
    ) -> Result<usize, ControlError> {
        Ok(self.store.revoke_refresh_tokens(sub, deployment_id)?)
    }

    /// Makes every auth JWT issued until now (of `sub`, or of everyone) count as expired.
    pub fn expire_jwts(&self, sub: Option<&str>) {
        let now = self.now_ms();
        let mut state = self.lock();
        match sub {
            Some(sub) => {
                state
                    .user_jwts_expired_before_ms
                    .insert(sub.to_owned(), now);
            }
            None => state.jwts_expired_before_ms = Some(now),
        }
    }

    /// Marks a contact curated (messages kept per the deployment's `messageTtlDays`) or not
    /// (kept at most 15 days).
    pub fn set_curated(&self, sub: &str, curated: bool) -> Result<(), ControlError> {
        if sub.trim().is_empty() || sub.len() > 256 {
            return Err(ControlError::BadRequest(
                "sub must be 1-256 characters".into(),
            ));
        }
        Ok(self.store.set_curated(sub, curated)?)
    }

    /// Whether a contact is curated.
    pub fn is_curated(&self, sub: &str) -> Result<bool, ControlError> {
        Ok(self.store.is_curated(sub)?)
    }

    /// The signed-in customer's other conversations in the same deployment, oldest first, each
    /// `{conversationId, startedAt, endedAt, transcript}`; `None` when the conversation has no
    /// signed-in customer. Conversations whose messages are all gone are left out.
    pub fn earlier_conversations(
        &self,
        conversation_id: &str,
    ) -> Result<Option<Vec<Value>>, StoreError> {
        let mut earlier: Vec<(u64, String, Option<u64>)> = {
            let state = self.lock();
            let Some(current) = state.conversations.get(conversation_id) else {
                return Ok(None);
            };
            let Some(user) = current.user.clone() else {
                return Ok(None);
            };
            state
                .conversations
                .values()
                .filter(|other| {
                    other.id != current.id
                        && other.deployment_id == current.deployment_id
                        && other.user.as_deref() == Some(user.as_str())
                        && other.created_ms <= current.created_ms
                })
                .map(|other| (other.created_ms, other.id.clone(), other.ended_ms))
                .collect()
        };
        earlier.sort();
        let mut list = Vec::with_capacity(earlier.len());
        for (created, id, ended) in earlier {
            let transcript = self.store.transcript(&id)?;
            if transcript.is_empty() {
                continue;
            }
            list.push(json!({
                "conversationId": id,
                "startedAt": iso8601_millis(created),
                "endedAt": ended.map(iso8601_millis),
                "transcript": transcript,
            }));
        }
        Ok(Some(list))
    }
}

/// The user's live authenticated session in a deployment (the most recently active one).
fn user_session(state: &HubState, deployment_id: &str, sub: &str, now: u64) -> Option<SessionKey> {
    state
        .sessions
        .iter()
        .filter(|(key, session)| {
            key.0 == deployment_id
                && session.user.as_deref() == Some(sub)
                && !session.is_expired_at(now)
        })
        .max_by_key(|(_, session)| session.last_active_ms)
        .map(|(key, _)| key.clone())
}
