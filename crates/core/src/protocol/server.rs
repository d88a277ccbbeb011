//! Server → client frames (SPEC §2.2, §4): `{type, class, code, body, tracingId?}`.
//!
//! Dispatch is on `class` only. The envelope `type` (`response` / `message`) is kept so frames
//! re-encode faithfully, but nothing branches on it. Unknown classes decode to
//! [`FrameKind::Unknown`] with the body kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::error::{
    is_auth_failure_text, is_clear_conversation_failure_text, json_kind, parse_bounded, DecodeError,
    ErrorCode,
};
use super::ids::{AttachmentId, TracingId};
use super::lenient::{null_as_default, opt_u64, value_as_u64};
use super::message::Message;
use super::time::{EpochSeconds, IsoTime};
use super::{HEALTH_CHECK_TRACING_ID, MAX_FRAME_BYTES};

wire_enum! {
    /// The envelope `type`. Informational only: never dispatch on it (fixtures show some
    /// classes with either value).
    pub enum EnvelopeType {
        /// A direct answer to a request.
        Response => "response",
        /// An unsolicited push.
        Message => "message",
    }
}

/// One server frame: envelope fields plus the class-specific payload.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerFrame {
    /// Envelope `type`, if present (kept, never dispatched on).
    pub envelope_type: Option<EnvelopeType>,
    /// Envelope `code`: 200 for most frames, 429 for `TooManyRequestsErrorMessage`, the error
    /// code for `class:"string"`. For [`FrameKind::Error`] the variant's code is authoritative
    /// when encoding.
    pub code: u32,
    /// Top-level `tracingId` (copied from the request that caused the frame).
    pub tracing_id: Option<TracingId>,
    /// The payload, chosen by `class`.
    pub kind: FrameKind,
}

/// The class-specific payload of a [`ServerFrame`].
// Unboxed on purpose, like `ClientAction`: frames are short-lived and matched often.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum FrameKind {
    /// `SessionResponse`.
    SessionResponse(SessionResponse),
    /// `StructuredMessage`: a message or event (echo, agent text, typing, presence…).
    StructuredMessage(Message),
    /// `string`: an error with a human-readable body.
    Error {
        /// The error code (envelope `code`).
        code: ErrorCode,
        /// The body text. Never branch on it except via the documented helpers.
        text: String,
    },
    /// `TooManyRequestsErrorMessage` (code 429).
    TooManyRequests(TooManyRequests),
    /// `SessionExpiredEvent`: the session is dead.
    SessionExpired,
    /// `ConnectionClosedEvent`: the server is about to drop this connection; do not reconnect.
    ConnectionClosed(ConnectionClosed),
    /// `LogoutEvent`: the authenticated session logged out.
    Logout,
    /// `SessionClearedEvent`: the conversation was cleared.
    SessionCleared,
    /// `JwtResponse`.
    Jwt(JwtResponse),
    /// `PresignedUrlResponse`: upload grant or refreshed download URL.
    PresignedUrl(PresignedUrl),
    /// `UploadSuccessEvent`.
    UploadSuccess(UploadSuccess),
    /// `UploadFailureEvent`.
    UploadFailure(AttachmentError),
    /// `GenerateUrlError`.
    GenerateUrlError(AttachmentError),
    /// `AttachmentDeletedResponse`.
    AttachmentDeleted(AttachmentDeleted),
    /// `GetConfigurationResponse`.
    GetConfiguration(GetConfigurationResponse),
    /// Any other class; log and ignore.
    Unknown {
        /// The `class` string.
        class: String,
        /// The body as received (`null` if absent).
        raw: Value,
    },
}

