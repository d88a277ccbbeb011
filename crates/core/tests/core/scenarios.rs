//! The session engine as stories in virtual time. Each test reads as: set up, act, advance the
//! clock, assert what the engine sent and told the UI.

use serde_json::json;
use threadline_core::protocol::{
    Channel, Direction as WireDirection, Event as WireEvent, FrameKind, Message, MessageId, PresenceType, ServerFrame,
    TooManyRequests, Typing, TypingType,
};
use threadline_core::session::{
    CloseReason, CommandError, ConnectionState, DeliveryStatus, EntryKind, Event, FailureReason, NoticeKind, Persisted,
    UserError, HISTORY_PAGE_SIZE,
};
use threadline_core::time::UnixMillis;

use crate::harness::*;

const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;

/// A simulated harness with a configured new session.
fn connected() -> Harness {
    let mut harness = Harness::simulated();
    harness.open();
    harness.settle();
    assert_eq!(harness.state(), ConnectionState::Connected);
    harness
}

fn token(harness: &Harness) -> String {
    harness.session.token().expect("token").as_str().to_owned()
}

fn count<F: Fn(&Event) -> bool>(events: &[Event], predicate: F) -> usize {
    events.iter().filter(|event| predicate(event)).count()
}

// ---------------------------------------------------------------------------------------------
// Rule 1: configure and resume

#[test]
fn first_open_mints_persists_and_configures_with_a_token() {
    let mut harness = Harness::new();
    assert_eq!(harness.state(), ConnectionState::Idle);
    harness.open();
    assert_eq!(harness.connects.len(), 1);
    let token = harness.storage.token.clone().expect("token persisted before connecting");
    assert_eq!(harness.state(), ConnectionState::Connecting);
    harness.accept();
    let configure = harness.last_sent();
    assert_eq!(configure["action"], "configureSession");
    assert_eq!(configure["token"], token.as_str());
    assert_eq!(configure["deploymentId"], DEPLOYMENT);
    assert_eq!(configure["startNew"], false);
}

#[test]
fn persisted_token_is_reused() {
    let persisted = Persisted { token: Some("stored-token".into()), outbox: Vec::new() };
    let mut harness = Harness::with(config(), persisted, None, 3);
    harness.open();
    harness.accept();
    assert_eq!(harness.last_sent()["token"], "stored-token");
    assert!(harness.storage.token.as_ref().is_some_and(|token| token.as_str() == "stored-token"));
}

#[test]
fn resumed_session_fetches_history_with_a_cached_jwt() {
    let mut harness = Harness::new();
    harness.open();
    harness.accept();
    harness.inject_frame(session_response(false, false));
    let get_jwt = harness.last_sent().clone();
    assert_eq!(get_jwt["action"], "getJwt");
    let exp = harness.now.as_secs() + 3600;
    harness.inject(&json!({"type":"response","class":"JwtResponse","code":200,
        "body":{"jwt":"jwt-1","exp":exp},"tracingId":get_jwt["tracingId"]}).to_string());
    assert_eq!(harness.fetches, [(1, HISTORY_PAGE_SIZE, "jwt-1".to_owned())]);

    let page = threadline_core::protocol::HistoryPage {
        entities: vec![
            agent_message("m3", "third", T0 - 1_000),
            customer_message("m2", "second", T0 - 2_000, None),
            agent_message("m1", "first", T0 - 3_000),
        ],
        page_size: 3,
        page_number: 1,
        total: 6,
        page_count: 2,
    };
    harness.session.handle_history_page(page, harness.now);
    harness.pump();
    assert_eq!(harness.texts(), ["first", "second", "third"]);
    assert!(harness.events.contains(&Event::OlderAvailable(true)));

    // The JWT is still good: the older page needs no new getJwt.
    let jwt_requests = harness.sent_actions("getJwt").len();
    harness.session.load_older(harness.now).expect("older page available");
    harness.pump();
    assert_eq!(harness.sent_actions("getJwt").len(), jwt_requests);
    assert_eq!(harness.fetches.last(), Some(&(2, HISTORY_PAGE_SIZE, "jwt-1".to_owned())));
}

#[test]
fn autostart_joins_once_per_new_session_only() {
    let mut autostart = config();
    autostart.auto_start = true;
    let mut harness = Harness::with(autostart.clone(), Persisted::default(), None, 1);
    harness.open();
    harness.accept();
    harness.inject_frame(session_response(true, false));
    let joins = harness.sent.iter().filter(|frame| frame["message"]["events"][0]["presence"]["type"] == "Join").count();
    assert_eq!(joins, 1);

    // Resumed session: no Join.
    let mut resumed = Harness::with(autostart.clone(), Persisted::default(), None, 2);
    resumed.open();
    resumed.accept();
    resumed.inject_frame(session_response(false, false));
    assert!(resumed.sent.iter().all(|frame| frame["message"]["events"][0]["presence"]["type"] != "Join"));

    // The server already auto-started it.
    let mut already = Harness::with(autostart, Persisted::default(), None, 4);
    already.open();
    already.accept();
    already.inject(&json!({"type":"response","class":"SessionResponse","code":200,
        "body":{"connected":true,"newSession":true,"autoStarted":true}}).to_string());
    assert!(already.sent.iter().all(|frame| frame["message"]["events"][0]["presence"]["type"] != "Join"));
}

