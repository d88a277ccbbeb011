//! Browser features missing (issue "Proof" §5), end to end on the release build: a script that
//! runs before the page's own (CDP `Page.addScriptToEvaluateOnNewDocument` through
//! chromedriver's `goog/cdp/execute`) removes `navigator.locks` or `BroadcastChannel`.
//! * Without Web Locks, the tabs elect their leader with a lease in `localStorage`: two tabs,
//!   one socket at the gateway, both show the conversation, and closing the leader hands the
//!   connection to the other tab in bounded time with nothing shown twice.
//! * Without `BroadcastChannel`, a tab keeps its own connection: it connects, sends and
//!   receives, and says so on the console.
//! * A message on the tabs' channel that this version cannot read is ignored, said once.

use std::time::Duration;

use fantoccini::wd::WindowHandle;
use serde_json::json;

use crate::harness::Env;
use crate::loopback_http::Cdp;
use crate::messenger::{assert_shown_once_in_order, assert_unique_ids, nonce};
use crate::windows::{first_reconnect, RECORD_TIMED_STATES_JS};

/// Web Locks missing (older Safari, some embedded browsers).
const NO_WEB_LOCKS_JS: &str = "Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });";

/// `BroadcastChannel` missing.
const NO_BROADCAST_CHANNEL_JS: &str = "delete window.BroadcastChannel; \
    if (window.BroadcastChannel) Object.defineProperty(window, 'BroadcastChannel', { value: undefined, configurable: true });";

/// Keeps what the page says on the console in `window.__tlConsole` (WebDriver cannot read it).
const RECORD_CONSOLE_JS: &str = "window.__tlConsole = []; \
    for (const level of ['info', 'warn', 'error']) { \
      const original = console[level].bind(console); \
      console[level] = (...args) => { window.__tlConsole.push(level + ': ' + args.join(' ')); original(...args); }; \
    }";

impl Env {
    /// Runs `source` in every document the current tab loads from now on, before any of the
    /// page's scripts (CDP through chromedriver; one call per tab).
    async fn before_page_scripts(&self, source: &str) {
        let session_id = self.client.session_id().await.expect("WebDriver session id").expect("a WebDriver session");
        let cdp = Cdp { chromedriver: self.chromedriver_addr().to_string(), session_id };
        cdp.call("Page.addScriptToEvaluateOnNewDocument", json!({ "source": source }))
            .unwrap_or_else(|err| panic!("Page.addScriptToEvaluateOnNewDocument through chromedriver failed: {err}"));
    }

    /// Opens a tab with `source` installed before page scripts, loads the deployment's page in
    /// it and switches to it.
    async fn open_faulty_tab(&self, deployment: &str, source: &str) -> WindowHandle {
        let handle = self.new_tab().await;
        self.before_page_scripts(source).await;
        self.open_page(deployment).await;
        handle
    }

    /// The console lines recorded by [`RECORD_CONSOLE_JS`].
    async fn console_lines(&self) -> Vec<String> {
        let value = self.js("return window.__tlConsole || [];").await;
        value.as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(|line| line.as_str().map(str::to_string)).collect()
    }
}

#[tokio::test]
async fn without_web_locks_a_storage_lease_elects_one_tab_and_hands_over_when_it_closes() {
    let env = Env::start().await;
    let deployment = env.create_deployment(json!({ "guestSessionTtl": "1d" }));
    let faults = format!("{NO_WEB_LOCKS_JS}{RECORD_CONSOLE_JS}");
    env.before_page_scripts(&faults).await;
    env.open_page(&deployment).await;
    assert_eq!(env.js("return navigator.locks === undefined;").await, json!(true), "navigator.locks was not removed");
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    let console = env.console_lines().await;
    assert!(console.iter().any(|line| line.contains("Web Locks unavailable")), "the lease fallback was not used: {console:?}");
    let tag = nonce();
    let before = format!("first tab, no locks {tag}");
    env.send_and_confirm(&before).await;
    let token = env.wait_session_token(&deployment, 5).await;
    let leader = env.client.window().await.expect("the first tab");

    let second = env.open_faulty_tab(&deployment, &faults).await;
    env.open_messenger().await;
    env.wait_messages("the first tab's message in the second tab", 10, |shown| shown.iter().any(|m| m.text.contains(&before))).await;
    env.wait_sockets(&deployment, 1, 10, Duration::from_millis(2500)).await;
    let lease = env.js(&format!("return window.localStorage.getItem('threadline:{deployment}:leader');")).await;
    assert!(lease.is_string(), "no lease in localStorage: {lease}");

    let agent = format!("agent to both tabs {tag}");
    env.agent_says(&token, &deployment, &agent);
    for tab in [&leader, &second] {
        env.switch_to(tab).await;
        let shown = env.wait_messages("the agent message in both tabs", 10, |shown| shown.iter().any(|m| m.text.contains(&agent))).await;
        assert_shown_once_in_order(&shown, &[&before, &agent]);
        assert_unique_ids(&shown);
    }
    env.switch_to(&second).await;
    env.js(RECORD_TIMED_STATES_JS).await;

    // Close the leader (the first tab: it claimed the lease while alone).
    env.switch_to(&leader).await;
    let closed_at = env.js("return Date.now();").await.as_f64().expect("page clock");
    env.client.close_window().await.expect("close the leader tab");
    // Switches to the second tab and waits there for the takeover.
    let takeover_ms = first_reconnect(&env, &[&second], "the leader closed (no takeover)").await - closed_at;
    println!("web locks missing: leader tab closed → the other tab connected in {takeover_ms:.0} ms");
    // Worst case without a clean resignation: the lease's TTL (2.5 s) plus one look (1 s).
    assert!((0.0..4000.0).contains(&takeover_ms), "the takeover took {takeover_ms:.0} ms");
    env.wait_sockets(&deployment, 1, 5, Duration::from_millis(1000)).await;
    assert_eq!(env.stored_token(&deployment).await.as_deref(), Some(token.as_str()), "the new leader changed the token");

    let after = format!("second tab leads now {tag}");
    env.send_and_confirm(&after).await;
    let later = format!("agent after the takeover {tag}");
    env.agent_says(&token, &deployment, &later);
    let wanted = [before.as_str(), agent.as_str(), after.as_str(), later.as_str()];
    env.expect_exactly("every message after the takeover", &wanted, Duration::from_millis(500)).await;
    let server = env.server_texts(&token, &deployment);
    assert_eq!(server.len(), 4, "the server stored a message twice or lost one: {server:?}");
    env.finish().await;
}

