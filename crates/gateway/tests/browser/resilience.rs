//! Connection states (issue 6 §6): reload resumes, a dropped socket reconnects without
//! duplicates, an agent's ReadOnly disconnect leads to "start new conversation".

use std::time::Duration;

use serde_json::json;

use crate::harness::Env;
use crate::messenger::{assert_shown_once_in_order, assert_unique_ids, nonce};

#[tokio::test]
async fn reload_resumes_the_same_conversation_without_duplicates() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d" })).await;

    let tag = nonce();
    let texts: Vec<String> = ["alpha", "bravo", "charlie", "agent-delta"].iter().map(|t| format!("{t} {tag}")).collect();
    for text in &texts[..3] {
        env.send_and_confirm(text).await;
    }
    let token = env.wait_session_token(&deployment, 5).await;
    env.agent_says(&token, &deployment, &texts[3]);
    let wanted: Vec<&str> = texts.iter().map(String::as_str).collect();
    let before = env
        .wait_messages("three own messages and the agent reply", 10, |shown| {
            wanted.iter().all(|t| shown.iter().any(|m| m.text.contains(t)))
                && shown.iter().filter(|m| m.direction == "inbound").all(|m| m.status == "sent")
        })
        .await;
    assert_shown_once_in_order(&before, &wanted);
    assert_unique_ids(&before);
    let agent = before.iter().find(|m| m.text.contains(&texts[3])).expect("agent message");
    assert_eq!((agent.direction.as_str(), agent.author.as_str()), ("outbound", "agent"), "agent reply attributes: {agent:?}");
    for own in before.iter().filter(|m| texts[..3].iter().any(|t| m.text.contains(t))) {
        assert_eq!((own.direction.as_str(), own.author.as_str()), ("inbound", "customer"), "own message attributes: {own:?}");
    }
    env.screenshot("conversation").await;

    env.client.refresh().await.expect("reload the page");
    env.wait_for("[data-testid=launcher]", 20).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    // A late history page or a replayed frame gets a second to show up as a duplicate.
    let after = env.expect_exactly("the transcript restored after reload", &wanted, Duration::from_millis(1000)).await;
    assert_eq!(env.stored_token(&deployment).await.as_deref(), Some(token.as_str()), "the reload changed the token");
    // Same ids before and after: a message keeps its identity (data-id) across a reload.
    let after_ids: Vec<&str> = after.iter().map(|m| m.id.as_str()).collect();
    let before_ids: Vec<&str> = before.iter().map(|m| m.id.as_str()).collect();
    let server: Vec<String> = env.server_texts(&token, &deployment).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        after_ids, before_ids,
        "message data-id values changed across the reload (server message ids: {server:?})"
    );
    env.finish().await;
}

#[tokio::test]
async fn dropped_socket_reconnects_without_duplicates() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d" })).await;
    env.record_status_history().await;

    let tag = nonce();
    let texts: Vec<String> = ["before-own", "before-agent", "after-own", "after-agent"].iter().map(|t| format!("{t} {tag}")).collect();
    env.send_and_confirm(&texts[0]).await;
    let token = env.wait_session_token(&deployment, 5).await;
    env.agent_says(&token, &deployment, &texts[1]);
    env.wait_messages("the agent message before the drop", 10, |shown| shown.iter().any(|m| m.text.contains(&texts[1]))).await;

    // Slow the server's frames so the reconnect lasts long enough to be photographed.
    env.set_faults(json!({ "deploymentId": deployment, "delayMs": 1500 }));
    let dropped = env.control(&token, &deployment, "drop", json!({}));
    assert_eq!(dropped["dropped"], json!(1), "/drop should abort the page's one socket: {dropped}");
    env.wait_js("(window.__tlStates || []).includes('reconnecting')", json!(true), 10).await;
    env.screenshot("reconnecting").await;
    env.clear_faults();
    env.wait_status("connected", 15).await;
    let history = env.status_history().await;
    let reconnecting_at = history.iter().position(|s| s == "reconnecting").expect("recorded reconnecting");
    assert!(
        history[reconnecting_at..].iter().any(|s| s == "connected"),
        "status never returned to connected after reconnecting: {history:?}"
    );

    env.send_and_confirm(&texts[2]).await;
    env.agent_says(&token, &deployment, &texts[3]);
    let wanted: Vec<&str> = texts.iter().map(String::as_str).collect();
    env.expect_exactly("all four messages after the reconnect", &wanted, Duration::from_millis(1000)).await;
    let server = env.server_texts(&token, &deployment);
    assert_eq!(server.len(), 4, "the server stored a message twice or lost one: {server:?}");
    env.finish().await;
}

/// The composer counts as disabled when its field is disabled/read-only/aria-disabled, or when
/// the read-only state does not render it at all (nothing to type into).
const COMPOSER_DISABLED_JS: &str = r#"
const c = document.querySelector('[data-testid=composer]');
if (!c) return true;
const f = c.matches('textarea,input') ? c : c.querySelector('textarea,input,[contenteditable]');
const off = e => !!e && (e.disabled === true || e.readOnly === true || e.getAttribute('aria-disabled') === 'true'
  || e.getAttribute('contenteditable') === 'false');
return off(c) || off(f) || !!c.closest('fieldset[disabled]');
"#;