#[test]
fn read_only_blocks_sending_and_start_new_runs_on_the_same_socket() {
    let mut harness = connected();
    harness.send_text("before");
    let token = token(&harness);
    // The agent ends the conversation read-only.
    harness.server.as_mut().expect("server").sessions.get_mut(&token).expect("session").read_only = true;
    let mut disconnect = Message::event(WireEvent::presence(PresenceType::Disconnect));
    disconnect.id = Some(MessageId::from("disc-1"));
    disconnect.direction = Some(WireDirection::Outbound);
    disconnect.channel = Some(Channel { time: Some(iso(harness.now.0 + 5)), ..Channel::default() });
    disconnect.metadata.insert("readOnly".into(), "true".into());
    harness.inject_frame(message_frame(disconnect, None));

    assert_eq!(harness.state(), ConnectionState::ReadOnly);
    assert!(harness.events.contains(&Event::ReadOnly));
    let notice = harness.session.transcript().last().expect("notice");
    assert_eq!(notice.kind, EntryKind::Notice(NoticeKind::ConversationEnded));
    assert_eq!(harness.session.send_text("after".into(), harness.now), Err(CommandError::ReadOnly));

    let sockets = harness.connects.len();
    harness.session.start_new_conversation(harness.now).expect("allowed in read-only");
    harness.pump();
    harness.settle();
    let configures = harness.sent_actions("configureSession");
    assert_eq!(harness.sent_actions("closeSession").len(), 1);
    assert_eq!(configures.last().expect("configure")["startNew"], true);
    assert_eq!(harness.connects.len(), sockets, "same socket");
    assert_eq!(harness.state(), ConnectionState::Connected);
    assert!(harness.session.transcript().is_empty(), "old conversation wiped");
    harness.send_text("fresh start");
    assert_eq!(harness.texts(), ["fresh start"]);
    assert!(harness.violations.is_empty(), "{:?}", harness.violations);
}

#[test]
fn start_new_is_refused_unless_read_only() {
    let mut harness = connected();
    assert_eq!(harness.session.start_new_conversation(harness.now), Err(CommandError::NotReadOnly));
}

#[test]
fn signed_in_elsewhere_forgets_the_token_and_does_not_reconnect() {
    let mut harness = connected();
    let old = token(&harness);
    harness.inject(&fixture("server.ConnectionClosedEvent.signedIn.json"));
    assert_eq!(harness.state(), ConnectionState::Closed { reason: CloseReason::SignedIn });
    assert_eq!(harness.storage.token, None);
    assert!(harness.events.contains(&Event::ConnectionClosed { reason: CloseReason::SignedIn }));
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1);
    harness.open();
    harness.settle();
    assert_ne!(token(&harness), old, "a new token after signedIn");
}

#[test]
fn logout_event_forgets_the_token() {
    let mut harness = connected();
    harness.inject(&fixture("server.LogoutEvent.json"));
    assert!(harness.events.contains(&Event::LoggedOut));
    assert_eq!(harness.storage.token, None);
    assert_eq!(harness.state(), ConnectionState::Closed { reason: CloseReason::LoggedOut });
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1);
}

#[test]
fn session_limit_close_reports_reason_code() {
    let mut harness = connected();
    harness.inject(&fixture("server.ConnectionClosedEvent.reasonCode.json"));
    assert_eq!(harness.state(), ConnectionState::Closed { reason: CloseReason::SessionLimitReached });
    assert!(harness.session.token().is_some(), "token kept");
}

// ---------------------------------------------------------------------------------------------
// Error codes (SPEC §5)

#[test]
fn error_4006_expires_and_stops() {
    let mut harness = Harness::new();
    harness.open();
    harness.accept();
    harness.inject(&fixture("server.string.4006.sessionExpired.json"));
    assert_eq!(harness.state(), ConnectionState::Expired);
    assert!(harness.events.contains(&Event::Expired));
    assert_eq!(harness.storage.token, None);
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1, "no reconnect after 4006");
}

#[test]
fn error_4007_is_terminal_and_drops_the_token() {
    let mut harness = Harness::new();
    harness.open();
    harness.accept();
    harness.inject(&fixture("server.string.4007.sessionNotFound.json"));
    assert!(matches!(harness.state(), ConnectionState::Error { code: 4007, .. }));
    assert_eq!(harness.storage.token, None);
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1);
}

#[test]
fn error_4017_drops_the_token_and_the_next_open_uses_a_new_one() {
    let mut harness = Harness::new();
    harness.open();
    let first = harness.storage.token.clone();
    harness.accept();
    harness.inject(&fixture("server.string.4017.cannotDowngrade.json"));
    assert!(matches!(harness.state(), ConnectionState::Error { code: 4017, .. }));
    assert_eq!(harness.storage.token, None);
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1);
    harness.open();
    assert_eq!(harness.connects.len(), 2);
    assert!(harness.storage.token.is_some());
    assert_ne!(harness.storage.token, first);
}

