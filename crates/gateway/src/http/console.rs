//! The agent console at `/console`: a plain HTML page with a little JavaScript, a JSON API
//! and a server-sent-events stream that tells the page when to refresh.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::domain::hub::ControlError;
use crate::AppState;

const PAGE: &str = include_str!("console_assets/console.html");
const SCRIPT: &str = include_str!("console_assets/console.js");

/// The `/console` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(page))
        .route("/console/", get(page))
        .route("/console/app.js", get(script))
        .route("/console/events", get(events))
        .route("/console/api/conversations", get(conversations))
        .route("/console/api/conversations/{id}", get(conversation))
        .route("/console/api/conversations/{id}/messages", post(reply))
        .route("/console/api/conversations/{id}/typing", post(typing))
        .route(
            "/console/api/conversations/{id}/disconnect",
            post(disconnect),
        )
        .route("/console/api/conversations/{id}/transfer", post(transfer))
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

async fn conversations(State(app): State<AppState>) -> Response {
    Json(app.hub.conversations_json()).into_response()
}

async fn conversation(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ControlError> {
    let summary = app
        .hub
        .conversation_json(&id)
        .ok_or_else(|| ControlError::NotFound(format!("no conversation {id}")))?;
    let transcript = app.hub.conversation_transcript(&id)?;
    let earlier = app.hub.earlier_conversations(&id)?.unwrap_or_default();
    Ok(Json(
        json!({"conversation": summary, "transcript": transcript, "earlierConversations": earlier}),
    )
    .into_response())
}

fn session_of(app: &AppState, id: &str) -> Result<(String, String), ControlError> {
    app.hub
        .conversation_session(id)
        .ok_or_else(|| ControlError::NotFound(format!("no conversation {id}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Reply {
    #[serde(default)]
    text: String,
    #[serde(default)]
    quick_replies: Vec<String>,
    image_url: Option<String>,
    agent_name: Option<String>,
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, ControlError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ControlError::BadRequest(format!("invalid body: {error}")))
}

async fn reply(
    State(app): State<AppState>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ControlError> {
    let reply: Reply = body(&bytes)?;
    let (token, deployment) = session_of(&app, &id)?;
    let mut content: Vec<Value> = reply
        .quick_replies
        .iter()
        .filter(|text| !text.trim().is_empty())
        .map(|text| json!({"contentType": "QuickReply", "quickReply": {"text": text, "payload": text, "action": "Message"}}))
        .collect();
    if let Some(url) = reply.image_url.filter(|url| !url.trim().is_empty()) {
        let filename = url.rsplit('/').next().unwrap_or("image").to_owned();
        content.push(json!({"contentType": "Attachment", "attachment": {"id": uuid::Uuid::new_v4().to_string(), "url": url, "filename": filename, "mediaType": "Image"}}));
    }
    let text = Some(reply.text).filter(|text| !text.is_empty());
    let sent = app.hub.agent_message(
        &token,
        Some(&deployment),
        text,
        Some(content),
        reply.agent_name,
    )?;
    Ok(Json(sent).into_response())
}

async fn typing(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ControlError> {
    let (token, deployment) = session_of(&app, &id)?;
    app.hub.agent_typing(&token, Some(&deployment))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Disconnect {
    read_only: Option<bool>,
}

async fn disconnect(
    State(app): State<AppState>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ControlError> {
    let request: Disconnect = body(&bytes)?;
    let (token, deployment) = session_of(&app, &id)?;
    Ok(Json(
        app.hub
            .disconnect(&token, Some(&deployment), request.read_only)?,
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Transfer {
    queue: String,
}

async fn transfer(
    State(app): State<AppState>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ControlError> {
    let request: Transfer = body(&bytes)?;
    if request.queue.trim().is_empty() {
        return Err(ControlError::BadRequest("queue must not be empty".into()));
    }
    app.hub.transfer(&id, request.queue.trim())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Change notifications; the page re-fetches what it shows.
async fn events(State(app): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = app.hub.subscribe_console();
    let stream = stream::unfold(receiver, |mut receiver| async move {
        match receiver.recv().await {
            Ok(data) => Some((Ok(Event::default().data(data)), receiver)),
            // Missed some: one "refresh everything" event is enough.
            Err(RecvError::Lagged(_)) => {
                Some((Ok(Event::default().data(r#"{"kind":"lagged"}"#)), receiver))
            }
            Err(RecvError::Closed) => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
