//! The view model: reactive signals fed only from engine [`Event`]s (plus purely local UI
//! state such as "the panel is open"). Components read these signals; they never talk to the
//! engine directly except through the driver's commands.

use std::collections::HashMap;
use std::sync::Arc;

use leptos::prelude::*;
use threadline_core::session::{
    AttachmentUpdate, Author, CloseReason, ConnectionState, EntryKey, EntryKind, Event, OrderKey, SessionInfo, SessionNotice,
    TranscriptEntry, UserError,
};
use threadline_core::time::UnixMillis;

use crate::i18n::Locale;

/// One transcript row as the view sees it. `rev` changes whenever the entry changes, so keyed
/// lists re-render exactly the rows that changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub entry: Arc<TranscriptEntry>,
    pub rev: u64,
}

/// An upload in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRow {
    pub attachment_id: String,
    pub file_name: String,
    pub percent: u32,
}

/// Every signal the components read.
#[derive(Clone, Copy)]
pub struct Model {
    pub locale: Locale,
    /// The panel is open.
    pub open: RwSignal<bool>,
    pub state: RwSignal<ConnectionState>,
    /// Transcript rows in display order.
    pub rows: RwSignal<Vec<Row>>,
    pub agent_typing: RwSignal<bool>,
    /// Show the agent typing indicator at all (deployment setting).
    pub agent_typing_enabled: RwSignal<bool>,
    /// The guest session's inactivity TTL, once the server told us.
    pub ttl_secs: RwSignal<Option<u64>>,
    pub expires_at: RwSignal<Option<UnixMillis>>,
    /// The final-minutes banner applies.
    pub expiring_soon: RwSignal<bool>,
    /// Agent/bot messages that arrived while the panel was closed.
    pub unread: RwSignal<usize>,
    /// Text for the polite live region (set, then cleared by the view).
    pub announcement: RwSignal<String>,
    pub older_available: RwSignal<bool>,
    pub loading_older: RwSignal<bool>,
    pub session_info: RwSignal<Option<SessionInfo>>,
    /// A transient, dismissible message for the user.
    pub alert: RwSignal<Option<String>>,
    /// Persistent notice that storage is not available.
    pub storage_notice: RwSignal<Option<String>>,
    /// The composer's text (restored from storage on start, so a page change keeps it).
    pub draft: RwSignal<String>,
    /// A system line shown at the end of the transcript (e.g. "conversation cleared").
    pub local_notice: RwSignal<Option<String>>,
    pub uploads: RwSignal<Vec<UploadRow>>,
    /// Attachment id → refreshed download URL.
    pub refreshed_urls: RwSignal<HashMap<String, String>>,
    /// Wall clock for countdowns, ticked by the view while one is visible.
    pub now: RwSignal<u64>,
    pub welcome: RwSignal<String>,
    pub markdown: RwSignal<bool>,
    pub max_chars: RwSignal<usize>,
    /// Bot persona from the deployment (`humanize.bot`).
    pub bot_name: RwSignal<Option<String>>,
    pub bot_avatar: RwSignal<Option<String>>,
    /// New agent/bot messages raise `unread` here. False in a follower tab (it shows the
    /// leader's count) and in a leader while another tab shows the panel (`crate::tabs`).
    pub counts_unread: RwSignal<bool>,
    /// The page offers customer sign-in.
    pub auth_enabled: RwSignal<bool>,
    /// The customer is signed in (the engine holds their tokens).
    pub signed_in: RwSignal<bool>,
    /// A sign-in is in progress (code exchange, refresh after a reload).
    pub signing_in: RwSignal<bool>,
    /// The customer must sign in again (tokens refused, refresh token revoked).
    pub sign_in_needed: RwSignal<bool>,
    /// The server refused to clear the conversation (403): the clear control goes away.
    pub clear_refused: RwSignal<bool>,
    next_rev: RwSignal<u64>,
    /// Entry key → its order key, so an upsert finds its row by binary search instead of
    /// scanning a long transcript. Always holds exactly the keys in `rows`.
    row_orders: StoredValue<HashMap<EntryKey, OrderKey>>,
}

