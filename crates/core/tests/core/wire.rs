//! Wire-format tests for `threadline_core::protocol`.
//!
//! - Every file in the shared fixture directory is decoded (server frames, HTTP responses) or
//!   round-tripped exactly (client frames, HTTP requests); a directory walk fails on any file no
//!   path covers.
//! - Server frames re-encode to values that decode back equal and keep the fixture's shape.
//! - insta snapshots pin the encoding of every client action and server frame kind.
//! - Malformed input yields `Err`, never a panic.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};
use threadline_core::protocol::*;

use crate::harness::{fixture, fixture_names};

// ---------------------------------------------------------------------------------------------
// Fixture plumbing

fn fixture_value(name: &str) -> Value {
    serde_json::from_str(&fixture(name))
        .unwrap_or_else(|error| panic!("{name} is not JSON: {error}"))
}

fn server_frame(name: &str) -> ServerFrame {
    ServerFrame::from_json(&fixture(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn structured(name: &str) -> (Message, Option<TracingId>) {
    let frame = server_frame(name);
    match frame.kind {
        FrameKind::StructuredMessage(message) => (message, frame.tracing_id),
        other => panic!("{name}: expected StructuredMessage, got {other:?}"),
    }
}

/// True if every key `encoded` carries is in `original` with a matching value, except keys
/// whose value is a default (`false`, `[]`, `{}`) that the fixture simply left out. Arrays must
/// match element-wise. This is "same shape": our encoder may drop unknown fields, nothing else.
fn same_shape(encoded: &Value, original: &Value) -> bool {
    match (encoded, original) {
        (Value::Object(ours), Value::Object(theirs)) => {
            ours.iter().all(|(key, value)| match theirs.get(key) {
                Some(their_value) => same_shape(value, their_value),
                None => is_default_value(value),
            })
        }
        (Value::Array(ours), Value::Array(theirs)) => {
            ours.len() == theirs.len() && ours.iter().zip(theirs).all(|(a, b)| same_shape(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn is_default_value(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => !flag,
        Value::Array(items) => items.is_empty(),
        Value::Object(entries) => entries.is_empty(),
        _ => false,
    }
}

fn assert_exact_round_trip<T>(
    name: &str,
    decode: impl Fn(&str) -> Result<T, DecodeError>,
    encode: impl Fn(&T) -> String,
) {
    let decoded = decode(&fixture(name)).unwrap_or_else(|error| panic!("{name}: {error}"));
    let encoded: Value = serde_json::from_str(&encode(&decoded)).expect("encoder emits JSON");
    assert_eq!(
        encoded,
        fixture_value(name),
        "{name}: decode → encode changed the JSON"
    );
}

/// Which path checks a fixture; `None` means nothing covers it (a test failure).
fn coverage(name: &str) -> Option<&'static str> {
    if name.starts_with("client.") {
        Some("client round-trip")
    } else if name.starts_with("server.") {
        Some("server decode + re-encode")
    } else {
        http_kind(name).map(|_| "http body")
    }
}

#[derive(Debug, Clone, Copy)]
enum HttpBody {
    DeploymentConfig,
    History,
    CodeExchangeRequest,
    JwtExchangeResponse,
    RefreshRequest,
    RefreshResponse,
}

fn http_kind(name: &str) -> Option<HttpBody> {
    let kind = if name.starts_with("http.GET.deploymentConfig.") {
        HttpBody::DeploymentConfig
    } else if name.starts_with("http.GET.webmessaging.messages.") {
        HttpBody::History
    } else if name.starts_with("http.POST.oauthcodegrantjwtexchange.")
        && name.ends_with(".request.json")
    {
        HttpBody::CodeExchangeRequest
    } else if name.starts_with("http.POST.oauthcodegrantjwtexchange.")
        && name.ends_with(".response.json")
    {
        HttpBody::JwtExchangeResponse
    } else if name.starts_with("http.POST.token.refresh.") && name.ends_with(".request.json") {
        HttpBody::RefreshRequest
    } else if name.starts_with("http.POST.token.refresh.") && name.ends_with(".response.json") {
        HttpBody::RefreshResponse
    } else {
        return None;
    };
    Some(kind)
}

// ---------------------------------------------------------------------------------------------
// Every fixture

#[test]
fn every_fixture_is_covered_by_a_test_path() {
    let names = fixture_names();
    assert!(
        names.len() >= 80,
        "expected the full fixture set, found {} files",
        names.len()
    );
    let uncovered: Vec<&String> = names
        .iter()
        .filter(|name| coverage(name).is_none())
        .collect();
    assert!(
        uncovered.is_empty(),
        "fixtures without a decode/round-trip path: {uncovered:?}"
    );
}

#[test]
fn client_fixtures_round_trip_exactly() {
    let mut checked = 0;
    for name in fixture_names()
        .iter()
        .filter(|name| name.starts_with("client."))
    {
        assert_exact_round_trip(name, ClientAction::from_json, ClientAction::to_json);
        checked += 1;
    }
    assert!(checked >= 22, "only {checked} client fixtures");
}

#[test]
fn server_fixtures_decode_and_re_encode() {
    let mut checked = 0;
    for name in fixture_names()
        .iter()
        .filter(|name| name.starts_with("server."))
    {
        let original = fixture_value(name);
        let frame = server_frame(name);
        assert_eq!(
            frame.class_name(),
            original["class"].as_str().expect("fixture has a class"),
            "{name}"
        );
        assert_eq!(
            Some(frame.code),
            original["code"].as_u64().map(|code| code as u32),
            "{name}"
        );
        assert_eq!(
            frame.tracing_id.as_ref().map(TracingId::as_str),
            original["tracingId"].as_str(),
            "{name}"
        );
        assert_eq!(
            frame.envelope_type.as_ref().map(EnvelopeType::as_str),
            original["type"].as_str(),
            "{name}"
        );

        let encoded = frame.to_json();
        let again = ServerFrame::from_json(&encoded)
            .unwrap_or_else(|error| panic!("{name} re-decode: {error}"));
        assert_eq!(
            again, frame,
            "{name}: to_json → from_json changed the frame"
        );

        let encoded_value: Value = serde_json::from_str(&encoded).expect("encoder emits JSON");
        assert!(
            same_shape(&encoded_value, &original),
            "{name}: encoded shape differs:\n{encoded_value:#}\nvs\n{original:#}"
        );
        checked += 1;
    }
    assert!(checked >= 56, "only {checked} server fixtures");
}

#[test]
fn http_fixtures_decode_and_requests_round_trip() {
    let mut checked = 0;
    for name in fixture_names()
        .iter()
        .filter(|name| name.starts_with("http."))
    {
        let kind = http_kind(name).unwrap_or_else(|| panic!("{name}: unknown HTTP fixture"));
        let text = fixture(name);
        match kind {
            HttpBody::DeploymentConfig => {
                let config = DeploymentConfig::from_json(&text).expect("config decodes");
                assert_eq!(
                    DeploymentConfig::from_json(&config.to_json()).expect("re-decodes"),
                    config
                );
                assert!(same_shape(
                    &serde_json::from_str(&config.to_json()).expect("json"),
                    &fixture_value(name)
                ));
            }
            HttpBody::History => {
                let page = HistoryPage::from_json(&text).expect("history decodes");
                assert_eq!(
                    HistoryPage::from_json(&page.to_json()).expect("re-decodes"),
                    page
                );
                assert!(same_shape(
                    &serde_json::from_str(&page.to_json()).expect("json"),
                    &fixture_value(name)
                ));
            }
            HttpBody::CodeExchangeRequest => assert_exact_round_trip(
                name,
                CodeExchangeRequest::from_json,
                CodeExchangeRequest::to_json,
            ),
            HttpBody::JwtExchangeResponse => assert_exact_round_trip(
                name,
                JwtExchangeResponse::from_json,
                JwtExchangeResponse::to_json,
            ),
            HttpBody::RefreshRequest => {
                assert_exact_round_trip(name, RefreshRequest::from_json, RefreshRequest::to_json)
            }
            HttpBody::RefreshResponse => {
                assert_exact_round_trip(name, RefreshResponse::from_json, RefreshResponse::to_json)
            }
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} HTTP fixtures");
}

// ---------------------------------------------------------------------------------------------
// Spot checks: client

#[test]
fn client_fixtures_decode_to_the_expected_variants() {
    let token = SessionToken::new("3f1c2f0e-8a51-4d3b-9c57-1b7f0f2a6d11");

    let ClientAction::ConfigureSession(configure) =
        ClientAction::from_json(&fixture("client.configureSession.minimal.json")).unwrap()
    else {
        panic!("expected configureSession");
    };
    assert_eq!(configure.token, token);
    assert_eq!(configure.start_new, None);
    assert_eq!(configure.journey_context, None);
    assert_eq!(configure.tracing_id, None);

    let ClientAction::ConfigureSession(with_action) = ClientAction::from_json(&fixture(
        "client.configureSession.withTriggeringAction.json",
    ))
    .unwrap() else {
        panic!("expected configureSession");
    };
    let action_map = with_action
        .journey_context
        .unwrap()
        .triggering_action
        .unwrap()
        .action_map
        .unwrap();
    assert_eq!(action_map.version, 3.0);

    let ClientAction::ConfigureAuthenticatedSession(auth) =
        ClientAction::from_json(&fixture("client.configureAuthenticatedSession.json")).unwrap()
    else {
        panic!("expected configureAuthenticatedSession");
    };
    assert!(auth.data.code.starts_with("eyJ"));

    let ClientAction::OnMessage(quick) =
        ClientAction::from_json(&fixture("client.onMessage.quickReply.json")).unwrap()
    else {
        panic!("expected onMessage");
    };
    assert_eq!(quick.message.message_type, MessageType::Text);
    assert_eq!(quick.message.text.as_deref(), Some(""));
    let [Content::ButtonResponse(response)] = quick.message.content.as_slice() else {
        panic!(
            "expected one ButtonResponse, got {:?}",
            quick.message.content
        );
    };
    assert_eq!(response.button_type, ButtonResponseType::QuickReply);
    assert_eq!(response.payload, "track_order");

    let ClientAction::OnMessage(attributes) =
        ClientAction::from_json(&fixture("client.onMessage.textWithCustomAttributes.json"))
            .unwrap()
    else {
        panic!("expected onMessage");
    };
    assert_eq!(attributes.custom_attributes().unwrap()["plan"], "gold");

    let ClientAction::OnMessage(clear) =
        ClientAction::from_json(&fixture("client.onMessage.clearConversation.json")).unwrap()
    else {
        panic!("expected onMessage");
    };
    assert!(clear.message.has_presence(&PresenceType::Clear));

    let echo = ClientAction::from_json(&fixture("client.echo.json")).unwrap();
    assert_eq!(
        echo.tracing_id().map(TracingId::as_str),
        Some(HEALTH_CHECK_TRACING_ID)
    );
    assert_eq!(echo.action_name(), "echo");
    assert_eq!(echo.token(), &token);
}

#[test]
fn top_level_channel_custom_attributes_are_accepted() {
    let text = r#"{"action":"onMessage","token":"t","message":{"text":"hi","type":"Text"},
                  "channel":{"metadata":{"customAttributes":{"k":"v","n":7}}}}"#;
    let ClientAction::OnMessage(on_message) = ClientAction::from_json(text).unwrap() else {
        panic!("expected onMessage");
    };
    let attributes = on_message
        .custom_attributes()
        .expect("top-level attributes are found");
    assert_eq!(attributes["k"], "v");
    assert_eq!(
        attributes["n"], "7",
        "non-string attribute values are stringified, not rejected"
    );
}

#[test]
fn client_constructors_match_the_fixtures() {
    let token = SessionToken::new("3f1c2f0e-8a51-4d3b-9c57-1b7f0f2a6d11");
    let deployment = DeploymentId::new("8d2f7a1c-3b4e-4f6a-9c0d-5e1f2a3b4c5d");
    let cases: Vec<(&str, ClientAction)> = vec![
        (
            "client.configureSession.json",
            ClientAction::configure_session(
                token.clone(),
                deployment.clone(),
                false,
                TracingId::new("0b6d4a52-7f3e-4c1a-8e2d-93a1c5f7e001"),
            ),
        ),
        (
            "client.configureSession.startNew.json",
            ClientAction::configure_session(
                token.clone(),
                deployment.clone(),
                true,
                TracingId::new("0b6d4a52-7f3e-4c1a-8e2d-93a1c5f7e002"),
            ),
        ),
        (
            "client.onMessage.text.json",
            ClientAction::text(token.clone(), "Hi, I need help with my order #10423", TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e901")),
        ),
        (
            "client.onMessage.quickReply.json",
            ClientAction::quick_reply(
                token.clone(),
                "Track my order",
                "track_order",
                Some(MessageId::new("9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c")),
                TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e905"),
            ),
        ),
        (
            "client.onMessage.cardPostback.json",
            ClientAction::postback(token.clone(), "Book Now", "book_room_deluxe", TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e906")),
        ),
        (
            "client.onMessage.datePicker.json",
            ClientAction::date_picker_answer(
                token.clone(),
                "Tue 12 May 2026, 14:30",
                &IsoTime::new("2026-05-12T14:30:00.000Z"),
                Some(MessageId::new("4a6c8e0f2b4d6f8a0c2e4a6c8e0f2b4d")),
                TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e907"),
            ),
        ),
        (
            "client.onMessage.typing.json",
            ClientAction::typing_on(token.clone()).with_tracing_id(TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e908")),
        ),
        (
            "client.onMessage.clearConversation.json",
            ClientAction::clear(token.clone()).with_tracing_id(TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e910")),
        ),
        (
            "client.onMessage.attachment.json",
            ClientAction::message(
                token.clone(),
                Message::text("Here is the photo of the damaged box")
                    .with_attachment(AttachmentId::new("c7a9e2f1-4b6d-4e8a-9f1c-2d3e4f5a6b7c")),
                TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e904"),
            ),
        ),
        (
            "client.onMessage.autostartJoin.json",
            ClientAction::message(
                token.clone(),
                Message::event(Event::presence(PresenceType::Join))
                    .with_custom_attributes(BTreeMap::from([("entryPage".to_owned(), "/checkout".to_owned())])),
                TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e909"),
            ),
        ),
        ("client.echo.json", ClientAction::health_check(token.clone())),
        ("client.getJwt.json", ClientAction::get_jwt(token.clone(), TracingId::new("e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c5b"))),
        (
            "client.onAttachment.json",
            ClientAction::on_attachment(
                token.clone(),
                AttachmentId::new("c7a9e2f1-4b6d-4e8a-9f1c-2d3e4f5a6b7c"),
                "damaged-box.jpg",
                "image/jpeg",
                482_133,
                TracingId::new("7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"),
            ),
        ),
        (
            "client.getAttachment.json",
            ClientAction::get_attachment(
                token.clone(),
                AttachmentId::new("c7a9e2f1-4b6d-4e8a-9f1c-2d3e4f5a6b7c"),
                TracingId::new("7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0e"),
            ),
        ),
        (
            "client.deleteAttachment.json",
            ClientAction::delete_attachment(
                token.clone(),
                AttachmentId::new("c7a9e2f1-4b6d-4e8a-9f1c-2d3e4f5a6b7c"),
                TracingId::new("7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0f"),
            ),
        ),
        (
            "client.closeSession.json",
            ClientAction::close_session(token.clone()).with_tracing_id(TracingId::new("2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f")),
        ),
        (
            "client.getConfiguration.json",
            ClientAction::get_configuration(token.clone(), deployment.clone(), TracingId::new("2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e70")),
        ),
        (
            "client.configureAuthenticatedSession.json",
            ClientAction::configure_authenticated_session(
                token.clone(),
                deployment.clone(),
                "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJndWVzdCIsImV4cCI6MTc2NzIyNTYwMH0.c2lnbmF0dXJl",
                false,
                TracingId::new("0b6d4a52-7f3e-4c1a-8e2d-93a1c5f7e004"),
            ),
        ),
    ];
    for (name, action) in cases {
        let encoded: Value = serde_json::from_str(&action.to_json()).expect("JSON");
        assert_eq!(
            encoded,
            fixture_value(name),
            "constructor output differs from {name}"
        );
        assert_eq!(
            ClientAction::from_json(&action.to_json()).expect("decodes"),
            action,
            "{name}"
        );
    }
}

#[test]
fn client_encoding_never_emits_null() {
    fn has_null(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Array(items) => items.iter().any(has_null),
            Value::Object(entries) => entries.values().any(has_null),
            _ => false,
        }
    }
    let token = SessionToken::new("t");
    for action in [
        ClientAction::typing_on(token.clone()),
        ClientAction::join(token.clone()),
        ClientAction::close_session(token.clone()),
        ClientAction::text(token.clone(), "x", None),
        ClientAction::echo(token.clone(), None),
        ClientAction::get_jwt(token, None),
    ] {
        assert!(
            !has_null(&action.to_value()),
            "null in {}",
            action.to_json()
        );
    }
}

#[test]
fn client_decode_errors_name_the_problem() {
    assert_eq!(
        ClientAction::from_json(r#"{"action":"resumeToken","token":"t"}"#),
        Err(DecodeError::UnknownAction("resumeToken".to_owned()))
    );
    assert_eq!(
        ClientAction::from_json(r#"{"action":"onMessage","message":{"type":"Text","text":"x"}}"#),
        Err(DecodeError::MissingField("token".to_owned()))
    );
    assert_eq!(
        ClientAction::from_json(r#"{"action":"onMessage","token":"t","message":{"text":"x"}}"#),
        Err(DecodeError::MissingField("message.type".to_owned()))
    );
    assert_eq!(
        ClientAction::from_json(r#"{"action":"configureSession","token":"t"}"#),
        Err(DecodeError::MissingField("deploymentId".to_owned()))
    );
    assert_eq!(
        ClientAction::from_json(
            r#"{"action":"configureAuthenticatedSession","token":"t","deploymentId":"d","data":{}}"#
        ),
        Err(DecodeError::MissingField("data.code".to_owned()))
    );
    assert_eq!(
        ClientAction::from_json(r#"{"token":"t"}"#),
        Err(DecodeError::MissingField("action".to_owned()))
    );
    assert_eq!(
        ClientAction::from_json(
            r#"{"action":"configureSession","token":"t","deploymentId":"d","startNew":"yes"}"#
        )
        .map_err(|error| matches!(error, DecodeError::InvalidField { .. })),
        Err(true)
    );
    assert!(matches!(
        ClientAction::from_json("{\"action\":"),
        Err(DecodeError::MalformedJson(_))
    ));
    assert_eq!(
        ClientAction::from_json("[]"),
        Err(DecodeError::NotAnObject { found: "array" })
    );

    assert_eq!(
        DecodeError::MissingField("token".into()).error_code(),
        ErrorCode::MissingParameter
    );
    assert_eq!(
        DecodeError::UnknownAction("x".into()).error_code(),
        ErrorCode::BadRequest
    );
    assert_eq!(
        DecodeError::MalformedJson("x".into()).error_code(),
        ErrorCode::BadRequest
    );
}

// ---------------------------------------------------------------------------------------------
// Spot checks: server

#[test]
fn error_frames_map_to_typed_codes() {
    let cases = [
        (
            "server.string.400.requestFailed.json",
            ErrorCode::BadRequest,
            false,
        ),
        (
            "server.string.401.unauthorized.json",
            ErrorCode::Unauthorized,
            false,
        ),
        (
            "server.string.4006.sessionExpired.json",
            ErrorCode::SessionHasExpired,
            true,
        ),
        (
            "server.string.4007.sessionNotFound.json",
            ErrorCode::SessionNotFound,
            true,
        ),
        (
            "server.string.4011.messageTooLong.json",
            ErrorCode::MessageTooLong,
            false,
        ),
        (
            "server.string.4013.customAttributesTooLarge.json",
            ErrorCode::CustomAttributeSizeTooLarge,
            false,
        ),
        (
            "server.string.4017.cannotDowngrade.json",
            ErrorCode::CannotDowngradeToUnauthenticated,
            true,
        ),
        (
            "server.string.500.serverError.json",
            ErrorCode::InternalServerError,
            false,
        ),
        (
            "server.string.5000.unexpected.json",
            ErrorCode::UnexpectedError,
            false,
        ),
    ];
    for (name, expected, terminal) in cases {
        let frame = server_frame(name);
        assert_eq!(frame.error_code(), Some(expected), "{name}");
        assert_eq!(expected.is_terminal(), terminal, "{name}");
        assert!(matches!(frame.kind, FrameKind::Error { .. }), "{name}");
    }

    assert!(server_frame("server.string.403.sessionAuthFailed.json")
        .kind
        .is_auth_failure());
    assert!(!server_frame("server.string.403.featureToggle.json")
        .kind
        .is_auth_failure());
    assert!(
        server_frame("server.string.403.clearConversationNotSupported.json")
            .kind
            .is_clear_conversation_failure()
    );
    assert!(!server_frame("server.string.403.featureToggle.json")
        .kind
        .is_clear_conversation_failure());

    let unknown_code =
        ServerFrame::from_json(r#"{"type":"response","class":"string","code":4242,"body":"?"}"#)
            .unwrap();
    assert_eq!(unknown_code.error_code(), Some(ErrorCode::Other(4242)));
    assert_eq!(unknown_code.to_value()["code"], json!(4242));
}

#[test]
fn session_responses_decode_with_defaults() {
    let FrameKind::SessionResponse(new) =
        server_frame("server.SessionResponse.newSession.json").kind
    else {
        panic!("expected SessionResponse");
    };
    assert!(new.connected && new.new_session && !new.read_only);
    assert_eq!(new.max_custom_data_bytes, Some(2048));
    assert_eq!(
        new.allowed_file_types(),
        ["image/jpeg", "image/png", "image/gif", "application/pdf"]
    );
    assert_eq!(new.max_file_size_kb(), Some(10240));
    assert!(new.attachments_enabled());
    assert_eq!(new.blocked_extensions.len(), 6);
    assert_eq!(new.duration_seconds, Some(259_200));
    assert_eq!(new.expiration_date, Some(EpochSeconds(1_778_145_327)));
    assert_eq!(
        new.expiration_date.and_then(EpochSeconds::to_unix_millis),
        Some(threadline_core::time::UnixMillis(1_778_145_327_000))
    );

    let FrameKind::SessionResponse(minimal) =
        server_frame("server.SessionResponse.minimal.json").kind
    else {
        panic!("expected SessionResponse");
    };
    assert_eq!(minimal, SessionResponse::connected(true));
    assert!(!minimal.attachments_enabled());

    let FrameKind::SessionResponse(closed) =
        server_frame("server.SessionResponse.afterCloseSession.json").kind
    else {
        panic!("expected SessionResponse");
    };
    assert!(!closed.connected && closed.read_only);

    let FrameKind::SessionResponse(step_up) =
        server_frame("server.SessionResponse.authenticatedStepUp.json").kind
    else {
        panic!("expected SessionResponse");
    };
    assert!(step_up.cleared_existing_session);
    assert_eq!(step_up.auto_started, Some(false));

    let FrameKind::SessionResponse(resumed) =
        server_frame("server.SessionResponse.resumed.json").kind
    else {
        panic!("expected SessionResponse");
    };
    assert_eq!(resumed.allowed_file_types(), ["*/*"]);

    assert_eq!(
        ServerFrame::from_json(
            r#"{"class":"SessionResponse","code":200,"body":{"newSession":true}}"#
        ),
        Err(DecodeError::MissingField(
            "SessionResponse.body.connected".to_owned()
        ))
    );
}

#[test]
fn structured_messages_decode_leniently() {
    let (echo, tracing) = structured("server.StructuredMessage.inboundEcho.json");
    assert!(echo.is_inbound());
    assert_eq!(echo.message_type, MessageType::Text);
    assert_eq!(
        tracing.as_ref().map(TracingId::as_str),
        Some("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e901")
    );
    assert_eq!(
        echo.originating_entity,
        Some(OriginatingEntity::Unknown(String::new()))
    );
    assert_eq!(echo.time_millis(), Some(1_777_886_127_412));
    assert!(!echo.is_health_check_echo(tracing.as_ref()));

    let (health, tracing) = structured("server.StructuredMessage.echoResponse.json");
    assert!(health.is_health_check_echo(tracing.as_ref()));
    assert_eq!(health.metadata_duration_seconds(), Some(259_200));
    assert_eq!(
        health.metadata_expiration_date(),
        Some(EpochSeconds(1_778_145_600))
    );
    assert!(server_frame("server.StructuredMessage.echoResponse.json").is_health_check_answer());

    let (agent, _) = structured("server.StructuredMessage.outboundText.json");
    assert!(agent.is_outbound());
    assert_eq!(agent.originating_entity, Some(OriginatingEntity::Human));
    assert_eq!(
        agent
            .sender()
            .and_then(Participant::display_name)
            .as_deref(),
        Some("Jonas")
    );

    let (unknown, _) = structured("server.StructuredMessage.unknownContentAndFields.json");
    let kinds: Vec<&str> = unknown.content.iter().map(Content::content_type).collect();
    assert_eq!(kinds, ["ListPicker", "HologramCard", "QuickReply"]);
    assert!(
        matches!(&unknown.content[0], Content::Unknown { raw, .. } if raw["listPicker"]["id"] == "stores")
    );
    assert!(
        matches!(&unknown.content[1], Content::Unknown { content_type, .. } if content_type == "HologramCard")
    );
    assert!(matches!(&unknown.content[2], Content::QuickReply(reply) if reply.payload == "none"));
    assert_eq!(unknown.status, Some(ReceiptStatus::Sent));

    let (receipt, _) = structured("server.StructuredMessage.receipt.json");
    assert_eq!(receipt.message_type, MessageType::Receipt);
    assert_eq!(receipt.status, Some(ReceiptStatus::Failed));
    assert_eq!(
        receipt.reasons[0].code.as_deref(),
        Some("MessageNotAllowed")
    );

    let (expired, _) = structured("server.StructuredMessage.presenceSessionExpired.json");
    assert!(expired.has_presence(&PresenceType::SessionExpired));

    let (mixed, _) = structured("server.StructuredMessage.eventsMixed.json");
    let event_types: Vec<&str> = mixed.events.iter().map(Event::event_type).collect();
    assert_eq!(
        event_types,
        ["Typing", "Typing", "CoBrowse", "Reactions", "FutureThing"]
    );
    assert!(matches!(
        &mixed.events[0],
        Event::Typing(Typing {
            typing_type: TypingType::Off,
            duration: Some(1000)
        })
    ));
    assert!(matches!(
        &mixed.events[1],
        Event::Typing(Typing {
            typing_type: TypingType::On,
            duration: None
        })
    ));
    assert!(
        matches!(&mixed.events[4], Event::Unknown { raw, .. } if raw["futureThing"]["level"] == 3)
    );

    let (typing, _) = structured("server.StructuredMessage.typing.json");
    assert_eq!(
        typing.typing().and_then(|typing| typing.duration),
        Some(5000)
    );

    let (read_only, _) = structured("server.StructuredMessage.presenceDisconnectReadOnly.json");
    assert!(read_only.is_read_only_disconnect());
    let (send_only, _) = structured("server.StructuredMessage.presenceDisconnect.json");
    assert!(
        send_only.has_presence(&PresenceType::Disconnect) && !send_only.is_read_only_disconnect()
    );

    let (sign_in, _) = structured("server.StructuredMessage.presenceSignIn.json");
    assert!(sign_in.has_presence(&PresenceType::SignIn));
    assert_eq!(
        sign_in
            .sender()
            .and_then(Participant::display_name)
            .as_deref(),
        Some("Anna Schmidt")
    );

    let (card, _) = structured("server.StructuredMessage.card.json");
    let Content::Card(card) = &card.content[0] else {
        panic!("expected a Card")
    };
    assert_eq!(card.actions[0].action_type, CardActionType::Postback);
    assert_eq!(
        card.default_action
            .as_ref()
            .map(|action| &action.action_type),
        Some(&CardActionType::Link)
    );

    let (carousel, _) = structured("server.StructuredMessage.carousel.json");
    let Content::Carousel(carousel) = &carousel.content[0] else {
        panic!("expected a Carousel")
    };
    assert_eq!(carousel.cards.len(), 3);
    assert!(carousel.cards[2].actions.is_empty());

    let (picker, _) = structured("server.StructuredMessage.datePicker.json");
    let Content::DatePicker(picker) = &picker.content[0] else {
        panic!("expected a DatePicker")
    };
    assert_eq!(picker.available_times[2].duration, Some(3600));
    assert_eq!(
        picker.available_times[0].date_time.to_unix_millis(),
        IsoTime::new("2026-05-12T14:30:00Z").to_unix_millis()
    );

    let (attachment, _) =
        structured("server.StructuredMessage.inboundEchoWithAttachmentAndCustomAttributes.json");
    let Content::Attachment(file) = &attachment.content[0] else {
        panic!("expected an Attachment")
    };
    assert_eq!(file.media_type, Some(MediaType::Image));
    assert_eq!(file.file_size, Some(482_133));
    assert_eq!(
        attachment.custom_attributes().unwrap()["customerAccountId"],
        "ACC-77812"
    );
    assert_eq!(
        attachment
            .attachment_ids()
            .map(AttachmentId::as_str)
            .collect::<Vec<_>>(),
        ["c7a9e2f1-4b6d-4e8a-9f1c-2d3e4f5a6b7c"]
    );
}

#[test]
fn other_server_classes_decode() {
    assert!(matches!(
        server_frame("server.SessionExpiredEvent.json").kind,
        FrameKind::SessionExpired
    ));
    assert!(matches!(
        server_frame("server.LogoutEvent.json").kind,
        FrameKind::Logout
    ));
    assert!(matches!(
        server_frame("server.SessionClearedEvent.json").kind,
        FrameKind::SessionCleared
    ));

    let FrameKind::ConnectionClosed(plain) = server_frame("server.ConnectionClosedEvent.json").kind
    else {
        panic!()
    };
    assert_eq!(plain.reason(), None);
    let FrameKind::ConnectionClosed(signed_in) =
        server_frame("server.ConnectionClosedEvent.signedIn.json").kind
    else {
        panic!()
    };
    assert!(signed_in.is_signed_in());
    let FrameKind::ConnectionClosed(code) =
        server_frame("server.ConnectionClosedEvent.reasonCode.json").kind
    else {
        panic!()
    };
    assert_eq!(code.reason(), Some("sessionLimitReached"));

    let too_many = server_frame("server.TooManyRequestsErrorMessage.json");
    assert_eq!(too_many.code, 429);
    assert_eq!(too_many.error_code(), Some(ErrorCode::RequestRateTooHigh));
    let FrameKind::TooManyRequests(body) = &too_many.kind else {
        panic!()
    };
    assert_eq!(body.retry_after, Some(3));

    let FrameKind::Jwt(jwt) = server_frame("server.JwtResponse.json").kind else {
        panic!()
    };
    assert_eq!(jwt.exp, EpochSeconds(1_777_887_927));

    let FrameKind::PresignedUrl(upload) =
        server_frame("server.PresignedUrlResponse.upload.json").kind
    else {
        panic!()
    };
    assert!(!upload.is_refresh());
    assert!(upload.headers.contains_key("x-amz-tagging"));
    let FrameKind::PresignedUrl(refresh) =
        server_frame("server.PresignedUrlResponse.refresh.json").kind
    else {
        panic!()
    };
    assert!(refresh.is_refresh());

    let failure = server_frame("server.UploadFailureEvent.json");
    assert_eq!(failure.error_code(), Some(ErrorCode::FileContentInvalid));
    assert!(ErrorCode::FileContentInvalid.is_attachment_rejection());
    let generate = server_frame("server.GenerateUrlError.json");
    assert_eq!(generate.error_code(), Some(ErrorCode::FileTypeInvalid));
    let FrameKind::UploadSuccess(success) = server_frame("server.UploadSuccessEvent.json").kind
    else {
        panic!()
    };
    assert!(success.download_url.starts_with("https://"));
    let FrameKind::AttachmentDeleted(deleted) =
        server_frame("server.AttachmentDeletedResponse.json").kind
    else {
        panic!()
    };
    assert_eq!(
        deleted.attachment_id.as_str(),
        "c7a9e2f1-4b6d-4e8a-9f1c-2d3e4f5a6b7c"
    );
    let FrameKind::GetConfiguration(configuration) =
        server_frame("server.GetConfigurationResponse.json").kind
    else {
        panic!()
    };
    assert_eq!(configuration.session_duration_seconds, Some(259_200));
    assert_eq!(configuration.message_routing_enabled, Some(true));

    let unknown = server_frame("server.unknownClass.json");
    let FrameKind::Unknown { class, raw } = &unknown.kind else {
        panic!("expected Unknown")
    };
    assert_eq!(class, "SomeFutureEvent");
    assert_eq!(raw, &json!({"anything": [1, 2, 3]}));
}

#[test]
fn envelope_type_is_kept_but_not_dispatched_on() {
    for envelope in ["response", "message", "push", ""] {
        let text = format!(
            r#"{{"type":"{envelope}","class":"SessionExpiredEvent","code":200,"body":{{}}}}"#
        );
        let frame = ServerFrame::from_json(&text).unwrap();
        assert!(matches!(frame.kind, FrameKind::SessionExpired));
        assert_eq!(
            frame.envelope_type.as_ref().map(EnvelopeType::as_str),
            Some(envelope)
        );
    }
    let no_type = ServerFrame::from_json(r#"{"class":"LogoutEvent"}"#).unwrap();
    assert_eq!(no_type.envelope_type, None);
    assert_eq!(no_type.code, 200);
    assert!(matches!(no_type.kind, FrameKind::Logout));
}

#[test]
fn unknown_presence_and_message_types_are_kept() {
    let text = r#"{"class":"StructuredMessage","code":200,"type":"message","body":{
        "id":"m1","type":"Hologram","direction":"Sideways","channel":{"time":"2026-01-01T00:00:00Z"},
        "events":[{"eventType":"Presence","presence":{"type":"AuthenticateRequested"}},
                  {"eventType":"Typing","typing":"not-an-object"}],
        "content":[{"contentType":"Card","card":"broken"}, 42],
        "metadata":{"count":3,"flag":true,"gone":null}}}"#;
    let frame = ServerFrame::from_json(text).unwrap();
    let FrameKind::StructuredMessage(message) = &frame.kind else {
        panic!()
    };
    assert_eq!(
        message.message_type,
        MessageType::Unknown("Hologram".to_owned())
    );
    assert_eq!(
        message.direction,
        Some(Direction::Unknown("Sideways".to_owned()))
    );
    assert_eq!(
        message.presence_types().collect::<Vec<_>>(),
        [&PresenceType::Unknown("AuthenticateRequested".to_owned())]
    );
    assert!(
        matches!(&message.events[1], Event::Unknown { event_type, .. } if event_type == "Typing")
    );
    assert!(
        matches!(&message.content[0], Content::Unknown { content_type, .. } if content_type == "Card")
    );
    assert!(
        matches!(&message.content[1], Content::Unknown { content_type, raw } if content_type.is_empty() && raw == &json!(42))
    );
    assert_eq!(message.metadata.get("count").map(String::as_str), Some("3"));
    assert_eq!(
        message.metadata.get("flag").map(String::as_str),
        Some("true")
    );
    assert!(!message.metadata.contains_key("gone"));
    assert_eq!(ServerFrame::from_json(&frame.to_json()).unwrap(), frame);
}

#[test]
fn a_guest_message_stamped_by_the_server_matches_the_echo_fixture() {
    let ClientAction::OnMessage(request) =
        ClientAction::from_json(&fixture("client.onMessage.text.json")).unwrap()
    else {
        panic!("expected onMessage");
    };
    let id = MessageId::new("4b7e2c1d-9a8f-4e6d-b5c4-3a2f1e0d9c8b");
    let mut echo = request.message.stamped(
        id,
        Direction::Inbound,
        IsoTime::from_unix_millis(1_777_886_127_412),
    );
    echo.metadata.insert(
        "correlationId".to_owned(),
        "e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9".to_owned(),
    );
    echo.originating_entity = Some(OriginatingEntity::Unknown(String::new()));
    let frame = ServerFrame::new(FrameKind::StructuredMessage(echo))
        .with_envelope_type(EnvelopeType::Message)
        .with_tracing_id(request.tracing_id);
    assert_eq!(
        frame.to_value(),
        fixture_value("server.StructuredMessage.inboundEcho.json")
    );
}

#[test]
fn server_constructors_use_the_usual_envelope() {
    let error = ServerFrame::error(
        ErrorCode::MessageTooLong,
        "Message text exceeds maximum length",
    )
    .with_tracing_id(TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e901"));
    assert_eq!(
        error.to_value(),
        json!({"type":"response","class":"string","code":4011,"body":"Message text exceeds maximum length",
               "tracingId":"5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e901"})
    );
    let too_many = ServerFrame::new(FrameKind::TooManyRequests(TooManyRequests {
        retry_after: Some(3),
        error_code: Some(ErrorCode::RequestRateTooHigh),
        error_message: Some("Message rate too high for this session".to_owned()),
    }))
    .with_tracing_id(TracingId::new("5d0f6b8e-1c2a-4b3d-9e4f-a5b6c7d8e901"));
    assert_eq!(
        too_many.to_value(),
        fixture_value("server.TooManyRequestsErrorMessage.json")
    );
    let expired = ServerFrame::new(FrameKind::SessionExpired);
    assert_eq!(
        expired.to_value(),
        fixture_value("server.SessionExpiredEvent.json")
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP bodies

#[test]
fn deployment_config_reads_verified_fields_and_extensions() {
    let config =
        DeploymentConfig::from_json(&fixture("http.GET.deploymentConfig.response.json")).unwrap();
    assert_eq!(
        config.id.as_ref().map(DeploymentId::as_str),
        Some("8d2f7a1c-3b4e-4f6a-9c0d-5e1f2a3b4c5d")
    );
    assert!(config.auto_start_enabled());
    assert!(config.user_typing_enabled() && config.agent_typing_enabled());
    assert!(config.conversation_clear_enabled());
    assert!(config.auth_enabled());
    assert!(config.auth.unwrap().allow_session_upgrade);
    let conversations = config.conversations().unwrap();
    assert_eq!(
        conversations.conversation_disconnect.disconnect_type,
        DisconnectType::ReadOnly
    );
    assert_eq!(conversations.session_duration_seconds, Some(259_200));
    assert_eq!(conversations.welcome_message, None);
    assert_eq!(
        conversations
            .humanize
            .as_ref()
            .and_then(|h| h.bot.as_ref())
            .and_then(|bot| bot.name.as_deref()),
        Some("Sam")
    );
    let modes = &config
        .messenger
        .as_ref()
        .unwrap()
        .file_upload
        .as_ref()
        .unwrap()
        .modes;
    assert_eq!(modes[0].max_file_size_kb, Some(10240));

    let empty = DeploymentConfig::from_json("{}").unwrap();
    assert_eq!(empty, DeploymentConfig::default());
    assert!(!empty.auto_start_enabled());

    let with_welcome = DeploymentConfig::from_json(
        r#"{"messenger":{"apps":{"conversations":{"welcomeMessage":"Hi!","conversationDisconnect":{"enabled":true}}}},"cobrowse":{"enabled":true}}"#,
    )
    .unwrap();
    let conversations = with_welcome.conversations().unwrap();
    assert_eq!(conversations.welcome_message.as_deref(), Some("Hi!"));
    assert_eq!(
        conversations.conversation_disconnect.disconnect_type,
        DisconnectType::Send
    );
}

#[test]
fn history_page_keeps_order_and_null_times() {
    let page =
        HistoryPage::from_json(&fixture("http.GET.webmessaging.messages.response.json")).unwrap();
    assert_eq!(
        (
            page.page_size,
            page.page_number,
            page.total,
            page.page_count
        ),
        (25, 1, 4, 1)
    );
    assert_eq!(page.entities.len(), 4);
    assert!(
        page.entities[0].time_millis() > page.entities[1].time_millis(),
        "newest first"
    );
    assert_eq!(page.entities[3].time(), None, "time:null decodes as absent");
    assert!(page.entities[3].has_presence(&PresenceType::Join));
    assert_eq!(page.entities[2].metadata["customMessageId"], "local-41");

    let empty = HistoryPage::from_json(&fixture(
        "http.GET.webmessaging.messages.emptyResponse.json",
    ))
    .unwrap();
    assert!(empty.entities.is_empty());
}

#[test]
fn auth_bodies_distinguish_code_and_implicit_grants() {
    let code = CodeExchangeRequest::from_json(&fixture(
        "http.POST.oauthcodegrantjwtexchange.request.json",
    ))
    .unwrap();
    let OAuthGrant::Code(grant) = &code.oauth else {
        panic!("expected the code grant")
    };
    assert_eq!(grant.code, "SplxlOBeZQQYbYS6WxSbIA");
    assert!(grant.code_verifier.is_some());

    let implicit = CodeExchangeRequest::from_json(&fixture(
        "http.POST.oauthcodegrantjwtexchange.implicit.request.json",
    ))
    .unwrap();
    let OAuthGrant::Implicit(grant) = &implicit.oauth else {
        panic!("expected the implicit grant")
    };
    assert_eq!(grant.nonce.as_deref(), Some("n-0S6_WzA2Mj"));

    let exchanged = JwtExchangeResponse::from_json(&fixture(
        "http.POST.oauthcodegrantjwtexchange.response.json",
    ))
    .unwrap();
    assert!(exchanged.refresh_token.is_some());
    let refreshed =
        RefreshResponse::from_json(&fixture("http.POST.token.refresh.response.json")).unwrap();
    assert_eq!(refreshed.refresh_token, None);

    assert_eq!(
        RefreshRequest::from_json("{}"),
        Err(DecodeError::MissingField("refresh.refreshToken".to_owned()))
    );
    assert!(matches!(
        CodeExchangeRequest::from_json(r#"{"deploymentId":"d","oauth":{}}"#),
        Err(DecodeError::InvalidField { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Malformed input: Err or Ok, never a panic

fn decode_everything(text: &str) {
    let _ = ServerFrame::from_json(text);
    let _ = ClientAction::from_json(text);
    let _ = HistoryPage::from_json(text);
    let _ = DeploymentConfig::from_json(text);
    let _ = CodeExchangeRequest::from_json(text);
    let _ = RefreshResponse::from_json(text);
}

#[test]
fn malformed_server_frames_are_errors() {
    let cases: &[(&str, &str)] = &[
        ("", "empty input"),
        ("null", "null"),
        ("[]", "array"),
        ("\"string\"", "string"),
        (
            "{\"class\":\"string\",\"code\":400,\"body\":\"Req",
            "truncated",
        ),
        ("{}", "no class"),
        ("{\"class\":7,\"code\":200}", "class not a string"),
        (
            "{\"class\":\"string\",\"code\":\"x\",\"body\":\"b\"}",
            "code not a number",
        ),
        (
            "{\"class\":\"string\",\"body\":\"b\"}",
            "error without code",
        ),
        (
            "{\"class\":\"string\",\"code\":-1,\"body\":\"b\"}",
            "negative code",
        ),
        (
            "{\"class\":\"string\",\"code\":400,\"body\":[1,2]}",
            "error body array",
        ),
        (
            "{\"class\":\"StructuredMessage\",\"code\":200,\"body\":[]}",
            "message body array",
        ),
        (
            "{\"class\":\"SessionResponse\",\"code\":200,\"body\":{\"connected\":\"yes\"}}",
            "connected not a bool",
        ),
        (
            "{\"class\":\"JwtResponse\",\"code\":200,\"body\":{\"jwt\":\"x\"}}",
            "jwt without exp",
        ),
        (
            "{\"class\":\"PresignedUrlResponse\",\"code\":200,\"body\":{}}",
            "presigned without url",
        ),
    ];
    for (text, why) in cases {
        assert!(
            ServerFrame::from_json(text).is_err(),
            "{why}: {text:?} should not decode"
        );
        decode_everything(text);
    }
}

#[test]
fn malformed_client_frames_are_errors() {
    let cases: &[&str] = &[
        "",
        "null",
        "42",
        "{\"action\":\"echo\"",
        "{\"action\":null,\"token\":\"t\"}",
        "{\"action\":[],\"token\":\"t\"}",
        "{\"action\":\"echo\",\"token\":5}",
        "{\"action\":\"onMessage\",\"token\":\"t\",\"message\":[]}",
        "{\"action\":\"onMessage\",\"token\":\"t\",\"message\":\"hi\"}",
        "{\"action\":\"onAttachment\",\"token\":\"t\",\"fileName\":\"a\",\"fileSize\":-3}",
    ];
    for text in cases {
        assert!(
            ClientAction::from_json(text).is_err(),
            "{text:?} should not decode"
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let arrays = "[".repeat(10_000);
    decode_everything(&arrays);
    assert!(matches!(
        ServerFrame::from_json(&arrays),
        Err(DecodeError::MalformedJson(_))
    ));

    let nested_objects = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    decode_everything(&nested_objects);
    assert!(ServerFrame::from_json(&nested_objects).is_err());

    let deep_body = format!(
        "{{\"class\":\"StructuredMessage\",\"code\":200,\"body\":{{\"content\":[{}{}]}}}}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    decode_everything(&deep_body);
    assert!(ServerFrame::from_json(&deep_body).is_err());
}

#[test]
fn a_one_megabyte_text_decodes_and_oversize_input_is_refused() {
    let big_text = "x".repeat(1_000_000);
    let client = ClientAction::text(
        SessionToken::new("t"),
        big_text.clone(),
        TracingId::new("id"),
    )
    .to_json();
    let ClientAction::OnMessage(on_message) = ClientAction::from_json(&client).unwrap() else {
        panic!()
    };
    assert_eq!(
        on_message.message.text.as_deref().map(str::len),
        Some(1_000_000)
    );

    let server = ServerFrame::new(FrameKind::StructuredMessage(Message::text(big_text))).to_json();
    assert!(server.len() < MAX_FRAME_BYTES);
    let FrameKind::StructuredMessage(message) = ServerFrame::from_json(&server).unwrap().kind
    else {
        panic!()
    };
    assert_eq!(message.text.map(|text| text.len()), Some(1_000_000));

    let oversize = format!(
        "{{\"class\":\"LogoutEvent\",\"pad\":\"{}\"}}",
        "y".repeat(MAX_FRAME_BYTES)
    );
    assert!(matches!(
        ServerFrame::from_json(&oversize),
        Err(DecodeError::TooLarge { .. })
    ));
    assert!(matches!(
        ClientAction::from_json(&oversize),
        Err(DecodeError::TooLarge { .. })
    ));

    // Many tiny elements: still one linear pass.
    let many_contents = format!(
        "{{\"class\":\"StructuredMessage\",\"code\":200,\"body\":{{\"type\":\"Text\",\"content\":[{}]}}}}",
        vec!["{\"contentType\":\"X\"}"; 40_000].join(",")
    );
    let FrameKind::StructuredMessage(message) =
        ServerFrame::from_json(&many_contents).unwrap().kind
    else {
        panic!()
    };
    assert_eq!(message.content.len(), 40_000);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        decode_everything(&text);
    }

    #[test]
    fn mangled_fixtures_never_panic(index in 0usize..90, cut in 0usize..4000, byte in any::<u8>()) {
        let names = fixture_names();
        let name = &names[index % names.len()];
        let mut bytes = fixture(name).into_bytes();
        let position = cut % bytes.len().max(1);
        bytes.truncate(position + 1);
        if let Some(last) = bytes.last_mut() {
            *last = byte;
        }
        decode_everything(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn iso_time_formats_and_parses_back(millis in 0u64..253_402_300_800_000) {
        let text = IsoTime::from_unix_millis(millis);
        prop_assert_eq!(text.to_unix_millis(), Some(millis));
        prop_assert_eq!(text.as_str().len(), 24);
    }
}

// ---------------------------------------------------------------------------------------------
// Unit tests: time and error codes

#[test]
fn iso_time_parses_known_instants() {
    let cases: &[(&str, Option<u64>)] = &[
        ("1970-01-01T00:00:00.000Z", Some(0)),
        ("1970-01-01T00:00:00Z", Some(0)),
        ("2026-05-04T09:15:27.412Z", Some(1_777_886_127_412)),
        ("2026-11-21T10:15:30.123Z", Some(1_795_256_130_123)),
        ("2000-02-29T23:59:59.999Z", Some(951_868_799_999)),
        ("2026-05-04T11:15:27.412+02:00", Some(1_777_886_127_412)),
        ("2026-05-04T11:15:27.412+0200", Some(1_777_886_127_412)),
        ("2026-05-04T07:15:27.412-02:00", Some(1_777_886_127_412)),
        ("2026-05-04t09:15:27.412z", Some(1_777_886_127_412)),
        ("2026-05-04 09:15:27.412", Some(1_777_886_127_412)),
        ("2026-05-04T09:15:27.4Z", Some(1_777_886_127_400)),
        ("2026-05-04T09:15:27.412999999Z", Some(1_777_886_127_412)),
        ("2026-05-04T09:15Z", Some(1_777_886_100_000)),
        ("2016-12-31T23:59:60Z", Some(1_483_228_800_000)),
        ("", None),
        ("garbage", None),
        ("2026-05-04", None),
        ("2026-02-29T00:00:00Z", None),
        ("2100-02-29T00:00:00Z", None),
        ("2026-13-01T00:00:00Z", None),
        ("2026-05-04T24:00:00Z", None),
        ("2026-05-04T09:60:00Z", None),
        ("2026-05-04T09:15:27.Z", None),
        ("2026-05-04T09:15:27.412Zjunk", None),
        ("1969-12-31T23:59:59.999Z", None),
        ("1970-01-01T00:30:00+01:00", None),
        ("２026-05-04T09:15:27Z", None),
    ];
    for (text, expected) in cases {
        assert_eq!(IsoTime::new(*text).to_unix_millis(), *expected, "{text:?}");
    }
}

#[test]
fn iso_time_formats_like_the_server() {
    assert_eq!(
        IsoTime::from_unix_millis(0).as_str(),
        "1970-01-01T00:00:00.000Z"
    );
    assert_eq!(
        IsoTime::from_unix_millis(1_795_256_130_123).as_str(),
        "2026-11-21T10:15:30.123Z"
    );
    assert_eq!(
        IsoTime::from_unix_millis(951_868_799_999).as_str(),
        "2000-02-29T23:59:59.999Z"
    );
    assert_eq!(
        IsoTime::from(threadline_core::time::UnixMillis(1_777_886_127_412)).as_str(),
        "2026-05-04T09:15:27.412Z"
    );
    // Out of 4-digit years: still formats, never panics.
    assert!(IsoTime::from_unix_millis(u64::MAX).as_str().ends_with('Z'));
}

#[test]
fn epoch_seconds_are_distinct_from_iso_times() {
    assert_eq!(
        EpochSeconds(1_778_145_327).to_unix_millis(),
        Some(threadline_core::time::UnixMillis(1_778_145_327_000))
    );
    assert_eq!(EpochSeconds(-5).to_unix_millis(), None);
    assert_eq!(
        EpochSeconds::from_unix_millis(threadline_core::time::UnixMillis(1_999)),
        EpochSeconds(1)
    );
    assert_eq!(
        EpochSeconds::parse(" 1778145600 "),
        Some(EpochSeconds(1_778_145_600))
    );
    assert_eq!(EpochSeconds::parse("soon"), None);
    assert_eq!(
        serde_json::from_str::<EpochSeconds>("1778145600.0").unwrap(),
        EpochSeconds(1_778_145_600)
    );
    assert_eq!(
        serde_json::from_str::<EpochSeconds>("\"1778145600\"").unwrap(),
        EpochSeconds(1_778_145_600)
    );
    assert!(serde_json::from_str::<EpochSeconds>("\"later\"").is_err());
    assert_eq!(serde_json::to_string(&EpochSeconds(7)).unwrap(), "7");
}

#[test]
fn error_codes_round_trip_and_classify() {
    for code in 0..6_100u32 {
        assert_eq!(ErrorCode::from_u32(code).as_u32(), code);
    }
    assert_eq!(ErrorCode::from_u32(4011), ErrorCode::MessageTooLong);
    assert_eq!(ErrorCode::from_u32(4029), ErrorCode::RequestRateTooHigh);
    assert_eq!(ErrorCode::from_u32(4242), ErrorCode::Other(4242));
    let terminal: Vec<u32> = (0..6_100)
        .filter(|code| ErrorCode::from_u32(*code).is_terminal())
        .collect();
    assert_eq!(terminal, [4006, 4007, 4017]);
    assert!(ErrorCode::Forbidden.is_http_status() && !ErrorCode::MessageTooLong.is_http_status());
    assert_eq!(
        serde_json::to_string(&ErrorCode::Other(4242)).unwrap(),
        "4242"
    );
    assert_eq!(
        serde_json::from_str::<ErrorCode>("4007").unwrap(),
        ErrorCode::SessionNotFound
    );
}

#[test]
fn error_text_rules() {
    assert!(is_auth_failure_text("Session authentication failed"));
    assert!(is_auth_failure_text(
        "session AUTHENTICATION failed: token revoked"
    ));
    assert!(is_auth_failure_text("  Try to authenticate again."));
    assert!(!is_auth_failure_text("The session authentication failed"));
    assert!(!is_auth_failure_text("Session auth"));
    assert!(!is_auth_failure_text("Sessión authentication failed"));
    assert!(is_clear_conversation_failure_text(
        "Presence events Conversation Clear are not supported"
    ));
    assert!(is_clear_conversation_failure_text(
        "conversation clear disabled"
    ));
    assert!(!is_clear_conversation_failure_text(
        "Turn on the Feature Toggle or fix the configuration."
    ));
    assert!(!is_clear_conversation_failure_text(""));
}

// ---------------------------------------------------------------------------------------------
// Snapshots

fn sample_token() -> SessionToken {
    SessionToken::new("3f1c2f0e-8a51-4d3b-9c57-1b7f0f2a6d11")
}

fn sample_tracing(n: u8) -> TracingId {
    TracingId::new(format!("00000000-0000-4000-8000-0000000000{n:02}"))
}

#[test]
fn snapshot_client_actions() {
    let token = sample_token();
    let deployment = DeploymentId::new("8d2f7a1c-3b4e-4f6a-9c0d-5e1f2a3b4c5d");
    let attachment = AttachmentId::new("c7a9e2f1-4b6d-4e8a-9f1c-2d3e4f5a6b7c");
    let attributes = BTreeMap::from([("plan".to_owned(), "gold".to_owned())]);
    let actions: Vec<(&str, ClientAction)> = vec![
        (
            "configure_session",
            ClientAction::configure_session(
                token.clone(),
                deployment.clone(),
                false,
                sample_tracing(1),
            ),
        ),
        (
            "configure_authenticated_session",
            ClientAction::configure_authenticated_session(
                token.clone(),
                deployment.clone(),
                "eyJ.jwt.sig",
                false,
                sample_tracing(2),
            ),
        ),
        (
            "text",
            ClientAction::text(token.clone(), "Hello", sample_tracing(3)),
        ),
        (
            "text_with_attachment_and_attributes",
            ClientAction::message(
                token.clone(),
                Message::text("Photo")
                    .with_attachment(attachment.clone())
                    .with_custom_attributes(attributes),
                sample_tracing(4),
            ),
        ),
        (
            "quick_reply",
            ClientAction::quick_reply(
                token.clone(),
                "Yes",
                "yes",
                Some(MessageId::new("m1")),
                sample_tracing(5),
            ),
        ),
        (
            "postback",
            ClientAction::postback(token.clone(), "Book Now", "book", sample_tracing(6)),
        ),
        (
            "date_picker_answer",
            ClientAction::date_picker_answer(
                token.clone(),
                "Tue 12 May, 14:30",
                &IsoTime::new("2026-05-12T14:30:00.000Z"),
                Some(MessageId::new("m2")),
                sample_tracing(7),
            ),
        ),
        ("typing_on", ClientAction::typing_on(token.clone())),
        ("join", ClientAction::join(token.clone())),
        ("clear", ClientAction::clear(token.clone())),
        ("echo", ClientAction::health_check(token.clone())),
        (
            "get_jwt",
            ClientAction::get_jwt(token.clone(), sample_tracing(8)),
        ),
        (
            "on_attachment",
            ClientAction::on_attachment(
                token.clone(),
                attachment.clone(),
                "a.png",
                "image/png",
                1234,
                sample_tracing(9),
            ),
        ),
        (
            "get_attachment",
            ClientAction::get_attachment(token.clone(), attachment.clone(), sample_tracing(10)),
        ),
        (
            "delete_attachment",
            ClientAction::delete_attachment(token.clone(), attachment, sample_tracing(11)),
        ),
        ("close_session", ClientAction::close_session(token.clone())),
        (
            "get_configuration",
            ClientAction::get_configuration(token, deployment, sample_tracing(12)),
        ),
    ];
    for (name, action) in actions {
        insta::assert_json_snapshot!(format!("client_{name}"), action);
    }
}

#[test]
fn snapshot_server_frames() {
    let attachment = AttachmentId::new("c7a9e2f1-4b6d-4e8a-9f1c-2d3e4f5a6b7c");
    let mut session = SessionResponse::connected(true);
    session.max_custom_data_bytes = Some(2048);
    session.allowed_media = Some(AllowedMedia {
        inbound: Some(InboundMedia {
            file_types: vec![FileTypeEntry {
                file_type: "image/png".to_owned(),
            }],
            max_file_size_kb: Some(10240),
        }),
    });
    session.blocked_extensions = vec![".exe".to_owned()];
    session.duration_seconds = Some(259_200);
    session.expiration_date = Some(EpochSeconds(1_778_145_327));

    let mut echo = Message::text("Hello");
    echo.id = Some(MessageId::new("4b7e2c1d-9a8f-4e6d-b5c4-3a2f1e0d9c8b"));
    echo.direction = Some(Direction::Inbound);
    echo.channel = Some(Channel {
        time: Some(IsoTime::from_unix_millis(1_777_886_127_412)),
        message_id: echo.id.clone(),
        ..Channel::default()
    });
    echo.metadata
        .insert("correlationId".to_owned(), "c-1".to_owned());

    let mut quick_replies = Message {
        id: Some(MessageId::new("9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c")),
        message_type: MessageType::Structured,
        text: Some("What would you like to do?".to_owned()),
        direction: Some(Direction::Outbound),
        originating_entity: Some(OriginatingEntity::Bot),
        ..Message::default()
    };
    quick_replies.content = vec![
        Content::QuickReply(QuickReply {
            text: "Track".to_owned(),
            payload: "track".to_owned(),
            action: Some("Message".to_owned()),
            image: None,
        }),
        Content::Card(Card {
            title: "Deluxe".to_owned(),
            description: Some("Sea view".to_owned()),
            actions: vec![CardAction {
                action_type: CardActionType::Postback,
                text: "Book".to_owned(),
                url: None,
                payload: Some("book".to_owned()),
            }],
            ..Card::default()
        }),
        Content::DatePicker(DatePicker {
            title: Some("Pick".to_owned()),
            available_times: vec![DatePickerSlot {
                date_time: IsoTime::new("2026-05-12T14:30:00.000Z"),
                duration: Some(1800),
            }],
            ..DatePicker::default()
        }),
    ];

    let mut disconnect = Message::event(Event::presence(PresenceType::Disconnect));
    disconnect.direction = Some(Direction::Outbound);
    disconnect
        .metadata
        .insert("readOnly".to_owned(), "true".to_owned());

    let frames: Vec<(&str, ServerFrame)> = vec![
        (
            "session_response",
            ServerFrame::new(FrameKind::SessionResponse(session))
                .with_tracing_id(sample_tracing(1)),
        ),
        (
            "structured_echo",
            ServerFrame::new(FrameKind::StructuredMessage(echo)).with_tracing_id(sample_tracing(3)),
        ),
        (
            "structured_rich",
            ServerFrame::new(FrameKind::StructuredMessage(quick_replies)),
        ),
        (
            "structured_disconnect",
            ServerFrame::new(FrameKind::StructuredMessage(disconnect)),
        ),
        (
            "structured_typing",
            ServerFrame::new(FrameKind::StructuredMessage(Message::event(Event::Typing(
                Typing {
                    typing_type: TypingType::On,
                    duration: Some(5000),
                },
            )))),
        ),
        (
            "error_4011",
            ServerFrame::error(
                ErrorCode::MessageTooLong,
                "Message text exceeds maximum length",
            )
            .with_tracing_id(sample_tracing(3)),
        ),
        (
            "too_many_requests",
            ServerFrame::new(FrameKind::TooManyRequests(TooManyRequests {
                retry_after: Some(3),
                error_code: Some(ErrorCode::RequestRateTooHigh),
                error_message: Some("Message rate too high for this session".to_owned()),
            })),
        ),
        (
            "session_expired",
            ServerFrame::new(FrameKind::SessionExpired),
        ),
        (
            "connection_closed_signed_in",
            ServerFrame::new(FrameKind::ConnectionClosed(ConnectionClosed {
                reason: Some("signedIn".to_owned()),
                reason_code: None,
            })),
        ),
        ("logout", ServerFrame::new(FrameKind::Logout)),
        (
            "session_cleared",
            ServerFrame::new(FrameKind::SessionCleared),
        ),
        (
            "jwt",
            ServerFrame::new(FrameKind::Jwt(JwtResponse {
                jwt: "eyJ.jwt.sig".to_owned(),
                exp: EpochSeconds(1_777_887_927),
            }))
            .with_tracing_id(sample_tracing(8)),
        ),
        (
            "presigned_url",
            ServerFrame::new(FrameKind::PresignedUrl(PresignedUrl {
                attachment_id: attachment.clone(),
                headers: BTreeMap::from([("x-amz-tagging".to_owned(), "a=b".to_owned())]),
                url: "http://127.0.0.1:8080/uploads/c7a9".to_owned(),
                file_name: Some("a.png".to_owned()),
                file_size: Some(1234),
                file_type: Some("image/png".to_owned()),
            }))
            .with_tracing_id(sample_tracing(9)),
        ),
        (
            "upload_success",
            ServerFrame::new(FrameKind::UploadSuccess(UploadSuccess {
                attachment_id: attachment.clone(),
                download_url: "http://127.0.0.1:8080/downloads/c7a9".to_owned(),
                timestamp: Some(IsoTime::from_unix_millis(1_777_886_218_301)),
            })),
        ),
        (
            "upload_failure",
            ServerFrame::new(FrameKind::UploadFailure(AttachmentError {
                attachment_id: attachment.clone(),
                error_code: ErrorCode::FileContentInvalid,
                error_message: Some(
                    "File content does not match the declared file type".to_owned(),
                ),
                timestamp: None,
            })),
        ),
        (
            "generate_url_error",
            ServerFrame::new(FrameKind::GenerateUrlError(AttachmentError {
                attachment_id: attachment.clone(),
                error_code: ErrorCode::FileTypeInvalid,
                error_message: Some("File type image/heic is not allowed".to_owned()),
                timestamp: None,
            })),
        ),
        (
            "attachment_deleted",
            ServerFrame::new(FrameKind::AttachmentDeleted(AttachmentDeleted {
                attachment_id: attachment,
            })),
        ),
        (
            "get_configuration",
            ServerFrame::new(FrameKind::GetConfiguration(GetConfigurationResponse {
                max_custom_data_bytes: Some(2048),
                session_duration_seconds: Some(259_200),
                message_routing_enabled: Some(true),
                ..GetConfigurationResponse::default()
            })),
        ),
        (
            "unknown_class",
            ServerFrame::new(FrameKind::Unknown {
                class: "SomeFutureEvent".to_owned(),
                raw: json!({"anything": [1]}),
            }),
        ),
    ];
    for (name, frame) in frames {
        assert_eq!(
            ServerFrame::from_json(&frame.to_json()).expect("re-decodes"),
            frame,
            "{name}"
        );
        insta::assert_json_snapshot!(format!("server_{name}"), frame);
    }
}
