//! Authentication routes: the development identity provider (`/auth/authorize`, `/auth/token`)
//! and the Web Messaging token endpoints of SPEC §11 (`/api/v2/webdeployments/token/…`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use threadline_core::protocol::{CodeExchangeRequest, RefreshRequest};

use super::error_response;
use crate::domain::auth::AuthError;
use crate::domain::idp::{AuthorizeRequest, IdpError, DEMO_USERS};
use crate::AppState;

/// The authentication routes (mounted with or without `--dev`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/authorize", get(login_page).post(login_submit))
        .route("/auth/token", post(token))
        .route(
            "/api/v2/webdeployments/token/oauthcodegrantjwtexchange",
            post(exchange),
        )
        .route("/api/v2/webdeployments/token/refresh", post(refresh))
        .route("/api/v2/webdeployments/token/revoke", delete(revoke))
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = match &self {
            AuthError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
            AuthError::NotFound(_) => StatusCode::NOT_FOUND,
            AuthError::Store(error) => {
                tracing::error!(%error, "storage failure in a token request");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        if status != StatusCode::INTERNAL_SERVER_ERROR {
            tracing::info!(%status, reason = %self, "token request refused");
        }
        no_store(error_response(status, self.to_string()))
    }
}

/// Token responses must never be cached (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:420px;margin:60px auto;padding:0 16px}}\
label,select,button{{display:block;width:100%;margin:8px 0}}select,button{{padding:8px;font-size:15px}}\
.note{{color:#666;font-size:13px}}.error{{color:#b00020}}</style></head><body>{body}</body></html>"
    )
}

/// An error page: never redirect to a `redirect_uri` that did not validate.
fn idp_error_page(error: &IdpError) -> Response {
    tracing::info!(%error, "authorization request refused");
    (
        StatusCode::BAD_REQUEST,
        Html(page(
            "Sign-in error",
            &format!(
                "<h1>Sign-in error</h1><p class=\"error\" data-testid=\"login-error\">{}: {}</p>",
                error.code(),
                escape_html(error.description())
            ),
        )),
    )
        .into_response()
}

/// `GET /auth/authorize`: the login page (a plain form, no script).
async fn login_page(Query(params): Query<HashMap<String, String>>) -> Response {
    let request = match AuthorizeRequest::from_params(&params) {
        Ok(request) => request,
        Err(error) => return idp_error_page(&error),
    };
    let hidden: String = request
        .hidden_fields()
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape_html(value)
            )
        })
        .collect();
    let options: String = DEMO_USERS
        .iter()
        .map(|user| {
            format!(
                "<option value=\"{}\">{} ({})</option>",
                user.sub,
                escape_html(&user.display_name()),
                user.email
            )
        })
        .collect();
    let body = format!(
        "<h1>Sign in</h1><p class=\"note\">Threadline development identity provider. \
         Signing in to <b>{client}</b>, returning to {redirect}.</p>\
         <form method=\"post\" action=\"/auth/authorize\">{hidden}\
         <label for=\"user\">Demo user</label>\
         <select id=\"user\" name=\"user\" data-testid=\"login-user\">{options}</select>\
         <button type=\"submit\" data-testid=\"login-submit\">Sign in</button></form>",
        client = escape_html(&request.client_id),
        redirect = escape_html(&request.redirect_uri),
    );
    let mut response = Html(page("Sign in", &body)).into_response();
    // The login page must not be framed by another site (clickjacking).
    response
        .headers_mut()
        .insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// `POST /auth/authorize`: the login form; redirects back with `code` and `state`.
async fn login_submit(
    State(app): State<AppState>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    match app.hub.authorize_submit(&params) {
        Ok(location) => Redirect::to(&location).into_response(),
        Err(error) => idp_error_page(&error),
    }
}

/// Reads a body as form fields (`application/x-www-form-urlencoded`) or a JSON object of
/// strings.
async fn fields(state: &AppState, request: Request) -> Result<HashMap<String, String>, IdpError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().starts_with("application/json"));
    if is_json {
        let Json(object) = Json::<HashMap<String, Value>>::from_request(request, state)
            .await
            .map_err(|error| IdpError::InvalidRequest(format!("body: {error}")))?;
        Ok(object
            .into_iter()
            .filter_map(|(key, value)| match value {
                Value::String(text) => Some((key, text)),
                _ => None,
            })
            .collect())
    } else {
        let Form(fields) = Form::<HashMap<String, String>>::from_request(request, state)
            .await
            .map_err(|error| IdpError::InvalidRequest(format!("body: {error}")))?;
        Ok(fields)
    }
}

/// `POST /auth/token`: authorization code (+ PKCE verifier) → id, access token.
async fn token(State(app): State<AppState>, request: Request) -> Response {
    let result = match fields(&app, request).await {
        Ok(fields) => app.hub.oauth_token(&fields),
        Err(error) => Err(error),
    };
    match result {
        Ok(tokens) => no_store(Json(tokens).into_response()),
        Err(error) => {
            tracing::info!(%error, "token request refused");
            no_store(
                (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": error.code(), "error_description": error.description()})),
                )
                    .into_response(),
            )
        }
    }
}

fn body_text(body: &Bytes) -> Result<&str, AuthError> {
    std::str::from_utf8(body).map_err(|_| AuthError::BadRequest("the body is not UTF-8".into()))
}

/// `POST /api/v2/webdeployments/token/oauthcodegrantjwtexchange`.
async fn exchange(State(app): State<AppState>, body: Bytes) -> Result<Response, AuthError> {
    let request = CodeExchangeRequest::from_json(body_text(&body)?)
        .map_err(|error| AuthError::BadRequest(error.to_string()))?;
    let answer = app.hub.exchange(request)?;
    Ok(no_store(
        (
            [(header::CONTENT_TYPE, "application/json")],
            answer.to_json(),
        )
            .into_response(),
    ))
}

/// `POST /api/v2/webdeployments/token/refresh`.
async fn refresh(State(app): State<AppState>, body: Bytes) -> Result<Response, AuthError> {
    let request = RefreshRequest::from_json(body_text(&body)?)
        .map_err(|error| AuthError::BadRequest(error.to_string()))?;
    let answer = app.hub.refresh(request)?;
    Ok(no_store(
        (
            [(header::CONTENT_TYPE, "application/json")],
            answer.to_json(),
        )
            .into_response(),
    ))
}

/// `DELETE /api/v2/webdeployments/token/revoke` with `Authorization: bearer <jwt>`.
async fn revoke(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, AuthError> {
    let jwt = super::bearer(&headers)
        .ok_or_else(|| AuthError::Unauthorized("missing bearer token".into()))?;
    app.hub.revoke(&jwt)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
