//! The one integration-test binary of threadline-core.
//!
//! - `wire`: every shared frame fixture decodes or round-trips; snapshots of the wire types;
//!   malformed input never panics.
//! - `harness` + `scenarios`: the session engine driven in virtual time, as stories.
//! - `auth`: authenticated sessions, custom attributes, date picker (stories, scripted).
//! - `properties`: the engine against an in-memory model server under random schedules.

mod auth;
mod harness;
mod properties;
mod scenarios;
mod wire;
