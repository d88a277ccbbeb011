//! The Genesys-shaped REST routes: deployment config, history, conversations, uploads,
//! downloads and a health check.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{base_url, error_response};
use crate::domain::attachments::{is_safe_id, UploadOutcome, UploadRequest};
use crate::domain::deployment::{DeploymentSettings, DisconnectType};
use crate::domain::history::HistoryError;
use crate::AppState;

/// `GET /healthz`.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /webdeployments/v1/deployments/{id}/config.json`.
pub async fn deployment_config(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(settings) = app.hub.deployment(&id) else {
        return error_response(StatusCode::NOT_FOUND, format!("no deployment {id}"));
    };
    let base = base_url(&headers, app.local_addr);
    Json(config_json(&id, &settings, &base)).into_response()
}

/// The config.json document (SPEC §12) plus Threadline's `welcomeMessage` and
/// `sessionDurationSeconds` under `messenger.apps.conversations`.
pub fn config_json(id: &str, settings: &DeploymentSettings, base_url: &str) -> Value {
    let messaging_endpoint = base_url.replacen("http://", "ws://", 1);
    let mut conversations = json!({
        "messagingEndpoint": messaging_endpoint,
        "showAgentTypingIndicator": settings.show_agent_typing_indicator,
        "showUserTypingIndicator": settings.show_user_typing_indicator,
        "autoStart": {"enabled": settings.auto_start},
        "conversationDisconnect": {
            "enabled": settings.conversation_disconnect.enabled,
            "type": match settings.conversation_disconnect.kind { DisconnectType::Send => "Send", DisconnectType::ReadOnly => "ReadOnly" }
        },
        "conversationClear": {"enabled": settings.conversation_clear},
        "notifications": {"enabled": false, "notificationContentType": "ExcludeMessagesContent"},
        "markdown": {"enabled": settings.markdown},
        "humanize": {"enabled": false},
        "sessionDurationSeconds": settings.ttl_seconds()
    });
    if let Some(welcome) = &settings.welcome_message {
        conversations["welcomeMessage"] = Value::from(welcome.as_str());
    }
    json!({
        "id": id,
        "version": "1",
        "name": settings.name,
        "languages": ["en-us"],
        "defaultLanguage": "en-us",
        "apiEndpoint": base_url,
        "status": "Active",
        "journeyEvents": {"enabled": false},
        "auth": {"enabled": settings.auth.enabled, "allowSessionUpgrade": settings.auth.allow_session_upgrade},
        "messenger": {
            "enabled": true,
            "styles": {"primaryColor": "#0D6EFD"},
            "launcherButton": {"visibility": "On"},
            "fileUpload": {
                "enableAttachments": settings.attachments.enabled(),
                "modes": [{"fileTypes": settings.attachments.file_types, "maxFileSizeKB": settings.attachments.max_file_size_kb}]
            },
            "apps": {"conversations": conversations}
        }
    })
}

/// `GET /api/v2/webmessaging/messages?pageNumber&pageSize` with `Authorization: bearer <jwt>`.
pub async fn history(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(jwt) = super::bearer(&headers) else {
        return error_response(StatusCode::UNAUTHORIZED, "missing bearer token");
    };
    let number = |key: &str| query.get(key).and_then(|value| value.parse::<u64>().ok());
    let (page_number, page_size) = (number("pageNumber"), number("pageSize"));
    for key in ["pageNumber", "pageSize"] {
        if query.contains_key(key) && number(key).is_none() {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("{key} must be a positive integer"),
            );
        }
    }
    match app.hub.history(&jwt, page_number, page_size) {
        Ok(page) => Json(page).into_response(),
        Err(HistoryError::Unauthorized(reason)) => error_response(StatusCode::UNAUTHORIZED, reason),
        Err(HistoryError::Store(error)) => {
            tracing::error!(%error, "history read failed");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "history is unavailable")
        }
    }
}

/// `GET /api/v2/conversations/{id}`.
pub async fn conversation(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    match app.hub.conversation_json(&id) {
        Some(conversation) => Json(conversation).into_response(),
        None => error_response(StatusCode::NOT_FOUND, format!("no conversation {id}")),
    }
}

fn signed_query(query: &HashMap<String, String>) -> Option<(u64, String)> {
    Some((
        query.get("expires")?.parse().ok()?,
        query.get("signature")?.clone(),
    ))
}

/// `PUT /uploads/{id}?expires&signature`: the presigned upload URL.
pub async fn upload(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_safe_id(&id) {
        return error_response(StatusCode::NOT_FOUND, "no such upload");
    }
    let Some((expires, signature)) = signed_query(&query) else {
        return error_response(StatusCode::FORBIDDEN, "the upload URL is not signed");
    };
    let tagging = headers
        .get("x-amz-tagging")
        .and_then(|value| value.to_str().ok());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let base = base_url(&headers, app.local_addr);
    let request = UploadRequest {
        attachment_id: &id,
        expires,
        signature: &signature,
        tagging_header: tagging,
        content_type,
        bytes: &body,
        base_url: &base,
    };
    match app.hub.upload(&request) {
        UploadOutcome::Stored => StatusCode::OK.into_response(),
        // The bytes arrived; the verdict travels as UploadFailureEvent (like a post-upload scan).
        UploadOutcome::Rejected(_) => StatusCode::OK.into_response(),
        UploadOutcome::Forbidden(reason) => error_response(StatusCode::FORBIDDEN, reason),
        UploadOutcome::NotFound => error_response(StatusCode::NOT_FOUND, "no such upload"),
    }
}

/// `GET /api/v2/downloads/{id}?expires&signature`: 404 once the URL expired.
pub async fn download(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let found = signed_query(&query)
        .and_then(|(expires, signature)| app.hub.download(&id, expires, &signature));
    let Some(download) = found else {
        return error_response(
            StatusCode::NOT_FOUND,
            "download URL expired or unknown; request a new one with getAttachment",
        );
    };
    let disposition = format!(
        "inline; filename=\"{}\"",
        download
            .file_name
            .chars()
            .map(|c| if c.is_ascii_graphic() && c != '"' || c == ' ' {
                c
            } else {
                '_'
            })
            .collect::<String>()
    );
    (
        [
            (header::CONTENT_TYPE, download.mime),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        download.bytes,
    )
        .into_response()
}
