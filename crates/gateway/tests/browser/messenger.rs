//! Driving the messenger through its stable test hooks (`data-testid`, issue 6 §8) and the
//! gateway's control API (issue 7). Every wait is bounded.

use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::{json, Value};

use crate::harness::Env;

/// One `[data-testid=message]` element as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownMessage {
    pub id: String,
    pub direction: String,
    pub author: String,
    pub status: String,
    /// The element's whole text (bubble text plus any name/time decorations).
    pub text: String,
    pub images: usize,
}

/// Collects every message element (document order) as JSON objects.
const MESSAGES_JS: &str = r#"
return Array.from(document.querySelectorAll('[data-testid=message]')).map(m => ({
  id: m.getAttribute('data-id') || '',
  direction: m.getAttribute('data-direction') || '',
  author: m.getAttribute('data-author') || '',
  status: m.getAttribute('data-status') || '',
  text: (m.textContent || '').trim(),
  images: m.querySelectorAll('img').length,
}));
"#;

/// `TAG[data-testid] inside|outside messenger` of `document.activeElement`.
const FOCUS_JS: &str = "const a = document.activeElement; if (!a) return 'nothing'; \
    return a.tagName.toLowerCase() + '[data-testid=' + (a.getAttribute('data-testid') || '') + '] ' + \
    (a.closest('[data-testid=messenger]') ? 'inside' : 'outside') + ' the messenger';";

impl Env {
    /// Creates a deployment through the control API and returns its id.
    pub fn create_deployment(&self, settings: Value) -> String {
        let (status, body) = self.http("POST", "/control/deployments", Some(settings.clone()));
        assert_eq!(status, 200, "POST /control/deployments {settings} answered {status}: {body}");
        body["deploymentId"]
            .as_str()
            .unwrap_or_else(|| panic!("POST /control/deployments gave no deploymentId: {body}"))
            .to_string()
    }

    /// Loads the gateway-served page for `deployment` and waits for the launcher.
    pub async fn open_page(&self, deployment: &str) {
        self.open_page_with(deployment, "").await;
    }

    /// `open_page` with more page options (`&locale=ar&theme=dark`).
    pub async fn open_page_with(&self, deployment: &str, options: &str) {
        self.client
            .goto(&format!("{}/?deploymentId={deployment}{options}", self.base))
            .await
            .expect("load the messenger page");
        self.wait_for("[data-testid=launcher]", 20).await;
    }

    /// The common start of a story: a new deployment with `settings`, its page loaded, the
    /// messenger open and connected. Returns the deployment id.
    pub async fn open_connected(&self, settings: Value) -> String {
        let deployment = self.create_deployment(settings);
        self.open_page(&deployment).await;
        self.open_messenger().await;
        self.wait_status("connected", 10).await;
        deployment
    }

    /// `data-state` of the element with `testid` (`None` when absent).
    pub async fn state_of(&self, testid: &str) -> Option<String> {
        let script = format!(
            "const e = document.querySelector('[data-testid={testid}]'); return e ? e.getAttribute('data-state') : null;"
        );
        self.client.execute(&script, vec![]).await.ok().and_then(|v| v.as_str().map(str::to_string))
    }

    /// Waits until the element with `testid` has `data-state` equal to `state`.
    pub async fn wait_state(&self, testid: &str, state: &str, secs: u64) {
        let probe = format!("(document.querySelector('[data-testid={testid}]') || {{}}).getAttribute?.('data-state') ?? null");
        self.wait_js(&probe, json!(state), secs).await;
    }

    /// Opens the panel with the launcher (unless already open) and waits for `data-state=open`.
    pub async fn open_messenger(&self) {
        if self.state_of("messenger").await.as_deref() != Some("open") {
            self.wait_for("[data-testid=launcher]", 10).await.click().await.expect("click the launcher");
        }
        self.wait_state("messenger", "open", 10).await;
    }

