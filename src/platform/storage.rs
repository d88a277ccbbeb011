//! Persistent storage of the thread token and the outbox in `localStorage`, namespaced by
//! deployment (`threadline:{deploymentId}:token`, `…:outbox`).
//!
//! When storage is blocked (privacy settings, sandboxed iframe), full, or holds values that do
//! not parse, the store falls back to memory and records a [`StorageProblem`] the UI shows: the
//! chat keeps working, it just will not survive a reload.

use std::cell::RefCell;
use std::collections::HashMap;

use threadline_core::protocol::SessionToken;
use threadline_core::session::{OutboxItem, Persisted, StorageWrite};

/// Longest token accepted from storage (SPEC §13: tokens are at most 2048 chars).
const MAX_TOKEN_CHARS: usize = 2048;
/// Longest draft kept, in bytes: far above any deployment's message limit, far below a quota.
const MAX_DRAFT_BYTES: usize = 64 * 1024;

/// Why the store is not (fully) persistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageProblem {
    /// `localStorage` is missing, blocked or full: values are kept in memory only.
    Unavailable,
    /// Stored values were unreadable and were discarded.
    Corrupt,
}

enum Backend {
    Local(web_sys::Storage),
    Memory(RefCell<HashMap<String, String>>),
}

/// Token and outbox storage for one deployment.
pub struct Store {
    backend: Backend,
    prefix: String,
    problem: Option<StorageProblem>,
}

impl Store {
    /// `localStorage` if it works (probed with a write), memory otherwise.
    pub fn browser(deployment_id: &str) -> Self {
        let prefix = format!("threadline:{deployment_id}:");
        match probe_local_storage() {
            Some(storage) => Self { backend: Backend::Local(storage), prefix, problem: None },
            None => Self { backend: Backend::Memory(RefCell::default()), prefix, problem: Some(StorageProblem::Unavailable) },
        }
    }

    /// A memory-only store with no problem reported (tests, embeds that opt out of persistence).
    pub fn memory(deployment_id: &str) -> Self {
        Self { backend: Backend::Memory(RefCell::default()), prefix: format!("threadline:{deployment_id}:"), problem: None }
    }

    /// Whether values live in `localStorage`, shared with the other tabs of this origin (the
    /// precondition for one connection per browser, `crate::tabs`).
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Local(_))
    }

    /// The current problem, if any.
    pub fn problem(&self) -> Option<StorageProblem> {
        self.problem
    }

    /// The key under which `name` is stored.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Loads the token and outbox. Unreadable values are deleted and reported as corrupt.
    pub fn load(&mut self) -> Persisted {
        let token = match self.read("token") {
            None => None,
            Some(raw) if is_plausible_token(&raw) => Some(SessionToken::new(raw)),
            Some(_) => {
                self.remove("token");
                self.note(StorageProblem::Corrupt);
                None
            }
        };
        let outbox = match self.read("outbox") {
            None => Vec::new(),
            Some(raw) => match serde_json::from_str::<Vec<OutboxItem>>(&raw) {
                Ok(items) => items,
                Err(_) => {
                    self.remove("outbox");
                    self.note(StorageProblem::Corrupt);
                    Vec::new()
                }
            },
        };
        Persisted { token, outbox }
    }

    /// Applies one write from the engine.
    pub fn write(&mut self, write: &StorageWrite) {
        match write {
            StorageWrite::Token(Some(token)) => self.store("token", token.as_str().to_string()),
            StorageWrite::Token(None) => self.remove("token"),
            StorageWrite::Outbox(items) if items.is_empty() => self.remove("outbox"),
            StorageWrite::Outbox(items) => {
                // Serialising plain strings cannot fail; if it ever did, keep the old value.
                if let Ok(json) = serde_json::to_string(items) {
                    self.store("outbox", json);
                }
            }
        }
    }

    /// What the customer typed and has not sent, kept across page loads (a customer browsing
    /// the site while chatting, a sign-in redirect).
    pub fn draft(&self) -> String {
        self.read("draft").filter(|draft| draft.len() <= MAX_DRAFT_BYTES).unwrap_or_default()
    }

    /// Keeps `text` as the draft; an empty (or blank) one removes it. A draft too long to be sent
    /// anyway is not stored, and the previous one is dropped rather than left stale.
    pub fn set_draft(&mut self, text: &str) {
        if text.trim().is_empty() || text.len() > MAX_DRAFT_BYTES {
            self.remove("draft");
        } else {
            self.store("draft", text.to_string());
        }
    }

    fn note(&mut self, problem: StorageProblem) {
        // "Unavailable" is the more important message; never downgrade it.
        if self.problem != Some(StorageProblem::Unavailable) {
            self.problem = Some(problem);
        }
    }

    fn read(&self, name: &str) -> Option<String> {
        let key = self.key(name);
        match &self.backend {
            Backend::Local(storage) => storage.get_item(&key).ok().flatten(),
            Backend::Memory(map) => map.borrow().get(&key).cloned(),
        }
    }

    fn store(&mut self, name: &str, value: String) {
        let key = self.key(name);
        if let Backend::Local(storage) = &self.backend {
            if storage.set_item(&key, &value).is_ok() {
                return;
            }
            // Quota exceeded or storage revoked: keep what we have in memory from now on.
            let mut memory = HashMap::new();
            for other in ["token", "outbox", "draft"] {
                let other_key = self.key(other);
                if let Ok(Some(existing)) = storage.get_item(&other_key) {
                    memory.insert(other_key, existing);
                }
            }
            self.backend = Backend::Memory(RefCell::new(memory));
            self.note(StorageProblem::Unavailable);
        }
        if let Backend::Memory(map) = &self.backend {
            map.borrow_mut().insert(key, value);
        }
    }

    fn remove(&mut self, name: &str) {
        let key = self.key(name);
        match &self.backend {
            Backend::Local(storage) => {
                let _ = storage.remove_item(&key);
            }
            Backend::Memory(map) => {
                map.borrow_mut().remove(&key);
            }
        }
    }
}

/// A token we would have written: non-empty, bounded, printable.
fn is_plausible_token(raw: &str) -> bool {
    !raw.is_empty() && raw.chars().count() <= MAX_TOKEN_CHARS && !raw.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// `localStorage`, if reading the property does not throw and a test value can be written and
/// read back (a store whose reads throw could never restore the chat after a reload).
fn probe_local_storage() -> Option<web_sys::Storage> {
    let storage = web_sys::window()?.local_storage().ok().flatten()?;
    let probe = "threadline:probe";
    storage.set_item(probe, "1").ok()?;
    let read_back = storage.get_item(probe).ok().flatten();
    storage.remove_item(probe).ok()?;
    (read_back.as_deref() == Some("1")).then_some(storage)
}
