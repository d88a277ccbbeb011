//! The one integration-test binary of threadline-core.
//!
//! - `wire`: every shared frame fixture decodes or round-trips; snapshots of the wire types;
//!   malformed input never panics.
//! - `harness` + `scenarios`: the session engine driven in virtual time, as stories.
//! - `auth`: authenticated sessions, custom attributes, date picker (stories, scripted).
//! - `properties`: the engine against an in-memory model server under random schedules.
//! - `fuzz_stable`: stable-toolchain fuzzing of every decoder and the markdown parser.
//! - `hostile`: the hostile-input corpus (`tests/corpus/hostile.json`) in every text slot.

mod auth;
mod fuzz_stable;
mod harness;
mod hostile;
mod properties;
mod scenarios;
mod wire;
