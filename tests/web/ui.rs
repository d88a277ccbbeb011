//! The messenger's richer controls with the scripted transport: date/time-slot pickers, the
//! "clear conversation" control, pasting an image, and the categorised emoji picker.

use serde_json::{json, Value};
use threadline::Store;
use threadline_core::protocol::DeploymentConfig;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

use super::{agent_text, document, echo, js, now_iso, session, settle, settle_until, Fixture};

/// A fixture whose deployment config is `deployment` (the default fixture has none).
fn mount_with(deployment: Value) -> Fixture {
    Fixture::mount_with(&[("locale", "en")], DeploymentConfig::from_json(&deployment.to_string()).unwrap(), Store::memory("web-ui-test"))
}

fn clear_enabled() -> Value {
    json!({"messenger": {"apps": {"conversations": {"enabled": true, "conversationClear": {"enabled": true}}}}})
}

/// The browser's own `Intl` rendering of a time, to compare with what the picker shows.
fn intl_time(iso: &str) -> String {
    js("return new Intl.DateTimeFormat('en', {hour: 'numeric', minute: '2-digit'}).format(new Date(a));", &[iso.into()]).as_string().unwrap()
}

fn key(element: &web_sys::HtmlElement, key: &str) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    init.set_cancelable(true);
    element.dispatch_event(&web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap()).unwrap();
}

/// The focused element inside the fixture (the document's active element).
fn focused() -> Option<web_sys::HtmlElement> {
    document().active_element().map(|element| element.unchecked_into())
}

/// The attribute `name` of the focused element.
fn focused_attr(name: &str) -> Option<String> {
    focused().and_then(|element| element.get_attribute(name))
}

// Slots ten and ten-thirty UTC on one day and one two days later: the same grouping in every
// time zone from UTC-10 to UTC+13. Far ahead: an open picker offers only times to come.
const SLOT_A1: &str = "2099-05-12T10:00:00.000Z";
const SLOT_A2: &str = "2099-05-12T10:30:00.000Z";
const SLOT_B: &str = "2099-05-14T10:00:00.000Z";
const SLOT_PAST: &str = "2020-05-12T10:00:00.000Z";

fn date_picker_frame(id: &str) -> Value {
    date_picker_frame_with(id, &[SLOT_B, SLOT_A1, SLOT_A2, "not a date"])
}

fn date_picker_frame_with(id: &str, times: &[&str]) -> Value {
    let available: Vec<Value> = times.iter().map(|time| json!({"dateTime": time, "duration": 1800})).collect();
    json!({
        "type": "message", "class": "StructuredMessage", "code": 200,
        "body": {
            "id": id, "type": "Structured", "direction": "Outbound", "text": "Pick a time for your callback",
            "originatingEntity": "Bot",
            "channel": {"time": now_iso()},
            "content": [{"contentType": "DatePicker", "datePicker": {
                "title": "Schedule a callback",
                "subtitle": "All times in your local time zone",
                "availableTimes": available
            }}]
        }
    })
}

