//! The Genesys Cloud Web Messaging guest protocol as typed values (SPEC §2–§5, §9, §11, §12).
//!
//! Decoding is lenient in the places where servers evolve, like ruma: unknown frame classes,
//! content types, event types, presence types, message types and enum values decode into
//! `Unknown` variants, and unknown keys are ignored, so one odd part never drops a frame.
//! Decoding fails only where a frame is unusable (malformed JSON, no `class`, a known class
//! missing its required fields), with a [`DecodeError`] naming what the peer got wrong.
//!
//! Encoding never emits `null`: absent optional keys are omitted.
//!
//! Layout: [`ids`] (string newtypes), [`time`] (epoch seconds vs ISO-8601), [`error`] (error
//! codes, decode errors), [`message`] (message bodies), [`client`] (client actions),
//! [`server`] (server frames), [`config`] (config.json), [`http`] (history and auth bodies).

#[macro_use]
mod macros;
mod lenient;

pub mod client;
pub mod config;
pub mod error;
pub mod http;
pub mod ids;
pub mod message;
pub mod server;
pub mod time;

pub use client::*;
pub use config::*;
pub use error::*;
pub use http::*;
pub use ids::*;
pub use message::*;
pub use server::*;
pub use time::*;

/// The SDK's constant health-check `tracingId` (base64 of `HealthCheckMessageId`): an `echo`
/// answer carrying it is a health check, not a message to display.
pub const HEALTH_CHECK_TRACING_ID: &str = "SGVhbHRoQ2hlY2tNZXNzYWdlSWQ=";

/// Largest single WebSocket frame accepted by `from_json`: 1 MiB plus 64 KiB of envelope margin.
///
/// Real frames are a few KB; the bound keeps a hostile or buggy peer from making us buffer and
/// parse arbitrarily large input. Parsing is linear in the input (serde_json), and serde_json's
/// recursion limit (128) rejects pathological nesting with an error instead of a stack overflow.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024 + 64 * 1024;
