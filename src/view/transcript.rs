//! The transcript: welcome, date dividers, message bubbles, notices, typing indicator.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use leptos::html;
use leptos::prelude::*;
use threadline_core::markdown::safe_href;
use threadline_core::protocol::{Attachment, ButtonResponseType, Card, CardActionType, Content, DatePicker, IsoTime, MediaType, MessageId};
use threadline_core::session::{Author, DeliveryStatus, Direction, EntryKind, NoticeKind, OrderKey, TranscriptEntry};

use super::markdown::render_markdown;
use super::Ctx;
use crate::model::Row;
use crate::platform::{clock, dom, intl};

/// Messages from the same author closer than this share one name/avatar.
const GROUP_WINDOW_MS: u64 = 5 * 60 * 1000;
/// Within this distance of the top, scrolling loads older history.
const LOAD_OLDER_THRESHOLD_PX: i32 = 40;
/// Within this distance of the bottom, new messages keep the view pinned to the bottom.
const STICK_THRESHOLD_PX: i32 = 80;

/// Transcripts up to this many rows render every row. Longer ones render only a window of rows
/// around the viewport between two spacers, so opening and appending cost O(window), not O(rows).
const FULL_RENDER_MAX_ROWS: usize = 200;
/// Rows rendered while a long transcript is pinned to its newest message.
const PINNED_WINDOW_ROWS: usize = 60;
/// Rows rendered beyond each edge of the viewport, so a scroll shows real rows at once.
const OVERSCAN_ROWS: usize = 20;
/// The height guessed for rows not rendered yet, until rendered rows have been measured.
const DEFAULT_ROW_HEIGHT_PX: f64 = 64.0;
/// A new measurement replaces the estimate only when it differs by more than this fraction, so
/// small differences between windows do not resize the spacers on every scroll.
const ROW_HEIGHT_TOLERANCE: f64 = 0.05;

/// Which rows of a long transcript are rendered.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Window {
    /// The newest rows: the reader is at the bottom, and new rows slide the window along.
    Newest,
    /// `count` rows from the row ordered `first`: the reader scrolled up. Anchored by order key
    /// (unique, and what rows are sorted by) so prepended history and appends leave it in place.
    From { first: OrderKey, count: usize },
}

/// The rows `start..end` of `len` that are rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slice {
    start: usize,
    end: usize,
    len: usize,
}

impl Slice {
    fn of(rows: &[Row], window: Window) -> Self {
        let len = rows.len();
        if len <= FULL_RENDER_MAX_ROWS {
            return Self { start: 0, end: len, len };
        }
        let (start, count) = match window {
            Window::Newest => (len - PINNED_WINDOW_ROWS, PINNED_WINDOW_ROWS),
            Window::From { first, count } => {
                let count = count.clamp(1, len);
                // O(log n): rows are sorted by order key.
                (rows.partition_point(|row| row.entry.order < first).min(len - count), count)
            }
        };
        Self { start, end: start + count, len }
    }

    /// Only a window of the rows is rendered (spacers stand in for the rest).
    fn windowed(self) -> bool {
        self.len > FULL_RENDER_MAX_ROWS
    }
}

/// Keys are cheap integers: `rev` is unique per row version, so equal keys mean equal rows
/// and a 10,000-message transcript diffs without comparing or formatting any strings.
type ItemKey = (u64, u8);

#[derive(Clone, Debug)]
enum Item {
    Divider { key: ItemKey, label: String },
    Entry { key: ItemKey, row: Row, grouped: bool, last: bool },
}

impl Item {
    fn key(&self) -> ItemKey {
        match self {
            Self::Divider { key, .. } | Self::Entry { key, .. } => *key,
        }
    }
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

/// Divider keys live above every possible `rev`.
const DIVIDER_KEY_BASE: u64 = 1 << 63;

/// Content offered only while its row is the newest (quick replies, an open date picker).
fn shows_latest_only(entry: &TranscriptEntry) -> bool {
    entry.content.iter().any(|content| matches!(content, Content::QuickReply(_) | Content::DatePicker(_)))
}

fn entry_time(entry: &TranscriptEntry) -> u64 {
    entry.time.map_or(entry.order.time_ms, |time| time.0)
}

#[component]
pub fn Transcript() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let model = ctx.model;
    let locale = model.locale;
    let strings = locale.strings();
    let transcript_ref = NodeRef::<html::Div>::new();
    let stick_to_bottom = Rc::new(Cell::new(true));
    // Scroll height before an older page was requested, to keep the reader's place.
    let anchor_height = Rc::new(Cell::new(None::<i32>));

