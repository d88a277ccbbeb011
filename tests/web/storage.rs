//! Storage faults (issue "Proof" §5) through the real browser-storage adapter
//! (`Store::browser`, as `browser_services` builds it): `localStorage` whose writes throw
//! (full from the start, or filling up mid-conversation), reads that throw, a `localStorage`
//! property that throws (blocked by privacy settings), and garbage under the app's keys. In
//! every case the messenger connects, sends and shows messages, and says what it cannot keep.

use serde_json::json;
use threadline::{Locale, SocketEvent, Store};
use threadline_core::protocol::DeploymentConfig;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

use super::{agent_text, echo, js, session, settle, settle_until, Fixture};

/// Mounts a messenger for `deployment_id` on the production storage adapter.
fn mount_on_browser_storage(deployment_id: &str) -> Fixture {
    Fixture::mount_with(&[("locale", "en"), ("deploymentId", deployment_id)], DeploymentConfig::default(), Store::browser(deployment_id))
}

/// Opens the panel and waits (bounded) for the socket: with working storage the tab first wins
/// the tabs' election (Web Locks, asynchronous) before it connects.
async fn open_and_connect(fixture: &Fixture) {
    fixture.must("launcher").click();
    assert!(settle_until(100, || fixture.socket.0.borrow().sink.is_some()).await, "the messenger never opened a socket");
    fixture.socket.emit(SocketEvent::Opened);
    fixture.socket.frame(json!({"type": "response", "class": "SessionResponse", "code": 200, "body": session(86_400, 86_400)}));
    settle().await;
    assert_eq!(fixture.attr("status", "data-state"), "connected");
}

/// The conversation works: a typed message is sent and shown, its echo confirms it, and an
/// agent message is shown.
async fn assert_conversation_works(fixture: &Fixture, tag: &str) {
    let text = format!("customer says {tag}");
    fixture.type_and_send(&text).await;
    let sent = fixture.socket.actions("onMessage");
    let frame = sent.iter().find(|frame| frame["message"]["text"] == text.as_str()).expect("the composer sent the message");
    fixture.socket.frame(echo(&frame["tracingId"], &format!("echo-{tag}"), &text));
    settle().await;
    let own = fixture.message(&format!("echo-{tag}")).expect("the echoed message is shown");
    assert_eq!(own.get_attribute("data-status").as_deref(), Some("sent"));
    fixture.socket.frame(agent_text(&format!("agent-{tag}"), &format!("agent answers {tag}")));
    settle().await;
    let agent = fixture.message(&format!("agent-{tag}")).expect("the agent message is shown");
    assert!(agent.text_content().unwrap().contains(&format!("agent answers {tag}")));
}

fn notice(fixture: &Fixture) -> Option<String> {
    fixture.testid("storage-notice").and_then(|notice| notice.text_content())
}

/// Mounts `deployment_id` on storage that cannot keep the chat and checks that the notice says
/// so (`why`: the assertion's message) and that the conversation (`tag`) works all the same.
async fn mount_unavailable_and_converse(deployment_id: &str, tag: &str, why: &str) -> Fixture {
    let fixture = mount_on_browser_storage(deployment_id);
    settle().await;
    assert_eq!(notice(&fixture).as_deref(), Some(UNAVAILABLE_EN), "{why}");
    open_and_connect(&fixture).await;
    assert_conversation_works(&fixture, tag).await;
    fixture
}

fn local_storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

/// Removes the token and outbox a test left in `storage` for `deployment_id`.
fn remove_token_and_outbox(storage: &web_sys::Storage, deployment_id: &str) {
    storage.remove_item(&format!("threadline:{deployment_id}:token")).unwrap();
    storage.remove_item(&format!("threadline:{deployment_id}:outbox")).unwrap();
}

/// Replaces `Storage.prototype[method]` with one that throws a `DOMException` named `error`,
/// until dropped (tests also restore explicitly: a panicking wasm test does not unwind).
struct StoragePatch {
    method: &'static str,
}

