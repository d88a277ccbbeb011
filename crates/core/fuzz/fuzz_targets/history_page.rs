//! History pages: `HistoryPage::from_json` never panics; a decoded page round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threadline_fuzz::oracles;

fuzz_target!(|data: &[u8]| {
    // The decoders take text (a WebSocket text frame or an HTTP body is always UTF-8 by the
    // time it reaches them), so invalid bytes become U+FFFD instead of being skipped.
    let text = String::from_utf8_lossy(data);
    oracles::history_page(&text);
});
