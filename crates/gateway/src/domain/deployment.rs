//! Deployment settings: what an administrator configures per Messenger deployment.
//!
//! The same camelCase keys are accepted from the control API (JSON) and the `--deployments`
//! TOML file. Unknown keys are refused so a typo never silently falls back to a default.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The fixed id of the demo deployment created by `--dev`.
pub const DEMO_DEPLOYMENT_ID: &str = "7c2a1d3e-5b4f-4a6c-8d9e-0f1a2b3c4d5e";

/// The longest guest session TTL accepted (30 days).
pub const MAX_GUEST_TTL_SECONDS: u64 = 30 * 86_400;

/// Named TTL presets of the admin UI and their length in seconds.
const TTL_PRESETS: [(&str, u64); 8] = [
    ("15m", 900),
    ("30m", 1800),
    ("1h", 3600),
    ("8h", 8 * 3600),
    ("1d", 86_400),
    ("3d", 3 * 86_400),
    ("7d", 7 * 86_400),
    ("30d", 30 * 86_400),
];

/// Why a deployment body was refused (the caller's fault; answered with HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid deployment settings: {0}")]
    Invalid(String),
    #[error("guestSessionTtl: unknown preset {0:?} (use 15m, 30m, 1h, 8h, 1d, 3d, 7d, 30d or {{months, days, hours, minutes}})")]
    UnknownPreset(String),
    #[error("guestSessionTtl must be between 1 minute and 30 days, got {0} s")]
    TtlOutOfRange(u64),
    #[error("the deployment body must be a JSON object")]
    NotAnObject,
}

/// Guest session inactivity TTL: a preset name or a custom duration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GuestSessionTtl {
    Preset(String),
    Custom(CustomTtl),
}

/// A custom TTL; a month counts as 30 days.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomTtl {
    #[serde(default)]
    pub months: u64,
    #[serde(default)]
    pub days: u64,
    #[serde(default)]
    pub hours: u64,
    #[serde(default)]
    pub minutes: u64,
}

impl GuestSessionTtl {
    /// The TTL in seconds, validated against the presets and the 30-day cap.
    pub fn seconds(&self) -> Result<u64, SettingsError> {
        let seconds = match self {
            GuestSessionTtl::Preset(name) => TTL_PRESETS
                .iter()
                .find(|(preset, _)| preset == name)
                .map(|(_, seconds)| *seconds)
                .ok_or_else(|| SettingsError::UnknownPreset(name.clone()))?,
            GuestSessionTtl::Custom(custom) => custom
                .months
                .saturating_mul(30 * 86_400)
                .saturating_add(custom.days.saturating_mul(86_400))
                .saturating_add(custom.hours.saturating_mul(3600))
                .saturating_add(custom.minutes.saturating_mul(60)),
        };
        if !(60..=MAX_GUEST_TTL_SECONDS).contains(&seconds) {
            return Err(SettingsError::TtlOutOfRange(seconds));
        }
        Ok(seconds)
    }
}

impl Default for GuestSessionTtl {
    fn default() -> Self {
        GuestSessionTtl::Preset("3d".into())
    }
}

/// What happens when an agent disconnects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DisconnectType {
    #[default]
    Send,
    ReadOnly,
}

/// `conversationDisconnect` setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConversationDisconnect {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, rename = "type")]
    pub kind: DisconnectType,
}

impl Default for ConversationDisconnect {
    fn default() -> Self {
        Self {
            enabled: true,
            kind: DisconnectType::Send,
        }
    }
}

/// Guest upload rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttachmentSettings {
    /// MIME types; `image/*` and `*/*` wildcards allowed. Empty = uploads disabled.
    #[serde(default = "default_file_types")]
    pub file_types: Vec<String>,
    #[serde(default = "default_max_file_kb", rename = "maxFileSizeKB")]
    pub max_file_size_kb: u64,
    #[serde(default = "default_blocked_extensions")]
    pub blocked_extensions: Vec<String>,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        Self {
            file_types: default_file_types(),
            max_file_size_kb: default_max_file_kb(),
            blocked_extensions: default_blocked_extensions(),
        }
    }
}

