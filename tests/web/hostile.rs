//! The hostile-input corpus (`crates/core/tests/corpus/hostile.json`, 175 payloads) rendered by
//! the real UI (issue "Proof" §4). The native half (`crates/core/tests/core/hostile.rs`) proves
//! the frames decode to exactly the payload and the markdown AST is inert; this half proves the
//! DOM built from them is.
//!
//! Every payload goes, as a scripted server frame, into each [`Slot`]: agent text (the markdown
//! path), the agent's display name, quick-reply labels, card title/description/action labels,
//! a carousel, file and image attachment names, and (for every payload) every URL field the UI
//! turns into an `href`/`src`. Then:
//! * no script ran: `alert`/`confirm`/`prompt`/`print` are hooked and `window.__tlPwned` stays
//!   unset (a few payloads set it directly);
//! * every element ever added under the messenger (a `MutationObserver` sees the ones that were
//!   removed again, such as past quick replies) is in [`ALLOWED_TAGS`], and the final DOM has
//!   no `on*` attribute, no `href`/`src` outside http(s)/mailto, no `a` without `rel=noopener`,
//!   no `style` with `url(`/`expression`;
//! * the text in plain-text slots is shown exactly as sent (the payload is text, not markup);
//! * afterwards the composer still sends and the transcript still renders, and a 1 MB message
//!   renders within a bound (the time is printed).

use serde_json::{json, Value};
use threadline::SocketEvent;
use threadline_core::protocol::MAX_FRAME_BYTES;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

use super::{js, now_iso, session, Fixture};

const CORPUS: &str = include_str!("../../crates/core/tests/corpus/hostile.json");

/// Every element the view code (`src/view/{mod,transcript,markdown,composer}.rs`) can create:
/// layout and controls, the markdown subset, and the SVG icons/avatar (`svg`, `path`, `circle`,
/// `image`). Anything else in the DOM came from a payload.
const ALLOWED_TAGS: &[&str] = &[
    "a", "br", "button", "circle", "code", "div", "em", "form", "h2", "header", "image", "img", "input", "li", "ol",
    "p", "path", "pre", "progress", "section", "span", "strong", "svg", "textarea", "time", "ul",
];

/// Attributes that load or run something and that the view never sets.
const FORBIDDEN_ATTRIBUTES: &[&str] = &["srcdoc", "srcset", "formaction", "xlink:href", "data", "action", "background", "poster"];

/// Where a payload is placed in a `StructuredMessage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    AgentText,
    DisplayName,
    QuickReplyLabel,
    CardTitle,
    CardDescription,
    CardActionLabels,
    Carousel,
    FileName,
    ImageName,
    /// Avatar, card image, card link and default action, attachment URL.
    Urls,
}

const SLOTS: [Slot; 10] = [
    Slot::AgentText,
    Slot::DisplayName,
    Slot::QuickReplyLabel,
    Slot::CardTitle,
    Slot::CardDescription,
    Slot::CardActionLabels,
    Slot::Carousel,
    Slot::FileName,
    Slot::ImageName,
    Slot::Urls,
];

/// Stands in for the payload while a frame is built as a value; replaced textually so raw JSON
/// escapes (lone surrogates) reach the decoder untouched.
const PLACEHOLDER: &str = "@@HOSTILE_PAYLOAD@@";

struct Entry {
    name: String,
    /// The payload as it goes inside a JSON string literal.
    literal: String,
    /// What a correct decoder yields (`None`: not valid JSON string content).
    decoded: Option<String>,
}

fn corpus() -> Vec<Entry> {
    let entries: Vec<Value> = serde_json::from_str(CORPUS).unwrap();
    entries
        .iter()
        .map(|entry| {
            let payload = entry["payload"].as_str().unwrap().repeat(entry["repeat"].as_u64().unwrap_or(1) as usize);
            let name = entry["name"].as_str().unwrap().to_string();
            if entry["raw_json"].as_bool().unwrap_or(false) {
                let decoded = serde_json::from_str::<String>(&format!("\"{payload}\"")).ok();
                Entry { name, literal: payload, decoded }
            } else {
                let quoted = serde_json::to_string(&payload).unwrap();
                Entry { name, literal: quoted[1..quoted.len() - 1].to_string(), decoded: Some(payload) }
            }
        })
        .collect()
}

