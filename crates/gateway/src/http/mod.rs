//! HTTP adapters: Web Messaging REST routes, attachments, the control API and the console.

pub mod auth;
pub mod console;
pub mod control;
pub mod webmessaging;

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::domain::hub::ControlError;

/// `http://host[:port]` as the client addressed us (the `Host` header), else the bound address.
pub fn base_url(headers: &HeaderMap, local_addr: SocketAddr) -> String {
    let host = headers
        .get("host")
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
    match host {
        Some(host) => format!("http://{host}"),
        None => format!("http://{local_addr}"),
    }
}

/// The token of an `Authorization: bearer <token>` header (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// A JSON error body `{"error": message}` with a status.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self {
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::Conflict(_) => StatusCode::CONFLICT,
            ControlError::Store(error) => {
                tracing::error!(%error, "storage failure in a control request");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        error_response(status, self.to_string())
    }
}
