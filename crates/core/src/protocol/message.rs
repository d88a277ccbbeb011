//! The message body shared by `StructuredMessage` frames, history entities and the `message`
//! of `onMessage` / `echo` requests (SPEC §3.3, §4.2, §9).
//!
//! Every field is optional on decode, unknown fields are ignored, and unknown content/event
//! kinds are kept as `Unknown` so one odd part never drops a message.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::ids::{AttachmentId, MessageId, TracingId};
use super::lenient::{null_as_default, opt_u64, string_map};
use super::time::{EpochSeconds, IsoTime};
use super::HEALTH_CHECK_TRACING_ID;

wire_enum! {
    /// Body `type` of a message.
    pub enum MessageType {
        /// Plain text (may carry attachments or a button response).
        Text => "Text",
        /// Rich content: quick replies, cards, carousels, date pickers, postbacks.
        Structured => "Structured",
        /// Events only (typing, presence…).
        Event => "Event",
        /// A delivery receipt (`status`, `reasons`).
        Receipt => "Receipt",
    }
}

impl Default for MessageType {
    /// A message without `type` decodes as `Unknown("")` rather than failing.
    fn default() -> Self {
        Self::Unknown(String::new())
    }
}

wire_enum! {
    /// Who a message travels from: `Inbound` = guest → Genesys, `Outbound` = agent/bot → guest.
    pub enum Direction {
        /// Guest → Genesys (echoes of the guest's own messages).
        Inbound => "Inbound",
        /// Agent, bot or system → guest.
        Outbound => "Outbound",
    }
}

wire_enum! {
    /// `originatingEntity`: who authored an Outbound message (sometimes `""`).
    pub enum OriginatingEntity {
        /// A human agent.
        Human => "Human",
        /// A bot.
        Bot => "Bot",
    }
}

wire_enum! {
    /// Receipt `status`.
    pub enum ReceiptStatus {
        /// Sent.
        Sent => "Sent",
        /// Delivered.
        Delivered => "Delivered",
        /// Read.
        Read => "Read",
        /// Failed (see `reasons`).
        Failed => "Failed",
        /// Published.
        Published => "Published",
        /// Removed.
        Removed => "Removed",
    }
}

/// A message body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Server-assigned id (absent in guest requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MessageId>,
    /// Body `type`.
    #[serde(rename = "type", default)]
    pub message_type: MessageType,
    /// Text; `Some("")` is distinct from absent (quick-reply answers send `""`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Inbound or Outbound (absent in guest requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Channel data: time, sender, custom attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Content elements.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub content: Vec<Content>,
    /// Events (for `type: Event`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub events: Vec<Event>,
    /// Free-form string metadata (`correlationId`, `readOnly`, `durationSeconds`, …).
    #[serde(
        default,
        deserialize_with = "string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
    /// `Human`, `Bot` or `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originating_entity: Option<OriginatingEntity>,
    /// The message this one answers or belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originating_message_id: Option<MessageId>,
    /// Receipt status (JAVA model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ReceiptStatus>,
    /// Receipt failure reasons (JAVA model).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub reasons: Vec<ReceiptReason>,
}

/// A reason attached to a failed receipt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptReason {
    /// Machine-readable reason code, e.g. `MessageNotAllowed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human-readable text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The `channel` object of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// Server time of the message (ISO-8601); history may send `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<IsoTime>,
    /// Channel message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// `Private` or `Public`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<String>,
    /// Sender details (agent name/avatar, or the signed-in guest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Participant>,
    /// Recipient details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Participant>,
    /// Custom attributes (guest → server, and echoed back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ChannelMetadata>,
}

/// `channel.metadata`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelMetadata {
    /// `customAttributes`: string key/value pairs (budget: `maxCustomDataBytes`).
    #[serde(default, deserialize_with = "string_map")]
    pub custom_attributes: BTreeMap<String, String>,
}