impl AttachmentSettings {
    /// Whether uploads are possible at all (the SDK's rule: types listed and a size above 0).
    pub fn enabled(&self) -> bool {
        !self.file_types.is_empty() && self.max_file_size_kb > 0
    }

    /// Whether `mime` matches one of the allowed types (`type/*` and `*/*` wildcards).
    pub fn allows_type(&self, mime: &str) -> bool {
        let mime = mime.trim().to_ascii_lowercase();
        self.file_types.iter().any(|allowed| {
            let allowed = allowed.trim().to_ascii_lowercase();
            allowed == "*/*"
                || allowed == mime
                || allowed.strip_suffix("/*").is_some_and(|family| {
                    mime.split('/').next() == Some(family) && mime.contains('/')
                })
        })
    }

    /// Whether the file name ends with a blocked extension (case-insensitive).
    pub fn blocks_name(&self, file_name: &str) -> bool {
        let lower = file_name.to_ascii_lowercase();
        self.blocked_extensions.iter().any(|extension| {
            let extension = extension.trim().to_ascii_lowercase();
            let extension = if extension.starts_with('.') {
                extension
            } else {
                format!(".{extension}")
            };
            lower.ends_with(&extension)
        })
    }

    /// The size limit in bytes (the SDK compares `bytes / 1000 <= maxFileSizeKB`).
    pub fn max_bytes(&self) -> u64 {
        self.max_file_size_kb.saturating_mul(1000)
    }
}

/// The longest message retention accepted (about 18 months), for curated contacts.
pub const MAX_MESSAGE_TTL_DAYS: u64 = 548;

/// Message retention of contacts that are not curated, capped by the deployment's own TTL.
pub const UNCURATED_MESSAGE_TTL_DAYS: u64 = 15;

/// Authentication settings (SPEC §11.8).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthSettings {
    /// Gates `configureAuthenticatedSession` and the token endpoints.
    #[serde(default)]
    pub enabled: bool,
    /// Lets a live guest session be upgraded in place (step-up).
    #[serde(default)]
    pub allow_session_upgrade: bool,
    /// Lifetime of auth JWTs; absent = the gateway default (15 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_ttl_seconds: Option<u64>,
    /// Lifetime of refresh tokens; absent = the gateway default (24 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl_seconds: Option<u64>,
}

/// Everything configurable about one deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeploymentSettings {
    #[serde(default = "default_name")]
    pub name: String,
    /// Origins allowed to open the socket; empty = any origin.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub guest_session_ttl: GuestSessionTtl,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_message: Option<String>,
    #[serde(default)]
    pub conversation_disconnect: ConversationDisconnect,
    #[serde(default = "yes")]
    pub conversation_clear: bool,
    #[serde(default)]
    pub auto_start: bool,
    #[serde(default = "yes")]
    pub show_agent_typing_indicator: bool,
    #[serde(default = "yes")]
    pub show_user_typing_indicator: bool,
    #[serde(default = "yes")]
    pub markdown: bool,
    #[serde(default)]
    pub attachments: AttachmentSettings,
    #[serde(default = "default_max_custom_data_bytes")]
    pub max_custom_data_bytes: u64,
    /// Message retention in days (1 to 548) for curated contacts; other customers' messages
    /// are kept at most 15 days.
    #[serde(default = "default_message_ttl_days")]
    pub message_ttl_days: u64,
    #[serde(default)]
    pub auth: AuthSettings,
}

impl Default for DeploymentSettings {
    fn default() -> Self {
        Self {
            name: default_name(),
            allowed_origins: Vec::new(),
            guest_session_ttl: GuestSessionTtl::default(),
            welcome_message: None,
            conversation_disconnect: ConversationDisconnect::default(),
            conversation_clear: true,
            auto_start: false,
            show_agent_typing_indicator: true,
            show_user_typing_indicator: true,
            markdown: true,
            attachments: AttachmentSettings::default(),
            max_custom_data_bytes: default_max_custom_data_bytes(),
            message_ttl_days: default_message_ttl_days(),
            auth: AuthSettings::default(),
        }
    }
}