impl FrameKind {
    /// The `class` string of this payload.
    pub fn class_name(&self) -> &str {
        match self {
            Self::SessionResponse(_) => "SessionResponse",
            Self::StructuredMessage(_) => "StructuredMessage",
            Self::Error { .. } => "string",
            Self::TooManyRequests(_) => "TooManyRequestsErrorMessage",
            Self::SessionExpired => "SessionExpiredEvent",
            Self::ConnectionClosed(_) => "ConnectionClosedEvent",
            Self::Logout => "LogoutEvent",
            Self::SessionCleared => "SessionClearedEvent",
            Self::Jwt(_) => "JwtResponse",
            Self::PresignedUrl(_) => "PresignedUrlResponse",
            Self::UploadSuccess(_) => "UploadSuccessEvent",
            Self::UploadFailure(_) => "UploadFailureEvent",
            Self::GenerateUrlError(_) => "GenerateUrlError",
            Self::AttachmentDeleted(_) => "AttachmentDeletedResponse",
            Self::GetConfiguration(_) => "GetConfigurationResponse",
            Self::Unknown { class, .. } => class,
        }
    }

    /// The envelope `code` a server sends with this payload.
    pub fn default_code(&self) -> u32 {
        match self {
            Self::Error { code, .. } => code.as_u32(),
            Self::TooManyRequests(_) => 429,
            _ => 200,
        }
    }

    /// The envelope `type` the real server uses for this class (fixtures).
    pub fn default_envelope_type(&self) -> EnvelopeType {
        match self {
            Self::SessionResponse(_)
            | Self::Error { .. }
            | Self::TooManyRequests(_)
            | Self::Jwt(_)
            | Self::PresignedUrl(_)
            | Self::AttachmentDeleted(_)
            | Self::GetConfiguration(_) => EnvelopeType::Response,
            _ => EnvelopeType::Message,
        }
    }

    fn body_to_value(&self) -> Value {
        fn encode<T: Serialize>(body: &T) -> Value {
            serde_json::to_value(body)
                .unwrap_or_else(|error| unreachable!("frame body encodes: {error}"))
        }
        match self {
            Self::SessionResponse(body) => encode(body),
            Self::StructuredMessage(body) => encode(body),
            Self::Error { text, .. } => Value::String(text.clone()),
            Self::TooManyRequests(body) => encode(body),
            Self::SessionExpired | Self::Logout | Self::SessionCleared => Value::Object(Map::new()),
            Self::ConnectionClosed(body) => encode(body),
            Self::Jwt(body) => encode(body),
            Self::PresignedUrl(body) => encode(body),
            Self::UploadSuccess(body) => encode(body),
            Self::UploadFailure(body) | Self::GenerateUrlError(body) => encode(body),
            Self::AttachmentDeleted(body) => encode(body),
            Self::GetConfiguration(body) => encode(body),
            Self::Unknown { raw, .. } => raw.clone(),
        }
    }
}

impl ServerFrame {
    /// A frame with the class's usual envelope type and code, without tracing id.
    pub fn new(kind: FrameKind) -> Self {
        Self {
            envelope_type: Some(kind.default_envelope_type()),
            code: kind.default_code(),
            tracing_id: None,
            kind,
        }
    }

    /// A `class:"string"` error frame.
    pub fn error(code: ErrorCode, text: impl Into<String>) -> Self {
        Self::new(FrameKind::Error {
            code,
            text: text.into(),
        })
    }

    /// Sets (or clears) the top-level `tracingId`.
    pub fn with_tracing_id(mut self, tracing_id: impl Into<Option<TracingId>>) -> Self {
        self.tracing_id = tracing_id.into();
        self
    }

    /// Overrides the envelope `type`.
    pub fn with_envelope_type(mut self, envelope_type: EnvelopeType) -> Self {
        self.envelope_type = Some(envelope_type);
        self
    }

    /// The `class` string.
    pub fn class_name(&self) -> &str {
        self.kind.class_name()
    }