/// `channel.from` / `channel.to`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Display nickname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl Participant {
    /// The best display name: nickname, else "first last", else `None`.
    pub fn display_name(&self) -> Option<String> {
        if let Some(nickname) = self
            .nickname
            .as_deref()
            .filter(|name| !name.trim().is_empty())
        {
            return Some(nickname.to_owned());
        }
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|part| !part.trim().is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

// ---------------------------------------------------------------------------------------------
// Content

/// One element of `content[]`, dispatched on `contentType`.
///
/// An unknown `contentType`, or a known one whose payload has the wrong shape, decodes as
/// [`Content::Unknown`] holding the whole element, and is written back unchanged.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// `Attachment`: a file (guest requests carry only `id`).
    Attachment(Attachment),
    /// `QuickReply`: one quick-reply option.
    QuickReply(QuickReply),
    /// `ButtonResponse`: an answer to quick reply / card button / date picker (or, from some
    /// servers, a quick-reply option).
    ButtonResponse(ButtonResponse),
    /// `Card`: a single card.
    Card(Card),
    /// `Carousel`: several cards.
    Carousel(Carousel),
    /// `DatePicker`: bookable time slots.
    DatePicker(DatePicker),
    /// Anything else (`ListPicker`, future types…).
    Unknown {
        /// The `contentType` string (empty if absent).
        content_type: String,
        /// The whole element as received.
        raw: Value,
    },
}

impl Content {
    /// The `contentType` string.
    pub fn content_type(&self) -> &str {
        match self {
            Self::Attachment(_) => "Attachment",
            Self::QuickReply(_) => "QuickReply",
            Self::ButtonResponse(_) => "ButtonResponse",
            Self::Card(_) => "Card",
            Self::Carousel(_) => "Carousel",
            Self::DatePicker(_) => "DatePicker",
            Self::Unknown { content_type, .. } => content_type,
        }
    }

    /// An attachment reference as a guest sends it: `{"contentType":"Attachment","attachment":{"id":…}}`.
    pub fn attachment_ref(id: AttachmentId) -> Self {
        Self::Attachment(Attachment::reference(id))
    }

    /// Decodes one element from JSON; never fails (see the type docs).
    pub fn from_value(value: Value) -> Self {
        let content_type = value
            .get("contentType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let typed = match content_type.as_str() {
            "Attachment" => payload(&value, "attachment").map(Self::Attachment),
            "QuickReply" => payload(&value, "quickReply").map(Self::QuickReply),
            "ButtonResponse" => payload(&value, "buttonResponse").map(Self::ButtonResponse),
            "Card" => payload(&value, "card").map(Self::Card),
            "Carousel" => payload(&value, "carousel").map(Self::Carousel),
            "DatePicker" => payload(&value, "datePicker").map(Self::DatePicker),
            _ => None,
        };
        typed.unwrap_or(Self::Unknown {
            content_type,
            raw: value,
        })
    }

    /// Encodes one element as JSON.
    pub fn to_value(&self) -> Value {
        fn wrap<T: Serialize>(content_type: &str, key: &str, payload: &T) -> Value {
            let mut object = serde_json::Map::new();
            object.insert(
                "contentType".to_owned(),
                Value::String(content_type.to_owned()),
            );
            object.insert(
                key.to_owned(),
                serde_json::to_value(payload).unwrap_or(Value::Null),
            );
            Value::Object(object)
        }
        match self {
            Self::Attachment(inner) => wrap("Attachment", "attachment", inner),
            Self::QuickReply(inner) => wrap("QuickReply", "quickReply", inner),
            Self::ButtonResponse(inner) => wrap("ButtonResponse", "buttonResponse", inner),
            Self::Card(inner) => wrap("Card", "card", inner),
            Self::Carousel(inner) => wrap("Carousel", "carousel", inner),
            Self::DatePicker(inner) => wrap("DatePicker", "datePicker", inner),
            Self::Unknown { raw, .. } => raw.clone(),
        }
    }
}

/// Decodes `value[key]` as `T`; `None` if absent or of the wrong shape.
///
/// Decodes from an owned copy on purpose: every other decoder in this crate reads owned
/// `Value`s (`serde_json::from_value`), so the payload types share that one monomorphized copy
/// instead of adding a second one for `&Value` to the browser build.
fn payload<T: for<'de> Deserialize<'de>>(value: &Value, key: &str) -> Option<T> {
    value.get(key).and_then(|inner| serde_json::from_value(inner.clone()).ok())
}

