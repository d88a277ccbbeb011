//! The engine's single timer: armed at its next deadline, replaced on every drain.

use gloo_timers::callback::Timeout;
use threadline_core::time::UnixMillis;

/// Browsers treat delays above 2^31-1 ms as 0; longer waits are re-armed when they fire.
const MAX_DELAY_MS: u64 = i32::MAX as u64;

/// One pending timeout at most; dropping it cancels it.
#[derive(Default)]
pub struct EngineTimer {
    pending: Option<Timeout>,
}

impl EngineTimer {
    /// Replaces any pending timeout with one at `deadline` (or none).
    pub fn arm(&mut self, deadline: Option<UnixMillis>, now: UnixMillis, on_fire: impl FnOnce() + 'static) {
        self.pending = deadline.map(|deadline| {
            let delay = now.until(deadline).min(MAX_DELAY_MS);
            // `delay` is at most i32::MAX, so it fits u32.
            Timeout::new(delay as u32, on_fire)
        });
    }

    /// Cancels the pending timeout.
    pub fn cancel(&mut self) {
        self.pending = None;
    }
}
