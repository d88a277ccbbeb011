//! Error codes the server sends, and the errors of decoding a frame.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! error_codes {
    ( $( $(#[$meta:meta])* $variant:ident = $code:literal, )* ) => {
        /// A server error code (SPEC §5): the `code` of a `class:"string"` frame, or `errorCode`
        /// in attachment and rate-limit bodies. Codes this version does not know are kept in
        /// [`ErrorCode::Other`], never rejected.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$meta])* $variant, )*
            /// Any other code, kept verbatim.
            Other(u32),
        }

        impl ErrorCode {
            /// Maps a numeric code to its variant (unknown codes become `Other`).
            pub const fn from_u32(code: u32) -> Self {
                match code {
                    $( $code => Self::$variant, )*
                    other => Self::Other(other),
                }
            }

            /// The numeric code on the wire.
            pub const fn as_u32(self) -> u32 {
                match self {
                    $( Self::$variant => $code, )*
                    Self::Other(other) => other,
                }
            }
        }
    };
}

error_codes! {
    /// 400: generic client error ("Request failed.").
    BadRequest = 400,
    /// 401: auth JWT expired or invalid on `configureAuthenticatedSession`.
    Unauthorized = 401,
    /// 403: forbidden (feature toggle, auth failure, clear not supported…; see the text helpers).
    Forbidden = 403,
    /// 404: not found.
    NotFound = 404,
    /// 408: request timeout.
    RequestTimeout = 408,
    /// 429: too many requests (HTTP-style code).
    TooManyRequests = 429,
    /// 500: internal server error.
    InternalServerError = 500,
    /// 4000: feature unavailable.
    FeatureUnavailable = 4000,
    /// 4001: attachment file type not allowed.
    FileTypeInvalid = 4001,
    /// 4002: attachment file size not allowed.
    FileSizeInvalid = 4002,
    /// 4003: attachment content rejected (malware, mismatched type).
    FileContentInvalid = 4003,
    /// 4004: attachment file name invalid.
    FileNameInvalid = 4004,
    /// 4005: attachment file name too long.
    FileNameTooLong = 4005,
    /// 4006: the session has expired. Terminal.
    SessionHasExpired = 4006,
    /// 4007: the session was not found. Terminal.
    SessionNotFound = 4007,
    /// 4008: the attachment has expired.
    AttachmentHasExpired = 4008,
    /// 4009: the attachment was not found.
    AttachmentNotFound = 4009,
    /// 4010: the attachment was not successfully uploaded.
    AttachmentNotSuccessfullyUploaded = 4010,
    /// 4011: message text too long; the pending message failed.
    MessageTooLong = 4011,
    /// 4013: custom attributes too large; the pending message failed, attributes are dropped.
    CustomAttributeSizeTooLarge = 4013,
    /// 4017: a token that was authenticated cannot be configured as a guest. Terminal.
    CannotDowngradeToUnauthenticated = 4017,
    /// 4020: a required request parameter is missing.
    MissingParameter = 4020,
    /// 4029: request rate too high (in `TooManyRequestsErrorMessage`).
    RequestRateTooHigh = 4029,
    /// 5000: unexpected server error.
    UnexpectedError = 5000,
}

impl ErrorCode {
    /// True for codes after which the session is dead and reconnecting is pointless:
    /// 4006 (expired), 4007 (not found), 4017 (cannot downgrade).
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::SessionHasExpired
                | Self::SessionNotFound
                | Self::CannotDowngradeToUnauthenticated
        )
    }

    /// True for the attachment codes 4001–4005 that put an upload into its error state.
    pub const fn is_attachment_rejection(self) -> bool {
        matches!(self.as_u32(), 4001..=4005)
    }

    /// True for 3-digit HTTP-style codes (3xx/4xx/5xx), which follow the generic rules of SPEC §5.
    pub const fn is_http_status(self) -> bool {
        matches!(self.as_u32(), 300..=599)
    }
}

