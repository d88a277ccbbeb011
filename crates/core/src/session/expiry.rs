//! Guest session TTL (SPEC §7): when the server will expire an idle session, when to warn, and
//! when to ask the server whether it really did.
//!
//! All deadlines are computed from the expected expiry and compared with the `now` passed in, so
//! a timer that fires a minute late (background tab) still takes every step it missed, once.

use crate::time::UnixMillis;

/// Timing knobs (copied from `SessionConfig`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TtlPolicy {
    pub notice_ms: u64,
    pub precheck_ms: u64,
    pub confirm_delay_ms: u64,
}

/// What the engine must do because of the TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TtlAction {
    /// Ask the server (an `echo`, within the shared cooldown).
    RequestEcho,
    /// Show the "expiring soon" notice for this expiry.
    Notify(UnixMillis),
    /// The deadline passed with no socket to confirm it: the session is gone.
    ExpireLocally,
}

/// What changed when a new expiry estimate arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TtlChange {
    /// The estimate moved (emit `ExpiryKnown`).
    pub moved: bool,
    /// A visible notice no longer applies (emit `ExpiringCancelled`).
    pub notice_cancelled: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Ttl {
    duration_ms: Option<u64>,
    expires_at: Option<UnixMillis>,
    notice_shown: bool,
    /// The expiry for which the pre-notice echo was already requested.
    precheck_done_for: Option<UnixMillis>,
    /// The expiry for which the confirming echo was already requested.
    confirm_done_for: Option<UnixMillis>,
}

impl Ttl {
    pub(crate) fn expires_at(&self) -> Option<UnixMillis> {
        self.expires_at
    }

    pub(crate) fn duration_secs(&self) -> Option<u64> {
        self.duration_ms.map(|ms| ms / 1000)
    }

    pub(crate) fn notice_shown(&self) -> bool {
        self.notice_shown
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// The server stated the TTL (`SessionResponse`, echo metadata). An expiration date that is
    /// not in the future is replaced by `now + duration`: the server answered, so the session is
    /// alive.
    pub(crate) fn server_says(&mut self, duration_secs: Option<u64>, expiration: Option<UnixMillis>, now: UnixMillis, policy: &TtlPolicy) -> TtlChange {
        if let Some(secs) = duration_secs.filter(|secs| *secs > 0) {
            self.duration_ms = Some(secs.saturating_mul(1000));
        }
        let estimate = match expiration.filter(|at| *at > now) {
            Some(at) => Some(at),
            None => self.duration_ms.map(|ms| now.saturating_add_ms(ms)),
        };
        match estimate {
            Some(at) => self.move_to(at, now, policy),
            None => TtlChange::default(),
        }
    }

    /// A message was sent or received: the inactivity timer restarts.
    pub(crate) fn activity(&mut self, now: UnixMillis, policy: &TtlPolicy) -> TtlChange {
        match self.duration_ms {
            Some(ms) => self.move_to(now.saturating_add_ms(ms), now, policy),
            None => TtlChange::default(),
        }
    }

    fn move_to(&mut self, at: UnixMillis, now: UnixMillis, policy: &TtlPolicy) -> TtlChange {
        if self.expires_at == Some(at) {
            return TtlChange::default();
        }
        self.expires_at = Some(at);
        let notice_cancelled = self.notice_shown && now < at.saturating_sub_ms(policy.notice_ms);
        if notice_cancelled {
            self.notice_shown = false;
        }
        TtlChange { moved: true, notice_cancelled }
    }

    /// The next moment `on_timeout` has something to do. `socket_ready`: a configured socket
    /// can carry an echo right now.
    pub(crate) fn next_deadline(&self, socket_ready: bool, policy: &TtlPolicy) -> Option<UnixMillis> {
        let expires_at = self.expires_at?;
        let notice_at = expires_at.saturating_sub_ms(policy.notice_ms);
        let mut next: Option<UnixMillis> = None;
        let mut consider = |at: UnixMillis| next = Some(next.map_or(at, |current: UnixMillis| current.min(at)));
        if !self.notice_shown {
            if socket_ready && self.precheck_done_for != Some(expires_at) {
                consider(notice_at.saturating_sub_ms(policy.precheck_ms));
            }
            consider(notice_at);
        }
        if socket_ready {
            if self.confirm_done_for != Some(expires_at) {
                consider(expires_at.saturating_add_ms(policy.confirm_delay_ms));
            }
        } else {
            consider(expires_at);
        }
        next
    }

    /// Everything that is due at `now`, in order.
    pub(crate) fn on_timeout(&mut self, now: UnixMillis, socket_ready: bool, policy: &TtlPolicy) -> Vec<TtlAction> {
        let mut actions = Vec::new();
        let Some(expires_at) = self.expires_at else { return actions };
        let notice_at = expires_at.saturating_sub_ms(policy.notice_ms);
        if !self.notice_shown {
            if socket_ready && self.precheck_done_for != Some(expires_at) && now >= notice_at.saturating_sub_ms(policy.precheck_ms) {
                self.precheck_done_for = Some(expires_at);
                actions.push(TtlAction::RequestEcho);
            }
            if now >= notice_at {
                // Mark it shown even when it is too late to show: one notice per expiry.
                self.notice_shown = true;
                if now < expires_at {
                    actions.push(TtlAction::Notify(expires_at));
                }
            }
        }
        if now >= expires_at {
            if !socket_ready {
                actions.push(TtlAction::ExpireLocally);
            } else if self.confirm_done_for != Some(expires_at) && now >= expires_at.saturating_add_ms(policy.confirm_delay_ms) {
                self.confirm_done_for = Some(expires_at);
                if !actions.contains(&TtlAction::RequestEcho) {
                    actions.push(TtlAction::RequestEcho);
                }
            }
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: TtlPolicy = TtlPolicy { notice_ms: 300_000, precheck_ms: 10_000, confirm_delay_ms: 2_000 };

    #[test]
    fn late_timer_takes_each_step_once() {
        let mut ttl = Ttl::default();
        let change = ttl.server_says(Some(3600), Some(UnixMillis(3_600_000)), UnixMillis(0), &POLICY);
        assert!(change.moved);
        assert_eq!(ttl.next_deadline(true, &POLICY), Some(UnixMillis(3_290_000)));
        // Fires 60 s after the expiry: no notice any more, one confirming echo.
        let actions = ttl.on_timeout(UnixMillis(3_660_000), true, &POLICY);
        assert_eq!(actions, [TtlAction::RequestEcho]);
        assert!(ttl.on_timeout(UnixMillis(3_661_000), true, &POLICY).is_empty());
        assert_eq!(ttl.on_timeout(UnixMillis(3_662_000), false, &POLICY), [TtlAction::ExpireLocally]);
    }

    #[test]
    fn activity_cancels_a_visible_notice() {
        let mut ttl = Ttl::default();
        ttl.server_says(Some(600), None, UnixMillis(0), &POLICY);
        assert_eq!(ttl.on_timeout(UnixMillis(290_000), true, &POLICY), [TtlAction::RequestEcho]);
        assert_eq!(ttl.on_timeout(UnixMillis(300_000), true, &POLICY), [TtlAction::Notify(UnixMillis(600_000))]);
        let change = ttl.activity(UnixMillis(310_000), &POLICY);
        assert_eq!(change, TtlChange { moved: true, notice_cancelled: true });
        assert!(!ttl.notice_shown());
    }
}
