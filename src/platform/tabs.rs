//! One connection per browser: the browser side of [`crate::tabs`].
//!
//! [`TabLink`] joins the tabs of one deployment: a `BroadcastChannel` named
//! `threadline:{deploymentId}` carries [`TabMessage`]s as JSON strings (or, for a follower's
//! file, a `[json, File]` pair: the channel structured-clones a `File` without reading it), and
//! an election picks the one tab that runs the engine:
//!
//! * **Web Locks** (`navigator.locks.request('threadline:{deploymentId}:leader', …)`): the
//!   granted callback returns a promise that stays pending until the tab resigns, so the lock
//!   is held for the life of the page; the browser releases it when the page goes away, and the
//!   next waiting tab is granted it at once. Called through `Reflect` because web-sys marks
//!   the Lock API unstable.
//! * **A lease in `localStorage`** where Web Locks are missing ([`LeaseElection`]): renewed every
//!   second, taken over when 2.5 s stale, removed on resignation (other tabs hear the `storage`
//!   event and claim at once).
//!
//! The page lifecycle's `freeze`/`resume` events are reported too: a frozen leader must resign,
//! since it can neither read its socket nor answer the other tabs.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, Event, EventTarget, MessageEvent, Storage};

use crate::tabs::{Audience, Lease, LeaseElection, LeaderWatch, PanelTracker, SettledFiles, TabCommand, TabMessage};

/// The driver's coordination state (its role is kept apart, in a `Cell`, for cheap checks).
#[derive(Default)]
pub struct TabState {
    /// The link to the other tabs; `None` when running alone.
    pub link: Option<TabLink>,
    /// Follower: who leads.
    pub watch: LeaderWatch,
    /// Leader: which followers show the panel.
    pub panels: PanelTracker,
    /// Leader: whether another tab listens (events are mirrored only then).
    pub audience: Audience,
    /// Commands given before the election decided, run or forwarded once it has.
    pub waiting: Vec<TabCommand>,
    /// Leader: the unread count last told to the other tabs.
    pub shared_unread: usize,
    /// This tab's files whose messages are not queued yet: uploaded here when this tab leads,
    /// otherwise posted to each new leader until one settles them.
    pub own_files: Vec<OwnFile>,
    /// Leader: the followers' files settled lately.
    pub settled_files: SettledFiles,
    /// Leader: the uploads in progress last told to the other tabs.
    pub shared_uploads: Vec<crate::model::UploadRow>,
}

impl TabState {
    /// This tab's id, when linked.
    pub fn me(&self) -> Option<String> {
        self.link.as_ref().map(|link| link.me().to_string())
    }

    /// Posts `message` when linked.
    pub fn post(&self, message: &TabMessage) {
        if let Some(link) = &self.link {
            link.post(message);
        }
    }
}

/// A file attached in this tab, until its message is queued or it is refused.
#[derive(Clone)]
pub struct OwnFile {
    /// The id the leader settles it by ([`TabMessage::Attach`]).
    pub id: String,
    /// The picked file.
    pub file: web_sys::File,
}

/// What the tab link tells its owner.
#[derive(Clone, Debug, PartialEq)]
pub enum TabSignal {
    /// This tab was elected: run the engine.
    Lead,
    /// This tab lost the election it had won (lease taken over): stop the engine.
    Follow,
    /// A message from another tab (boxed: snapshots are large).
    Message(Box<TabMessage>),
    /// A message that came with a file (a follower's attachment for the leader).
    WithFile(Box<TabMessage>, web_sys::File),
    /// The page was frozen (it will not run until `Resume`): resign now.
    Freeze,
    /// The page runs again after a freeze.
    Resume,
}

/// Where a tab link reports; called from browser callbacks, never re-entrantly.
pub type TabSink = Rc<dyn Fn(TabSignal)>;

/// Whether tabs can coordinate at all (`BroadcastChannel` exists). Says on the console when
/// not: each tab then keeps its own connection, which only a developer needs to know.
pub fn supported() -> bool {
    let present = web_sys::window().is_some_and(|window| Reflect::get(&window, &JsValue::from_str("BroadcastChannel")).is_ok_and(|value| value.is_function()));
    if !present {
        web_sys::console::warn_1(&"Threadline: BroadcastChannel unavailable; this tab keeps its own connection instead of sharing one with the other tabs".into());
    }
    present
}

struct Listener {
    target: EventTarget,
    name: &'static str,
    callback: Closure<dyn FnMut(Event)>,
}

/// A Web Lock held (or requested) by this tab.
#[derive(Default)]
struct LockHold {
    /// Resolving this releases the lock.
    release: RefCell<Option<Function>>,
    /// The request is no longer wanted: release as soon as it is granted.
    abandoned: Cell<bool>,
}

