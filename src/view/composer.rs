//! The composer: text area (Enter sends, Shift+Enter newline), counter, attach, emoji picker,
//! and the list of uploads in progress.

use leptos::html;
use leptos::prelude::*;
use threadline_core::session::{CommandError, ConnectionState};

use super::Ctx;
use crate::attachments::FileProblem;
use crate::platform::dom;

/// A small built-in set: no network fetch, no font download.
const EMOJI: &[&str] = &[
    "😀", "😂", "😊", "😍", "😉", "😎", "🤔", "😅", "😢", "😡", "👍", "👎", "👏", "🙏", "👋", "💪", "🎉", "❤️",
    "🔥", "✅", "❌", "⭐", "☕", "📎",
];

/// Checks and uploads a file chosen or dropped by the user, showing problems as an alert.
pub fn attach_file(ctx: Ctx, file: web_sys::File) {
    let locale = ctx.model.locale;
    let strings = locale.strings();
    if let Err(problem) = ctx.with_driver(|driver| driver.attach(file)) {
        let text = match problem {
            FileProblem::UploadsDisabled => strings.uploads_disabled.to_string(),
            FileProblem::Empty => strings.file_empty.to_string(),
            FileProblem::TooLarge { max_kb } => locale.file_too_big(max_kb),
            FileProblem::TypeNotAllowed => strings.file_type_blocked.to_string(),
        };
        ctx.model.alert.set(Some(text));
    }
}

#[component]
pub fn Composer() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let locale = model.locale;
    let strings = locale.strings();
    let text = RwSignal::new(String::new());
    let emoji_open = RwSignal::new(false);
    let file_ref = NodeRef::<html::Input>::new();

    let read_only = move || matches!(model.state.get(), ConnectionState::ReadOnly);
    let length = move || text.with(|text| text.chars().count());
    let too_long = move || length() > model.max_chars.get();

    let send = move || {
        let value = text.get_untracked();
        if value.trim().is_empty() {
            return;
        }
        match ctx.with_driver(|driver| driver.send_text(value)) {
            Ok(_) => {
                text.set(String::new());
                emoji_open.set(false);
                // The send button disables itself once the text is empty; keep focus in the
                // composer so Escape and Tab still work after a mouse send.
                if let Some(composer) = ctx.composer.get_untracked() {
                    dom::focus(&composer);
                }
            }
            Err(CommandError::TooLong { .. }) => model.alert.set(Some(strings.message_too_long.to_string())),
            Err(CommandError::EmptyMessage) => {}
            Err(CommandError::ReadOnly) => model.alert.set(Some(strings.composer_read_only.to_string())),
            Err(other) => model.alert.set(Some(other.to_string())),
        }
    };

    let on_keydown = move |event: web_sys::KeyboardEvent| {
        if event.key() == "Enter" && !event.shift_key() && !dom::is_composing(&event) {
            event.prevent_default();
            send();
        }
    };
    let on_input = move |event: web_sys::Event| {
        text.set(event_target_value(&event));
        ctx.with_driver(|driver| driver.typing());
    };
    let insert_emoji = move |emoji: &'static str| {
        text.update(|text| text.push_str(emoji));
        emoji_open.set(false);
        if let Some(composer) = ctx.composer.get_untracked() {
            dom::focus(&composer);
        }
    };
    let counter = move || {
        let max = model.max_chars.get();
        let used = length();
        // Only worth showing near the limit.
        (used * 5 >= max * 4).then(|| {
            let left = max.saturating_sub(used);
            let text = if used > max { strings.message_too_long.to_string() } else { locale.chars_left(left) };
            view! { <span class="tl-counter" class:tl-counter--over={used > max}>{text}</span> }
        })
    };

    view! {
        <form
            class="tl-composer"
            on:submit=move |event: web_sys::SubmitEvent| {
                event.prevent_default();
                send();
            }
        >
            <input
                type="file"
                class="tl-file-input"
                tabindex="-1"
                aria-hidden="true"
                node_ref=file_ref
                on:change=move |_| {
                    if let Some(input) = file_ref.get_untracked() {
                        if let Some(file) = dom::take_input_file(&input) {
                            attach_file(ctx, file);
                        }
                    }
                }
            />
            <button
                type="button"
                class="tl-tool"
                data-testid="attach"
                aria-label=strings.attach
                disabled=read_only
                on:click=move |_| {
                    if let Some(input) = file_ref.get_untracked() {
                        dom::click(&input);
                    }
                }
            >
                <svg class="tl-icon" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7" />
                </svg>
            </button>
            <button
                type="button"
                class="tl-tool"
                data-testid="emoji"
                aria-label=strings.emoji
                aria-expanded=move || if emoji_open.get() { "true" } else { "false" }
                disabled=read_only
                on:click=move |_| emoji_open.update(|open| *open = !*open)
            >
                // An icon, not an emoji glyph: pages without an emoji font still show it.
                <svg class="tl-icon" viewBox="0 0 24 24" aria-hidden="true">
                    <circle cx="12" cy="12" r="9" />
                    <path d="M8 14a5 5 0 0 0 8 0M9 9.5h.01M15 9.5h.01" />
                </svg>
            </button>
            {move || {
                emoji_open
                    .get()
                    .then(|| {
                        view! {
                            <div class="tl-emoji-picker" role="group" aria-label=strings.emoji>
                                {EMOJI
                                    .iter()
                                    .map(|emoji| {
                                        view! {
                                            <button type="button" class="tl-emoji" on:click=move |_| insert_emoji(emoji)>
                                                {*emoji}
                                            </button>
                                        }
                                    })
                                    .collect_view()}
                            </div>
                        }
                    })
            }}
            <textarea
                class="tl-input"
                data-testid="composer"
                rows="1"
                node_ref=ctx.composer
                aria-label=strings.composer_label
                placeholder=move || if read_only() { strings.composer_read_only } else { strings.composer_placeholder }
                disabled=read_only
                prop:value=move || text.get()
                on:input=on_input
                on:keydown=on_keydown
            ></textarea>
            {counter}
            <button
                type="submit"
                class="tl-send"
                data-testid="send"
                aria-label=strings.send
                disabled=move || read_only() || too_long() || text.with(|text| text.trim().is_empty())
            >
                <svg class="tl-icon" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M3 20l18-8L3 4v6l12 2-12 2z" />
                </svg>
            </button>
        </form>
    }
}

/// Uploads in progress, with a progress bar each.
#[component]
pub fn Uploads() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let locale = model.locale;
    move || {
        let uploads = model.uploads.get();
        (!uploads.is_empty()).then(|| {
            uploads
                .into_iter()
                .map(|upload| {
                    view! {
                        <div class="tl-upload" role="status">
                            <span>{locale.uploading(&upload.file_name, upload.percent)}</span>
                            <progress max="100" value=upload.percent.to_string()></progress>
                        </div>
                    }
                })
                .collect_view()
        })
    }
}