impl Serialize for Content {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from_value)
    }
}

wire_enum! {
    /// `attachment.mediaType`.
    pub enum MediaType {
        /// An image.
        Image => "Image",
        /// A video.
        Video => "Video",
        /// Audio.
        Audio => "Audio",
        /// Any other file.
        File => "File",
        /// A link.
        Link => "Link",
    }
}

/// `content[].attachment`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// Attachment id (the only field a guest sends).
    pub id: AttachmentId,
    /// Kind of media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// Download URL (expires; refresh with `getAttachment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Size in bytes.
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_size: Option<u64>,
    /// SHA-256 hex digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Caption text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Attachment {
    /// An attachment carrying only its id, as a guest sends it.
    pub fn reference(id: AttachmentId) -> Self {
        Self {
            id,
            media_type: None,
            url: None,
            mime: None,
            filename: None,
            file_size: None,
            sha256: None,
            text: None,
        }
    }
}

/// `content[].quickReply`: one option offered by an Outbound Structured message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuickReply {
    /// Button label.
    pub text: String,
    /// Payload to send back.
    #[serde(default)]
    pub payload: String,
    /// Usually `Message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Icon URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

wire_enum! {
    /// `buttonResponse.type`.
    pub enum ButtonResponseType {
        /// Answer to a quick reply.
        QuickReply => "QuickReply",
        /// Card / carousel postback.
        Button => "Button",
        /// Date picker answer (payload = ISO date-time).
        DatePicker => "DatePicker",
        /// List picker answer.
        ListPicker => "ListPicker",
        /// Form answer.
        Form => "Form",
    }
}

/// `content[].buttonResponse`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ButtonResponse {
    /// Label shown to the user.
    pub text: String,
    /// Payload of the chosen option.
    #[serde(default)]
    pub payload: String,
    /// What kind of button was pressed.
    #[serde(rename = "type")]
    pub button_type: ButtonResponseType,
    /// Id of the message that offered the option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originating_message_id: Option<MessageId>,
}

wire_enum! {
    /// Card action `type`.
    pub enum CardActionType {
        /// Opens `url` locally; nothing is sent.
        Link => "Link",
        /// Sends a `ButtonResponse` of type `Button` with `payload`.
        Postback => "Postback",
    }
}

/// A card action (`actions[]`, `defaultAction`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardAction {
    /// Link or Postback.
    #[serde(rename = "type")]
    pub action_type: CardActionType,
    /// Button label.
    #[serde(default)]
    pub text: String,
    /// Target of a Link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Payload of a Postback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// `content[].card`, also an element of a carousel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Video URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<String>,
    /// Action for a click on the card itself (only `Link` is acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<CardAction>,
    /// Buttons.
    #[serde(default, deserialize_with = "null_as_default")]
    pub actions: Vec<CardAction>,
}

/// `content[].carousel`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Carousel {
    /// The cards, in display order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cards: Vec<Card>,
}

/// `content[].datePicker`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatePicker {
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Subtitle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// Image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Earliest selectable date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_minimum: Option<IsoTime>,
    /// Latest selectable date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_maximum: Option<IsoTime>,
    /// The bookable slots.
    #[serde(default, deserialize_with = "null_as_default")]
    pub available_times: Vec<DatePickerSlot>,
}

/// One bookable slot of a date picker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatePickerSlot {
    /// Start (ISO-8601); sent back as the answer's payload.
    pub date_time: IsoTime,
    /// Length in **seconds**.
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Events

/// One element of `events[]`, dispatched on `eventType`. Unknown event types, or known ones with
/// a malformed payload, decode as [`Event::Unknown`] holding the whole element.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `Typing`.
    Typing(Typing),
    /// `Presence`.
    Presence(Presence),
    /// Anything else (`CoBrowse`, `Reactions`, future types…).
    Unknown {
        /// The `eventType` string (empty if absent).
        event_type: String,
        /// The whole element as received.
        raw: Value,
    },
}

impl Event {
    /// `Typing On` without a duration, as a guest sends it.
    pub fn typing_on() -> Self {
        Self::Typing(Typing {
            typing_type: TypingType::On,
            duration: None,
        })
    }