impl LockHold {
    fn give_up(&self) {
        self.abandoned.set(true);
        if let Some(resolve) = self.release.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}

/// The `localStorage` lease, looked at on a timer and on `storage` events.
struct LeaseRunner {
    this: Weak<LeaseRunner>,
    election: RefCell<LeaseElection>,
    storage: Storage,
    key: String,
    timer: RefCell<Option<Timeout>>,
    active: Cell<bool>,
    sink: TabSink,
}

impl LeaseRunner {
    fn stored(&self) -> Option<Lease> {
        self.storage.get_item(&self.key).ok().flatten().and_then(|raw| Lease::parse(&raw))
    }

    fn look(&self) {
        if !self.active.get() {
            return;
        }
        let stored = self.stored();
        let step = self.election.borrow_mut().look(stored.as_ref(), super::clock::now().0);
        if let Some(lease) = &step.write {
            // A full or blocked storage cannot hold a lease: the claim is simply not confirmed.
            let _ = self.storage.set_item(&self.key, &lease.to_json());
        }
        let weak = self.this.clone();
        let delay = u32::try_from(step.next_look_ms).unwrap_or(u32::MAX);
        *self.timer.borrow_mut() = Some(Timeout::new(delay, move || {
            if let Some(runner) = weak.upgrade() {
                runner.look();
            }
        }));
        if let Some(lead) = step.lead {
            (self.sink)(if lead { TabSignal::Lead } else { TabSignal::Follow });
        }
    }

    fn resign(&self) {
        self.active.set(false);
        self.timer.borrow_mut().take();
        let stored = self.stored();
        if self.election.borrow_mut().resign(stored.as_ref()) {
            let _ = self.storage.remove_item(&self.key);
        }
    }
}

enum Election {
    Locks { name: String, hold: Rc<LockHold> },
    Lease(Rc<LeaseRunner>),
}

/// This tab's membership in the deployment's group of tabs. Dropping it resigns and detaches.
pub struct TabLink {
    me: String,
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    election: Election,
    listeners: Vec<Listener>,
    sink: TabSink,
}

impl TabLink {
    /// Joins the tabs of `deployment_id` as `me` and stands for election. `None` when the
    /// browser has no `BroadcastChannel` (the caller then runs alone).
    pub fn join(deployment_id: &str, me: String, sink: TabSink) -> Option<Self> {
        let window = web_sys::window()?;
        if !supported() {
            return None;
        }
        let channel = BroadcastChannel::new(&format!("threadline:{deployment_id}")).ok()?;
        let on_message = {
            let sink = sink.clone();
            let mut warned = false;
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| match decode(&event.data()) {
                Ok(signal) => sink(signal),
                // Another script sharing the name, or a tab still running another version: ignored,
                // said once so a developer sees why tabs do not share a conversation.
                Err(problem) if !warned => {
                    warned = true;
                    web_sys::console::warn_1(&format!("Threadline: ignored a message from another tab: {problem}").into());
                }
                Err(_) => {}
            })
        };
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

        let lock_name = format!("threadline:{deployment_id}:leader");
        let has_locks = Reflect::get(&window.navigator(), &JsValue::from_str("locks")).is_ok_and(|locks| locks.is_object());
        let mut listeners = Vec::new();
        let election = if has_locks {
            Election::Locks { name: lock_name, hold: Rc::new(LockHold::default()) }
        } else {
            // Without locks and without storage no election is possible: run alone.
            let storage = window.local_storage().ok().flatten()?;
            web_sys::console::info_1(&"Threadline: Web Locks unavailable; electing the connected tab with a localStorage lease".into());
            let runner = Rc::new_cyclic(|this| LeaseRunner {
                this: this.clone(),
                election: RefCell::new(LeaseElection::new(me.clone())),
                storage,
                key: lock_name,
                timer: RefCell::new(None),
                active: Cell::new(false),
                sink: sink.clone(),
            });
            // A removed or rewritten lease in another tab: look now rather than in a second.
            let weak = Rc::downgrade(&runner);
            let key = runner.key.clone();
            listen(&mut listeners, window.clone().into(), "storage", move |event| {
                let changed = Reflect::get(event, &JsValue::from_str("key")).ok().and_then(|key| key.as_string());
                if changed.as_deref() == Some(key.as_str()) {
                    if let Some(runner) = weak.upgrade() {
                        runner.look();
                    }
                }
            });
            Election::Lease(runner)
        };
        if let Some(document) = window.document() {
            let freeze = sink.clone();
            listen(&mut listeners, document.clone().into(), "freeze", move |_| freeze(TabSignal::Freeze));
            let resume = sink.clone();
            listen(&mut listeners, document.into(), "resume", move |_| resume(TabSignal::Resume));
        }
        let link = Self { me, channel, _on_message: on_message, election, listeners, sink };
        link.stand();
        Some(link)
    }

    /// This tab's id on the channel.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// Posts `message` to every other tab of the deployment.
    pub fn post(&self, message: &TabMessage) {
        // Posting fails only on a closed channel (page going away): nothing left to tell.
        let _ = self.channel.post_message(&JsValue::from_str(&message.to_json()));
    }