fn card(title: &str, description: &str, action: &str, url: &str, image: Option<&str>) -> Value {
    let mut card = json!({
        "title": title,
        "description": description,
        "defaultAction": {"type": "Link", "text": "", "url": url},
        "actions": [
            {"type": "Postback", "text": action, "payload": "book"},
            {"type": "Link", "text": action, "url": url},
        ],
    });
    if let Some(image) = image {
        card["image"] = json!(image);
    }
    card
}

/// The frame text placing `entry` in `slot` of the message `id`.
fn frame_text(slot: Slot, entry: &Entry, id: &str) -> String {
    let p = PLACEHOLDER;
    let safe = "https://hotel.example/rooms";
    let time = now_iso();
    let mut body = json!({
        "id": id,
        "type": "Text",
        "direction": "Outbound",
        "originatingEntity": "Human",
        "channel": {"time": time, "type": "Private", "from": {"nickname": "Jonas"}},
        "text": "hello",
    });
    let attachment = |filename: &str, url: &str, media: &str, mime: &str| {
        json!({"contentType": "Attachment", "attachment": {
            "id": format!("att-{id}"), "mediaType": media, "url": url, "mime": mime, "filename": filename,
        }})
    };
    match slot {
        Slot::AgentText => body["text"] = json!(p),
        // A different display name per message also keeps messages from grouping (a grouped
        // message shows no name).
        Slot::DisplayName => body["channel"]["from"] = json!({"nickname": p}),
        Slot::QuickReplyLabel => {
            body["type"] = json!("Structured");
            body["content"] = json!([
                {"contentType": "QuickReply", "quickReply": {"text": p, "payload": "qr-1", "action": "Message"}},
                {"contentType": "QuickReply", "quickReply": {"text": "safe option", "payload": "qr-2", "action": "Message"}},
            ]);
        }
        Slot::CardTitle => {
            body["type"] = json!("Structured");
            body["content"] = json!([{"contentType": "Card", "card": card(p, "desc", "Open", safe, None)}]);
        }
        Slot::CardDescription => {
            body["type"] = json!("Structured");
            body["content"] = json!([{"contentType": "Card", "card": card("Title", p, "Open", safe, None)}]);
        }
        Slot::CardActionLabels => {
            body["type"] = json!("Structured");
            body["content"] = json!([{"contentType": "Card", "card": card("Title", "desc", p, safe, None)}]);
        }
        Slot::Carousel => {
            body["type"] = json!("Structured");
            body["content"] = json!([{"contentType": "Carousel", "carousel": {"cards": [
                card(p, "desc", "Open", safe, None),
                card("Second", p, "Open", safe, None),
            ]}}]);
        }
        Slot::FileName => body["content"] = json!([attachment(p, "https://files.example/a", "File", "application/pdf")]),
        Slot::ImageName => body["content"] = json!([attachment(p, "https://files.example/i.png", "Image", "image/png")]),
        Slot::Urls => {
            body["type"] = json!("Structured");
            body["channel"]["from"] = json!({"nickname": format!("Agent {id}"), "image": p});
            body["content"] = json!([
                {"contentType": "Card", "card": card("Title", "desc", "Open", p, Some(p))},
                attachment("a.pdf", p, "File", "application/pdf"),
                attachment("i.png", p, "Image", "image/png"),
            ]);
        }
    }
    let frame = json!({"type": "message", "class": "StructuredMessage", "code": 200, "body": body});
    frame.to_string().replace(&format!("\"{PLACEHOLDER}\""), &format!("\"{}\"", entry.literal))
}

/// Hooks everything a payload's script would call; `window.__tlPwned` is set if any ran.
fn install_canary() {
    js(
        "window.__tlPwned = undefined;
         window.__tlOriginalDialogs = window.__tlOriginalDialogs || [window.alert, window.confirm, window.prompt, window.print];
         for (const name of ['alert', 'confirm', 'prompt', 'print']) {
           window[name] = (...args) => { window.__tlPwned = name + '(' + args.join(',') + ')'; };
         }",
        &[],
    );
}

fn restore_dialogs() {
    js(
        "const saved = window.__tlOriginalDialogs;
         if (saved) { ['alert', 'confirm', 'prompt', 'print'].forEach((name, i) => { window[name] = saved[i]; }); }",
        &[],
    );
}