impl StoragePatch {
    fn throwing(method: &'static str, error: &str) -> Self {
        js(
            &format!(
                "const proto = Storage.prototype;
                 proto.__tlOriginal_{method} = proto.__tlOriginal_{method} || proto.{method};
                 proto.{method} = function () {{ throw new DOMException('refused by the test', '{error}'); }};"
            ),
            &[],
        );
        Self { method }
    }
}

impl Drop for StoragePatch {
    fn drop(&mut self) {
        let method = self.method;
        js(
            &format!(
                "const proto = Storage.prototype;
                 if (proto.__tlOriginal_{method}) {{ proto.{method} = proto.__tlOriginal_{method}; delete proto.__tlOriginal_{method}; }}"
            ),
            &[],
        );
    }
}

/// Makes reading `window.localStorage` throw a `SecurityError` (storage blocked by privacy
/// settings or a sandbox), until dropped.
struct BlockedLocalStorage;

impl BlockedLocalStorage {
    fn install() -> Self {
        js(
            "window.__tlLocalStorageDescriptor = Object.getOwnPropertyDescriptor(window, 'localStorage')
               || Object.getOwnPropertyDescriptor(Window.prototype, 'localStorage');
             Object.defineProperty(window, 'localStorage', {
               configurable: true,
               get() { throw new DOMException('The document is sandboxed', 'SecurityError'); },
             });",
            &[],
        );
        Self
    }
}

impl Drop for BlockedLocalStorage {
    fn drop(&mut self) {
        js(
            "const saved = window.__tlLocalStorageDescriptor;
             if (saved) { Object.defineProperty(window, 'localStorage', saved); delete window.__tlLocalStorageDescriptor; }",
            &[],
        );
    }
}

const UNAVAILABLE_EN: &str = "This browser cannot save the chat (storage is blocked or full): it will not survive a page reload.";

#[wasm_bindgen_test]
async fn full_storage_from_the_start_keeps_the_chat_in_memory_and_says_so() {
    assert_eq!(Locale::En.strings().storage_unavailable, UNAVAILABLE_EN);
    let patch = StoragePatch::throwing("setItem", "QuotaExceededError");
    let fixture = mount_unavailable_and_converse("storage-full-at-start", "full", "the notice says what cannot be kept").await;
    assert_eq!(notice(&fixture).as_deref(), Some(UNAVAILABLE_EN), "the notice stays");
    drop(patch);
    assert_eq!(local_storage().get_item("threadline:storage-full-at-start:token").unwrap(), None, "nothing was written");
}

#[wasm_bindgen_test]
async fn storage_filling_up_mid_conversation_switches_to_memory_and_says_so() {
    let storage = local_storage();
    let fixture = mount_on_browser_storage("storage-fills-up");
    settle().await;
    assert_eq!(notice(&fixture), None, "no notice while storage works");
    open_and_connect(&fixture).await;
    assert_conversation_works(&fixture, "before").await;
    let token = storage.get_item("threadline:storage-fills-up:token").unwrap();
    assert!(token.is_some(), "the token was stored while storage worked");

    let patch = StoragePatch::throwing("setItem", "QuotaExceededError");
    // Sending writes the outbox: that write fails and the store moves to memory.
    assert_conversation_works(&fixture, "after").await;
    assert_eq!(notice(&fixture).as_deref(), Some(UNAVAILABLE_EN), "the notice appears once a write fails");
    drop(patch);
    assert_eq!(storage.get_item("threadline:storage-fills-up:token").unwrap(), token, "the stored token is left alone");
    drop(fixture);
    remove_token_and_outbox(&storage, "storage-fills-up");
}

