//! The wall clock, read only here and handed to the engine as a value.

use threadline_core::time::UnixMillis;

/// `Date.now()` as [`UnixMillis`].
pub fn now() -> UnixMillis {
    // Date.now() is a non-negative integer number of ms (well inside f64's exact range).
    UnixMillis(js_sys::Date::now().max(0.0) as u64)
}
