//! The messenger's own settings (not the deployment's config.json): which server and
//! deployment, language, theme and position. Read from the page URL query first, then from
//! `window.ThreadlineConfig`, then defaults (see [`crate::platform::page_config`]).

use serde::{Deserialize, Deserializer};

use crate::auth::{AuthSettings, RawAuth};
use crate::i18n::Locale;

/// The gateway's `--dev` demo deployment, used when nothing else is configured.
pub const DEFAULT_DEPLOYMENT_ID: &str = "7c2a1d3e-5b4f-4a6c-8d9e-0f1a2b3c4d5e";

/// Light, dark, or following the system preference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
    #[default]
    Auto,
}

impl Theme {
    /// `light`, `dark`, anything else = `auto`.
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "light" => Self::Light,
            "dark" => Self::Dark,
            _ => Self::Auto,
        }
    }

    /// The `data-theme` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
            Self::Auto => "auto",
        }
    }
}

/// Which bottom corner the launcher sits in (logical: `start`/`end` flip with RTL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Position {
    Left,
    #[default]
    Right,
}

impl Position {
    /// `left`/`start` or anything else = right.
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "left" | "start" => Self::Left,
            _ => Self::Right,
        }
    }

    /// The `data-position` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Right => "right",
        }
    }
}

/// Everything the host page can set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppConfig {
    /// Messenger deployment id.
    pub deployment_id: String,
    /// A Genesys region domain (`mypurecloud.com`) or one server URL (`http://127.0.0.1:8080`).
    pub server: String,
    /// UI language.
    pub locale: Locale,
    /// Colour scheme.
    pub theme: Theme,
    /// Launcher corner.
    pub position: Position,
    /// Primary colour override (`#RRGGBB`); otherwise config.json's `styles.primaryColor`.
    pub primary_color: Option<String>,
    /// Header title override.
    pub title: Option<String>,
    /// Customer sign-in (`None` = guests only).
    pub auth: Option<AuthSettings>,
    /// A short beep for each new agent message nobody is looking at (off by default).
    pub sound: bool,
    /// An OS notification for a new agent message while the page is hidden, when the page
    /// holds the `Notification` permission (off by default).
    pub notifications: bool,
}

impl AppConfig {
    /// Defaults for a page served by the gateway itself: `server` is that page's origin.
    pub fn with_server(server: impl Into<String>) -> Self {
        Self {
            deployment_id: DEFAULT_DEPLOYMENT_ID.to_string(),
            server: server.into(),
            locale: Locale::En,
            theme: Theme::Auto,
            position: Position::Right,
            primary_color: None,
            title: None,
            auth: None,
            sound: false,
            notifications: false,
        }
    }

    /// Applies the settings present in `raw` (missing ones keep their current value).
    pub fn apply(&mut self, raw: &RawConfig) {
        let non_empty = |value: &Option<String>| value.as_deref().map(str::trim).filter(|value| !value.is_empty()).map(str::to_string);
        if let Some(id) = non_empty(&raw.deployment_id) {
            self.deployment_id = id;
        }
        if let Some(server) = non_empty(&raw.server) {
            self.server = server;
        }
        if let Some(locale) = non_empty(&raw.locale) {
            self.locale = Locale::parse(&locale);
        }
        if let Some(theme) = non_empty(&raw.theme) {
            self.theme = Theme::parse(&theme);
        }
        if let Some(position) = non_empty(&raw.position) {
            self.position = Position::parse(&position);
        }
        if let Some(color) = non_empty(&raw.primary_color).filter(|color| is_hex_color(color)) {
            self.primary_color = Some(color);
        }
        if let Some(title) = non_empty(&raw.title) {
            self.title = Some(title);
        }
        if let Some(auth) = &raw.auth {
            self.auth = auth.settings();
        }
        if let Some(Flag(sound)) = raw.sound {
            self.sound = sound;
        }
        if let Some(Flag(notifications)) = raw.notifications {
            self.notifications = notifications;
        }
    }
}