impl Model {
    /// A fresh model for `locale` (must be created inside the reactive owner of the app).
    pub fn new(locale: Locale) -> Self {
        Self {
            locale,
            open: RwSignal::new(false),
            state: RwSignal::new(ConnectionState::Idle),
            rows: RwSignal::new(Vec::new()),
            agent_typing: RwSignal::new(false),
            agent_typing_enabled: RwSignal::new(true),
            ttl_secs: RwSignal::new(None),
            expires_at: RwSignal::new(None),
            expiring_soon: RwSignal::new(false),
            unread: RwSignal::new(0),
            announcement: RwSignal::new(String::new()),
            older_available: RwSignal::new(false),
            loading_older: RwSignal::new(false),
            session_info: RwSignal::new(None),
            alert: RwSignal::new(None),
            storage_notice: RwSignal::new(None),
            draft: RwSignal::new(String::new()),
            local_notice: RwSignal::new(None),
            uploads: RwSignal::new(Vec::new()),
            refreshed_urls: RwSignal::new(HashMap::new()),
            now: RwSignal::new(0),
            welcome: RwSignal::new(locale.strings().welcome_default.to_string()),
            markdown: RwSignal::new(true),
            max_chars: RwSignal::new(4096),
            bot_name: RwSignal::new(None),
            bot_avatar: RwSignal::new(None),
            counts_unread: RwSignal::new(true),
            auth_enabled: RwSignal::new(false),
            signed_in: RwSignal::new(false),
            signing_in: RwSignal::new(false),
            sign_in_needed: RwSignal::new(false),
            clear_refused: RwSignal::new(false),
            next_rev: RwSignal::new(0),
            row_orders: StoredValue::new(HashMap::new()),
        }
    }

    fn rev(&self) -> u64 {
        self.revs(1)
    }

    /// Reserves `count` consecutive revisions and returns the first.
    fn revs(&self, count: u64) -> u64 {
        let first = self.next_rev.get_untracked() + 1;
        self.next_rev.set(first + count.saturating_sub(1));
        first
    }

    /// Replaces every row (and the key index with them).
    fn set_rows(&self, rows: Vec<Row>) {
        self.row_orders.update_value(|orders| {
            orders.clear();
            orders.extend(rows.iter().map(|row| (row.entry.key.clone(), row.entry.order)));
        });
        self.rows.set(rows);
    }

    /// Whether a row with this key is shown, in O(1) (the key index mirrors `rows`).
    pub fn has_row(&self, key: &EntryKey) -> bool {
        self.row_orders.with_value(|orders| orders.contains_key(key))
    }

    /// Where the row with this key sits, in O(log n) (rows are sorted by their unique order key).
    fn row_index(rows: &[Row], order: OrderKey) -> Option<usize> {
        rows.binary_search_by(|row| row.entry.order.cmp(&order)).ok()
    }

    /// Applies one engine event. `now` is the wall clock at the time of the event.
    pub fn apply(&self, event: &Event, now: UnixMillis) {
        let strings = self.locale.strings();
        match event {
            Event::StateChanged(state) => {
                if matches!(state, ConnectionState::Connected | ConnectionState::ReadOnly) {
                    self.alert.set(None);
                }
                self.now.set(now.0);
                self.state.set(state.clone());
            }
            Event::SessionConfigured(info) => {
                self.session_info.set(Some(info.clone()));
            }
            Event::ExpiryKnown { expires_at, duration_secs } => {
                // Every agent message moves the expiry: only a changed TTL re-renders the
                // welcome line that states it.
                self.expires_at.set(Some(*expires_at));
                set_if_changed(self.ttl_secs, Some(*duration_secs));
            }
            Event::ExpiringSoon { expires_at } => {
                self.expires_at.set(Some(*expires_at));
                self.now.set(now.0);
                self.expiring_soon.set(true);
            }
            Event::ExpiringCancelled => self.expiring_soon.set(false),
            Event::Expired => {
                // Collapse, forget the conversation; the next open starts blank.
                self.open.set(false);
                self.set_rows(Vec::new());
                self.expiring_soon.set(false);
                self.expires_at.set(None);
                self.agent_typing.set(false);
                self.unread.set(0);
                self.uploads.set(Vec::new());
                self.local_notice.set(None);
                self.older_available.set(false);
                self.alert.set(None);
            }
            Event::TranscriptReset(entries) => {
                let first_rev = self.revs(entries.len() as u64);
                let mut rows: Vec<Row> = entries
                    .iter()
                    .zip(first_rev..)
                    .map(|(entry, rev)| Row { entry: Arc::new(entry.clone()), rev })
                    .collect();
                // The engine sends them in order; sorting again is cheap then and keeps the
                // binary searches in `upsert` sound whatever it sends.
                rows.sort_by_key(|row| row.entry.order);
                self.set_rows(rows);
            }
            Event::EntryUpserted(entry) => self.upsert(entry),
            Event::EntryRemoved(key) => {
                if let Some(order) = self.row_orders.try_update_value(|orders| orders.remove(key)).flatten() {
                    self.rows.update(|rows| {
                        if let Some(index) = Self::row_index(rows, order) {
                            rows.remove(index);
                        }
                    });
                }
            }
            Event::AgentTyping { .. } => self.agent_typing.set(true),
            Event::AgentTypingStopped => self.agent_typing.set(false),
            Event::ConversationCleared => {
                self.set_rows(Vec::new());
                self.local_notice.set(Some(strings.notice_cleared.to_string()));
            }
            Event::ReadOnly => self.agent_typing.set(false),
            Event::ConnectionClosed { reason } => {
                let text = match reason {
                    CloseReason::User | CloseReason::ConversationCleared => None,
                    CloseReason::SignedIn => Some(strings.signed_in_elsewhere.to_string()),
                    _ => Some(strings.closed_elsewhere.to_string()),
                };
                if text.is_some() {
                    self.alert.set(text);
                }
            }
            Event::LoggedOut => {
                self.set_rows(Vec::new());
                self.signed_in.set(false);
                self.agent_typing.set(false);
                self.local_notice.set(None);
            }
            Event::Attachment(update) => self.apply_attachment(update),
            Event::Error(error) => {
                if matches!(error, UserError::HistoryUnavailable { .. }) {
                    self.loading_older.set(false);
                }
                if matches!(error, UserError::ClearConversationFailed) {
                    self.clear_refused.set(true);
                }
                self.alert.set(Some(user_error_text(self.locale, error)));
            }
            Event::AuthorizationRequired { .. } => {
                self.signed_in.set(false);
                self.sign_in_needed.set(true);
                self.alert.set(Some(strings.sign_in_again.to_string()));
            }
            Event::Notice(SessionNotice::ClearedExistingSession) => {
                self.local_notice.set(Some(strings.notice_other_devices.to_string()));
            }
            Event::OlderAvailable(more) => {
                self.older_available.set(*more);
                self.loading_older.set(false);
            }
        }
    }

