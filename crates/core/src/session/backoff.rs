//! Reconnect pacing: exponential backoff with full jitter inside a fixed window.
//!
//! "Full jitter" (delay drawn uniformly from `0..=ceiling`) spreads a crowd of clients that all
//! lost the same server, instead of having them retry in lock-step. The ceiling doubles per
//! attempt from `first_ceiling_ms` up to `cap_ms`. Once the window since the outage began is
//! used up, the engine stops and waits for the user or the network (state `Offline`).

use crate::time::UnixMillis;

/// Backoff parameters (copied from `SessionConfig`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BackoffPolicy {
    /// Ceiling of the first delay (the first retry happens within this many ms).
    pub first_ceiling_ms: u64,
    /// No delay is ever longer than this.
    pub cap_ms: u64,
    /// Total time an outage may last before the engine gives up retrying on its own.
    pub window_ms: u64,
}

/// One outage: from the first failure until a `SessionResponse` proves the link healthy again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outage {
    /// When the outage began (first failed or lost socket).
    pub started_at: UnixMillis,
    /// Failed attempts so far in this outage (the loss itself counts as the first).
    pub failures: u32,
}

impl Outage {
    pub(crate) fn begin(now: UnixMillis) -> Self {
        Self { started_at: now, failures: 0 }
    }

    /// End of the retry window.
    pub(crate) fn window_end(&self, policy: &BackoffPolicy) -> UnixMillis {
        self.started_at.saturating_add_ms(policy.window_ms)
    }
}

impl BackoffPolicy {
    /// The largest delay allowed before retry number `attempt` (0-based).
    pub(crate) fn ceiling_ms(&self, attempt: u32) -> u64 {
        let factor = 1u64.checked_shl(attempt.min(40)).unwrap_or(u64::MAX);
        self.first_ceiling_ms.saturating_mul(factor).min(self.cap_ms)
    }

    /// A full-jitter delay in `0..=ceiling_ms(attempt)` from 32 random bits.
    pub(crate) fn delay_ms(&self, attempt: u32, random: u32) -> u64 {
        let ceiling = self.ceiling_ms(attempt);
        // Scale a 32-bit draw onto 0..=ceiling without modulo bias worth caring about.
        ((u128::from(random) * (u128::from(ceiling) + 1)) >> 32) as u64
    }

    /// When to retry after the failures recorded in `outage`, or `None` if that would fall
    /// outside the window (the engine then goes `Offline`).
    pub(crate) fn next_retry(&self, outage: &Outage, now: UnixMillis, random: u32) -> Option<UnixMillis> {
        let attempt = outage.failures.saturating_sub(1);
        let at = now.saturating_add_ms(self.delay_ms(attempt, random));
        (at <= outage.window_end(self)).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: BackoffPolicy = BackoffPolicy { first_ceiling_ms: 1_000, cap_ms: 30_000, window_ms: 300_000 };

    #[test]
    fn ceilings_double_then_cap() {
        let ceilings: Vec<u64> = (0..8).map(|attempt| POLICY.ceiling_ms(attempt)).collect();
        assert_eq!(ceilings, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
        assert_eq!(POLICY.ceiling_ms(u32::MAX), 30_000);
    }

    #[test]
    fn delay_covers_zero_to_ceiling() {
        assert_eq!(POLICY.delay_ms(0, 0), 0);
        assert_eq!(POLICY.delay_ms(0, u32::MAX), 1_000);
        assert_eq!(POLICY.delay_ms(10, u32::MAX), 30_000);
        assert!(POLICY.delay_ms(3, u32::MAX / 2) <= 4_001);
    }

    #[test]
    fn no_retry_past_the_window() {
        let outage = Outage { started_at: UnixMillis(0), failures: 9 };
        assert_eq!(POLICY.next_retry(&outage, UnixMillis(299_000), u32::MAX), None);
        assert_eq!(POLICY.next_retry(&outage, UnixMillis(299_000), 0), Some(UnixMillis(299_000)));
    }
}
