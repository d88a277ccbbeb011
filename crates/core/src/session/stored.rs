//! Decoding of the engine's own stored and mirrored JSON ([`OutgoingMessage`], [`FailureReason`]).
//!
//! Written by hand instead of derived: both are internally tagged enums, and serde derives those
//! by buffering into its private `Content` type and re-visiting every variant, once per
//! deserializer the app uses (storage, tab mirroring…). Going through one `serde_json::Value`
//! and one non-generic decoder keeps a single small copy in the browser build. The accepted JSON
//! is what the derived `Serialize` writes: `{"kind": …}` / `{"reason": …}` objects with
//! snake_case fields; unknown fields are ignored and optional fields may be `null` or absent.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::{FailureReason, OutgoingMessage};
use crate::protocol::{AttachmentId, MessageId};

/// The fields of one tagged object, taken out one by one.
struct Fields(Map<String, Value>);

impl Fields {
    /// Splits `value` into its tag (under `tag`) and the remaining fields.
    fn tagged(value: Value, tag: &str, what: &str) -> Result<(String, Self), String> {
        let Value::Object(mut map) = value else {
            return Err(format!("invalid type: {}, expected {what}", kind_of(&value)));
        };
        match map.remove(tag) {
            Some(Value::String(name)) => Ok((name, Self(map))),
            Some(other) => Err(format!("invalid type: {} for `{tag}`, expected a string", kind_of(&other))),
            None => Err(format!("missing field `{tag}`")),
        }
    }

    fn string(&mut self, key: &str) -> Result<String, String> {
        self.optional_string(key)?.ok_or_else(|| format!("missing field `{key}`"))
    }