#[wasm_bindgen_test]
async fn date_picker_shows_slots_by_day_and_answers_once_per_spec() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.frame(date_picker_frame("dp-1"));
    settle().await;

    let picker = fixture.testid("date-picker").expect("a date picker, not an unsupported line");
    assert!(fixture.find(".tl-unsupported").is_none());
    assert_eq!(picker.get_attribute("data-state").as_deref(), Some("open"));
    let text = picker.text_content().unwrap();
    assert!(text.contains("Schedule a callback") && text.contains("All times in your local time zone"), "picker text {text:?}");
    let days = fixture.all(".tl-date-day");
    assert_eq!(days.len(), 2, "slots grouped by day");
    let slots = fixture.all("[data-testid=\"date-slot\"]");
    let values: Vec<String> = slots.iter().map(|slot| slot.get_attribute("data-value").unwrap_or_default()).collect();
    assert_eq!(values, [SLOT_A1, SLOT_A2, SLOT_B], "in time order, the unparsable slot left out");
    assert_eq!(days[0].query_selector_all("[data-testid=\"date-slot\"]").unwrap().length(), 2);
    assert_eq!(slots[0].text_content().unwrap(), intl_time(SLOT_A1), "times via Intl in the messenger's locale");

    slots[1].click();
    settle().await;
    slots[0].click();
    settle().await;
    let sent = fixture.socket.actions("onMessage");
    assert_eq!(sent.len(), 1, "one answer, however many clicks");
    let message = &sent[0]["message"];
    assert_eq!(message["type"], "Text");
    assert_eq!(message["text"], "");
    let response = &message["content"][0]["buttonResponse"];
    assert_eq!(message["content"][0]["contentType"], "ButtonResponse");
    assert_eq!(response["type"], "DatePicker");
    assert_eq!(response["payload"], SLOT_A2);
    assert_eq!(response["originatingMessageId"], "dp-1");

    let picker = fixture.must("date-picker");
    assert_eq!(picker.get_attribute("data-state").as_deref(), Some("answered"));
    let slots = fixture.all("[data-testid=\"date-slot\"]");
    assert!(slots.iter().all(|slot| slot.has_attribute("disabled")), "answered slots are disabled");
    let pressed: Vec<String> = slots.iter().map(|slot| slot.get_attribute("aria-pressed").unwrap_or_default()).collect();
    assert_eq!(pressed, ["false", "true", "false"], "the chosen slot stays marked");
    let own = fixture.find("[data-testid=\"message\"][data-author=\"customer\"]").expect("the answer as a customer message");
    let own_text = own.text_content().unwrap();
    assert!(own_text.contains(&intl_time(SLOT_A2)) && !own_text.contains("T10:30"), "answer shown as a local time, was {own_text:?}");

    // The echo keeps the answer readable and the picker answered.
    let mut answer = echo(&sent[0]["tracingId"], "srv-answer", "");
    answer["body"]["content"] = json!([{"contentType": "ButtonResponse", "buttonResponse": response.clone()}]);
    fixture.socket.frame(answer);
    settle().await;
    let own = fixture.find("[data-testid=\"message\"][data-author=\"customer\"]").unwrap();
    assert_eq!(own.get_attribute("data-status").as_deref(), Some("sent"));
    assert!(own.text_content().unwrap().contains(&intl_time(SLOT_A2)), "echoed answer {:?}", own.text_content());
    assert_eq!(fixture.attr("date-picker", "data-state"), "answered");
    let pressed = fixture.find("[data-testid=\"date-slot\"][aria-pressed=\"true\"]").unwrap();
    assert_eq!(pressed.get_attribute("data-value").as_deref(), Some(SLOT_A2));
}

/// Regression: a picker read after some of its times went by offered them all (the server then
/// refuses a past time, or an agent calls back at a time already gone).
#[wasm_bindgen_test]
async fn date_picker_offers_only_times_still_ahead() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.frame(date_picker_frame_with("dp-mixed", &[SLOT_PAST, SLOT_A1]));
    settle().await;
    let slots = fixture.all("[data-testid=\"date-slot\"]");
    let values: Vec<String> = slots.iter().map(|slot| slot.get_attribute("data-value").unwrap_or_default()).collect();
    assert_eq!(values, [SLOT_A1], "the past time is not offered");
    assert!(fixture.find(".tl-date-picker-answered").is_none(), "no note while times are left");

    fixture.socket.frame(date_picker_frame_with("dp-gone", &[SLOT_PAST]));
    settle().await;
    let pickers = fixture.all("[data-testid=\"date-picker\"]");
    let newest = pickers.last().expect("the second picker");
    assert_eq!(newest.query_selector_all("[data-testid=\"date-slot\"]").unwrap().length(), 0, "nothing to choose");
    let text = newest.text_content().unwrap_or_default();
    assert!(text.contains("None of these times is available any more."), "says so, was {text:?}");
    assert!(fixture.socket.actions("onMessage").is_empty());
}