    /// The error code of a `string` frame, a `TooManyRequestsErrorMessage` (its `errorCode`,
    /// else 4029), an upload failure or a URL-generation error; `None` for other frames.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match &self.kind {
            FrameKind::Error { code, .. } => Some(*code),
            FrameKind::TooManyRequests(body) => {
                Some(body.error_code.unwrap_or(ErrorCode::RequestRateTooHigh))
            }
            FrameKind::UploadFailure(body) | FrameKind::GenerateUrlError(body) => {
                Some(body.error_code)
            }
            _ => None,
        }
    }

    /// True if this frame answers a health-check `echo` (tracing id [`HEALTH_CHECK_TRACING_ID`]).
    pub fn is_health_check_answer(&self) -> bool {
        self.tracing_id
            .as_ref()
            .is_some_and(|id| id.as_str() == HEALTH_CHECK_TRACING_ID)
    }

    /// Decodes one server frame.
    ///
    /// Fails only for input over [`MAX_FRAME_BYTES`], malformed JSON, a non-object, a missing or
    /// non-string `class`, a non-numeric `code`, or a known class whose required fields are
    /// missing or mistyped. Unknown classes, keys, content, events and enum values are tolerated.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        Self::from_value(parse_bounded(text, MAX_FRAME_BYTES)?)
    }

    /// Decodes one server frame from an already parsed JSON value (see [`ServerFrame::from_json`]).
    pub fn from_value(value: Value) -> Result<Self, DecodeError> {
        let Value::Object(mut object) = value else {
            return Err(DecodeError::NotAnObject {
                found: json_kind(&value),
            });
        };
        let class = match object.remove("class") {
            None | Some(Value::Null) => return Err(DecodeError::MissingField("class".to_owned())),
            Some(Value::String(class)) => class,
            Some(other) => {
                return Err(invalid(
                    "class",
                    format!("expected a string, found {}", json_kind(&other)),
                ))
            }
        };
        let code = match object.remove("code") {
            // Only error frames need a code; everything else defaults to success.
            None | Some(Value::Null) if class != "string" => 200,
            None | Some(Value::Null) => return Err(DecodeError::MissingField("code".to_owned())),
            Some(other) => value_as_u64(&other)
                .and_then(|code| u32::try_from(code).ok())
                .ok_or_else(|| {
                    invalid(
                        "code",
                        format!("expected a non-negative integer, found {other}"),
                    )
                })?,
        };
        let envelope_type = match object.remove("type") {
            Some(Value::String(text)) => Some(EnvelopeType::from_wire(&text)),
            _ => None,
        };
        let tracing_id = match object.remove("tracingId") {
            Some(Value::String(text)) => Some(TracingId(text)),
            _ => None,
        };
        let body = object.remove("body").unwrap_or(Value::Null);
        let kind = decode_kind(class, code, body)?;
        Ok(Self {
            envelope_type,
            code,
            tracing_id,
            kind,
        })
    }

    /// Encodes the frame as a JSON value (`type` and `tracingId` omitted when absent).
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        if let Some(envelope_type) = &self.envelope_type {
            object.insert(
                "type".to_owned(),
                Value::String(envelope_type.as_str().to_owned()),
            );
        }
        object.insert(
            "class".to_owned(),
            Value::String(self.kind.class_name().to_owned()),
        );
        let code = match &self.kind {
            FrameKind::Error { code, .. } => code.as_u32(),
            _ => self.code,
        };
        object.insert("code".to_owned(), Value::from(code));
        object.insert("body".to_owned(), self.kind.body_to_value());
        if let Some(tracing_id) = &self.tracing_id {
            object.insert(
                "tracingId".to_owned(),
                Value::String(tracing_id.as_str().to_owned()),
            );
        }
        Value::Object(object)
    }

    /// Encodes the frame as compact JSON.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

fn invalid(field: &str, detail: String) -> DecodeError {
    DecodeError::InvalidField {
        field: field.to_owned(),
        detail,
    }
}

/// Bodies of event classes are `{}`; tolerate an absent body by reading it as `{}`.
fn object_body(body: Value) -> Value {
    if body.is_null() {
        Value::Object(Map::new())
    } else {
        body
    }
}

fn decode_body<T: for<'de> Deserialize<'de>>(class: &str, body: Value) -> Result<T, DecodeError> {
    let body = object_body(body);
    if !body.is_object() {
        return Err(invalid(
            &format!("{class}.body"),
            format!("expected an object, found {}", json_kind(&body)),
        ));
    }
    serde_json::from_value(body)
        .map_err(|error| DecodeError::from_serde(&format!("{class}.body"), error))
}

