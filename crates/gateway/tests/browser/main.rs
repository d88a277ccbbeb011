//! End-to-end tests in headless Chromium (WebDriver) against the gateway binary serving the
//! release client build. Kept apart from `tests/gateway` because these need the release client
//! (`trunk build --release`, pointed to by `THREADLINE_DIST`; `scripts/test.sh` sets it),
//! chromedriver and Chromium. They are the only tests that load the wasm-opt'ed release build,
//! so they are what catches a broken wasm-opt (a blank page).

mod harness;
// The loopback HTTP client the benchmark uses too (one implementation for both).
#[allow(dead_code)]
#[path = "../../examples/browser_bench/http.rs"]
mod loopback_http;
mod messenger;
// Shared by several test modules: tabs (open, switch, sockets) and files (PNG, attachments).
mod files;
mod windows;

mod auth;
mod chaos;
mod chaos_proxy;
mod embed;
mod faults;
mod guest;
mod people;
mod rendering;
mod resilience;
mod smoke;
mod tabs;
