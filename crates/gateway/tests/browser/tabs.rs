//! One connection per browser and the durable outbox (issue 8 §3–§4): tabs of one deployment
//! share a single WebSocket (counted at the gateway's control API), mirror the transcript, hand
//! the connection over when the leader tab closes or freezes, and a message sent while the
//! connection is down survives a reload and reaches the server once. A follower tab's file is
//! uploaded by the leader; a new agent message rings in one tab only.

use std::time::Duration;

use fantoccini::wd::WindowHandle;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::files::{choose_png, download_attachment, own_image, server_attachments, solid_png};
use crate::harness::{http_request, Env};
use crate::messenger::{assert_shown_once_in_order, assert_unique_ids, nonce};
use crate::windows::{first_reconnect, RECORD_TIMED_STATES_JS};

/// The unread badge's number (0 when there is no badge), as an expression.
const UNREAD_JS: &str = "(b => b ? parseInt(b.textContent, 10) : 0)(document.querySelector('[data-testid=unread-badge]'))";

impl Env {
    /// Sets the page lifecycle state (`frozen`, `active`) of the tab whose URL ends with
    /// `marker`, over a DevTools connection of its own: chromedriver's `goog/cdp/execute` waits
    /// on the frozen page and never answers.
    async fn set_lifecycle_state(&self, marker: &str, state: &str) {
        let capabilities = self.client.capabilities().expect("the session's capabilities");
        let address = capabilities
            .get("goog:chromeOptions")
            .and_then(|options| options["debuggerAddress"].as_str())
            .unwrap_or_else(|| panic!("no goog:chromeOptions.debuggerAddress in {capabilities:?}"))
            .to_string();
        let targets = devtools_targets(&address);
        let socket_url = targets
            .as_array()
            .into_iter()
            .flatten()
            .find(|target| target["type"] == "page" && target["url"].as_str().is_some_and(|url| url.ends_with(marker)))
            .and_then(|target| target["webSocketDebuggerUrl"].as_str())
            .unwrap_or_else(|| panic!("no page ending in {marker} among {targets}"))
            .to_string();
        let (mut socket, _) = tokio_tungstenite::connect_async(socket_url.as_str()).await.expect("connect to the tab's DevTools socket");
        let command = json!({ "id": 1, "method": "Page.setWebLifecycleState", "params": { "state": state } });
        socket.send(Message::Text(command.to_string().into())).await.expect("send the DevTools command");
        let answer = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                    if value["id"] == json!(1) {
                        return value;
                    }
                }
            }
            Value::Null
        })
        .await
        .expect("the DevTools command was not answered within 5 s");
        assert!(answer.get("error").is_none() && answer.get("result").is_some(), "Page.setWebLifecycleState {state}: {answer}");
        let _ = socket.close(None).await;
    }

    /// `[data-testid=message]` elements whose text contains `text`, with their queued flag.
    async fn queued_flags(&self, text: &str) -> Vec<(String, bool)> {
        let script = "const t = arguments[0]; return Array.from(document.querySelectorAll('[data-testid=message]'))\
            .filter(m => (m.textContent || '').includes(t))\
            .map(m => [m.getAttribute('data-status') || '', m.getAttribute('data-queued') === 'true']);";
        let value = self.client.execute(script, vec![json!(text)]).await.expect("read queued flags");
        value
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|pair| (pair[0].as_str().unwrap_or_default().to_string(), pair[1].as_bool().unwrap_or(false)))
            .collect()
    }
}

