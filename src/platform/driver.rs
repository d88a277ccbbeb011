//! The driver: owns the [`Session`] and runs the engine's drive loop in the browser.
//!
//! Every input (socket event, timer, page signal, HTTP answer, user command) becomes one job:
//! call the engine once, drain [`Session::poll_output`] executing each output in order, then
//! re-arm the single timer at [`Session::poll_timeout`]. Socket frames are handed to the engine
//! synchronously inside the socket's `onmessage` handler — never through a signal or effect.
//!
//! Re-entrancy: executing an output can call back into the driver synchronously (a scripted
//! transport answering at once, a socket that fails to construct, an engine event whose
//! handling issues a command). Such calls are queued and run right after the current job, so
//! the engine is never borrowed twice and outputs keep their order.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::{Rc, Weak};

use leptos::prelude::*;
use threadline_core::protocol::{AttachmentId, DeploymentConfig, HistoryPage, MessageId};
use threadline_core::session::{
    AttachmentUpdate, CommandError, ConnectionState, EntryKey, Entropy, Event, Output, Persisted, Session, SessionConfig,
    StorageWrite,
};
use threadline_core::time::UnixMillis;

use super::auth::{post_refresh, AuthHooks, Refresh};
use super::lifecycle::{self, Lifecycle, PageSignal};
use super::notify::{self, Alerts};
use super::storage::{StorageProblem, Store};
use super::tabs::{OwnFile, TabLink, TabSignal, TabState};
use super::timer::EngineTimer;
use super::{clock, Http, SocketEvent, Transport};
use crate::address::Endpoints;
use crate::attachments::{FileProblem, UploadPolicy};
use crate::model::{Model, UploadRow};
use crate::tabs::{self, Role, Snapshot, SnapshotParts, TabCommand, TabMessage};

type Job = Box<dyn FnOnce(&mut Session, UnixMillis)>;

/// Revoke attempts, each after renewing an expired JWT (SPEC §11.5: at most 3).
const REVOKE_ATTEMPTS: u32 = 3;

/// The IO the driver performs, swappable for tests.
pub struct Services {
    pub transport: Box<dyn Transport>,
    pub http: Rc<dyn Http>,
    pub store: Store,
}

/// Ids from `crypto.getRandomValues` (UUID v4), jitter from the same source.
///
/// `preset` lets the leader give a follower's message the key the follower already announced:
/// set right before `send_text`, whose first id is the message's tracing id, and cleared after.
#[derive(Default)]
struct BrowserEntropy {
    preset: Rc<RefCell<Option<String>>>,
}

impl Entropy for BrowserEntropy {
    fn new_id(&mut self) -> String {
        self.preset.borrow_mut().take().unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }

    fn next_u32(&mut self) -> u32 {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
}

/// A file to upload: this tab's or a follower's. Kept from the request for an upload URL until
/// the server confirms it (`files`), or until the session is connected (`awaiting_connection`).
struct UploadFile {
    /// The attaching tab's id for the file ([`OwnFile::id`]).
    id: String,
    file: web_sys::File,
    /// The follower tab the file came from (told when it is settled), `None` for this tab.
    requester: Option<String>,
}

/// Sees every engine event the driver handles (the host page's event API, tests).
pub type EventObserver = Rc<dyn Fn(&Event)>;

/// See the module docs.
pub struct Driver {
    this: Weak<Driver>,
    session: RefCell<Session>,
    queue: RefCell<VecDeque<Job>>,
    busy: Cell<bool>,
    transport: RefCell<Box<dyn Transport>>,
    http: Rc<dyn Http>,
    store: RefCell<Store>,
    timer: RefCell<EngineTimer>,
    /// Incremented whenever the current socket is let go; events of older sockets are ignored.
    generation: Cell<u64>,
    lifecycle: RefCell<Option<Lifecycle>>,
    model: Model,
    endpoints: Endpoints,
    deployment: DeploymentConfig,
    files: RefCell<HashMap<String, UploadFile>>,
    /// Files (this tab's or a follower's) to upload once the session is connected.
    awaiting_connection: RefCell<Vec<UploadFile>>,
    shut_down: Cell<bool>,
    /// Sees every engine event after the model did (the embed API's host events).
    observer: RefCell<Option<EventObserver>>,
    /// Sign-in, when the page configured it.
    auth: RefCell<Option<Rc<dyn AuthHooks>>>,
    /// A sign-in (code exchange, refresh after a reload, host provider) is on its way: opening
    /// the panel waits for it, so a signed-in customer's reload never starts a guest session.
    awaiting_sign_in: Cell<bool>,
    /// Tokens that arrived while a guest session was still configuring: signing in waits for
    /// it, so the guest conversation can be stepped up instead of being left.
    deferred_sign_in: RefCell<Option<(String, Option<String>)>>,
    /// To rebuild the engine from storage when this tab becomes the leader.
    config: SessionConfig,
    /// See [`BrowserEntropy`].
    preset_id: Rc<RefCell<Option<String>>>,
    /// One connection per browser (`crate::tabs`): only `Solo` and `Leader` drive the engine.
    role: Cell<Role>,
    tabs: RefCell<TabState>,
    /// New-message sound and notifications (only the tab running the engine fires them).
    alerts: Alerts,
}

impl Driver {
    /// Builds the engine from storage and starts listening to the page. If a conversation is
    /// stored, it reconnects in the background (so agent replies raise the unread badge).
    pub fn start(config: SessionConfig, deployment: DeploymentConfig, endpoints: Endpoints, services: Services, model: Model) -> Rc<Self> {
        let Services { transport, http, mut store } = services;
        // Tabs share a conversation only through localStorage; with it they elect one tab to
        // hold the connection, and the engine is built once this tab is elected (until then
        // an unused placeholder stands in, so nothing is read or written early).
        let coordinated = store.is_shared() && super::tabs::supported();
        let persisted = if coordinated { Persisted::default() } else { store.load() };
        let has_conversation = persisted.token.is_some();
        let now = clock::now();
        model.max_chars.set(config.max_message_chars);
        model.draft.set(store.draft());
        let preset_id = Rc::new(RefCell::new(None));
        let entropy = BrowserEntropy { preset: preset_id.clone() };
        let session = Session::new(config.clone(), persisted, Box::new(entropy), now);
        let driver = Rc::new_cyclic(|this| Self {
            this: this.clone(),
            session: RefCell::new(session),
            queue: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            transport: RefCell::new(transport),
            http,
            store: RefCell::new(store),
            timer: RefCell::new(EngineTimer::default()),
            generation: Cell::new(0),
            lifecycle: RefCell::new(None),
            model,
            endpoints,
            deployment,
            files: RefCell::new(HashMap::new()),
            awaiting_connection: RefCell::new(Vec::new()),
            shut_down: Cell::new(false),
            observer: RefCell::new(None),
            auth: RefCell::new(None),
            awaiting_sign_in: Cell::new(false),
            deferred_sign_in: RefCell::new(None),
            config,
            preset_id,
            role: Cell::new(if coordinated { Role::Pending } else { Role::Solo }),
            tabs: RefCell::new(TabState::default()),
            alerts: Alerts::default(),
        });
        driver.report_storage();
        let weak = driver.this.clone();
        *driver.lifecycle.borrow_mut() = Some(Lifecycle::install(move |signal| {
            if let Some(driver) = weak.upgrade() {
                driver.page_signal(signal);
            }
        }));
        if coordinated {
            driver.join_tabs();
        } else {
            driver.boot_engine(has_conversation);
        }
        driver
    }

