//! Browser tests of the messenger with a scripted transport (no server): the test plays the
//! server by feeding frames into the socket sink and asserts the DOM through the stable
//! `data-testid` hooks.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{json, Value};
use threadline::{mount, AppConfig, Http, HttpDone, HttpResponse, Messenger, RawConfig, Services, SocketEvent, SocketSink, Store, Transport, UploadDone, UploadProgress};
use threadline_core::protocol::DeploymentConfig;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod append;
mod hostile;
mod notify;
mod storage;
mod ui;

// ---------------------------------------------------------------------------------------------
// Scripted IO

#[derive(Default)]
struct Script {
    urls: Vec<String>,
    sink: Option<SocketSink>,
    sent: Vec<String>,
    closes: Vec<u16>,
}

/// A transport the test drives: it records what the app sends and lets the test play the server.
#[derive(Clone, Default)]
struct ScriptedSocket(Rc<RefCell<Script>>);

impl Transport for ScriptedSocket {
    fn connect(&mut self, url: &str, sink: SocketSink) {
        let mut script = self.0.borrow_mut();
        script.urls.push(url.to_string());
        script.sink = Some(sink);
    }

    fn send(&mut self, frame: &str) {
        self.0.borrow_mut().sent.push(frame.to_string());
    }

    fn close(&mut self, code: u16, _reason: &str) {
        let mut script = self.0.borrow_mut();
        script.closes.push(code);
        script.sink = None;
    }
}

impl ScriptedSocket {
    fn emit(&self, event: SocketEvent) {
        let sink = self.0.borrow().sink.clone().expect("the app has a socket open");
        sink(event);
    }

    fn frame(&self, frame: Value) {
        self.emit(SocketEvent::Frame(frame.to_string()));
    }

    fn connects(&self) -> usize {
        self.0.borrow().urls.len()
    }

    /// Every client frame sent so far with this `action`.
    fn actions(&self, action: &str) -> Vec<Value> {
        self.0
            .borrow()
            .sent
            .iter()
            .filter_map(|frame| serde_json::from_str::<Value>(frame).ok())
            .filter(|frame| frame["action"] == action)
            .collect()
    }
}

/// HTTP that answers 404 at once (no config, no history).
struct NoHttp;

impl Http for NoHttp {
    fn request(&self, _method: &str, _url: &str, _bearer: Option<&str>, _body: Option<&str>, done: HttpDone) {
        done(Ok(HttpResponse { status: 404, body: String::new() }));
    }

    fn put_file(&self, _url: &str, _headers: &[(String, String)], _file: &web_sys::File, _progress: UploadProgress, done: UploadDone) {
        done(Err("no uploads in tests".into()));
    }
}

// ---------------------------------------------------------------------------------------------
// Fixture

struct Fixture {
    messenger: Option<Messenger>,
    socket: ScriptedSocket,
    root: web_sys::HtmlElement,
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// The current time as an ISO 8601 string (a message's `channel.time`).
fn now_iso() -> String {
    js_sys::Date::new_0().to_iso_string().as_string().unwrap()
}

/// Runs a little JavaScript with `args` bound to `a`, `b`, … and returns its value.
fn js(body: &str, args: &[JsValue]) -> JsValue {
    let names = ["a", "b", "c"];
    let function = js_sys::Function::new_with_args(&names[..args.len()].join(","), body);
    let array: js_sys::Array = args.iter().collect();
    function.apply(&JsValue::NULL, &array).unwrap()
}

async fn settle() {
    leptos::task::tick().await;
    gloo_timers::future::TimeoutFuture::new(30).await;
    leptos::task::tick().await;
}

/// Settles up to `tries` times until `done` holds (events the browser delivers later: a load
/// error, a lock, a scroll); says whether it did.
async fn settle_until(tries: usize, mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..tries {
        if done() {
            return true;
        }
        settle().await;
    }
    done()
}

impl Fixture {
    fn mount(locale: &str) -> Self {
        Self::mount_with(&[("locale", locale)], DeploymentConfig::default(), Store::memory("web-test"))
    }

    /// Mounts a messenger with the page settings `pairs` (as in the embed's query string), the
    /// deployment config `deployment` and the store `store`.
    fn mount_with(pairs: &[(&str, &str)], deployment: DeploymentConfig, store: Store) -> Self {
        let root: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
        document().body().unwrap().append_child(&root).unwrap();
        let mut app = AppConfig::with_server("http://127.0.0.1:9");
        app.apply(&RawConfig::from_pairs(pairs.iter().copied()));
        let socket = ScriptedSocket::default();
        let services = Services { transport: Box::new(socket.clone()), http: Rc::new(NoHttp), store };
        let messenger = mount(root.clone(), app, deployment, services).unwrap();
        Self { messenger: Some(messenger), socket, root }
    }