    fn upsert(&self, entry: &TranscriptEntry) {
        let rev = self.rev();
        let row = Row { entry: Arc::new(entry.clone()), rev };
        let mut is_new = false;
        let previous_order = self.row_orders.try_update_value(|orders| orders.insert(entry.key.clone(), entry.order)).flatten();
        self.rows.update(|rows| {
            match previous_order.and_then(|order| Self::row_index(rows, order)) {
                Some(index) if rows[index].entry.order == entry.order => {
                    rows[index] = row;
                    return;
                }
                Some(index) => {
                    rows.remove(index);
                }
                None => is_new = true,
            }
            // Rows stay sorted by the engine's order key; new messages usually land at the end.
            let at = rows.partition_point(|existing| existing.entry.order <= entry.order);
            rows.insert(at, row);
        });
        let from_contact_center = matches!(entry.author, Author::Agent | Author::Bot) && entry.kind == EntryKind::Message;
        if is_new && from_contact_center {
            if !self.open.get_untracked() && self.counts_unread.get_untracked() {
                self.unread.update(|count| *count += 1);
            }
            set_if_changed(self.agent_typing, false);
            let name = entry.display_name.clone().unwrap_or_else(|| self.author_label(entry.author));
            self.announcement.set(format!("{name}: {}", entry.text));
        }
    }

    fn apply_attachment(&self, update: &AttachmentUpdate) {
        match update {
            AttachmentUpdate::UploadGranted { .. } => {}
            AttachmentUpdate::DownloadUrlRefreshed { attachment_id, url } => {
                self.refreshed_urls.update(|urls| {
                    urls.insert(attachment_id.as_str().to_string(), url.clone());
                });
            }
            AttachmentUpdate::Uploaded { attachment_id, .. } | AttachmentUpdate::Deleted { attachment_id } => {
                self.remove_upload(attachment_id.as_str());
            }
            AttachmentUpdate::Rejected { attachment_id, code, .. } => {
                self.remove_upload(attachment_id.as_str());
                let strings = self.locale.strings();
                let text = match code {
                    4001 | 4004 | 4005 => strings.file_type_blocked.to_string(),
                    4002 => strings.upload_failed.to_string(),
                    _ => format!("{} {}", strings.upload_failed, self.locale.error_code(*code)),
                };
                self.alert.set(Some(text));
            }
        }
    }

    /// Forgets an upload row.
    pub fn remove_upload(&self, attachment_id: &str) {
        self.uploads.update(|uploads| uploads.retain(|upload| upload.attachment_id != attachment_id));
    }

