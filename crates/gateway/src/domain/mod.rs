//! The gateway's behaviour, independent of HTTP: deployments, guest sessions, conversations,
//! attachments and the rules of the Web Messaging protocol. Adapters (WebSocket, HTTP routes,
//! console) call into [`hub::Hub`]; time comes from an injectable [`crate::clock::Clock`].

pub mod attachments;
pub mod auth;
pub mod client;
pub mod deployment;
pub mod history;
pub mod hub;
pub mod idp;
pub mod session;