    let window = RwSignal::new(Window::Newest);
    // Estimated height of one rendered row (dividers and gaps included), refined by measuring.
    let row_height = RwSignal::new(DEFAULT_ROW_HEIGHT_PX);
    let above_ref = NodeRef::<html::Div>::new();
    let below_ref = NodeRef::<html::Div>::new();
    let slice = Memo::new(move |_| {
        let window = window.get();
        model.rows.with(|rows| Slice::of(rows, window))
    });
    // The spacers exist only while windowed; built once, not again on every append.
    let windowed = Memo::new(move |_| slice.get().windowed());

    let items = Memo::new(move |_| {
        let slice = slice.get();
        model.rows.with(|rows| {
            let end = slice.end.min(rows.len());
            let start = slice.start.min(end);
            let mut items = Vec::with_capacity(end - start + 4);
            // The row just above the window decides the first row's divider and grouping.
            let mut previous: Option<&Row> = start.checked_sub(1).and_then(|index| rows.get(index));
            let mut last_day = previous.map(|row| intl::day_number(entry_time(&row.entry)));
            for (index, row) in rows.iter().enumerate().take(end).skip(start) {
                let time = entry_time(&row.entry);
                let day = intl::day_number(time);
                let new_day = last_day != Some(day);
                if new_day {
                    items.push(Item::Divider { key: (DIVIDER_KEY_BASE | u64::from(day), 0), label: intl::day(locale, time) });
                    last_day = Some(day);
                }
                let grouped = !new_day
                    && previous.is_some_and(|previous| {
                        previous.entry.kind == EntryKind::Message
                            && row.entry.kind == EntryKind::Message
                            && previous.entry.author == row.entry.author
                            && previous.entry.display_name == row.entry.display_name
                            && time.saturating_sub(entry_time(&previous.entry)) < GROUP_WINDOW_MS
                    });
                let last = index + 1 == rows.len();
                // Only rows whose content changes with `last` render again when a newer row
                // arrives; any other row keeps its key (and its DOM) on an append.
                let last_bit = last && shows_latest_only(&row.entry);
                let key = (row.rev, u8::from(grouped) | (u8::from(last_bit) << 1));
                items.push(Item::Entry { key, row: row.clone(), grouped, last });
                previous = Some(row);
            }
            items
        })
    });

    // A row added at the end while the reader is scrolled up is not scrolled into view (that
    // would yank away what they are reading): a "new messages" button offers the jump instead.
    // The customer's own new message always brings the view down to it.
    let unseen_below = RwSignal::new(false);
    let newest = Memo::new(move |_| {
        model.rows.with(|rows| {
            rows.last().map(|row| {
                let just_sent = matches!(row.entry.status, DeliveryStatus::Sending | DeliveryStatus::Queued);
                (row.entry.key.clone(), row.entry.author == Author::Customer && just_sent)
            })
        })
    });
    // Back to following the newest row; true when that needs the newest rows rendered first
    // (the effect below then scrolls to them).
    let pin_to_newest = {
        let stick_to_bottom = stick_to_bottom.clone();
        Rc::new(move || {
            stick_to_bottom.set(true);
            unseen_below.set(false);
            let rerender = window.get_untracked() != Window::Newest;
            if rerender {
                window.set(Window::Newest);
            }
            rerender
        })
    };
    {
        let stick_to_bottom = stick_to_bottom.clone();
        let pin_to_newest = pin_to_newest.clone();
        Effect::new(move |_| match newest.get() {
            // Cleared or expired (a new conversation starts pinned), or the customer's own message.
            None | Some((_, true)) => {
                pin_to_newest();
            }
            Some(_) if !stick_to_bottom.get() => unseen_below.set(true),
            Some(_) => {}
        });
    }
    let jump_to_newest = move |_| {
        if !pin_to_newest() {
            if let Some(element) = transcript_ref.get_untracked() {
                let (_, height, _) = dom::scroll_metrics(&element);
                dom::scroll_to(&element, height);
            }
        }
    };

