//! The test-control API (only with `--dev`): deployments, sessions, agent actions, faults.
//! JSON over HTTP; bodies with unknown fields are refused with 400.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error_response;
use crate::domain::hub::{ControlError, Faults};
use crate::AppState;

/// The `/control` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/control/deployments",
            post(create_deployment).get(list_deployments),
        )
        .route(
            "/control/deployments/{id}",
            patch(patch_deployment).get(get_deployment),
        )
        .route("/control/sessions", get(list_sessions))
        .route("/control/sessions/{token}", get(get_session))
        .route("/control/sessions/{token}/messages", post(agent_message))
        .route("/control/sessions/{token}/typing", post(agent_typing))
        .route("/control/sessions/{token}/disconnect", post(disconnect))
        .route("/control/sessions/{token}/expire", post(expire))
        .route("/control/sessions/{token}/drop", post(drop_sockets))
        .route("/control/sessions/{token}/frames", post(raw_frame))
        .route("/control/faults", post(set_faults).delete(clear_faults))
        .route("/control/retention/purge", post(purge))
        .route("/control/auth/users", get(list_users))
        .route("/control/auth/revoke", post(revoke_refresh_tokens))
        .route("/control/auth/expire-jwts", post(expire_jwts))
        .route(
            "/control/contacts/{sub}",
            get(get_contact).post(set_contact),
        )
}

type Params = Query<HashMap<String, String>>;

/// Parses an optional JSON body strictly (empty body = `T::default()`).
fn parse_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ControlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|error| ControlError::BadRequest(format!("invalid body: {error}")))
}

fn parse_json(body: &Bytes) -> Result<Value, ControlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|error| ControlError::BadRequest(format!("invalid JSON: {error}")))
}

fn deployment_json(id: &str, settings: &crate::domain::deployment::DeploymentSettings) -> Value {
    let mut value = serde_json::to_value(settings).unwrap_or_else(|_| json!({}));
    if let Value::Object(object) = &mut value {
        object.insert("deploymentId".into(), Value::from(id));
        object.insert(
            "guestSessionTtlSeconds".into(),
            Value::from(settings.ttl_seconds()),
        );
    }
    value
}

async fn create_deployment(
    State(app): State<AppState>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let id = app.hub.create_deployment(parse_json(&body)?)?;
    Ok(Json(json!({"deploymentId": id})).into_response())
}

async fn patch_deployment(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let settings = app.hub.patch_deployment(&id, parse_json(&body)?)?;
    Ok(Json(deployment_json(&id, &settings)).into_response())
}

async fn get_deployment(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    match app.hub.deployment(&id) {
        Some(settings) => Json(deployment_json(&id, &settings)).into_response(),
        None => error_response(StatusCode::NOT_FOUND, format!("no deployment {id}")),
    }
}

async fn list_deployments(State(app): State<AppState>) -> Response {
    let list: Vec<Value> = app
        .hub
        .deployments()
        .iter()
        .map(|(id, settings)| deployment_json(id, settings))
        .collect();
    Json(list).into_response()
}

async fn list_sessions(State(app): State<AppState>, Query(query): Params) -> Response {
    Json(
        app.hub
            .sessions_json(query.get("deploymentId").map(String::as_str)),
    )
    .into_response()
}