#[tokio::test]
async fn without_broadcast_channel_each_tab_keeps_its_own_connection_and_says_so() {
    let env = Env::start().await;
    let deployment = env.create_deployment(json!({ "guestSessionTtl": "1d" }));
    let faults = format!("{NO_BROADCAST_CHANNEL_JS}{RECORD_CONSOLE_JS}");
    env.before_page_scripts(&faults).await;
    env.open_page(&deployment).await;
    assert_eq!(env.js("return typeof window.BroadcastChannel;").await, json!("undefined"), "BroadcastChannel was not removed");
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    let console = env.console_lines().await;
    assert!(
        console.iter().any(|line| line.contains("BroadcastChannel unavailable")),
        "the page does not say it cannot share the connection: {console:?}"
    );
    let tag = nonce();
    let own = format!("no broadcast channel {tag}");
    env.send_and_confirm(&own).await;
    let token = env.wait_session_token(&deployment, 5).await;
    let agent = format!("agent still reaches the tab {tag}");
    env.agent_says(&token, &deployment, &agent);
    let shown = env.wait_messages("the agent message", 10, |shown| shown.iter().any(|m| m.text.contains(&agent))).await;
    assert_shown_once_in_order(&shown, &[&own, &agent]);
    env.wait_sockets(&deployment, 1, 5, Duration::from_millis(500)).await;

    // A second tab cannot join the first: it resumes the stored conversation on its own socket.
    let first = env.client.window().await.expect("the first tab");
    let second = env.open_faulty_tab(&deployment, &faults).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    env.wait_messages("the conversation restored in the second tab", 10, |shown| shown.iter().any(|m| m.text.contains(&agent))).await;
    env.wait_sockets(&deployment, 2, 10, Duration::from_millis(500)).await;
    assert_eq!(env.stored_token(&deployment).await.as_deref(), Some(token.as_str()), "the second tab started another conversation");
    let both = format!("agent to both sockets {tag}");
    env.agent_says(&token, &deployment, &both);
    for tab in [&first, &second] {
        env.switch_to(tab).await;
        let shown = env.wait_messages("the agent message in both tabs", 10, |shown| shown.iter().any(|m| m.text.contains(&both))).await;
        assert_shown_once_in_order(&shown, &[&own, &agent, &both]);
        assert_unique_ids(&shown);
    }
    let server = env.server_texts(&token, &deployment);
    assert_eq!(server.len(), 3, "the server holds other messages than the three: {server:?}");
    env.finish().await;
}

/// Another script sharing the channel's name, or a tab still running an older build, posts what
/// this version cannot read: the tab ignores it, says so once on the console (with what did not
/// fit) and carries on with its conversation.
#[tokio::test]
async fn a_channel_message_it_cannot_read_is_ignored_and_said_once() {
    let env = Env::start().await;
    let deployment = env.create_deployment(json!({ "guestSessionTtl": "1d" }));
    env.before_page_scripts(RECORD_CONSOLE_JS).await;
    env.open_page(&deployment).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    let foreign = ["'[\"launchMissiles\",\"x\"]'", "{ not: 'ours' }", "'not json'", "'[\"panel\",\"x\",\"yes\"]'"];
    let posts: String = foreign.iter().map(|message| format!("window.__tlForeign.postMessage({message});")).collect();
    env.js(&format!("window.__tlForeign = new BroadcastChannel('threadline:{deployment}'); {posts} return true;")).await;
    let warned = "(window.__tlConsole || []).filter(line => line.includes('ignored a message from another tab')).length";
    env.wait_js(warned, json!(1), 5).await;

    let tag = nonce();
    let own = format!("still talking after foreign posts {tag}");
    env.send_and_confirm(&own).await;
    env.wait_status("connected", 5).await;
    let console = env.console_lines().await;
    let warnings: Vec<&String> = console.iter().filter(|line| line.contains("ignored a message from another tab")).collect();
    assert_eq!(warnings.len(), 1, "four unreadable posts, one warning: {console:?}");
    assert!(warnings[0].contains("unknown tab message `launchMissiles`"), "the warning says what did not fit: {}", warnings[0]);
    env.finish().await;
}
