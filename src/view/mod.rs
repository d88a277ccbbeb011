//! Thin Leptos components over the [`Model`]. They render signals and forward user intent to
//! the [`Driver`]; no protocol or timing decisions are made here.
//!
//! Test hooks (`data-testid`, see issue 6 §8) are part of the public contract: `launcher`,
//! `unread-badge`, `messenger[data-state]`, `status[data-state]`, `welcome`, `expiry-banner`,
//! `transcript`, `message[data-direction][data-author][data-status][data-id]`,
//! `message-retry`, `notice`, `typing`, `composer`, `send`, `attach`, `emoji`, `start-new`,
//! `retry`; with sign-in: `account[data-state]`, `sign-in`, `sign-out`, `new-conversation`,
//! `sign-in-again`.

mod composer;
mod markdown;
mod transcript;

use std::rc::Rc;
use std::time::Duration;

use leptos::html;
use leptos::prelude::*;
use threadline_core::session::{CloseReason, CommandError, ConnectionState};

use crate::config::{Position, Theme};
use crate::model::{status_key, status_text, Model, SIGN_IN_REQUIRED};
use crate::platform::{clock, dom, driver::Driver};

/// Everything components share, `Copy` so closures can capture it freely.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub driver: StoredValue<Rc<Driver>, LocalStorage>,
    pub model: Model,
    /// The image shown enlarged, if any: `(url, alt)`.
    pub lightbox: RwSignal<Option<(String, String)>>,
    /// The composer, to focus it on open and after picking an emoji.
    pub composer: NodeRef<html::Textarea>,
}

impl Ctx {
    /// Runs `f` with the driver.
    pub fn with_driver<R>(&self, f: impl FnOnce(&Driver) -> R) -> R {
        self.driver.with_value(|driver| f(driver))
    }
}

/// Appearance settings fixed at mount time.
#[derive(Clone, Debug)]
pub struct Appearance {
    pub title: String,
    pub theme: Theme,
    pub position: Position,
    pub primary_color: Option<String>,
}

/// The whole messenger: launcher and panel.
#[component]
pub fn App(driver: Rc<Driver>, appearance: Appearance) -> impl IntoView {
    let model = driver.model();
    let ctx = Ctx {
        driver: StoredValue::new_local(driver),
        model,
        lightbox: RwSignal::new(None),
        composer: NodeRef::new(),
    };
    provide_context(ctx);
    let locale = model.locale;
    let root_ref = NodeRef::<html::Div>::new();
    let launcher_ref = NodeRef::<html::Button>::new();
    let panel_ref = NodeRef::<html::Section>::new();

    // Theming that depends on runtime values goes through the CSSOM, never a style attribute.
    let primary_color = appearance.primary_color.clone();
    let on_primary = primary_color.as_deref().and_then(crate::config::on_primary_color);
    // A light brand colour is unreadable as text on white: the stylesheet darkens it for links.
    let primary_tone = if on_primary == Some(crate::config::DARK_ON_PRIMARY) { "light" } else { "dark" };
    let viewport_watch = StoredValue::new_local(None::<dom::ViewportWatch>);
    root_ref.on_load(move |root| {
        if let Some(color) = &primary_color {
            dom::set_css_var(&root, "--tl-primary", color);
            if let Some(text) = on_primary {
                dom::set_css_var(&root, "--tl-on-primary", text);
            }
        }
        viewport_watch.set_value(Some(dom::ViewportWatch::start(root.into())));
    });

    // A full-screen panel (narrow screens) holds the host page still while it is open.
    let scroll_lock = StoredValue::new_local(None::<dom::PageScrollLock>);
    Effect::new(move |_| {
        let open = model.open.get();
        if open != scroll_lock.with_value(Option::is_some) {
            scroll_lock.set_value(if open { dom::PageScrollLock::hold() } else { None });
        }
    });

    // Focus moves into the panel on open and back to the launcher on close.
    Effect::new(move |previous: Option<bool>| {
        let open = model.open.get();
        if previous.is_some_and(|was_open| was_open != open) {
            set_timeout(
                move || {
                    if open {
                        if let Some(composer) = ctx.composer.get_untracked().filter(|composer| !composer.disabled()) {
                            dom::focus(&composer);
                        } else if let Some(panel) = panel_ref.get_untracked() {
                            dom::focus(&panel);
                        }
                    } else if let Some(launcher) = launcher_ref.get_untracked() {
                        dom::focus(&launcher);
                    }
                },
                Duration::ZERO,
            );
        }
        open
    });

    // Countdowns (expiry banner, next reconnect) need a clock only while they show.
    if let Ok(ticker) = set_interval_with_handle(
        move || {
            let counting = model.expiring_soon.get_untracked()
                || matches!(model.state.get_untracked(), ConnectionState::Reconnecting { next_attempt_at: Some(_), .. });
            if counting {
                model.now.set(clock::now().0);
            }
        },
        Duration::from_secs(1),
    ) {
        on_cleanup(move || ticker.clear());
    }

    // The live region announces one new agent message, then empties so the next is read too.
    Effect::new(move |_| {
        if !model.announcement.get().is_empty() {
            set_timeout(move || model.announcement.set(String::new()), Duration::from_millis(1500));
        }
    });

    // Escape anywhere in the messenger (panel or launcher) closes the lightbox, else the panel.
    let on_keydown = move |event: web_sys::KeyboardEvent| {
        if event.key() == "Escape" && model.open.get_untracked() {
            event.prevent_default();
            if ctx.lightbox.get_untracked().is_some() {
                ctx.lightbox.set(None);
            } else {
                ctx.with_driver(|driver| driver.close_panel());
            }
        }
    };

    let Appearance { title, theme, position, .. } = appearance;
    view! {
        <div
            class="tl-root"
            node_ref=root_ref
            dir=locale.dir()
            lang=locale.tag()
            data-theme=theme.as_str()
            data-primary=primary_tone
            data-position=position.as_str()
            on:keydown=on_keydown
        >
            <Launcher launcher_ref=launcher_ref />
            <Panel panel_ref=panel_ref title=title />
            <div class="tl-sr-only" aria-live="polite" aria-atomic="true">
                {move || model.announcement.get()}
            </div>
        </div>
    }
}

