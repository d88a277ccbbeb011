//! Client → server frames (SPEC §2.1, §3): one JSON object per WebSocket text frame, tagged by
//! `action`. Absent optional keys are omitted on encode; `null` is never emitted.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{json_kind, parse_bounded, DecodeError};
use super::ids::{AttachmentId, DeploymentId, MessageId, SessionToken, TracingId};
use super::message::{
    ButtonResponse, ButtonResponseType, Channel, Event, Message, MessageType, PresenceType,
};
use super::time::IsoTime;
use super::{HEALTH_CHECK_TRACING_ID, MAX_FRAME_BYTES};

/// A request from the guest client, dispatched on `action`.
// Variants stay unboxed: a frame lives briefly, one at a time, and plain variants keep
// pattern matching simple for the engine and the gateway.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum ClientAction {
    /// `configureSession`: bind the socket to a guest session (first frame after open).
    ConfigureSession(ConfigureSession),
    /// `configureAuthenticatedSession`: bind the socket to an authenticated session.
    ConfigureAuthenticatedSession(ConfigureAuthenticatedSession),
    /// `onMessage`: send a message or event.
    OnMessage(OnMessage),
    /// `echo`: health check / keep-alive.
    Echo(Echo),
    /// `getJwt`: request a JWT for the history endpoint.
    GetJwt(GetJwt),
    /// `onAttachment`: request an upload URL.
    OnAttachment(OnAttachment),
    /// `getAttachment`: refresh a download URL.
    GetAttachment(GetAttachment),
    /// `deleteAttachment`: delete an uploaded, unsent file.
    DeleteAttachment(DeleteAttachment),
    /// `closeSession`: close every connection of this token (start-new-chat flow).
    CloseSession(CloseSession),
    /// `getConfiguration`: query supported content.
    GetConfiguration(GetConfiguration),
}

/// `configureSession` payload (SPEC §3.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigureSession {
    /// Guest session token.
    pub token: SessionToken,
    /// Must match the `deploymentId` query parameter of the socket URL.
    pub deployment_id: DeploymentId,
    /// `true` discards a read-only session and starts fresh; absent means `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_new: Option<bool>,
    /// Journey context (the SDK always sends one; browser examples do not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey_context: Option<JourneyContext>,
    /// JAVA-only resume token (purpose unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

/// `configureAuthenticatedSession` payload (SPEC §3.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigureAuthenticatedSession {
    /// Session token.
    pub token: SessionToken,
    /// Deployment id.
    pub deployment_id: DeploymentId,
    /// See [`ConfigureSession::start_new`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_new: Option<bool>,
    /// Journey context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey_context: Option<JourneyContext>,
    /// `data.code` = the Genesys auth JWT from the code exchange / refresh.
    pub data: AuthData,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

/// `data` of `configureAuthenticatedSession`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthData {
    /// Despite the name: the Genesys auth JWT, not the IdP authorization code.
    pub code: String,
}

/// `journeyContext` (SPEC §3.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JourneyContext {
    /// `customer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<JourneyCustomer>,
    /// `customerSession`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_session: Option<JourneyCustomerSession>,
    /// `triggeringAction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggering_action: Option<TriggeringAction>,
}

impl JourneyContext {
    /// The context the mobile SDK sends: customer = the token as a cookie id, web session.
    pub fn for_guest(token: &SessionToken) -> Self {
        Self {
            customer: Some(JourneyCustomer {
                id: token.as_str().to_owned(),
                id_type: "cookie".to_owned(),
            }),
            customer_session: Some(JourneyCustomerSession {
                id: String::new(),
                session_type: "web".to_owned(),
            }),
            triggering_action: None,
        }
    }
}

/// `journeyContext.customer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JourneyCustomer {
    /// Customer id (the SDK uses the session token).
    pub id: String,
    /// Id type, e.g. `cookie`.
    pub id_type: String,
}

