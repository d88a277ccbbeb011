//! A sound and an OS notification for a new agent or bot message.
//!
//! Only the tab that runs the engine calls this (the driver calls it while executing engine
//! outputs, which a follower tab never does), so across tabs one message gives one sound and
//! one notification. Both are off unless the page asks for them (`sound`, `notifications`
//! settings, or the `Notifications.requestPermission` command):
//!
//! * the sound is a short beep synthesised with WebAudio (no audio file is fetched). Browsers
//!   only let a page start audio after a user gesture, so the context is created on the first
//!   open of the panel ([`Alerts::prime`]); before that a beep may stay silent;
//! * a notification shows only while the page is hidden and only when the page already holds
//!   the `Notification` permission (this module never asks unless the host page's command does).
//!
//! Every alert is also dispatched on `window` as a `threadline:notify` `CustomEvent` with
//! `detail = { sound, notification, title, body }` so host pages (and tests) can observe it.

use std::cell::{Cell, RefCell};

use threadline_core::session::{Author, EntryKey, EntryKind, Event, OrderKey, TranscriptEntry};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Two beeps closer than this are one (a burst of messages after a reconnect).
const MIN_BEEP_GAP_MS: f64 = 1_000.0;
/// Notification bodies longer than this are cut.
const BODY_MAX_CHARS: usize = 140;

/// The message `event` brings if it is a new agent or bot message at the end of the transcript
/// (before the model applied it): not shown yet (`is_shown`, the model's O(1) key index) and
/// not above the newest row shown (`newest`). Not an edit of a shown message, not older history
/// loaded above, not a replayed transcript.
pub fn fresh_message(event: &Event, is_shown: impl Fn(&EntryKey) -> bool, newest: Option<OrderKey>) -> Option<&TranscriptEntry> {
    let Event::EntryUpserted(entry) = event else { return None };
    if !matches!(entry.author, Author::Agent | Author::Bot) || entry.kind != EntryKind::Message {
        return None;
    }
    let at_the_end = newest.is_none_or(|newest| newest <= entry.order);
    (at_the_end && !is_shown(&entry.key)).then_some(entry)
}

/// The notification text for `entry`: (title, body).
pub fn alert_text(entry: &TranscriptEntry, fallback_title: &str) -> (String, String) {
    let title = entry.display_name.clone().filter(|name| !name.trim().is_empty()).unwrap_or_else(|| fallback_title.to_string());
    let mut body: String = entry.text.chars().take(BODY_MAX_CHARS).collect();
    if entry.text.chars().count() > BODY_MAX_CHARS {
        body.push('…');
    }
    (title, body)
}

/// The page's choices and the audio context, held by the driver.
#[derive(Default)]
pub struct Alerts {
    sound: Cell<bool>,
    notifications: Cell<bool>,
    audio: RefCell<Option<web_sys::AudioContext>>,
    last_beep_ms: Cell<f64>,
}

impl Alerts {
    /// Turns the sound and the notifications on or off.
    pub fn configure(&self, sound: bool, notifications: bool) {
        self.sound.set(sound);
        self.notifications.set(notifications);
    }

    /// Turns notifications on (the host page obtained the permission).
    pub fn enable_notifications(&self) {
        self.notifications.set(true);
    }

    /// Called on a user gesture (opening the panel): creates or resumes the audio context
    /// while the browser allows it.
    pub fn prime(&self) {
        if !self.sound.get() {
            return;
        }
        let mut audio = self.audio.borrow_mut();
        if audio.is_none() {
            *audio = web_sys::AudioContext::new().ok();
        }
        if let Some(context) = audio.as_ref().filter(|context| context.state() == web_sys::AudioContextState::Suspended) {
            let _ = context.resume();
        }
    }

    /// Whether the page asked for the sound or for notifications.
    pub fn enabled(&self) -> bool {
        self.sound.get() || self.notifications.get()
    }

    /// A new agent or bot message arrived. `unseen`: no tab shows it in an open panel;
    /// `hidden`: this page is hidden.
    pub fn new_message(&self, title: &str, body: &str, unseen: bool, hidden: bool) {
        if !unseen {
            return;
        }
        let sound = self.sound.get() && self.beep();
        let notification = self.notifications.get() && hidden && show_notification(title, body);
        if sound || notification {
            dispatch(sound, notification, title, body);
        }
    }

    /// Plays the beep; false when it was skipped (too soon after the last one, no audio).
    fn beep(&self) -> bool {
        let now = super::clock::now().0 as f64;
        if now - self.last_beep_ms.get() < MIN_BEEP_GAP_MS {
            return false;
        }
        self.prime();
        let audio = self.audio.borrow();
        let Some(context) = audio.as_ref() else { return false };
        if play_beep(context).is_err() {
            return false;
        }
        self.last_beep_ms.set(now);
        true
    }
}