fn pwned() -> JsValue {
    js_sys::Reflect::get(&web_sys::window().unwrap(), &"__tlPwned".into()).unwrap()
}

/// Starts recording the tag of every element added under `root` (into `root.__tlAddedTags`).
fn observe_added_tags(root: &web_sys::HtmlElement) {
    js(
        "const root = a;
         const tags = new Set();
         root.__tlAddedTags = tags;
         const note = element => { tags.add(element.localName); for (const child of element.querySelectorAll('*')) tags.add(child.localName); };
         root.__tlObserver = new MutationObserver(records => {
           for (const record of records) for (const node of record.addedNodes) if (node.nodeType === 1) note(node);
         });
         root.__tlObserver.observe(root, { childList: true, subtree: true });",
        &[root.into()],
    );
}

/// The tags recorded by [`observe_added_tags`] (flushing pending records first).
fn added_tags(root: &web_sys::HtmlElement) -> Vec<String> {
    let tags: js_sys::Array = js(
        "const root = a;
         const observer = root.__tlObserver;
         for (const record of observer.takeRecords()) for (const node of record.addedNodes) if (node.nodeType === 1) {
           root.__tlAddedTags.add(node.localName);
           for (const child of node.querySelectorAll('*')) root.__tlAddedTags.add(child.localName);
         }
         observer.disconnect();
         return Array.from(root.__tlAddedTags);",
        &[root.into()],
    )
    .unchecked_into();
    tags.iter().filter_map(|tag| tag.as_string()).collect()
}

/// Whether `url` is a target the UI may link to (`images`: may load from).
fn allowed_url(url: &str, images: bool) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || (!images && lower.starts_with("mailto:"))
}

/// Checks every element under `root`; returns how many were checked. Panics naming the first
/// offending element and `context`.
fn assert_inert(root: &web_sys::HtmlElement, context: &str) -> usize {
    let all = root.query_selector_all("*").unwrap();
    for index in 0..all.length() {
        let element: web_sys::Element = all.item(index).unwrap().unchecked_into();
        let tag = element.local_name();
        let describe = || {
            let html = element.outer_html();
            let cut: String = html.chars().take(300).collect();
            format!("{context}: <{tag}> {cut}")
        };
        assert!(ALLOWED_TAGS.contains(&tag.as_str()), "element outside the allow-list: {}", describe());
        for name in element.get_attribute_names().iter().filter_map(|name| name.as_string()) {
            let lower = name.to_ascii_lowercase();
            let value = element.get_attribute(&name).unwrap_or_default();
            assert!(!lower.starts_with("on"), "event handler attribute {name}: {}", describe());
            assert!(!FORBIDDEN_ATTRIBUTES.contains(&lower.as_str()), "attribute {name}: {}", describe());
            match lower.as_str() {
                "href" => assert!(allowed_url(&value, tag == "image"), "href {value:?}: {}", describe()),
                "src" => assert!(allowed_url(&value, true), "src {value:?}: {}", describe()),
                "style" => {
                    let style = value.to_ascii_lowercase();
                    assert!(!style.contains("url(") && !style.contains("expression"), "style {value:?}: {}", describe());
                }
                _ => {}
            }
        }
        if tag == "a" {
            let rel = element.get_attribute("rel").unwrap_or_default();
            assert!(rel.split_whitespace().any(|token| token == "noopener"), "link without rel=noopener: {}", describe());
            assert!(element.has_attribute("href"), "link without href: {}", describe());
        }
    }
    all.length() as usize
}

fn texts(message: &web_sys::Element, selector: &str) -> Vec<String> {
    let list = message.query_selector_all(selector).unwrap();
    (0..list.length()).filter_map(|index| list.item(index)).map(|node| node.text_content().unwrap_or_default()).collect()
}

