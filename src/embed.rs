//! The host-page API of an embedded messenger: the app side of `www/threadline.js`.
//!
//! The loader owns the page side: the `Threadline(...)` / `Genesys(...)` function, the queue of
//! calls made before anything loaded, subscriptions, `Launcher.show/hide`, and the
//! `threadline:<event>` `CustomEvent`s on `window`. This module is what it calls once the wasm
//! is in:
//!
//! * [`threadline_boot`] fetches the deployment's `config.json` and mounts the messenger into
//!   the element the loader created inside its shadow root, then emits `Messenger.ready`;
//! * [`threadline_command`] runs one command and answers with a `Promise`;
//! * engine events ([`HostEvents`]) and two model signals (panel open, unread count) become
//!   host events handed to the loader's `emit(name, data)`.
//!
//! Names and payload shapes follow Genesys Messenger where it has the same command or event
//! (`www/threadline.d.ts` types them).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;

use leptos::prelude::*;
use serde::Serialize;
use serde_json::{json, Map, Value};
use threadline_core::protocol::DeploymentConfig;
use threadline_core::session::{
    Author, CloseReason, CommandError, ConnectionState, DeliveryStatus, Direction, EntryKey, EntryKind, Event, TranscriptEntry,
};
use wasm_bindgen::prelude::*;

use crate::config::{AppConfig, RawConfig};
use crate::i18n::Locale;
use crate::{address, browser_services, AddressError, Messenger};

// ---------------------------------------------------------------------------------------------
// Events

/// One event for the host page: its name (`Connection.stateChanged`, …) and JSON payload.
#[derive(Clone, Debug, PartialEq)]
pub struct HostEvent {
    pub name: &'static str,
    pub data: Value,
}

impl HostEvent {
    fn new(name: &'static str, data: Value) -> Self {
        Self { name, data }
    }
}

/// Turns engine events into host-page events, remembering only what that needs: the last
/// connection state (for `previous`), whether the link was lost (so `Connection.reconnected`
/// follows exactly one `Connection.disconnected`), and which messages were announced (a
/// message is announced once, when the server has it).
#[derive(Debug, Default)]
pub struct HostEvents {
    state: Option<&'static str>,
    was_connected: bool,
    disconnected: bool,
    announced: HashSet<EntryKey>,
}

impl HostEvents {
    /// The host events `event` gives (often none).
    pub fn translate(&mut self, event: &Event) -> Vec<HostEvent> {
        let mut out = Vec::new();
        match event {
            Event::StateChanged(state) => self.state_changed(state, &mut out),
            Event::SessionConfigured(info) if info.new_session => {
                out.push(HostEvent::new("Conversations.started", json!({})));
            }
            Event::ExpiringSoon { expires_at } => {
                out.push(HostEvent::new("Session.expiring", json!({ "expiresAt": expires_at.0 })));
            }
            Event::Expired => {
                self.announced.clear();
                out.push(HostEvent::new("Session.expired", json!({})));
            }
            // A restored or reloaded transcript is history, not news: only what is already on
            // the server is marked; own messages still queued are announced when they arrive.
            Event::TranscriptReset(entries) => {
                self.announced.extend(entries.iter().filter(|entry| entry.status == DeliveryStatus::Sent).map(|entry| entry.key.clone()));
            }
            Event::EntryUpserted(entry)
                if entry.kind == EntryKind::Message && entry.status == DeliveryStatus::Sent && self.announced.insert(entry.key.clone()) =>
            {
                out.push(HostEvent::new("MessagingService.messagesReceived", json!({ "messages": [message_payload(entry)] })));
            }
            Event::ReadOnly => out.push(HostEvent::new("Conversations.closed", json!({ "reason": "ended" }))),
            Event::ConversationCleared => out.push(HostEvent::new("Conversations.closed", json!({ "reason": "cleared" }))),
            _ => {}
        }
        out
    }