#[wasm_bindgen_test]
async fn date_picker_superseded_by_a_newer_message_is_disabled() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.frame(date_picker_frame("dp-old"));
    fixture.socket.frame(agent_text("later", "Or just tell me when"));
    settle().await;
    assert_eq!(fixture.attr("date-picker", "data-state"), "closed", "superseded without an answer");
    let slot = fixture.find("[data-testid=\"date-slot\"]").unwrap();
    assert!(slot.has_attribute("disabled"));
    slot.click();
    settle().await;
    assert!(fixture.socket.actions("onMessage").is_empty(), "an old picker sends nothing");
}

#[wasm_bindgen_test]
async fn clear_conversation_asks_first_then_clears() {
    let fixture = mount_with(clear_enabled());
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.frame(agent_text("c1", "Something private"));
    settle().await;
    assert_eq!(fixture.messages().len(), 1);

    fixture.must("clear-conversation").click();
    settle().await;
    assert!(fixture.testid("clear-confirm").is_some(), "a confirmation step");
    assert_eq!(focused_attr("data-testid").as_deref(), Some("clear-confirm"));
    fixture.must("clear-cancel").click();
    settle().await;
    assert!(fixture.testid("clear-confirm").is_none());
    assert_eq!(focused_attr("data-testid").as_deref(), Some("clear-conversation"));
    assert!(fixture.socket.0.borrow().sent.iter().all(|frame| !frame.contains("\"Clear\"")), "cancel sends nothing");

    // Escape withdraws the question, not the panel.
    fixture.must("clear-conversation").click();
    settle().await;
    key(&fixture.must("clear-confirm"), "Escape");
    settle().await;
    assert!(fixture.testid("clear-confirm").is_none());
    assert_eq!(fixture.attr("messenger", "data-state"), "open");

    fixture.must("clear-conversation").click();
    settle().await;
    fixture.must("clear-confirm").click();
    settle().await;
    let clears: Vec<Value> = fixture
        .socket
        .actions("onMessage")
        .into_iter()
        .filter(|frame| frame["message"]["events"][0]["presence"]["type"] == "Clear")
        .collect();
    assert_eq!(clears.len(), 1, "the spec's clearConversation (Presence Clear) is sent once");
    assert_eq!(clears[0]["message"]["type"], "Event");

    fixture.socket.frame(json!({"type": "message", "class": "SessionClearedEvent", "code": 200, "body": {}}));
    settle().await;
    assert_eq!(fixture.messages().len(), 0, "transcript cleared");
    let notice = fixture.must("notice").text_content().unwrap();
    assert!(notice.contains("cleared"), "notice was {notice:?}");
}

#[wasm_bindgen_test]
async fn clear_conversation_refused_by_the_server_hides_the_control() {
    let fixture = mount_with(clear_enabled());
    fixture.connect(session(1800, 1800)).await;
    fixture.must("clear-conversation").click();
    settle().await;
    fixture.must("clear-confirm").click();
    settle().await;
    let clear = fixture.socket.actions("onMessage").pop().expect("a clear request");
    fixture.socket.frame(json!({
        "type": "response", "class": "string", "code": 403,
        "body": "Presence events Conversation Clear are not supported", "tracingId": clear["tracingId"]
    }));
    settle().await;
    let alert = fixture.find(".tl-alert").expect("the refusal is shown").text_content().unwrap();
    assert!(alert.contains("Clearing the conversation is not available."), "alert was {alert:?}");
    assert!(fixture.testid("clear-conversation").is_none(), "the control goes away after a 403");
}

#[wasm_bindgen_test]
async fn clear_conversation_is_hidden_when_the_deployment_disables_it() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    assert_eq!(fixture.attr("status", "data-state"), "connected");
    assert!(fixture.testid("clear-conversation").is_none());
}

/// Dispatches a `paste` on `target` whose clipboard holds `file` (a PNG) and, if given, text.
fn paste(target: &web_sys::HtmlElement, name: &str, text: Option<&str>) -> bool {
    let event = js(
        "const dt = new DataTransfer();
         dt.items.add(new File([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 0, 0])], a, {type: 'image/png'}));
         if (b) dt.setData('text/plain', b);
         return new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true});",
        &[name.into(), text.map_or(JsValue::NULL, JsValue::from)],
    );
    target.dispatch_event(&event.unchecked_into()).unwrap()
}