fn decode_kind(class: String, code: u32, body: Value) -> Result<FrameKind, DecodeError> {
    let kind = match class.as_str() {
        "SessionResponse" => FrameKind::SessionResponse(decode_body(&class, body)?),
        "StructuredMessage" => FrameKind::StructuredMessage(decode_body(&class, body)?),
        "string" => {
            let text = match body {
                Value::String(text) => text,
                Value::Null => String::new(),
                other => {
                    return Err(invalid(
                        "string.body",
                        format!("expected a string, found {}", json_kind(&other)),
                    ))
                }
            };
            FrameKind::Error {
                code: ErrorCode::from_u32(code),
                text,
            }
        }
        "TooManyRequestsErrorMessage" => FrameKind::TooManyRequests(decode_body(&class, body)?),
        "SessionExpiredEvent" => FrameKind::SessionExpired,
        "ConnectionClosedEvent" => FrameKind::ConnectionClosed(decode_body(&class, body)?),
        "LogoutEvent" => FrameKind::Logout,
        "SessionClearedEvent" => FrameKind::SessionCleared,
        "JwtResponse" => FrameKind::Jwt(decode_body(&class, body)?),
        "PresignedUrlResponse" => FrameKind::PresignedUrl(decode_body(&class, body)?),
        "UploadSuccessEvent" => FrameKind::UploadSuccess(decode_body(&class, body)?),
        "UploadFailureEvent" => FrameKind::UploadFailure(decode_body(&class, body)?),
        "GenerateUrlError" => FrameKind::GenerateUrlError(decode_body(&class, body)?),
        "AttachmentDeletedResponse" => FrameKind::AttachmentDeleted(decode_body(&class, body)?),
        "GetConfigurationResponse" => FrameKind::GetConfiguration(decode_body(&class, body)?),
        _ => FrameKind::Unknown { class, raw: body },
    };
    Ok(kind)
}

impl Serialize for ServerFrame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ServerFrame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies

/// `SessionResponse` body (SPEC §4.1). Only `connected` is required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    /// `true` = bound to a live session; `false` = answer to `closeSession`.
    pub connected: bool,
    /// Fresh session (no history).
    #[serde(default, deserialize_with = "null_as_default")]
    pub new_session: bool,
    /// Read-only (agent disconnected with type ReadOnly): history only.
    #[serde(default, deserialize_with = "null_as_default")]
    pub read_only: bool,
    /// Byte budget for custom attributes.
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_custom_data_bytes: Option<u64>,
    /// Upload whitelist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_media: Option<AllowedMedia>,
    /// Upload blacklist of extensions like `.exe`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub blocked_extensions: Vec<String>,
    /// Step-up removed an existing authenticated session elsewhere.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cleared_existing_session: bool,
    /// Inactivity TTL in seconds.
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration_seconds: Option<u64>,
    /// Current absolute expiry.
    #[serde(
        default,
        deserialize_with = "opt_epoch",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_date: Option<EpochSeconds>,
    /// JAVA only: the server already auto-started the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_started: Option<bool>,
}

impl SessionResponse {
    /// A connected response with nothing else set.
    pub fn connected(new_session: bool) -> Self {
        Self {
            connected: true,
            new_session,
            read_only: false,
            max_custom_data_bytes: None,
            allowed_media: None,
            blocked_extensions: Vec::new(),
            cleared_existing_session: false,
            duration_seconds: None,
            expiration_date: None,
            auto_started: None,
        }
    }

    /// Allowed inbound MIME types (may contain `*/*`).
    pub fn allowed_file_types(&self) -> Vec<&str> {
        self.allowed_media
            .as_ref()
            .map(AllowedMedia::file_types)
            .unwrap_or_default()
    }

    /// Inbound upload limit in KB (1000 bytes, as the SDK compares).
    pub fn max_file_size_kb(&self) -> Option<u64> {
        self.allowed_media
            .as_ref()
            .and_then(|media| media.inbound.as_ref())
            .and_then(|inbound| inbound.max_file_size_kb)
    }

    /// Attachments are enabled iff some file type is allowed and the size limit is positive.
    pub fn attachments_enabled(&self) -> bool {
        !self.allowed_file_types().is_empty() && self.max_file_size_kb().is_some_and(|kb| kb > 0)
    }
}

fn opt_epoch<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<EpochSeconds>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(super::lenient::value_as_i64(&value).map(EpochSeconds))
}