    fn find(&self, selector: &str) -> Option<web_sys::HtmlElement> {
        self.root.query_selector(selector).unwrap().map(|element| element.unchecked_into())
    }

    fn all(&self, selector: &str) -> Vec<web_sys::HtmlElement> {
        let list = self.root.query_selector_all(selector).unwrap();
        (0..list.length()).filter_map(|index| list.item(index)).map(|node| node.unchecked_into()).collect()
    }

    fn testid(&self, id: &str) -> Option<web_sys::HtmlElement> {
        self.find(&format!("[data-testid=\"{id}\"]"))
    }

    fn must(&self, id: &str) -> web_sys::HtmlElement {
        self.testid(id).unwrap_or_else(|| panic!("no element with data-testid={id}"))
    }

    fn attr(&self, id: &str, name: &str) -> String {
        self.must(id).get_attribute(name).unwrap_or_default()
    }

    fn messages(&self) -> Vec<web_sys::HtmlElement> {
        self.all("[data-testid=\"message\"]")
    }

    /// The message whose `data-id` is `id`.
    fn message(&self, id: &str) -> Option<web_sys::HtmlElement> {
        self.find(&format!("[data-testid=\"message\"][data-id=\"{id}\"]"))
    }

    /// Opens the panel, opens the socket and answers the configure with a SessionResponse.
    async fn connect(&self, body: Value) {
        self.must("launcher").click();
        settle().await;
        self.socket.emit(SocketEvent::Opened);
        assert_eq!(self.socket.actions("configureSession").len(), self.socket.0.borrow().urls.len(), "one configure per socket");
        self.socket.frame(json!({"type": "response", "class": "SessionResponse", "code": 200, "body": body}));
        settle().await;
    }

    /// Puts `text` in the composer as typing does (an `input` event); does not settle.
    fn type_text(&self, text: &str) {
        let composer: web_sys::HtmlTextAreaElement = self.must("composer").unchecked_into();
        composer.set_value(text);
        composer.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    }

    async fn type_and_send(&self, text: &str) {
        self.type_text(text);
        settle().await;
        self.must("send").click();
        settle().await;
    }

    /// Gives the transcript the fixed height and scrollbar it has in the app (the tests load no
    /// stylesheet), fills it with `count` agent messages `m0`, `m1`, … and returns it.
    async fn fill_sized_transcript(&self, count: usize) -> web_sys::HtmlElement {
        let transcript = self.must("transcript");
        for (name, value) in [("display", "block"), ("height", "300px"), ("overflow-y", "auto")] {
            transcript.style().set_property(name, value).unwrap();
        }
        for index in 0..count {
            self.socket.frame(agent_text(&format!("m{index}"), &format!("message number {index}")));
        }
        settle().await;
        settle().await;
        transcript
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.messenger.take();
        self.root.remove();
    }
}

fn session(ttl_secs: u64, left_secs: u64) -> Value {
    json!({
        "connected": true,
        "newSession": true,
        "readOnly": false,
        "durationSeconds": ttl_secs,
        "expirationDate": now_secs() + left_secs,
        "allowedMedia": {"inbound": {"fileTypes": [{"type": "image/png"}], "maxFileSizeKB": 1024}},
        "blockedExtensions": [".exe"]
    })
}

fn agent_text(id: &str, text: &str) -> Value {
    json!({
        "type": "message",
        "class": "StructuredMessage",
        "code": 200,
        "body": {
            "id": id,
            "type": "Text",
            "direction": "Outbound",
            "text": text,
            "originatingEntity": "Human",
            "channel": {"time": now_iso(), "from": {"nickname": "Jonas", "image": "https://example.com/jonas.png"}}
        }
    })
}

/// The server's echo of the customer's message sent with `tracing_id`: it now has the id `id`.
fn echo(tracing_id: &Value, id: &str, text: &str) -> Value {
    json!({
        "type": "message", "class": "StructuredMessage", "code": 200, "tracingId": tracing_id,
        "body": {"id": id, "type": "Text", "direction": "Inbound", "text": text, "channel": {"time": now_iso()}}
    })
}

// ---------------------------------------------------------------------------------------------
// Tests

#[wasm_bindgen_test]
async fn launcher_opens_and_closes_with_click_and_escape() {
    let fixture = Fixture::mount("en");
    settle().await;
    assert!(fixture.testid("launcher").is_some());
    assert_eq!(fixture.attr("messenger", "data-state"), "closed");
    assert!(fixture.testid("unread-badge").is_none());

    fixture.must("launcher").click();
    settle().await;
    assert_eq!(fixture.attr("messenger", "data-state"), "open");
    assert_eq!(fixture.attr("status", "data-state"), "connecting");
    assert_eq!(fixture.socket.connects(), 1, "opening connects");
    assert!(fixture.socket.0.borrow().urls[0].starts_with("ws://127.0.0.1:9/v1?deploymentId="));

    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    let escape = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    fixture.must("composer").dispatch_event(&escape).unwrap();
    settle().await;
    assert_eq!(fixture.attr("messenger", "data-state"), "closed");

    fixture.must("launcher").click();
    settle().await;
    assert_eq!(fixture.attr("messenger", "data-state"), "open");
    assert_eq!(fixture.socket.connects(), 1, "re-opening reuses the connection");
    fixture.must("launcher").click();
    settle().await;
    assert_eq!(fixture.attr("messenger", "data-state"), "closed");
}

#[wasm_bindgen_test]
async fn welcome_states_the_thirty_minute_ttl() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    assert_eq!(fixture.attr("status", "data-state"), "connected");
    let welcome = fixture.must("welcome").text_content().unwrap();
    assert!(welcome.contains("This chat ends after 30 minutes without activity."), "welcome was {welcome:?}");
    assert!(fixture.testid("expiry-banner").is_none(), "no banner with 30 minutes left");
}