    /// Starts the engine: drains what construction queued (a restored outbox), tells it about
    /// a page that starts hidden or offline, and resumes a stored conversation.
    fn boot_engine(&self, has_conversation: bool) {
        let (visible, online) = (lifecycle::is_visible(), lifecycle::is_online());
        self.run(move |session, now| {
            if !visible {
                session.handle_visibility(false, now);
            }
            if !online {
                session.handle_network(false, now);
            }
        });
        if has_conversation {
            self.run(|session, now| session.open(now));
        }
    }

    /// The view model this driver feeds.
    pub fn model(&self) -> Model {
        self.model
    }

    /// The deployment configuration in use.
    pub fn deployment(&self) -> &DeploymentConfig {
        &self.deployment
    }

    /// Sets (or with `None` removes) the one observer of engine events, called after the model
    /// applied each event. The host-page API (`crate::embed`) turns them into host events.
    pub fn set_event_observer(&self, observer: Option<EventObserver>) {
        *self.observer.borrow_mut() = observer;
    }

    /// Runs one engine command for the host-page API, through the same drive loop as the
    /// view's commands. `None` when it could not run now: the messenger was shut down, or a
    /// job is in progress (then it runs right after it, and its result is dropped).
    pub fn run_command<R: 'static>(&self, command: impl FnOnce(&mut Session, UnixMillis) -> R + 'static) -> Option<R> {
        self.run(command)
    }

    /// Connects (as opening the panel does) without opening the panel: the host page's
    /// `MessagingService.sendMessage` on a messenger nobody opened yet.
    pub fn connect(&self) {
        if self.forward(TabCommand::Open) || self.awaiting_sign_in.get() {
            return;
        }
        self.run(|session, now| session.open(now));
    }

    // -----------------------------------------------------------------------------------------
    // The drive loop