    fn state_changed(&mut self, state: &ConnectionState, out: &mut Vec<HostEvent>) {
        let name = state_name(state);
        // A follower tab's snapshot repeats the state it already shows: no change to report.
        let detailed = matches!(state, ConnectionState::Reconnecting { .. } | ConnectionState::Closed { .. } | ConnectionState::Error { .. });
        if self.state == Some(name) && !detailed {
            return;
        }
        let mut data = json!({ "state": name, "previous": self.state });
        if let Value::Object(fields) = &mut data {
            match state {
                ConnectionState::Reconnecting { attempt, .. } => {
                    fields.insert("attempt".into(), json!(attempt));
                }
                ConnectionState::Closed { reason } => {
                    fields.insert("reason".into(), json!(close_reason(reason)));
                }
                ConnectionState::Error { code, message } => {
                    fields.insert("code".into(), json!(code));
                    fields.insert("message".into(), json!(message));
                }
                _ => {}
            }
        }
        self.state = Some(name);
        out.push(HostEvent::new("Connection.stateChanged", data.clone()));
        let lost = matches!(
            state,
            ConnectionState::Reconnecting { .. } | ConnectionState::Offline | ConnectionState::Closed { .. } | ConnectionState::Error { .. }
        );
        if matches!(state, ConnectionState::Connected | ConnectionState::ReadOnly) {
            if self.disconnected {
                out.push(HostEvent::new("Connection.reconnected", json!({})));
            }
            self.was_connected = true;
            self.disconnected = false;
        } else if lost && self.was_connected && !self.disconnected {
            self.disconnected = true;
            out.push(HostEvent::new("Connection.disconnected", data));
        }
    }
}

/// The `state` of `Connection.stateChanged`.
pub fn state_name(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::Idle => "idle",
        ConnectionState::Connecting => "connecting",
        ConnectionState::Connected => "connected",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::Offline => "offline",
        ConnectionState::ReadOnly => "readOnly",
        ConnectionState::Expired => "expired",
        ConnectionState::Closed { .. } => "closed",
        ConnectionState::Error { .. } => "error",
    }
}

fn close_reason(reason: &CloseReason) -> String {
    match reason {
        CloseReason::User => "user".into(),
        CloseReason::ServerClosed => "serverClosed".into(),
        CloseReason::ConversationCleared => "conversationCleared".into(),
        CloseReason::SignedIn => "signedIn".into(),
        CloseReason::SessionLimitReached => "sessionLimitReached".into(),
        CloseReason::LoggedOut => "loggedOut".into(),
        CloseReason::Other(text) => text.clone(),
    }
}

/// One message of `MessagingService.messagesReceived`.
fn message_payload(entry: &TranscriptEntry) -> Value {
    json!({
        "id": entry.message_id.as_ref().map_or(entry.key.as_str(), |id| id.as_str()),
        "text": entry.text,
        "direction": match entry.direction { Direction::Inbound => "Inbound", Direction::Outbound => "Outbound" },
        "author": match entry.author {
            Author::Customer => "customer",
            Author::Agent => "agent",
            Author::Bot => "bot",
            Author::System => "system",
        },
        "displayName": entry.display_name,
        "timestamp": entry.time.map(|time| time.0),
    })
}

// ---------------------------------------------------------------------------------------------
// Commands

/// A host-page command, parsed from its name and options.
#[derive(Clone, Debug, PartialEq)]
pub enum HostCommand {
    /// `Messenger.open`
    Open,
    /// `Messenger.close`
    Close,
    /// `Messenger.toggle`
    Toggle,
    /// `MessagingService.sendMessage` `{ message }`
    SendMessage(String),
    /// `MessagingService.clearConversation`
    ClearConversation,
    /// `MessagingService.startNewConversation`
    StartNewConversation,
    /// `Database.set` `{ messaging: { customAttributes } }` (or `{ customAttributes }`)
    SetAttributes(BTreeMap<String, String>),
    /// `Locale.set` `{ locale }`
    SetLocale(Locale),
    /// `Auth.signIn`: the built-in redirect to the identity provider, or the host page's
    /// `auth.getTokens` provider.
    SignIn,
    /// `Auth.signOut`
    SignOut,
    /// `Notifications.requestPermission`: asks the user (call it from a click handler) and,
    /// when granted, notifies of new agent messages while the page is hidden.
    RequestNotifications,
}

