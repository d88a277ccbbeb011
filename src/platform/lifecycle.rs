//! Page lifecycle signals for the engine: `visibilitychange`, `online`/`offline`, `pagehide`
//! and `pageshow`. Listeners are removed when [`Lifecycle`] is dropped.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

/// What the page told us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSignal {
    /// The document became visible (`true`) or hidden.
    Visibility(bool),
    /// The browser went online (`true`) or offline.
    Network(bool),
    /// The page is being hidden for unload or the back/forward cache.
    PageHide,
    /// The page is shown again from the back/forward cache.
    PageRestored,
}

struct Listener {
    target: EventTarget,
    name: &'static str,
    callback: Closure<dyn FnMut(Event)>,
}

/// Installed listeners; dropping removes them.
pub struct Lifecycle {
    listeners: Vec<Listener>,
}

impl Lifecycle {
    /// Listens on `window` and `document`, reporting every signal to `on_signal`.
    pub fn install(on_signal: impl Fn(PageSignal) + 'static) -> Self {
        let on_signal = std::rc::Rc::new(on_signal);
        let mut listeners = Vec::new();
        let Some(window) = web_sys::window() else { return Self { listeners } };
        let document = window.document();
        let mut listen = |target: EventTarget, name: &'static str, map: fn(&Event) -> Option<PageSignal>| {
            let on_signal = on_signal.clone();
            let callback = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
                if let Some(signal) = map(&event) {
                    on_signal(signal);
                }
            });
            if target.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref()).is_ok() {
                listeners.push(Listener { target, name, callback });
            }
        };
        if let Some(document) = document {
            listen(document.into(), "visibilitychange", |_| Some(PageSignal::Visibility(is_visible())));
        }
        let window_target: EventTarget = window.into();
        listen(window_target.clone(), "online", |_| Some(PageSignal::Network(true)));
        listen(window_target.clone(), "offline", |_| Some(PageSignal::Network(false)));
        listen(window_target.clone(), "pagehide", |_| Some(PageSignal::PageHide));
        listen(window_target, "pageshow", |event| {
            let persisted = js_sys::Reflect::get(event, &JsValue::from_str("persisted")).ok().and_then(|value| value.as_bool());
            persisted.unwrap_or(false).then_some(PageSignal::PageRestored)
        });
        Self { listeners }
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        for listener in &self.listeners {
            let _ = listener.target.remove_event_listener_with_callback(listener.name, listener.callback.as_ref().unchecked_ref());
        }
    }
}

/// Whether the document is visible now (true when unknown).
pub fn is_visible() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .is_none_or(|document| document.visibility_state() != web_sys::VisibilityState::Hidden)
}

/// Whether the browser believes it is online (true when unknown).
pub fn is_online() -> bool {
    web_sys::window().is_none_or(|window| window.navigator().on_line())
}