    /// Presses Escape on the focused element (issue 6 §7: Escape closes) and waits for
    /// `data-state=closed`.
    pub async fn close_messenger(&self) {
        let focus = self.js(FOCUS_JS).await;
        let focused = self.client.active_element().await.expect("focused element");
        focused.send_keys(&Key::Escape.to_string()).await.expect("press Escape");
        let probe = "(document.querySelector('[data-testid=messenger]') || {}).getAttribute?.('data-state') ?? null";
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.client.execute(&format!("return ({probe});"), vec![]).await.ok() == Some(json!("closed")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.failure_screenshot().await;
        panic!("Escape did not close the messenger within 5 s (focus was on {focus})");
    }

    /// Describes the focused element (for failure messages about keyboard handling).
    pub async fn focus_description(&self) -> String {
        self.js(FOCUS_JS).await.as_str().unwrap_or_default().to_string()
    }

    /// Closes the panel the way a typing customer does: Escape in the composer.
    pub async fn close_messenger_from_composer(&self) {
        let field = self.composer_field().await;
        field.click().await.expect("focus the composer");
        self.close_messenger().await;
    }

    /// Waits for the connection status `state` (`connected`, `read-only`, …).
    pub async fn wait_status(&self, state: &str, secs: u64) {
        self.wait_state("status", state, secs).await;
    }

    /// Every message element in document order.
    pub async fn messages(&self) -> Vec<ShownMessage> {
        let value = self.client.execute(MESSAGES_JS, vec![]).await.expect("read messages");
        value
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|m| ShownMessage {
                id: m["id"].as_str().unwrap_or_default().to_string(),
                direction: m["direction"].as_str().unwrap_or_default().to_string(),
                author: m["author"].as_str().unwrap_or_default().to_string(),
                status: m["status"].as_str().unwrap_or_default().to_string(),
                text: m["text"].as_str().unwrap_or_default().to_string(),
                images: m["images"].as_u64().unwrap_or(0) as usize,
            })
            .collect()
    }