impl DeploymentSettings {
    /// Parses and validates a full settings object (missing keys take their defaults).
    pub fn from_json(body: Value) -> Result<Self, SettingsError> {
        if !body.is_object() {
            return Err(SettingsError::NotAnObject);
        }
        let settings: Self = serde_json::from_value(body)
            .map_err(|error| SettingsError::Invalid(error.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Applies a partial update: nested objects merge key by key, except `guestSessionTtl`,
    /// which is replaced as a whole (merging `{days}` into `{hours}` would surprise).
    pub fn patched(&self, patch: Value) -> Result<Self, SettingsError> {
        let Value::Object(patch) = patch else {
            return Err(SettingsError::NotAnObject);
        };
        let mut current = serde_json::to_value(self)
            .map_err(|error| SettingsError::Invalid(error.to_string()))?;
        if let Value::Object(target) = &mut current {
            for (key, value) in patch {
                if key == "guestSessionTtl" {
                    target.insert(key, value);
                } else {
                    merge_into(target, key, value);
                }
            }
        }
        Self::from_json(current)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        self.guest_session_ttl.seconds()?;
        if !(1..=MAX_MESSAGE_TTL_DAYS).contains(&self.message_ttl_days) {
            return Err(SettingsError::Invalid(format!(
                "messageTtlDays must be between 1 and {MAX_MESSAGE_TTL_DAYS}"
            )));
        }
        for (name, value) in [
            ("auth.jwtTtlSeconds", self.auth.jwt_ttl_seconds),
            (
                "auth.refreshTokenTtlSeconds",
                self.auth.refresh_token_ttl_seconds,
            ),
        ] {
            if value.is_some_and(|seconds| !(1..=366 * 86_400).contains(&seconds)) {
                return Err(SettingsError::Invalid(format!(
                    "{name} must be between 1 second and a year"
                )));
            }
        }
        Ok(())
    }

    /// The guest session TTL in seconds (validated at construction; falls back to 3 days).
    pub fn ttl_seconds(&self) -> u64 {
        self.guest_session_ttl.seconds().unwrap_or(3 * 86_400)
    }

    /// Whether a WebSocket upgrade from `origin` may proceed.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.is_empty() {
            return true;
        }
        let Some(origin) = origin else { return false };
        let origin = origin.trim_end_matches('/');
        self.allowed_origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.trim_end_matches('/') == origin)
    }

    /// The `allowedMedia` object of `SessionResponse` / `GetConfigurationResponse`.
    pub fn allowed_media_json(&self) -> Value {
        let types: Vec<Value> = self
            .attachments
            .file_types
            .iter()
            .map(|mime| json!({ "type": mime }))
            .collect();
        json!({ "inbound": { "fileTypes": types, "maxFileSizeKB": self.attachments.max_file_size_kb } })
    }

    /// The demo deployment of `--dev`.
    pub fn demo() -> Self {
        Self {
            name: "Demo".into(),
            guest_session_ttl: GuestSessionTtl::Preset("30m".into()),
            welcome_message: Some("Hi! How can we help you today?".into()),
            auto_start: false,
            attachments: AttachmentSettings {
                file_types: vec!["image/*".into(), "application/pdf".into()],
                max_file_size_kb: 10_240,
                blocked_extensions: default_blocked_extensions(),
            },
            ..Self::default()
        }
    }
}

fn merge_into(target: &mut Map<String, Value>, key: String, value: Value) {
    match (target.get_mut(&key), value) {
        (Some(Value::Object(existing)), Value::Object(patch)) => {
            for (inner_key, inner_value) in patch {
                merge_into(existing, inner_key, inner_value);
            }
        }
        (_, value) => {
            target.insert(key, value);
        }
    }
}