    fn optional_string(&mut self, key: &str) -> Result<Option<String>, String> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(format!("invalid type: {} for `{key}`, expected a string", kind_of(&other))),
        }
    }

    fn u32(&mut self, key: &str) -> Result<u32, String> {
        match self.0.remove(key) {
            None => Err(format!("missing field `{key}`")),
            Some(value) => value
                .as_u64()
                .and_then(|number| u32::try_from(number).ok())
                .ok_or_else(|| format!("invalid value: {value} for `{key}`, expected u32")),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    crate::protocol::error::json_kind(value)
}

fn unknown_variant(name: &str, expected: &[&str]) -> String {
    format!("unknown variant `{name}`, expected one of {}", expected.join(", "))
}

impl OutgoingMessage {
    fn from_stored(value: Value) -> Result<Self, String> {
        let (kind, mut fields) = Fields::tagged(value, "kind", "internally tagged enum OutgoingMessage")?;
        let message = match kind.as_str() {
            "text" => Self::Text { text: fields.string("text")? },
            "attachment" => Self::Attachment {
                attachment_id: AttachmentId(fields.string("attachment_id")?),
                text: fields.string("text")?,
                file_name: fields.optional_string("file_name")?,
            },
            "quickReply" => Self::QuickReply {
                text: fields.string("text")?,
                payload: fields.string("payload")?,
                originating_message_id: fields.optional_string("originating_message_id")?.map(MessageId),
            },
            "postback" => Self::Postback {
                text: fields.string("text")?,
                payload: fields.string("payload")?,
                originating_message_id: fields.optional_string("originating_message_id")?.map(MessageId),
            },
            "datePicker" => Self::DatePicker {
                date_time: fields.string("date_time")?,
                originating_message_id: fields.optional_string("originating_message_id")?.map(MessageId),
            },
            other => {
                return Err(unknown_variant(other, &["text", "attachment", "quickReply", "postback", "datePicker"]))
            }
        };
        Ok(message)
    }
}

impl<'de> Deserialize<'de> for OutgoingMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_stored(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl FailureReason {
    fn from_stored(value: Value) -> Result<Self, String> {
        let (reason, mut fields) = Fields::tagged(value, "reason", "internally tagged enum FailureReason")?;
        let failure = match reason.as_str() {
            "messageTooLong" => Self::MessageTooLong,
            "customAttributesTooLarge" => Self::CustomAttributesTooLarge,
            "rateLimited" => Self::RateLimited,
            "attachmentRejected" => Self::AttachmentRejected { code: fields.u32("code")? },
            "deliveryUnconfirmed" => Self::DeliveryUnconfirmed,
            "rejected" => Self::Rejected { code: fields.u32("code")? },
            other => {
                return Err(unknown_variant(
                    other,
                    &[
                        "messageTooLong",
                        "customAttributesTooLarge",
                        "rateLimited",
                        "attachmentRejected",
                        "deliveryUnconfirmed",
                        "rejected",
                    ],
                ))
            }
        };
        Ok(failure)
    }
}

impl<'de> Deserialize<'de> for FailureReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_stored(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_outgoing(message: OutgoingMessage) {
        let json = serde_json::to_string(&message).unwrap();
        assert_eq!(serde_json::from_str::<OutgoingMessage>(&json).unwrap(), message, "{json}");
    }

    #[test]
    fn outgoing_messages_read_back_what_they_write() {
        round_trip_outgoing(OutgoingMessage::Text { text: "hi".into() });
        round_trip_outgoing(OutgoingMessage::Attachment {
            attachment_id: AttachmentId::new("a1"),
            text: String::new(),
            file_name: Some("cat.png".into()),
        });
        round_trip_outgoing(OutgoingMessage::Attachment {
            attachment_id: AttachmentId::new("a2"),
            text: "see".into(),
            file_name: None,
        });
        round_trip_outgoing(OutgoingMessage::QuickReply {
            text: "Yes".into(),
            payload: "y".into(),
            originating_message_id: Some(MessageId::new("m1")),
        });
        round_trip_outgoing(OutgoingMessage::Postback {
            text: "Buy".into(),
            payload: "buy".into(),
            originating_message_id: None,
        });
        round_trip_outgoing(OutgoingMessage::DatePicker {
            date_time: "2026-01-02T10:00:00Z".into(),
            originating_message_id: Some(MessageId::new("m2")),
        });
    }

    #[test]
    fn failure_reasons_read_back_what_they_write() {
        for reason in [
            FailureReason::MessageTooLong,
            FailureReason::CustomAttributesTooLarge,
            FailureReason::RateLimited,
            FailureReason::AttachmentRejected { code: 4008 },
            FailureReason::DeliveryUnconfirmed,
            FailureReason::Rejected { code: 4000 },
        ] {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(serde_json::from_str::<FailureReason>(&json).unwrap(), reason, "{json}");
        }
    }

    #[test]
    fn stored_json_is_read_leniently_but_checked() {
        // Unknown fields are ignored and a null optional field reads as absent.
        let message: OutgoingMessage =
            serde_json::from_str(r#"{"kind":"postback","text":"t","payload":"p","originating_message_id":null,"extra":1}"#)
                .unwrap();
        assert_eq!(message, OutgoingMessage::Postback { text: "t".into(), payload: "p".into(), originating_message_id: None });

        let missing = serde_json::from_str::<OutgoingMessage>(r#"{"kind":"text"}"#).unwrap_err();
        assert!(missing.to_string().contains("missing field `text`"), "{missing}");
        let untagged = serde_json::from_str::<OutgoingMessage>(r#"{"text":"x"}"#).unwrap_err();
        assert!(untagged.to_string().contains("missing field `kind`"), "{untagged}");
        let unknown = serde_json::from_str::<OutgoingMessage>(r#"{"kind":"sticker"}"#).unwrap_err();
        assert!(unknown.to_string().contains("unknown variant `sticker`"), "{unknown}");
        let mistyped = serde_json::from_str::<OutgoingMessage>(r#"{"kind":"text","text":5}"#).unwrap_err();
        assert!(mistyped.to_string().contains("expected a string"), "{mistyped}");
        assert!(serde_json::from_str::<OutgoingMessage>("[]").is_err());

        assert!(serde_json::from_str::<FailureReason>(r#"{"reason":"rejected","code":-1}"#).is_err());
        assert!(serde_json::from_str::<FailureReason>(r#"{"reason":"rejected","code":4294967296}"#).is_err());
        assert!(serde_json::from_str::<FailureReason>(r#"{"reason":"rejected"}"#).is_err());
    }
}
