//! Authenticated messaging (issue 5 §2, §4): the built-in sign-in (authorization code + PKCE
//! against the gateway's development IdP) on the app's own page with `?auth=1`, resuming after a
//! reload, starting a new conversation, silent JWT refresh, a revoked refresh token, and
//! sign-out leaving no token in the browser's storage.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::harness::Env;
use crate::messenger::{assert_unique_ids, nonce};

/// Every string value in localStorage and sessionStorage, as `[area, key, value]` triples.
const STORAGE_JS: &str = r#"
const dump = (area, store) => Array.from({ length: store.length }, (_, i) => store.key(i))
  .map(key => [area, key, store.getItem(key) || '']);
return dump('localStorage', window.localStorage).concat(dump('sessionStorage', window.sessionStorage));
"#;

impl Env {
    /// A deployment with sign-in (and guest → customer step-up) turned on.
    fn auth_deployment(&self) -> String {
        self.create_deployment(json!({ "name": "Signed-in shop", "auth": { "enabled": true, "allowSessionUpgrade": true } }))
    }

    /// Loads the app's own page with sign-in turned on (`?auth=1`).
    async fn open_auth_page(&self, deployment: &str) {
        self.open_page_with(deployment, "&auth=1").await;
    }

    /// Clicks `button` (`sign-in` or `sign-in-again`), signs in as `user` on the IdP's page and
    /// waits until the messenger is back, signed in and connected, with its panel open.
    async fn sign_in_with(&self, button: &str, user: &str) {
        self.open_messenger().await;
        self.wait_for(&format!("[data-testid={button}]:not([disabled])"), 10).await.click().await.expect("click sign-in");
        let select = self.wait_for("select[data-testid=login-user]", 15).await;
        select.select_by_value(user).await.expect("choose the demo user");
        self.wait_for("button[data-testid=login-submit]", 5).await.click().await.expect("submit the IdP form");
        self.wait_for("[data-testid=launcher]", 20).await;
        self.wait_state("account", "signed-in", 15).await;
        self.open_messenger().await;
        self.wait_status("connected", 15).await;
    }

    /// The signed-in session of `deployment` with an open socket (waiting for it).
    async fn wait_signed_in_session(&self, deployment: &str, sub: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let found = self.sessions(deployment).into_iter().find(|session| {
                session["authenticated"] == json!(true)
                    && session["user"]["sub"] == json!(sub)
                    && session["sockets"].as_u64().unwrap_or(0) > 0
                    && session["state"] == json!("active")
            });
            if let Some(session) = found {
                return session;
            }
            if Instant::now() >= deadline {
                panic!("no connected session signed in as {sub} within {secs} s: {:#?}", self.sessions(deployment));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `[area, key, value]` for every entry in localStorage and sessionStorage.
    async fn storage_entries(&self) -> Vec<(String, String, String)> {
        let value = self.js(STORAGE_JS).await;
        value
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|entry| {
                let field = |i: usize| entry[i].as_str().unwrap_or_default().to_string();
                (field(0), field(1), field(2))
            })
            .collect()
    }

    /// The refresh token this tab keeps for `deployment` (sessionStorage), if any.
    async fn stored_refresh_token(&self, deployment: &str) -> Option<String> {
        let script = format!("return window.sessionStorage.getItem('threadline:{deployment}:refreshToken');");
        self.js(&script).await.as_str().map(str::to_string)
    }

    /// How many `POST …/token/refresh` calls the page made since it loaded.
    async fn refresh_calls(&self) -> u64 {
        let script = "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v2/webdeployments/token/refresh')).length;";
        self.js(script).await.as_u64().unwrap_or(0)
    }
}

/// True for anything shaped like a JWT (`eyJ…`, three dot-separated base64url parts).
fn looks_like_jwt(value: &str) -> bool {
    value.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).any(|word| {
        let parts: Vec<&str> = word.split('.').collect();
        parts.len() == 3 && word.starts_with("eyJ") && parts.iter().all(|part| !part.is_empty())
    })
}

