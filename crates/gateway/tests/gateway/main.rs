//! The gateway's socket-level integration tests: real sockets on 127.0.0.1:0 with a
//! tokio-tungstenite client. Every wait is bounded.

mod support;

mod attachments;
mod auth;
mod console;
mod control;
mod errors;
mod http;
mod lifecycle;
mod protocol;
mod restart;