    // Keep the newest message in view when the reader is at the bottom, and keep the reader's
    // place when older messages are prepended.
    {
        let stick_to_bottom = stick_to_bottom.clone();
        let anchor_height = anchor_height.clone();
        Effect::new(move |_| {
            items.track();
            model.agent_typing.track();
            model.open.track();
            let current = slice.get_untracked();
            if !current.windowed() && window.get_untracked() != Window::Newest {
                // A short transcript again (cleared, expired): a later long one starts at the bottom.
                window.set(Window::Newest);
            }
            let stick = stick_to_bottom.clone();
            let anchor = anchor_height.clone();
            set_timeout(
                move || {
                    // The messenger may have been removed since (its signals are disposed then).
                    if row_height.is_disposed() {
                        return;
                    }
                    let resized = measure_row_height(above_ref, below_ref, current, row_height);
                    let keep_place = move || {
                        if row_height.is_disposed() {
                            return;
                        }
                        let Some(element) = transcript_ref.get_untracked() else { return };
                        let (_, height, _) = dom::scroll_metrics(&element);
                        if let Some(before) = anchor.take() {
                            if !model.loading_older.get_untracked() {
                                dom::scroll_to(&element, (height - before).max(0));
                            } else {
                                anchor.set(Some(before));
                            }
                        } else if stick.get() {
                            dom::scroll_to(&element, height);
                        }
                    };
                    if resized {
                        // Let the spacers take their new height first.
                        set_timeout(keep_place, Duration::ZERO);
                    } else {
                        keep_place();
                    }
                },
                Duration::ZERO,
            );
        });
    }

    let on_scroll = {
        let stick_to_bottom = stick_to_bottom.clone();
        let anchor_height = anchor_height.clone();
        move |_| {
            let Some(element) = transcript_ref.get_untracked() else { return };
            let (top, height, client) = dom::scroll_metrics(&element);
            let stick = height - top - client < STICK_THRESHOLD_PX;
            stick_to_bottom.set(stick);
            if stick && unseen_below.get_untracked() {
                unseen_below.set(false);
            }
            let current = slice.get_untracked();
            if current.windowed() {
                let from = |start: usize, count: usize| {
                    model.rows.with_untracked(|rows| rows.get(start).map(|row| Window::From { first: row.entry.order, count }))
                };
                let next = if stick {
                    Some(Window::Newest)
                } else {
                    match window_for_viewport(&element, above_ref, below_ref, current, row_height.get_untracked()) {
                        Some((start, count)) => from(start, count),
                        // Scrolled up from the bottom: stop sliding with new messages, so the
                        // rows being read stay rendered.
                        None if window.get_untracked() == Window::Newest => from(current.start, current.end - current.start),
                        None => None,
                    }
                };
                if let Some(next) = next.filter(|next| *next != window.get_untracked()) {
                    window.set(next);
                }
            }
            if top < LOAD_OLDER_THRESHOLD_PX && model.older_available.get_untracked() && !model.loading_older.get_untracked() {
                anchor_height.set(Some(height));
                ctx.with_driver(|driver| driver.load_older());
            }
        }
    };

    let welcome = move || {
        let ttl_sentence = model.ttl_secs.get().filter(|ttl| *ttl > 0 && *ttl <= 24 * 3600).map(|ttl| {
            view! { <p class="tl-welcome-expiry">{locale.ends_after(ttl)}</p> }
        });
        view! {
            <div class="tl-welcome" data-testid="welcome">
                <p class="tl-welcome-text">{model.welcome.get()}</p>
                {ttl_sentence}
            </div>
        }
    };