/// Settings as the host page writes them (`window.ThreadlineConfig` or URL query keys).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawConfig {
    pub deployment_id: Option<String>,
    pub server: Option<String>,
    pub locale: Option<String>,
    pub theme: Option<String>,
    pub position: Option<String>,
    pub primary_color: Option<String>,
    pub title: Option<String>,
    /// `true`, `"1"` or `{authorizeUrl, clientId, redirectUri}`.
    pub auth: Option<RawAuth>,
    /// `true`/`false`, or as text (`data-sound="true"`, `?sound=1`).
    pub sound: Option<Flag>,
    /// Like `sound`.
    pub notifications: Option<Flag>,
}

/// An on/off setting written as a boolean, a number, or text (`true`/`1`/`on`/`yes` are on,
/// anything else off): attributes and query strings only have text. Hand-written rather than
/// an untagged enum, whose buffering deserializer costs far more wasm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag(pub bool);

impl Flag {
    /// Reads a textual flag.
    pub fn parse(text: &str) -> Self {
        Self(matches!(text.trim().to_ascii_lowercase().as_str(), "true" | "1" | "on" | "yes"))
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Flag;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a boolean, 0/1, or \"true\"/\"false\"")
            }
            fn visit_bool<E>(self, value: bool) -> Result<Flag, E> {
                Ok(Flag(value))
            }
            fn visit_u64<E>(self, value: u64) -> Result<Flag, E> {
                Ok(Flag(value != 0))
            }
            fn visit_i64<E>(self, value: i64) -> Result<Flag, E> {
                Ok(Flag(value != 0))
            }
            fn visit_f64<E>(self, value: f64) -> Result<Flag, E> {
                Ok(Flag(value != 0.0))
            }
            fn visit_str<E>(self, value: &str) -> Result<Flag, E> {
                Ok(Flag::parse(value))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl RawConfig {
    /// Collects the known keys from decoded query pairs; unknown keys are ignored.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut raw = Self::default();
        for (key, value) in pairs {
            let slot = match key {
                "auth" => {
                    raw.auth = Some(RawAuth::Text(value.to_string()));
                    continue;
                }
                "sound" => {
                    raw.sound = Some(Flag::parse(value));
                    continue;
                }
                "notifications" => {
                    raw.notifications = Some(Flag::parse(value));
                    continue;
                }
                "deploymentId" => &mut raw.deployment_id,
                "server" => &mut raw.server,
                "locale" => &mut raw.locale,
                "theme" => &mut raw.theme,
                "position" => &mut raw.position,
                "primaryColor" => &mut raw.primary_color,
                "title" => &mut raw.title,
                _ => continue,
            };
            *slot = Some(value.to_string());
        }
        raw
    }
}

/// `#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa`: the only colour syntax accepted, so a setting can
/// never smuggle other CSS into a custom property.
pub fn is_hex_color(value: &str) -> bool {
    value
        .strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|byte| byte.is_ascii_hexdigit()))
}

/// The text colour for a `#RGB`/`#RRGGBB` (alpha ignored) primary colour: white or near-black,
/// whichever contrasts more (WCAG relative luminance), so a host's light brand colour still
/// gives a readable header, launcher and own bubbles. `None` when `color` is not hex.
pub fn on_primary_color(color: &str) -> Option<&'static str> {
    let hex = color.strip_prefix('#').filter(|_| is_hex_color(color))?;
    let channel = |index: usize| -> Option<f64> {
        let value = match hex.len() {
            3 | 4 => u8::from_str_radix(&hex[index..=index], 16).ok()? * 17,
            _ => u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).ok()?,
        };
        let srgb = f64::from(value) / 255.0;
        Some(if srgb <= 0.04045 { srgb / 12.92 } else { ((srgb + 0.055) / 1.055).powf(2.4) })
    };
    let luminance = 0.2126 * channel(0)? + 0.7152 * channel(1)? + 0.0722 * channel(2)?;
    // Contrast with white: 1.05 / (L + 0.05); with #111111 (L ≈ 0.0056): (L + 0.05) / 0.0556.
    let with_white = 1.05 / (luminance + 0.05);
    let with_dark = (luminance + 0.05) / 0.0556;
    Some(if with_white >= with_dark { "#ffffff" } else { DARK_ON_PRIMARY })
}