#[wasm_bindgen_test]
async fn long_ttl_has_no_expiry_sentence() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(3 * 86_400, 3 * 86_400)).await;
    let welcome = fixture.must("welcome").text_content().unwrap();
    assert!(!welcome.contains("ends after"), "welcome was {welcome:?}");
}

#[wasm_bindgen_test]
async fn expiry_banner_shows_in_the_final_minutes() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 240)).await;
    gloo_timers::future::TimeoutFuture::new(100).await;
    settle().await;
    let banner = fixture.testid("expiry-banner").expect("banner with 4 minutes left");
    assert!(banner.text_content().unwrap().contains("4 minutes"), "banner was {:?}", banner.text_content());
}

#[wasm_bindgen_test]
async fn expiry_collapses_clears_and_next_open_is_blank() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.frame(agent_text("a1", "Hello there"));
    settle().await;
    assert_eq!(fixture.messages().len(), 1);

    fixture.socket.frame(json!({"type": "message", "class": "SessionExpiredEvent", "code": 200, "body": {}}));
    settle().await;
    assert_eq!(fixture.attr("messenger", "data-state"), "closed");
    assert_eq!(fixture.messages().len(), 0, "transcript cleared");
    assert_eq!(fixture.attr("status", "data-state"), "expired");

    let first_token = fixture.socket.actions("configureSession")[0]["token"].clone();
    fixture.must("launcher").click();
    settle().await;
    assert_eq!(fixture.socket.connects(), 2, "the next open connects at once");
    fixture.socket.emit(SocketEvent::Opened);
    let configures = fixture.socket.actions("configureSession");
    assert_ne!(configures.last().unwrap()["token"], first_token, "a fresh token");
    assert_eq!(fixture.messages().len(), 0, "blank");
}

#[wasm_bindgen_test]
async fn send_goes_from_sending_to_sent_on_echo() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.type_and_send("hello **world**").await;

    let sent = fixture.socket.actions("onMessage");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["message"]["text"], "hello **world**");
    let tracing_id = sent[0]["tracingId"].as_str().unwrap().to_string();
    let message = fixture.find("[data-testid=\"message\"][data-direction=\"inbound\"]").expect("own message shown");
    assert_eq!(message.get_attribute("data-status").as_deref(), Some("sending"));
    assert_eq!(message.get_attribute("data-author").as_deref(), Some("customer"));
    assert_eq!(message.get_attribute("data-id").as_deref(), Some(tracing_id.as_str()));
    let composer: web_sys::HtmlTextAreaElement = fixture.must("composer").unchecked_into();
    assert_eq!(composer.value(), "", "composer cleared");

    fixture.socket.frame(echo(&sent[0]["tracingId"], "srv-1", "hello **world**"));
    settle().await;
    let messages = fixture.messages();
    assert_eq!(messages.len(), 1, "the echo replaces the local message");
    assert_eq!(messages[0].get_attribute("data-status").as_deref(), Some("sent"));
    assert_eq!(messages[0].get_attribute("data-id").as_deref(), Some("srv-1"), "data-id becomes the server id");
    assert!(messages[0].text_content().unwrap().contains("hello **world**"), "customer text is shown verbatim");
}