#[wasm_bindgen_test]
async fn pasting_an_image_attaches_it_like_the_attach_button() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    let composer = fixture.must("composer");

    let not_cancelled = paste(&composer, "screenshot.png", None);
    settle().await;
    assert!(!not_cancelled, "the paste of a picture is taken over");
    let requests = fixture.socket.actions("onAttachment");
    assert_eq!(requests.len(), 1, "an upload is requested");
    assert_eq!(requests[0]["fileName"], "screenshot.png");
    assert_eq!(requests[0]["fileType"], "image/png");
    assert!(fixture.find(".tl-upload").is_some(), "the upload shows");

    // The same checks as the attach button: a blocked extension is refused with a message.
    paste(&composer, "run.exe", None);
    settle().await;
    assert_eq!(fixture.socket.actions("onAttachment").len(), 1);
    let alert = fixture.find(".tl-alert").expect("a clear message").text_content().unwrap();
    assert!(alert.contains("cannot be sent"), "alert was {alert:?}");

    // Text with a picture beside it (office apps) stays a text paste.
    assert!(paste(&composer, "rendering.png", Some("quarterly figures")), "a text paste is left to the browser");
    settle().await;
    assert_eq!(fixture.socket.actions("onAttachment").len(), 1);
}

#[wasm_bindgen_test]
async fn emoji_picker_has_categories_keyboard_navigation_and_inserts_at_the_caret() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    let composer: web_sys::HtmlTextAreaElement = fixture.must("composer").unchecked_into();
    fixture.type_text("ab");
    composer.set_selection_range(1, 1).unwrap();

    fixture.must("emoji").click();
    settle().await;
    assert_eq!(focused_attr("data-index").as_deref(), Some("0"), "focus moves into the grid");
    let categories = fixture.all("[data-testid=\"emoji-category\"]").len();
    assert!(categories >= 6, "{categories} categories");
    let mut total = 0;
    for index in 0..categories {
        // A category renders anew (its tabs too), so look each one up again.
        fixture.all("[data-testid=\"emoji-category\"]")[index].click();
        settle().await;
        assert_eq!(fixture.all("[data-testid=\"emoji-category\"]")[index].get_attribute("aria-selected").as_deref(), Some("true"));
        assert_eq!(focused_attr("data-index").as_deref(), Some("0"), "its first emoji takes focus");
        total += fixture.all(".tl-emoji").len();
    }
    assert!((150..=250).contains(&total), "{total} emoji");
    fixture.all("[data-testid=\"emoji-category\"]")[0].click();
    settle().await;

    let first = fixture.find(".tl-emoji[data-index=\"0\"]").unwrap();
    key(&first, "ArrowRight");
    settle().await;
    assert_eq!(focused_attr("data-index").as_deref(), Some("1"));
    key(&focused().unwrap(), "ArrowDown");
    settle().await;
    let target = focused().unwrap();
    assert_eq!(target.get_attribute("data-index").as_deref(), Some("9"), "down moves one row of eight");
    let emoji = target.text_content().unwrap();

    target.click();
    settle().await;
    assert_eq!(composer.value(), format!("a{emoji}b"), "inserted at the caret");
    assert!(fixture.testid("emoji-picker").is_none(), "the picker closes");
    assert_eq!(focused_attr("data-testid").as_deref(), Some("composer"));
    assert_eq!(composer.selection_start().unwrap(), Some(1 + emoji.encode_utf16().count() as u32), "caret after the emoji");

    // Escape closes the picker only and returns to the composer.
    fixture.must("emoji").click();
    settle().await;
    key(&fixture.find(".tl-emoji[data-index=\"0\"]").unwrap(), "Escape");
    settle().await;
    assert!(fixture.testid("emoji-picker").is_none());
    assert_eq!(fixture.attr("messenger", "data-state"), "open");
    assert_eq!(focused_attr("data-testid").as_deref(), Some("composer"));

    // The inserted text is what gets sent.
    fixture.must("send").click();
    settle().await;
    assert_eq!(fixture.socket.actions("onMessage")[0]["message"]["text"], format!("a{emoji}b"));
}

