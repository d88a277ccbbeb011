//! [`Transport`] over the browser's `WebSocket`.
//!
//! The adapter owns the handler closures. Replacing or closing a socket first detaches its
//! handlers (so a superseded socket can never deliver another event) and then drops them.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use super::{SocketEvent, SocketSink, Transport};

/// Close code for "no status received / abnormal", used when the socket cannot even start.
const ABNORMAL_CLOSE: u16 = 1006;

struct LiveSocket {
    socket: WebSocket,
    // Held only to keep the JS handlers alive; dropped after they are detached.
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl LiveSocket {
    fn detach(&self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        self.socket.set_onerror(None);
    }
}

/// The production socket.
#[derive(Default)]
pub struct BrowserSocket {
    live: Option<LiveSocket>,
}

impl BrowserSocket {
    fn teardown(&mut self, code: u16, reason: &str) {
        if let Some(live) = self.live.take() {
            live.detach();
            let state = live.socket.ready_state();
            if state == WebSocket::CONNECTING || state == WebSocket::OPEN {
                // Only 1000 and 3000–4999 may be sent by a page; anything else closes plainly.
                let sent = if code == 1000 || (3000..=4999).contains(&code) {
                    live.socket.close_with_code_and_reason(code, reason)
                } else {
                    live.socket.close()
                };
                if sent.is_err() {
                    let _ = live.socket.close();
                }
            }
        }
    }
}

impl Transport for BrowserSocket {
    fn connect(&mut self, url: &str, sink: SocketSink) {
        self.teardown(1000, "replaced");
        let socket = match WebSocket::new(url) {
            Ok(socket) => socket,
            Err(_) => {
                // A URL the browser refuses (syntax, mixed content): report it like a failed connect.
                sink(SocketEvent::Error);
                sink(SocketEvent::Closed { code: ABNORMAL_CLOSE, reason: "the socket could not be created".into(), was_clean: false });
                return;
            }
        };
        let on_open = {
            let sink = sink.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| sink(SocketEvent::Opened))
        };
        let on_message = {
            let sink = sink.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                // The protocol is text-only; binary frames are ignored.
                if let Some(text) = event.data().as_string() {
                    sink(SocketEvent::Frame(text));
                }
            })
        };
        let on_close = {
            let sink = sink.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
                sink(SocketEvent::Closed { code: event.code(), reason: event.reason(), was_clean: event.was_clean() })
            })
        };
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| sink(SocketEvent::Error));
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        self.live = Some(LiveSocket { socket, _on_open: on_open, _on_message: on_message, _on_close: on_close, _on_error: on_error });
    }

    fn send(&mut self, frame: &str) {
        if let Some(live) = &self.live {
            // A send on a closing socket fails; the engine learns of it through the close event.
            let _ = live.socket.send_with_str(frame);
        }
    }

    fn close(&mut self, code: u16, reason: &str) {
        self.teardown(code, reason);
    }
}

impl Drop for BrowserSocket {
    fn drop(&mut self) {
        self.teardown(1000, "messenger removed");
    }
}