impl From<u32> for ErrorCode {
    fn from(code: u32) -> Self {
        Self::from_u32(code)
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> Self {
        code.as_u32()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_u32())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.as_u32())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u32::deserialize(deserializer).map(Self::from_u32)
    }
}

/// Server text of a 403 that means "authentication was revoked, authorize again" (SPEC §5 rule 1):
/// the body starts with `Session authentication failed` or `Try to authenticate again`, ignoring
/// case and leading whitespace.
pub fn is_auth_failure_text(text: &str) -> bool {
    const PREFIXES: [&str; 2] = ["session authentication failed", "try to authenticate again"];
    let text = text.trim_start();
    PREFIXES.iter().any(|prefix| {
        text.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    })
}

/// Server text reporting that clearing the conversation failed: contains `Conversation Clear`,
/// ignoring case (SPEC §5 rule 3).
pub fn is_clear_conversation_failure_text(text: &str) -> bool {
    const NEEDLE: &[u8] = b"conversation clear";
    text.as_bytes()
        .windows(NEEDLE.len())
        .any(|window| window.eq_ignore_ascii_case(NEEDLE))
}

/// Why a frame or body could not be decoded. Every variant names what the *peer* sent wrong;
/// none of them is a bug on our side.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The peer sent text that is not JSON (or is truncated).
    #[error("peer sent malformed JSON: {0}")]
    MalformedJson(String),
    /// The peer sent JSON that is not an object where a frame object was expected.
    #[error("peer sent a JSON {found} where a frame object was expected")]
    NotAnObject {
        /// The JSON kind found instead (`array`, `string`, `null`, …).
        found: &'static str,
    },
    /// The peer sent an input larger than [`crate::protocol::MAX_FRAME_BYTES`].
    #[error("peer sent {size} bytes, over the {limit}-byte frame limit")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// The peer sent a client action this version does not know (gateway: answer 400).
    #[error("peer sent unknown action `{0}`")]
    UnknownAction(String),
    /// A required field is absent (gateway: answer 4020 MissingParameter). Nested fields are
    /// named with dots, e.g. `message.type`.
    #[error("peer omitted required field `{0}`")]
    MissingField(String),
    /// A field is present but has the wrong type or shape.
    #[error("peer sent field `{field}` with the wrong shape: {detail}")]
    InvalidField {
        /// The field (or `body` / a class name) whose shape is wrong.
        field: String,
        /// What the JSON decoder reported.
        detail: String,
    },
}

impl DecodeError {
    /// The error code a server answers with for this client error (SPEC §5):
    /// 4020 for a missing parameter, 400 for everything else.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::MissingField(_) => ErrorCode::MissingParameter,
            _ => ErrorCode::BadRequest,
        }
    }

    /// Maps a serde_json error raised while decoding `field` to the most specific variant.
    pub(crate) fn from_serde(field: &str, error: serde_json::Error) -> Self {
        let detail = error.to_string();
        // serde reports absent required fields as "missing field `name`"; surface the name.
        if let Some(rest) = detail.strip_prefix("missing field `") {
            if let Some(name) = rest.split('`').next() {
                let qualified = if field.is_empty() {
                    name.to_owned()
                } else {
                    format!("{field}.{name}")
                };
                return Self::MissingField(qualified);
            }
        }
        Self::InvalidField {
            field: field.to_owned(),
            detail,
        }
    }
}

/// Parses `text` as JSON after refusing input over `limit` bytes, so an oversized frame or body
/// never reaches the parser.
pub(crate) fn parse_bounded(text: &str, limit: usize) -> Result<serde_json::Value, DecodeError> {
    if text.len() > limit {
        return Err(DecodeError::TooLarge {
            size: text.len(),
            limit,
        });
    }
    serde_json::from_str(text).map_err(|error| DecodeError::MalformedJson(error.to_string()))
}

/// The JSON kind of a value, for error messages.
pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}