    /// A presence event of the given type.
    pub fn presence(presence_type: PresenceType) -> Self {
        Self::Presence(Presence { presence_type })
    }

    /// The `eventType` string.
    pub fn event_type(&self) -> &str {
        match self {
            Self::Typing(_) => "Typing",
            Self::Presence(_) => "Presence",
            Self::Unknown { event_type, .. } => event_type,
        }
    }

    /// Decodes one element from JSON; never fails.
    pub fn from_value(value: Value) -> Self {
        let event_type = value
            .get("eventType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let typed = match event_type.as_str() {
            "Typing" => payload(&value, "typing").map(Self::Typing),
            "Presence" => payload(&value, "presence").map(Self::Presence),
            _ => None,
        };
        typed.unwrap_or(Self::Unknown {
            event_type,
            raw: value,
        })
    }

    /// Encodes one element as JSON.
    pub fn to_value(&self) -> Value {
        fn wrap<T: Serialize>(event_type: &str, key: &str, payload: &T) -> Value {
            let mut object = serde_json::Map::new();
            object.insert("eventType".to_owned(), Value::String(event_type.to_owned()));
            object.insert(
                key.to_owned(),
                serde_json::to_value(payload).unwrap_or(Value::Null),
            );
            Value::Object(object)
        }
        match self {
            Self::Typing(inner) => wrap("Typing", "typing", inner),
            Self::Presence(inner) => wrap("Presence", "presence", inner),
            Self::Unknown { raw, .. } => raw.clone(),
        }
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from_value)
    }
}

wire_enum! {
    /// `typing.type`.
    pub enum TypingType {
        /// Started typing.
        On => "On",
        /// Stopped typing.
        Off => "Off",
    }
}

/// `events[].typing`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    /// On or Off.
    #[serde(rename = "type")]
    pub typing_type: TypingType,
    /// How long to show the indicator, in **milliseconds** (clients fall back to 5000).
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<u64>,
}

wire_enum! {
    /// `presence.type`. Lenient on purpose: the SDK's strict enum fails whole frames on
    /// `SessionExpired` (SPEC §2.2).
    pub enum PresenceType {
        /// Conversation started (guest autostart, echoed Inbound).
        Join => "Join",
        /// Agent ended the conversation (`metadata.readOnly:"true"` → read-only).
        Disconnect => "Disconnect",
        /// Clear the conversation.
        Clear => "Clear",
        /// Authenticated step-up succeeded.
        SignIn => "SignIn",
        /// The session expired (treat like `SessionExpiredEvent`).
        SessionExpired => "SessionExpired",
    }
}

/// `events[].presence`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    /// The presence change.
    #[serde(rename = "type")]
    pub presence_type: PresenceType,
}

// ---------------------------------------------------------------------------------------------
// Constructors and helpers

