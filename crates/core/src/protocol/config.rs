//! The deployment configuration `config.json` (SPEC §12). Every field is optional or defaulted
//! and unknown keys are ignored, so a richer real config never fails to load.

use serde::{Deserialize, Serialize};

use super::ids::DeploymentId;
use super::lenient::{null_as_default, opt_u64};

/// `GET …/deployments/{id}/config.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfig {
    /// Deployment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<DeploymentId>,
    /// Config version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Supported languages.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub languages: Vec<String>,
    /// Default language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_language: Option<String>,
    /// `https://api.{domain}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    /// `Active` / `Inactive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Journey events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey_events: Option<Toggle>,
    /// Authentication settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// Messenger settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messenger: Option<MessengerConfig>,
    /// Headless mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headless_mode: Option<Toggle>,
}

/// `{ "enabled": bool }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toggle {
    /// Whether the feature is on (default off).
    #[serde(default, deserialize_with = "null_as_default")]
    pub enabled: bool,
}

impl Toggle {
    /// An enabled toggle.
    pub const ON: Self = Self { enabled: true };
}

/// `auth`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthConfig {
    /// Authenticated sessions are possible.
    #[serde(default, deserialize_with = "null_as_default")]
    pub enabled: bool,
    /// Guest → authenticated step-up is allowed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub allow_session_upgrade: bool,
}

/// `messenger`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessengerConfig {
    /// Messenger enabled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub enabled: bool,
    /// Styles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub styles: Option<Styles>,
    /// Launcher button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher_button: Option<LauncherButton>,
    /// Home screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_screen: Option<Toggle>,
    /// Deprecated upload settings (fallback when `SessionResponse` has no media profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_upload: Option<FileUpload>,
    /// Apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps: Option<Apps>,
}

/// `messenger.styles`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Styles {
    /// Primary colour, e.g. `#0D6EFD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
}

/// `messenger.launcherButton`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LauncherButton {
    /// `On`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
}

/// `messenger.fileUpload`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileUpload {
    /// Explicit switch (absent in older configs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_attachments: Option<bool>,
    /// Allowed type/size modes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modes: Vec<FileUploadMode>,
}

/// `messenger.fileUpload.modes[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileUploadMode {
    /// MIME types (`*/*` wildcard).
    #[serde(default, deserialize_with = "null_as_default")]
    pub file_types: Vec<String>,
    /// Size limit in KB.
    #[serde(
        rename = "maxFileSizeKB",
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_file_size_kb: Option<u64>,
}

/// `messenger.apps`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Apps {
    /// The conversations (messaging) app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<ConversationsApp>,
    /// Knowledge app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<Toggle>,
}

/// `messenger.apps.conversations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationsApp {
    /// `wss://webmessaging.{domain}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_endpoint: Option<String>,
    /// Show the agent's typing indicator.
    #[serde(default, deserialize_with = "null_as_default")]
    pub show_agent_typing_indicator: bool,
    /// Send the guest's typing events.
    #[serde(default, deserialize_with = "null_as_default")]
    pub show_user_typing_indicator: bool,
    /// Send Presence Join on a new session.
    #[serde(default, deserialize_with = "null_as_default")]
    pub auto_start: Toggle,
    /// Agent disconnect behaviour.
    #[serde(default, deserialize_with = "null_as_default")]
    pub conversation_disconnect: ConversationDisconnect,
    /// Guest may clear the conversation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub conversation_clear: Toggle,
    /// Notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
    /// Render markdown.
    #[serde(default, deserialize_with = "null_as_default")]
    pub markdown: Toggle,
    /// Humanize (bot name/avatar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub humanize: Option<Humanize>,
    /// Threadline extension: a welcome text the client shows on a new conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_message: Option<String>,
    /// Threadline extension (also in the admin model): guest session inactivity TTL in seconds.
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_duration_seconds: Option<u64>,
}

wire_enum! {
    /// `conversationDisconnect.type` (default `Send`).
    #[derive(Default)]
    pub enum DisconnectType {
        /// The guest may keep writing after an agent disconnect.
        #[default]
        Send => "Send",
        /// The conversation becomes read-only.
        ReadOnly => "ReadOnly",
    }
}

/// `conversationDisconnect`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationDisconnect {
    /// Disconnect handling enabled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub enabled: bool,
    /// `Send` (default) or `ReadOnly`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub disconnect_type: DisconnectType,
}

/// `notifications`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notifications {
    /// Enabled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub enabled: bool,
    /// `IncludeMessagesContent` / `ExcludeMessagesContent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_content_type: Option<String>,
}

/// `humanize`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Humanize {
    /// Enabled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub enabled: bool,
    /// Bot persona.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<HumanizeBot>,
}

/// `humanize.bot`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HumanizeBot {
    /// Bot display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Bot avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

impl DeploymentConfig {
    /// Decodes `config.json`. Unknown keys are ignored.
    pub fn from_json(text: &str) -> Result<Self, super::DecodeError> {
        super::http::decode_body(text, "config")
    }

    /// Encodes as compact JSON.
    pub fn to_json(&self) -> String {
        super::http::encode_body(self)
    }

    /// `messenger.apps.conversations`, if present.
    pub fn conversations(&self) -> Option<&ConversationsApp> {
        self.messenger
            .as_ref()?
            .apps
            .as_ref()?
            .conversations
            .as_ref()
    }

    /// Autostart (Presence Join on a new session) is enabled.
    pub fn auto_start_enabled(&self) -> bool {
        self.conversations()
            .is_some_and(|app| app.auto_start.enabled)
    }

    /// Guest typing events may be sent.
    pub fn user_typing_enabled(&self) -> bool {
        self.conversations()
            .is_some_and(|app| app.show_user_typing_indicator)
    }

    /// Agent typing should be shown.
    pub fn agent_typing_enabled(&self) -> bool {
        self.conversations()
            .is_some_and(|app| app.show_agent_typing_indicator)
    }

    /// Clear conversation is enabled.
    pub fn conversation_clear_enabled(&self) -> bool {
        self.conversations()
            .is_some_and(|app| app.conversation_clear.enabled)
    }

    /// Authenticated sessions are enabled.
    pub fn auth_enabled(&self) -> bool {
        self.auth.is_some_and(|auth| auth.enabled)
    }

    /// Markdown rendering is enabled.
    pub fn markdown_enabled(&self) -> bool {
        self.conversations().is_some_and(|app| app.markdown.enabled)
    }
}
