//! Reading the host page: the messenger settings and the mount point.

use wasm_bindgen::JsValue;

use crate::config::{AppConfig, RawConfig};

/// Id of the element the messenger mounts into.
pub const MOUNT_ID: &str = "threadline";

/// Settings from the page URL query, then `window.ThreadlineConfig`, then defaults
/// (`server` = the page's origin). Query keys win so a tester can override an embed.
pub fn page_config() -> AppConfig {
    let Some(window) = web_sys::window() else { return AppConfig::with_server("") };
    let location = window.location();
    let origin = location.origin().unwrap_or_default();
    let mut config = AppConfig::with_server(origin);
    if let Some(raw) = window_config(&window) {
        config.apply(&raw);
    }
    if let Some(raw) = query_config(&location) {
        config.apply(&raw);
    }
    config
}

/// `window.ThreadlineConfig`, if it is an object with the expected shape. A malformed object
/// is reported on the console and ignored rather than stopping the messenger.
fn window_config(window: &web_sys::Window) -> Option<RawConfig> {
    let value = js_sys::Reflect::get(window, &JsValue::from_str("ThreadlineConfig")).ok()?;
    if value.is_undefined() || value.is_null() {
        return None;
    }
    match serde_wasm_bindgen::from_value::<RawConfig>(value) {
        Ok(raw) => Some(raw),
        Err(error) => {
            web_sys::console::warn_1(&JsValue::from_str(&format!("Threadline: window.ThreadlineConfig ignored: {error}")));
            None
        }
    }
}

fn query_config(location: &web_sys::Location) -> Option<RawConfig> {
    let search = location.search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    let mut pairs = Vec::new();
    for key in ["deploymentId", "server", "locale", "theme", "position", "primaryColor", "title", "auth", "sound", "notifications"] {
        if let Some(value) = params.get(key) {
            pairs.push((key, value));
        }
    }
    Some(RawConfig::from_pairs(pairs.iter().map(|(key, value)| (*key, value.as_str()))))
}

/// The `<div id="threadline">` mount point, appended to `<body>` when missing.
pub fn mount_point() -> Option<web_sys::HtmlElement> {
    use wasm_bindgen::JsCast;
    let document = web_sys::window()?.document()?;
    if let Some(existing) = document.get_element_by_id(MOUNT_ID) {
        return existing.dyn_into().ok();
    }
    let element = document.create_element("div").ok()?;
    element.set_id(MOUNT_ID);
    document.body()?.append_child(&element).ok()?;
    element.dyn_into().ok()
}