/// Three tabs, one socket; an agent message shows in all three; the unread count is shared.
#[tokio::test]
async fn three_tabs_share_one_connection_and_one_unread_count() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d" })).await;
    let tag = nonce();
    let own = format!("first tab says hi {tag}");
    env.send_and_confirm(&own).await;
    let token = env.wait_session_token(&deployment, 5).await;
    let first = env.client.window().await.expect("first tab");

    let second = env.open_tab(&deployment).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    let third = env.open_tab(&deployment).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    env.wait_messages("the first tab's message in a tab opened later", 10, |shown| shown.iter().any(|m| m.text.contains(&own))).await;
    env.wait_sockets(&deployment, 1, 5, Duration::from_millis(1500)).await;

    // A follower's message goes through the leader: once on the server, shown in every tab.
    let from_third = format!("third tab answers {tag}");
    env.send_and_confirm(&from_third).await;
    let agent = format!("agent to every tab {tag}");
    env.agent_says(&token, &deployment, &agent);
    let wanted = [own.as_str(), from_third.as_str(), agent.as_str()];
    for tab in [&first, &second, &third] {
        env.switch_to(tab).await;
        let shown = env.wait_texts("all three messages in every tab", 10, &wanted).await;
        assert_shown_once_in_order(&shown, &wanted);
        assert_unique_ids(&shown);
        let agent_row = shown.iter().find(|m| m.text.contains(&agent)).expect("agent message");
        assert_eq!((agent_row.direction.as_str(), agent_row.author.as_str()), ("outbound", "agent"), "{agent_row:?}");
        assert!(shown.iter().filter(|m| m.direction == "inbound").all(|m| m.status == "sent"), "own messages not sent: {shown:#?}");
    }
    let server = env.server_texts(&token, &deployment);
    assert_eq!(server.len(), 3, "the server should hold each message once: {server:?}");
    assert_eq!(env.sockets(&deployment), 1, "still one socket after traffic from every tab");
    env.screenshot("tabs-three-tabs").await;

    // Unread: with every panel closed one agent message counts once, shown in every tab; reading
    // it in one tab clears the badge everywhere.
    for tab in [&first, &second, &third] {
        env.switch_to(tab).await;
        env.close_messenger().await;
    }
    let unread = format!("while nobody looks {tag}");
    env.agent_says(&token, &deployment, &unread);
    for tab in [&first, &second, &third] {
        env.switch_to(tab).await;
        env.wait_js(UNREAD_JS, json!(1), 10).await;
    }
    env.switch_to(&second).await;
    env.open_messenger().await;
    for tab in [&first, &third] {
        env.switch_to(tab).await;
        env.wait_js(UNREAD_JS, json!(0), 10).await;
    }
    env.finish().await;
}

/// Closing the leader tab: another tab holds the one socket within a second, same token, and
/// nothing shows twice.
#[tokio::test]
async fn closing_the_leader_tab_hands_the_connection_over_within_a_second() {
    let env = Env::start().await;
    let ThreeTabs { deployment, token, tag, before, leader, second, third } = ThreeTabs::open(&env, "before the handover").await;

    // Close the leader (the first tab holds the lock: it was elected first).
    env.switch_to(&leader).await;
    let closed_at = env.js("return Date.now();").await.as_f64().expect("page clock");
    env.client.close_window().await.expect("close the leader tab");
    env.switch_to(&second).await;

    // Both remaining tabs see the new leader connect (a follower mirrors its states).
    let handover_ms = first_reconnect(&env, &[&second, &third], "the leader closed").await - closed_at;
    assert!(handover_ms >= 0.0, "a reconnect recorded before the leader closed ({handover_ms:.0} ms)");
    println!("leader closed → new leader connected: {handover_ms:.0} ms");
    assert!(handover_ms < 1000.0, "the handover took {handover_ms:.0} ms (> 1 s)");
    env.wait_sockets(&deployment, 1, 5, Duration::from_millis(1000)).await;
    assert_eq!(env.stored_token(&deployment).await.as_deref(), Some(token.as_str()), "the new leader changed the token");

    // The conversation goes on from either tab, with nothing duplicated.
    let after = format!("typed once another tab leads {tag}");
    env.send_and_confirm(&after).await;
    let agent = format!("agent answers later {tag}");
    env.agent_says(&token, &deployment, &agent);
    let wanted = [before.as_str(), after.as_str(), agent.as_str()];
    for tab in [&second, &third] {
        env.switch_to(tab).await;
        env.expect_exactly("every message after the handover", &wanted, Duration::from_millis(500)).await;
    }
    let server = env.server_texts(&token, &deployment);
    assert_eq!(server.len(), 3, "the server stored a message twice or lost one: {server:?}");
    env.finish().await;
}