impl HostCommand {
    /// Parses `name` and its `options` (`Value::Null` when none were given). The error is the
    /// message the host page's promise is rejected with.
    pub fn parse(name: &str, options: &Value) -> Result<Self, String> {
        let field = |key: &str| options.get(key);
        Ok(match name {
            "Messenger.open" => Self::Open,
            "Messenger.close" => Self::Close,
            "Messenger.toggle" => Self::Toggle,
            "MessagingService.sendMessage" => match field("message") {
                Some(Value::String(text)) => Self::SendMessage(text.clone()),
                _ => return Err(format!("Threadline: {name} needs {{ message: string }}")),
            },
            "MessagingService.clearConversation" => Self::ClearConversation,
            "MessagingService.startNewConversation" => Self::StartNewConversation,
            "Database.set" => {
                let attributes = options.pointer("/messaging/customAttributes").or_else(|| field("customAttributes"));
                let Some(Value::Object(attributes)) = attributes else {
                    return Err(format!("Threadline: {name} needs {{ messaging: {{ customAttributes: {{ … }} }} }}"));
                };
                Self::SetAttributes(custom_attributes(name, attributes)?)
            }
            "Locale.set" => {
                let Some(Value::String(tag)) = field("locale") else {
                    return Err(format!("Threadline: {name} needs {{ locale: string }}"));
                };
                let locale = Locale::parse(tag);
                let primary = tag.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
                if locale.tag() != primary {
                    return Err(format!("Threadline: {name}: unsupported locale {tag:?} (supported: en, fr, ar)"));
                }
                Self::SetLocale(locale)
            }
            "Auth.signIn" => Self::SignIn,
            "Auth.signOut" => Self::SignOut,
            "Notifications.requestPermission" => Self::RequestNotifications,
            _ => return Err(format!("Threadline: unknown command {name:?}")),
        })
    }
}

/// Attribute values travel as strings; numbers and booleans are written out, anything else is
/// refused rather than guessed at.
fn custom_attributes(command: &str, attributes: &Map<String, Value>) -> Result<BTreeMap<String, String>, String> {
    // Inserted, not collected: collecting into a BTreeMap instantiates a stable sort (size in wasm).
    let mut strings = BTreeMap::new();
    for (key, value) in attributes {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            _ => return Err(format!("Threadline: {command}: custom attribute {key:?} must be a string, number or boolean")),
        };
        strings.insert(key.clone(), text);
    }
    Ok(strings)
}

// ---------------------------------------------------------------------------------------------
// The wasm bridge

thread_local! {
    static EMBEDDED: RefCell<Option<Embedded>> = const { RefCell::new(None) };
    /// The host page obtained the notification permission before (or while) the messenger
    /// mounted: every mount (also after `Locale.set`) notifies.
    static NOTIFICATIONS_WANTED: Cell<bool> = const { Cell::new(false) };
}

/// The loader's `emit(name, data)`.
#[derive(Clone)]
struct Emitter(Rc<js_sys::Function>);

impl Emitter {
    fn send(&self, event: HostEvent) {
        let data = event.data.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL);
        if let Err(error) = self.0.call2(&JsValue::NULL, &JsValue::from_str(event.name), &data) {
            web_sys::console::warn_2(&JsValue::from_str("Threadline: emitting a host event failed"), &error);
        }
    }
}

/// The mounted messenger and what is needed to mount it again (`Locale.set`).
struct Embedded {
    parent: web_sys::HtmlElement,
    app: AppConfig,
    deployment: DeploymentConfig,
    emit: Emitter,
    // Declared before `messenger` so it is dropped first: its effects read the model.
    watchers: Owner,
    messenger: Messenger,
}

