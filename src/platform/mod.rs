//! Browser glue: the only code that touches `web-sys` / `js-sys`. Everything the engine needs
//! from the outside world (a socket, HTTP, storage, one timer, a clock, page lifecycle) lives
//! here behind small traits, so tests can swap the socket and HTTP for scripted ones.

pub mod auth;
pub mod clock;
pub mod dom;
pub mod driver;
pub mod http;
pub mod intl;
pub mod lifecycle;
pub mod notify;
pub mod page;
pub mod socket;
pub mod storage;
pub mod tabs;
pub mod timer;

use std::rc::Rc;

/// Something that happened on the current socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketEvent {
    /// The socket opened.
    Opened,
    /// A text frame arrived.
    Frame(String),
    /// The socket closed (`code`/`reason`/`was_clean` as the browser reports them).
    Closed { code: u16, reason: String, was_clean: bool },
    /// The socket reported an error (a close usually follows).
    Error,
}

/// Where a socket delivers its events. Called synchronously from the socket's handlers.
pub type SocketSink = Rc<dyn Fn(SocketEvent)>;

/// A WebSocket, one at a time.
pub trait Transport {
    /// Opens a socket to `url`, replacing any previous one (whose handlers are detached first).
    /// Failures to even start (bad URL, blocked by policy) are reported through `sink`.
    fn connect(&mut self, url: &str, sink: SocketSink);
    /// Sends one text frame on the current socket (dropped if there is none).
    fn send(&mut self, frame: &str);
    /// Closes the current socket and detaches its handlers; no more events come from it.
    fn close(&mut self, code: u16, reason: &str);
}

/// A finished HTTP exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// Completion callback of a GET: `Err` is a network-level failure (no HTTP status).
pub type HttpDone = Box<dyn FnOnce(Result<HttpResponse, String>)>;

/// Completion callback of an upload: the HTTP status, or a network-level failure.
pub type UploadDone = Box<dyn FnOnce(Result<u16, String>)>;

/// Upload progress in percent (0–100).
pub type UploadProgress = Box<dyn Fn(u32)>;

/// HTTP as the messenger needs it.
pub trait Http {
    /// `method url` with `Authorization: bearer {bearer}` when given and a JSON body when given.
    fn request(&self, method: &str, url: &str, bearer: Option<&str>, json_body: Option<&str>, done: HttpDone);
    /// `GET url`, with `Authorization: bearer {bearer}` when given.
    fn get(&self, url: &str, bearer: Option<&str>, done: HttpDone) {
        self.request("GET", url, bearer, None, done);
    }
    /// `PUT url` with the file's bytes and these headers, reporting progress.
    fn put_file(&self, url: &str, headers: &[(String, String)], file: &web_sys::File, progress: UploadProgress, done: UploadDone);
}
