//! Server frame envelopes (SPEC §2.2, §4) built as JSON text.
//!
//! Frames are assembled here and nowhere else so every class keeps one exact shape.

use serde::Serialize;
use serde_json::{json, Value};

/// The envelope every server frame shares, serialised straight from borrowed parts (no copy
/// of the body tree, which matters on the echo path).
#[derive(Serialize)]
struct Envelope<'a, B: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    class: &'a str,
    code: u16,
    body: &'a B,
    #[serde(rename = "tracingId", skip_serializing_if = "Option::is_none")]
    tracing_id: Option<&'a str>,
}

fn envelope_of<B: Serialize>(
    kind: &str,
    class: &str,
    code: u16,
    body: &B,
    tracing_id: Option<&str>,
) -> String {
    let frame = Envelope {
        kind,
        class,
        code,
        body,
        tracing_id,
    };
    // Serialising JSON values and plain structs into a String cannot fail (no I/O, no
    // non-string map keys); should it ever, the peer gets a well-formed 500 instead.
    serde_json::to_string(&frame).unwrap_or_else(|error| {
        tracing::error!(%error, class, "cannot serialise a server frame");
        format!(r#"{{"type":"response","class":"string","code":500,"body":"{}"}}"#, text::SERVER_ERROR)
    })
}

/// `{"type", "class", "code", "body", "tracingId"?}` as text.
pub fn envelope(
    kind: &str,
    class: &str,
    code: u16,
    body: Value,
    tracing_id: Option<&str>,
) -> String {
    envelope_of(kind, class, code, &body, tracing_id)
}

/// A `string` error frame: `code` plus a human-readable body.
pub fn error_string(code: u16, message: &str, tracing_id: Option<&str>) -> String {
    envelope("response", "string", code, Value::from(message), tracing_id)
}

/// `TooManyRequestsErrorMessage` (429 / 4029).
pub fn too_many_requests(retry_after_seconds: u64, tracing_id: Option<&str>) -> String {
    envelope(
        "response",
        "TooManyRequestsErrorMessage",
        429,
        json!({"retryAfter": retry_after_seconds, "errorCode": 4029, "errorMessage": "Message rate too high for this session"}),
        tracing_id,
    )
}

/// An event with an empty (or tiny) body, e.g. `SessionExpiredEvent`.
pub fn event(class: &str, body: Value, tracing_id: Option<&str>) -> String {
    envelope("message", class, 200, body, tracing_id)
}

/// A `StructuredMessage` push (`type:"message"`).
pub fn structured_message(body: &Value, tracing_id: Option<&str>) -> String {
    envelope_of("message", "StructuredMessage", 200, body, tracing_id)
}

/// A `StructuredMessage` answer (`type:"response"`, e.g. the echo reply).
pub fn structured_response(body: &Value, tracing_id: Option<&str>) -> String {
    envelope_of("response", "StructuredMessage", 200, body, tracing_id)
}

/// What an `echo` answer carries (SPEC §3.4): the guest's text back, plus the session's TTL
/// and expiry as strings.
pub struct EchoReply<'a> {
    pub id: &'a str,
    pub text: &'a str,
    pub time: &'a str,
    pub duration_seconds: u64,
    pub expiration_epoch_seconds: u64,
}

/// The echo answer (`type:"response"`, `StructuredMessage`), built without a JSON tree.
pub fn echo_response(reply: &EchoReply<'_>, tracing_id: Option<&str>) -> String {
    #[derive(Serialize)]
    struct Channel<'a> {
        time: &'a str,
        #[serde(rename = "messageId")]
        message_id: &'a str,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Metadata {
        duration_seconds: String,
        expiration_date: String,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        id: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        text: &'a str,
        direction: &'a str,
        channel: Channel<'a>,
        metadata: Metadata,
    }
    let body = Body {
        id: reply.id,
        kind: "Text",
        text: reply.text,
        direction: "Inbound",
        channel: Channel {
            time: reply.time,
            message_id: reply.id,
        },
        metadata: Metadata {
            duration_seconds: reply.duration_seconds.to_string(),
            expiration_date: reply.expiration_epoch_seconds.to_string(),
        },
    };
    envelope_of("response", "StructuredMessage", 200, &body, tracing_id)
}

/// Error strings used in more than one place (SPEC §5 texts where the spec gives them).
pub mod text {
    pub const REQUEST_FAILED: &str = "Request failed.";
    pub const FEATURE_TOGGLE: &str = "Turn on the Feature Toggle or fix the configuration.";
    pub const CLEAR_NOT_SUPPORTED: &str = "Presence events Conversation Clear are not supported";
    pub const SESSION_EXPIRED: &str = "Session has expired.";
    pub const SESSION_NOT_FOUND: &str =
        "Session not found. Configure a session on this connection first.";
    pub const CANNOT_DOWNGRADE: &str =
        "Cannot downgrade an authenticated session to an unauthenticated one.";
    pub const SERVER_ERROR: &str = "Internal server error.";
    /// 401 on `configureAuthenticatedSession`: the client refreshes its JWT and retries.
    pub const AUTH_EXPIRED: &str = "The authentication token has expired.";
    /// Prefix of the 403 that sends the client back to sign-in (SPEC §5 rule 1).
    pub const AUTH_FAILED: &str = "Session authentication failed";
}