impl Embedded {
    fn mount(parent: web_sys::HtmlElement, app: AppConfig, deployment: DeploymentConfig, emit: Emitter) -> Result<Self, AddressError> {
        let services = browser_services(&app.deployment_id);
        let messenger = crate::mount(parent.clone(), app.clone(), deployment.clone(), services)?;
        if NOTIFICATIONS_WANTED.with(Cell::get) {
            messenger.driver().enable_notifications();
        }
        let watchers = watch(&messenger, &emit);
        Ok(Self { parent, app, deployment, emit, watchers, messenger })
    }

    /// Unmounts, closing the connection (the token stays stored, so a remount resumes).
    fn unmount(self) -> (web_sys::HtmlElement, AppConfig, DeploymentConfig, Emitter, bool) {
        let Self { parent, app, deployment, emit, watchers, messenger } = self;
        let was_open = messenger.driver().model().open.get_untracked();
        drop(watchers);
        messenger.driver().set_event_observer(None);
        drop(messenger);
        (parent, app, deployment, emit, was_open)
    }
}

/// Feeds host events from the driver's engine events and from the model's panel and unread
/// signals. The returned owner holds the effects; dropping it stops them.
fn watch(messenger: &Messenger, emit: &Emitter) -> Owner {
    let driver = messenger.driver();
    let translator = RefCell::new(HostEvents::default());
    let sink = emit.clone();
    driver.set_event_observer(Some(Rc::new(move |event: &Event| {
        let events = translator.borrow_mut().translate(event);
        events.into_iter().for_each(|event| sink.send(event));
    })));
    let model = driver.model();
    let owner = Owner::new();
    owner.with(|| {
        // Compared with the last value reported, not the effect's previous run: the first run
        // is asynchronous and the panel may already have opened by then.
        let reported_open = Cell::new(model.open.get_untracked());
        let sink = emit.clone();
        Effect::new(move |_| {
            let open = model.open.get();
            if reported_open.replace(open) != open {
                sink.send(HostEvent::new(if open { "Messenger.opened" } else { "Messenger.closed" }, json!({})));
            }
        });
        // Sign-in: a change of `signed_in`, or an attempt that ended without it.
        let reported_signed_in = Cell::new(model.signed_in.get_untracked());
        let sink = emit.clone();
        Effect::new(move |_| {
            let signed_in = model.signed_in.get();
            if reported_signed_in.replace(signed_in) != signed_in {
                sink.send(HostEvent::new(if signed_in { "Auth.signedIn" } else { "Auth.signedOut" }, json!({})));
            }
        });
        let was_signing_in = Cell::new(model.signing_in.get_untracked());
        let sink = emit.clone();
        Effect::new(move |_| {
            let signing_in = model.signing_in.get();
            if was_signing_in.replace(signing_in) && !signing_in && !model.signed_in.get_untracked() {
                let message = model.alert.get_untracked().unwrap_or_default();
                sink.send(HostEvent::new("Auth.authError", json!({ "message": message })));
            }
        });
        let reported_unread = Cell::new(model.unread.get_untracked());
        let sink = emit.clone();
        Effect::new(move |_| {
            let count = model.unread.get();
            if reported_unread.replace(count) != count {
                sink.send(HostEvent::new("MessagingService.unreadCount", json!({ "count": count })));
            }
        });
    });
    owner
}

/// Whether the page's `window.Threadline` is the embed loader. Then the loader boots the app
/// into its shadow root ([`threadline_boot`]) and [`crate::start`] must not mount a second
/// messenger into the page.
pub fn loaded_by_loader() -> bool {
    let Some(window) = web_sys::window() else { return false };
    js_sys::Reflect::get(&window, &JsValue::from_str("Threadline"))
        .ok()
        .filter(JsValue::is_function)
        .and_then(|api| js_sys::Reflect::get(&api, &JsValue::from_str("embedded")).ok())
        .is_some_and(|flag| flag.is_truthy())
}