#[tokio::test]
async fn sign_in_chat_and_reload_resume_the_same_conversation() {
    let env = Env::start().await;
    let deployment = env.auth_deployment();
    env.open_auth_page(&deployment).await;
    env.sign_in_with("sign-in", "alice").await;
    env.screenshot("auth-signed-in").await;

    // The IdP's code and state never stay in the address bar; the page's own settings do.
    let url = env.client.current_url().await.expect("current URL").to_string();
    assert!(!url.contains("code=") && !url.contains("state="), "the sign-in code stayed in the URL: {url}");
    assert!(url.contains(&format!("deploymentId={deployment}")) && url.contains("auth=1"), "the page lost its settings: {url}");

    let said = format!("signed-in hello {}", nonce());
    env.send_and_confirm(&said).await;
    let before = env.wait_signed_in_session(&deployment, "alice", 10).await;
    let conversation = before["conversationId"].as_str().expect("conversationId").to_string();
    let shown_before = env.messages().await;
    let own_before = shown_before.iter().find(|m| m.text.contains(&said)).expect("own message shown").id.clone();
    assert!(env.stored_refresh_token(&deployment).await.is_some(), "the refresh token should be kept in sessionStorage");

    // Reload: the JWT is gone with the page; the refresh token in sessionStorage gets a new one
    // and the same conversation resumes with its full transcript.
    env.client.refresh().await.expect("reload");
    env.wait_for("[data-testid=launcher]", 20).await;
    env.wait_state("account", "signed-in", 15).await;
    env.open_messenger().await;
    env.wait_status("connected", 15).await;
    let shown = env
        .wait_messages("the transcript after the reload", 15, |shown| shown.iter().any(|m| m.text.contains(&said)))
        .await;
    assert_unique_ids(&shown);
    let own_after = shown.iter().find(|m| m.text.contains(&said)).expect("own message after reload");
    assert_eq!(own_after.id, own_before, "the message id changed across the reload: {shown:#?}");
    let after = env.wait_signed_in_session(&deployment, "alice", 10).await;
    assert_eq!(after["conversationId"], json!(conversation), "the reload started another conversation: {after}");
    assert!(env.refresh_calls().await >= 1, "the reload should have renewed the JWT with the refresh token");

    // Still working: a message after the reload reaches the same conversation.
    let again = format!("after reload {}", nonce());
    env.send_and_confirm(&again).await;
    let token = after["token"].as_str().expect("token");
    let texts: Vec<String> = env.server_texts(token, &deployment).into_iter().map(|(_, text)| text).collect();
    assert_eq!(texts.iter().filter(|t| t.contains(&said)).count(), 1, "server transcript: {texts:?}");
    assert_eq!(texts.iter().filter(|t| t.contains(&again)).count(), 1, "server transcript: {texts:?}");
    env.finish().await;
}