/// `allowedMedia`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowedMedia {
    /// Guest → server uploads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<InboundMedia>,
}

impl AllowedMedia {
    /// The allowed MIME types.
    pub fn file_types(&self) -> Vec<&str> {
        self.inbound
            .as_ref()
            .map(|inbound| {
                inbound
                    .file_types
                    .iter()
                    .map(|file_type| file_type.file_type.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `allowedMedia.inbound`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundMedia {
    /// Allowed MIME types.
    #[serde(default, deserialize_with = "null_as_default")]
    pub file_types: Vec<FileTypeEntry>,
    /// Size limit in KB.
    #[serde(
        rename = "maxFileSizeKB",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_file_size_kb: Option<u64>,
}

/// `allowedMedia.inbound.fileTypes[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTypeEntry {
    /// MIME type or `*/*`.
    #[serde(rename = "type")]
    pub file_type: String,
}

/// `GetConfigurationResponse` body (SPEC §3.10).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetConfigurationResponse {
    /// Upload whitelist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_media: Option<AllowedMedia>,
    /// Upload blacklist.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub blocked_extensions: Vec<String>,
    /// Byte budget for custom attributes.
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_custom_data_bytes: Option<u64>,
    /// Whether routing is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_routing_enabled: Option<bool>,
    /// Inactivity TTL in seconds.
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_duration_seconds: Option<u64>,
}

/// `TooManyRequestsErrorMessage` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TooManyRequests {
    /// Seconds to wait before retrying.
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after: Option<u64>,
    /// Usually 4029.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
    /// Human-readable text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// `ConnectionClosedEvent` body: `{}`, `{"reason":"signedIn"}` (SDK) or `{"reasonCode":…}` (JAVA).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionClosed {
    /// SDK field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Official-model field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
}

impl ConnectionClosed {
    /// `reason`, else `reasonCode`.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref().or(self.reason_code.as_deref())
    }

    /// True if the user signed in elsewhere (the guest token must be discarded).
    pub fn is_signed_in(&self) -> bool {
        self.reason()
            .is_some_and(|reason| reason.eq_ignore_ascii_case("signedIn"))
    }
}

/// `JwtResponse` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtResponse {
    /// Bearer token for the history endpoint.
    pub jwt: String,
    /// Expiry (epoch seconds).
    pub exp: EpochSeconds,
}

/// `PresignedUrlResponse` body: an upload grant, or a refreshed download URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignedUrl {
    /// The attachment.
    pub attachment_id: AttachmentId,
    /// Headers to send with the upload `PUT` (empty for a refresh).
    #[serde(default, deserialize_with = "super::lenient::string_map")]
    pub headers: BTreeMap<String, String>,
    /// Upload URL, or the new download URL.
    pub url: String,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Size in bytes.
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_size: Option<u64>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
}

impl PresignedUrl {
    /// True for an answer to `getAttachment` (empty headers and a file size), as the SDK decides.
    pub fn is_refresh(&self) -> bool {
        self.headers.is_empty() && self.file_size.is_some()
    }
}

/// `UploadSuccessEvent` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSuccess {
    /// The attachment.
    pub attachment_id: AttachmentId,
    /// Download URL of the stored file.
    #[serde(default)]
    pub download_url: String,
    /// Server time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<IsoTime>,
}

/// `UploadFailureEvent` / `GenerateUrlError` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentError {
    /// The attachment.
    pub attachment_id: AttachmentId,
    /// 4001–4005 etc.
    pub error_code: ErrorCode,
    /// Human-readable text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Server time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<IsoTime>,
}

/// `AttachmentDeletedResponse` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentDeleted {
    /// The deleted attachment.
    pub attachment_id: AttachmentId,
}

/// Convenience predicates over error frames (SPEC §5 rules).
impl FrameKind {
    /// A 403 whose text asks to authenticate again (SPEC §5 rule 1).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, Self::Error { code: ErrorCode::Forbidden, text } if is_auth_failure_text(text))
    }

    /// An error whose text reports a failed conversation clear (SPEC §5 rule 3).
    pub fn is_clear_conversation_failure(&self) -> bool {
        matches!(self, Self::Error { text, .. } if is_clear_conversation_failure_text(text))
    }
}
