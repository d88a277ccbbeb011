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
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};

use leptos::prelude::*;
use threadline_core::protocol::{AttachmentId, DeploymentConfig, HistoryPage, MessageId, RefreshRequest, RefreshResponse};
use threadline_core::session::{AttachmentUpdate, CommandError, EntryKey, Entropy, Event, Output, Session, SessionConfig};
use threadline_core::time::UnixMillis;

use super::lifecycle::{self, Lifecycle, PageSignal};
use super::storage::{StorageProblem, Store};
use super::timer::EngineTimer;
use super::{clock, Http, SocketEvent, Transport};
use crate::address::Endpoints;
use crate::attachments::{FileProblem, UploadPolicy};
use crate::model::{Model, UploadRow};

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
struct BrowserEntropy;

impl Entropy for BrowserEntropy {
    fn new_id(&mut self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn next_u32(&mut self) -> u32 {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
}

/// A file waiting for its upload grant.
struct PendingFile {
    file: web_sys::File,
    name: String,
}

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
    files: RefCell<HashMap<String, PendingFile>>,
    shut_down: Cell<bool>,
}

impl Driver {
    /// Builds the engine from storage and starts listening to the page. If a conversation is
    /// stored, it reconnects in the background (so agent replies raise the unread badge).
    pub fn start(config: SessionConfig, deployment: DeploymentConfig, endpoints: Endpoints, services: Services, model: Model) -> Rc<Self> {
        let Services { transport, http, mut store } = services;
        let persisted = store.load();
        let has_conversation = persisted.token.is_some();
        let now = clock::now();
        model.max_chars.set(config.max_message_chars);
        let session = Session::new(config, persisted, Box::new(BrowserEntropy), now);
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
            shut_down: Cell::new(false),
        });
        driver.report_storage();
        let weak = driver.this.clone();
        *driver.lifecycle.borrow_mut() = Some(Lifecycle::install(move |signal| {
            if let Some(driver) = weak.upgrade() {
                driver.page_signal(signal);
            }
        }));
        // Drain what construction queued (a restored outbox), and tell the engine about a
        // page that starts hidden or offline.
        let (visible, online) = (lifecycle::is_visible(), lifecycle::is_online());
        driver.run(move |session, now| {
            if !visible {
                session.handle_visibility(false, now);
            }
            if !online {
                session.handle_network(false, now);
            }
        });
        if has_conversation {
            driver.run(|session, now| session.open(now));
        }
        driver
    }

    /// The view model this driver feeds.
    pub fn model(&self) -> Model {
        self.model
    }

    /// The deployment configuration in use.
    pub fn deployment(&self) -> &DeploymentConfig {
        &self.deployment
    }

    // -----------------------------------------------------------------------------------------
    // The drive loop

    /// Queues `job` and runs the queue unless a job is already running (then it runs right
    /// after). Returns the job's result when it ran synchronously.
    fn run<R: 'static>(&self, job: impl FnOnce(&mut Session, UnixMillis) -> R + 'static) -> Option<R> {
        if self.shut_down.get() {
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
                let mut store = self.store.borrow_mut();
                store.write(&write);
                drop(store);
                self.report_storage();
            }
            Output::Event(event) => {
                self.before_model(&event);
                self.model.apply(&event, now);
            }
            Output::RefreshJwt { refresh_token } => self.refresh_jwt(refresh_token.expose()),
            Output::RevokeTokens { jwt, refresh_token } => {
                self.revoke(jwt.into_inner(), refresh_token.map(|token| token.into_inner()), REVOKE_ATTEMPTS);
            }
        }
    }

    /// `POST …/token/refresh`; exactly one answer goes back to the engine.
    fn refresh_jwt(&self, refresh_token: &str) {
        let url = format!("{}/api/v2/webdeployments/token/refresh", self.endpoints.api_base);
        let body = RefreshRequest { refresh_token: refresh_token.to_string() }.to_json();
        let weak = self.this.clone();
        self.http.request(
            "POST",
            &url,
            None,
            Some(&body),
            Box::new(move |result| {
                let Some(driver) = weak.upgrade() else { return };
                driver.run(move |session, now| match result {
                    Ok(response) if (200..300).contains(&response.status) => match RefreshResponse::from_json(&response.body) {
                        Ok(refreshed) => session.handle_jwt_refreshed(refreshed.jwt, refreshed.refresh_token, now),
                        // A 2xx without a JWT is the server's fault: report it as a bad gateway.
                        Err(_) => session.handle_refresh_failed(502, now),
                    },
                    Ok(response) => session.handle_refresh_failed(response.status, now),
                    Err(_) => session.handle_refresh_failed(0, now),
                });
            }),
        );
    }

    /// `DELETE …/token/revoke` (SPEC §11.5): on 401 renew the JWT with the refresh token and
    /// try again, at most `attempts` times. The engine expects no answer.
    fn revoke(&self, jwt: String, refresh_token: Option<String>, attempts: u32) {
        if attempts == 0 {
            return;
        }
        let url = format!("{}/api/v2/webdeployments/token/revoke", self.endpoints.api_base);
        let weak = self.this.clone();
        self.http.request(
            "DELETE",
            &url,
            Some(&jwt),
            None,
            Box::new(move |result| {
                let (Some(driver), Ok(response)) = (weak.upgrade(), result) else { return };
                let Some(refresh_token) = refresh_token.filter(|_| response.status == 401) else { return };
                let url = format!("{}/api/v2/webdeployments/token/refresh", driver.endpoints.api_base);
                let body = RefreshRequest { refresh_token: refresh_token.clone() }.to_json();
                let retry = weak.clone();
                driver.http.request(
                    "POST",
                    &url,
                    None,
                    Some(&body),
                    Box::new(move |result| {
                        let Some(driver) = retry.upgrade() else { return };
                        let refreshed = result
                            .ok()
                            .filter(|response| (200..300).contains(&response.status))
                            .and_then(|response| RefreshResponse::from_json(&response.body).ok());
                        if let Some(refreshed) = refreshed {
                            let next_refresh = refreshed.refresh_token.or(Some(refresh_token));
                            driver.revoke(refreshed.jwt, next_refresh, attempts - 1);
                        }
                    }),
                );
            }),
        );
    }

    /// Driver-side effects of events (IO the model cannot do).
    fn before_model(&self, event: &Event) {
        let Event::Attachment(update) = event else { return };
        match update {
            AttachmentUpdate::UploadGranted { attachment_id, url, headers } => {
                let file = self.files.borrow().get(attachment_id.as_str()).map(|pending| pending.file.clone());
                let Some(file) = file else { return };
                let headers: Vec<(String, String)> = headers.iter().map(|(name, value)| (name.clone(), value.clone())).collect();
                let model = self.model;
                let id = attachment_id.as_str().to_string();
                let progress_id = id.clone();
                let progress = Box::new(move |percent: u32| {
                    model.uploads.update(|uploads| {
                        if let Some(upload) = uploads.iter_mut().find(|upload| upload.attachment_id == progress_id) {
                            upload.percent = percent;
                        }
                    });
                });
                let weak = self.this.clone();
                let done = Box::new(move |result: Result<u16, String>| {
                    let ok = matches!(result, Ok(status) if (200..300).contains(&status));
                    if !ok {
                        if let Some(driver) = weak.upgrade() {
                            driver.files.borrow_mut().remove(&id);
                            driver.model.remove_upload(&id);
                            driver.model.alert.set(Some(driver.model.locale.strings().upload_failed.to_string()));
                        }
                    }
                    // On success the server confirms with UploadSuccessEvent → `Uploaded`.
                });
                self.http.put_file(url, &headers, &file, progress, done);
            }
            AttachmentUpdate::Uploaded { attachment_id, .. } => {
                let pending = self.files.borrow_mut().remove(attachment_id.as_str());
                let name = pending.map(|pending| pending.name);
                let id = attachment_id.clone();
                // Queued behind the current job: the engine is busy emitting this event.
                self.run(move |session, now| {
                    let _ = session.send_attachment(id, String::new(), name, now);
                });
            }
            AttachmentUpdate::Rejected { attachment_id, .. } | AttachmentUpdate::Deleted { attachment_id } => {
                self.files.borrow_mut().remove(attachment_id.as_str());
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
    // Commands from the view

    /// The user opened the panel: connect if needed, or check the expiry (echo).
    pub fn open_panel(&self) {
        self.model.open.set(true);
        self.model.unread.set(0);
        self.run(|session, now| session.open(now));
    }

    /// The user closed the panel (the connection stays up).
    pub fn close_panel(&self) {
        self.model.open.set(false);
    }

    /// Sends a text message.
    pub fn send_text(&self, text: String) -> Result<EntryKey, CommandError> {
        self.run(move |session, now| session.send_text(text, now)).unwrap_or(Err(CommandError::NothingToDo))
    }

    /// The user typed (throttled by the engine).
    pub fn typing(&self) {
        self.run(|session, now| session.typing(now));
    }

    /// Retries a failed message.
    pub fn retry_message(&self, key: EntryKey) {
        self.run(move |session, now| {
            let _ = session.retry_message(&key, now);
        });
    }

    /// Reconnects now (offline, error or closed states).
    pub fn retry_connection(&self) {
        self.model.alert.set(None);
        self.run(|session, now| session.retry_connection(now));
    }

    /// Leaves a read-only conversation for a new one.
    pub fn start_new_conversation(&self) {
        self.run(|session, now| {
            let _ = session.start_new_conversation(now);
        });
    }

    /// Loads older history (scrolling to the top).
    pub fn load_older(&self) {
        let started = self.run(|session, now| session.load_older(now).is_ok()).unwrap_or(false);
        if started {
            self.model.loading_older.set(true);
        }
    }

    /// A quick-reply button.
    pub fn quick_reply(&self, text: String, payload: String, origin: Option<MessageId>) {
        self.run(move |session, now| {
            let _ = session.send_quick_reply(text, payload, origin, now);
        });
    }

    /// A card postback button.
    pub fn postback(&self, text: String, payload: String, origin: Option<MessageId>) {
        self.run(move |session, now| {
            let _ = session.send_postback(text, payload, origin, now);
        });
    }

    /// A download URL failed to load: ask the server for a fresh one.
    pub fn refresh_download(&self, attachment_id: String) {
        self.run(move |session, now| {
            let _ = session.refresh_download(AttachmentId::new(attachment_id), now);
        });
    }

    /// Checks a file locally, then asks the server for an upload URL.
    pub fn attach(&self, file: web_sys::File) -> Result<(), FileProblem> {
        let name = file.name();
        let mime = file.type_();
        let size = file.size().max(0.0) as u64;
        let info = self.session.try_borrow().ok().and_then(|session| session.session_info().cloned());
        let policy = UploadPolicy::from_sources(info.as_ref(), &self.deployment);
        policy.check(&name, &mime, size)?;
        let request_name = name.clone();
        let granted = self.run(move |session, now| session.request_upload(&request_name, &mime, size, now));
        match granted {
            Some(Ok(attachment_id)) => {
                let id = attachment_id.as_str().to_string();
                self.model.uploads.update(|uploads| uploads.push(UploadRow { attachment_id: id.clone(), file_name: name.clone(), percent: 0 }));
                self.files.borrow_mut().insert(id, PendingFile { file, name });
                Ok(())
            }
            _ => {
                self.model.alert.set(Some(self.model.locale.strings().upload_failed.to_string()));
                Ok(())
            }
        }
    }

    /// Stops everything: closes the socket, cancels the timer, removes page listeners.
    pub fn shutdown(&self) {
        self.run(|session, now| session.close(now));
        self.shut_down.set(true);
        self.timer.borrow_mut().cancel();
        self.lifecycle.borrow_mut().take();
        self.generation.set(self.generation.get() + 1);
        self.transport.borrow_mut().close(1000, "messenger removed");
    }
}