    /// Queues `job` and runs the queue unless a job is already running (then it runs right
    /// after). Returns the job's result when it ran synchronously.
    fn run<R: 'static>(&self, job: impl FnOnce(&mut Session, UnixMillis) -> R + 'static) -> Option<R> {
        // A follower (or a tab still waiting for the election) leaves the engine to the leader.
        if self.shut_down.get() || !self.role.get().drives_engine() {
            return None;
        }
        let result = Rc::new(RefCell::new(None));
        let slot = result.clone();
        self.queue.borrow_mut().push_back(Box::new(move |session, now| {
            *slot.borrow_mut() = Some(job(session, now));
        }));
        self.pump();
        let value = result.borrow_mut().take();
        value
    }

    fn pump(&self) {
        if self.busy.replace(true) {
            return;
        }
        loop {
            let job = self.queue.borrow_mut().pop_front();
            let Some(job) = job else { break };
            let now = clock::now();
            let outputs = {
                let mut session = self.session.borrow_mut();
                job(&mut session, now);
                std::iter::from_fn(|| session.poll_output()).collect::<Vec<_>>()
            };
            for output in outputs {
                self.execute(output, now);
            }
        }
        self.rearm_timer();
        self.busy.set(false);
        self.share_unread();
        self.share_uploads();
    }

    fn rearm_timer(&self) {
        if self.shut_down.get() {
            self.timer.borrow_mut().cancel();
            return;
        }
        let deadline = self.session.borrow().poll_timeout();
        let weak = self.this.clone();
        self.timer.borrow_mut().arm(deadline, clock::now(), move || {
            if let Some(driver) = weak.upgrade() {
                driver.run(|session, now| session.handle_timeout(now));
            }
        });
    }

    fn execute(&self, output: Output, now: UnixMillis) {
        match output {
            Output::Connect { url } => {
                let generation = self.generation.get() + 1;
                self.generation.set(generation);
                let weak = self.this.clone();
                let sink = Rc::new(move |event: SocketEvent| {
                    if let Some(driver) = weak.upgrade() {
                        driver.socket_event(generation, event);
                    }
                });
                self.transport.borrow_mut().connect(&url, sink);
            }
            Output::Send(frame) => self.transport.borrow_mut().send(&frame),
            Output::Close { code, reason } => {
                self.generation.set(self.generation.get() + 1);
                self.transport.borrow_mut().close(code, &reason);
            }
            Output::FetchHistory { page_number, page_size, jwt } => self.fetch_history(page_number, page_size, &jwt),
            Output::Persist(write) => {
                // A signed-in customer's thread token is not kept: a reload resumes from the
                // refresh token on a fresh thread token (SDK ≥ 2.8), and a stored authenticated
                // token would be configured as a guest first and refused with 4017.
                let write = match write {
                    StorageWrite::Token(Some(_)) if self.session.borrow().is_signed_in() => StorageWrite::Token(None),
                    other => other,
                };
                let mut store = self.store.borrow_mut();
                store.write(&write);
                drop(store);
                self.report_storage();
            }
            Output::Event(event) => {
                self.before_model(&event);
                // Both alerts are off unless the page asks: then nothing is worked out per event.
                let fresh = self.alerts.enabled().then(|| {
                    let newest = self.model.rows.with_untracked(|rows| rows.last().map(|row| row.entry.order));
                    notify::fresh_message(&event, |key| self.model.has_row(key), newest)
                });
                self.model.apply(&event, now);
                if let Some(entry) = fresh.flatten() {
                    self.alert_new_message(entry);
                }
                self.mirror(&event);
                // Cloned out first: the observer may call back into the driver.
                let observer = self.observer.borrow().clone();
                if let Some(observer) = observer {
                    observer(&event);
                }
                if matches!(event, Event::LoggedOut | Event::AuthorizationRequired { .. }) {
                    // The engine dropped the tokens: so does this tab's sessionStorage.
                    self.auth_hooks().inspect(|hooks| hooks.refresh_token_changed(None));
                }
                if matches!(&event, Event::StateChanged(state) if *state != ConnectionState::Connecting) {
                    // The guest session is configured (or failed): sign in now.
                    let deferred = self.deferred_sign_in.borrow_mut().take();
                    if let Some((jwt, refresh_token)) = deferred {
                        self.sign_in(jwt, refresh_token);
                    }
                }
            }
            Output::RefreshJwt { refresh_token } => self.refresh_jwt(refresh_token.expose()),
            Output::RevokeTokens { jwt, refresh_token } => {
                self.revoke(jwt.into_inner(), refresh_token.map(|token| token.into_inner()), REVOKE_ATTEMPTS);
            }
        }
    }

    /// `POST …/token/refresh`; exactly one answer goes back to the engine.
    fn refresh_jwt(&self, refresh_token: &str) {
        let weak = self.this.clone();
        post_refresh(&*self.http, &self.endpoints, refresh_token, move |outcome| {
            let Some(driver) = weak.upgrade() else { return };
            driver.run(move |session, now| match outcome {
                Refresh::Refreshed(refreshed) => {
                    if let Some(rotated) = &refreshed.refresh_token {
                        if let Some(hooks) = weak.upgrade().and_then(|driver| driver.auth_hooks()) {
                            hooks.refresh_token_changed(Some(rotated));
                        }
                    }
                    session.handle_jwt_refreshed(refreshed.jwt, refreshed.refresh_token, now)
                }
                // A 2xx without a JWT is the server's fault: report it as a bad gateway.
                Refresh::Malformed => session.handle_refresh_failed(502, now),
                Refresh::Refused(status) => session.handle_refresh_failed(status, now),
                Refresh::NoAnswer => session.handle_refresh_failed(0, now),
            });
        });
    }

    /// `DELETE …/token/revoke` (SPEC §11.5): on 401 renew the JWT with the refresh token and
    /// try again, at most `attempts` times. The engine expects no answer.
    fn revoke(&self, jwt: String, refresh_token: Option<String>, attempts: u32) {
        if attempts == 0 {
            return;
        }
        let url = self.endpoints.token_url("revoke");
        let weak = self.this.clone();
        self.http.request(
            "DELETE",
            &url,
            Some(&jwt),
            None,
            Box::new(move |result| {
                let (Some(driver), Ok(response)) = (weak.upgrade(), result) else { return };
                let Some(refresh_token) = refresh_token.filter(|_| response.status == 401) else { return };
                let retry = weak.clone();
                post_refresh(&*driver.http, &driver.endpoints, &refresh_token.clone(), move |outcome| {
                    let (Some(driver), Refresh::Refreshed(refreshed)) = (retry.upgrade(), outcome) else { return };
                    let next_refresh = refreshed.refresh_token.or(Some(refresh_token));
                    driver.revoke(refreshed.jwt, next_refresh, attempts - 1);
                });
            }),
        );
    }

    /// Driver-side effects of events (IO the model cannot do).
    fn before_model(&self, event: &Event) {
        if matches!(event, Event::StateChanged(ConnectionState::Connected)) && !self.awaiting_connection.borrow().is_empty() {
            // After this job: the engine is busy emitting the event.
            let weak = self.this.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(driver) = weak.upgrade() {
                    let awaiting = std::mem::take(&mut *driver.awaiting_connection.borrow_mut());
                    for upload in awaiting {
                        driver.upload(upload);
                    }
                }
            });
        }
        let Event::Attachment(update) = event else { return };
        match update {
            AttachmentUpdate::UploadGranted { attachment_id, url, headers } => {
                let file = self.files.borrow().get(attachment_id.as_str()).map(|pending| pending.file.clone());
                let Some(file) = file else { return };
                let headers: Vec<(String, String)> = headers.iter().map(|(name, value)| (name.clone(), value.clone())).collect();
                let model = self.model;
                let id = attachment_id.as_str().to_string();
                let progress_id = id.clone();
                let progress_driver = self.this.clone();
                let progress = Box::new(move |percent: u32| {
                    model.uploads.update(|uploads| {
                        if let Some(upload) = uploads.iter_mut().find(|upload| upload.attachment_id == progress_id) {
                            upload.percent = percent;
                        }
                    });
                    if let Some(driver) = progress_driver.upgrade() {
                        driver.share_uploads();
                    }
                });
                let weak = self.this.clone();
                let done = Box::new(move |result: Result<u16, String>| {
                    let ok = matches!(result, Ok(status) if (200..300).contains(&status));
                    if !ok {
                        if let Some(driver) = weak.upgrade() {
                            let pending = driver.files.borrow_mut().remove(&id);
                            driver.model.remove_upload(&id);
                            driver.share_uploads();
                            if let Some(pending) = pending {
                                driver.settle(pending.requester, pending.id, Some(driver.upload_failed()));
                            }
                        }
                    }
                    // On success the server confirms with UploadSuccessEvent → `Uploaded`.
                });
                self.http.put_file(url, &headers, &file, progress, done);
            }
            AttachmentUpdate::Uploaded { attachment_id, .. } => {
                let pending = self.files.borrow_mut().remove(attachment_id.as_str());
                let name = pending.as_ref().map(|pending| pending.file.name());
                let id = attachment_id.clone();
                // Queued behind the current job: the engine is busy emitting this event.
                self.run(move |session, now| {
                    let _ = session.send_attachment(id, String::new(), name, now);
                });
                if let Some(pending) = pending {
                    self.settle(pending.requester, pending.id, None);
                }
            }
            // The server said no: the failure shows on the message; sending again would not help.
            AttachmentUpdate::Rejected { attachment_id, .. } | AttachmentUpdate::Deleted { attachment_id } => {
                let pending = self.files.borrow_mut().remove(attachment_id.as_str());
                if let Some(pending) = pending {
                    self.settle(pending.requester, pending.id, None);
                }
            }
            AttachmentUpdate::DownloadUrlRefreshed { .. } => {}
        }
    }

    fn fetch_history(&self, page_number: u32, page_size: u32, jwt: &str) {
        let url = self.endpoints.history_url(page_number, page_size);
        let weak = self.this.clone();
        self.http.get(
            &url,
            Some(jwt),
            Box::new(move |result| {
                let Some(driver) = weak.upgrade() else { return };
                driver.run(move |session, now| match result {
                    Ok(response) if (200..300).contains(&response.status) => match HistoryPage::from_json(&response.body) {
                        Ok(page) => session.handle_history_page(page, now),
                        // A 2xx with an unusable body is the server's fault; treat as a bad gateway.
                        Err(_) => session.handle_history_failed(502, now),
                    },
                    Ok(response) => session.handle_history_failed(response.status, now),
                    Err(_) => session.handle_history_failed(0, now),
                });
            }),
        );
    }

    fn socket_event(&self, generation: u64, event: SocketEvent) {
        if generation != self.generation.get() {
            // A superseded socket: the engine already let it go.
            return;
        }
        match event {
            SocketEvent::Opened => {
                self.run(|session, now| session.handle_socket_opened(now));
            }
            SocketEvent::Frame(text) => {
                self.run(move |session, now| session.handle_frame(&text, now));
            }
            SocketEvent::Closed { code, reason, was_clean } => {
                // This socket is gone for the engine: ignore anything else it reports.
                self.generation.set(generation + 1);
                self.run(move |session, now| session.handle_socket_closed(code, &reason, was_clean, now));
            }
            SocketEvent::Error => {
                self.run(|session, now| session.handle_socket_error(now));
            }
        }
    }

    fn page_signal(&self, signal: PageSignal) {
        match signal {
            PageSignal::Visibility(visible) => {
                self.run(move |session, now| session.handle_visibility(visible, now));
            }
            PageSignal::Network(online) => {
                self.run(move |session, now| session.handle_network(online, now));
            }
            // Close cleanly so the server does not keep a dead connection per token; a page
            // restored from the back/forward cache reconnects.
            PageSignal::PageHide if self.role.get() != Role::Solo => self.leave_tabs(),
            PageSignal::PageRestored if self.role.get() != Role::Solo => self.rejoin_tabs(),
            PageSignal::PageHide => {
                self.run(|session, now| session.close(now));
            }
            PageSignal::PageRestored => {
                self.run(|session, now| session.open(now));
            }
        }
    }

    fn report_storage(&self) {
        let strings = self.model.locale.strings();
        let notice = self.store.borrow().problem().map(|problem| match problem {
            StorageProblem::Unavailable => strings.storage_unavailable.to_string(),
            StorageProblem::Corrupt => strings.storage_corrupt.to_string(),
        });
        if notice != self.model.storage_notice.get_untracked() {
            self.model.storage_notice.set(notice);
        }
    }

    // -----------------------------------------------------------------------------------------
    // One connection per browser (see `crate::tabs`)

    /// Joins the other tabs of this deployment and stands for election. Without a
    /// `BroadcastChannel` this tab keeps its own connection, as before.
    fn join_tabs(&self) {
        let weak = self.this.clone();
        let sink: Rc<dyn Fn(TabSignal)> = Rc::new(move |signal| {
            if let Some(driver) = weak.upgrade() {
                driver.tab_signal(signal);
            }
        });
        let me = uuid::Uuid::new_v4().to_string();
        match TabLink::join(self.config.deployment_id.as_str(), me.clone(), sink) {
            Some(link) => {
                let mut tabs = self.tabs.borrow_mut();
                tabs.link = Some(link);
                tabs.post(&TabMessage::Hello { from: me });
                drop(tabs);
                self.role.set(Role::Pending);
                self.update_unread_counting();
            }
            None => {
                web_sys::console::warn_1(&"Threadline: BroadcastChannel unavailable; every tab keeps its own connection".into());
                self.run_alone();
            }
        }
    }

    /// Leaves the group of tabs for good and drives an own engine (sign-in is per tab: its
    /// tokens live in this tab's memory and sessionStorage only).
    pub fn run_alone(&self) {
        let role = self.role.get();
        if role == Role::Solo {
            return;
        }
        let link = {
            let mut tabs = self.tabs.borrow_mut();
            if role == Role::Leader {
                if let Some(me) = tabs.me() {
                    tabs.post(&TabMessage::Resigned { from: me });
                }
            }
            tabs.waiting.clear();
            tabs.link.take()
        };
        // Dropped outside the borrow: dropping resigns, which may call back.
        drop(link);
        if role != Role::Leader {
            self.role.set(Role::Solo);
            self.rebuild_engine();
        }
        self.role.set(Role::Solo);
        self.update_unread_counting();
    }

    /// Replaces the engine with one built from what storage holds now (the token and outbox
    /// the previous leader wrote), then starts it.
    fn rebuild_engine(&self) {
        let persisted = self.store.borrow_mut().load();
        self.report_storage();
        let resume = persisted.token.is_some() || self.model.open.get_untracked();
        let entropy = BrowserEntropy { preset: self.preset_id.clone() };
        let session = Session::new(self.config.clone(), persisted, Box::new(entropy), clock::now());
        match self.session.try_borrow_mut() {
            Ok(mut slot) => *slot = session,
            // Only reachable from inside an engine job, which tab signals never are.
            Err(_) => return,
        }
        self.queue.borrow_mut().clear();
        self.boot_engine(resume);
    }

    fn tab_signal(&self, signal: TabSignal) {
        if self.shut_down.get() || self.role.get() == Role::Solo {
            return;
        }
        match signal {
            TabSignal::Lead => self.lead(),
            TabSignal::Follow => {
                self.step_down();
                self.post_hello();
            }
            TabSignal::Freeze => self.leave_tabs(),
            TabSignal::Resume => self.rejoin_tabs(),
            TabSignal::Message(message) => self.tab_message(*message),
            TabSignal::WithFile(message, file) => match *message {
                TabMessage::Attach { from, file: id } if self.role.get() == Role::Leader => self.attach_for(from, id, file),
                // Only the leader uploads. A file that reaches a tab that no longer leads is not
                // lost: its sender keeps it and posts it again to the next leader.
                _ => {}
            },
        }
    }

    /// Elected: build the engine from storage (same token, same outbox), connect when there is
    /// a conversation or an open panel, run what was asked meanwhile, and tell the others.
    fn lead(&self) {
        if self.role.get() == Role::Leader {
            return;
        }
        let Some(me) = self.tabs.borrow().me() else { return };
        {
            let mut tabs = self.tabs.borrow_mut();
            tabs.watch.reset();
            tabs.panels.clear();
            tabs.audience.clear();
            tabs.shared_unread = self.model.unread.get_untracked();
        }
        self.role.set(Role::Leader);
        self.update_unread_counting();
        self.tabs.borrow().post(&TabMessage::Leader { from: me });
        self.rebuild_engine();
        let waiting = std::mem::take(&mut self.tabs.borrow_mut().waiting);
        for command in waiting {
            self.run_tab_command(None, command);
        }
        for own in self.own_files() {
            self.upload(UploadFile { id: own.id, file: own.file, requester: None });
        }
        // No snapshot here: every follower answers `Leader`, and the first answer brings one
        // (`tab_message`); a leader alone sends none.
    }

    /// Stops driving the engine (leadership lost, page hidden or frozen): the socket closes, the
    /// engine is dropped (its outbox is in storage for the next leader), and this tab waits.
    fn step_down(&self) {
        if self.role.get() != Role::Leader {
            return;
        }
        self.role.set(Role::Pending);
        self.timer.borrow_mut().cancel();
        self.generation.set(self.generation.get() + 1);
        self.transport.borrow_mut().close(1000, "another tab holds the connection");
        self.queue.borrow_mut().clear();
        self.files.borrow_mut().clear();
        // Followers post their files again to the next leader; this tab's stay in `own_files`.
        self.awaiting_connection.borrow_mut().clear();
        self.model.uploads.set(Vec::new());
        self.tabs.borrow_mut().shared_uploads.clear();
        self.update_unread_counting();
    }

    /// Page hidden or frozen: resign and tell the others, so one of them takes over at once.
    fn leave_tabs(&self) {
        let was_leader = self.role.get() == Role::Leader;
        self.step_down();
        let mut tabs = self.tabs.borrow_mut();
        if let Some(me) = tabs.me() {
            if was_leader {
                tabs.post(&TabMessage::Resigned { from: me });
            } else if self.model.open.get_untracked() {
                tabs.post(&TabMessage::Panel { from: me, open: false });
            }
        }
        tabs.watch.reset();
        if let Some(link) = tabs.link.as_mut() {
            link.resign();
        }
    }

    /// Page shown again (back/forward cache, resume after a freeze): stand for election and
    /// ask the leader for a snapshot.
    fn rejoin_tabs(&self) {
        if let Some(link) = &self.tabs.borrow().link {
            link.stand();
        }
        self.post_hello();
    }

    fn post_hello(&self) {
        let tabs = self.tabs.borrow();
        if let Some(me) = tabs.me() {
            tabs.post(&TabMessage::Hello { from: me });
        }
    }

    fn tab_message(&self, message: TabMessage) {
        let Some(me) = self.tabs.borrow().me() else { return };
        let leader = self.role.get() == Role::Leader;
        if leader {
            // Events went unmirrored while no other tab was known: the first to speak (unless
            // it asks for its own snapshot) gets them as one, before anything else is mirrored.
            let first_listener = self.tabs.borrow_mut().audience.hear();
            if first_listener && !matches!(message, TabMessage::Hello { .. }) {
                self.post_snapshot(None);
            }
        }
        // A settled file is settled whoever leads now (a leader may settle this tab's file just
        // before it goes, and this tab may lead or follow another by the time it hears).
        let message = match message {
            TabMessage::FileSettled { to, file, error, .. } => {
                if to == me {
                    self.settle(None, file, error);
                }
                return;
            }
            other => other,
        };
        if leader {
            match message {
                TabMessage::Hello { from } => self.post_snapshot(Some(from)),
                TabMessage::Command { from, command } => self.run_tab_command(Some(from), command),
                TabMessage::Panel { from, open } => {
                    self.tabs.borrow_mut().panels.set(&from, open);
                    self.update_unread_counting();
                    if open {
                        self.model.unread.set(0);
                        self.run(|session, now| session.open(now));
                    }
                    self.share_unread();
                }
                // Other leaders cannot exist under a lock; under a lease the next look settles it.
                _ => {}
            }
            return;
        }
        if !self.tabs.borrow_mut().watch.admit(&message) {
            return;
        }
        match message {
            TabMessage::Leader { .. } if self.role.get() == Role::Follower => {
                // A new leader: the former one may have gone before settling this tab's files.
                self.post_own_files();
                self.tell_leader_panel(self.model.open.get_untracked());
            }
            TabMessage::Leader { .. } => self.follow(),
            TabMessage::Snapshot { to, snapshot, .. } => {
                self.follow();
                if to.is_none_or(|to| to == me) {
                    let now = clock::now();
                    let observer = self.observer.borrow().clone();
                    for event in &snapshot.events {
                        self.model.apply(&event.0, now);
                        // The observer learns the state and the history a snapshot brings; its
                        // other events describe the past (a session started earlier), not news.
                        if let Some(observer) = observer.as_ref().filter(|_| matches!(event.0, Event::StateChanged(_) | Event::TranscriptReset(_))) {
                            observer(&event.0);
                        }
                    }
                    if !self.model.open.get_untracked() {
                        self.model.unread.set(snapshot.unread);
                    }
                    self.show_uploads(snapshot.uploads);
                }
            }
            TabMessage::Event { event, .. } => {
                self.model.apply(&event.0, clock::now());
                let observer = self.observer.borrow().clone();
                if let Some(observer) = observer {
                    observer(&event.0);
                }
            }
            // An open panel here means the messages are being read: keep no badge.
            TabMessage::Unread { count, .. } if !self.model.open.get_untracked() => self.model.unread.set(count),
            TabMessage::Failed { to, message, .. } if to == me => self.model.alert.set(Some(message)),
            TabMessage::Uploads { uploads, .. } => self.show_uploads(uploads),
            _ => {}
        }
    }

    /// Follower: shows the leader's uploads in progress.
    fn show_uploads(&self, rows: Vec<UploadRow>) {
        if self.model.uploads.with_untracked(|current| *current != rows) {
            self.model.uploads.set(rows);
        }
    }

    /// A leader exists: forward what was asked while the election was pending.
    fn follow(&self) {
        if self.role.get() != Role::Pending {
            return;
        }
        self.role.set(Role::Follower);
        self.update_unread_counting();
        {
            let tabs = &mut *self.tabs.borrow_mut();
            let waiting = std::mem::take(&mut tabs.waiting);
            if let Some(me) = tabs.me() {
                // Said even when closed: it tells the leader another tab listens (`Audience`);
                // the leader counts unread only while no tab shows the panel.
                tabs.post(&TabMessage::Panel { from: me.clone(), open: self.model.open.get_untracked() });
                for command in waiting {
                    tabs.post(&TabMessage::Command { from: me.clone(), command });
                }
            }
        }
        self.post_own_files();
    }

    /// Follower: hands every file of this tab not yet settled to the leader.
    fn post_own_files(&self) {
        for own in self.own_files() {
            self.post_own_file(own.id, &own.file);
        }
    }

    /// This tab's files not settled yet, copied out (handling them borrows the tab state).
    fn own_files(&self) -> Vec<OwnFile> {
        self.tabs.borrow().own_files.clone()
    }

    /// What the user is told when a file cannot be uploaded.
    fn upload_failed(&self) -> String {
        self.model.locale.strings().upload_failed.to_string()
    }

    /// Follower: hands one file to the leader (a copy in memory crosses the channel).
    fn post_own_file(&self, id: String, file: &web_sys::File) {
        let tabs = self.tabs.borrow();
        let (Some(me), Some(link)) = (tabs.me(), tabs.link.as_ref()) else { return };
        let weak = self.this.clone();
        let failed_id = id.clone();
        let failed = move || {
            if let Some(driver) = weak.upgrade() {
                driver.settle(None, failed_id, Some(driver.upload_failed()));
            }
        };
        link.post_file(&TabMessage::Attach { from: me, file: id }, file, failed);
    }

    /// Done with a file: its message is queued or `error` says why it cannot be. This tab's
    /// file is forgotten (and the error shown); a follower's is remembered as settled and the
    /// follower told.
    fn settle(&self, requester: Option<String>, id: String, error: Option<String>) {
        let mut tabs = self.tabs.borrow_mut();
        match requester {
            None => {
                tabs.own_files.retain(|own| own.id != id);
                drop(tabs);
                self.awaiting_connection.borrow_mut().retain(|upload| upload.id != id);
                if let Some(error) = error {
                    self.refuse(None, error);
                }
            }
            Some(to) => {
                tabs.settled_files.remember(id.clone());
                if let Some(me) = tabs.me() {
                    tabs.post(&TabMessage::FileSettled { from: me, to, file: id, error });
                }
            }
        }
    }

    /// Sends `command` to the leader when another tab drives the engine (or keeps it until the
    /// election decides). False when this tab runs the command itself.
    fn forward(&self, command: TabCommand) -> bool {
        match self.role.get() {
            Role::Solo | Role::Leader => false,
            Role::Pending => {
                self.tabs.borrow_mut().waiting.push(command);
                true
            }
            Role::Follower => {
                let tabs = self.tabs.borrow();
                if let Some(me) = tabs.me() {
                    tabs.post(&TabMessage::Command { from: me, command });
                }
                true
            }
        }
    }

    /// A follower's panel opened or closed: the leader connects and stops counting unread.
    /// False when this tab drives the engine itself.
    fn tell_leader_panel(&self, open: bool) -> bool {
        if self.role.get().drives_engine() {
            return false;
        }
        let tabs = self.tabs.borrow();
        if let Some(me) = tabs.me() {
            tabs.post(&TabMessage::Panel { from: me, open });
        }
        true
    }

    /// Runs a command from a follower (`from`) or from before the election (`None`) on this
    /// leader's engine; a refusal is reported to the tab that asked.
    fn run_tab_command(&self, from: Option<String>, command: TabCommand) {
        let refused = match command {
            TabCommand::Open => {
                self.run(|session, now| session.open(now));
                None
            }
            TabCommand::SendText { key, text } => {
                let preset = self.preset_id.clone();
                let result = self.run(move |session, now| {
                    *preset.borrow_mut() = Some(key.clone());
                    let result = match session.send_text(text.clone(), now) {
                        // Nobody opened the messenger yet (a host-page send from a follower):
                        // connect, as a click on send would, and queue it.
                        Err(CommandError::NotOpen) => {
                            session.open(now);
                            *preset.borrow_mut() = Some(key);
                            session.send_text(text, now)
                        }
                        other => other,
                    };
                    preset.borrow_mut().take();
                    result
                });
                result.and_then(Result::err).map(|error| error.to_string())
            }
            TabCommand::Typing => {
                self.typing();
                None
            }
            TabCommand::RetryMessage { key } => {
                self.retry_message(key);
                None
            }
            TabCommand::RetryConnection => {
                self.run(|session, now| session.retry_connection(now));
                None
            }
            TabCommand::StartNewConversation => {
                self.start_new_conversation();
                None
            }
            TabCommand::LoadOlder => {
                self.load_older();
                None
            }
            TabCommand::QuickReply { text, payload, origin } => {
                self.quick_reply(text, payload, origin);
                None
            }
            TabCommand::Postback { text, payload, origin } => {
                self.postback(text, payload, origin);
                None
            }
            TabCommand::DatePicker { date_time, origin } => self.date_picker_answer(date_time, origin).err().map(|error| error.to_string()),
            TabCommand::RefreshDownload { attachment_id } => {
                self.refresh_download(attachment_id.0);
                None
            }
            TabCommand::ClearConversation => self.clear_conversation().err().map(|error| error.to_string()),
            TabCommand::SetCustomAttributes { attributes } => self.set_custom_attributes(attributes).err().map(|error| error.to_string()),
        };
        if let Some(message) = refused {
            self.refuse(from, message);
        }
    }

    /// Tells the user why their command did not run: in the follower tab that asked (`to`), or
    /// here (`None`).
    fn refuse(&self, to: Option<String>, message: String) {
        match to {
            Some(to) => {
                let tabs = self.tabs.borrow();
                if let Some(me) = tabs.me() {
                    tabs.post(&TabMessage::Failed { from: me, to, message });
                }
            }
            None => self.model.alert.set(Some(message)),
        }
    }

    /// Leader: mirrors one engine event to the other tabs, if any listens.
    fn mirror(&self, event: &Event) {
        if self.role.get() != Role::Leader || !tabs::is_mirrored(event) {
            return;
        }
        let tabs = self.tabs.borrow();
        if !tabs.audience.is_listening() {
            return;
        }
        if let Some(me) = tabs.me() {
            tabs.post(&TabMessage::Event { from: me, event: tabs::MirroredEvent(event.clone()) });
        }
    }

    /// Leader: the state as one message to `to` (or every tab), which then has the unread
    /// count and uploads that `share_unread` and `share_uploads` would otherwise post again.
    fn post_snapshot(&self, to: Option<String>) {
        let snapshot = self.snapshot();
        let mut tabs = self.tabs.borrow_mut();
        tabs.shared_unread = snapshot.unread;
        tabs.shared_uploads.clone_from(&snapshot.uploads);
        if let Some(me) = tabs.me() {
            tabs.post(&TabMessage::Snapshot { from: me, to, snapshot });
        }
    }

    /// Leader: tells the other tabs a changed unread count (they show it, not count it).
    fn share_unread(&self) {
        if self.role.get() != Role::Leader {
            return;
        }
        let count = self.model.unread.get_untracked();
        let mut tabs = self.tabs.borrow_mut();
        // Alone, nobody to tell: a follower that speaks later gets the count in its snapshot.
        if tabs.shared_unread != count && tabs.audience.is_listening() {
            tabs.shared_unread = count;
            if let Some(me) = tabs.me() {
                tabs.post(&TabMessage::Unread { from: me, count });
            }
        }
    }

    /// Leader: tells the other tabs about changed uploads in progress (rows and progress), so
    /// a follower that sent a file shows its progress like the leader does.
    fn share_uploads(&self) {
        if self.role.get() != Role::Leader {
            return;
        }
        let mut tabs = self.tabs.borrow_mut();
        // Alone, nobody to tell: a follower that speaks later gets the uploads in its snapshot.
        if !tabs.audience.is_listening() {
            return;
        }
        // Runs after every engine call: compared in place, copied only when changed.
        if self.model.uploads.with_untracked(|uploads| *uploads != tabs.shared_uploads) {
            let uploads = self.model.uploads.get_untracked();
            tabs.shared_uploads = uploads.clone();
            if let Some(me) = tabs.me() {
                tabs.post(&TabMessage::Uploads { from: me, uploads });
            }
        }
    }

    /// A new agent or bot message (this tab runs the engine, so it alone alerts): a sound
    /// and, while the page is hidden, a notification, unless some tab shows it in an open panel.
    fn alert_new_message(&self, entry: &threadline_core::session::TranscriptEntry) {
        let visible = lifecycle::is_visible();
        let shown_here = visible && self.model.open.get_untracked();
        let shown_elsewhere = self.role.get() == Role::Leader && !self.tabs.borrow().panels.counts_unread(false);
        let (title, body) = notify::alert_text(entry, self.model.locale.strings().title);
        self.alerts.new_message(&title, &body, !(shown_here || shown_elsewhere), !visible);
    }

    /// The page's choice of a new-message sound and OS notifications (both off by default).
    pub fn configure_alerts(&self, sound: bool, notifications: bool) {
        self.alerts.configure(sound, notifications);
    }

    /// The host page obtained the notification permission: notify from now on.
    pub fn enable_notifications(&self) {
        self.alerts.enable_notifications();
    }

    /// Only one tab counts unread messages: a lone tab, or the leader while no other tab shows
    /// the panel (its own open panel is checked by the model).
    fn update_unread_counting(&self) {
        let counts = match self.role.get() {
            Role::Solo => true,
            Role::Leader => self.tabs.borrow().panels.counts_unread(false),
            Role::Pending | Role::Follower => false,
        };
        if self.model.counts_unread.get_untracked() != counts {
            self.model.counts_unread.set(counts);
        }
    }

    /// The leader's UI state for a tab that joins.
    fn snapshot(&self) -> Snapshot {
        let model = self.model;
        let typing_until = UnixMillis(clock::now().0.saturating_add(self.config.agent_typing_fallback_ms));
        Snapshot::from_parts(SnapshotParts {
            state: Some(model.state.get_untracked()),
            session_info: model.session_info.get_untracked(),
            expires_at: model.expires_at.get_untracked(),
            ttl_secs: model.ttl_secs.get_untracked(),
            expiring_soon: model.expiring_soon.get_untracked(),
            transcript: model.rows.with_untracked(|rows| rows.iter().map(|row| (*row.entry).clone()).collect()),
            older_available: model.older_available.get_untracked(),
            agent_typing_until: model.agent_typing.get_untracked().then_some(typing_until),
            unread: model.unread.get_untracked(),
            uploads: self.model.uploads.get_untracked(),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Commands from the view

    /// The user opened the panel: connect if needed, or check the expiry (echo).
    pub fn open_panel(&self) {
        // Usually a click: the moment a browser lets a page start audio.
        self.alerts.prime();
        self.model.open.set(true);
        self.model.unread.set(0);
        if self.tell_leader_panel(true) {
            return;
        }
        if self.awaiting_sign_in.get() {
            // `sign_in` / `sign_in_failed` connect once the tokens are known.
            return;
        }
        self.run(|session, now| session.open(now));
    }

    // -----------------------------------------------------------------------------------------
    // Sign-in (see `platform::auth`)

    fn auth_hooks(&self) -> Option<Rc<dyn AuthHooks>> {
        self.auth.borrow().clone()
    }

    /// Turns sign-in on: the UI offers "Sign in", and refresh-token changes reach `hooks`.
    pub fn enable_auth(&self, hooks: Rc<dyn AuthHooks>) {
        // The tokens live in this tab only, so a signed-in conversation cannot be shared.
        self.run_alone();
        *self.auth.borrow_mut() = Some(hooks);
        self.model.auth_enabled.set(true);
    }

    /// The customer asked to sign in (the built-in redirect or the host page's provider).
    pub fn request_sign_in(&self) {
        if let Some(hooks) = self.auth_hooks() {
            hooks.begin_sign_in();
        }
    }

    /// A sign-in is on its way: connecting waits for [`Driver::sign_in`] or
    /// [`Driver::sign_in_failed`].
    pub fn expect_sign_in(&self) {
        self.awaiting_sign_in.set(true);
        self.model.signing_in.set(true);
    }

    /// The customer is signed in with these tokens (kept in memory by the engine; the refresh
    /// token also in this tab's sessionStorage). Connects at once: a reload resumes the
    /// conversation (`startNew:false`), a guest session is stepped up when the deployment
    /// allows it.
    pub fn sign_in(&self, jwt: String, refresh_token: Option<String>) {
        // A guest session still configuring (the page came back from the IdP and resumed the
        // stored guest conversation): step-up needs it configured, so wait for that. Bounded
        // by the engine's connect timeout, after which the state changes anyway.
        let guest_configuring = self.session.try_borrow().is_ok_and(|session| {
            session.config().allow_session_upgrade && !session.is_signed_in() && session.state() == ConnectionState::Connecting
        });
        if guest_configuring {
            *self.deferred_sign_in.borrow_mut() = Some((jwt, refresh_token));
            return;
        }
        self.awaiting_sign_in.set(false);
        if let Some(hooks) = self.auth_hooks() {
            hooks.refresh_token_changed(refresh_token.as_deref());
        }
        self.model.signing_in.set(false);
        self.model.sign_in_needed.set(false);
        self.model.signed_in.set(true);
        self.model.alert.set(None);
        // A guest token stepped up in place must not outlive the reload either.
        self.store.borrow_mut().write(&StorageWrite::Token(None));
        self.run(move |session, now| {
            session.sign_in(jwt, refresh_token, now);
            session.open(now);
        });
    }

    /// A sign-in attempt failed (`problem` is for the console and the alert); the messenger
    /// goes on as before (a guest when nothing else was signed in).
    pub fn sign_in_failed(&self, problem: &str) {
        web_sys::console::warn_1(&format!("Threadline: sign-in failed: {problem}").into());
        self.model.signing_in.set(false);
        self.model.alert.set(Some(self.model.locale.strings().sign_in_failed.to_string()));
        self.release_sign_in_hold();
    }

    /// The stored sign-in could not be renewed (refresh token revoked or expired, or the host
    /// provider has none): the customer is asked to sign in again.
    pub fn sign_in_lapsed(&self) {
        self.model.signing_in.set(false);
        self.model.sign_in_needed.set(true);
        self.model.alert.set(Some(self.model.locale.strings().sign_in_again.to_string()));
        self.release_sign_in_hold();
    }

    fn release_sign_in_hold(&self) {
        if self.awaiting_sign_in.replace(false) && self.model.open.get_untracked() {
            self.run(|session, now| session.open(now));
        }
    }

    /// Signs out: the tokens are revoked and forgotten (memory and sessionStorage), as are the
    /// thread token and the transcript.
    pub fn sign_out(&self) {
        // On a shared computer the next person must not find what this one was typing.
        self.set_draft(String::new());
        self.run(|session, now| session.sign_out(now));
        if let Some(hooks) = self.auth_hooks() {
            hooks.refresh_token_changed(None);
        }
        self.model.signed_in.set(false);
        self.model.sign_in_needed.set(false);
    }

    /// The composer's text changed: shown, and kept for the next page load (empty: forgotten).
    pub fn set_draft(&self, text: String) {
        self.store.borrow_mut().set_draft(&text);
        self.model.draft.set(text);
    }

    /// The user closed the panel (the connection stays up).
    pub fn close_panel(&self) {
        self.model.open.set(false);
        self.tell_leader_panel(false);
        self.update_unread_counting();
    }

    /// Sends a text message.
    pub fn send_text(&self, text: String) -> Result<EntryKey, CommandError> {
        if !self.role.get().drives_engine() {
            // Checked here so the composer answers at once; the leader's engine decides.
            tabs::check_text(&text, self.model.max_chars.get_untracked(), &self.model.state.get_untracked())?;
            let key = uuid::Uuid::new_v4().to_string();
            self.forward(TabCommand::SendText { key: key.clone(), text });
            return Ok(EntryKey(key));
        }
        self.run(move |session, now| session.send_text(text, now)).unwrap_or(Err(CommandError::NothingToDo))
    }

    /// The user typed (throttled by the engine).
    pub fn typing(&self) {
        if self.forward(TabCommand::Typing) {
            return;
        }
        self.run(|session, now| session.typing(now));
    }

    /// Retries a failed message.
    pub fn retry_message(&self, key: EntryKey) {
        if self.forward(TabCommand::RetryMessage { key: key.clone() }) {
            return;
        }
        self.run(move |session, now| {
            let _ = session.retry_message(&key, now);
        });
    }

    /// Reconnects now (offline, error or closed states).
    pub fn retry_connection(&self) {
        self.model.alert.set(None);
        if self.forward(TabCommand::RetryConnection) {
            return;
        }
        self.run(|session, now| session.retry_connection(now));
    }

    /// Leaves a read-only conversation for a new one.
    pub fn start_new_conversation(&self) {
        if self.forward(TabCommand::StartNewConversation) {
            return;
        }
        self.run(|session, now| {
            let _ = session.start_new_conversation(now);
        });
    }

    /// Clears the conversation (when the deployment allows it). In a follower tab the leader's
    /// engine decides, and a refusal shows there as an alert.
    pub fn clear_conversation(&self) -> Result<(), CommandError> {
        if !self.config.conversation_clear {
            return Err(CommandError::FeatureDisabled);
        }
        if self.forward(TabCommand::ClearConversation) {
            return Ok(());
        }
        self.run(|session, now| session.clear_conversation(now)).unwrap_or(Err(CommandError::NothingToDo))
    }

    /// Merges `attributes` into the custom attributes sent with the next message. Returns the
    /// merged set when this tab runs the engine, `None` when it went to the leader tab (which
    /// reports a refusal as an alert).
    pub fn set_custom_attributes(&self, attributes: BTreeMap<String, String>) -> Result<Option<BTreeMap<String, String>>, CommandError> {
        if self.forward(TabCommand::SetCustomAttributes { attributes: attributes.clone() }) {
            return Ok(None);
        }
        self.run(move |session, now| {
            let mut merged = session.custom_attributes().clone();
            merged.extend(attributes);
            session.set_custom_attributes(merged.clone(), now).map(|()| Some(merged))
        })
        .unwrap_or(Err(CommandError::NothingToDo))
    }

    /// Loads older history (scrolling to the top).
    pub fn load_older(&self) {
        if self.forward(TabCommand::LoadOlder) {
            return;
        }
        let started = self.run(|session, now| session.load_older(now).is_ok()).unwrap_or(false);
        if started {
            self.model.loading_older.set(true);
        }
    }

    /// A quick-reply button.
    pub fn quick_reply(&self, text: String, payload: String, origin: Option<MessageId>) {
        if self.forward(TabCommand::QuickReply { text: text.clone(), payload: payload.clone(), origin: origin.clone() }) {
            return;
        }
        self.run(move |session, now| {
            let _ = session.send_quick_reply(text, payload, origin, now);
        });
    }

    /// A card postback button.
    pub fn postback(&self, text: String, payload: String, origin: Option<MessageId>) {
        if self.forward(TabCommand::Postback { text: text.clone(), payload: payload.clone(), origin: origin.clone() }) {
            return;
        }
        self.run(move |session, now| {
            let _ = session.send_postback(text, payload, origin, now);
        });
    }

    /// A date picker slot (SPEC §3.3-6): answers message `origin` with the slot's ISO
    /// `dateTime` (in a follower tab, through the leader).
    pub fn date_picker_answer(&self, date_time: String, origin: Option<MessageId>) -> Result<(), CommandError> {
        if self.forward(TabCommand::DatePicker { date_time: date_time.clone(), origin: origin.clone() }) {
            return Ok(());
        }
        self.run(move |session, now| session.send_date_picker_answer(date_time, origin, now).map(drop))
            .unwrap_or(Err(CommandError::NothingToDo))
    }

    /// A download URL failed to load: ask the server for a fresh one.
    pub fn refresh_download(&self, attachment_id: String) {
        if self.forward(TabCommand::RefreshDownload { attachment_id: AttachmentId::new(attachment_id.clone()) }) {
            return;
        }
        self.run(move |session, now| {
            let _ = session.refresh_download(AttachmentId::new(attachment_id), now);
        });
    }

    /// Checks a file locally, then asks the server for an upload URL. In a follower tab the
    /// file goes to the leader, which uploads it; every tab shows the progress.
    pub fn attach(&self, file: web_sys::File) -> Result<(), FileProblem> {
        self.check_file(&file)?;
        let id = uuid::Uuid::new_v4().to_string();
        self.tabs.borrow_mut().own_files.push(OwnFile { id: id.clone(), file: file.clone() });
        match self.role.get() {
            Role::Solo | Role::Leader => self.upload(UploadFile { id, file, requester: None }),
            // Sent once the election decides (`lead` or `follow`).
            Role::Pending => {}
            Role::Follower => self.post_own_file(id, &file),
        }
        Ok(())
    }

    /// The upload policy's verdict on `file` (a follower knows the session from the leader).
    fn check_file(&self, file: &web_sys::File) -> Result<(), FileProblem> {
        let info = if self.role.get().drives_engine() {
            self.session.try_borrow().ok().and_then(|session| session.session_info().cloned())
        } else {
            self.model.session_info.get_untracked()
        };
        let policy = UploadPolicy::from_sources(info.as_ref(), &self.deployment);
        policy.check(&file.name(), &file.type_(), file.size().max(0.0) as u64)
    }

    /// Asks the engine for an upload URL for `file` (this tab's, or a follower's: `requester`),
    /// unless that file (`id`) is being uploaded already.
    fn upload(&self, upload: UploadFile) {
        let id = &upload.id;
        if self.files.borrow().values().any(|pending| &pending.id == id) || self.awaiting_connection.borrow().iter().any(|waiting| &waiting.id == id) {
            return;
        }
        let name = upload.file.name();
        let mime = upload.file.type_();
        let size = upload.file.size().max(0.0) as u64;
        let request_name = name.clone();
        let granted = self.run(move |session, now| session.request_upload(&request_name, &mime, size, now));
        match granted {
            Some(Ok(attachment_id)) => {
                let attachment_id = attachment_id.as_str().to_string();
                self.model.uploads.update(|uploads| uploads.push(UploadRow { attachment_id: attachment_id.clone(), file_name: name, percent: 0 }));
                self.files.borrow_mut().insert(attachment_id, upload);
                self.share_uploads();
            }
            // A new leader is still connecting (or the link is being restored): upload then.
            Some(Err(CommandError::NotConnected)) => self.awaiting_connection.borrow_mut().push(upload),
            _ => self.settle(upload.requester, upload.id, Some(self.upload_failed())),
        }
    }

    /// Leader: a follower's file. Checked again here (this engine's session decides). A copy
    /// of a file settled already is answered again rather than sent twice.
    fn attach_for(&self, from: String, id: String, file: web_sys::File) {
        if self.tabs.borrow().settled_files.contains(&id) {
            self.settle(Some(from), id, None);
            return;
        }
        match self.check_file(&file) {
            Ok(()) => self.upload(UploadFile { id, file, requester: Some(from) }),
            Err(problem) => self.settle(Some(from), id, Some(problem.message(self.model.locale))),
        }
    }

    /// Stops everything: closes the socket, cancels the timer, removes page listeners.
    pub fn shutdown(&self) {
        self.run(|session, now| session.close(now));
        self.leave_tabs();
        // Dropped outside the borrow (dropping resigns again, harmlessly, and closes the channel).
        let link = self.tabs.borrow_mut().link.take();
        drop(link);
        self.shut_down.set(true);
        self.timer.borrow_mut().cancel();
        self.lifecycle.borrow_mut().take();
        self.generation.set(self.generation.get() + 1);
        self.transport.borrow_mut().close(1000, "messenger removed");
    }
}