    view! {
        <div
            class="tl-transcript"
            data-testid="transcript"
            // Every entry of the transcript, rendered or not: a long one renders only a window.
            data-rows=move || model.rows.with(Vec::len).to_string()
            role="log"
            aria-label=strings.title
            tabindex="0"
            node_ref=transcript_ref
            on:scroll=on_scroll
        >
            {move || {
                if model.loading_older.get() {
                    Some(view! { <p class="tl-history-status">{strings.loading_older}</p> }.into_any())
                } else if model.older_available.get() {
                    Some(
                        view! {
                            <button
                                type="button"
                                class="tl-link-button tl-history-status"
                                on:click=move |_| ctx.with_driver(|driver| driver.load_older())
                            >
                                {strings.load_older}
                            </button>
                        }
                            .into_any(),
                    )
                } else {
                    None
                }
            }}
            {welcome}
            {spacer(windowed, above_ref, move || spacer_px(slice.get().start, row_height.get()))}
            <For each=move || items.get() key=Item::key let:item>
                {render_item(ctx, item)}
            </For>
            {spacer(windowed, below_ref, move || {
                let slice = slice.get();
                spacer_px(slice.len - slice.end, row_height.get())
            })}
            {move || {
                model.local_notice.get().map(|text| view! { <p class="tl-notice" data-testid="notice" role="note">{text}</p> })
            }}
            {move || {
                (model.agent_typing.get() && model.agent_typing_enabled.get())
                    .then(|| {
                        view! {
                            <div class="tl-typing" data-testid="typing" role="status" aria-label=strings.agent_typing>
                                <span class="tl-typing-dot"></span>
                                <span class="tl-typing-dot"></span>
                                <span class="tl-typing-dot"></span>
                            </div>
                        }
                    })
            }}
            <button
                type="button"
                class="tl-jump"
                data-testid="jump-latest"
                hidden=move || !unseen_below.get()
                on:click=jump_to_newest
            >
                {strings.new_messages}
                <svg class="tl-icon" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M12 5v14M6 13l6 6 6-6" />
                </svg>
            </button>
        </div>
    }
}

/// An empty block standing in for the unrendered rows above or below the window, while the
/// transcript is windowed.
fn spacer(
    windowed: Memo<bool>,
    node_ref: NodeRef<html::Div>,
    height: impl Fn() -> String + Clone + Send + Sync + 'static,
) -> impl IntoView {
    move || windowed.get().then(|| view! { <div class="tl-spacer" aria-hidden="true" node_ref=node_ref style:height=height.clone()></div> })
}

/// The CSS height standing in for `rows` unrendered rows.
fn spacer_px(rows: usize, row_height: f64) -> String {
    format!("{}px", (rows as f64 * row_height).round())
}

/// Refines the row height estimate from the rows rendered between the spacers. Returns whether
/// the estimate changed (the spacers will resize).
fn measure_row_height(above: NodeRef<html::Div>, below: NodeRef<html::Div>, slice: Slice, row_height: RwSignal<f64>) -> bool {
    let (Some(above), Some(below)) = (above.get_untracked(), below.get_untracked()) else { return false };
    let rows = slice.end.saturating_sub(slice.start);
    let rendered = below.get_bounding_client_rect().top() - above.get_bounding_client_rect().bottom();
    if rows == 0 || rendered <= 0.0 {
        // Not laid out (closed panel, hidden tab): nothing to learn.
        return false;
    }
    let measured = rendered / rows as f64;
    let estimate = row_height.get_untracked();
    if (measured - estimate).abs() <= estimate * ROW_HEIGHT_TOLERANCE {
        return false;
    }
    row_height.set(measured);
    true
}

/// The rows to render for the current viewport, as `(start, count)`, or `None` while the rendered
/// rows still cover the viewport with half a screen to spare on each side.
fn window_for_viewport(
    transcript: &web_sys::Element,
    above: NodeRef<html::Div>,
    below: NodeRef<html::Div>,
    slice: Slice,
    row_height: f64,
) -> Option<(usize, usize)> {
    let (above, below) = (above.get_untracked()?, below.get_untracked()?);
    let (top, _, client) = dom::scroll_metrics(transcript);
    let (view_top, client) = (f64::from(top), f64::from(client));
    // Content coordinates: client coordinates shifted by the scroll offset.
    let origin = transcript.get_bounding_client_rect().top() - view_top;
    let rendered_top = above.get_bounding_client_rect().bottom() - origin;
    let rendered_bottom = below.get_bounding_client_rect().top() - origin;
    let margin = client / 2.0;
    let short_above = slice.start > 0 && view_top - margin < rendered_top;
    let short_below = slice.end < slice.len && view_top + client + margin > rendered_bottom;
    if !short_above && !short_below {
        return None;
    }
    let row_height = row_height.max(1.0);
    let first_visible = slice.start as f64 + (view_top - rendered_top) / row_height;
    let last_row = slice.len.saturating_sub(1);
    let first_visible = (first_visible.max(0.0) as usize).min(last_row);
    let visible = (client / row_height).ceil() as usize + 1;
    let start = first_visible.saturating_sub(OVERSCAN_ROWS);
    let end = (first_visible + visible + OVERSCAN_ROWS).max(start + PINNED_WINDOW_ROWS).min(slice.len);
    Some((start, end - start))
}