/// Checks that the plain-text slot shows `expected` verbatim (the payload stayed text).
fn assert_shown_verbatim(slot: Slot, message: &web_sys::Element, expected: &str, context: &str) {
    let (selector, copies) = match slot {
        // A blank nickname falls back to the author label ("Agent").
        Slot::DisplayName if expected.trim().is_empty() => return,
        Slot::DisplayName => (".tl-author", 1),
        Slot::QuickReplyLabel => (".tl-quick-reply", 1),
        Slot::CardTitle => (".tl-card-title", 1),
        Slot::CardDescription => (".tl-card-description", 1),
        Slot::CardActionLabels => (".tl-card-action", 2),
        Slot::Carousel => (".tl-card-title, .tl-card-description", 1),
        Slot::FileName => (".tl-file", 1),
        Slot::ImageName => {
            let alt = message.query_selector("img.tl-thumb").unwrap().and_then(|image| image.get_attribute("alt"));
            assert_eq!(alt.as_deref(), Some(expected), "{context}: the image's alt text changed");
            return;
        }
        Slot::AgentText | Slot::Urls => return,
    };
    let shown = texts(message, selector);
    let matching = shown.iter().filter(|text| *text == expected).count();
    assert!(matching >= copies, "{context}: {matching} of {copies} {selector} show the payload verbatim ({} shown)", shown.len());
}

/// Sends every payload in `slot` into a fresh messenger and checks the DOM. Returns
/// `(frames rendered, frames refused, elements checked)`.
async fn run_slot(slot: Slot, entries: &[Entry]) -> (usize, usize, usize) {
    let fixture = Fixture::mount("en");
    observe_added_tags(&fixture.root);
    fixture.connect(session(86_400, 86_400)).await;
    let (mut rendered, mut refused, mut checked) = (0, 0, 0);
    // Frames past the size limit are refused whole (as they must be), as is invalid JSON.
    let frames: Vec<(String, String, bool)> = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let id = format!("h{index}-{slot:?}");
            let text = frame_text(slot, entry, &id);
            let expect_shown = entry.decoded.is_some() && text.len() <= MAX_FRAME_BYTES;
            (id, text, expect_shown)
        })
        .collect();
    // Quick replies show only on the newest message, so those are checked one frame at a time;
    // the other slots render in one batch (one DOM update for the whole corpus).
    let one_by_one = slot == Slot::QuickReplyLabel;
    if !one_by_one {
        for (_, text, _) in &frames {
            fixture.socket.emit(SocketEvent::Frame(text.clone()));
        }
        leptos::task::tick().await;
    }
    for (entry, (id, text, expect_shown)) in entries.iter().zip(frames) {
        let context = format!("{} as {slot:?}", entry.name);
        if one_by_one {
            fixture.socket.emit(SocketEvent::Frame(text));
            leptos::task::tick().await;
        }
        let message = fixture.message(&id);
        match (&message, expect_shown) {
            (Some(message), true) => {
                rendered += 1;
                assert_shown_verbatim(slot, message, entry.decoded.as_deref().unwrap(), &context);
                // Quick replies only show on the newest message: check them while they do.
                if one_by_one {
                    checked += assert_inert(message.unchecked_ref(), &context);
                }
            }
            (None, false) => refused += 1,
            (Some(_), false) => panic!("{context}: a frame that must be refused was shown"),
            (None, true) => panic!("{context}: the message was not shown"),
        }
        assert!(pwned().is_undefined(), "{context}: a payload ran script: {:?}", pwned());
    }
    settle_long().await;
    assert!(pwned().is_undefined(), "{slot:?}: a payload ran script: {:?}", pwned());
    checked += assert_inert(&fixture.root, &format!("the whole messenger after every payload as {slot:?}"));
    let added = added_tags(&fixture.root);
    let strays: Vec<&String> = added.iter().filter(|tag| !ALLOWED_TAGS.contains(&tag.as_str())).collect();
    assert!(strays.is_empty(), "{slot:?}: elements outside the allow-list were created at some point: {strays:?}");
    (rendered, refused, checked)
}

async fn settle_long() {
    super::settle().await;
    // Give image loads (which fail: no such hosts) their chance to fire `onerror`.
    gloo_timers::future::TimeoutFuture::new(200).await;
    super::settle().await;
}

