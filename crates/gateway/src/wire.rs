//! Server frame envelopes (SPEC §2.2, §4) built as JSON text.
//!
//! Frames are assembled here and nowhere else so every class keeps one exact shape.

use serde_json::{json, Map, Value};

/// `{"type", "class", "code", "body", "tracingId"?}` as text.
pub fn envelope(
    kind: &str,
    class: &str,
    code: u16,
    body: Value,
    tracing_id: Option<&str>,
) -> String {
    let mut frame = Map::new();
    frame.insert("type".into(), Value::from(kind));
    frame.insert("class".into(), Value::from(class));
    frame.insert("code".into(), Value::from(code));
    frame.insert("body".into(), body);
    if let Some(tracing_id) = tracing_id {
        frame.insert("tracingId".into(), Value::from(tracing_id));
    }
    Value::Object(frame).to_string()
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
    envelope(
        "message",
        "StructuredMessage",
        200,
        body.clone(),
        tracing_id,
    )
}

/// A `StructuredMessage` answer (`type:"response"`, e.g. the echo reply).
pub fn structured_response(body: &Value, tracing_id: Option<&str>) -> String {
    envelope(
        "response",
        "StructuredMessage",
        200,
        body.clone(),
        tracing_id,
    )
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
