//! HTTP bodies: the history page (SPEC §9) and the auth token exchanges (SPEC §11).

use serde::{Deserialize, Serialize};

use super::error::{json_kind, parse_bounded, DecodeError};
use super::ids::DeploymentId;
use super::lenient::null_as_default;
use super::message::Message;
use super::MAX_FRAME_BYTES;

/// Size limit for HTTP bodies decoded here: a history page of 25–100 messages is far larger than
/// one frame, so allow 16 frames' worth.
pub const MAX_HTTP_BODY_BYTES: usize = 16 * MAX_FRAME_BYTES;

pub(crate) fn decode_body<T: for<'de> Deserialize<'de>>(
    text: &str,
    what: &str,
) -> Result<T, DecodeError> {
    let value = parse_bounded(text, MAX_HTTP_BODY_BYTES)?;
    if !value.is_object() {
        return Err(DecodeError::NotAnObject {
            found: json_kind(&value),
        });
    }
    serde_json::from_value(value).map_err(|error| DecodeError::from_serde(what, error))
}

pub(crate) fn encode_body<T: Serialize>(body: &T) -> String {
    // Infallible: string keys only, no failing Serialize impls.
    serde_json::to_string(body).unwrap_or_else(|error| unreachable!("HTTP body encodes: {error}"))
}

macro_rules! json_body {
    ($($name:ident => $what:literal,)*) => {
        $(
            impl $name {
                /// Decodes the body; unknown keys are ignored.
                pub fn from_json(text: &str) -> Result<Self, DecodeError> {
                    decode_body(text, $what)
                }

                /// Encodes as compact JSON.
                pub fn to_json(&self) -> String {
                    encode_body(self)
                }
            }
        )*
    };
}

json_body! {
    HistoryPage => "history",
    CodeExchangeRequest => "exchange",
    JwtExchangeResponse => "exchange",
    RefreshRequest => "refresh",
    RefreshResponse => "refresh",
}

/// `GET /api/v2/webmessaging/messages` response: newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    /// Messages, newest first (same shape as `StructuredMessage` bodies; `channel.time` may be null).
    #[serde(default, deserialize_with = "null_as_default")]
    pub entities: Vec<Message>,
    /// Page size.
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_size: u32,
    /// 1-based page number.
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_number: u32,
    /// Total messages across pages.
    #[serde(default, deserialize_with = "null_as_default")]
    pub total: u64,
    /// Number of pages.
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_count: u32,
}

/// `POST /api/v2/webdeployments/token/oauthcodegrantjwtexchange` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeExchangeRequest {
    /// Deployment id.
    pub deployment_id: DeploymentId,
    /// The IdP result to exchange.
    pub oauth: OAuthGrant,
}

/// The `oauth` object: authorization code (optionally PKCE) or implicit id token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OAuthGrant {
    /// Implicit flow: `{idToken, nonce}` (tried first: it is recognised by `idToken`).
    Implicit(ImplicitGrant),
    /// Code flow: `{code, redirectUri, codeVerifier?, …}`.
    Code(CodeGrant),
}

/// Code-flow `oauth` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeGrant {
    /// IdP authorization code.
    pub code: String,
    /// Redirect URI used in the authorization request.
    pub redirect_uri: String,
    /// PKCE verifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<String>,
    /// Nonce (web Messenger plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Max age (web Messenger plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// Issuer (web Messenger plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// Implicit-flow `oauth` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImplicitGrant {
    /// The IdP id token.
    pub id_token: String,
    /// The nonce used in the authorization request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// Exchange response: `{jwt, refreshToken?}` (implicit flow: no refresh token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtExchangeResponse {
    /// Genesys auth JWT (for `configureAuthenticatedSession`).
    pub jwt: String,
    /// Refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// `POST /api/v2/webdeployments/token/refresh` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh_token: String,
}

/// Refresh response: `{jwt}`; a missing `refreshToken` means "keep the old one".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshResponse {
    /// New auth JWT.
    pub jwt: String,
    /// Rotated refresh token, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}
