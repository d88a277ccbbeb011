//! Authenticated sessions, custom attributes and the date-picker answer, as stories in virtual
//! time (SPEC §3.2, §3.3, §5, §11; issue 5 §2). Scripted harness: the test plays the server.
//! Every story ends by proving that no credential ever reached storage.

use std::collections::BTreeMap;

use serde_json::Value;
use threadline_core::protocol::{
    ButtonResponseType, Content, EpochSeconds, FrameKind, HistoryPage, JwtResponse, MessageId, ServerFrame, SessionResponse,
};
use threadline_core::session::{
    AuthFailure, CloseReason, CommandError, ConnectionState, DeliveryStatus, EntryKind, Event, FailureReason, NoticeKind,
    SessionNotice, StorageWrite, UserError,
};

use crate::harness::*;

const MINUTE: u64 = 60_000;
const JWT: &str = "eyJ.alice-jwt-1.sig";
const JWT_2: &str = "eyJ.alice-jwt-2.sig";
const JWT_3: &str = "eyJ.alice-jwt-3.sig";
const REFRESH: &str = "refresh-alice-1";
const SECRETS: [&str; 5] = [JWT, JWT_2, JWT_3, REFRESH, "eyJ"];

fn configured_new_session() -> ServerFrame {
    session_response(true, false)
}

/// Signed in before opening, connected to a new authenticated session.
fn signed_in_connected() -> Harness {
    let mut harness = Harness::new();
    harness.sign_in(JWT, Some(REFRESH));
    harness.open();
    harness.accept();
    harness.reply(configured_new_session());
    assert_eq!(harness.state(), ConnectionState::Connected);
    harness
}

/// A guest connected to a new session, with the given configuration.
fn guest_connected(config: threadline_core::session::SessionConfig) -> Harness {
    let mut harness = Harness::with(config, Default::default(), None, 7);
    harness.open();
    harness.accept();
    harness.reply(configured_new_session());
    assert_eq!(harness.state(), ConnectionState::Connected);
    harness
}

fn configures(harness: &Harness) -> Vec<&Value> {
    harness.sent_actions("configureAuthenticatedSession")
}

fn auth_required(harness: &Harness) -> Vec<&AuthFailure> {
    harness
        .events
        .iter()
        .filter_map(|event| match event {
            Event::AuthorizationRequired { reason } => Some(reason),
            _ => None,
        })
        .collect()
}

fn error(code: u32, text: &str) -> String {
    ServerFrame::error(code.into(), text).to_json()
}

fn stored_token(harness: &Harness) -> String {
    harness.storage.token.as_ref().expect("a stored token").as_str().to_owned()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
}

/// The echo of our last `onMessage`, as the server sends it.
fn echo_last_message(harness: &mut Harness, id: &str) {
    let sent = harness.sent_actions("onMessage").last().copied().expect("a message was sent").clone();
    let tracing = sent["tracingId"].as_str().expect("tracing id").to_owned();
    let text = sent["message"]["text"].as_str().unwrap_or_default().to_owned();
    let echo = customer_message(id, &text, harness.now.0, Some(&tracing));
    harness.inject_frame(message_frame(echo, Some(&tracing)));
}

// ---------------------------------------------------------------------------------------------
// Sign in, resume, start new

