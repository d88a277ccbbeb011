//! Guest sessions and conversations as plain data, plus the small rules that act on them
//! (inactivity expiry, rate limiting). No IO here: time is passed in.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::deployment::DeploymentSettings;

/// Identifies a live WebSocket connection inside the gateway.
pub type SocketId = u64;

/// One guest session: a token within one deployment. A token never crosses deployments.
#[derive(Clone, Debug)]
pub struct Session {
    /// Changes when `startNew` replaces the session; history is kept per session id.
    pub session_id: String,
    pub deployment_id: String,
    pub token: String,
    pub conversation_id: String,
    /// Settings snapshot taken when the session started: config changes affect new sessions only.
    pub settings: DeploymentSettings,
    pub created_ms: u64,
    pub last_active_ms: u64,
    pub expires_ms: u64,
    pub read_only: bool,
    pub expired: bool,
    pub authenticated: bool,
    /// The signed-in customer (`sub` of the auth JWT) of an authenticated session.
    pub user: Option<String>,
    /// Custom attributes received so far (their byte total is capped by `maxCustomDataBytes`).
    pub custom_attributes: BTreeMap<String, String>,
    /// Live sockets configured with this token, oldest first (not persisted).
    pub sockets: Vec<SocketId>,
    /// Send instants inside the current rate window (not persisted).
    pub recent_sends: VecDeque<u64>,
}

impl Session {
    /// The inactivity TTL this session started with, in seconds.
    pub fn duration_seconds(&self) -> u64 {
        self.settings.ttl_seconds()
    }

    /// Whether the session is (or by now should be) expired.
    pub fn is_expired_at(&self, now_ms: u64) -> bool {
        self.expired || now_ms >= self.expires_ms
    }

    /// Activity pushes the expiry to `now + TTL`.
    pub fn touch(&mut self, now_ms: u64) {
        self.last_active_ms = now_ms;
        self.expires_ms = now_ms.saturating_add(self.duration_seconds().saturating_mul(1000));
    }

    /// Expiry as epoch seconds (`expirationDate` on the wire).
    pub fn expiration_epoch_seconds(&self) -> u64 {
        self.expires_ms / 1000
    }

    /// State name used by the control API.
    pub fn state_name(&self, now_ms: u64) -> &'static str {
        if self.is_expired_at(now_ms) {
            "expired"
        } else if self.read_only {
            "readOnly"
        } else {
            "active"
        }
    }

    /// Total UTF-8 bytes of all custom attribute keys and values.
    pub fn custom_attribute_bytes(attributes: &BTreeMap<String, String>) -> usize {
        attributes
            .iter()
            .map(|(key, value)| key.len() + value.len())
            .sum()
    }
}

/// Conversation routing state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ConversationState {
    /// Waiting for an agent.
    Queued,
    /// An agent has answered.
    Agent,
    /// Disconnected by the agent (rejoined when the customer writes again).
    Ended,
}

impl ConversationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Queued => "queued",
            ConversationState::Agent => "agent",
            ConversationState::Ended => "ended",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "agent" => ConversationState::Agent,
            "ended" => ConversationState::Ended,
            _ => ConversationState::Queued,
        }
    }
}

/// A conversation between one guest session and the contact centre.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub id: String,
    pub deployment_id: String,
    pub token: String,
    pub session_id: String,
    pub state: ConversationState,
    /// The agent who last answered (kept across an end so a rejoin goes back to them).
    pub agent: Option<String>,
    pub queue: String,
    pub created_ms: u64,
    pub ended_ms: Option<u64>,
    pub last_activity_ms: u64,
    /// The signed-in customer, if the conversation belongs to one (earlier conversations and
    /// curated retention are found through it).
    pub user: Option<String>,
}

/// A sliding-window rate limit on guest messages.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    pub max_messages: usize,
    pub window_ms: u64,
}

impl Default for RateLimit {
    /// Generous, so ordinary tests never trip it.
    fn default() -> Self {
        Self {
            max_messages: 20,
            window_ms: 10_000,
        }
    }
}

impl RateLimit {
    /// Records a send at `now`; `Err(retry_after_seconds)` if over the limit (not recorded).
    pub fn admit(&self, recent: &mut VecDeque<u64>, now_ms: u64) -> Result<(), u64> {
        while recent
            .front()
            .is_some_and(|sent| now_ms.saturating_sub(*sent) >= self.window_ms)
        {
            recent.pop_front();
        }
        if recent.len() >= self.max_messages {
            let oldest = recent.front().copied().unwrap_or(now_ms);
            let wait_ms = (oldest + self.window_ms).saturating_sub(now_ms);
            return Err(wait_ms.div_ceil(1000).max(1));
        }
        recent.push_back(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_window_slides() {
        let limit = RateLimit {
            max_messages: 2,
            window_ms: 1000,
        };
        let mut recent = VecDeque::new();
        assert!(limit.admit(&mut recent, 0).is_ok());
        assert!(limit.admit(&mut recent, 100).is_ok());
        assert_eq!(limit.admit(&mut recent, 200), Err(1));
        assert!(limit.admit(&mut recent, 1000).is_ok());
    }
}