    /// Waits until `done(messages)` holds; panics with the last messages seen otherwise.
    pub async fn wait_messages(&self, what: &str, secs: u64, done: impl Fn(&[ShownMessage]) -> bool) -> Vec<ShownMessage> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let shown = self.messages().await;
            if done(&shown) {
                return shown;
            }
            if Instant::now() >= deadline {
                self.failure_screenshot().await;
                panic!("{what}: not reached within {secs} s; messages shown: {shown:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every one of `texts` is shown (in any order, any number of times).
    pub async fn wait_texts(&self, what: &str, secs: u64, texts: &[&str]) -> Vec<ShownMessage> {
        self.wait_messages(what, secs, |shown| texts.iter().all(|text| shown.iter().any(|m| m.text.contains(text)))).await
    }

    /// Waits until every one of `wanted` is shown, gives a late history page or replayed frame
    /// `settle` to show up as a duplicate, then asserts the page shows exactly these messages:
    /// each once, in this order, with distinct ids, and nothing else.
    pub async fn expect_exactly(&self, what: &str, wanted: &[&str], settle: Duration) -> Vec<ShownMessage> {
        self.wait_texts(what, 10, wanted).await;
        tokio::time::sleep(settle).await;
        let shown = self.messages().await;
        assert_shown_once_in_order(&shown, wanted);
        assert_unique_ids(&shown);
        assert_eq!(shown.len(), wanted.len(), "{what}: the page shows other messages than the {} exchanged: {shown:#?}", wanted.len());
        shown
    }

    /// The composer's text field: the `composer` element itself or the field inside it.
    pub async fn composer_field(&self) -> Element {
        let composer = self.wait_for("[data-testid=composer]", 10).await;
        let tag = composer.tag_name().await.unwrap_or_default().to_ascii_lowercase();
        if tag == "textarea" || tag == "input" {
            return composer;
        }
        composer
            .find(Locator::Css("textarea, input[type=text], input:not([type]), [contenteditable=true]"))
            .await
            .expect("a text field inside [data-testid=composer]")
    }

    /// Types `text` into the composer and presses the send button.
    pub async fn type_and_send(&self, text: &str) {
        let field = self.composer_field().await;
        field.click().await.expect("focus the composer");
        field.send_keys(text).await.expect("type into the composer");
        self.wait_for("[data-testid=send]", 5).await.click().await.expect("click send");
    }

    /// Sends `text` as the customer and waits until the page shows it once, `data-status=sent`.
    pub async fn send_and_confirm(&self, text: &str) {
        self.type_and_send(text).await;
        self.wait_messages(&format!("own message {text:?} shown as sent"), 10, |shown| {
            shown.iter().any(|m| m.direction == "inbound" && m.status == "sent" && m.text.contains(text))
        })
        .await;
    }

    /// The thread token the page keeps in `localStorage` for `deployment`.
    pub async fn stored_token(&self, deployment: &str) -> Option<String> {
        let script = format!("return window.localStorage.getItem('threadline:{deployment}:token');");
        self.client.execute(&script, vec![]).await.ok().and_then(|v| v.as_str().map(str::to_string))
    }

    /// `GET /control/sessions?deploymentId=…` (most recently active first).
    pub fn sessions(&self, deployment: &str) -> Vec<Value> {
        let (status, body) = self.http("GET", &format!("/control/sessions?deploymentId={deployment}"), None);
        assert_eq!(status, 200, "GET /control/sessions answered {status}: {body}");
        body.as_array().cloned().unwrap_or_else(|| panic!("GET /control/sessions is not a list: {body}"))
    }

    /// The token of the deployment's only (or most recently active) session, waiting for it.
    pub async fn wait_session_token(&self, deployment: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(token) = self.sessions(deployment).first().and_then(|s| s["token"].as_str()) {
                return token.to_string();
            }
            assert!(Instant::now() < deadline, "no session for deployment {deployment} within {secs} s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /control/sessions/{token}` (with its `transcript`).
    pub fn session(&self, token: &str, deployment: &str) -> Value {
        let (status, body) = self.http("GET", &format!("/control/sessions/{token}?deploymentId={deployment}"), None);
        assert_eq!(status, 200, "GET /control/sessions/{token} answered {status}: {body}");
        body
    }

    /// (id, text) of every message with text in the server's transcript, oldest first.
    pub fn server_texts(&self, token: &str, deployment: &str) -> Vec<(String, String)> {
        let session = self.session(token, deployment);
        session["transcript"]
            .as_array()
            .unwrap_or_else(|| panic!("session {token} has no transcript list: {session}"))
            .iter()
            .filter_map(|body| {
                let text = body["text"].as_str().filter(|t| !t.is_empty())?;
                Some((body["id"].as_str().unwrap_or_default().to_string(), text.to_string()))
            })
            .collect()
    }

    /// Calls a `/control/sessions/{token}/{action}` endpoint and checks it succeeded.
    pub fn control(&self, token: &str, deployment: &str, action: &str, body: Value) -> Value {
        let path = format!("/control/sessions/{token}/{action}?deploymentId={deployment}");
        let (status, answer) = self.http("POST", &path, Some(body.clone()));
        assert_eq!(status, 200, "POST {path} {body} answered {status}: {answer}");
        answer
    }

    /// Sets the gateway's faults (`/control/faults`: `deploymentId` and `delayMs` or
    /// `dropAfterFrames`) and checks it took them.
    pub fn set_faults(&self, faults: Value) {
        let (status, answer) = self.http("POST", "/control/faults", Some(faults.clone()));
        assert_eq!(status, 200, "POST /control/faults {faults} answered {status}: {answer}");
    }

    /// Clears the gateway's faults.
    pub fn clear_faults(&self) {
        let (status, answer) = self.http("DELETE", "/control/faults", None);
        assert_eq!(status, 200, "DELETE /control/faults answered {status}: {answer}");
    }

    /// An agent text message to the session of `token`.
    pub fn agent_says(&self, token: &str, deployment: &str, text: &str) -> Value {
        self.control(token, deployment, "messages", json!({ "text": text }))
    }

    /// Starts recording every `data-state` the `status` element takes (a MutationObserver), so
    /// short-lived states such as `reconnecting` are not missed by polling.
    pub async fn record_status_history(&self) {
        let script = r#"
            window.__tlStates = [];
            const note = () => {
              const e = document.querySelector('[data-testid=status]');
              const s = e ? e.getAttribute('data-state') : null;
              if (s && window.__tlStates[window.__tlStates.length - 1] !== s) window.__tlStates.push(s);
            };
            note();
            new MutationObserver(note).observe(document.documentElement,
              { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
        "#;
        self.client.execute(script, vec![]).await.expect("install the status recorder");
    }

    /// The status states recorded since `record_status_history`.
    pub async fn status_history(&self) -> Vec<String> {
        let value = self.client.execute("return window.__tlStates || [];", vec![]).await.expect("read status history");
        value.as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(|s| s.as_str().map(str::to_string)).collect()
    }

    /// Polls the JS expression `probe` for at most `secs` seconds; true once it is `true`.
    pub async fn eventually(&self, probe: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.client.execute(&format!("return ({probe});"), vec![]).await.ok() == Some(json!(true)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` (a function body that returns a value) in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|err| panic!("script failed: {err}\n{script}"))
    }
}

/// Asserts every message id is non-empty and shown once.
pub fn assert_unique_ids(shown: &[ShownMessage]) {
    let mut ids: Vec<&str> = shown.iter().map(|m| m.id.as_str()).collect();
    assert!(ids.iter().all(|id| !id.is_empty()), "a message has no data-id: {shown:#?}");
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "a data-id is shown twice: {shown:#?}");
}

/// Asserts each of `texts` is shown in exactly one message, in this order.
pub fn assert_shown_once_in_order(shown: &[ShownMessage], texts: &[&str]) {
    let mut last_index = None;
    for text in texts {
        let hits: Vec<usize> = shown.iter().enumerate().filter(|(_, m)| m.text.contains(text)).map(|(i, _)| i).collect();
        assert_eq!(hits.len(), 1, "{text:?} should be shown exactly once, found {} times in {shown:#?}", hits.len());
        assert!(
            last_index.is_none_or(|last| hits[0] > last),
            "{text:?} is out of order in {shown:#?}"
        );
        last_index = Some(hits[0]);
    }
}

/// A unique suffix so texts never collide across tests or with earlier messages.
pub fn nonce() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{:08x}", nanos ^ std::process::id())
}