fn render_item(ctx: Ctx, item: Item) -> AnyView {
    match item {
        Item::Divider { label, .. } => view! {
            <div class="tl-divider" role="separator">
                <span>{label}</span>
            </div>
        }
        .into_any(),
        Item::Entry { row, grouped, last, .. } => match row.entry.kind {
            EntryKind::Notice(kind) => notice_view(ctx, &row.entry, kind),
            EntryKind::Message => message_view(ctx, row.entry, grouped, last),
        },
    }
}

fn notice_view(ctx: Ctx, entry: &TranscriptEntry, kind: NoticeKind) -> AnyView {
    let strings = ctx.model.locale.strings();
    let text = match kind {
        NoticeKind::ConversationStarted => strings.notice_started,
        NoticeKind::AgentLeft => strings.notice_agent_left,
        NoticeKind::ConversationEnded => strings.notice_ended,
        NoticeKind::SignedIn => strings.notice_signed_in,
    };
    let time = intl::time(ctx.model.locale, entry_time(entry));
    view! {
        <p class="tl-notice" data-testid="notice" data-id=entry_id(entry) role="note">
            {text}
            " · "
            <time>{time}</time>
        </p>
    }
    .into_any()
}

fn message_view(ctx: Ctx, entry: Arc<TranscriptEntry>, grouped: bool, last: bool) -> AnyView {
    let model = ctx.model;
    let locale = model.locale;
    let strings = locale.strings();
    let direction = match entry.direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    };
    let author = match entry.author {
        Author::Customer => "customer",
        Author::Agent => "agent",
        Author::Bot => "bot",
        Author::System => "system",
    };
    let (status, status_text) = match &entry.status {
        DeliveryStatus::Sending => ("sending", strings.sending),
        DeliveryStatus::Queued => ("sending", strings.queued),
        DeliveryStatus::Sent => ("sent", strings.sent),
        DeliveryStatus::Failed { .. } => ("failed", strings.failed),
    };
    // Queued (waiting for a connection, kept across reloads) keeps `data-status=sending` (the
    // issue-6 contract) and is told apart by `data-queued` and its label.
    let queued = matches!(entry.status, DeliveryStatus::Queued);
    let own = entry.author == Author::Customer;
    let name = entry.display_name.clone().unwrap_or_else(|| model.author_label(entry.author));
    let avatar = (!own && !grouped).then(|| {
        let url = entry
            .avatar_url
            .clone()
            .or_else(|| (entry.author == Author::Bot).then(|| model.bot_avatar.get_untracked()).flatten())
            .and_then(|url| safe_image_url(&url));
        match url {
            // An SVG <image>, not <img>: content images stay the only <img> in a message.
            Some(url) => view! {
                <svg class="tl-avatar" viewBox="0 0 32 32" aria-hidden="true">
                    <image href=url width="32" height="32" preserveAspectRatio="xMidYMid slice" />
                </svg>
            }
            .into_any(),
            None => {
                let initial = name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default();
                view! { <span class="tl-avatar tl-avatar--initial" aria-hidden="true">{initial}</span> }.into_any()
            }
        }
    });
    let author_line = (!own && !grouped).then(|| view! { <span class="tl-author">{name.clone()}</span> });
    let text = (!entry.text.is_empty()).then(|| {
        if let Some(millis) = own.then(|| date_answer(&entry)).flatten().and_then(|iso| iso_millis(&iso)) {
            // A date picker answer: the chosen slot as the reader's date and time, not ISO text.
            view! { <p class="tl-text tl-plain">{slot_label(locale, millis)}</p> }.into_any()
        } else if !own && model.markdown.get_untracked() {
            view! { <div class="tl-text tl-markdown">{render_markdown(&entry.text)}</div> }.into_any()
        } else {
            view! { <p class="tl-text tl-plain">{entry.text.clone()}</p> }.into_any()
        }
    });
    let content = entry.content.iter().map(|content| content_view(ctx, &entry, content, last)).collect_view();
    let retry = matches!(entry.status, DeliveryStatus::Failed { .. }).then(|| {
        let key = entry.key.clone();
        view! {
            <button
                type="button"
                class="tl-retry"
                data-testid="message-retry"
                on:click=move |_| {
                    let key = key.clone();
                    ctx.with_driver(|driver| driver.retry_message(key));
                }
            >
                {strings.retry_message}
            </button>
        }
    });
    let time = intl::time(locale, entry_time(&entry));
    let status_line = own.then(|| view! { <span class="tl-delivery">{status_text}</span> });
    view! {
        <div
            class="tl-message"
            class:tl-message--own=own
            class:tl-message--grouped=grouped
            class:tl-message--queued=queued
            data-testid="message"
            data-direction=direction
            data-author=author
            data-status=status
            data-queued=queued.then_some("true")
            data-id=entry_id(&entry)
        >
            {avatar}
            <div class="tl-bubble">
                {author_line}
                {text}
                {content}
                <div class="tl-meta">
                    <time class="tl-time">{time}</time>
                    {status_line}
                    {retry}
                </div>
            </div>
        </div>
    }
    .into_any()
}

