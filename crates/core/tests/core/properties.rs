//! The engine against the in-memory model server under random schedules: sends, agent
//! messages, socket drops, outages, delayed / duplicated / reordered / lost frames, lost echoes,
//! page reloads (engine rebuilt from its persisted storage), visibility and network changes.
//!
//! After each schedule the network heals and the user stays on the page; then:
//! * every message the user sent and every agent message appears exactly once, in server order;
//! * nothing the user typed is lost, and the server received each of it exactly once;
//! * there was never more than one socket, and nothing was sent without one;
//! * every scheduled reconnect respected the backoff budget (first ≤ 1 s, each ≤ 30 s).

use proptest::prelude::*;
use threadline_core::protocol::Direction as WireDirection;
use threadline_core::session::{ConnectionState, Direction, EntryKind, Persisted};
use threadline_core::time::UnixMillis;

use crate::harness::*;

#[derive(Clone, Debug)]
enum Op {
    /// The user opens the messenger.
    Open,
    /// The user sends a (unique) text.
    Send,
    /// The agent writes.
    Agent,
    /// The socket drops abnormally.
    Drop,
    /// Time passes (timers fire; the network holds its frames).
    Wait(u32),
    /// The network delivers this many queued items.
    Deliver(u8),
    /// The first queued frame overtakes nothing: it moves to the back.
    Delay,
    /// The first queued frame arrives twice.
    Duplicate,
    /// The first queued frame is lost.
    Lose,
    /// The server stores the next user message but its echo is lost.
    LoseEcho,
    /// The page reloads: the engine is rebuilt from storage.
    Reload,
    /// A history page nobody asked for arrives (a replayed HTTP answer). The driver contract
    /// is one answer per `FetchHistory`, so a replay only comes while no fetch is outstanding.
    ReplayHistory(u32),
    /// The server refuses (false) or accepts (true) new sockets.
    Accepting(bool),
    /// Tab hidden / visible.
    Visible(bool),
    /// Browser offline / online.
    Online(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Open),
        6 => Just(Op::Send),
        4 => Just(Op::Agent),
        2 => Just(Op::Drop),
        4 => (1u32..120_000).prop_map(Op::Wait),
        8 => (1u8..6).prop_map(Op::Deliver),
        2 => Just(Op::Delay),
        2 => Just(Op::Duplicate),
        2 => Just(Op::Lose),
        1 => Just(Op::LoseEcho),
        1 => Just(Op::Reload),
        1 => (1u32..3).prop_map(Op::ReplayHistory),
        1 => any::<bool>().prop_map(Op::Accepting),
        1 => any::<bool>().prop_map(Op::Visible),
        1 => any::<bool>().prop_map(Op::Online),
    ]
}

/// Applies one operation. Returns the text the user typed, if the engine accepted it.
fn apply(harness: &mut Harness, op: &Op, typed: usize) -> Option<String> {
    match op {
        Op::Open => harness.open(),
        Op::Send => {
            let text = format!("user message {typed}");
            let accepted = harness.session.send_text(text.clone(), harness.now).is_ok();
            harness.pump();
            return accepted.then_some(text);
        }
        Op::Agent => {
            // The agent can only write into a session that exists.
            if let Some(token) = harness.session.token().map(|token| token.as_str().to_owned()) {
                let server = harness.server.as_mut().expect("server");
                if server.sessions.contains_key(&token) && harness.socket == Socket::Open {
                    let frame = server.agent_says(&token, "agent reply", harness.now);
                    harness.pending.push_back(Delivery::Frame { generation: harness.generation, text: frame });
                }
            }
        }
        Op::Drop => {
            if harness.socket != Socket::None {
                harness.drop_socket();
            }
        }
        Op::Wait(ms) => harness.tick(u64::from(*ms)),
        Op::Deliver(count) => {
            for _ in 0..*count {
                harness.deliver_next();
            }
        }
        Op::Delay => {
            if let Some(front) = harness.pending.pop_front() {
                harness.pending.push_back(front);
            }
        }
        Op::Duplicate => {
            if let Some(Delivery::Frame { generation, text }) = harness.pending.front().cloned() {
                harness.pending.push_front(Delivery::Frame { generation, text });
            }
        }
        Op::Lose => {
            // Only frames get lost; the HTTP client and the socket's open/close always answer.
            if matches!(harness.pending.front(), Some(Delivery::Frame { .. })) {
                harness.pending.pop_front();
            }
        }
        Op::LoseEcho => harness.server.as_mut().expect("server").lose_echoes += 1,
        Op::Reload => {
            // In-flight answers die with the page, except the server's own state.
            harness.pending.retain(|delivery| !matches!(delivery, Delivery::History(_)));
            harness.reload(config());
        }
        Op::ReplayHistory(page) => {
            if let Some(token) = harness.session.token().map(|token| token.as_str().to_owned()) {
                let server = harness.server.as_ref().expect("server");
                let fetch_outstanding = harness.pending.iter().any(|delivery| matches!(delivery, Delivery::History(_)));
                if let (false, Ok(page)) = (fetch_outstanding, server.history(&format!("jwt:{token}"), *page, 25)) {
                    harness.deliver(Delivery::History(Ok(page)));
                }
            }
        }
        Op::Accepting(accepting) => harness.server.as_mut().expect("server").accepting = *accepting,
        Op::Visible(visible) => {
            harness.session.handle_visibility(*visible, harness.now);
            harness.pump();
        }
        Op::Online(online) => {
            harness.session.handle_network(*online, harness.now);
            harness.pump();
        }
    }
    None
}

