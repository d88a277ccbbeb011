//! Browser features missing (issue "Proof" §5), end to end on the release build: a script that
//! runs before the page's own (CDP `Page.addScriptToEvaluateOnNewDocument` through
//! chromedriver's `goog/cdp/execute`) removes `navigator.locks` or `BroadcastChannel`.
//! * Without Web Locks, the tabs elect their leader with a lease in `localStorage`: two tabs,
//!   one socket at the gateway, both show the conversation, and closing the leader hands the
//!   connection to the other tab in bounded time with nothing shown twice.
//! * Without `BroadcastChannel`, a tab keeps its own connection: it connects, sends and
//!   receives, and says so on the console.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fantoccini::wd::WindowHandle;
use serde_json::{json, Value};

use crate::harness::Env;
use crate::messenger::{assert_shown_once_in_order, assert_unique_ids, nonce};

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

/// Records every `data-state` of the status element with the page's clock
/// (`window.__tlTimedStates = [[state, ms], …]`), so a handover is timed from inside the tab.
const RECORD_TIMED_STATES_JS: &str = r#"
    window.__tlTimedStates = [];
    const note = () => {
      const e = document.querySelector('[data-testid=status]');
      const s = e ? e.getAttribute('data-state') : null;
      const log = window.__tlTimedStates;
      if (s && (log.length === 0 || log[log.length - 1][0] !== s)) log.push([s, Date.now()]);
    };
    note();
    new MutationObserver(note).observe(document.documentElement,
      { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
"#;

/// When the status went back to `connected` after leaving it (`null`: not yet).
const RECONNECTED_AT_JS: &str = "const log = window.__tlTimedStates || []; \
    const i = log.findIndex(e => e[0] !== 'connected'); \
    const c = i < 0 ? undefined : log.slice(i).find(e => e[0] === 'connected'); \
    return c ? c[1] : null;";

impl Env {
    /// Runs `source` in every document the current tab loads from now on, before any of the
    /// page's scripts (CDP through chromedriver; one call per tab).
    async fn before_page_scripts(&self, source: &str) {
        let session = self.client.session_id().await.expect("WebDriver session id").expect("a WebDriver session");
        let command = json!({ "cmd": "Page.addScriptToEvaluateOnNewDocument", "params": { "source": source } });
        let path = format!("/session/{session}/goog/cdp/execute");
        let (status, body) = post_keep_alive(self.chromedriver_addr(), &path, &command)
            .unwrap_or_else(|err| panic!("POST {path} to chromedriver failed: {err}"));
        assert_eq!(status, 200, "goog/cdp/execute answered {status}: {body}");
    }

    /// Opens a tab with `source` installed before page scripts, loads the deployment's page in
    /// it and switches to it.
    async fn open_faulty_tab(&self, deployment: &str, source: &str) -> WindowHandle {
        let handle = self.client.new_window(true).await.expect("open a tab").handle;
        self.client.switch_to_window(handle.clone()).await.expect("switch to the new tab");
        self.before_page_scripts(source).await;
        self.open_page(deployment).await;
        handle
    }

    /// Live sockets of every session of `deployment`, summed (the gateway's control API).
    fn live_sockets(&self, deployment: &str) -> u64 {
        self.sessions(deployment).iter().map(|session| session["sockets"].as_u64().unwrap_or(0)).sum()
    }

    /// Waits until the deployment has exactly `want` live sockets and checks it stays so for
    /// `hold` (a second socket opening late would show).
    async fn expect_sockets(&self, deployment: &str, want: u64, secs: u64, hold: Duration) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.live_sockets(deployment) != want {
            assert!(Instant::now() < deadline, "{} sockets, wanted {want}: {:#?}", self.live_sockets(deployment), self.sessions(deployment));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let until = Instant::now() + hold;
        while Instant::now() < until {
            assert_eq!(self.live_sockets(deployment), want, "the socket count moved after reaching {want}: {:#?}", self.sessions(deployment));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The console lines recorded by [`RECORD_CONSOLE_JS`].
    async fn console_lines(&self) -> Vec<String> {
        let value = self.js("return window.__tlConsole || [];").await;
        value.as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(|line| line.as_str().map(str::to_string)).collect()
    }
}

/// POSTs JSON and reads the answer by its `Content-Length` (chromedriver keeps connections open,
/// so reading to the end as `harness::http_request` does would wait for its read timeout).
fn post_keep_alive(addr: &str, path: &str, body: &Value) -> std::io::Result<(u16, String)> {
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut answer = vec![0; length];
    reader.read_exact(&mut answer)?;
    Ok((status, String::from_utf8_lossy(&answer).into_owned()))
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
    env.expect_sockets(&deployment, 1, 10, Duration::from_millis(2500)).await;
    let lease = env.js(&format!("return window.localStorage.getItem('threadline:{deployment}:leader');")).await;
    assert!(lease.is_string(), "no lease in localStorage: {lease}");

    let agent = format!("agent to both tabs {tag}");
    env.agent_says(&token, &deployment, &agent);
    for tab in [&leader, &second] {
        env.client.switch_to_window(tab.clone()).await.expect("switch tabs");
        let shown = env.wait_messages("the agent message in both tabs", 10, |shown| shown.iter().any(|m| m.text.contains(&agent))).await;
        assert_shown_once_in_order(&shown, &[&before, &agent]);
        assert_unique_ids(&shown);
    }
    env.client.switch_to_window(second.clone()).await.expect("switch tabs");
    env.js(RECORD_TIMED_STATES_JS).await;

    // Close the leader (the first tab: it claimed the lease while alone).
    env.client.switch_to_window(leader.clone()).await.expect("switch tabs");
    let closed_at = env.js("return Date.now();").await.as_f64().expect("page clock");
    env.client.close_window().await.expect("close the leader tab");
    env.client.switch_to_window(second.clone()).await.expect("switch tabs");
    let deadline = Instant::now() + Duration::from_secs(10);
    let reconnected_at = loop {
        if let Some(at) = env.js(RECONNECTED_AT_JS).await.as_f64() {
            break at;
        }
        assert!(Instant::now() < deadline, "no takeover after the leader closed: {}", env.js("return window.__tlTimedStates;").await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let takeover_ms = reconnected_at - closed_at;
    println!("web locks missing: leader tab closed → the other tab connected in {takeover_ms:.0} ms");
    // Worst case without a clean resignation: the lease's TTL (2.5 s) plus one look (1 s).
    assert!((0.0..4000.0).contains(&takeover_ms), "the takeover took {takeover_ms:.0} ms");
    env.expect_sockets(&deployment, 1, 5, Duration::from_millis(1000)).await;
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
    env.expect_sockets(&deployment, 1, 5, Duration::from_millis(500)).await;

    // A second tab cannot join the first: it resumes the stored conversation on its own socket.
    let first = env.client.window().await.expect("the first tab");
    let second = env.open_faulty_tab(&deployment, &faults).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    env.wait_messages("the conversation restored in the second tab", 10, |shown| shown.iter().any(|m| m.text.contains(&agent))).await;
    env.expect_sockets(&deployment, 2, 10, Duration::from_millis(500)).await;
    assert_eq!(env.stored_token(&deployment).await.as_deref(), Some(token.as_str()), "the second tab started another conversation");
    let both = format!("agent to both sockets {tag}");
    env.agent_says(&token, &deployment, &both);
    for tab in [&first, &second] {
        env.client.switch_to_window(tab.clone()).await.expect("switch tabs");
        let shown = env.wait_messages("the agent message in both tabs", 10, |shown| shown.iter().any(|m| m.text.contains(&both))).await;
        assert_shown_once_in_order(&shown, &[&own, &agent, &both]);
        assert_unique_ids(&shown);
    }
    let server: Vec<Value> = env.server_texts(&token, &deployment).into_iter().map(|(_, text)| json!(text)).collect();
    assert_eq!(server.len(), 3, "the server holds other messages than the three: {server:?}");
    env.finish().await;
}
