//! The composer: text area (Enter sends, Shift+Enter newline), counter, attach, emoji picker,
//! and the list of uploads in progress.


use leptos::html;
use leptos::prelude::*;
use threadline_core::session::{CommandError, ConnectionState};

use super::Ctx;
use crate::platform::dom;

/// The built-in emoji by category (icon, emoji): plain tables, no network fetch, no font download.
/// Category names come from the string catalog, in this order ([`category_name`]).
const EMOJI: &[(&str, &[&str])] = &[
    ("😀", &[
        "😀", "😃", "😄", "😁", "😆", "😅", "😂", "🤣", "😊", "😇", "🙂", "🙃", "😉", "😌", "😍", "🥰", "😘", "😋",
        "😛", "😜", "🤪", "🤗", "🤔", "🤨", "😐", "😑", "😶", "🙄", "😏", "😬", "😴", "😷", "🤒", "🤕", "🥳", "😎",
        "🤓", "😕", "😟", "😮", "😲", "😳", "🥺", "😢", "😭", "😱", "😤", "😡", "🤯", "🥱",
    ]),
    ("👋", &[
        "👍", "👎", "👌", "✌️", "🤞", "🤟", "🤘", "🤙", "👈", "👉", "👆", "👇", "☝️", "✋", "🤚", "👋", "👏", "🙌",
        "👐", "🤲", "🤝", "🙏", "✍️", "💪", "🙋", "🙆", "🙅", "🤷", "🤦", "🙇", "👀", "🧠",
    ]),
    ("🌸", &[
        "🐶", "🐱", "🐭", "🐰", "🦊", "🐻", "🐼", "🐨", "🐯", "🦁", "🐮", "🐷", "🐸", "🐵", "🐔", "🐧", "🐦", "🦋",
        "🐝", "🌸", "🌹", "🌻", "🌳", "🌵", "🍀", "🍁", "🌈", "☀️", "🌙", "⭐", "❄️", "🔥", "🌊",
    ]),
    ("🍕", &[
        "🍎", "🍊", "🍋", "🍌", "🍉", "🍇", "🍓", "🍒", "🍑", "🥑", "🍅", "🥕", "🌽", "🍞", "🧀", "🍔", "🍟", "🍕",
        "🌮", "🍣", "🍜", "🍰", "🎂", "🍪", "🍫", "🍩", "☕", "🍵", "🍺", "🍷", "🥂",
    ]),
    ("⚽", &[
        "⚽", "🏀", "🏈", "⚾", "🎾", "🏐", "🏓", "🎯", "🎮", "🎲", "🎨", "🎬", "🎤", "🎧", "🎸", "🎹", "🏆", "🥇",
        "🎉", "🎊", "🎁", "🎈",
    ]),
    ("💡", &[
        "📱", "💻", "⌨️", "🖥️", "🖨️", "📷", "📞", "🔋", "💡", "🔦", "📦", "📎", "✂️", "📌", "📝", "📅", "📁", "🔒",
        "🔑", "🛒", "💳", "💰", "✉️", "📧", "🚗", "✈️", "🏠", "⏰", "⌛",
    ]),
    ("❤️", &[
        "❤️", "🧡", "💛", "💚", "💙", "💜", "🖤", "🤍", "💔", "💕", "💖", "💯", "✅", "☑️", "✔️", "❌", "❎", "⚠️",
        "❓", "❗", "💬", "💤", "➕", "➖", "🔴", "🟢", "🔵", "⭕", "🆗", "🆕", "🔝", "♻️",
    ]),
];

/// The first emoji of the picker's grid, focused when it opens or changes category.
const FIRST_EMOJI: &str = ".tl-emoji[data-index=\"0\"]";

/// Emoji per row of the picker grid (`.tl-emoji-grid` has as many columns).
const EMOJI_COLUMNS: usize = 8;