    /// Posts `message` with a copy of `file` in memory. Not the `File` itself: a file the
    /// user picked is backed by the disk, and Chrome lets only the picking tab's process read
    /// it (the other tab's upload fails with a network error). `failed` runs if the file could
    /// not be read or posted.
    pub fn post_file(&self, message: &TabMessage, file: &web_sys::File, failed: impl FnOnce() + 'static) {
        let channel = self.channel.clone();
        let json = message.to_json();
        let file = file.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let posted = match copy_in_memory(&file).await {
                Ok(copy) => channel.post_message(&js_sys::Array::of2(&JsValue::from_str(&json), &copy)),
                Err(error) => Err(error),
            };
            if let Err(error) = posted {
                web_sys::console::warn_2(&"Threadline: could not hand the file to the tab holding the connection".into(), &error);
                failed();
            }
        });
    }

    /// Gives up leadership (or the pending request for it): page hidden or frozen.
    pub fn resign(&mut self) {
        match &mut self.election {
            Election::Locks { hold, .. } => {
                hold.give_up();
                // A fresh hold for the next `stand`; the old one may still be granted later and
                // then releases at once.
                *hold = Rc::new(LockHold::default());
            }
            Election::Lease(runner) => runner.resign(),
        }
    }

    /// Stands for election again (page shown again, or resumed after a freeze).
    pub fn stand(&self) {
        match &self.election {
            Election::Locks { name, hold } => {
                if let Err(error) = request_lock(name, hold, self.sink.clone()) {
                    web_sys::console::warn_1(&format!("Threadline: could not request the tab lock: {error:?}").into());
                }
            }
            Election::Lease(runner) => {
                runner.active.set(true);
                runner.look();
            }
        }
    }
}

impl Drop for TabLink {
    fn drop(&mut self) {
        self.resign();
        self.channel.set_onmessage(None);
        self.channel.close();
        for listener in &self.listeners {
            let _ = listener.target.remove_event_listener_with_callback(listener.name, listener.callback.as_ref().unchecked_ref());
        }
    }
}

/// A `File` with `file`'s name, type and bytes, held in memory.
async fn copy_in_memory(file: &web_sys::File) -> Result<web_sys::File, JsValue> {
    let bytes = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await?;
    let options = web_sys::FilePropertyBag::new();
    options.set_type(&file.type_());
    web_sys::File::new_with_buffer_source_sequence_and_options(&js_sys::Array::of1(&bytes), &file.name(), &options)
}

/// A channel message: a JSON string, or a `[json, File]` pair ([`TabLink::post_file`]).
fn decode(data: &JsValue) -> Result<TabSignal, String> {
    if let Some(text) = data.as_string() {
        return TabMessage::parse(&text).map(|message| TabSignal::Message(Box::new(message)));
    }
    let not_ours = || "neither a string nor a [string, File] pair".to_owned();
    let pair = data.dyn_ref::<js_sys::Array>().filter(|pair| pair.length() == 2).ok_or_else(not_ours)?;
    let message = TabMessage::parse(&pair.get(0).as_string().ok_or_else(not_ours)?)?;
    let file = pair.get(1).dyn_into::<web_sys::File>().map_err(|_| not_ours())?;
    Ok(TabSignal::WithFile(Box::new(message), file))
}

fn listen(listeners: &mut Vec<Listener>, target: EventTarget, name: &'static str, on_event: impl Fn(&Event) + 'static) {
    let callback = Closure::<dyn FnMut(Event)>::new(move |event: Event| on_event(&event));
    if target.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref()).is_ok() {
        listeners.push(Listener { target, name, callback });
    }
}

/// `navigator.locks.request(name, lock => new Promise(resolve => …))`: the promise stays
/// pending, so the lock is held until `hold` gives it up or the page goes away.
fn request_lock(name: &str, hold: &Rc<LockHold>, sink: TabSink) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let locks = Reflect::get(&window.navigator(), &JsValue::from_str("locks"))?;
    let request: Function = Reflect::get(&locks, &JsValue::from_str("request"))?.dyn_into()?;
    let weak = Rc::downgrade(hold);
    // JS owns this closure: it runs at most once.
    let granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        let Some(hold) = weak.upgrade().filter(|hold| !hold.abandoned.get()) else {
            // Not wanted any more: returning a settled value releases the lock at once.
            return JsValue::UNDEFINED;
        };
        let mut resolve_slot = None;
        let held = Promise::new(&mut |resolve, _reject| resolve_slot = Some(resolve));
        *hold.release.borrow_mut() = resolve_slot;
        sink(TabSignal::Lead);
        held.into()
    });
    let pending = request.call2(&locks, &JsValue::from_str(name), &granted)?;
    if let Ok(pending) = pending.dyn_into::<Promise>() {
        // Rejects only if the page goes away while waiting: nothing to do then, but the
        // rejection must be handled so it is not reported as an error.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(pending).await;
        });
    }
    Ok(())
}