/// Scrolls the transcript to `top` and lets the scroll handler run.
async fn scroll_transcript(transcript: &web_sys::HtmlElement, top: i32) {
    transcript.set_scroll_top(top);
    transcript.dispatch_event(&web_sys::Event::new("scroll").unwrap()).unwrap();
    settle().await;
}

#[wasm_bindgen_test]
async fn new_messages_below_a_reader_scrolled_up_offer_a_jump_and_an_own_send_scrolls_down() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    let transcript = fixture.fill_sized_transcript(30).await;
    let jump = fixture.must("jump-latest");
    assert!(jump.hidden(), "nothing below while pinned to the newest message");

    // Reading older messages: a new one arrives below, the reader's place is kept and a jump offered.
    scroll_transcript(&transcript, 0).await;
    fixture.socket.frame(agent_text("late", "one more"));
    settle().await;
    settle().await;
    assert_eq!(transcript.scroll_top(), 0, "the reader's place is kept");
    let late = fixture.message("late").expect("the new message is rendered");
    assert!(!super::shows(&transcript, &late), "the new message is below the view");
    assert!(!jump.hidden(), "a jump to the new message is offered");
    assert_eq!(jump.text_content().unwrap_or_default().trim(), "New messages");

    jump.click();
    settle().await;
    settle().await;
    assert!(super::shows(&transcript, &late), "the jump shows the new message");
    assert!(jump.hidden(), "the jump is gone once used");

    // Scrolled up again, the customer's own message brings the view down to it.
    scroll_transcript(&transcript, 0).await;
    fixture.type_and_send("my question").await;
    settle().await;
    let own = fixture.messages().pop().expect("the own message is shown");
    assert_eq!(own.get_attribute("data-direction").as_deref(), Some("inbound"));
    assert!(super::shows(&transcript, &own), "an own message is scrolled into view");
    assert!(jump.hidden(), "no jump offered for an own message");

    // Scrolling down by hand to the new message also dismisses the offer.
    scroll_transcript(&transcript, 0).await;
    fixture.socket.frame(agent_text("later", "and another"));
    settle().await;
    assert!(!jump.hidden());
    scroll_transcript(&transcript, transcript.scroll_height()).await;
    assert!(jump.hidden(), "reaching the bottom dismisses the offer");
}

#[wasm_bindgen_test]
async fn a_card_picture_that_does_not_load_is_removed_not_shown_broken() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    let mut frame = agent_text("card-1", "");
    frame["body"]["type"] = json!("Structured");
    frame["body"]["content"] = json!([{"contentType": "Card", "card": {
        "title": "Deluxe Room",
        "image": "http://127.0.0.1:9/rooms/deluxe.jpg",
        "actions": [{"type": "Postback", "text": "Book", "payload": "book"}]
    }}]);
    fixture.socket.frame(frame);
    leptos::task::tick().await;
    let image = fixture.find(".tl-card-image").expect("the card's picture is rendered");
    assert!(!image.hidden(), "shown until it fails");
    // Port 9 on loopback refuses at once; bounded wait for the error event.
    assert!(settle_until(100, || image.hidden()).await, "a picture that failed to load is hidden");
    assert!(fixture.find(".tl-card").is_some_and(|card| card.text_content().unwrap_or_default().contains("Deluxe Room")), "the card itself stays");
}

#[wasm_bindgen_test]
async fn composer_counter_shows_what_is_left_near_the_limit_and_how_much_is_over() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    let send: web_sys::HtmlButtonElement = fixture.must("send").unchecked_into();
    let counter = || fixture.find(".tl-counter").map(|counter| counter.text_content().unwrap_or_default());

    fixture.type_text(&"a".repeat(100));
    settle().await;
    assert_eq!(counter(), None, "far from the 4,096-character limit: no counter");
    assert!(!send.disabled());

    fixture.type_text(&"a".repeat(4000));
    settle().await;
    assert_eq!(counter().as_deref(), Some("96 characters left"));
    assert!(!send.disabled());

    fixture.type_text(&"a".repeat(4100));
    settle().await;
    assert_eq!(counter().as_deref(), Some("4 characters too many"));
    assert!(send.disabled(), "an over-long message cannot be sent");
}