#[wasm_bindgen_test]
async fn refused_message_fails_and_offers_retry() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.type_and_send("too long for the server").await;
    let tracing_id = fixture.socket.actions("onMessage")[0]["tracingId"].clone();

    fixture.socket.frame(json!({"type": "response", "class": "string", "code": 4011, "body": "Message text exceeds maximum length", "tracingId": tracing_id}));
    settle().await;
    let message = fixture.find("[data-testid=\"message\"]").unwrap();
    assert_eq!(message.get_attribute("data-status").as_deref(), Some("failed"));
    let retry = fixture.testid("message-retry").expect("a retry button on the failed message");

    retry.click();
    settle().await;
    assert_eq!(fixture.socket.actions("onMessage").len(), 2, "retry sends again");
    assert_eq!(fixture.find("[data-testid=\"message\"]").unwrap().get_attribute("data-status").as_deref(), Some("sending"));
}

#[wasm_bindgen_test]
async fn read_only_offers_start_new() {
    let fixture = Fixture::mount("en");
    fixture
        .connect(json!({"connected": true, "newSession": false, "readOnly": true, "durationSeconds": 1800, "expirationDate": now_secs() + 1800}))
        .await;
    assert_eq!(fixture.attr("status", "data-state"), "read-only");
    let composer: web_sys::HtmlTextAreaElement = fixture.must("composer").unchecked_into();
    assert!(composer.disabled(), "composer disabled while read-only");

    fixture.must("start-new").click();
    settle().await;
    assert_eq!(fixture.socket.actions("closeSession").len(), 1, "start new closes the old session first");
}

#[wasm_bindgen_test]
async fn offline_offers_retry() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    web_sys::window().unwrap().dispatch_event(&web_sys::Event::new("offline").unwrap()).unwrap();
    fixture.socket.emit(SocketEvent::Closed { code: 1006, reason: String::new(), was_clean: false });
    settle().await;
    assert_eq!(fixture.attr("status", "data-state"), "offline");

    fixture.must("retry").click();
    settle().await;
    assert_eq!(fixture.socket.connects(), 2, "retry reconnects");
    web_sys::window().unwrap().dispatch_event(&web_sys::Event::new("online").unwrap()).unwrap();
}

#[wasm_bindgen_test]
async fn lost_socket_shows_reconnecting() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.emit(SocketEvent::Closed { code: 1006, reason: String::new(), was_clean: false });
    settle().await;
    let state = fixture.attr("status", "data-state");
    assert!(state == "reconnecting" || state == "connecting", "state was {state}");
}

#[wasm_bindgen_test]
async fn agent_html_is_shown_as_text() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    let hostile = "<img src=x onerror=alert(1)> and [link](javascript:alert(1))";
    fixture.socket.frame(agent_text("a-xss", hostile));
    settle().await;
    let message = fixture.find("[data-testid=\"message\"][data-author=\"agent\"]").expect("agent message");
    assert_eq!(message.get_attribute("data-direction").as_deref(), Some("outbound"));
    assert!(message.text_content().unwrap().contains("<img src=x onerror=alert(1)>"));
    assert!(message.query_selector("img").unwrap().is_none(), "no <img> from the text (the avatar is an SVG image)");
    assert!(message.query_selector("svg image").unwrap().is_some(), "the agent's avatar is shown");
    assert!(message.query_selector("a").unwrap().is_none(), "no javascript: link");
}

#[wasm_bindgen_test]
async fn markdown_renders_as_elements() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.frame(agent_text("a-md", "**bold** and [docs](https://example.com)"));
    settle().await;
    let message = fixture.find("[data-testid=\"message\"][data-author=\"agent\"]").unwrap();
    assert_eq!(message.query_selector("strong").unwrap().unwrap().text_content().as_deref(), Some("bold"));
    let link = message.query_selector("a").unwrap().unwrap();
    assert_eq!(link.get_attribute("href").as_deref(), Some("https://example.com"));
    assert_eq!(link.get_attribute("rel").as_deref(), Some("noopener noreferrer"));
}

#[wasm_bindgen_test]
async fn unread_badge_counts_while_closed_and_typing_shows() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.frame(json!({
        "type": "message", "class": "StructuredMessage", "code": 200,
        "body": {"id": "t1", "type": "Event", "direction": "Outbound",
                 "events": [{"eventType": "Typing", "typing": {"type": "On", "duration": 5000}}]}
    }));
    settle().await;
    assert!(fixture.testid("typing").is_some(), "typing indicator");

    fixture.must("launcher").click();
    settle().await;
    fixture.socket.frame(agent_text("a2", "Are you there?"));
    settle().await;
    assert_eq!(fixture.must("unread-badge").text_content().as_deref(), Some("1"));
    assert!(fixture.testid("typing").is_none(), "a message ends the typing indicator");

    fixture.must("launcher").click();
    settle().await;
    assert!(fixture.testid("unread-badge").is_none(), "opening clears unread");
}