#[test]
fn errors_401_and_403_while_configuring_are_terminal() {
    for name in ["server.string.401.unauthorized.json", "server.string.403.featureToggle.json"] {
        let mut harness = Harness::new();
        harness.open();
        harness.accept();
        harness.inject(&fixture(name));
        assert!(matches!(harness.state(), ConnectionState::Error { code: 401 | 403, .. }), "{name}");
        assert!(harness.session.token().is_some(), "{name}: token kept");
        harness.advance(10 * MINUTE);
        assert_eq!(harness.connects.len(), 1, "{name}: no reconnect");
    }
}

#[test]
fn errors_403_once_configured_are_reported_not_fatal() {
    let mut harness = connected();
    harness.inject(&fixture("server.string.403.featureToggle.json"));
    harness.inject(&fixture("server.string.403.sessionAuthFailed.json"));
    harness.inject(&fixture("server.string.403.clearConversationNotSupported.json"));
    assert_eq!(harness.state(), ConnectionState::Connected);
    let errors: Vec<&UserError> = harness.events.iter().filter_map(|event| match event {
        Event::Error(error) => Some(error),
        _ => None,
    }).collect();
    assert!(matches!(errors[0], UserError::Forbidden { .. }));
    assert_eq!(errors[1], &UserError::AuthorizationRequired);
    assert_eq!(errors[2], &UserError::ClearConversationFailed);
}

#[test]
fn message_too_long_fails_the_oldest_send_without_tracing_id() {
    let mut harness = Harness::new();
    harness.connect_new_session(None);
    let key = harness.send_text("a very long message");
    harness.inject(&fixture("server.string.4011.messageTooLong.json"));
    let entry = harness.entry(&key).expect("entry");
    assert_eq!(entry.status, DeliveryStatus::Failed { reason: FailureReason::MessageTooLong });
    assert!(harness.events.contains(&Event::Error(UserError::MessageTooLong { key: Some(key.clone()) })));
    assert_eq!(harness.storage.outbox.len(), 1, "failed message kept for retry");

    harness.session.retry_message(&key, harness.now).expect("retry a failed message");
    harness.pump();
    assert_eq!(harness.sent_actions("onMessage").len(), 2);
    assert_eq!(harness.entry(&key).expect("entry").status, DeliveryStatus::Sending);
}

#[test]
fn rate_limited_send_is_retried_after_retry_after() {
    let mut harness = Harness::new();
    harness.connect_new_session(None);
    let key = harness.send_text("hello");
    let tracing = harness.last_sent()["tracingId"].as_str().expect("tracing id").to_owned();
    let body = TooManyRequests { retry_after: Some(3), error_code: Some(4029u32.into()), error_message: None };
    harness.inject_frame(ServerFrame::new(FrameKind::TooManyRequests(body)).with_tracing_id(Some(tracing.as_str().into())));
    assert!(harness.events.contains(&Event::Error(UserError::RateLimited { retry_after_secs: 3 })));
    assert_eq!(harness.entry(&key).expect("entry").status, DeliveryStatus::Queued);
    harness.advance(2_900);
    assert_eq!(harness.sent_actions("onMessage").len(), 1);
    harness.advance(200);
    let sends = harness.sent_actions("onMessage");
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[1]["tracingId"], tracing.as_str(), "same tracing id on retry");
}

// ---------------------------------------------------------------------------------------------
// Rule 2: keep-alive

#[test]
fn keep_alive_echoes_every_interval_and_never_faster_than_the_cooldown() {
    let mut harness = connected();
    harness.advance(10 * MINUTE);
    // The user reopens the messenger twice quickly: both ask for an echo.
    harness.open();
    harness.open();
    harness.advance(MINUTE);
    let echoes = harness.sent_times_of("echo");
    assert!(echoes.len() >= 13, "about one per 45 s: {}", echoes.len());
    for pair in echoes.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= 30 * SECOND, "echoes {gap} ms apart");
        assert!(gap <= 60 * SECOND, "echoes {gap} ms apart");
    }
    assert_eq!(harness.connects.len(), 1, "a healthy link is never replaced");
    assert!(harness.session.transcript().is_empty(), "echoes never reach the transcript");
}

#[test]
fn a_link_silent_for_two_intervals_is_dead_and_replaced() {
    let mut harness = connected();
    let last_frame = harness.now;
    harness.server.as_mut().expect("server").responsive = false;
    harness.advance(89 * SECOND);
    assert!(harness.closes.is_empty());
    harness.advance(2 * SECOND);
    assert_eq!(harness.closes.len(), 1, "closed after two silent intervals");
    assert_eq!(harness.sent_times_of("echo"), [last_frame.saturating_add_ms(45 * SECOND)]);
    // The retry may reach the still-silent server; its configure then times out and the
    // engine tries again. Either way it ends connected, one socket at a time.
    harness.server.as_mut().expect("server").responsive = true;
    harness.advance(MINUTE);
    assert!(harness.connects.len() >= 2);
    assert_eq!(harness.state(), ConnectionState::Connected);
    assert!(harness.violations.is_empty(), "{:?}", harness.violations);
}

