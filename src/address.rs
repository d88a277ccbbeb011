//! Where the messenger talks to: a Genesys region domain or one local server URL, mapped to
//! the WebSocket URL and the two REST bases (SPEC §1). Pure string work, tested natively.

use std::fmt;

/// The three bases every request is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Full WebSocket URL including `?deploymentId=…&application=…`.
    pub ws_url: String,
    /// Base for `/api/v2/…` (history, auth), without a trailing slash.
    pub api_base: String,
    /// Base for `/webdeployments/v1/…` (config.json), without a trailing slash.
    pub cdn_base: String,
    /// The deployment id, as given.
    pub deployment_id: String,
}

/// Why a server setting could not be used. The configuration is at fault, never the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// The server setting is empty.
    EmptyServer,
    /// The deployment id is empty or has characters that cannot be part of a URL path.
    BadDeploymentId(String),
    /// A URL with a scheme other than http(s)/ws(s), or with no host.
    BadServerUrl(String),
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyServer => write!(f, "configuration error: no server or region domain was given"),
            Self::BadDeploymentId(id) => write!(f, "configuration error: deploymentId {id:?} is not a valid id"),
            Self::BadServerUrl(url) => {
                write!(f, "configuration error: server {url:?} must be a region domain or an http(s)/ws(s) URL with a host")
            }
        }
    }
}

impl std::error::Error for AddressError {}

/// The `application` query value sent on the WebSocket URL (informational, SPEC §1).
pub const APPLICATION: &str = concat!("Threadline-", env!("CARGO_PKG_VERSION"));

/// Maps a server setting and deployment id to endpoints.
///
/// * A region domain (`mypurecloud.com`, `usw2.pure.cloud`): `wss://webmessaging.{domain}/v1`,
///   `https://api.{domain}`, `https://api-cdn.{domain}`.
/// * A URL (`http://127.0.0.1:8080`, `https://chat.example.com/base/`): the socket at
///   `ws(s)://{host}{path}/v1` and every REST path on that same origin and path prefix, as the
///   gateway serves them.
pub fn endpoints(server: &str, deployment_id: &str) -> Result<Endpoints, AddressError> {
    let server = server.trim();
    if server.is_empty() {
        return Err(AddressError::EmptyServer);
    }
    let deployment_id = deployment_id.trim();
    let id_ok = !deployment_id.is_empty()
        && deployment_id.len() <= 128
        && deployment_id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if !id_ok {
        return Err(AddressError::BadDeploymentId(deployment_id.to_string()));
    }
    let query = format!("?deploymentId={deployment_id}&application={APPLICATION}");

    let (ws_base, http_base) = match server.split_once("://") {
        Some((scheme, rest)) => {
            let (ws_scheme, http_scheme) = match scheme.to_ascii_lowercase().as_str() {
                "http" | "ws" => ("ws", "http"),
                "https" | "wss" => ("wss", "https"),
                _ => return Err(AddressError::BadServerUrl(server.to_string())),
            };
            // Query and fragment of the setting have no meaning here.
            let rest = rest.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/');
            let host = rest.split('/').next().unwrap_or_default();
            if host.is_empty() || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(AddressError::BadServerUrl(server.to_string()));
            }
            (format!("{ws_scheme}://{rest}"), format!("{http_scheme}://{rest}"))
        }
        None => {
            let domain = server.trim_end_matches('/');
            let domain_ok = domain.contains('.')
                && domain.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.');
            if !domain_ok {
                return Err(AddressError::BadServerUrl(server.to_string()));
            }
            return Ok(Endpoints {
                ws_url: format!("wss://webmessaging.{domain}/v1{query}"),
                api_base: format!("https://api.{domain}"),
                cdn_base: format!("https://api-cdn.{domain}"),
                deployment_id: deployment_id.to_string(),
            });
        }
    };
    Ok(Endpoints {
        ws_url: format!("{ws_base}/v1{query}"),
        api_base: http_base.clone(),
        cdn_base: http_base,
        deployment_id: deployment_id.to_string(),
    })
}