async fn get_session(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(query): Params,
) -> Result<Response, ControlError> {
    Ok(Json(
        app.hub
            .session_detail(&token, query.get("deploymentId").map(String::as_str))?,
    )
    .into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AgentMessage {
    text: Option<String>,
    content: Option<Vec<Value>>,
    /// Display name of the agent (default "Agent").
    agent_name: Option<String>,
}

async fn agent_message(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(query): Params,
    body: Bytes,
) -> Result<Response, ControlError> {
    let message: AgentMessage = parse_body(&body)?;
    let sent = app.hub.agent_message(
        &token,
        query.get("deploymentId").map(String::as_str),
        message.text,
        message.content,
        message.agent_name,
    )?;
    Ok(Json(sent).into_response())
}

async fn agent_typing(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(query): Params,
) -> Result<Response, ControlError> {
    app.hub
        .agent_typing(&token, query.get("deploymentId").map(String::as_str))?;
    Ok(Json(json!({"ok": true})).into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Disconnect {
    read_only: Option<bool>,
}

async fn disconnect(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(query): Params,
    body: Bytes,
) -> Result<Response, ControlError> {
    let request: Disconnect = parse_body(&body)?;
    let event = app.hub.disconnect(
        &token,
        query.get("deploymentId").map(String::as_str),
        request.read_only,
    )?;
    Ok(Json(event).into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expire {
    in_seconds: u64,
}

async fn expire(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(query): Params,
    body: Bytes,
) -> Result<Response, ControlError> {
    let request: Expire = parse_body(&body)?;
    app.hub.expire_in(
        &token,
        query.get("deploymentId").map(String::as_str),
        request.in_seconds,
    )?;
    Ok(Json(json!({"ok": true})).into_response())
}

async fn drop_sockets(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(query): Params,
) -> Result<Response, ControlError> {
    let dropped = app
        .hub
        .drop_sockets(&token, query.get("deploymentId").map(String::as_str))?;
    Ok(Json(json!({"dropped": dropped})).into_response())
}

/// Sends the body as-is to the session's sockets (unknown classes, forced error frames, …).
async fn raw_frame(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(query): Params,
    body: Bytes,
) -> Result<Response, ControlError> {
    let frame = parse_json(&body)?;
    let sent = app.hub.send_raw(
        &token,
        query.get("deploymentId").map(String::as_str),
        &frame,
    )?;
    Ok(Json(json!({"sockets": sent})).into_response())
}

async fn set_faults(State(app): State<AppState>, body: Bytes) -> Result<Response, ControlError> {
    let faults: Faults = parse_body(&body)?;
    app.hub.set_faults(faults)?;
    Ok(Json(json!({"ok": true})).into_response())
}

async fn clear_faults(State(app): State<AppState>) -> Response {
    app.hub.clear_faults();
    Json(json!({"ok": true})).into_response()
}

async fn purge(State(app): State<AppState>) -> Response {
    Json(json!({"purged": app.hub.purge_retention()})).into_response()
}

async fn list_users(State(app): State<AppState>) -> Result<Response, ControlError> {
    let mut users = Vec::new();
    for user in crate::domain::idp::DEMO_USERS {
        users.push(json!({
            "sub": user.sub,
            "name": user.display_name(),
            "email": user.email,
            "curated": app.hub.is_curated(user.sub)?,
        }));
    }
    Ok(Json(users).into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RevokeRefresh {
    sub: String,
    deployment_id: Option<String>,
}

async fn revoke_refresh_tokens(
    State(app): State<AppState>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let request: RevokeRefresh = parse_body(&body)?;
    if request.sub.is_empty() {
        return Err(ControlError::BadRequest("sub is required".into()));
    }
    let revoked = app
        .hub
        .revoke_refresh_tokens(&request.sub, request.deployment_id.as_deref())?;
    Ok(Json(json!({"revoked": revoked})).into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireJwts {
    sub: Option<String>,
}

async fn expire_jwts(State(app): State<AppState>, body: Bytes) -> Result<Response, ControlError> {
    let request: ExpireJwts = parse_body(&body)?;
    app.hub.expire_jwts(request.sub.as_deref());
    Ok(Json(json!({"ok": true})).into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Contact {
    curated: bool,
}

async fn get_contact(
    State(app): State<AppState>,
    Path(sub): Path<String>,
) -> Result<Response, ControlError> {
    let curated = app.hub.is_curated(&sub)?;
    Ok(Json(json!({"sub": sub, "curated": curated})).into_response())
}

async fn set_contact(
    State(app): State<AppState>,
    Path(sub): Path<String>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let request: Contact = parse_body(&body)?;
    app.hub.set_curated(&sub, request.curated)?;
    Ok(Json(json!({"sub": sub, "curated": request.curated})).into_response())
}
