//! The new-message sound (issue 8 §3, "sound and notifications happen once"): through the
//! engine and the driver, a new agent message that no open panel shows gives exactly one
//! `threadline:notify` event; one read in the open panel, or the same message again, none.

use std::cell::RefCell;
use std::rc::Rc;

use threadline::Store;
use threadline_core::protocol::DeploymentConfig;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

use super::{agent_text, document, session, settle, Fixture};

fn mount_with(pairs: &[(&str, &str)]) -> Fixture {
    Fixture::mount_with(pairs, DeploymentConfig::default(), Store::memory("web-notify"))
}

/// Collects the `detail` of every `threadline:notify` until dropped.
struct Alerts {
    seen: Rc<RefCell<Vec<JsValue>>>,
    listener: Closure<dyn FnMut(web_sys::CustomEvent)>,
}

impl Alerts {
    fn listen() -> Self {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = seen.clone();
        let listener = Closure::<dyn FnMut(web_sys::CustomEvent)>::new(move |event: web_sys::CustomEvent| sink.borrow_mut().push(event.detail()));
        web_sys::window().unwrap().add_event_listener_with_callback("threadline:notify", listener.as_ref().unchecked_ref()).unwrap();
        Self { seen, listener }
    }

    fn field(&self, index: usize, key: &str) -> JsValue {
        js_sys::Reflect::get(&self.seen.borrow()[index], &JsValue::from_str(key)).unwrap()
    }
}

impl Drop for Alerts {
    fn drop(&mut self) {
        let _ = web_sys::window().unwrap().remove_event_listener_with_callback("threadline:notify", self.listener.as_ref().unchecked_ref());
    }
}

#[wasm_bindgen_test]
async fn a_new_agent_message_nobody_reads_alerts_once() {
    let alerts = Alerts::listen();
    let fixture = mount_with(&[("sound", "1")]);
    fixture.connect(session(1800, 1800)).await;
    let visible = document().visibility_state() == web_sys::VisibilityState::Visible;
    fixture.socket.frame(agent_text("n1", "read in the open panel"));
    settle().await;
    if visible {
        assert_eq!(alerts.seen.borrow().len(), 0, "a message shown in the open panel alerted");
    }
    let before = alerts.seen.borrow().len();

    fixture.must("launcher").click(); // closes the panel
    settle().await;
    gloo_timers::future::TimeoutFuture::new(1_100).await; // past the gap between two beeps
    fixture.socket.frame(agent_text("n2", "nobody is looking"));
    settle().await;
    assert_eq!(alerts.seen.borrow().len(), before + 1, "one alert for one unread message");
    assert_eq!(alerts.field(before, "sound"), JsValue::TRUE);
    assert_eq!(alerts.field(before, "notification"), JsValue::FALSE, "notifications are off by default");
    assert_eq!(alerts.field(before, "body").as_string().as_deref(), Some("nobody is looking"));

    // The same message again (a duplicate delivery) is no news.
    gloo_timers::future::TimeoutFuture::new(1_100).await;
    fixture.socket.frame(agent_text("n2", "nobody is looking"));
    settle().await;
    assert_eq!(alerts.seen.borrow().len(), before + 1, "a repeated message alerted again");
}

#[wasm_bindgen_test]
async fn no_sound_unless_the_page_asks_for_it() {
    let alerts = Alerts::listen();
    let fixture = mount_with(&[]);
    fixture.connect(session(1800, 1800)).await;
    fixture.must("launcher").click();
    settle().await;
    fixture.socket.frame(agent_text("q1", "quiet"));
    settle().await;
    assert_eq!(fixture.must("unread-badge").text_content().as_deref(), Some("1"), "the message arrived unread");
    assert_eq!(alerts.seen.borrow().len(), 0, "an alert without the sound or notifications setting");
}