    /// The generic label of an author when the server gave no name.
    pub fn author_label(&self, author: Author) -> String {
        let strings = self.locale.strings();
        match author {
            Author::Customer => strings.you.to_string(),
            Author::Bot => self.bot_name.get_untracked().unwrap_or_else(|| strings.bot.to_string()),
            Author::Agent | Author::System => strings.agent.to_string(),
        }
    }
}

/// Sets `signal` only when the value differs: a set always notifies its readers, and per-message
/// events repeat values most of the time.
fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|current| *current != value) {
        signal.set(value);
    }
}

/// A human sentence for a user-facing error.
pub fn user_error_text(locale: Locale, error: &UserError) -> String {
    let strings = locale.strings();
    match error {
        UserError::MessageTooLong { .. } => strings.message_too_long.to_string(),
        UserError::CustomAttributesTooLarge => locale.error_code(4013),
        UserError::RateLimited { .. } => strings.rate_limited.to_string(),
        UserError::Forbidden { .. } => strings.forbidden.to_string(),
        UserError::AuthorizationRequired => strings.forbidden.to_string(),
        UserError::ClearConversationFailed => strings.clear_unavailable.to_string(),
        UserError::FeatureUnavailable => locale.error_code(4000),
        UserError::HistoryUnavailable { .. } => strings.history_failed.to_string(),
        UserError::Server { code, .. } => locale.error_code(*code),
    }
}

/// The engine's `ConnectionState::Error` code while the customer must sign in again.
pub const SIGN_IN_REQUIRED: u32 = 6001;

/// The `data-state` of the status element for a connection state.
pub fn status_key(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::Idle | ConnectionState::Connecting => "connecting",
        ConnectionState::Connected => "connected",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::Closed { reason: CloseReason::LoggedOut } => "signed-out",
        ConnectionState::Closed { reason: CloseReason::SignedIn } => "signed-in-elsewhere",
        ConnectionState::Offline | ConnectionState::Closed { .. } => "offline",
        ConnectionState::ReadOnly => "read-only",
        ConnectionState::Expired => "expired",
        ConnectionState::Error { code: SIGN_IN_REQUIRED, .. } => "sign-in-required",
        ConnectionState::Error { .. } => "error",
    }
}

/// The human status line for a connection state.
pub fn status_text(locale: Locale, state: &ConnectionState, now: u64) -> String {
    let strings = locale.strings();
    match state {
        ConnectionState::Idle | ConnectionState::Connecting => strings.connecting.to_string(),
        ConnectionState::Connected => strings.connected.to_string(),
        ConnectionState::Reconnecting { next_attempt_at: Some(at), .. } if at.0 > now => {
            locale.reconnecting_in((at.0 - now).div_ceil(1000))
        }
        ConnectionState::Reconnecting { .. } => strings.reconnecting.to_string(),
        ConnectionState::Closed { reason: CloseReason::LoggedOut } => strings.signed_out.to_string(),
        ConnectionState::Closed { reason: CloseReason::SignedIn } => strings.signed_in_elsewhere.to_string(),
        ConnectionState::Offline | ConnectionState::Closed { .. } => strings.offline.to_string(),
        ConnectionState::ReadOnly => strings.read_only.to_string(),
        ConnectionState::Expired => strings.expired.to_string(),
        ConnectionState::Error { code, .. } => match code {
            &SIGN_IN_REQUIRED => strings.sign_in_again.to_string(),
            4006 => strings.expired.to_string(),
            4007 => strings.session_not_found.to_string(),
            1002 | 403 => strings.forbidden.to_string(),
            _ => format!("{} {}", strings.error, locale.error_code(*code)),
        },
    }
}

/// A message row for the crate's unit tests: `author`'s, from "Ada", saying "text of {key}",
/// its direction as on the wire for that author. Tests override the fields they look at.
#[cfg(test)]
pub(crate) fn test_entry(key: &str, author: Author, status: threadline_core::session::DeliveryStatus) -> TranscriptEntry {
    use threadline_core::session::Direction;
    TranscriptEntry {
        key: EntryKey(key.into()),
        message_id: None,
        order: OrderKey { time_ms: 1, seq: 1 },
        direction: if author == Author::Customer { Direction::Inbound } else { Direction::Outbound },
        author,
        display_name: Some("Ada".into()),
        avatar_url: None,
        text: format!("text of {key}"),
        content: Vec::new(),
        status,
        time: Some(UnixMillis(1_700_000_000_000)),
        kind: EntryKind::Message,
    }
}