/// `journeyContext.customerSession`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JourneyCustomerSession {
    /// Session id (often `""`).
    #[serde(default)]
    pub id: String,
    /// Session type, e.g. `web`.
    #[serde(rename = "type")]
    pub session_type: String,
}

/// `journeyContext.triggeringAction`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggeringAction {
    /// Action id.
    pub id: String,
    /// The action map that triggered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_map: Option<ActionMap>,
}

/// `triggeringAction.actionMap`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionMap {
    /// Action map id.
    pub id: String,
    /// Version (a float on the wire, e.g. `3.0`).
    pub version: f64,
}

/// `onMessage` payload (SPEC §3.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnMessage {
    /// Session token.
    pub token: SessionToken,
    /// The message (text, structured answer or events).
    pub message: Message,
    /// Optional client time (ISO-8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<IsoTime>,
    /// Top-level `channel` (custom attributes beside `message`, SPEC §18); accepted, not emitted
    /// by our constructors (they put attributes inside `message.channel` like the SDK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Correlation id; the Inbound echo carries it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

impl OnMessage {
    /// Custom attributes from `message.channel` or, failing that, the top-level `channel`.
    pub fn custom_attributes(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        self.message.custom_attributes().or_else(|| {
            self.channel
                .as_ref()
                .and_then(|channel| channel.metadata.as_ref())
                .map(|metadata| &metadata.custom_attributes)
        })
    }
}

/// `echo` payload (SPEC §3.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Echo {
    /// Session token.
    pub token: SessionToken,
    /// The ping message (`{"text":"ping","type":"Text"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// Correlation id (the SDK uses [`HEALTH_CHECK_TRACING_ID`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

/// `getJwt` payload (SPEC §3.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetJwt {
    /// Session token.
    pub token: SessionToken,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

/// `onAttachment` payload (SPEC §3.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnAttachment {
    /// Session token.
    pub token: SessionToken,
    /// Client-generated id (optional in the JAVA model; the server may assign one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<AttachmentId>,
    /// File name.
    pub file_name: String,
    /// MIME type derived from the extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    /// Optional MD5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_md5: Option<String>,
    /// Ask for `GenerateUrlError` objects instead of `string` errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors_as_json: Option<bool>,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

/// `getAttachment` payload (SPEC §3.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetAttachment {
    /// Session token.
    pub token: SessionToken,
    /// The attachment whose download URL to refresh.
    pub attachment_id: AttachmentId,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

/// `deleteAttachment` payload (SPEC §3.8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteAttachment {
    /// Session token.
    pub token: SessionToken,
    /// The uploaded, unsent attachment to delete.
    pub attachment_id: AttachmentId,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

/// `closeSession` payload (SPEC §3.9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseSession {
    /// Session token.
    pub token: SessionToken,
    /// Close every connection of the token (the SDK always sends `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_all_connections: Option<bool>,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

/// `getConfiguration` payload (SPEC §3.10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetConfiguration {
    /// Session token.
    pub token: SessionToken,
    /// Deployment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<DeploymentId>,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<TracingId>,
}

/// Action names and the keys each one requires (beyond `action`), as dotted paths, checked in
/// order so the outermost missing key is reported.
const ACTIONS: &[(&str, &[&str])] = &[
    ("configureSession", &["token", "deploymentId"]),
    (
        "configureAuthenticatedSession",
        &["token", "deploymentId", "data", "data.code"],
    ),
    ("onMessage", &["token", "message", "message.type"]),
    ("echo", &["token"]),
    ("getJwt", &["token"]),
    ("onAttachment", &["token", "fileName"]),
    ("getAttachment", &["token", "attachmentId"]),
    ("deleteAttachment", &["token", "attachmentId"]),
    ("closeSession", &["token"]),
    ("getConfiguration", &["token"]),
];

