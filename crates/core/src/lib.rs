//! Threadline core: the Genesys Cloud Web Messaging guest protocol as typed values, and a
//! sans-IO session engine that decides everything about time and order.
//!
//! Nothing here performs IO or reads a clock: time, randomness and ids are inputs.

pub mod markdown;
pub mod protocol;
pub mod session;
pub mod time;