#[wasm_bindgen_test]
async fn every_hostile_payload_in_every_slot_renders_inert() {
    let entries = corpus();
    assert!(entries.len() >= 100, "only {} payloads", entries.len());
    install_canary();
    // The checks can fail: a dialog call trips the canary, and a stray element is recorded.
    js("window.alert('control')", &[]);
    assert_eq!(pwned().as_string().as_deref(), Some("alert(control)"), "the canary works");
    install_canary();
    let control = Fixture::mount("en");
    super::settle().await;
    observe_added_tags(&control.root);
    control.root.append_child(&super::document().create_element("marquee").unwrap()).unwrap();
    assert!(added_tags(&control.root).contains(&"marquee".to_string()), "the observer records added elements");
    drop(control);
    let started = js_sys::Date::now();
    let (mut rendered, mut refused, mut checked) = (0, 0, 0);
    for slot in SLOTS {
        let slot_started = js_sys::Date::now();
        let (shown, dropped, elements) = run_slot(slot, &entries).await;
        web_sys::console::log_1(&format!("{slot:?}: {:.0} ms", js_sys::Date::now() - slot_started).into());
        rendered += shown;
        refused += dropped;
        checked += elements;
    }
    let elapsed = js_sys::Date::now() - started;
    restore_dialogs();
    web_sys::console::log_1(
        &format!(
            "hostile corpus: {} payloads x {} slots = {} frames ({rendered} rendered, {refused} refused: invalid JSON or over the frame limit); {checked} elements checked; {elapsed:.0} ms",
            entries.len(),
            SLOTS.len(),
            entries.len() * SLOTS.len()
        )
        .into(),
    );
    assert_eq!(rendered + refused, entries.len() * SLOTS.len());
    assert!(rendered >= 100 * SLOTS.len(), "only {rendered} frames rendered");
}

#[wasm_bindgen_test]
async fn after_the_corpus_the_messenger_still_sends_and_renders() {
    let entries = corpus();
    install_canary();
    let fixture = Fixture::mount("en");
    fixture.connect(session(86_400, 86_400)).await;
    for (index, entry) in entries.iter().enumerate() {
        fixture.socket.emit(SocketEvent::Frame(frame_text(Slot::AgentText, entry, &format!("r{index}"))));
    }
    settle_long().await;
    assert!(pwned().is_undefined(), "a payload ran script: {:?}", pwned());

    fixture.type_and_send("still here after the corpus").await;
    let sent = fixture.socket.actions("onMessage");
    assert_eq!(sent.len(), 1, "the composer sent one frame");
    assert_eq!(sent[0]["message"]["text"], "still here after the corpus");
    let own = fixture.find("[data-testid=\"message\"][data-author=\"customer\"]").expect("the sent message is shown");
    assert!(own.text_content().unwrap().contains("still here after the corpus"));

    fixture.socket.frame(super::agent_text("after", "and the **agent** answers"));
    super::settle().await;
    let answer = fixture.message("after").expect("a later agent message renders");
    assert_eq!(answer.query_selector("strong").unwrap().and_then(|strong| strong.text_content()).as_deref(), Some("agent"));
    restore_dialogs();
    assert_inert(&fixture.root, "after the corpus");
}

#[wasm_bindgen_test]
async fn a_one_megabyte_message_renders_within_a_bound() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(86_400, 86_400)).await;
    // Just over 1 MB each, so the frame stays under the decoder's limit (1 MiB + 64 KiB).
    let megabyte = |snippet: &str| snippet.repeat(1_000_000 / snippet.len() + 1);
    for (id, text) in [
        ("plain-1mb", megabyte("a")),
        ("markdown-1mb", megabyte("**bold** _it_ [x](javascript:alert(1)) `c` ")),
        ("html-1mb", megabyte("<img src=x onerror=alert(1)>")),
    ] {
        assert!(text.len() >= 1_000_000);
        let started = js_sys::Date::now();
        fixture.socket.frame(super::agent_text(id, &text));
        leptos::task::tick().await;
        let message = fixture.message(id).expect("the 1 MB message is shown");
        let elapsed = js_sys::Date::now() - started;
        web_sys::console::log_1(&format!("1 MB agent message {id}: decoded, parsed and rendered in {elapsed:.0} ms").into());
        let shown = message.text_content().unwrap();
        if id == "markdown-1mb" {
            // Rendered as elements: the markers are gone, the bold parts are <strong>.
            let bold = message.query_selector_all("strong").unwrap().length() as usize;
            assert_eq!(bold, text.matches("**bold**").count(), "{id}: every bold part is rendered");
        } else {
            assert!(shown.len() >= 1_000_000, "{id}: only {} bytes of text shown", shown.len());
        }
        assert!(elapsed < 5_000.0, "{id}: a 1 MB message took {elapsed:.0} ms to render");
    }
    assert_inert(&fixture.root, "1 MB messages");
}