/// The network heals and the user keeps the page open until everything settles.
fn heal(harness: &mut Harness) {
    let server = harness.server.as_mut().expect("server");
    server.accepting = true;
    server.responsive = true;
    harness.session.handle_network(true, harness.now);
    harness.session.handle_visibility(true, harness.now);
    harness.pump();
    harness.settle();
    // A final reconnect makes the engine reconcile with the server's history, which is how it
    // learns about frames that were lost for good.
    if harness.socket != Socket::None {
        harness.drop_socket();
    }
    harness.open();
    harness.run_until(harness.now.saturating_add_ms(10 * 60_000));
    if harness.state() != ConnectionState::Connected {
        harness.session.retry_connection(harness.now);
        harness.pump();
        harness.run_until(harness.now.saturating_add_ms(10 * 60_000));
    }
    for _ in 0..50 {
        if !harness.session.older_available() || harness.session.load_older(harness.now).is_err() {
            break;
        }
        harness.pump();
        harness.settle();
    }
}

fn check(harness: &Harness, typed: &[String]) -> Result<(), TestCaseError> {
    prop_assert!(harness.violations.is_empty(), "socket misuse: {:?}", harness.violations);
    prop_assert_eq!(harness.state(), ConnectionState::Connected);

    // Backoff budget on every scheduled retry.
    for (at, state) in &harness.states {
        if let ConnectionState::Reconnecting { attempt, next_attempt_at: Some(next) } = state {
            let delay = next.0.saturating_sub(at.0);
            prop_assert!(delay <= 30_000, "retry {} scheduled {} ms ahead", attempt, delay);
            if *attempt == 1 {
                prop_assert!(delay <= 1_000, "first retry {} ms ahead", delay);
            }
        }
    }

    let token = harness.session.token().expect("token").as_str().to_owned();
    let server = harness.server.as_ref().expect("server");
    // The server received each typed text exactly once, in typing order.
    let accepted: Vec<&str> = server.accepted.iter().filter(|(owner, _)| *owner == token).map(|(_, text)| text.as_str()).collect();
    let typed: Vec<&str> = typed.iter().map(String::as_str).collect();
    prop_assert_eq!(&accepted, &typed, "server ledger vs typed");

    // The transcript equals the server's conversation: each message once, in server order.
    let expected: Vec<(Direction, String)> = server
        .stored(&token)
        .into_iter()
        .map(|(direction, text)| (if direction == WireDirection::Inbound { Direction::Inbound } else { Direction::Outbound }, text))
        .collect();
    let shown: Vec<(Direction, String)> = harness
        .session
        .transcript()
        .iter()
        .filter(|entry| entry.kind == EntryKind::Message)
        .map(|entry| (entry.direction, entry.text.clone()))
        .collect();
    prop_assert_eq!(shown, expected);
    prop_assert!(harness.session.outbox().is_empty(), "outbox drained: {:?}", harness.session.outbox());
    prop_assert!(harness.storage.outbox.is_empty(), "persisted outbox drained");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_keeps_every_message_exactly_once_in_server_order(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..60)) {
        let mut harness = Harness::with(config(), Persisted::default(), Some(ModelServer::new()), seed);
        harness.open();
        let mut typed: Vec<String> = Vec::new();
        for op in &ops {
            if let Some(text) = apply(&mut harness, op, typed.len()) {
                typed.push(text);
            }
            prop_assert!(harness.violations.is_empty(), "after {:?}: {:?}", op, harness.violations);
        }
        heal(&mut harness);
        check(&harness, &typed)?;
        prop_assert!(harness.now >= UnixMillis(T0));
    }
}