/// The dark text [`on_primary_color`] picks for a light primary colour.
pub const DARK_ON_PRIMARY: &str = "#111111";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_on_the_primary_colour_is_whichever_of_white_and_dark_contrasts_more() {
        assert_eq!(on_primary_color("#0d6efd"), Some("#ffffff"), "the default blue");
        assert_eq!(on_primary_color("#7c3aed"), Some("#ffffff"));
        assert_eq!(on_primary_color("#ffd400"), Some("#111111"), "a yellow brand colour");
        assert_eq!(on_primary_color("#fff"), Some("#111111"));
        assert_eq!(on_primary_color("#000c"), Some("#ffffff"), "#RGBA: alpha ignored");
        assert_eq!(on_primary_color("#8fd14f"), Some("#111111"));
        assert_eq!(on_primary_color("red"), None);
        assert_eq!(on_primary_color("#12345"), None);
    }

    #[test]
    fn query_overrides_defaults() {
        let mut config = AppConfig::with_server("http://127.0.0.1:8080");
        let raw = RawConfig::from_pairs([("locale", "ar"), ("position", "left"), ("theme", "dark"), ("other", "x"), ("primaryColor", "#123abc")]);
        config.apply(&raw);
        assert_eq!(config.locale, Locale::Ar);
        assert_eq!(config.position, Position::Left);
        assert_eq!(config.theme, Theme::Dark);
        assert_eq!(config.primary_color.as_deref(), Some("#123abc"));
        assert_eq!(config.deployment_id, DEFAULT_DEPLOYMENT_ID);
        assert_eq!(config.auth, None);
    }

    #[test]
    fn auth_from_the_query_or_the_page_object() {
        let mut config = AppConfig::with_server("http://127.0.0.1:8080");
        config.apply(&RawConfig::from_pairs([("auth", "1")]));
        assert_eq!(config.auth, Some(AuthSettings::defaults()));
        let raw: RawConfig = serde_json::from_str(r#"{"auth":{"clientId":"shop","authorizeUrl":"https://idp.example/authorize"}}"#).unwrap();
        config.apply(&raw);
        let auth = config.auth.clone().unwrap();
        assert_eq!(auth.client_id, "shop");
        assert_eq!(auth.authorize_url.as_deref(), Some("https://idp.example/authorize"));
        config.apply(&RawConfig::from_pairs([("auth", "0")]));
        assert_eq!(config.auth, None);
    }

    #[test]
    fn sound_and_notifications_are_off_unless_asked_for() {
        let mut config = AppConfig::with_server("http://127.0.0.1:8080");
        assert!(!config.sound && !config.notifications);
        config.apply(&RawConfig::from_pairs([("sound", "1"), ("notifications", "true")]));
        assert!(config.sound && config.notifications);
        config.apply(&RawConfig::from_pairs([("sound", "off")]));
        assert!(!config.sound, "off turns it off");
        assert!(config.notifications, "an absent key keeps its value");
        let raw: RawConfig = serde_json::from_str(r#"{"sound":true,"notifications":0}"#).unwrap();
        config.apply(&raw);
        assert!(config.sound && !config.notifications);
        let raw: RawConfig = serde_json::from_str(r#"{"sound":"yes"}"#).unwrap();
        assert_eq!(raw.sound, Some(Flag(true)));
        assert!(serde_json::from_str::<RawConfig>(r#"{"sound":[1]}"#).is_err(), "a list is not a flag");
    }

    #[test]
    fn bad_colours_and_empty_values_are_ignored() {
        let mut config = AppConfig::with_server("mypurecloud.com");
        config.apply(&RawConfig::from_pairs([("primaryColor", "red;background:url(x)"), ("server", " ")]));
        assert_eq!(config.primary_color, None);
        assert_eq!(config.server, "mypurecloud.com");
        assert!(is_hex_color("#fff"));
        assert!(!is_hex_color("#ffff0"));
        assert!(!is_hex_color("fff"));
    }
}