/// Called by the loader: mounts the messenger into `parent` (inside the loader's shadow root)
/// with `settings` (`deploymentId`, `server`, `locale`, `theme`, `position`, `primaryColor`,
/// `title`), and reports host events through `emit(name, data)`, `Messenger.ready` first.
/// Fails at once on unusable settings.
#[wasm_bindgen]
pub fn threadline_boot(parent: web_sys::HtmlElement, settings: JsValue, emit: js_sys::Function) -> Result<(), JsError> {
    console_error_panic_hook::set_once();
    if EMBEDDED.with(|slot| slot.borrow().is_some()) {
        return Err(JsError::new("Threadline: the messenger is already running"));
    }
    crate::platform::auth::set_host_token_provider(token_provider(&settings));
    let raw: RawConfig = serde_wasm_bindgen::from_value(settings).map_err(|error| JsError::new(&format!("Threadline: unusable settings ({error})")))?;
    let origin = web_sys::window().and_then(|window| window.location().origin().ok()).unwrap_or_default();
    let mut app = AppConfig::with_server(origin);
    app.apply(&raw);
    let endpoints = address::endpoints(&app.server, &app.deployment_id).map_err(|error| JsError::new(&format!("Threadline: {error}")))?;
    let emit = Emitter(Rc::new(emit));
    let http = browser_services(&app.deployment_id).http;
    http.get(
        &endpoints.config_url(),
        None,
        Box::new(move |result| {
            let deployment = crate::deployment_or_default(result);
            match Embedded::mount(parent, app, deployment, emit.clone()) {
                Ok(embedded) => {
                    let data = json!({ "deploymentId": embedded.app.deployment_id, "locale": embedded.app.locale.tag() });
                    // Stored before `ready` goes out: the loader sends queued commands on it.
                    EMBEDDED.with(|slot| *slot.borrow_mut() = Some(embedded));
                    emit.send(HostEvent::new("Messenger.ready", data));
                }
                Err(error) => web_sys::console::error_1(&JsValue::from_str(&format!("Threadline: {error}"))),
            }
        }),
    );
    Ok(())
}

/// `settings.auth.getTokens`, when the host page gave a function.
fn token_provider(settings: &JsValue) -> Option<js_sys::Function> {
    let auth = js_sys::Reflect::get(settings, &JsValue::from_str("auth")).ok().filter(JsValue::is_object)?;
    js_sys::Reflect::get(&auth, &JsValue::from_str("getTokens")).ok()?.dyn_into().ok()
}

/// Called by the loader for `Threadline('command', name, options)`: resolves with the result
/// (see `www/threadline.d.ts`) or rejects with an `Error` saying what was wrong.
#[wasm_bindgen]
pub fn threadline_command(name: String, options: JsValue) -> js_sys::Promise {
    let options = if options.is_undefined() || options.is_null() {
        Ok(Value::Null)
    } else {
        serde_wasm_bindgen::from_value::<Value>(options).map_err(|error| format!("Threadline: {name}: unusable options ({error})"))
    };
    let command = options.and_then(|options| HostCommand::parse(&name, &options));
    if command == Ok(HostCommand::RequestNotifications) {
        return request_notifications();
    }
    let result = command.and_then(|command| run(&name, command));
    match result {
        Ok(value) => {
            let value = value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::UNDEFINED);
            js_sys::Promise::resolve(&value)
        }
        Err(message) => js_sys::Promise::reject(&js_sys::Error::new(&message)),
    }
}

/// Asks for the notification permission (the prompt needs the host page's user gesture, so
/// this runs at once, before the messenger is even ready) and resolves with
/// `{ permission }`; notifications are turned on when it is `granted`.
fn request_notifications() -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async {
        let permission = crate::platform::notify::request_permission().await;
        if permission == "granted" {
            NOTIFICATIONS_WANTED.with(|wanted| wanted.set(true));
            EMBEDDED.with(|slot| {
                if let Some(embedded) = slot.borrow().as_ref() {
                    embedded.messenger.driver().enable_notifications();
                }
            });
        }
        Ok(json!({ "permission": permission }).serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL))
    })
}