#[component]
fn Launcher(launcher_ref: NodeRef<html::Button>) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let strings = model.locale.strings();
    let toggle = move |_| {
        if model.open.get_untracked() {
            ctx.with_driver(|driver| driver.close_panel());
        } else {
            model.now.set(clock::now().0);
            ctx.with_driver(|driver| driver.open_panel());
        }
    };
    let label = move || {
        let base = if model.open.get() { strings.close_chat } else { strings.open_chat };
        match model.unread.get() {
            0 => base.to_string(),
            count => format!("{base} ({})", model.locale.unread(count)),
        }
    };
    view! {
        <button
            type="button"
            class="tl-launcher"
            data-testid="launcher"
            node_ref=launcher_ref
            aria-label=label
            aria-expanded=move || if model.open.get() { "true" } else { "false" }
            aria-controls="tl-panel"
            on:click=toggle
        >
            // A chat bubble while closed, a chevron (close) while open: CSS picks by aria-expanded.
            <svg class="tl-icon tl-launcher-open" viewBox="0 0 24 24" aria-hidden="true">
                <path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z" />
            </svg>
            <svg class="tl-icon tl-launcher-close" viewBox="0 0 24 24" aria-hidden="true">
                <path d="M6 9l6 6 6-6" />
            </svg>
            {move || {
                let count = model.unread.get();
                (count > 0)
                    .then(|| {
                        view! {
                            <span class="tl-badge" data-testid="unread-badge" aria-hidden="true">
                                {if count > 99 { "99+".to_string() } else { count.to_string() }}
                            </span>
                        }
                    })
            }}
        </button>
    }
}

#[component]
fn Panel(panel_ref: NodeRef<html::Section>, title: String) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let locale = model.locale;
    let strings = locale.strings();
    let dragging = RwSignal::new(false);

    let on_drop = move |event: web_sys::DragEvent| {
        event.prevent_default();
        dragging.set(false);
        if let Some(file) = dom::first_dropped_file(&event) {
            composer::attach_file(ctx, file);
        }
    };
    let state_key = move || status_key(&model.state.get());

    view! {
        <section
            id="tl-panel"
            class="tl-panel"
            class:tl-dragging=move || dragging.get()
            data-testid="messenger"
            data-state=move || if model.open.get() { "open" } else { "closed" }
            dir=locale.dir()
            role="dialog"
            aria-label=title.clone()
            tabindex="-1"
            hidden=move || !model.open.get()
            node_ref=panel_ref
            on:dragover=move |event: web_sys::DragEvent| {
                event.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <header class="tl-header">
                // Title and status on two lines: a long status ("This conversation has
                // ended.") must not squeeze the title into "Chat wit…".
                <div class="tl-heading">
                    <h2 class="tl-title">{title.clone()}</h2>
                    <span class="tl-status" data-testid="status" data-state=state_key>
                        <span class="tl-status-dot" aria-hidden="true"></span>
                        <span class="tl-status-text">
                            {move || status_text(locale, &model.state.get(), model.now.get())}
                        </span>
                    </span>
                </div>
                <ClearConversation />
                <button
                    type="button"
                    class="tl-close"
                    aria-label=strings.close_chat
                    on:click=move |_| ctx.with_driver(|driver| driver.close_panel())
                >
                    <svg class="tl-icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M6 6l12 12M18 6L6 18" />
                    </svg>
                </button>
            </header>
            <Account />
            <ConnectionBar />
            {move || {
                model
                    .storage_notice
                    .get()
                    .map(|text| view! { <p class="tl-storage-notice" data-testid="storage-notice" role="note">{text}</p> })
            }}
            <ExpiryBanner />
            <transcript::Transcript />
            {move || {
                model
                    .alert
                    .get()
                    .map(|text| {
                        view! {
                            <div class="tl-alert" role="alert">
                                <span>{text}</span>
                                <button
                                    type="button"
                                    class="tl-alert-close"
                                    aria-label=strings.dismiss
                                    on:click=move |_| model.alert.set(None)
                                >
                                    "×"
                                </button>
                            </div>
                        }
                    })
            }}
            <composer::Uploads />
            <composer::Composer />
            <p class="tl-drop-hint" aria-hidden="true">{strings.drop_here}</p>
            <Lightbox />
        </section>
    }
}