/// A 180 ms 880 Hz tone with a quick fade in and out (no click).
fn play_beep(context: &web_sys::AudioContext) -> Result<(), JsValue> {
    let start = context.current_time();
    let oscillator = context.create_oscillator()?;
    oscillator.frequency().set_value(880.0);
    let gain = context.create_gain()?;
    let level = gain.gain();
    level.set_value_at_time(0.0001, start)?;
    level.exponential_ramp_to_value_at_time(0.2, start + 0.015)?;
    level.exponential_ramp_to_value_at_time(0.0001, start + 0.18)?;
    oscillator.connect_with_audio_node(&gain)?;
    gain.connect_with_audio_node(&context.destination())?;
    oscillator.start_with_when(start)?;
    oscillator.stop_with_when(start + 0.2)?;
    Ok(())
}

/// Shows an OS notification if the page holds the permission.
fn show_notification(title: &str, body: &str) -> bool {
    if !notifications_supported() || web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
        return false;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    // One notification per conversation: a newer message replaces the older one.
    options.set_tag("threadline-message");
    web_sys::Notification::new_with_options(title, &options).is_ok()
}

fn notifications_supported() -> bool {
    web_sys::window().is_some_and(|window| js_sys::Reflect::has(&window, &JsValue::from_str("Notification")).unwrap_or(false))
}

/// The current permission: `granted`, `denied`, `default`, or `unsupported`.
pub fn permission() -> &'static str {
    if !notifications_supported() {
        return "unsupported";
    }
    match web_sys::Notification::permission() {
        web_sys::NotificationPermission::Granted => "granted",
        web_sys::NotificationPermission::Denied => "denied",
        _ => "default",
    }
}

/// Asks the user for the notification permission (browsers require a user gesture in the host
/// page for the prompt) and answers with the resulting permission.
pub async fn request_permission() -> &'static str {
    if !notifications_supported() {
        return "unsupported";
    }
    if let Ok(asked) = web_sys::Notification::request_permission() {
        let _ = wasm_bindgen_futures::JsFuture::from(asked).await;
    }
    permission()
}

fn dispatch(sound: bool, notification: bool, title: &str, body: &str) {
    let Some(window) = web_sys::window() else { return };
    let detail = js_sys::Object::new();
    for (key, value) in [
        ("sound", JsValue::from_bool(sound)),
        ("notification", JsValue::from_bool(notification)),
        ("title", JsValue::from_str(title)),
        ("body", JsValue::from_str(body)),
    ] {
        let _ = js_sys::Reflect::set(&detail, &JsValue::from_str(key), &value);
    }
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&detail);
    if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict("threadline:notify", &init) {
        let _ = window.dispatch_event(event.unchecked_ref());
    }
}

#[cfg(test)]
mod tests {
    use threadline_core::session::DeliveryStatus;

    use super::*;

    fn entry(key: &str, author: Author, time_ms: u64) -> TranscriptEntry {
        TranscriptEntry {
            order: OrderKey { time_ms, seq: 0 },
            display_name: Some("Ana".into()),
            ..crate::model::test_entry(key, author, DeliveryStatus::Sent)
        }
    }

    /// [`fresh_message`] against a transcript showing `shown`.
    fn fresh<'a>(event: &'a Event, shown: &[TranscriptEntry]) -> Option<&'a TranscriptEntry> {
        fresh_message(event, |key| shown.iter().any(|entry| entry.key == *key), shown.last().map(|entry| entry.order))
    }

    #[test]
    fn only_a_new_agent_message_at_the_end_alerts() {
        let shown = [entry("a", Author::Agent, 10), entry("b", Author::Customer, 20)];
        let new = Event::EntryUpserted(entry("c", Author::Agent, 30));
        assert!(fresh(&new, &shown).is_some());
        assert!(fresh(&Event::EntryUpserted(entry("c", Author::Bot, 30)), &shown).is_some());
        assert!(fresh(&Event::EntryUpserted(entry("a", Author::Agent, 10)), &shown).is_none(), "an update of a shown message");
        assert!(fresh(&Event::EntryUpserted(entry("z", Author::Agent, 5)), &shown).is_none(), "older history");
        assert!(fresh(&Event::EntryUpserted(entry("d", Author::Customer, 40)), &shown).is_none(), "own message");
        assert!(fresh(&Event::TranscriptReset(vec![entry("e", Author::Agent, 50)]), &shown).is_none(), "a replayed transcript");
        assert!(fresh(&new, &[]).is_some(), "first message of a conversation");
    }

    #[test]
    fn alert_text_uses_the_name_and_cuts_long_bodies() {
        let mut long = entry("a", Author::Agent, 1);
        long.text = "x".repeat(200);
        let (title, body) = alert_text(&long, "Chat");
        assert_eq!(title, "Ana");
        assert_eq!(body.chars().count(), BODY_MAX_CHARS + 1);
        long.display_name = None;
        assert_eq!(alert_text(&long, "Chat").0, "Chat");
    }
}