impl ClientAction {
    /// Decodes one client frame. Errors say what the peer got wrong:
    /// [`DecodeError::MalformedJson`] / [`DecodeError::NotAnObject`] / [`DecodeError::TooLarge`],
    /// [`DecodeError::UnknownAction`] (keeps the name), [`DecodeError::MissingField`] (names the
    /// parameter, e.g. `token` or `message.type`), or [`DecodeError::InvalidField`].
    /// Unknown keys are ignored.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        Self::from_value(parse_bounded(text, MAX_FRAME_BYTES)?)
    }

    /// Decodes one client frame from an already parsed JSON value (see [`ClientAction::from_json`]).
    pub fn from_value(value: Value) -> Result<Self, DecodeError> {
        let Value::Object(object) = &value else {
            return Err(DecodeError::NotAnObject {
                found: json_kind(&value),
            });
        };
        let action = match object.get("action") {
            None | Some(Value::Null) => return Err(DecodeError::MissingField("action".to_owned())),
            Some(Value::String(action)) => action.as_str(),
            Some(other) => {
                return Err(DecodeError::InvalidField {
                    field: "action".to_owned(),
                    detail: format!("expected a string, found {}", json_kind(other)),
                })
            }
        };
        let Some((_, required)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
            return Err(DecodeError::UnknownAction(action.to_owned()));
        };
        for path in *required {
            let mut found = Some(&value);
            for key in path.split('.') {
                found = found.and_then(|parent| parent.get(key));
            }
            if found.is_none_or(Value::is_null) {
                return Err(DecodeError::MissingField((*path).to_owned()));
            }
        }
        serde_json::from_value(value).map_err(|error| DecodeError::from_serde("", error))
    }

    /// Encodes the frame as compact JSON.
    pub fn to_json(&self) -> String {
        // Infallible: every map key is a string and no Serialize impl here returns an error.
        serde_json::to_string(self)
            .unwrap_or_else(|error| unreachable!("client frame encodes: {error}"))
    }

    /// Encodes the frame as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self)
            .unwrap_or_else(|error| unreachable!("client frame encodes: {error}"))
    }

    /// The `action` name.
    pub fn action_name(&self) -> &'static str {
        match self {
            Self::ConfigureSession(_) => "configureSession",
            Self::ConfigureAuthenticatedSession(_) => "configureAuthenticatedSession",
            Self::OnMessage(_) => "onMessage",
            Self::Echo(_) => "echo",
            Self::GetJwt(_) => "getJwt",
            Self::OnAttachment(_) => "onAttachment",
            Self::GetAttachment(_) => "getAttachment",
            Self::DeleteAttachment(_) => "deleteAttachment",
            Self::CloseSession(_) => "closeSession",
            Self::GetConfiguration(_) => "getConfiguration",
        }
    }

    /// The guest session token every action carries.
    pub fn token(&self) -> &SessionToken {
        match self {
            Self::ConfigureSession(inner) => &inner.token,
            Self::ConfigureAuthenticatedSession(inner) => &inner.token,
            Self::OnMessage(inner) => &inner.token,
            Self::Echo(inner) => &inner.token,
            Self::GetJwt(inner) => &inner.token,
            Self::OnAttachment(inner) => &inner.token,
            Self::GetAttachment(inner) => &inner.token,
            Self::DeleteAttachment(inner) => &inner.token,
            Self::CloseSession(inner) => &inner.token,
            Self::GetConfiguration(inner) => &inner.token,
        }
    }

    fn tracing_slot(&mut self) -> &mut Option<TracingId> {
        match self {
            Self::ConfigureSession(inner) => &mut inner.tracing_id,
            Self::ConfigureAuthenticatedSession(inner) => &mut inner.tracing_id,
            Self::OnMessage(inner) => &mut inner.tracing_id,
            Self::Echo(inner) => &mut inner.tracing_id,
            Self::GetJwt(inner) => &mut inner.tracing_id,
            Self::OnAttachment(inner) => &mut inner.tracing_id,
            Self::GetAttachment(inner) => &mut inner.tracing_id,
            Self::DeleteAttachment(inner) => &mut inner.tracing_id,
            Self::CloseSession(inner) => &mut inner.tracing_id,
            Self::GetConfiguration(inner) => &mut inner.tracing_id,
        }
    }

    /// The `tracingId`, if any.
    pub fn tracing_id(&self) -> Option<&TracingId> {
        match self {
            Self::ConfigureSession(inner) => inner.tracing_id.as_ref(),
            Self::ConfigureAuthenticatedSession(inner) => inner.tracing_id.as_ref(),
            Self::OnMessage(inner) => inner.tracing_id.as_ref(),
            Self::Echo(inner) => inner.tracing_id.as_ref(),
            Self::GetJwt(inner) => inner.tracing_id.as_ref(),
            Self::OnAttachment(inner) => inner.tracing_id.as_ref(),
            Self::GetAttachment(inner) => inner.tracing_id.as_ref(),
            Self::DeleteAttachment(inner) => inner.tracing_id.as_ref(),
            Self::CloseSession(inner) => inner.tracing_id.as_ref(),
            Self::GetConfiguration(inner) => inner.tracing_id.as_ref(),
        }
    }

    /// Sets (or clears) the `tracingId`.
    pub fn with_tracing_id(mut self, tracing_id: impl Into<Option<TracingId>>) -> Self {
        *self.tracing_slot() = tracing_id.into();
        self
    }

    // --- constructors ----------------------------------------------------------------------

    /// `configureSession` with the SDK's journey context.
    pub fn configure_session(
        token: SessionToken,
        deployment_id: DeploymentId,
        start_new: bool,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        Self::ConfigureSession(ConfigureSession {
            journey_context: Some(JourneyContext::for_guest(&token)),
            token,
            deployment_id,
            start_new: Some(start_new),
            resume_token: None,
            tracing_id: tracing_id.into(),
        })
    }

    /// `configureAuthenticatedSession` carrying the Genesys auth `jwt` in `data.code`.
    pub fn configure_authenticated_session(
        token: SessionToken,
        deployment_id: DeploymentId,
        jwt: impl Into<String>,
        start_new: bool,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        Self::ConfigureAuthenticatedSession(ConfigureAuthenticatedSession {
            journey_context: Some(JourneyContext::for_guest(&token)),
            token,
            deployment_id,
            start_new: Some(start_new),
            data: AuthData { code: jwt.into() },
            tracing_id: tracing_id.into(),
        })
    }

    /// `onMessage` with any message body.
    pub fn message(
        token: SessionToken,
        message: Message,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        Self::OnMessage(OnMessage {
            token,
            message,
            time: None,
            channel: None,
            tracing_id: tracing_id.into(),
        })
    }

    /// `onMessage` with plain text.
    pub fn text(
        token: SessionToken,
        text: impl Into<String>,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        Self::message(token, Message::text(text), tracing_id)
    }

    /// `onMessage` answering a quick reply: Text, empty text, `ButtonResponse` type QuickReply.
    pub fn quick_reply(
        token: SessionToken,
        text: impl Into<String>,
        payload: impl Into<String>,
        originating_message_id: Option<MessageId>,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        let response = ButtonResponse {
            text: text.into(),
            payload: payload.into(),
            button_type: ButtonResponseType::QuickReply,
            originating_message_id,
        };
        Self::message(
            token,
            Message::button_response(MessageType::Text, "", response),
            tracing_id,
        )
    }

    /// `onMessage` for a card/carousel postback: Structured, text = button text,
    /// `ButtonResponse` type Button.
    pub fn postback(
        token: SessionToken,
        text: impl Into<String>,
        payload: impl Into<String>,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        let text = text.into();
        let response = ButtonResponse {
            text: text.clone(),
            payload: payload.into(),
            button_type: ButtonResponseType::Button,
            originating_message_id: None,
        };
        Self::message(
            token,
            Message::button_response(MessageType::Structured, text, response),
            tracing_id,
        )
    }

    /// `onMessage` answering a date picker: Text, empty text, `ButtonResponse` type DatePicker
    /// whose payload is the chosen slot's ISO date-time.
    pub fn date_picker_answer(
        token: SessionToken,
        label: impl Into<String>,
        date_time: &IsoTime,
        originating_message_id: Option<MessageId>,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        let response = ButtonResponse {
            text: label.into(),
            payload: date_time.as_str().to_owned(),
            button_type: ButtonResponseType::DatePicker,
            originating_message_id,
        };
        Self::message(
            token,
            Message::button_response(MessageType::Text, "", response),
            tracing_id,
        )
    }

    /// `onMessage` with a `Typing On` event (no tracing id, like the SDK).
    pub fn typing_on(token: SessionToken) -> Self {
        Self::message(token, Message::event(Event::typing_on()), None)
    }

    /// `onMessage` with a Presence `Join` event (autostart).
    pub fn join(token: SessionToken) -> Self {
        Self::message(
            token,
            Message::event(Event::presence(PresenceType::Join)),
            None,
        )
    }

    /// `onMessage` with a Presence `Clear` event (clear conversation).
    pub fn clear(token: SessionToken) -> Self {
        Self::message(
            token,
            Message::event(Event::presence(PresenceType::Clear)),
            None,
        )
    }

    /// `echo` with the ping body; pass [`HEALTH_CHECK_TRACING_ID`] to make the answer
    /// recognisable as a health check (see [`ClientAction::health_check`]).
    pub fn echo(token: SessionToken, tracing_id: impl Into<Option<TracingId>>) -> Self {
        Self::Echo(Echo {
            token,
            message: Some(Message::text("ping")),
            tracing_id: tracing_id.into(),
        })
    }

    /// `echo` with the SDK's constant health-check tracing id.
    pub fn health_check(token: SessionToken) -> Self {
        Self::echo(token, TracingId::new(HEALTH_CHECK_TRACING_ID))
    }

    /// `getJwt`.
    pub fn get_jwt(token: SessionToken, tracing_id: impl Into<Option<TracingId>>) -> Self {
        Self::GetJwt(GetJwt {
            token,
            tracing_id: tracing_id.into(),
        })
    }

    /// `onAttachment` as the SDK sends it (`errorsAsJson: true`).
    pub fn on_attachment(
        token: SessionToken,
        attachment_id: AttachmentId,
        file_name: impl Into<String>,
        file_type: impl Into<String>,
        file_size: u64,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        Self::OnAttachment(OnAttachment {
            token,
            attachment_id: Some(attachment_id),
            file_name: file_name.into(),
            file_type: Some(file_type.into()),
            file_size: Some(file_size),
            file_md5: None,
            errors_as_json: Some(true),
            tracing_id: tracing_id.into(),
        })
    }

    /// `getAttachment`.
    pub fn get_attachment(
        token: SessionToken,
        attachment_id: AttachmentId,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        Self::GetAttachment(GetAttachment {
            token,
            attachment_id,
            tracing_id: tracing_id.into(),
        })
    }

    /// `deleteAttachment`.
    pub fn delete_attachment(
        token: SessionToken,
        attachment_id: AttachmentId,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        Self::DeleteAttachment(DeleteAttachment {
            token,
            attachment_id,
            tracing_id: tracing_id.into(),
        })
    }

    /// `closeSession` with `closeAllConnections: true`.
    pub fn close_session(token: SessionToken) -> Self {
        Self::CloseSession(CloseSession {
            token,
            close_all_connections: Some(true),
            tracing_id: None,
        })
    }

    /// `getConfiguration`.
    pub fn get_configuration(
        token: SessionToken,
        deployment_id: DeploymentId,
        tracing_id: impl Into<Option<TracingId>>,
    ) -> Self {
        Self::GetConfiguration(GetConfiguration {
            token,
            deployment_id: Some(deployment_id),
            tracing_id: tracing_id.into(),
        })
    }
}