/// The header's "clear conversation" control: shown when the deployment allows clearing
/// (`conversationClear.enabled`), the session can clear (connected or read-only) and the server
/// has not refused it (403). It opens a small confirmation under the header (Escape or Cancel
/// close it); a refusal from the driver or later from the server shows as an alert. One
/// reactive block and one click listener for all three buttons keep it small in wasm.
#[component]
fn ClearConversation() -> impl IntoView {
    const CLEAR: &str = "[data-testid=\"clear-conversation\"]";
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let strings = model.locale.strings();
    let allowed = ctx.with_driver(|driver| driver.deployment().conversation_clear_enabled());
    let confirming = RwSignal::new(false);
    // Focus moves once the block has rendered again (its buttons are new elements).
    let focus_later = |event: &web_sys::Event, selector: &'static str| dom::focus_in_after_render(event, ".tl-clear", selector);
    let on_click = move |event: web_sys::MouseEvent| match dom::target_data(&event, "data-testid").as_deref() {
        Some("clear-conversation") => {
            confirming.update(|open| *open = !*open);
            if confirming.get_untracked() {
                focus_later(&event, "[data-testid=\"clear-confirm\"]");
            }
        }
        Some("clear-confirm") => {
            confirming.set(false);
            match ctx.with_driver(|driver| driver.clear_conversation()) {
                Ok(()) => {}
                Err(CommandError::FeatureDisabled) => model.alert.set(Some(strings.clear_unavailable.to_string())),
                Err(error) => model.alert.set(Some(error.to_string())),
            }
        }
        Some("clear-cancel") => {
            confirming.set(false);
            focus_later(&event, CLEAR);
        }
        _ => {}
    };
    let on_keydown = move |event: web_sys::KeyboardEvent| {
        if event.key() == "Escape" && confirming.get_untracked() {
            // Only the question closes, not the panel.
            event.prevent_default();
            event.stop_propagation();
            confirming.set(false);
            focus_later(&event, CLEAR);
        }
    };
    view! {
        <div class="tl-clear" on:click=on_click on:keydown=on_keydown>
            {move || {
                let can_clear = matches!(model.state.get(), ConnectionState::Connected | ConnectionState::ReadOnly);
                if !allowed || !can_clear || model.clear_refused.get() {
                    return None;
                }
                let asking = confirming.get();
                Some(view! {
                    <button
                        type="button"
                        class="tl-header-button"
                        data-testid="clear-conversation"
                        aria-label=strings.clear_conversation
                        title=strings.clear_conversation
                        aria-expanded=if asking { "true" } else { "false" }
                        aria-controls="tl-clear-confirm"
                    >
                        <svg class="tl-icon" viewBox="0 0 24 24" aria-hidden="true">
                            <path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3" />
                        </svg>
                    </button>
                    {asking
                        .then(|| {
                            view! {
                                <div id="tl-clear-confirm" class="tl-confirm" role="alertdialog" aria-label=strings.clear_conversation>
                                    <p class="tl-confirm-text">{strings.clear_confirm}</p>
                                    <div class="tl-confirm-actions">
                                        <button type="button" class="tl-button" data-testid="clear-confirm">
                                            {strings.clear_confirm_yes}
                                        </button>
                                        <button type="button" class="tl-link-button" data-testid="clear-cancel">
                                            {strings.cancel}
                                        </button>
                                    </div>
                                </div>
                            }
                        })}
                })
            }}
        </div>
    }
}