fn run(name: &str, command: HostCommand) -> Result<Value, String> {
    let driver = EMBEDDED
        .with(|slot| slot.borrow().as_ref().map(|embedded| embedded.messenger.driver().clone()))
        .ok_or_else(|| format!("Threadline: {name}: the messenger is not ready yet"))?;
    let failed = |error: CommandError| format!("Threadline: {name}: {error}");
    match command {
        HostCommand::Open => {
            driver.open_panel();
            Ok(json!({ "open": true }))
        }
        HostCommand::Close => {
            driver.close_panel();
            Ok(json!({ "open": false }))
        }
        HostCommand::Toggle => {
            let open = !driver.model().open.get_untracked();
            if open {
                driver.open_panel();
            } else {
                driver.close_panel();
            }
            Ok(json!({ "open": open }))
        }
        HostCommand::SendMessage(text) => {
            // Nobody opened the messenger yet (or the session ended): connect first, as opening
            // the panel would. Through the driver, so a tab that does not hold the connection
            // asks the one that does, in this order.
            let idle = matches!(
                driver.model().state.get_untracked(),
                ConnectionState::Idle | ConnectionState::Closed { .. } | ConnectionState::Expired | ConnectionState::Error { .. }
            );
            if idle {
                driver.connect();
            }
            let key = driver.send_text(text).map_err(failed)?;
            Ok(json!({ "id": key.as_str() }))
        }
        // Both go to the leader tab when another tab holds the connection; its engine decides
        // there, and a refusal shows as an alert in that tab.
        HostCommand::ClearConversation => {
            driver.clear_conversation().map_err(failed)?;
            Ok(Value::Null)
        }
        HostCommand::StartNewConversation => {
            // The driver's command reports nothing, so the rule is checked here first.
            let model = driver.model();
            if model.state.get_untracked() != ConnectionState::ReadOnly && !model.signed_in.get_untracked() {
                return Err(failed(CommandError::NotReadOnly));
            }
            driver.start_new_conversation();
            Ok(Value::Null)
        }
        HostCommand::SetAttributes(attributes) => {
            // `null`: sent to the tab holding the connection, which knows the merged set.
            let merged = driver.set_custom_attributes(attributes).map_err(failed)?;
            Ok(json!({ "customAttributes": merged }))
        }
        HostCommand::SignIn => {
            let model = driver.model();
            if !model.auth_enabled.get_untracked() {
                return Err(not_configured(name));
            }
            if model.signed_in.get_untracked() {
                return Ok(json!({ "signedIn": true }));
            }
            // The redirect leaves the page; a provider answers later (`Auth.signedIn`).
            driver.request_sign_in();
            Ok(json!({ "signedIn": false }))
        }
        HostCommand::SignOut => {
            let model = driver.model();
            if !model.auth_enabled.get_untracked() {
                return Err(not_configured(name));
            }
            if model.signed_in.get_untracked() {
                driver.sign_out();
            }
            Ok(json!({ "signedIn": false }))
        }
        // Answered by `threadline_command` before it gets here.
        HostCommand::RequestNotifications => Ok(json!({ "permission": crate::platform::notify::permission() })),
        HostCommand::SetLocale(locale) => {
            // Remounting drops the messenger: hold no handle on its driver meanwhile.
            drop(driver);
            set_locale(locale)
        }
    }
}

fn not_configured(name: &str) -> String {
    format!("Threadline: {name}: sign-in is not configured (set `auth` in Threadline('init') or data-auth, and enable auth on the deployment)")
}