#[wasm_bindgen_test]
async fn notices_are_not_messages() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.frame(json!({
        "type": "message", "class": "StructuredMessage", "code": 200,
        "body": {"id": "p1", "type": "Event", "direction": "Outbound",
                 "channel": {"time": now_iso()},
                 "events": [{"eventType": "Presence", "presence": {"type": "Disconnect"}}]}
    }));
    settle().await;
    assert!(fixture.testid("notice").is_some(), "agent left notice");
    assert_eq!(fixture.messages().len(), 0);
}

#[wasm_bindgen_test]
async fn arabic_is_right_to_left_and_french_is_translated() {
    let arabic = Fixture::mount("ar");
    settle().await;
    assert_eq!(arabic.attr("messenger", "dir"), "rtl");
    assert_eq!(arabic.find(".tl-root").unwrap().get_attribute("dir").as_deref(), Some("rtl"));
    drop(arabic);

    let french = Fixture::mount("fr");
    settle().await;
    assert_eq!(french.attr("messenger", "dir"), "ltr");
    assert_eq!(french.attr("launcher", "aria-label"), "Ouvrir la conversation");
}

#[wasm_bindgen_test]
async fn storage_keys_are_namespaced_and_corrupt_values_reset() {
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    storage.set_item("threadline:corrupt-test:outbox", "{not json").unwrap();
    storage.set_item("threadline:corrupt-test:token", "tok-1").unwrap();
    let mut store = Store::browser("corrupt-test");
    let persisted = store.load();
    assert_eq!(persisted.token.as_ref().map(|token| token.as_str().to_string()).as_deref(), Some("tok-1"));
    assert!(persisted.outbox.is_empty());
    assert_eq!(store.problem(), Some(threadline::StorageProblem::Corrupt));
    assert_eq!(storage.get_item("threadline:corrupt-test:outbox").unwrap(), None, "corrupt value removed");
    storage.remove_item("threadline:corrupt-test:token").unwrap();
}

/// Whether `element` is at least partly inside the visible box of the scrolling `container`.
fn shows(container: &web_sys::HtmlElement, element: &web_sys::HtmlElement) -> bool {
    let (outer, inner) = (container.get_bounding_client_rect(), element.get_bounding_client_rect());
    inner.bottom() > outer.top() && inner.top() < outer.bottom()
}

#[wasm_bindgen_test]
async fn long_transcript_renders_a_window_that_follows_the_scroll() {
    const COUNT: usize = 2000;
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    let transcript = fixture.fill_sized_transcript(COUNT).await;

    let shown = fixture.messages();
    assert!(!shown.is_empty() && shown.len() < 300, "{} of {COUNT} messages in the DOM", shown.len());
    let newest = shown.last().unwrap();
    assert_eq!(newest.get_attribute("data-id").as_deref(), Some(format!("m{}", COUNT - 1).as_str()));
    assert!(shows(&transcript, newest), "the newest message is scrolled into view");
    let (top, height, client) = (transcript.scroll_top(), transcript.scroll_height(), transcript.client_height());
    assert!(height > 20 * client, "the spacers keep the full scroll height ({height} px for a {client} px view)");
    assert!(height - top - client <= 1, "pinned to the bottom");

    // A jump to the top renders the oldest messages there (the window follows the scroll).
    transcript.set_scroll_top(0);
    let first_is_oldest = || fixture.messages().into_iter().next().filter(|first| first.get_attribute("data-id").as_deref() == Some("m0"));
    settle_until(20, || first_is_oldest().is_some()).await;
    let oldest = first_is_oldest().expect("the oldest message is rendered after scrolling to the top");
    assert!(shows(&transcript, &oldest), "the oldest message is in view");
    assert!(fixture.messages().len() < 300, "still a window: {} messages in the DOM", fixture.messages().len());

    // Back at the bottom, new messages render and keep the view pinned.
    transcript.set_scroll_top(transcript.scroll_height());
    settle().await;
    fixture.socket.frame(agent_text("late", "one more"));
    settle().await;
    settle().await;
    let newest = fixture.messages().pop().unwrap();
    assert_eq!(newest.get_attribute("data-id").as_deref(), Some("late"));
    assert!(shows(&transcript, &newest), "the appended message is in view");
}