#[tokio::test]
async fn read_only_then_start_new_gives_a_new_conversation_with_the_old_one_kept_for_agents() {
    let env = Env::start().await;
    let deployment = env.auth_deployment();
    env.open_auth_page(&deployment).await;
    env.sign_in_with("sign-in", "bob").await;
    let first = format!("first conversation {}", nonce());
    env.send_and_confirm(&first).await;
    let session = env.wait_signed_in_session(&deployment, "bob", 10).await;
    let token = session["token"].as_str().expect("token").to_string();
    let first_conversation = session["conversationId"].as_str().expect("conversationId").to_string();

    env.control(&token, &deployment, "disconnect", json!({ "readOnly": true }));
    env.wait_status("read-only", 10).await;
    env.wait_for("[data-testid=start-new]", 5).await.click().await.expect("click start new");
    env.wait_status("connected", 15).await;
    env.wait_messages("an empty customer transcript", 10, |shown| shown.is_empty()).await;

    let second = format!("second conversation {}", nonce());
    env.send_and_confirm(&second).await;
    let shown = env.messages().await;
    assert!(!shown.iter().any(|m| m.text.contains(&first)), "the old conversation is shown to the customer: {shown:#?}");
    let current = env.wait_signed_in_session(&deployment, "bob", 10).await;
    let current_token = current["token"].as_str().expect("token").to_string();
    assert_ne!(current["conversationId"], json!(first_conversation), "start new kept the conversation: {current}");
    let detail = env.session(&current_token, &deployment);
    let earlier = detail["earlierConversations"].as_array().unwrap_or_else(|| panic!("no earlierConversations: {detail}"));
    let previous = earlier
        .iter()
        .find(|c| c["conversationId"] == json!(first_conversation))
        .unwrap_or_else(|| panic!("the first conversation is not among the earlier ones: {detail}"));
    assert!(previous["transcript"].to_string().contains(&first), "the earlier transcript lacks {first:?}: {previous}");
    env.screenshot("auth-start-new").await;

    // A signed-in customer may start over at any time, not only from the read-only state.
    env.wait_for("[data-testid=new-conversation]", 5).await.click().await.expect("click new conversation");
    env.wait_messages("an empty transcript after starting over", 10, |shown| shown.is_empty()).await;
    env.wait_status("connected", 15).await;
    let third = env.wait_signed_in_session(&deployment, "bob", 10).await;
    assert_ne!(third["conversationId"], current["conversationId"], "new-conversation kept the conversation: {third}");
    let detail = env.session(third["token"].as_str().expect("token"), &deployment);
    let earlier = detail["earlierConversations"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(earlier, 2, "both earlier conversations should be kept: {detail}");
    env.finish().await;
}

#[tokio::test]
async fn an_expired_jwt_is_refreshed_silently_mid_session() {
    let env = Env::start().await;
    let deployment = env.auth_deployment();
    env.open_auth_page(&deployment).await;
    env.sign_in_with("sign-in", "carol").await;
    let before = format!("before expiry {}", nonce());
    env.send_and_confirm(&before).await;
    let session = env.wait_signed_in_session(&deployment, "carol", 10).await;
    let token = session["token"].as_str().expect("token").to_string();
    let refreshes_before = env.refresh_calls().await;

    // Every JWT issued so far now counts as expired; dropping the socket forces a reconfigure,
    // which gets 401, refreshes the JWT and configures again.
    let (status, body) = env.http("POST", "/control/auth/expire-jwts", Some(json!({})));
    assert_eq!(status, 200, "expire-jwts answered {status}: {body}");
    env.record_status_history().await;
    env.control(&token, &deployment, "drop", json!({}));
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.refresh_calls().await <= refreshes_before {
        assert!(Instant::now() < deadline, "no JWT refresh within 20 s after the reconfigure");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.wait_status("connected", 20).await;
    let after = format!("after refresh {}", nonce());
    env.send_and_confirm(&after).await;

    let history = env.status_history().await;
    assert!(!history.iter().any(|s| s == "sign-in-required" || s == "error"), "the customer was bothered: {history:?}");
    assert_eq!(env.js("return !document.querySelector('[data-testid=sign-in-again]');").await, json!(true));
    let current = env.wait_signed_in_session(&deployment, "carol", 10).await;
    assert_eq!(current["conversationId"], session["conversationId"], "the refresh started another conversation");
    let texts: Vec<String> = env.server_texts(current["token"].as_str().expect("token"), &deployment).into_iter().map(|(_, t)| t).collect();
    assert!(texts.iter().any(|t| t.contains(&before)) && texts.iter().any(|t| t.contains(&after)), "server transcript: {texts:?}");
    env.finish().await;
}

#[tokio::test]
async fn a_revoked_refresh_token_asks_to_sign_in_again_and_keeps_what_was_typed() {
    let env = Env::start().await;
    let deployment = env.auth_deployment();
    env.open_auth_page(&deployment).await;
    env.sign_in_with("sign-in", "alice").await;
    let before = format!("before revoke {}", nonce());
    env.send_and_confirm(&before).await;
    let session = env.wait_signed_in_session(&deployment, "alice", 10).await;
    let token = session["token"].as_str().expect("token").to_string();

    let (status, body) = env.http("POST", "/control/auth/revoke", Some(json!({ "sub": "alice" })));
    assert_eq!(status, 200, "revoke answered {status}: {body}");
    assert!(body["revoked"].as_u64().unwrap_or(0) >= 1, "nothing was revoked: {body}");
    let (status, body) = env.http("POST", "/control/auth/expire-jwts", Some(json!({ "sub": "alice" })));
    assert_eq!(status, 200, "expire-jwts answered {status}: {body}");
    env.control(&token, &deployment, "drop", json!({}));

    // The JWT is refused and cannot be renewed: the customer is asked to sign in again.
    env.wait_status("sign-in-required", 20).await;
    env.wait_for("[data-testid=sign-in-again]", 5).await;
    assert_eq!(env.stored_refresh_token(&deployment).await, None, "a refused refresh token is still stored");
    env.screenshot("auth-sign-in-again").await;

    // What the customer types now waits (never dropped, never sent as a guest)...
    let typed = format!("typed while signed out {}", nonce());
    env.type_and_send(&typed).await;
    let shown = env.wait_messages("the typed message, queued", 5, |shown| shown.iter().any(|m| m.text.contains(&typed))).await;
    let queued = shown.iter().find(|m| m.text.contains(&typed)).expect("typed message");
    assert_ne!(queued.status, "sent", "a message cannot be sent without a session: {queued:?}");

    // ...and is delivered exactly once after signing in again.
    env.sign_in_with("sign-in-again", "alice").await;
    env.wait_messages("the typed message delivered", 15, |shown| {
        shown.iter().filter(|m| m.text.contains(&typed)).count() == 1 && shown.iter().any(|m| m.text.contains(&typed) && m.status == "sent")
    })
    .await;
    let current = env.wait_signed_in_session(&deployment, "alice", 10).await;
    assert_eq!(current["conversationId"], session["conversationId"], "signing in again should resume the conversation");
    let texts: Vec<String> = env.server_texts(current["token"].as_str().expect("token"), &deployment).into_iter().map(|(_, t)| t).collect();
    assert_eq!(texts.iter().filter(|t| t.contains(&typed)).count(), 1, "server transcript: {texts:?}");
    assert_eq!(texts.iter().filter(|t| t.contains(&before)).count(), 1, "server transcript: {texts:?}");
    env.finish().await;
}

#[tokio::test]
async fn sign_out_forgets_every_token_and_the_transcript() {
    let env = Env::start().await;
    let deployment = env.auth_deployment();
    env.open_auth_page(&deployment).await;
    env.sign_in_with("sign-in", "bob").await;
    let said = format!("about to sign out {}", nonce());
    env.send_and_confirm(&said).await;
    env.wait_signed_in_session(&deployment, "bob", 10).await;
    let refresh_token = env.stored_refresh_token(&deployment).await.expect("a refresh token while signed in");
    for (area, key, value) in env.storage_entries().await {
        assert!(
            area == "sessionStorage" || (!value.contains(&refresh_token) && !looks_like_jwt(&value)),
            "{area} {key} holds a credential while signed in: {value}"
        );
    }

    // Something typed but not sent is kept across page loads, but not across a sign-out.
    let half_typed = format!("half-typed card number {}", nonce());
    env.composer_field().await.send_keys(&half_typed).await.expect("type a draft");
    env.wait_js(
        &format!("Object.keys(localStorage).some(k => localStorage.getItem(k) === {})", json!(half_typed)),
        json!(true),
        5,
    )
    .await;

    env.wait_for("[data-testid=sign-out]", 5).await.click().await.expect("click sign out");
    env.wait_state("account", "signed-out", 10).await;
    env.wait_status("signed-out", 10).await;
    env.wait_messages("an empty transcript after sign-out", 10, |shown| shown.is_empty()).await;
    let composer = env.composer_field().await.prop("value").await.expect("the composer's value");
    assert_eq!(composer.as_deref(), Some(""), "the draft is still in the composer");
    for (area, key, value) in env.storage_entries().await {
        assert!(!value.contains(&half_typed), "{area} {key} still holds the draft");
        assert!(!value.contains(&refresh_token), "{area} {key} still holds the refresh token");
        assert!(!looks_like_jwt(&value), "{area} {key} holds a JWT after sign-out: {value}");
        assert!(!key.ends_with(":token") && !key.ends_with(":refreshToken"), "{area} still holds {key} = {value}");
    }
    // Sign-out revoked the grant on the server too (the DELETE may still be on its way).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = env.http("POST", "/api/v2/webdeployments/token/refresh", Some(json!({ "refreshToken": refresh_token })));
        if status == 401 {
            break;
        }
        assert!(Instant::now() < deadline, "the refresh token still works 5 s after sign-out: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = env.client.find_all(Locator::Css("[data-testid=message]")).await.expect("messages");
    assert!(shown.is_empty(), "messages are still shown after sign-out");
    env.finish().await;
}

#[tokio::test]
async fn step_up_on_another_device_keeps_its_guest_chat_and_stops_the_first_device() {
    let env = Env::start().await;
    let deployment = env.auth_deployment();
    env.open_auth_page(&deployment).await;
    env.sign_in_with("sign-in", "carol").await;
    let said = format!("from the first device {}", nonce());
    env.send_and_confirm(&said).await;
    let first = env.wait_signed_in_session(&deployment, "carol", 10).await;
    let first_token = first["token"].as_str().expect("token").to_string();
    let first_window = env.client.window().await.expect("first window");

    // A second tab has its own sessionStorage, so it is another device for the sign-in. The
    // customer chats there as a guest first, then signs in: the guest session is stepped up.
    let second = env.client.new_window(true).await.expect("open a second tab");
    env.client.switch_to_window(second.handle).await.expect("switch to the second tab");
    env.open_auth_page(&deployment).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    let as_guest = format!("said as a guest {}", nonce());
    env.send_and_confirm(&as_guest).await;
    let guest_token = env.stored_token(&deployment).await.expect("the guest token is stored");
    let guest_conversation = env.session(&guest_token, &deployment)["conversationId"].clone();
    env.sign_in_with("sign-in", "carol").await;

    let shown = env
        .wait_messages("the guest message after the step-up", 15, |shown| shown.iter().any(|m| m.text.contains(&as_guest)))
        .await;
    assert!(!shown.iter().any(|m| m.text.contains(&said)), "the step-up replaced the first device's conversation: {shown:#?}");
    let notice = "(document.querySelector('[data-testid=transcript]') || {}).textContent || ''";
    env.wait_js(&format!("({notice}).includes('signed out of this chat on your other devices')"), json!(true), 10).await;
    let stepped_up = env.wait_signed_in_session(&deployment, "carol", 10).await;
    assert_eq!(stepped_up["conversationId"], guest_conversation, "the guest conversation should become the customer's");
    assert_eq!(env.stored_token(&deployment).await, None, "a signed-in customer's thread token is not kept in localStorage");

    // The first device is told and stays stopped: no reconnect steals the session back.
    env.client.switch_to_window(first_window).await.expect("back to the first tab");
    env.wait_status("signed-in-elsewhere", 15).await;
    let status = env.wait_for("[data-testid=status]", 5).await.text().await.expect("status text");
    assert!(status.contains("another device"), "the first device should say why it stopped: {status:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(env.state_of("status").await.as_deref(), Some("signed-in-elsewhere"), "the first device reconnected");
    let sessions = env.sessions(&deployment);
    let live: Vec<&Value> = sessions.iter().filter(|s| s["user"]["sub"] == json!("carol") && s["sockets"].as_u64().unwrap_or(0) > 0).collect();
    assert_eq!(live.len(), 1, "one device holds the session: {sessions:#?}");
    assert_ne!(live[0]["token"], json!(first_token), "the first device still holds the session: {sessions:#?}");
    env.screenshot("auth-signed-in-elsewhere").await;
    env.finish().await;
}

#[test]
fn jwt_shapes_are_recognised() {
    assert!(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig-nature_x"));
    assert!(looks_like_jwt("{\"jwt\":\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.abc\"}"));
    assert!(!looks_like_jwt("7c2a1d3e-5b4f-4a6c-8d9e-0f1a2b3c4d5e"));
    assert!(!looks_like_jwt("eyJ.only-two"));
}