// ---------------------------------------------------------------------------------------------
// Rule 3: reconnect

#[test]
fn backoff_first_within_a_second_capped_at_thirty_offline_after_five_minutes() {
    let mut harness = Harness::simulated();
    harness.server.as_mut().expect("server").accepting = false;
    harness.open();
    harness.run_until(UnixMillis(T0 + 10 * MINUTE));
    let connects = &harness.connects;
    assert!(connects.len() >= 10, "kept retrying: {}", connects.len());
    let gaps: Vec<u64> = connects.windows(2).map(|pair| pair[1].0 - pair[0].0).collect();
    assert!(gaps[0] <= SECOND, "first retry within 1 s: {}", gaps[0]);
    for (attempt, gap) in gaps.iter().enumerate() {
        let ceiling = (SECOND << attempt.min(10)).min(30 * SECOND);
        assert!(*gap <= ceiling, "retry {attempt} after {gap} ms > {ceiling}");
    }
    let last = connects.last().expect("connects").0;
    assert!(last <= T0 + 5 * MINUTE, "no attempt after the 5-minute window");
    assert_eq!(harness.state(), ConnectionState::Offline);
    assert!(harness.states.iter().any(|(_, state)| matches!(state, ConnectionState::Reconnecting { .. })));

    // Coming back online restarts at once.
    let before = harness.connects.len();
    harness.server.as_mut().expect("server").accepting = true;
    harness.session.handle_network(true, harness.now);
    harness.pump();
    assert_eq!(harness.connects.len(), before + 1);
    assert_eq!(*harness.connects.last().expect("connect"), harness.now);
    harness.settle();
    assert_eq!(harness.state(), ConnectionState::Connected);
    assert!(harness.violations.is_empty(), "{:?}", harness.violations);
}

#[test]
fn offline_is_left_by_a_user_send_or_retry() {
    let mut harness = Harness::simulated();
    harness.server.as_mut().expect("server").accepting = false;
    harness.open();
    harness.advance(6 * MINUTE);
    assert_eq!(harness.state(), ConnectionState::Offline);
    harness.server.as_mut().expect("server").accepting = true;
    let key = harness.send_text("are you there?");
    harness.settle();
    assert_eq!(harness.state(), ConnectionState::Connected);
    assert_eq!(harness.entry(&key).expect("entry").status, DeliveryStatus::Sent);

    harness.server.as_mut().expect("server").accepting = false;
    harness.drop_socket();
    harness.advance(6 * MINUTE);
    assert_eq!(harness.state(), ConnectionState::Offline);
    harness.server.as_mut().expect("server").accepting = true;
    harness.session.retry_connection(harness.now);
    harness.pump();
    harness.settle();
    assert_eq!(harness.state(), ConnectionState::Connected);
}

#[test]
fn becoming_visible_or_online_reconnects_at_once() {
    let mut harness = connected();
    harness.server.as_mut().expect("server").accepting = false;
    harness.drop_socket();
    harness.advance(20 * SECOND);
    harness.server.as_mut().expect("server").accepting = true;
    let before = harness.connects.len();
    harness.session.handle_visibility(true, harness.now);
    harness.pump();
    assert_eq!(harness.connects.len(), before + 1);
    assert_eq!(*harness.connects.last().expect("connect"), harness.now);
    harness.settle();
    assert_eq!(harness.state(), ConnectionState::Connected);
}

#[test]
fn clean_server_close_is_not_retried() {
    let mut harness = connected();
    harness.socket = Socket::None;
    harness.session.handle_socket_closed(1000, "bye", true, harness.now);
    harness.pump();
    assert_eq!(harness.state(), ConnectionState::Closed { reason: CloseReason::ServerClosed });
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), 1);
}

#[test]
fn never_two_sockets_even_when_asked_repeatedly() {
    let mut harness = Harness::new();
    harness.open();
    harness.open();
    harness.session.retry_connection(harness.now);
    harness.session.handle_network(true, harness.now);
    harness.session.handle_visibility(true, harness.now);
    harness.pump();
    assert_eq!(harness.connects.len(), 1);
    // A socket error before open: the engine closes it before any retry.
    harness.session.handle_socket_error(harness.now);
    harness.pump();
    assert_eq!(harness.socket, Socket::None);
    // The browser's close for the abandoned socket arrives late: ignored.
    harness.session.handle_socket_closed(1006, "", false, harness.now);
    harness.pump();
    harness.advance(2 * SECOND);
    assert_eq!(harness.connects.len(), 2, "exactly one retry");
    assert!(harness.violations.is_empty(), "{:?}", harness.violations);
}