/// A message sent while the connection is down shows as queued, survives a reload, and is
/// delivered once when the connection comes back.
#[tokio::test]
async fn a_message_queued_offline_survives_a_reload_and_is_sent_once() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d" })).await;
    let tag = nonce();
    let online = format!("sent while online {tag}");
    env.send_and_confirm(&online).await;
    let token = env.wait_session_token(&deployment, 5).await;

    // Keep the link down: every socket is aborted before its first frame (so no session is
    // ever configured), and the current one is dropped.
    env.set_faults(json!({ "deploymentId": deployment, "dropAfterFrames": 0 }));
    let dropped = env.control(&token, &deployment, "drop", json!({}));
    assert_eq!(dropped["dropped"], json!(1), "one socket to drop: {dropped}");
    env.wait_js(
        "(document.querySelector('[data-testid=status]') || {}).getAttribute?.('data-state') !== 'connected'",
        json!(true),
        10,
    )
    .await;

    let offline = format!("typed while offline {tag}");
    env.type_and_send(&offline).await;
    env.wait_messages("the offline message shown", 5, |shown| shown.iter().any(|m| m.text.contains(&offline))).await;
    assert_eq!(env.queued_flags(&offline).await, vec![("sending".to_string(), true)], "the offline message is not shown as queued");
    let stored = env.js(&format!("return window.localStorage.getItem('threadline:{deployment}:outbox');")).await;
    assert!(stored.as_str().is_some_and(|outbox| outbox.contains(&offline)), "the outbox is not in storage: {stored}");
    env.screenshot("tabs-queued").await;

    // Reload while the link is still down: the message is restored from storage, still queued.
    env.client.refresh().await.expect("reload the page");
    env.wait_for("[data-testid=launcher]", 20).await;
    env.open_messenger().await;
    env.wait_messages("the queued message after the reload", 10, |shown| shown.iter().any(|m| m.text.contains(&offline))).await;
    assert_eq!(env.queued_flags(&offline).await, vec![("sending".to_string(), true)], "the restored message is not shown as queued");
    assert!(
        !env.server_texts(&token, &deployment).iter().any(|(_, text)| text.contains(&offline)),
        "the server got the message while the link was down"
    );

    // Back online: sent once, after the history reconciled it (engine rule), in order.
    env.clear_faults();
    env.wait_status("connected", 40).await;
    env.wait_messages("the queued message delivered", 15, |shown| {
        shown.iter().any(|m| m.text.contains(&offline) && m.status == "sent")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let shown = env.messages().await;
    let wanted = [online.as_str(), offline.as_str()];
    assert_shown_once_in_order(&shown, &wanted);
    assert_unique_ids(&shown);
    assert_eq!(env.queued_flags(&offline).await, vec![("sent".to_string(), false)]);
    let server: Vec<String> = env.server_texts(&token, &deployment).into_iter().map(|(_, text)| text).collect();
    assert_eq!(server.iter().filter(|text| text.contains(&offline)).count(), 1, "stored other than once: {server:?}");
    assert_eq!(server.len(), 2, "the server holds other messages than the two sent: {server:?}");
    let outbox: Value = env.js(&format!("return window.localStorage.getItem('threadline:{deployment}:outbox');")).await;
    assert_eq!(outbox, Value::Null, "the outbox was not emptied after delivery");
    env.finish().await;
}

/// Three tabs of one conversation after one confirmed customer message (`before`): the first
/// tab leads and holds the one socket; every tab records its timed status log.
struct ThreeTabs {
    deployment: String,
    token: String,
    tag: String,
    before: String,
    leader: WindowHandle,
    second: WindowHandle,
    third: WindowHandle,
}

impl ThreeTabs {
    async fn open(env: &Env, first_message: &str) -> ThreeTabs {
        let deployment = env.open_connected(json!({ "guestSessionTtl": "1d" })).await;
        let tag = nonce();
        let before = format!("{first_message} {tag}");
        env.send_and_confirm(&before).await;
        let token = env.wait_session_token(&deployment, 5).await;
        let leader = env.client.window().await.expect("leader tab");
        let second = env.open_tab(&deployment).await;
        env.open_messenger().await;
        env.wait_messages("the transcript in the second tab", 10, |shown| shown.iter().any(|m| m.text.contains(&before))).await;
        env.js(RECORD_TIMED_STATES_JS).await;
        let third = env.open_tab(&deployment).await;
        env.open_messenger().await;
        env.wait_messages("the transcript in the third tab", 10, |shown| shown.iter().any(|m| m.text.contains(&before))).await;
        env.js(RECORD_TIMED_STATES_JS).await;
        env.wait_sockets(&deployment, 1, 5, Duration::from_millis(500)).await;
        ThreeTabs { deployment, token, tag, before, leader, second, third }
    }
}

/// A frozen leader (the page lifecycle's `freeze`, as Chrome does to background tabs) resigns:
/// another tab holds the one socket within a second, with the same token, and the frozen tab
/// follows when it resumes.
#[tokio::test]
async fn freezing_the_leader_tab_hands_the_connection_over_within_a_second() {
    let env = Env::start().await;
    let ThreeTabs { deployment, token, tag, before, leader, second, third } = ThreeTabs::open(&env, "before the freeze").await;

    env.switch_to(&leader).await;
    // A URL only this tab has, to find it among the DevTools targets.
    env.js("history.replaceState(null, '', location.href + '#frozen-leader');").await;
    env.switch_to(&second).await;
    let frozen_at = env.js("return Date.now();").await.as_f64().expect("page clock");
    env.set_lifecycle_state("#frozen-leader", "frozen").await;
    let handover_ms = first_reconnect(&env, &[&second, &third], "the leader froze").await - frozen_at;
    println!("leader frozen → new leader connected: {handover_ms:.0} ms");
    assert!(handover_ms >= 0.0, "a reconnect recorded before the leader froze ({handover_ms:.0} ms)");
    assert!(handover_ms < 1000.0, "the handover took {handover_ms:.0} ms (> 1 s)");
    env.wait_sockets(&deployment, 1, 5, Duration::from_millis(1000)).await;
    let during = format!("sent while the old leader is frozen {tag}");
    env.send_and_confirm(&during).await;

    // The frozen tab wakes up: it follows (no second socket) and catches up.
    env.set_lifecycle_state("#frozen-leader", "active").await;
    env.switch_to(&leader).await;
    env.wait_messages("the resumed tab catches up", 10, |shown| shown.iter().any(|m| m.text.contains(&during))).await;
    env.wait_sockets(&deployment, 1, 5, Duration::from_millis(1500)).await;
    let agent = format!("agent after the thaw {tag}");
    env.agent_says(&token, &deployment, &agent);
    let wanted = [before.as_str(), during.as_str(), agent.as_str()];
    for tab in [&leader, &second, &third] {
        env.switch_to(tab).await;
        let shown = env.wait_texts("every message in every tab", 10, &wanted).await;
        assert_shown_once_in_order(&shown, &wanted);
        assert_unique_ids(&shown);
    }
    assert_eq!(env.stored_token(&deployment).await.as_deref(), Some(token.as_str()), "the token changed over the freeze");
    assert_eq!(env.server_texts(&token, &deployment).len(), 3, "the server holds other than the three messages");
    env.finish().await;
}

/// Records, in the current tab, the upload rows it showed and the highest progress.
const RECORD_UPLOADS_JS: &str = r#"
    window.__tlUploads = { names: [], maxPercent: -1 };
    const note = () => document.querySelectorAll('.tl-upload').forEach(row => {
      const text = row.textContent || '';
      if (!window.__tlUploads.names.includes(text)) window.__tlUploads.names.push(text);
      const bar = row.querySelector('progress');
      const percent = bar ? Number(bar.getAttribute('value')) : -1;
      window.__tlUploads.maxPercent = Math.max(window.__tlUploads.maxPercent, percent);
    });
    new MutationObserver(note).observe(document.documentElement,
      { subtree: true, childList: true, attributes: true, characterData: true });
"#;

/// A leader tab (connected, one message sent) and a follower tab showing the panel, both
/// recording the upload rows they show; the follower is the current window.
struct TwoTabs {
    deployment: String,
    token: String,
    leader: WindowHandle,
    follower: WindowHandle,
}

impl TwoTabs {
    async fn open(env: &Env) -> TwoTabs {
        let deployment = env
            .open_connected(json!({
                "guestSessionTtl": "1d",
                "attachments": { "fileTypes": ["image/*"], "maxFileSizeKB": 10240, "blockedExtensions": [".exe"] }
            }))
            .await;
        let hello = format!("leader tab says hi {}", nonce());
        env.send_and_confirm(&hello).await;
        let token = env.wait_session_token(&deployment, 5).await;
        let leader = env.client.window().await.expect("leader tab");
        env.js(RECORD_UPLOADS_JS).await;
        let follower = env.open_tab(&deployment).await;
        env.open_messenger().await;
        env.wait_messages("the transcript in the follower", 10, |shown| shown.iter().any(|m| m.text.contains(&hello))).await;
        env.wait_sockets(&deployment, 1, 5, Duration::from_millis(500)).await;
        env.js(RECORD_UPLOADS_JS).await;
        TwoTabs { deployment, token, leader, follower }
    }
}

/// The leader tab closes while it uploads a follower's file (the server's answers are held
/// back 2 s): the follower, now leading, uploads the file itself, and it is sent once.
/// Regression: the file was handed to the leader and forgotten, so it was lost with the leader.
#[tokio::test]
async fn a_follower_file_survives_the_leader_closing_mid_upload() {
    let env = Env::start().await;
    let TwoTabs { deployment, token, leader, follower } = TwoTabs::open(&env).await;
    env.set_faults(json!({ "deploymentId": deployment, "delayMs": 2000 }));

    let png = solid_png(64, 48, [0xcc, 0x44, 0x22]);
    choose_png(&env, "while-the-leader-closes.png", &png).await;
    // The leader took the file: its upload row (shared with every tab) shows in the follower.
    env.wait_js("window.__tlUploads.names.length > 0", json!(true), 10).await;
    env.switch_to(&leader).await;
    env.client.close_window().await.expect("close the leader tab");
    env.clear_faults();
    env.switch_to(&follower).await;

    env.wait_messages("the image message, sent by the new leader", 20, |shown| own_image(shown).is_some()).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let shown = env.messages().await;
    assert_eq!(shown.iter().filter(|m| m.images > 0).count(), 1, "the image shows other than once: {shown:#?}");
    assert_unique_ids(&shown);
    let (session, attachments) = server_attachments(&env, &token, &deployment);
    assert_eq!(attachments.len(), 1, "the gateway should hold the image once: {session}");
    // The closed leader's socket ends on the server once its held-back frames are written.
    env.wait_sockets(&deployment, 1, 5, Duration::from_millis(500)).await;
    env.finish().await;
}

/// A follower tab attaches an image: the leader uploads it (the follower's `File` crosses the
/// BroadcastChannel), both tabs show the upload and then the image inline, the gateway stores
/// it once, and there is still one socket. Regression: the picked `File` itself crossed the
/// channel, and the leader's upload failed with a network error (Chrome lets only the tab that
/// picked a file read it from disk).
#[tokio::test]
async fn a_follower_tab_sends_an_attachment_through_the_leader() {
    let env = Env::start().await;
    let TwoTabs { deployment, token, leader, follower } = TwoTabs::open(&env).await;

    // Large enough (≈1.1 MB, stored PNG blocks) that the upload row is seen on its way.
    let png = solid_png(620, 600, [0x22, 0x88, 0xcc]);
    choose_png(&env, "from-the-follower.png", &png).await;

    for (tab, which) in [(&follower, "follower"), (&leader, "leader")] {
        env.switch_to(tab).await;
        env.wait_messages(&format!("the image message, sent, in the {which}"), 20, |shown| own_image(shown).is_some()).await;
        env.wait_image_loaded("inbound").await;
        let shown = env.messages().await;
        assert_eq!(shown.iter().filter(|m| m.images > 0).count(), 1, "the image shows other than once in the {which}: {shown:#?}");
        assert_unique_ids(&shown);
        let uploads = env.js("return window.__tlUploads;").await;
        assert!(
            uploads["names"].as_array().is_some_and(|names| names.iter().any(|name| name.as_str().unwrap_or_default().contains("from-the-follower.png"))),
            "the {which} never showed the upload in progress: {uploads}"
        );
        assert_eq!(env.js("return document.querySelectorAll('.tl-upload').length;").await, json!(0), "an upload row stayed in the {which}");
        assert!(
            env.js("return (document.querySelector('.tl-alert') || {}).textContent || '';").await.as_str().unwrap_or_default().is_empty(),
            "an alert shows in the {which}"
        );
    }
    env.screenshot("tabs-follower-attachment").await;

    let (session, attachments) = server_attachments(&env, &token, &deployment);
    assert_eq!(attachments.len(), 1, "the gateway should hold the image once: {session}");
    let download = download_attachment(&env, &attachments[0]);
    assert_eq!(download.body, png, "the stored bytes differ from the follower's file");
    assert_eq!(env.sockets(&deployment), 1, "the follower opened a socket of its own");
    env.finish().await;
}

/// Counts `threadline:notify` events in the current tab.
const COUNT_ALERTS_JS: &str = "window.__tlAlerts = []; \
    window.addEventListener('threadline:notify', e => window.__tlAlerts.push(e.detail));";

/// The `threadline:notify` events each of `tabs` counted (`COUNT_ALERTS_JS`), in this order.
async fn alerts_in(env: &Env, tabs: &[&WindowHandle]) -> Vec<Value> {
    let mut alerts = Vec::new();
    for tab in tabs {
        env.switch_to(tab).await;
        alerts.push(env.js("return window.__tlAlerts;").await);
    }
    alerts
}

/// With three tabs and the sound on, one agent message nobody is reading rings once in all
/// (the tab holding the connection), and a message read in an open panel does not ring.
#[tokio::test]
async fn a_new_agent_message_rings_in_one_tab_only() {
    let env = Env::start().await;
    let deployment = env.create_deployment(json!({ "guestSessionTtl": "1d" }));
    env.open_page_with(&deployment, "&sound=1").await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    let tag = nonce();
    env.send_and_confirm(&format!("hello {tag}")).await;
    let token = env.wait_session_token(&deployment, 5).await;
    let first = env.client.window().await.expect("first tab");
    let second = env.open_tab_with(&deployment, "&sound=1").await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    let third = env.open_tab_with(&deployment, "&sound=1").await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    env.wait_sockets(&deployment, 1, 5, Duration::from_millis(500)).await;
    let tabs = [&first, &second, &third];
    for tab in tabs {
        env.switch_to(tab).await;
        env.js(COUNT_ALERTS_JS).await;
        env.close_messenger().await;
    }

    let unread = format!("nobody is looking {tag}");
    env.agent_says(&token, &deployment, &unread);
    for tab in tabs {
        env.switch_to(tab).await;
        env.wait_js(UNREAD_JS, json!(1), 10).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alerts = alerts_in(&env, &tabs).await;
    let count = |alerts: &[Value]| alerts.iter().map(|a| a.as_array().map_or(0, Vec::len)).sum::<usize>();
    assert_eq!(count(&alerts), 1, "one message should alert once across the tabs: {alerts:?}");
    assert_eq!(alerts[0].as_array().map(Vec::len), Some(1), "the tab holding the connection alerts: {alerts:?}");
    assert_eq!(alerts[0][0]["sound"], json!(true), "{alerts:?}");
    assert!(alerts[0][0]["body"].as_str().unwrap_or_default().contains(&unread), "{alerts:?}");
    assert_eq!(alerts[0][0]["notification"], json!(false), "notifications are off and the page holds no permission");

    // Read in an open panel (another tab): no alert. 1.2 s after the first, past the beep gap.
    env.switch_to(&third).await;
    env.open_messenger().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let read = format!("read at once {tag}");
    env.agent_says(&token, &deployment, &read);
    env.wait_messages("the read message", 10, |shown| shown.iter().any(|m| m.text.contains(&read))).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alerts = alerts_in(&env, &tabs).await;
    assert_eq!(count(&alerts), 1, "a message shown in an open panel alerted: {alerts:?}");
    env.finish().await;
}

/// DevTools' `/json/list` (the tabs with their DevTools sockets). `http_request` reads up to
/// `Content-Length`, so Chrome keeping the connection open does not stall it.
fn devtools_targets(address: &str) -> Value {
    http_request(address, "GET", "/json/list", None).1
}