/// The server message id once known (stable across reloads and tabs), else the local key.
fn entry_id(entry: &TranscriptEntry) -> String {
    entry.message_id.as_ref().map_or_else(|| entry.key.as_str().to_string(), |id| id.as_str().to_string())
}

/// Images load only over http(s).
fn safe_image_url(url: &str) -> Option<String> {
    safe_href(url).filter(|href| !href.to_ascii_lowercase().starts_with("mailto:"))
}

/// A card's or picker's picture: only http(s), and gone rather than a broken-image box when it
/// does not load (an unreachable CDN, an expired link).
fn decorative_image(class: &'static str, url: &str) -> Option<AnyView> {
    let url = safe_image_url(url)?;
    Some(view! { <img class=class src=url alt="" on:error=|event| dom::hide_target(&event) /> }.into_any())
}

fn content_view(ctx: Ctx, entry: &TranscriptEntry, content: &Content, last: bool) -> AnyView {
    let strings = ctx.model.locale.strings();
    let origin = entry.message_id.clone();
    match content {
        Content::Attachment(attachment) => attachment_view(ctx, attachment),
        Content::QuickReply(reply) => {
            // Options only make sense while they are the latest thing said.
            if !last || entry.author == Author::Customer {
                return ().into_any();
            }
            let (text, payload) = (reply.text.clone(), reply.payload.clone());
            view! {
                <button
                    type="button"
                    class="tl-quick-reply"
                    on:click=move |_| {
                        let (text, payload, origin) = (text.clone(), payload.clone(), origin.clone());
                        ctx.with_driver(|driver| driver.quick_reply(text, payload, origin));
                    }
                >
                    {reply.text.clone()}
                </button>
            }
            .into_any()
        }
        // The customer's own answer: its text is already the message text.
        Content::ButtonResponse(_) => ().into_any(),
        Content::Card(card) => view! { <div class="tl-cards">{card_view(ctx, card, origin)}</div> }.into_any(),
        Content::Carousel(carousel) => {
            let cards = carousel.cards.iter().map(|card| card_view(ctx, card, origin.clone())).collect_view();
            view! { <div class="tl-cards tl-carousel">{cards}</div> }.into_any()
        }
        Content::DatePicker(picker) => date_picker_view(ctx, entry, picker, last),
        Content::Unknown { .. } => {
            view! { <p class="tl-unsupported">{strings.unsupported}</p> }.into_any()
        }
    }
}

/// The ISO `dateTime` a customer message answered a date picker with, if it is such an answer
/// (its `ButtonResponse` says so, from the moment it is sent).
fn date_answer(entry: &TranscriptEntry) -> Option<String> {
    entry.content.iter().find_map(|content| match content {
        Content::ButtonResponse(response) if response.button_type == ButtonResponseType::DatePicker => Some(response.payload.clone()),
        _ => None,
    })
}

fn iso_millis(iso: &str) -> Option<u64> {
    IsoTime::new(iso).to_unix_millis()
}

/// "Tuesday, 12 May · 14:30" in the messenger's locale and the reader's time zone.
fn slot_label(locale: crate::i18n::Locale, millis: u64) -> String {
    format!("{} · {}", intl::day(locale, millis), intl::time(locale, millis))
}