impl Endpoints {
    /// `GET` URL of the deployment's `config.json`.
    pub fn config_url(&self) -> String {
        format!("{}/webdeployments/v1/deployments/{}/config.json", self.cdn_base, self.deployment_id)
    }

    /// `GET` URL of one history page (1-based, newest first).
    pub fn history_url(&self, page_number: u32, page_size: u32) -> String {
        format!("{}/api/v2/webmessaging/messages?pageNumber={page_number}&pageSize={page_size}", self.api_base)
    }

    /// `POST` URL of a Web Messaging token operation: `oauthcodegrantjwtexchange`, `refresh`
    /// or `revoke` (SPEC, authenticated sessions).
    pub fn token_url(&self, operation: &str) -> String {
        format!("{}/api/v2/webdeployments/token/{operation}", self.api_base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "7c2a1d3e-5b4f-4a6c-8d9e-0f1a2b3c4d5e";

    #[test]
    fn region_domain() {
        let endpoints = endpoints("mypurecloud.com", ID).unwrap();
        assert_eq!(endpoints.ws_url, format!("wss://webmessaging.mypurecloud.com/v1?deploymentId={ID}&application={APPLICATION}"));
        assert_eq!(endpoints.api_base, "https://api.mypurecloud.com");
        assert_eq!(endpoints.cdn_base, "https://api-cdn.mypurecloud.com");
        assert_eq!(endpoints.config_url(), format!("https://api-cdn.mypurecloud.com/webdeployments/v1/deployments/{ID}/config.json"));
        assert_eq!(endpoints.history_url(2, 25), "https://api.mypurecloud.com/api/v2/webmessaging/messages?pageNumber=2&pageSize=25");
    }

    #[test]
    fn local_server_url() {
        let endpoints = endpoints("http://127.0.0.1:8080/", ID).unwrap();
        assert!(endpoints.ws_url.starts_with(&format!("ws://127.0.0.1:8080/v1?deploymentId={ID}")));
        assert_eq!(endpoints.api_base, "http://127.0.0.1:8080");
        assert_eq!(endpoints.cdn_base, "http://127.0.0.1:8080");
        assert_eq!(endpoints.config_url(), format!("http://127.0.0.1:8080/webdeployments/v1/deployments/{ID}/config.json"));
    }

    #[test]
    fn secure_url_with_path_prefix() {
        let endpoints = endpoints("https://chat.example.com/gw?x=1", ID).unwrap();
        assert!(endpoints.ws_url.starts_with("wss://chat.example.com/gw/v1?"));
        assert_eq!(endpoints.api_base, "https://chat.example.com/gw");
        let from_ws = super::endpoints("wss://chat.example.com", ID).unwrap();
        assert_eq!(from_ws.api_base, "https://chat.example.com");
    }

    #[test]
    fn bad_settings_are_configuration_errors() {
        assert_eq!(endpoints("", ID), Err(AddressError::EmptyServer));
        assert!(matches!(endpoints("ftp://x.example", ID), Err(AddressError::BadServerUrl(_))));
        assert!(matches!(endpoints("javascript:alert(1)", ID), Err(AddressError::BadServerUrl(_))));
        assert!(matches!(endpoints("http://", ID), Err(AddressError::BadServerUrl(_))));
        assert!(matches!(endpoints("localhost", ID), Err(AddressError::BadServerUrl(_))));
        assert!(matches!(endpoints("mypurecloud.com", "a/b"), Err(AddressError::BadDeploymentId(_))));
        assert!(matches!(endpoints("mypurecloud.com", " "), Err(AddressError::BadDeploymentId(_))));
        assert!(endpoints("", ID).unwrap_err().to_string().starts_with("configuration error"));
    }
}