impl Message {
    /// A guest text message: `{"text":…,"type":"Text"}`.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            message_type: MessageType::Text,
            text: Some(text.into()),
            ..Self::default()
        }
    }

    /// A guest event message: `{"events":[…],"type":"Event"}`.
    pub fn event(event: Event) -> Self {
        Self {
            message_type: MessageType::Event,
            events: vec![event],
            ..Self::default()
        }
    }

    /// A guest button answer: `ButtonResponse` content with the given message type and text.
    pub fn button_response(
        message_type: MessageType,
        text: impl Into<String>,
        response: ButtonResponse,
    ) -> Self {
        Self {
            message_type,
            text: Some(text.into()),
            content: vec![Content::ButtonResponse(response)],
            ..Self::default()
        }
    }

    /// Adds an attachment reference (`{"contentType":"Attachment","attachment":{"id":…}}`).
    pub fn with_attachment(mut self, id: AttachmentId) -> Self {
        self.content.push(Content::attachment_ref(id));
        self
    }

    /// Sets `channel.metadata.customAttributes` (no-op for an empty map, so nothing is sent).
    pub fn with_custom_attributes(mut self, attributes: BTreeMap<String, String>) -> Self {
        if !attributes.is_empty() {
            let channel = self.channel.get_or_insert_with(Channel::default);
            channel.metadata = Some(ChannelMetadata {
                custom_attributes: attributes,
            });
        }
        self
    }

    /// The message as a server sends it back: with `id`, `direction`, `channel.time` and
    /// `channel.messageId` set (other channel data, such as custom attributes, is kept).
    /// Gateways use this to turn a guest's `onMessage` body into its Inbound echo.
    pub fn stamped(mut self, id: MessageId, direction: Direction, time: IsoTime) -> Self {
        let channel = self.channel.get_or_insert_with(Channel::default);
        channel.time = Some(time);
        channel.message_id = Some(id.clone());
        self.id = Some(id);
        self.direction = Some(direction);
        self
    }

    /// `channel.time`, if present.
    pub fn time(&self) -> Option<&IsoTime> {
        self.channel
            .as_ref()
            .and_then(|channel| channel.time.as_ref())
    }

    /// `channel.time` in Unix milliseconds, if present and parseable.
    pub fn time_millis(&self) -> Option<u64> {
        self.time().and_then(IsoTime::to_unix_millis)
    }

    /// `channel.metadata.customAttributes`, if any.
    pub fn custom_attributes(&self) -> Option<&BTreeMap<String, String>> {
        self.channel
            .as_ref()
            .and_then(|channel| channel.metadata.as_ref())
            .map(|metadata| &metadata.custom_attributes)
    }

    /// `channel.from`, if any.
    pub fn sender(&self) -> Option<&Participant> {
        self.channel
            .as_ref()
            .and_then(|channel| channel.from.as_ref())
    }

    /// True for `direction: Inbound` (the guest's own messages).
    pub fn is_inbound(&self) -> bool {
        self.direction == Some(Direction::Inbound)
    }

    /// True for `direction: Outbound` (agent, bot or system).
    pub fn is_outbound(&self) -> bool {
        self.direction == Some(Direction::Outbound)
    }

    /// True if the message was the answer to a health-check `echo`, recognised by the frame's
    /// top-level `tracingId` equal to [`HEALTH_CHECK_TRACING_ID`]. Such answers are not shown.
    pub fn is_health_check_echo(&self, tracing_id: Option<&TracingId>) -> bool {
        tracing_id.is_some_and(|id| id.as_str() == HEALTH_CHECK_TRACING_ID)
    }

    /// `metadata.durationSeconds` (a string on the wire) as a number.
    pub fn metadata_duration_seconds(&self) -> Option<u64> {
        self.metadata
            .get("durationSeconds")
            .and_then(|value| value.trim().parse().ok())
    }

    /// `metadata.expirationDate` (epoch seconds as a string on the wire).
    pub fn metadata_expiration_date(&self) -> Option<EpochSeconds> {
        self.metadata
            .get("expirationDate")
            .and_then(|value| EpochSeconds::parse(value))
    }

    /// The presence types carried by this message's events, in order.
    pub fn presence_types(&self) -> impl Iterator<Item = &PresenceType> {
        self.events.iter().filter_map(|event| match event {
            Event::Presence(presence) => Some(&presence.presence_type),
            _ => None,
        })
    }

    /// True if any event is a presence of the given type.
    pub fn has_presence(&self, wanted: &PresenceType) -> bool {
        self.presence_types()
            .any(|presence_type| presence_type == wanted)
    }

    /// The first typing event, if any.
    pub fn typing(&self) -> Option<&Typing> {
        self.events.iter().find_map(|event| match event {
            Event::Typing(typing) => Some(typing),
            _ => None,
        })
    }

    /// True for an agent disconnect that makes the conversation read-only: a Presence
    /// `Disconnect` event with `metadata.readOnly == "true"` (case-insensitive).
    pub fn is_read_only_disconnect(&self) -> bool {
        self.has_presence(&PresenceType::Disconnect)
            && self
                .metadata
                .get("readOnly")
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    }

    /// Ids of the attachments in `content`.
    pub fn attachment_ids(&self) -> impl Iterator<Item = &AttachmentId> {
        self.content.iter().filter_map(|content| match content {
            Content::Attachment(attachment) => Some(&attachment.id),
            _ => None,
        })
    }
}