#[tokio::test]
async fn agent_read_only_disconnect_then_start_new_conversation() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d" })).await;
    assert_eq!(env.js(COMPOSER_DISABLED_JS).await, json!(false), "the composer is disabled while connected");

    let tag = nonce();
    let own = format!("hello {tag}");
    let reply = format!("thanks, goodbye {tag}");
    env.send_and_confirm(&own).await;
    let token = env.wait_session_token(&deployment, 5).await;
    let first_conversation = env.session(&token, &deployment)["conversationId"].clone();
    env.agent_says(&token, &deployment, &reply);
    env.wait_messages("the agent reply", 10, |shown| shown.iter().any(|m| m.text.contains(&reply))).await;

    env.control(&token, &deployment, "disconnect", json!({ "readOnly": true }));
    env.wait_status("read-only", 10).await;
    assert_eq!(env.js(COMPOSER_DISABLED_JS).await, json!(true), "the composer is still enabled in the read-only state");
    let start_new = env.wait_for("[data-testid=start-new]", 5).await;
    assert!(start_new.is_displayed().await.expect("start-new displayed"), "start-new is not visible");
    env.screenshot("read-only").await;
    // Regression: the read-only status squeezed the header title into "Chat wit…" and cut the
    // status itself mid-word; both now have a line of their own and fit.
    let clipped = env
        .js("const texts = [...document.querySelectorAll('.tl-title, .tl-status-text')]; \
             return [texts.length, texts.filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent)];")
        .await;
    assert_eq!(clipped[0], json!(2), "the header's title and status text were not found");
    assert_eq!(clipped[1], json!([]), "header text clipped in the read-only state");

    start_new.click().await.expect("click start-new");
    env.wait_status("connected", 10).await;
    env.wait_messages("an empty transcript for the new conversation", 5, <[_]>::is_empty).await;
    assert_eq!(env.js(COMPOSER_DISABLED_JS).await, json!(false), "the composer stays disabled in the new conversation");
    let fresh = format!("new question {tag}");
    env.send_and_confirm(&fresh).await;
    let session = env.wait_session_token(&deployment, 5).await;
    let second_conversation = env.session(&session, &deployment)["conversationId"].clone();
    assert_ne!(second_conversation, first_conversation, "start-new did not start a new conversation on the server");
    let shown = env.messages().await;
    assert_eq!(shown.len(), 1, "only the new conversation's message should show: {shown:#?}");
    env.finish().await;
}

/// Keeps the kind (`hello`, `event`, `snapshot`…) of each message this tab posts on its
/// `BroadcastChannel` in `window.__tlPosts`; installed after load (calls look the method up).
const RECORD_TAB_POSTS_JS: &str = "window.__tlPosts = []; \
    const post = BroadcastChannel.prototype.postMessage; \
    BroadcastChannel.prototype.postMessage = function (message) { \
      const json = Array.isArray(message) ? message[0] : message; \
      try { window.__tlPosts.push(JSON.parse(json)[0]); } catch (_) { window.__tlPosts.push('?'); } \
      return post.apply(this, arguments); \
    };";

#[tokio::test]
async fn second_tab_shares_the_conversation_without_duplicates() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d" })).await;
    // Regression (a leader alone mirrored every engine event to nobody): record the kinds of
    // message the first tab posts to the other tabs.
    env.js(RECORD_TAB_POSTS_JS).await;
    let tag = nonce();
    let from_first = format!("from the first tab {tag}");
    env.send_and_confirm(&from_first).await;
    let token = env.wait_session_token(&deployment, 5).await;
    let first = env.client.window().await.expect("first window");
    let alone = env.js("return window.__tlPosts;").await;
    assert!(!alone.to_string().contains("\"event\""), "a tab alone mirrored engine events to no one: {alone}");

    // Same origin, same localStorage: the second tab resumes the same session and transcript.
    env.open_tab(&deployment).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    env.wait_messages("the first tab's message in the second tab", 10, |shown| shown.iter().any(|m| m.text.contains(&from_first))).await;
    assert_eq!(env.stored_token(&deployment).await.as_deref(), Some(token.as_str()), "the second tab uses another token");
    let from_second = format!("from the second tab {tag}");
    env.send_and_confirm(&from_second).await;
    // One connection per browser (issue 8): the second tab mirrors the first tab's socket.
    assert_eq!(env.session(&token, &deployment)["sockets"], json!(1), "two tabs should share one socket of one token");

    // The first tab shows the second tab's message as its own (inbound), once.
    env.switch_to(&first).await;
    let wanted = [from_first.as_str(), from_second.as_str()];
    env.wait_messages("the second tab's message in the first tab", 10, |shown| {
        shown.iter().any(|m| m.text.contains(&from_second) && m.direction == "inbound")
    })
    .await;
    let joined = env.js("return window.__tlPosts;").await;
    assert!(joined.to_string().contains("\"event\""), "the leader did not mirror events once a second tab joined: {joined}");
    let shown = env.expect_exactly("both tabs' messages in the first tab", &wanted, Duration::from_millis(500)).await;
    assert!(shown.iter().all(|m| m.direction == "inbound" && m.author == "customer"), "attribution: {shown:#?}");
    env.finish().await;
}