fn category_name(strings: &'static crate::i18n::Strings, index: usize) -> &'static str {
    [
        strings.emoji_smileys,
        strings.emoji_people,
        strings.emoji_nature,
        strings.emoji_food,
        strings.emoji_activities,
        strings.emoji_objects,
        strings.emoji_symbols,
    ]
    .get(index)
    .copied()
    .unwrap_or(strings.emoji)
}

/// Where an arrow key moves the picker's cursor in a grid of `len` emoji (`None`: not a
/// navigation key). Left and right follow the reading direction.
fn next_emoji_index(key: &str, index: usize, len: usize, rtl: bool) -> Option<usize> {
    let last = len.checked_sub(1)?;
    let (back, forward) = if rtl { ("ArrowRight", "ArrowLeft") } else { ("ArrowLeft", "ArrowRight") };
    let next = match key {
        _ if key == forward => index + 1,
        _ if key == back => index.checked_sub(1)?,
        "ArrowDown" => index + EMOJI_COLUMNS,
        "ArrowUp" => index.checked_sub(EMOJI_COLUMNS)?,
        "Home" => 0,
        "End" => last,
        _ => return None,
    };
    Some(next.min(last))
}

/// Checks and uploads a file chosen or dropped by the user, showing problems as an alert.
pub fn attach_file(ctx: Ctx, file: web_sys::File) {
    if let Err(problem) = ctx.with_driver(|driver| driver.attach(file)) {
        ctx.model.alert.set(Some(problem.message(ctx.model.locale)));
    }
}

#[component]
pub fn Composer() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let locale = model.locale;
    let strings = locale.strings();
    let text = model.draft;
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
                ctx.with_driver(|driver| driver.set_draft(String::new()));
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
        ctx.with_driver(|driver| {
            driver.set_draft(event_target_value(&event));
            driver.typing();
        });
    };
    // Pasting a picture (a screenshot, a copied image) attaches it as the attach button would.
    let on_paste = move |event: web_sys::ClipboardEvent| {
        if let Some(file) = dom::first_pasted_file(&event) {
            event.prevent_default();
            attach_file(ctx, file);
        }
    };
    let counter = move || {
        let max = model.max_chars.get();
        let used = length();
        // Only worth showing near the limit.
        (used * 5 >= max * 4).then(|| {
            let text = if used > max { locale.chars_over(used - max) } else { locale.chars_left(max - used) };
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
                on:click=move |event: web_sys::MouseEvent| {
                    emoji_open.update(|open| *open = !*open);
                    // Into the picker's grid once it has rendered.
                    if emoji_open.get_untracked() {
                        dom::focus_in_after_render(&event, ".tl-composer", FIRST_EMOJI);
                    }
                }
            >
                // An icon, not an emoji glyph: pages without an emoji font still show it.
                <svg class="tl-icon" viewBox="0 0 24 24" aria-hidden="true">
                    <circle cx="12" cy="12" r="9" />
                    <path d="M8 14a5 5 0 0 0 8 0M9 9.5h.01M15 9.5h.01" />
                </svg>
            </button>
            {move || emoji_open.get().then(|| view! { <EmojiPicker open=emoji_open text=text /> })}
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
                on:paste=on_paste
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

/// The emoji picker: category tabs over a grid (arrow keys, Home and End move; Enter or a click
/// inserts at the composer's caret; Escape closes and goes back to the composer). One click and
/// one key listener on the picker serve every button, and a category renders as plain static
/// markup: each listener or reactive attribute would add wasm.
#[component]
fn EmojiPicker(open: RwSignal<bool>, text: RwSignal<String>) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let locale = ctx.model.locale;
    let strings = locale.strings();
    let category = RwSignal::new(0_usize);
    let emoji_of = |category: usize| EMOJI.get(category).map_or(&[][..], |(_, emoji)| *emoji);
    let back_to_composer = move || {
        open.set(false);
        if let Some(composer) = ctx.composer.get_untracked() {
            dom::focus(&composer);
        }
    };
    let index_of = |event: &web_sys::Event, name: &str| dom::target_data(event, name).and_then(|value| value.parse::<usize>().ok());
    let on_click = move |event: web_sys::MouseEvent| {
        if let Some(index) = index_of(&event, "data-category") {
            category.set(index);
            // The new category's first emoji, once it has rendered.
            dom::focus_in_after_render(&event, ".tl-emoji-picker", FIRST_EMOJI);
        } else if let Some(&emoji) = index_of(&event, "data-index").and_then(|index| emoji_of(category.get_untracked()).get(index)) {
            let value = match ctx.composer.get_untracked() {
                Some(composer) => dom::insert_at_caret(&composer, emoji),
                None => text.get_untracked() + emoji,
            };
            ctx.with_driver(|driver| driver.set_draft(value));
            back_to_composer();
        }
    };
    let on_keydown = move |event: web_sys::KeyboardEvent| {
        let key = event.key();
        if key == "Escape" {
            // Only the picker closes, not the panel.
            event.prevent_default();
            event.stop_propagation();
            back_to_composer();
            return;
        }
        let Some(index) = index_of(&event, "data-index") else { return };
        let len = emoji_of(category.get_untracked()).len();
        if let (Some(next), Some(picker)) = (next_emoji_index(&key, index, len, locale.dir() == "rtl"), dom::current_element(&event, ".tl-emoji-picker")) {
            event.prevent_default();
            dom::focus_in(&picker, &format!("[data-index=\"{next}\"]"));
        }
    };
    view! {
        <div
            class="tl-emoji-picker"
            data-testid="emoji-picker"
            role="dialog"
            aria-label=strings.emoji
            on:click=on_click
            on:keydown=on_keydown
        >
            {move || {
                let current = category.get();
                let tabs = EMOJI
                    .iter()
                    .enumerate()
                    .map(|(index, (icon, _))| {
                        view! {
                            <button
                                type="button"
                                class="tl-emoji-tab"
                                role="tab"
                                data-testid="emoji-category"
                                data-category=index
                                aria-selected=if index == current { "true" } else { "false" }
                                aria-label=category_name(strings, index)
                                title=category_name(strings, index)
                            >
                                {*icon}
                            </button>
                        }
                    })
                    .collect_view();
                // One tab stop; the arrow keys move focus within the grid.
                let grid = emoji_of(current)
                    .iter()
                    .enumerate()
                    .map(|(index, emoji)| {
                        view! {
                            <button type="button" class="tl-emoji" data-index=index tabindex=if index == 0 { "0" } else { "-1" }>
                                {*emoji}
                            </button>
                        }
                    })
                    .collect_view();
                view! {
                    <div class="tl-emoji-tabs" role="tablist" aria-label=strings.emoji>
                        {tabs}
                    </div>
                    <div class="tl-emoji-grid" role="tabpanel" aria-label=category_name(strings, current)>
                        {grid}
                    </div>
                }
            }}
        </div>
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_keys_move_through_the_emoji_grid() {
        assert_eq!(next_emoji_index("ArrowRight", 0, 20, false), Some(1));
        assert_eq!(next_emoji_index("ArrowLeft", 0, 20, false), None, "stops at the first emoji");
        assert_eq!(next_emoji_index("ArrowLeft", 3, 20, true), Some(4), "left goes forward right-to-left");
        assert_eq!(next_emoji_index("ArrowDown", 2, 20, false), Some(2 + EMOJI_COLUMNS));
        assert_eq!(next_emoji_index("ArrowDown", 15, 20, false), Some(19), "clamped to the last emoji");
        assert_eq!(next_emoji_index("ArrowUp", 3, 20, false), None);
        assert_eq!(next_emoji_index("End", 3, 20, false), Some(19));
        assert_eq!(next_emoji_index("Home", 3, 20, false), Some(0));
        assert_eq!(next_emoji_index("a", 3, 20, false), None);
        assert_eq!(next_emoji_index("ArrowRight", 0, 0, false), None, "an empty grid");
    }

    #[test]
    fn emoji_table_is_small_and_unique_per_category() {
        let total: usize = EMOJI.iter().map(|(_, emoji)| emoji.len()).sum();
        assert!((150..=250).contains(&total), "{total} emoji");
        for (icon, emoji) in EMOJI {
            let mut sorted = emoji.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), emoji.len(), "a duplicate in category {icon}");
        }
        assert!(category_name(&crate::i18n::FR, EMOJI.len() - 1) != crate::i18n::FR.emoji, "every category is named");
    }
}