/// The slot the customer already chose for the picker in message `origin`: the first date
/// answer after it (matched by `originatingMessageId`).
fn chosen_slot(model: crate::model::Model, picker: &TranscriptEntry) -> Option<String> {
    model.rows.with_untracked(|rows| {
        let after = rows.partition_point(|row| row.entry.order <= picker.order);
        rows[after..].iter().filter(|row| row.entry.author == Author::Customer).find_map(|row| {
            let answers_other = row.entry.content.iter().any(|content| {
                matches!(content, Content::ButtonResponse(response)
                    if response.originating_message_id.is_some() && response.originating_message_id != picker.message_id)
            });
            if answers_other { None } else { date_answer(&row.entry) }
        })
    })
}

/// A date/time-slot picker (SPEC §4.2): title, subtitle and the slots grouped by local day.
/// A click answers with the slot's ISO `dateTime`. The answer is a new row, so this row renders
/// again as no longer the latest: then it is `answered` (the chosen slot marked) or, when a
/// newer message superseded it unanswered, `closed`; either way its slots are disabled.
/// Static attributes only (no signals): each reactive attribute costs wasm.
fn date_picker_view(ctx: Ctx, entry: &TranscriptEntry, picker: &DatePicker, last: bool) -> AnyView {
    let model = ctx.model;
    let locale = model.locale;
    let strings = locale.strings();
    let answered = chosen_slot(model, entry);
    let offered = last && answered.is_none() && entry.author != Author::Customer;
    let state = if offered { "open" } else if answered.is_some() { "answered" } else { "closed" };
    // Set by the first click, so a double click cannot answer twice before the row re-renders.
    let sent = Rc::new(Cell::new(false));
    let origin = entry.message_id.clone();

    // In time order, without duplicates. Insertion keeps a slice sort (kilobytes of wasm) out;
    // pickers offer tens of slots. An open picker offers only times still ahead (a picker
    // sent yesterday may be read today); an answered or closed one shows what it offered.
    let now = clock::now().0;
    let mut slots: Vec<(u64, &str)> = Vec::new();
    let mut passed = 0;
    for slot in &picker.available_times {
        let Some(millis) = slot.date_time.to_unix_millis() else { continue };
        if offered && millis <= now {
            passed += 1;
            continue;
        }
        let at = slots.partition_point(|&(other, _)| other < millis);
        if slots.get(at).is_none_or(|&(other, _)| other != millis) {
            slots.insert(at, (millis, slot.date_time.as_str()));
        }
    }
    let mut days: Vec<(u32, Vec<(u64, &str)>)> = Vec::new();
    for (millis, iso) in slots {
        let day = intl::day_number(millis);
        match days.last_mut() {
            Some((last_day, day_slots)) if *last_day == day => day_slots.push((millis, iso)),
            _ => days.push((day, vec![(millis, iso)])),
        }
    }
    let days_empty = days.is_empty();
    let days = days
        .into_iter()
        .map(|(_, day_slots)| {
            let label = intl::day(locale, day_slots[0].0);
            let buttons = day_slots
                .into_iter()
                .map(|(millis, iso)| {
                    let on_click = {
                        let (iso, origin, sent) = (iso.to_string(), origin.clone(), sent.clone());
                        move |_| {
                            if sent.get() {
                                return;
                            }
                            // The picker may have stayed open while this time went by.
                            if millis <= clock::now().0 {
                                model.alert.set(Some(strings.date_slot_passed.to_string()));
                                return;
                            }
                            sent.set(true);
                            match ctx.with_driver(|driver| driver.date_picker_answer(iso.clone(), origin.clone())) {
                                Ok(()) => {}
                                Err(error) => {
                                    sent.set(false);
                                    model.alert.set(Some(error.to_string()));
                                }
                            }
                        }
                    };
                    let pressed = answered.as_deref() == Some(iso);
                    view! {
                        <button
                            type="button"
                            class="tl-date-slot"
                            data-testid="date-slot"
                            data-value=iso.to_string()
                            aria-label=slot_label(locale, millis)
                            aria-pressed=if pressed { "true" } else { "false" }
                            disabled=!offered
                            on:click=on_click
                        >
                            {intl::time(locale, millis)}
                        </button>
                    }
                })
                .collect_view();
            let group_label = label.clone();
            view! {
                <div class="tl-date-day" role="group" aria-label=group_label>
                    <p class="tl-date-day-label">{label}</p>
                    <div class="tl-date-slots">{buttons}</div>
                </div>
            }
        })
        .collect_view();
    let title = picker.title.clone().filter(|title| !title.trim().is_empty()).unwrap_or_else(|| strings.date_picker_title.to_string());
    let subtitle = picker.subtitle.clone().filter(|text| !text.trim().is_empty());
    let image = picker.image_url.as_deref().and_then(|url| decorative_image("tl-date-picker-image", url));
    let note = if answered.is_some() {
        Some(strings.date_picker_answered)
    } else if offered && passed > 0 && days_empty {
        Some(strings.date_picker_none_left)
    } else {
        None
    };
    let group_label = title.clone();
    view! {
        <div class="tl-date-picker" data-testid="date-picker" data-state=state role="group" aria-label=group_label>
            {image}
            <p class="tl-date-picker-title">{title}</p>
            {subtitle.map(|text| view! { <p class="tl-date-picker-subtitle">{text}</p> })}
            {days}
            {note.map(|text| view! { <p class="tl-date-picker-answered">{text}</p> })}
        </div>
    }
    .into_any()
}