fn yes() -> bool {
    true
}
fn default_name() -> String {
    "Deployment".into()
}
fn default_file_types() -> Vec<String> {
    vec!["image/*".into()]
}
fn default_max_file_kb() -> u64 {
    10_240
}
fn default_blocked_extensions() -> Vec<String> {
    vec![".exe".into()]
}
fn default_max_custom_data_bytes() -> u64 {
    2048
}
fn default_message_ttl_days() -> u64 {
    15
}

/// One deployment as loaded from the `--deployments` TOML file.
#[derive(Clone, Debug)]
pub struct FileDeployment {
    pub id: String,
    pub settings: DeploymentSettings,
}

/// Parses a deployments file: `[[deployments]]` tables with an `id` plus the settings keys.
pub fn parse_deployments_toml(text: &str) -> Result<Vec<FileDeployment>, SettingsError> {
    let document: toml::Table =
        toml::from_str(text).map_err(|error| SettingsError::Invalid(error.to_string()))?;
    let mut deployments = Vec::new();
    for (key, value) in document {
        if key != "deployments" {
            return Err(SettingsError::Invalid(format!(
                "unknown top-level key {key:?} (expected [[deployments]])"
            )));
        }
        let toml::Value::Array(entries) = value else {
            return Err(SettingsError::Invalid(
                "deployments must be an array of tables ([[deployments]])".into(),
            ));
        };
        for entry in entries {
            let mut json = serde_json::to_value(entry)
                .map_err(|error| SettingsError::Invalid(error.to_string()))?;
            let id = match json.as_object_mut().and_then(|object| object.remove("id")) {
                Some(Value::String(id)) if !id.trim().is_empty() => id,
                _ => {
                    return Err(SettingsError::Invalid(
                        "every [[deployments]] entry needs a string id".into(),
                    ))
                }
            };
            deployments.push(FileDeployment {
                id,
                settings: DeploymentSettings::from_json(json)?,
            });
        }
    }
    Ok(deployments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_custom_ttls() {
        assert_eq!(
            GuestSessionTtl::Preset("30m".into()).seconds().unwrap(),
            1800
        );
        let custom = GuestSessionTtl::Custom(CustomTtl {
            days: 1,
            hours: 2,
            ..CustomTtl::default()
        });
        assert_eq!(custom.seconds().unwrap(), 93_600);
        assert!(GuestSessionTtl::Preset("2h".into()).seconds().is_err());
        let too_long = GuestSessionTtl::Custom(CustomTtl {
            months: 1,
            days: 1,
            ..CustomTtl::default()
        });
        assert!(too_long.seconds().is_err());
    }

    #[test]
    fn patch_merges_nested_and_refuses_unknown_keys() {
        let base = DeploymentSettings::default();
        let patched = base
            .patched(json!({"attachments": {"maxFileSizeKB": 5}}))
            .unwrap();
        assert_eq!(patched.attachments.max_file_size_kb, 5);
        assert_eq!(patched.attachments.file_types, vec!["image/*".to_string()]);
        assert!(base.patched(json!({"nope": 1})).is_err());
        let ttl = base
            .patched(json!({"guestSessionTtl": {"hours": 2}}))
            .unwrap();
        assert_eq!(ttl.ttl_seconds(), 7200);
    }

    #[test]
    fn wildcard_types_and_blocked_extensions() {
        let attachments = AttachmentSettings::default();
        assert!(attachments.allows_type("image/png"));
        assert!(!attachments.allows_type("application/pdf"));
        assert!(attachments.blocks_name("setup.EXE"));
    }

    #[test]
    fn toml_file_uses_the_same_keys() {
        let text = "[[deployments]]\nid = \"d1\"\nname = \"A\"\nguestSessionTtl = \"1h\"\n[deployments.attachments]\nfileTypes = [\"*/*\"]\n";
        let parsed = parse_deployments_toml(text).unwrap();
        assert_eq!(parsed[0].id, "d1");
        assert_eq!(parsed[0].settings.ttl_seconds(), 3600);
        assert!(parse_deployments_toml("[[deployments]]\nid = \"x\"\nbogus = 1\n").is_err());
    }
}