#[test]
fn sign_in_configures_authenticated_with_the_jwt_on_a_fresh_token() {
    let mut harness = guest_connected(config());
    let guest_token = stored_token(&harness);
    harness.agent_message_from_server("guest chat");
    harness.sign_in(JWT, Some(REFRESH));

    // The guest socket and token are gone; a new socket is dialled on a new token.
    assert_eq!(harness.closes.len(), 1);
    assert_eq!(harness.connects.len(), 2);
    let fresh = stored_token(&harness);
    assert_ne!(fresh, guest_token);
    let token_writes: Vec<&StorageWrite> = harness.persist_log.iter().filter(|write| matches!(write, StorageWrite::Token(_))).collect();
    assert_eq!(token_writes[token_writes.len() - 2], &StorageWrite::Token(None), "guest token deleted first");
    assert!(harness.session.transcript().is_empty(), "the guest conversation is not the customer's");
    assert!(harness.session.is_signed_in());

    harness.accept();
    let configure = harness.last_sent().clone();
    assert_eq!(configure["action"], "configureAuthenticatedSession");
    assert_eq!(configure["token"], fresh.as_str());
    assert_eq!(configure["data"]["code"], JWT);
    assert_eq!(configure["startNew"], false);
    assert_eq!(configure["deploymentId"], DEPLOYMENT);
    harness.reply(configured_new_session());
    assert_eq!(harness.state(), ConnectionState::Connected);
    assert!(harness.violations.is_empty(), "{:?}", harness.violations);
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn sign_in_while_idle_waits_for_open() {
    let mut harness = Harness::new();
    harness.sign_in(JWT, Some(REFRESH));
    assert!(harness.connects.is_empty(), "signing in does not open the messenger");
    assert_eq!(harness.state(), ConnectionState::Idle);
    harness.open();
    harness.accept();
    assert_eq!(harness.last_sent()["action"], "configureAuthenticatedSession");
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn reload_signs_in_again_and_resumes_the_same_conversation() {
    let mut harness = signed_in_connected();
    let first_token = stored_token(&harness);
    let key = harness.send_text("where is my parcel?");
    let tracing = key.as_str().to_owned();
    assert_eq!(harness.storage.outbox.len(), 1, "unconfirmed send persisted");

    // Page reload: tokens were in memory only, the driver signs in again.
    harness.reload(config());
    assert!(!harness.session.is_signed_in());
    harness.sign_in(JWT_2, Some(REFRESH));
    harness.open();
    harness.accept();
    let configure = harness.last_sent().clone();
    assert_eq!(configure["action"], "configureAuthenticatedSession");
    assert_eq!(configure["startNew"], false, "resume");
    assert_eq!(configure["data"]["code"], JWT_2);
    assert_ne!(configure["token"], first_token.as_str(), "fresh thread token");

    // The server resumes the customer's conversation (by identity) and serves its history.
    harness.reply(session_response(false, false));
    assert_eq!(harness.last_sent()["action"], "getJwt", "resume fetches history first");
    let exp = EpochSeconds::from_unix_millis(harness.now.saturating_add_ms(60 * MINUTE));
    harness.reply(ServerFrame::new(FrameKind::Jwt(JwtResponse { jwt: "history-jwt".into(), exp })));
    assert_eq!(harness.fetches.len(), 1);
    let page = HistoryPage {
        entities: vec![
            agent_message("agent-1", "It ships today.", T0 + 2_000),
            customer_message("srv-1", "where is my parcel?", T0 + 1_000, Some(&tracing)),
        ],
        page_size: 25,
        page_number: 1,
        total: 2,
        page_count: 1,
    };
    harness.session.handle_history_page(page, harness.now);
    harness.pump();

    assert_eq!(harness.texts(), ["where is my parcel?", "It ships today."]);
    assert!(harness.session.outbox().is_empty(), "the server had it: not sent twice");
    assert!(harness.sent_actions("onMessage").len() == 1, "only the original send");
    assert_eq!(harness.entry(&key).expect("row").status, DeliveryStatus::Sent);
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn start_new_when_signed_in_closes_the_session_then_configures_start_new() {
    let mut harness = signed_in_connected();
    harness.agent_message_from_server("earlier conversation");
    assert_eq!(harness.texts(), ["earlier conversation"]);

    harness.session.start_new_conversation(harness.now).expect("allowed for a signed-in customer");
    harness.pump();
    assert_eq!(harness.last_sent()["action"], "closeSession");
    harness.reply(ServerFrame::from_json(&fixture("server.SessionResponse.afterCloseSession.json")).expect("fixture"));
    let configure = harness.last_sent().clone();
    assert_eq!(configure["action"], "configureAuthenticatedSession");
    assert_eq!(configure["startNew"], true);
    assert_eq!(configure["data"]["code"], JWT);
    harness.reply(configured_new_session());

    assert_eq!(harness.state(), ConnectionState::Connected);
    assert!(harness.session.transcript().is_empty(), "empty transcript for the new conversation");
    assert_eq!(harness.connects.len(), 1, "same socket");
    harness.assert_never_persisted(&SECRETS);
}

// ---------------------------------------------------------------------------------------------
// 401 → refresh, 403 → sign in again

#[test]
fn unauthorized_configure_refreshes_the_jwt_and_retries_on_the_same_socket() {
    let mut harness = Harness::new();
    harness.sign_in(JWT, Some(REFRESH));
    harness.open();
    harness.accept();
    harness.inject(&fixture("server.string.401.unauthorized.json"));

    assert_eq!(harness.refreshes, [REFRESH]);
    assert_eq!(configures(&harness).len(), 1, "waits for the refreshed JWT");
    assert!(auth_required(&harness).is_empty());
    // The refresh takes a while; nothing times out or reconnects meanwhile.
    harness.tick(5_000);
    assert_eq!(harness.connects.len(), 1);

    harness.session.handle_jwt_refreshed(JWT_2.to_owned(), None, harness.now);
    harness.pump();
    let retried = configures(&harness);
    assert_eq!(retried.len(), 2);
    assert_eq!(retried[1]["data"]["code"], JWT_2);
    harness.reply(configured_new_session());
    assert_eq!(harness.state(), ConnectionState::Connected);
    assert_eq!(harness.connects.len(), 1, "same socket throughout");
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn three_refused_configures_require_sign_in_and_keep_everything_typed() {
    let mut harness = Harness::new();
    harness.sign_in(JWT, Some(REFRESH));
    harness.open();
    let typed = harness.send_text("typed while connecting");
    harness.accept();
    harness.inject(&fixture("server.string.401.unauthorized.json"));
    harness.session.handle_jwt_refreshed(JWT_2.to_owned(), Some("refresh-rotated".into()), harness.now);
    harness.pump();
    harness.inject(&fixture("server.string.401.unauthorized.json"));
    assert_eq!(harness.refreshes, [REFRESH, "refresh-rotated"], "the rotated refresh token is used");
    harness.session.handle_jwt_refreshed(JWT_3.to_owned(), None, harness.now);
    harness.pump();
    harness.inject(&fixture("server.string.401.unauthorized.json"));

    assert_eq!(configures(&harness).len(), 3, "at most three attempts");
    assert_eq!(harness.refreshes.len(), 2);
    assert_eq!(auth_required(&harness), [&AuthFailure::Unauthorized]);
    assert!(matches!(harness.state(), ConnectionState::Error { code: 6001, .. }));
    assert!(harness.session.sign_in_required());
    assert_eq!(harness.closes.len(), 1, "socket closed");

    // Nothing typed is lost, and typing goes on while waiting.
    assert_eq!(harness.storage.outbox.len(), 1);
    let later = harness.send_text("typed while signed out");
    assert_eq!(harness.storage.outbox.len(), 2);
    harness.advance(10 * MINUTE);
    harness.open();
    assert_eq!(harness.connects.len(), 1, "no reconnect with refused tokens");
    assert_eq!(auth_required(&harness).len(), 2, "open reminds the UI");

    // Signing in again delivers both, in order.
    harness.sign_in("eyJ.alice-jwt-new.sig", Some(REFRESH));
    assert_eq!(harness.connects.len(), 2);
    harness.accept();
    assert_eq!(harness.last_sent()["data"]["code"], "eyJ.alice-jwt-new.sig");
    harness.reply(configured_new_session());
    let sent: Vec<&str> = harness.sent_actions("onMessage").iter().map(|frame| frame["message"]["text"].as_str().unwrap_or("")).collect();
    assert_eq!(sent, ["typed while connecting", "typed while signed out"]);
    assert_eq!(harness.entry(&typed).expect("row").status, DeliveryStatus::Sending);
    assert_eq!(harness.entry(&later).expect("row").status, DeliveryStatus::Sending);
    harness.assert_never_persisted(&SECRETS);
    harness.assert_never_persisted(&["refresh-rotated", "eyJ.alice-jwt-new.sig"]);
}

#[test]
fn refused_refresh_requires_sign_in() {
    let mut harness = Harness::new();
    harness.sign_in(JWT, Some(REFRESH));
    harness.open();
    harness.accept();
    harness.inject(&fixture("server.string.401.unauthorized.json"));
    harness.session.handle_refresh_failed(401, harness.now);
    harness.pump();
    assert_eq!(auth_required(&harness), [&AuthFailure::RefreshFailed { http_status: 401 }]);
    assert!(matches!(harness.state(), ConnectionState::Error { code: 6001, .. }));
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1);
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn refresh_lost_to_the_network_is_retried_through_a_reconnect() {
    let mut harness = Harness::new();
    harness.sign_in(JWT, Some(REFRESH));
    harness.open();
    harness.accept();
    harness.inject(&fixture("server.string.401.unauthorized.json"));
    harness.session.handle_refresh_failed(0, harness.now);
    harness.pump();
    assert!(auth_required(&harness).is_empty(), "a network error is not a refusal");
    assert!(matches!(harness.state(), ConnectionState::Reconnecting { .. }));

    harness.advance(1_500);
    assert_eq!(harness.connects.len(), 2, "reconnected after the first backoff (at most 1 s)");
    harness.accept();
    harness.inject(&fixture("server.string.401.unauthorized.json"));
    assert_eq!(harness.refreshes.len(), 2, "refresh asked again");
    harness.session.handle_jwt_refreshed(JWT_2.to_owned(), None, harness.now);
    harness.pump();
    harness.reply(configured_new_session());
    assert_eq!(harness.state(), ConnectionState::Connected);
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn implicit_sign_in_without_refresh_token_asks_to_sign_in_on_401() {
    let mut harness = Harness::new();
    harness.sign_in(JWT, None);
    harness.open();
    harness.accept();
    harness.inject(&fixture("server.string.401.unauthorized.json"));
    assert!(harness.refreshes.is_empty());
    assert_eq!(auth_required(&harness), [&AuthFailure::NoRefreshToken]);
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn authentication_failed_403_requires_sign_in_configured_or_configuring() {
    // Configured: the server revokes the authentication.
    let mut harness = signed_in_connected();
    let key = harness.send_text("unconfirmed");
    harness.inject(&fixture("server.string.403.sessionAuthFailed.json"));
    assert_eq!(auth_required(&harness), [&AuthFailure::Rejected { message: "Session authentication failed".into() }]);
    assert!(matches!(harness.state(), ConnectionState::Error { code: 6001, .. }));
    assert_eq!(harness.closes.len(), 1);
    assert!(harness.session.outbox().iter().any(|item| item.tracing_id.as_str() == key.as_str()), "outbox kept");
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1, "no reconnect");
    harness.assert_never_persisted(&SECRETS);

    // Configuring: the other wording.
    let mut harness = Harness::new();
    harness.sign_in(JWT, Some(REFRESH));
    harness.open();
    harness.accept();
    harness.inject(&error(403, "Try to authenticate again."));
    assert!(matches!(auth_required(&harness)[..], [AuthFailure::Rejected { .. }]));
    assert!(harness.refreshes.is_empty(), "403 is not refreshed");
    harness.assert_never_persisted(&SECRETS);
}

// ---------------------------------------------------------------------------------------------
// Logout, sign-out, signed in elsewhere, 4017

#[test]
fn logout_event_forgets_tokens_thread_token_transcript_and_outbox() {
    let mut harness = signed_in_connected();
    harness.agent_message_from_server("your order");
    harness.send_text("not confirmed yet");
    harness.inject(&fixture("server.LogoutEvent.json"));

    assert!(harness.events.contains(&Event::LoggedOut));
    assert_eq!(harness.persist_log.iter().filter(|write| **write == StorageWrite::Token(None)).count(), 1);
    assert_eq!(harness.storage.token, None);
    assert!(harness.storage.outbox.is_empty());
    assert!(harness.session.transcript().is_empty());
    assert!(harness.events.contains(&Event::TranscriptReset(Vec::new())));
    assert!(!harness.session.is_signed_in());
    assert_eq!(harness.state(), ConnectionState::Closed { reason: CloseReason::LoggedOut });
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1, "no reconnect");

    // The next open is a guest on a new token.
    harness.open();
    harness.accept();
    assert_eq!(harness.last_sent()["action"], "configureSession");
    assert!(harness.storage.token.is_some());
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn sign_out_revokes_then_forgets_everything() {
    let mut harness = signed_in_connected();
    harness.agent_message_from_server("your order");
    harness.send_text("not confirmed yet");
    harness.session.sign_out(harness.now);
    harness.pump();

    assert_eq!(harness.revokes, [(JWT.to_owned(), Some(REFRESH.to_owned()))]);
    assert_eq!(harness.closes.len(), 1);
    assert_eq!(harness.storage.token, None);
    assert!(harness.storage.outbox.is_empty());
    assert!(harness.session.transcript().is_empty());
    assert!(harness.events.contains(&Event::LoggedOut));
    assert_eq!(harness.state(), ConnectionState::Closed { reason: CloseReason::LoggedOut });
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1);

    // Signing out twice, or as a guest, does nothing.
    let outputs_before = harness.events.len();
    harness.session.sign_out(harness.now);
    harness.pump();
    assert_eq!(harness.revokes.len(), 1);
    assert_eq!(harness.events.len(), outputs_before);
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn signed_in_elsewhere_stops_without_reconnecting() {
    let mut harness = signed_in_connected();
    harness.inject(&fixture("server.ConnectionClosedEvent.signedIn.json"));
    assert!(harness.events.contains(&Event::ConnectionClosed { reason: CloseReason::SignedIn }));
    assert_eq!(harness.state(), ConnectionState::Closed { reason: CloseReason::SignedIn });
    assert_eq!(harness.storage.token, None, "thread token deleted");
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1, "no reconnect");
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn cannot_downgrade_4017_takes_a_new_token() {
    // A reload where the page opened before the driver had signed in again: the stored token
    // was authenticated, so a guest configure is refused.
    let mut harness = signed_in_connected();
    let authenticated_token = stored_token(&harness);
    harness.reload(config());
    harness.open();
    harness.accept();
    assert_eq!(harness.last_sent()["action"], "configureSession");
    assert_eq!(harness.last_sent()["token"], authenticated_token.as_str());
    harness.inject(&fixture("server.string.4017.cannotDowngrade.json"));
    assert_eq!(harness.storage.token, None, "current token forgotten");

    // The tokens arrive: signing in connects at once on a new token.
    harness.sign_in(JWT_2, Some(REFRESH));
    assert_eq!(harness.connects.len(), 3);
    harness.accept();
    let configure = harness.last_sent().clone();
    assert_eq!(configure["action"], "configureAuthenticatedSession");
    assert_ne!(configure["token"], authenticated_token.as_str());
    assert_eq!(configure["token"], stored_token(&harness).as_str());
    harness.assert_never_persisted(&SECRETS);
}

// ---------------------------------------------------------------------------------------------
// Step-up

#[test]
fn step_up_reuses_socket_and_token_and_reports_cleared_sessions_and_sign_in() {
    let mut upgradable = config();
    upgradable.allow_session_upgrade = true;
    let mut harness = guest_connected(upgradable);
    let guest_token = stored_token(&harness);
    harness.agent_message_from_server("hello guest");

    harness.sign_in(JWT, Some(REFRESH));
    assert_eq!(harness.connects.len(), 1, "same socket");
    assert!(harness.closes.is_empty());
    let configure = harness.last_sent().clone();
    assert_eq!(configure["action"], "configureAuthenticatedSession");
    assert_eq!(configure["token"], guest_token.as_str(), "same token");
    assert_eq!(configure["data"]["code"], JWT);
    assert_eq!(configure["startNew"], false);

    // The server announces the sign-in, then answers the configure.
    harness.inject(&fixture("server.StructuredMessage.presenceSignIn.json"));
    let mut response = ServerFrame::from_json(&fixture("server.SessionResponse.authenticatedStepUp.json")).expect("fixture");
    response.tracing_id = None;
    harness.reply(response);

    assert!(harness.events.contains(&Event::Notice(SessionNotice::ClearedExistingSession)));
    let notice = harness
        .session
        .transcript()
        .iter()
        .find(|entry| entry.kind == EntryKind::Notice(NoticeKind::SignedIn))
        .expect("a sign-in notice");
    assert_eq!(notice.display_name.as_deref(), Some("Anna Schmidt"));
    assert_eq!(stored_token(&harness), guest_token);
    assert!(harness.session.is_signed_in());
    assert!(harness.texts().contains(&"hello guest".to_owned()), "the conversation continues");
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn without_upgrade_permission_a_guest_sign_in_starts_over() {
    let mut harness = guest_connected(config());
    let guest_token = stored_token(&harness);
    harness.sign_in(JWT, Some(REFRESH));
    assert_eq!(harness.closes.len(), 1);
    harness.accept();
    assert_ne!(harness.last_sent()["token"], guest_token.as_str());
    harness.assert_never_persisted(&SECRETS);
}

#[test]
fn deployment_config_enables_the_upgrade_only_with_auth() {
    let deployment = |auth: &str| {
        threadline_core::protocol::DeploymentConfig::from_json(&format!(
            r#"{{"id":"d","version":"1","languages":["en"],"defaultLanguage":"en","apiEndpoint":"https://api.x","status":"Active","auth":{auth}}}"#
        ))
        .expect("config")
    };
    let upgrade = |auth: &str| {
        threadline_core::session::SessionConfig::from_deployment(DEPLOYMENT.into(), WS_URL, &deployment(auth)).allow_session_upgrade
    };
    assert!(upgrade(r#"{"enabled":true,"allowSessionUpgrade":true}"#));
    assert!(!upgrade(r#"{"enabled":false,"allowSessionUpgrade":true}"#));
    assert!(!upgrade(r#"{"enabled":true}"#));
}

// ---------------------------------------------------------------------------------------------
// Custom attributes and the date picker

fn attributes_of(frame: &Value) -> &Value {
    &frame["message"]["channel"]["metadata"]["customAttributes"]
}

fn connected_with_budget(max: u64) -> Harness {
    let mut harness = Harness::new();
    harness.open();
    harness.accept();
    let mut response = SessionResponse::connected(true);
    response.max_custom_data_bytes = Some(max);
    harness.reply(ServerFrame::new(FrameKind::SessionResponse(response)));
    harness
}

#[test]
fn custom_attributes_go_once_and_again_only_after_a_change() {
    let mut harness = connected_with_budget(40);
    harness.session.set_custom_attributes(map(&[("plan", "gold")]), harness.now).expect("within budget");
    harness.send_text("one");
    assert_eq!(attributes_of(harness.last_sent()), &serde_json::json!({"plan": "gold"}));
    echo_last_message(&mut harness, "srv-1");
    harness.send_text("two");
    assert!(attributes_of(harness.last_sent()).is_null(), "unchanged: not sent again");
    echo_last_message(&mut harness, "srv-2");

    harness.session.set_custom_attributes(map(&[("plan", "platinum")]), harness.now).expect("within budget");
    harness.send_text("three");
    assert_eq!(attributes_of(harness.last_sent()), &serde_json::json!({"plan": "platinum"}));

    // Over budget (UTF-8 bytes of keys and values): refused locally, the old ones stay.
    let too_big = map(&[("note", "ü".repeat(20).as_str())]);
    assert_eq!(
        harness.session.set_custom_attributes(too_big, harness.now),
        Err(CommandError::CustomAttributesTooLarge { size: 44, max: 40 })
    );
    assert_eq!(harness.session.custom_attributes(), &map(&[("plan", "platinum")]));
}

#[test]
fn custom_attributes_lost_with_the_socket_are_sent_again() {
    let mut harness = connected_with_budget(100);
    harness.session.set_custom_attributes(map(&[("plan", "gold")]), harness.now).expect("within budget");
    harness.send_text("one");
    harness.drop_socket();
    harness.advance(1_500);
    harness.accept();
    harness.reply(session_response(true, false));
    let resent = harness.sent_actions("onMessage").last().copied().expect("re-sent").clone();
    assert_eq!(resent["message"]["text"], "one");
    assert_eq!(attributes_of(&resent), &serde_json::json!({"plan": "gold"}));
}

#[test]
fn autostart_join_carries_custom_attributes_set_before_connecting() {
    let mut auto = config();
    auto.auto_start = true;
    let mut harness = Harness::with(auto, Default::default(), None, 5);
    harness.session.set_custom_attributes(map(&[("source", "pricing-page")]), harness.now).expect("no budget yet");
    harness.open();
    harness.accept();
    harness.reply(configured_new_session());
    let join = harness.last_sent().clone();
    assert_eq!(join["message"]["events"][0]["presence"]["type"], "Join");
    assert_eq!(attributes_of(&join), &serde_json::json!({"source": "pricing-page"}));
}

#[test]
fn error_4013_fails_the_message_and_discards_the_attributes() {
    let mut harness = connected_with_budget(2048);
    harness.session.set_custom_attributes(map(&[("plan", "gold")]), harness.now).expect("within budget");
    let key = harness.send_text("one");
    harness.inject(&fixture("server.string.4013.customAttributesTooLarge.json"));

    assert_eq!(
        harness.entry(&key).expect("row").status,
        DeliveryStatus::Failed { reason: FailureReason::CustomAttributesTooLarge }
    );
    assert!(harness.events.contains(&Event::Error(UserError::CustomAttributesTooLarge)));
    assert!(harness.session.custom_attributes().is_empty(), "discarded");

    harness.session.retry_message(&key, harness.now).expect("failed, so retryable");
    harness.pump();
    assert_eq!(harness.last_sent()["message"]["text"], "one");
    assert!(attributes_of(harness.last_sent()).is_null(), "retried without attributes");
    harness.send_text("two");
    assert!(attributes_of(harness.last_sent()).is_null());
}

#[test]
fn attributes_too_large_for_the_budget_learnt_later_are_dropped() {
    let mut harness = Harness::new();
    harness.session.set_custom_attributes(map(&[("k", "a long value")]), harness.now).expect("no budget yet");
    harness.open();
    harness.accept();
    let mut response = SessionResponse::connected(true);
    response.max_custom_data_bytes = Some(5);
    harness.reply(ServerFrame::new(FrameKind::SessionResponse(response)));
    assert!(harness.events.contains(&Event::Error(UserError::CustomAttributesTooLarge)));
    harness.send_text("hello");
    assert!(attributes_of(harness.last_sent()).is_null());
}

#[test]
fn date_picker_answer_sends_the_chosen_slot() {
    let mut harness = connected_with_budget(100);
    let slot = "2026-05-05T10:30:00.000Z";
    let key = harness
        .session
        .send_date_picker_answer(slot.to_owned(), Some(MessageId::from("picker-1")), harness.now)
        .expect("valid date-time");
    harness.pump();
    let frame = harness.last_sent().clone();
    assert_eq!(frame["message"]["type"], "Text");
    assert_eq!(frame["message"]["text"], "");
    let response = &frame["message"]["content"][0]["buttonResponse"];
    assert_eq!(response["type"], "DatePicker");
    assert_eq!(response["payload"], slot);
    assert_eq!(response["originatingMessageId"], "picker-1");
    let row = harness.entry(&key).expect("row");
    assert_eq!(row.text, slot);
    // Before the echo the local row already says what it answers (the view, another tab and a
    // reload read it from there; the app used to keep its own list of answer keys for this).
    match row.content.as_slice() {
        [Content::ButtonResponse(local)] => {
            assert_eq!((local.button_type.clone(), local.payload.as_str()), (ButtonResponseType::DatePicker, slot));
            assert_eq!(local.originating_message_id, Some(MessageId::from("picker-1")));
        }
        other => panic!("local date answer content: {other:?}"),
    }

    assert_eq!(
        harness.session.send_date_picker_answer("tomorrow".into(), None, harness.now),
        Err(CommandError::InvalidDateTime("tomorrow".into()))
    );
}

#[test]
fn every_server_fixture_in_every_authenticated_state_never_panics_or_leaks() {
    let mut frames = server_fixtures();
    frames.extend(["", "{", "null", "{\"class\":\"string\",\"code\":401}"].map(String::from));
    for frame in &frames {
        // Configuring, configured, waiting for a refreshed JWT, stepping up.
        for setup in 0..4 {
            let mut harness = if setup == 3 {
                let mut upgradable = config();
                upgradable.allow_session_upgrade = true;
                let mut harness = guest_connected(upgradable);
                harness.sign_in(JWT, Some(REFRESH));
                harness
            } else {
                let mut harness = Harness::new();
                harness.sign_in(JWT, Some(REFRESH));
                harness.open();
                harness.accept();
                harness
            };
            match setup {
                1 => harness.reply(configured_new_session()),
                2 => harness.inject(&fixture("server.string.401.unauthorized.json")),
                _ => {}
            }
            harness.inject(frame);
            harness.session.handle_jwt_refreshed(JWT_2.to_owned(), None, harness.now);
            harness.pump();
            harness.advance(2 * MINUTE);
            assert!(harness.violations.is_empty(), "{frame}: {:?}", harness.violations);
            harness.assert_never_persisted(&SECRETS);
        }
    }
}

#[test]
fn a_history_page_arriving_after_logout_is_never_shown() {
    let mut harness = Harness::new();
    harness.sign_in(JWT, Some(REFRESH));
    harness.open();
    harness.accept();
    harness.reply(session_response(false, false));
    let exp = EpochSeconds::from_unix_millis(harness.now.saturating_add_ms(60 * MINUTE));
    harness.reply(ServerFrame::new(FrameKind::Jwt(JwtResponse { jwt: "history-jwt".into(), exp })));
    assert_eq!(harness.fetches.len(), 1, "history page 1 requested");

    harness.inject(&fixture("server.LogoutEvent.json"));
    let page = HistoryPage {
        entities: vec![agent_message("agent-1", "private to the signed-in customer", T0)],
        page_size: 25,
        page_number: 1,
        total: 1,
        page_count: 1,
    };
    harness.session.handle_history_page(page, harness.now);
    harness.pump();
    assert!(harness.session.transcript().is_empty(), "{:?}", harness.texts());
    assert!(!harness.events.iter().any(|event| matches!(event, Event::EntryUpserted(_))));
    harness.assert_never_persisted(&SECRETS);
}