#[wasm_bindgen_test]
async fn blocked_local_storage_keeps_the_chat_in_memory_and_says_so() {
    let blocked = BlockedLocalStorage::install();
    assert!(web_sys::window().unwrap().local_storage().is_err(), "reading localStorage throws");
    let fixture = mount_unavailable_and_converse("storage-blocked", "blocked", "the notice says the chat cannot be kept").await;
    drop(fixture);
    drop(blocked);
    assert!(web_sys::window().unwrap().local_storage().is_ok(), "localStorage restored");
}

#[wasm_bindgen_test]
async fn storage_whose_reads_throw_is_treated_as_unavailable() {
    let patch = StoragePatch::throwing("getItem", "SecurityError");
    let fixture = mount_unavailable_and_converse("storage-reads-throw", "reads", "a store that cannot be read back cannot keep the chat").await;
    drop(patch);
    drop(fixture);
}

#[wasm_bindgen_test]
async fn garbage_under_the_apps_keys_is_reset_and_reported() {
    let storage = local_storage();
    let cases: [(&str, &str, &str); 3] = [
        ("storage-garbage-1", "token with spaces\nand a newline", "{not json"),
        ("storage-garbage-2", &"x".repeat(5000), "[{\"bogus\": true}]"),
        ("storage-garbage-3", "\u{0}\u{202e}", "\"a string, not a list\""),
    ];
    for (deployment, token, outbox) in cases {
        storage.set_item(&format!("threadline:{deployment}:token"), token).unwrap();
        storage.set_item(&format!("threadline:{deployment}:outbox"), outbox).unwrap();
        let fixture = mount_on_browser_storage(deployment);
        open_and_connect(&fixture).await;
        assert_eq!(
            notice(&fixture).as_deref(),
            Some(Locale::En.strings().storage_corrupt),
            "{deployment}: the notice says the saved chat was reset"
        );
        let configure = fixture.socket.actions("configureSession");
        let sent_token = configure.last().expect("a configureSession")["token"].as_str().unwrap().to_string();
        assert_ne!(sent_token, token, "{deployment}: the garbage token was not used");
        assert!(fixture.messages().is_empty(), "{deployment}: nothing restored from garbage");
        assert_conversation_works(&fixture, deployment).await;
        let stored = storage.get_item(&format!("threadline:{deployment}:token")).unwrap();
        assert_eq!(stored.as_deref(), Some(sent_token.as_str()), "{deployment}: the fresh token replaced the garbage");
        drop(fixture);
        remove_token_and_outbox(&storage, deployment);
    }
}

#[wasm_bindgen_test]
async fn the_unsent_draft_survives_a_page_load_and_goes_once_sent() {
    let deployment = "storage-draft";
    let key = format!("threadline:{deployment}:draft");
    let storage = local_storage();
    storage.remove_item(&key).unwrap();

    let fixture = mount_on_browser_storage(deployment);
    open_and_connect(&fixture).await;
    fixture.type_text("my order number is 12345 and");
    settle().await;
    assert_eq!(storage.get_item(&key).unwrap().as_deref(), Some("my order number is 12345 and"), "the draft is kept as typed");
    // The customer follows a link on the site: this page (and its messenger) goes away.
    drop(fixture);

    let fixture = mount_on_browser_storage(deployment);
    open_and_connect(&fixture).await;
    let composer: web_sys::HtmlTextAreaElement = fixture.must("composer").unchecked_into();
    assert_eq!(composer.value(), "my order number is 12345 and", "the next page's composer holds the draft");
    assert!(!fixture.must("send").unchecked_into::<web_sys::HtmlButtonElement>().disabled(), "the restored draft can be sent");

    fixture.must("send").click();
    settle().await;
    let sent = fixture.socket.actions("onMessage");
    assert!(sent.iter().any(|frame| frame["message"]["text"] == "my order number is 12345 and"), "the restored draft was sent");
    assert_eq!(composer.value(), "");
    assert_eq!(storage.get_item(&key).unwrap(), None, "a sent draft is forgotten");
    drop(fixture);
    remove_token_and_outbox(&storage, deployment);
}