fn card_view(ctx: Ctx, card: &Card, origin: Option<MessageId>) -> AnyView {
    let image = card.image.as_deref().and_then(|url| decorative_image("tl-card-image", url));
    let description = card.description.clone().map(|text| view! { <p class="tl-card-description">{text}</p> });
    let actions = card
        .actions
        .iter()
        .map(|action| match action.action_type {
            CardActionType::Link => match action.url.as_deref().and_then(safe_href) {
                Some(href) => view! {
                    <a class="tl-card-action" href=href target="_blank" rel="noopener noreferrer">
                        {action.text.clone()}
                    </a>
                }
                .into_any(),
                None => view! { <span class="tl-card-action tl-card-action--disabled">{action.text.clone()}</span> }.into_any(),
            },
            _ => {
                let text = action.text.clone();
                let payload = action.payload.clone().unwrap_or_else(|| action.text.clone());
                let origin = origin.clone();
                view! {
                    <button
                        type="button"
                        class="tl-card-action"
                        on:click=move |_| {
                            let (text, payload, origin) = (text.clone(), payload.clone(), origin.clone());
                            ctx.with_driver(|driver| driver.postback(text, payload, origin));
                        }
                    >
                        {action.text.clone()}
                    </button>
                }
                .into_any()
            }
        })
        .collect_view();
    view! {
        <div class="tl-card">
            {image}
            <p class="tl-card-title">{card.title.clone()}</p>
            {description}
            <div class="tl-card-actions">{actions}</div>
        </div>
    }
    .into_any()
}

fn attachment_view(ctx: Ctx, attachment: &Attachment) -> AnyView {
    let strings = ctx.model.locale.strings();
    let id = attachment.id.as_str().to_string();
    let name = attachment.filename.clone().unwrap_or_else(|| strings.attachment_link.to_string());
    let is_image = matches!(attachment.media_type, Some(MediaType::Image))
        || attachment.mime.as_deref().is_some_and(|mime| mime.to_ascii_lowercase().starts_with("image/"));
    let original = attachment.url.clone();
    let url = {
        let id = id.clone();
        move || {
            ctx.model
                .refreshed_urls
                .with(|urls| urls.get(&id).cloned())
                .or_else(|| original.clone())
                .and_then(|url| safe_image_url(&url))
        }
    };
    if url().is_none() {
        // Not downloadable (yet): show the name only.
        return view! { <p class="tl-file">{name}</p> }.into_any();
    }
    if is_image {
        let refreshed = Rc::new(Cell::new(false));
        let on_error = {
            let id = id.clone();
            move |_| {
                // An expired download URL: ask once for a fresh one.
                if !refreshed.replace(true) {
                    let id = id.clone();
                    ctx.with_driver(|driver| driver.refresh_download(id));
                }
            }
        };
        let alt = name.clone();
        let url_for_click = url.clone();
        view! {
            <button
                type="button"
                class="tl-thumb-button"
                aria-label=format!("{} {}", strings.enlarge_image, name)
                on:click=move |_| {
                    if let Some(url) = url_for_click() {
                        ctx.lightbox.set(Some((url, alt.clone())));
                    }
                }
            >
                <img class="tl-thumb" src=move || url().unwrap_or_default() alt=name.clone() loading="lazy" on:error=on_error />
            </button>
        }
        .into_any()
    } else {
        view! {
            <a class="tl-file" href=move || url().unwrap_or_default() target="_blank" rel="noopener noreferrer" download=name.clone()>
                {name.clone()}
            </a>
        }
        .into_any()
    }
}