#[test]
fn reconnect_after_three_second_outage_resumes_same_token_without_duplicates() {
    let mut harness = connected();
    let token_before = token(&harness);
    harness.send_text("hello");
    harness.agent_says("hi, how can I help?");
    harness.server.as_mut().expect("server").accepting = false;
    harness.drop_socket();
    assert!(matches!(harness.state(), ConnectionState::Reconnecting { .. }));
    harness.advance(3 * SECOND);
    harness.server.as_mut().expect("server").accepting = true;
    harness.advance(MINUTE);
    assert_eq!(harness.state(), ConnectionState::Connected);
    let configures = harness.sent_actions("configureSession");
    assert!(configures.len() >= 2);
    assert!(configures.iter().all(|frame| frame["token"] == token_before.as_str()));
    assert_eq!(harness.texts(), ["hello", "hi, how can I help?"]);
    assert_eq!(harness.server.as_ref().expect("server").accepted.len(), 1);
    assert!(harness.fetches.iter().any(|(page, _, _)| *page == 1), "history re-fetched");
    assert!(harness.violations.is_empty(), "{:?}", harness.violations);
}

// ---------------------------------------------------------------------------------------------
// Rule 4: session TTL

fn connected_with_ttl(duration_secs: u64) -> Harness {
    let mut harness = Harness::simulated();
    harness.server.as_mut().expect("server").duration_secs = duration_secs;
    harness.open();
    harness.settle();
    harness
}

#[test]
fn expiry_notice_fires_once_five_minutes_before_and_activity_cancels_it() {
    let mut harness = connected_with_ttl(3_600);
    let expires_at = UnixMillis(T0 + 3_600 * SECOND);
    assert!(harness.events.contains(&Event::ExpiryKnown { expires_at, duration_secs: 3_600 }));
    harness.run_until(expires_at.saturating_sub_ms(5 * MINUTE + 1));
    assert_eq!(count(&harness.events, |event| matches!(event, Event::ExpiringSoon { .. })), 0);
    harness.run_until(expires_at.saturating_sub_ms(5 * MINUTE));
    assert_eq!(count(&harness.events, |event| matches!(event, Event::ExpiringSoon { .. })), 1);
    assert!(harness.events.contains(&Event::ExpiringSoon { expires_at }));
    // The verifying echo went out about 10 s before the notice.
    let precheck = expires_at.saturating_sub_ms(5 * MINUTE + 10 * SECOND);
    assert!(harness.sent_times_of("echo").iter().any(|at| at.0.abs_diff(precheck.0) <= 30 * SECOND));
    harness.advance(MINUTE);
    assert_eq!(count(&harness.events, |event| matches!(event, Event::ExpiringSoon { .. })), 1, "only once");

    harness.send_text("still here");
    assert!(harness.events.contains(&Event::ExpiringCancelled));
    assert!(!harness.session.expiring_soon());
    let new_expiry = harness.session.expires_at().expect("expiry");
    assert!(new_expiry.0 >= harness.now.0 + 3_599 * SECOND);
    harness.run_until(expires_at.saturating_add_ms(10 * MINUTE));
    assert_ne!(harness.state(), ConnectionState::Expired, "activity extended the session");
}

#[test]
fn expiry_clears_everything_and_the_next_open_uses_a_new_token() {
    let mut harness = connected_with_ttl(1_800);
    harness.send_text("hello");
    let old = token(&harness);
    harness.take_events();
    harness.advance(31 * MINUTE);
    assert_eq!(harness.state(), ConnectionState::Expired);
    let events = harness.take_events();
    assert_eq!(count(&events, |event| *event == Event::Expired), 1);
    assert!(events.contains(&Event::TranscriptReset(Vec::new())));
    assert!(harness.session.transcript().is_empty());
    assert_eq!(harness.storage.token, None);
    assert!(harness.storage.outbox.is_empty());
    assert!(!harness.closes.is_empty(), "socket closed");
    let connects = harness.connects.len();
    harness.advance(10 * MINUTE);
    assert_eq!(harness.connects.len(), connects, "no reconnect while expired");

    harness.open();
    harness.settle();
    assert_eq!(harness.state(), ConnectionState::Connected);
    assert_ne!(token(&harness), old);
    assert_eq!(harness.storage.token.as_ref().map(|token| token.as_str().to_owned()), Some(token(&harness)));
}

#[test]
fn background_tab_timer_firing_sixty_seconds_late_still_expires() {
    let mut harness = connected_with_ttl(3_600);
    harness.jump(3_600 * SECOND + MINUTE);
    harness.settle();
    assert_eq!(harness.state(), ConnectionState::Expired);
    assert_eq!(count(&harness.events, |event| matches!(event, Event::ExpiringSoon { .. })), 0, "too late for a notice");
    assert_eq!(count(&harness.events, |event| *event == Event::Expired), 1);
}

#[test]
fn deadline_passing_while_disconnected_expires_locally() {
    let mut harness = connected_with_ttl(600);
    harness.server.as_mut().expect("server").accepting = false;
    harness.drop_socket();
    harness.jump(10 * MINUTE + 10 * SECOND);
    assert_eq!(harness.state(), ConnectionState::Expired);
    assert_eq!(harness.storage.token, None);
    assert!(harness.violations.is_empty(), "{:?}", harness.violations);
}