/// Offline / error / read-only bars with their action buttons.
#[component]
fn ConnectionBar() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let strings = model.locale.strings();
    move || match model.state.get() {
        ConnectionState::Error { code: SIGN_IN_REQUIRED, .. } if model.auth_enabled.get() => view! {
            <div class="tl-connection tl-connection--sign-in">
                <button
                    type="button"
                    class="tl-button"
                    data-testid="sign-in-again"
                    disabled=move || model.signing_in.get()
                    on:click=move |_| ctx.with_driver(|driver| driver.request_sign_in())
                >
                    {strings.sign_in}
                </button>
            </div>
        }
        .into_any(),
        // Signed out on purpose: the account row offers signing in again.
        ConnectionState::Closed { reason: CloseReason::LoggedOut } => ().into_any(),
        ConnectionState::Offline | ConnectionState::Closed { .. } | ConnectionState::Error { .. } => view! {
            <div class="tl-connection tl-connection--offline">
                <button
                    type="button"
                    class="tl-button"
                    data-testid="retry"
                    on:click=move |_| ctx.with_driver(|driver| driver.retry_connection())
                >
                    {strings.retry}
                </button>
            </div>
        }
        .into_any(),
        ConnectionState::ReadOnly => view! {
            <div class="tl-connection tl-connection--ended">
                <button
                    type="button"
                    class="tl-button"
                    data-testid="start-new"
                    on:click=move |_| ctx.with_driver(|driver| driver.start_new_conversation())
                >
                    {strings.start_new}
                </button>
            </div>
        }
        .into_any(),
        _ => ().into_any(),
    }
}

/// Sign in / sign out, and "start new conversation" for a signed-in customer (shown only when
/// the page configured sign-in).
#[component]
fn Account() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let strings = model.locale.strings();
    move || {
        if !model.auth_enabled.get() {
            return ().into_any();
        }
        if model.signed_in.get() {
            // In a read-only conversation the connection bar's `start-new` does this.
            let can_start_new = matches!(model.state.get(), ConnectionState::Connected);
            view! {
                <div class="tl-account" data-testid="account" data-state="signed-in">
                    {can_start_new
                        .then(|| {
                            view! {
                                <button
                                    type="button"
                                    class="tl-link-button"
                                    data-testid="new-conversation"
                                    on:click=move |_| ctx.with_driver(|driver| driver.start_new_conversation())
                                >
                                    {strings.start_new}
                                </button>
                            }
                        })}
                    <button
                        type="button"
                        class="tl-link-button"
                        data-testid="sign-out"
                        on:click=move |_| ctx.with_driver(|driver| driver.sign_out())
                    >
                        {strings.sign_out}
                    </button>
                </div>
            }
            .into_any()
        } else if matches!(model.state.get(), ConnectionState::Error { code: SIGN_IN_REQUIRED, .. }) {
            // The connection bar's `sign-in-again` prompt offers it.
            ().into_any()
        } else {
            let signing_in = model.signing_in.get();
            view! {
                <div class="tl-account" data-testid="account" data-state=if signing_in { "signing-in" } else { "signed-out" }>
                    <button
                        type="button"
                        class="tl-link-button"
                        data-testid="sign-in"
                        disabled=signing_in
                        on:click=move |_| ctx.with_driver(|driver| driver.request_sign_in())
                    >
                        {if signing_in { strings.signing_in } else { strings.sign_in }}
                    </button>
                </div>
            }
            .into_any()
        }
    }
}

/// "This chat ends in 4 minutes…" during the final minutes, while the panel is open.
#[component]
fn ExpiryBanner() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let locale = model.locale;
    move || {
        let show = model.open.get() && model.expiring_soon.get();
        let expires_at = model.expires_at.get();
        match (show, expires_at) {
            (true, Some(expires_at)) => Some(view! {
                <div class="tl-expiry" data-testid="expiry-banner" role="status">
                    {move || locale.ends_in(expires_at.0.saturating_sub(model.now.get()))}
                </div>
            }),
            _ => None,
        }
    }
}

/// An enlarged image over the panel; click or Escape closes it.
#[component]
fn Lightbox() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let strings = ctx.model.locale.strings();
    move || {
        ctx.lightbox.get().map(|(url, alt)| {
            view! {
                <div class="tl-lightbox" role="dialog" aria-label=strings.enlarge_image on:click=move |_| ctx.lightbox.set(None)>
                    <img class="tl-lightbox-image" src=url alt=alt />
                    <button type="button" class="tl-lightbox-close" aria-label=strings.close_image>
                        "×"
                    </button>
                </div>
            }
        })
    }
}
