//! Time as plain values. The engine never reads a clock: drivers pass `now` in.
//!
//! `UnixMillis` is wall-clock time (milliseconds since the Unix epoch), because the session's
//! expiry (`expirationDate`, epoch seconds) and message times outlive a page reload and must be
//! comparable with what the server says. Drivers read it from `Date.now()` (browser) or
//! `SystemTime` (native); tests start wherever they like.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (wall clock), supplied by the driver.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    pub const fn saturating_add_ms(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    pub const fn saturating_sub_ms(self, ms: u64) -> Self {
        Self(self.0.saturating_sub(ms))
    }

    /// Milliseconds from `self` until `later` (0 if `later` is not after `self`).
    pub const fn until(self, later: UnixMillis) -> u64 {
        later.0.saturating_sub(self.0)
    }
}