#[test]
fn presence_session_expired_event_expires() {
    let mut harness = connected();
    harness.inject(&fixture("server.StructuredMessage.presenceSessionExpired.json"));
    assert_eq!(harness.state(), ConnectionState::Expired);
}

// ---------------------------------------------------------------------------------------------
// Rule 5: outbox and delivery

#[test]
fn message_is_sending_until_its_echo_marks_it_sent() {
    let mut harness = Harness::new();
    harness.connect_new_session(None);
    let key = harness.send_text("Hi, I need help with my order #10423");
    let sent = harness.last_sent().clone();
    assert_eq!(sent["action"], "onMessage");
    assert_eq!(sent["tracingId"], key.as_str());
    assert_eq!(sent["message"]["metadata"]["tracingId"], key.as_str());
    assert_eq!(harness.entry(&key).expect("entry").status, DeliveryStatus::Sending);

    let echo = customer_message("srv-1", "Hi, I need help with my order #10423", T0 + 10, None);
    harness.inject_frame(message_frame(echo.clone(), Some(key.as_str())));
    let entry = harness.entry(&key).expect("entry");
    assert_eq!(entry.status, DeliveryStatus::Sent);
    assert_eq!(entry.message_id.as_ref().map(MessageId::as_str), Some("srv-1"));
    assert!(harness.storage.outbox.is_empty());
    // The same echo again (duplicate frame) changes nothing.
    harness.inject_frame(message_frame(echo, Some(key.as_str())));
    assert_eq!(harness.session.transcript().len(), 1);
}

#[test]
fn queued_offline_then_sent_exactly_once_after_reconcile() {
    let mut harness = connected();
    // The server stores "one" but its echo is lost.
    harness.server.as_mut().expect("server").lose_echoes = 1;
    let one = harness.send_text("one");
    harness.settle();
    assert_eq!(harness.entry(&one).expect("entry").status, DeliveryStatus::Sending);
    harness.server.as_mut().expect("server").accepting = false;
    harness.drop_socket();
    let two = harness.send_text("two");
    assert_eq!(harness.entry(&two).expect("entry").status, DeliveryStatus::Queued);
    assert_eq!(harness.storage.outbox.len(), 2, "both persisted");
    harness.advance(5 * SECOND);
    harness.server.as_mut().expect("server").accepting = true;
    harness.advance(MINUTE);
    assert_eq!(harness.state(), ConnectionState::Connected);
    let accepted: Vec<&str> = harness.server.as_ref().expect("server").accepted.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(accepted, ["one", "two"], "exactly once, in order");
    assert_eq!(harness.texts(), ["one", "two"]);
    assert!(harness.session.transcript().iter().all(|entry| entry.status == DeliveryStatus::Sent));
    assert!(harness.storage.outbox.is_empty());
    assert!(harness.violations.is_empty(), "{:?}", harness.violations);
}

#[test]
fn reload_with_unconfirmed_send_does_not_duplicate_even_without_server_metadata() {
    for keep_metadata in [true, false] {
        let mut harness = connected();
        harness.server.as_mut().expect("server").keep_metadata = keep_metadata;
        harness.agent_says("welcome");
        harness.server.as_mut().expect("server").lose_echoes = 1;
        harness.send_text("did this arrive?");
        harness.settle();
        // The page reloads before the echo.
        harness.reload(config());
        assert_eq!(harness.texts(), ["did this arrive?"], "queued message restored from storage");
        harness.open();
        harness.advance(MINUTE);
        let accepted = harness.server.as_ref().expect("server").accepted.len();
        assert_eq!(accepted, 1, "keep_metadata={keep_metadata}: not re-sent");
        assert_eq!(harness.texts(), ["welcome", "did this arrive?"], "keep_metadata={keep_metadata}");
        assert!(harness.storage.outbox.is_empty());
    }
}

/// Issue 6 "reload → transcript visible with 50 messages": a reload restored only the newest
/// 25 (one SDK-sized page) and left the rest for scrolling. One page now holds 50.
#[test]
fn reload_restores_fifty_messages_with_one_history_request() {
    let mut harness = connected();
    for n in 1..=50 {
        harness.agent_says(&format!("message {n}"));
    }
    harness.settle();
    harness.reload(config());
    assert!(harness.texts().is_empty(), "nothing is shown before the server answers");
    harness.open();
    harness.advance(SECOND);
    assert_eq!(harness.state(), ConnectionState::Connected);
    let restored = harness.texts();
    assert_eq!(restored.len(), 50, "all 50 restored at once");
    assert_eq!(restored.first().map(String::as_str), Some("message 1"));
    assert_eq!(restored.last().map(String::as_str), Some("message 50"));
    assert_eq!(harness.fetches.iter().filter(|(page, _, _)| *page == 1).count(), 1);
    assert!(harness.fetches.iter().all(|(page, size, _)| *page == 1 && *size == HISTORY_PAGE_SIZE), "{:?}", harness.fetches);
}