/// The UI's strings are fixed at mount, so a new language means a new mount; the stored token
/// makes the new messenger resume the same conversation.
fn set_locale(locale: Locale) -> Result<Value, String> {
    let current = EMBEDDED
        .with(|slot| slot.borrow_mut().take())
        .ok_or_else(|| "Threadline: Locale.set: the messenger is not ready yet".to_string())?;
    if current.app.locale == locale {
        EMBEDDED.with(|slot| *slot.borrow_mut() = Some(current));
        return Ok(json!({ "locale": locale.tag() }));
    }
    let (parent, mut app, deployment, emit, was_open) = current.unmount();
    app.locale = locale;
    let embedded = Embedded::mount(parent, app, deployment, emit).map_err(|error| format!("Threadline: Locale.set: {error}"))?;
    if was_open {
        embedded.messenger.open();
    }
    EMBEDDED.with(|slot| *slot.borrow_mut() = Some(embedded));
    Ok(json!({ "locale": locale.tag() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use threadline_core::protocol::MessageId;
    use threadline_core::session::SessionInfo;
    use threadline_core::time::UnixMillis;

    use crate::model::test_entry as entry;

    fn names(events: &[HostEvent]) -> Vec<&'static str> {
        events.iter().map(|event| event.name).collect()
    }

    #[test]
    fn a_message_is_announced_once_when_the_server_has_it() {
        let mut events = HostEvents::default();
        let mut agent = entry("m1", Author::Agent, DeliveryStatus::Sent);
        agent.message_id = Some(MessageId::new("server-1".to_string()));
        let first = events.translate(&Event::EntryUpserted(agent.clone()));
        assert_eq!(names(&first), ["MessagingService.messagesReceived"]);
        let message = &first[0].data["messages"][0];
        assert_eq!(message["id"], "server-1");
        assert_eq!(message["text"], "text of m1");
        assert_eq!(message["direction"], "Outbound");
        assert_eq!(message["author"], "agent");
        assert_eq!(message["displayName"], "Ada");
        assert_eq!(message["timestamp"], 1_700_000_000_000u64);
        assert!(events.translate(&Event::EntryUpserted(agent)).is_empty(), "an update is not a new message");

        let pending = entry("own", Author::Customer, DeliveryStatus::Sending);
        assert!(events.translate(&Event::EntryUpserted(pending)).is_empty(), "not on the server yet");
        let echoed = entry("own", Author::Customer, DeliveryStatus::Sent);
        let own = events.translate(&Event::EntryUpserted(echoed));
        assert_eq!(own[0].data["messages"][0]["direction"], "Inbound");
    }

    #[test]
    fn history_is_not_news_but_queued_messages_still_are() {
        let mut events = HostEvents::default();
        let old = entry("old", Author::Agent, DeliveryStatus::Sent);
        let queued = entry("queued", Author::Customer, DeliveryStatus::Queued);
        assert!(events.translate(&Event::TranscriptReset(vec![old.clone(), queued])).is_empty());
        assert!(events.translate(&Event::EntryUpserted(old)).is_empty());
        let delivered = events.translate(&Event::EntryUpserted(entry("queued", Author::Customer, DeliveryStatus::Sent)));
        assert_eq!(names(&delivered), ["MessagingService.messagesReceived"]);
    }

    #[test]
    fn a_lost_link_gives_one_disconnected_then_one_reconnected() {
        let mut events = HostEvents::default();
        let connecting = events.translate(&Event::StateChanged(ConnectionState::Connecting));
        assert_eq!(connecting[0].data, json!({ "state": "connecting", "previous": null }));
        assert_eq!(names(&events.translate(&Event::StateChanged(ConnectionState::Connected))), ["Connection.stateChanged"]);
        let lost = events.translate(&Event::StateChanged(ConnectionState::Reconnecting { attempt: 1, next_attempt_at: None }));
        assert_eq!(names(&lost), ["Connection.stateChanged", "Connection.disconnected"]);
        assert_eq!(lost[1].data, json!({ "state": "reconnecting", "previous": "connected", "attempt": 1 }));
        let still_lost = events.translate(&Event::StateChanged(ConnectionState::Offline));
        assert_eq!(names(&still_lost), ["Connection.stateChanged"]);
        let back = events.translate(&Event::StateChanged(ConnectionState::Connected));
        assert_eq!(names(&back), ["Connection.stateChanged", "Connection.reconnected"]);
    }

    #[test]
    fn a_repeated_state_is_not_a_change() {
        let mut events = HostEvents::default();
        assert_eq!(names(&events.translate(&Event::StateChanged(ConnectionState::Connected))), ["Connection.stateChanged"]);
        assert!(events.translate(&Event::StateChanged(ConnectionState::Connected)).is_empty(), "a follower's second snapshot");
        let first = events.translate(&Event::StateChanged(ConnectionState::Reconnecting { attempt: 1, next_attempt_at: None }));
        let second = events.translate(&Event::StateChanged(ConnectionState::Reconnecting { attempt: 2, next_attempt_at: None }));
        assert_eq!((first.len(), second[0].data["attempt"].clone()), (2, json!(2)), "each attempt is reported");
    }

    #[test]
    fn auth_commands_parse() {
        assert_eq!(HostCommand::parse("Auth.signIn", &Value::Null), Ok(HostCommand::SignIn));
        assert_eq!(HostCommand::parse("Auth.signOut", &json!({})), Ok(HostCommand::SignOut));
        assert_eq!(HostCommand::parse("Notifications.requestPermission", &Value::Null), Ok(HostCommand::RequestNotifications));
    }

    #[test]
    fn first_connection_failures_are_not_disconnects() {
        let mut events = HostEvents::default();
        let failed = events.translate(&Event::StateChanged(ConnectionState::Error { code: 4007, message: "gone".into() }));
        assert_eq!(names(&failed), ["Connection.stateChanged"]);
        assert_eq!(failed[0].data["code"], 4007);
    }

    #[test]
    fn conversation_and_session_events() {
        let mut events = HostEvents::default();
        let started = events.translate(&Event::SessionConfigured(SessionInfo { new_session: true, ..SessionInfo::default() }));
        assert_eq!(names(&started), ["Conversations.started"]);
        assert!(events.translate(&Event::SessionConfigured(SessionInfo::default())).is_empty(), "a resumed session");
        assert_eq!(events.translate(&Event::ReadOnly)[0].data, json!({ "reason": "ended" }));
        assert_eq!(events.translate(&Event::ConversationCleared)[0].data, json!({ "reason": "cleared" }));
        let expiring = events.translate(&Event::ExpiringSoon { expires_at: UnixMillis(42) });
        assert_eq!((expiring[0].name, &expiring[0].data), ("Session.expiring", &json!({ "expiresAt": 42 })));
        assert_eq!(names(&events.translate(&Event::Expired)), ["Session.expired"]);
    }

    #[test]
    fn commands_parse_with_genesys_shapes() {
        assert_eq!(HostCommand::parse("Messenger.open", &Value::Null), Ok(HostCommand::Open));
        assert_eq!(
            HostCommand::parse("MessagingService.sendMessage", &json!({ "message": "hi" })),
            Ok(HostCommand::SendMessage("hi".into()))
        );
        let attributes = HostCommand::parse("Database.set", &json!({ "messaging": { "customAttributes": { "plan": "gold", "age": 42, "vip": true } } }));
        let expected: BTreeMap<String, String> = [("age", "42"), ("plan", "gold"), ("vip", "true")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        assert_eq!(attributes, Ok(HostCommand::SetAttributes(expected)));
        assert_eq!(HostCommand::parse("Locale.set", &json!({ "locale": "fr-CA" })), Ok(HostCommand::SetLocale(Locale::Fr)));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        let error = |name: &str, options: Value| HostCommand::parse(name, &options).unwrap_err();
        assert_eq!(error("Messenger.fly", Value::Null), "Threadline: unknown command \"Messenger.fly\"");
        assert!(error("MessagingService.sendMessage", json!({ "text": "hi" })).contains("{ message: string }"));
        assert!(error("Database.set", json!({ "customAttributes": { "nested": { "a": 1 } } })).contains("\"nested\" must be a string"));
        assert!(error("Locale.set", json!({ "locale": "de" })).contains("unsupported locale \"de\""));
    }
}
