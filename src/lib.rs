//! Threadline: the Leptos messenger app (placeholder while the real app is written).
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    view! { <button data-testid="launcher" class="tl-launcher" aria-label="Open messenger">"Chat"</button> }
}

pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
