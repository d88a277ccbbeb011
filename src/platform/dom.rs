//! Small DOM helpers the components need (focus, scrolling, CSS custom properties, the visual
//! viewport), kept here so the components stay free of raw `web-sys` calls.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Moves keyboard focus to `element` (no-op if it cannot take focus).
pub fn focus(element: &web_sys::HtmlElement) {
    let _ = element.focus();
}

/// Sets a CSS custom property through the CSSOM. Unlike a `style="…"` attribute this is
/// allowed by a strict `style-src` Content Security Policy.
pub fn set_css_var(element: &web_sys::HtmlElement, name: &str, value: &str) {
    let _ = element.style().set_property(name, value);
}

/// Scroll metrics of a scrollable element: `(scroll_top, scroll_height, client_height)`.
pub fn scroll_metrics(element: &web_sys::Element) -> (i32, i32, i32) {
    (element.scroll_top(), element.scroll_height(), element.client_height())
}

/// Scrolls `element` to `top`.
pub fn scroll_to(element: &web_sys::Element, top: i32) {
    element.set_scroll_top(top);
}

/// Opens the file chooser of a file input.
pub fn click(element: &web_sys::HtmlElement) {
    element.click();
}

/// The files of a drop or of a file input's change event (the first one only: one attachment
/// per message).
pub fn first_dropped_file(event: &web_sys::DragEvent) -> Option<web_sys::File> {
    event.data_transfer()?.files()?.get(0)
}

/// The first file of a paste, unless the clipboard also holds text: office apps put a picture
/// of copied text beside the text, and pasting text must stay pasting text.
pub fn first_pasted_file(event: &web_sys::ClipboardEvent) -> Option<web_sys::File> {
    let data = event.clipboard_data()?;
    if data.get_data("text/plain").is_ok_and(|text| !text.is_empty()) {
        return None;
    }
    data.files()?.get(0)
}

/// The first selected file of an `<input type="file">`, and clears the input so choosing the
/// same file again fires `change` again.
pub fn take_input_file(input: &web_sys::HtmlInputElement) -> Option<web_sys::File> {
    let file = input.files()?.get(0);
    input.set_value("");
    file
}

/// Inserts `text` at the caret of `field` (replacing any selection), puts the caret after it
/// and returns the new value. The DOM counts the caret in UTF-16 units, Rust strings in bytes.
pub fn insert_at_caret(field: &web_sys::HtmlTextAreaElement, text: &str) -> String {
    let mut value = field.value();
    let to_byte = |units: Option<u32>| {
        let Some(units) = units else { return value.len() };
        let mut seen = 0;
        value.char_indices().find(|(_, c)| {
            let reached = seen >= units as usize;
            seen += c.len_utf16();
            reached
        }).map_or(value.len(), |(index, _)| index)
    };
    let start = to_byte(field.selection_start().ok().flatten());
    let end = to_byte(field.selection_end().ok().flatten()).max(start);
    let caret = value[..start].encode_utf16().count() + text.encode_utf16().count();
    value.replace_range(start..end, text);
    field.set_value(&value);
    let caret = caret as u32;
    let _ = field.set_selection_range(caret, caret);
    value
}

/// Hides the element an event was fired on (a decorative image that failed to load).
pub fn hide_target(event: &web_sys::Event) {
    if let Some(element) = event.target().and_then(|target| target.dyn_into::<web_sys::HtmlElement>().ok()) {
        element.set_hidden(true);
    }
}

/// The attribute `name` of the element an event happened on, or of its nearest ancestor that
/// has one (a click on a button's icon counts for the button). Lets one listener on a container
/// serve all its buttons.
pub fn target_data(event: &web_sys::Event, name: &str) -> Option<String> {
    let target = event.target()?.dyn_into::<web_sys::Element>().ok()?;
    target.closest(&format!("[{name}]")).ok()??.get_attribute(name)
}

/// The element whose listener is handling `event`, or its nearest ancestor matching `selector`.
pub fn current_element(event: &web_sys::Event, selector: &str) -> Option<web_sys::Element> {
    event.current_target()?.dyn_into::<web_sys::Element>().ok()?.closest(selector).ok()?
}

/// Focuses the first element matching `selector` inside `root`, if it can take focus.
pub fn focus_in(root: &web_sys::Element, selector: &str) {
    if let Some(element) = root.query_selector(selector).ok().flatten().and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = element.focus();
    }
}

/// Focuses `selector` inside the event's `container` once the view has rendered again (the
/// element to focus is often one the event's own update creates).
pub fn focus_in_after_render(event: &web_sys::Event, container: &str, selector: &'static str) {
    if let Some(root) = current_element(event, container) {
        gloo_timers::callback::Timeout::new(0, move || focus_in(&root, selector)).forget();
    }
}

/// Whether a keyboard event is part of an IME composition (Enter then confirms a word).
pub fn is_composing(event: &web_sys::KeyboardEvent) -> bool {
    event.is_composing() || event.key_code() == 229
}

/// Screens on which the panel is full-screen (the stylesheet's `@media (max-width: 600px)`).
const FULL_SCREEN_QUERY: &str = "(max-width: 600px)";

/// While held, the host page behind a full-screen panel does not scroll (a drag on the header or
/// composer would otherwise move the page underneath): `overflow: hidden` on the document
/// element, the page's own value put back when dropped. Not taken on wider screens, where the
/// page stays usable beside the panel.
pub struct PageScrollLock {
    root: web_sys::HtmlElement,
    previous: String,
}

impl PageScrollLock {
    pub fn hold() -> Option<Self> {
        let window = web_sys::window()?;
        if !window.match_media(FULL_SCREEN_QUERY).ok().flatten().is_some_and(|query| query.matches()) {
            return None;
        }
        let root = window.document()?.document_element()?.dyn_into::<web_sys::HtmlElement>().ok()?;
        let previous = root.style().get_property_value("overflow").unwrap_or_default();
        root.style().set_property("overflow", "hidden").ok()?;
        Some(Self { root, previous })
    }
}

impl Drop for PageScrollLock {
    fn drop(&mut self) {
        let style = self.root.style();
        let _ = if self.previous.is_empty() { style.remove_property("overflow").map(drop) } else { style.set_property("overflow", &self.previous) };
    }
}

/// Keeps `--tl-viewport-height` on `element` equal to the visual viewport's height, so the
/// full-screen mobile panel shrinks above the on-screen keyboard. Dropping the guard stops it.
pub struct ViewportWatch {
    viewport: Option<web_sys::VisualViewport>,
    callback: Option<Closure<dyn FnMut(web_sys::Event)>>,
}

impl ViewportWatch {
    /// Starts watching (does nothing where `visualViewport` is missing).
    pub fn start(element: web_sys::HtmlElement) -> Self {
        let Some(viewport) = web_sys::window().and_then(|window| window.visual_viewport()) else {
            return Self { viewport: None, callback: None };
        };
        let update = {
            let viewport = viewport.clone();
            // Whole pixels formatted as an integer (f64 formatting would add kilobytes of wasm).
            move || set_css_var(&element, "--tl-viewport-height", &format!("{}px", viewport.height().round() as i64))
        };
        update();
        let callback = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| update());
        let _ = viewport.add_event_listener_with_callback("resize", callback.as_ref().unchecked_ref());
        Self { viewport: Some(viewport), callback: Some(callback) }
    }
}

impl Drop for ViewportWatch {
    fn drop(&mut self) {
        if let (Some(viewport), Some(callback)) = (&self.viewport, &self.callback) {
            let _ = viewport.remove_event_listener_with_callback("resize", callback.as_ref().unchecked_ref());
        }
    }
}