#[test]
fn health_check_echo_is_never_shown() {
    let mut harness = Harness::new();
    harness.connect_new_session(None);
    harness.inject(&fixture("server.StructuredMessage.echoResponse.json"));
    assert!(harness.session.transcript().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Rule 6: transcript

#[test]
fn duplicate_and_reordered_frames_give_one_ordered_transcript() {
    let mut harness = Harness::new();
    harness.connect_new_session(None);
    let frames = [("m3", "three", 3), ("m1", "one", 1), ("m2", "two", 2), ("m1", "one", 1), ("m3", "three", 3)];
    for (id, text, offset) in frames {
        harness.inject_frame(message_frame(agent_message(id, text, T0 + offset * SECOND), None));
    }
    assert_eq!(harness.texts(), ["one", "two", "three"]);
    // The other tab's message and a history page with the same ids change nothing.
    harness.inject(&fixture("server.StructuredMessage.inboundEchoFromOtherTab.json"));
    assert_eq!(harness.session.transcript().len(), 4);
    let other_tab = harness.session.transcript().iter().find(|entry| entry.text == "sent from my other tab").expect("other tab");
    assert_eq!(other_tab.direction, threadline_core::session::Direction::Inbound);
}

#[test]
fn history_with_null_time_is_kept_in_server_order() {
    let mut harness = Harness::new();
    harness.open();
    harness.accept();
    harness.inject_frame(session_response(false, false));
    let page = threadline_core::protocol::HistoryPage::from_json(&fixture("http.GET.webmessaging.messages.response.json")).expect("fixture");
    harness.inject(&json!({"type":"response","class":"JwtResponse","code":200,"body":{"jwt":"j","exp":harness.now.as_secs() + 600},
        "tracingId": harness.last_sent()["tracingId"]}).to_string());
    harness.session.handle_history_page(page.clone(), harness.now);
    harness.pump();
    let kinds: Vec<EntryKind> = harness.session.transcript().iter().map(|entry| entry.kind).collect();
    assert_eq!(kinds[0], EntryKind::Notice(NoticeKind::ConversationStarted), "time:null Join stays oldest");
    assert_eq!(harness.texts()[1..], ["Hi, I need help with my order #10423", "What would you like to do?", "Sure, here is the label"]);
    // Replaying the page adds nothing.
    harness.session.handle_history_page(page, harness.now);
    harness.pump();
    assert_eq!(harness.session.transcript().len(), 4);
    assert!(harness.events.contains(&Event::OlderAvailable(false)));
}

#[test]
fn after_reconnect_history_replaces_stale_local_rows() {
    let mut harness = Harness::new();
    harness.connect_new_session(None);
    harness.inject_frame(message_frame(agent_message("gone", "the server forgot me", T0 + 1), None));
    harness.inject_frame(message_frame(agent_message("kept", "still here", T0 + 2), None));
    harness.drop_socket();
    harness.advance(2 * SECOND);
    harness.accept();
    harness.inject_frame(session_response(false, false));
    harness.inject(&json!({"type":"response","class":"JwtResponse","code":200,"body":{"jwt":"j","exp":harness.now.as_secs() + 600},
        "tracingId": harness.last_sent()["tracingId"]}).to_string());
    let page = threadline_core::protocol::HistoryPage {
        entities: vec![agent_message("kept", "still here", T0 + 2)],
        page_size: 25,
        page_number: 1,
        total: 1,
        page_count: 1,
    };
    harness.session.handle_history_page(page, harness.now);
    harness.pump();
    assert_eq!(harness.texts(), ["still here"]);
    assert!(matches!(harness.events.last(), Some(Event::StateChanged(_)) | Some(Event::TranscriptReset(_)) | Some(Event::OlderAvailable(_))));
}

// ---------------------------------------------------------------------------------------------
// Rule 7: typing, clear, attachments

#[test]
fn agent_typing_shows_for_its_duration_and_stops_on_a_message() {
    let mut harness = Harness::new();
    harness.connect_new_session(None);
    harness.inject(&fixture("server.StructuredMessage.typing.json"));
    assert!(harness.events.contains(&Event::AgentTyping { until: harness.now.saturating_add_ms(5_000) }));
    harness.advance(5 * SECOND);
    assert_eq!(harness.events.last(), Some(&Event::AgentTypingStopped));

    let mut typing = Message::event(WireEvent::Typing(Typing { typing_type: TypingType::On, duration: None }));
    typing.direction = Some(WireDirection::Outbound);
    harness.inject_frame(message_frame(typing, None));
    harness.inject_frame(message_frame(agent_message("a1", "answer", T0 + 99), None));
    let stops = count(&harness.events, |event| *event == Event::AgentTypingStopped);
    assert_eq!(stops, 2, "a message ends the typing indicator");
    assert!(harness.session.transcript().iter().all(|entry| entry.kind == EntryKind::Message));
}

#[test]
fn own_typing_is_throttled_and_only_sent_when_enabled() {
    let mut harness = Harness::new();
    harness.connect_new_session(None);
    harness.session.typing(harness.now);
    harness.pump();
    assert!(harness.sent.iter().all(|frame| frame["message"]["events"][0]["eventType"] != "Typing"), "disabled by default");

    let mut typing = config();
    typing.show_user_typing = true;
    let mut harness = Harness::with(typing, Persisted::default(), None, 9);
    harness.connect_new_session(None);
    for _ in 0..10 {
        harness.session.typing(harness.now);
        harness.pump();
        harness.now = harness.now.saturating_add_ms(1_000);
    }
    let typings = harness.sent.iter().filter(|frame| frame["message"]["events"][0]["eventType"] == "Typing").count();
    assert_eq!(typings, 2, "one per 5 s over 10 s");
}

#[test]
fn clear_conversation_empties_the_transcript_and_closes() {
    let mut clearing = config();
    clearing.conversation_clear = true;
    let mut harness = Harness::with(clearing, Persisted::default(), Some(ModelServer::new()), 5);
    harness.open();
    harness.settle();
    harness.send_text("forget me");
    harness.settle();
    harness.session.clear_conversation(harness.now).expect("enabled");
    harness.pump();
    harness.settle();
    assert!(harness.events.contains(&Event::ConversationCleared));
    assert!(harness.session.transcript().is_empty());
    assert_eq!(harness.state(), ConnectionState::Closed { reason: CloseReason::ConversationCleared });

    let mut disabled = connected();
    assert_eq!(disabled.session.clear_conversation(disabled.now), Err(CommandError::FeatureDisabled));
}

#[test]
fn attachment_frames_become_attachment_updates() {
    use threadline_core::session::AttachmentUpdate;
    let mut harness = Harness::new();
    harness.connect_new_session(None);
    let id = harness.session.request_upload("damaged-box.jpg", "image/jpeg", 482_133, harness.now).expect("connected");
    harness.pump();
    assert_eq!(harness.last_sent()["action"], "onAttachment");
    assert_eq!(harness.last_sent()["attachmentId"], id.as_str());
    for name in [
        "server.PresignedUrlResponse.upload.json",
        "server.PresignedUrlResponse.refresh.json",
        "server.UploadSuccessEvent.json",
        "server.UploadFailureEvent.json",
        "server.GenerateUrlError.json",
        "server.AttachmentDeletedResponse.json",
    ] {
        harness.inject(&fixture(name));
    }
    let updates: Vec<&AttachmentUpdate> = harness.events.iter().filter_map(|event| match event {
        Event::Attachment(update) => Some(update),
        _ => None,
    }).collect();
    assert!(matches!(updates[0], AttachmentUpdate::UploadGranted { headers, .. } if headers.contains_key("x-amz-tagging")));
    assert!(matches!(updates[1], AttachmentUpdate::DownloadUrlRefreshed { .. }));
    assert!(matches!(updates[2], AttachmentUpdate::Uploaded { .. }));
    assert!(matches!(updates[3], AttachmentUpdate::Rejected { .. }));
    assert!(matches!(updates[4], AttachmentUpdate::Rejected { code: 4001, .. }));
    assert!(matches!(updates[5], AttachmentUpdate::Deleted { .. }));

    let key = harness.session.send_attachment(id, String::new(), Some("damaged-box.jpg".into()), harness.now).expect("send");
    harness.pump();
    assert_eq!(harness.last_sent()["message"]["content"][0]["attachment"]["id"], harness.sent_actions("onAttachment")[0]["attachmentId"]);
    assert_eq!(harness.entry(&key).expect("entry").content.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Robustness

#[test]
fn every_fixture_and_garbage_in_every_state_never_panics() {
    let mut frames = server_fixtures();
    frames.extend(["", "{", "null", "[]", "{\"class\":5}", "{\"class\":\"StructuredMessage\",\"body\":[]}", "\u{0}"].map(String::from));
    for frame in &frames {
        // Configuring, configured, read-only.
        for setup in 0..3 {
            let mut harness = Harness::new();
            harness.open();
            harness.accept();
            if setup > 0 {
                harness.inject_frame(session_response(true, setup == 2));
            }
            harness.inject(frame);
            harness.advance(2 * MINUTE);
            assert!(harness.violations.is_empty(), "{frame}: {:?}", harness.violations);
        }
    }
}

#[test]
fn closing_keeps_unsent_messages_for_the_next_page() {
    let mut harness = Harness::simulated();
    harness.server.as_mut().expect("server").accepting = false;
    harness.open();
    harness.send_text("typed while offline");
    harness.session.close(harness.now);
    harness.pump();
    assert_eq!(harness.state(), ConnectionState::Closed { reason: CloseReason::User });
    assert_eq!(harness.storage.outbox.len(), 1);
    harness.server.as_mut().expect("server").accepting = true;
    harness.reload(config());
    harness.open();
    harness.advance(MINUTE);
    assert_eq!(harness.server.as_ref().expect("server").accepted.len(), 1);
    assert_eq!(harness.texts(), ["typed while offline"]);
}
