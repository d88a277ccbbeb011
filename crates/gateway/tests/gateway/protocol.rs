//! Every client frame kind of the shared fixtures, sent over a real socket, with its answer.

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn configure_variants_answer_session_response_with_ttl_fields() {
    let gateway = TestGateway::start().await;
    for (name, token) in [
        ("client.configureSession.json", "tok-configure-a"),
        ("client.configureSession.minimal.json", "tok-configure-b"),
        (
            "client.configureSession.withTriggeringAction.json",
            "tok-configure-c",
        ),
    ] {
        let mut client = gateway.connect().await;
        let frame = fixture_for(name, token);
        client.send(&frame).await;
        let answer = client.expect_class("SessionResponse").await;
        assert_eq!(answer["type"], "response");
        assert_eq!(answer["code"], 200);
        assert_eq!(answer["tracingId"], frame["tracingId"]);
        let body = &answer["body"];
        assert_eq!(body["connected"], true);
        assert_eq!(body["newSession"], true, "{name}");
        assert_eq!(body["readOnly"], false);
        assert_eq!(body["durationSeconds"], 1800);
        assert_eq!(body["expirationDate"], START_MS / 1000 + 1800);
        assert_eq!(body["maxCustomDataBytes"], 2048);
        assert_eq!(body["allowedMedia"]["inbound"]["maxFileSizeKB"], 1024);
        assert_eq!(
            body["allowedMedia"]["inbound"]["fileTypes"][0]["type"],
            "image/*"
        );
        assert_eq!(body["blockedExtensions"], json!([".exe"]));
    }
    // The same token on a new socket resumes.
    let (_, resumed) = gateway.configured("tok-configure-a").await;
    assert_eq!(resumed["newSession"], false);
}

#[tokio::test]
async fn text_messages_are_echoed_with_tracing_id_time_id_and_client_metadata() {
    let gateway = TestGateway::start().await;
    let token = FIXTURE_TOKEN;
    let (mut client, _) = gateway.configured(token).await;
    let mut last_time = 0;
    for name in [
        "client.onMessage.text.json",
        "client.onMessage.textWithMetadataAndTime.json",
        "client.onMessage.textWithCustomAttributes.json",
    ] {
        let frame = fixture(name);
        client.send(&frame).await;
        let echo = client.expect_class("StructuredMessage").await;
        assert_eq!(echo["tracingId"], frame["tracingId"], "{name}");
        let body = &echo["body"];
        assert_eq!(body["direction"], "Inbound");
        assert_eq!(body["type"], "Text");
        assert_eq!(body["text"], frame["message"]["text"]);
        assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()));
        let time = time_ms(&echo);
        assert!(time > last_time, "channel.time must increase");
        last_time = time;
        if let Some(metadata) = frame["message"].get("metadata") {
            assert_eq!(&body["metadata"], metadata, "client metadata kept");
        }
        if let Some(attributes) = frame["message"].pointer("/channel/metadata/customAttributes") {
            assert_eq!(&body["channel"]["metadata"]["customAttributes"], attributes);
        }
    }
}

#[tokio::test]
async fn button_responses_are_echoed_with_their_content() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    for name in [
        "client.onMessage.quickReply.json",
        "client.onMessage.cardPostback.json",
        "client.onMessage.datePicker.json",
    ] {
        let frame = fixture(name);
        client.send(&frame).await;
        let echo = client.expect_class("StructuredMessage").await;
        assert_eq!(echo["tracingId"], frame["tracingId"]);
        assert_eq!(echo["body"]["type"], frame["message"]["type"], "{name}");
        assert_eq!(
            echo["body"]["content"], frame["message"]["content"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn typing_is_accepted_silently_and_join_is_echoed_inbound() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    client.send(&fixture("client.onMessage.typing.json")).await;
    client.expect_silence(300).await;
    let join = fixture("client.onMessage.autostartJoin.json");
    client.send(&join).await;
    let echo = client.expect_class("StructuredMessage").await;
    assert_eq!(echo["tracingId"], join["tracingId"]);
    assert_eq!(echo["body"]["direction"], "Inbound");
    assert_eq!(echo["body"]["type"], "Event");
    assert_eq!(echo["body"]["events"][0]["presence"]["type"], "Join");
}

#[tokio::test]
async fn echo_answers_with_ttl_metadata_as_strings() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    gateway.clock.advance_ms(60_000);
    let frame = fixture("client.echo.json");
    client.send(&frame).await;
    let answer = client.expect_class("StructuredMessage").await;
    assert_eq!(answer["type"], "response");
    assert_eq!(answer["tracingId"], "SGVhbHRoQ2hlY2tNZXNzYWdlSWQ=");
    assert_eq!(answer["body"]["text"], "ping");
    assert_eq!(answer["body"]["metadata"]["durationSeconds"], "1800");
    // An echo is not activity: the expiry stays where configure put it.
    assert_eq!(
        answer["body"]["metadata"]["expirationDate"],
        (START_MS / 1000 + 1800).to_string()
    );
}

#[tokio::test]
async fn get_jwt_opens_the_history_endpoint() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    for index in 0..3 {
        client
            .say(
                FIXTURE_TOKEN,
                &format!("message {index}"),
                &format!("t{index}"),
            )
            .await;
    }
    let request = fixture("client.getJwt.json");
    client.send(&request).await;
    let answer = client.expect_class("JwtResponse").await;
    assert_eq!(answer["tracingId"], request["tracingId"]);
    let jwt = answer["body"]["jwt"].as_str().unwrap().to_owned();
    assert_eq!(answer["body"]["exp"], START_MS / 1000 + 900);
    let page = gateway
        .http(
            "GET",
            "/api/v2/webmessaging/messages?pageNumber=1&pageSize=2",
            &[("authorization", &format!("bearer {jwt}"))],
            b"",
        )
        .await;
    assert_eq!(page.status, 200);
    let page = page.json();
    assert_eq!(page["total"], 3);
    assert_eq!(page["pageCount"], 2);
    assert_eq!(page["pageSize"], 2);
    assert_eq!(page["entities"][0]["text"], "message 2", "newest first");
    assert_eq!(page["entities"][1]["text"], "message 1");
    let second = gateway
        .http(
            "GET",
            "/api/v2/webmessaging/messages?pageNumber=2&pageSize=2",
            &[("Authorization", &format!("Bearer {jwt}"))],
            b"",
        )
        .await;
    assert_eq!(second.json()["entities"][0]["text"], "message 0");
}

#[tokio::test]
async fn get_configuration_answers_the_supported_content() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    let request = fixture("client.getConfiguration.json");
    client.send(&request).await;
    let answer = client.expect_class("GetConfigurationResponse").await;
    assert_eq!(answer["tracingId"], request["tracingId"]);
    assert_eq!(answer["body"]["sessionDurationSeconds"], 1800);
    assert_eq!(answer["body"]["maxCustomDataBytes"], 2048);
}

#[tokio::test]
async fn close_session_then_start_new_on_the_same_socket() {
    let gateway = TestGateway::start().await;
    let (mut first, _) = gateway.configured(FIXTURE_TOKEN).await;
    let (mut second, _) = gateway.configured(FIXTURE_TOKEN).await;
    first.say(FIXTURE_TOKEN, "before", "b").await;
    let _other_tab_copy = second.expect_class("StructuredMessage").await;
    let (status, _) = gateway
        .control(
            "POST",
            &format!("/control/sessions/{FIXTURE_TOKEN}/disconnect"),
            r#"{"readOnly": true}"#,
        )
        .await;
    assert_eq!(status, 200);
    let disconnect = first.expect_class("StructuredMessage").await;
    assert_eq!(disconnect["body"]["metadata"]["readOnly"], "true");
    second.expect_class("StructuredMessage").await;

    let close = fixture("client.closeSession.json");
    first.send(&close).await;
    assert_eq!(
        second.expect_class("ConnectionClosedEvent").await["body"],
        json!({})
    );
    assert!(matches!(second.expect_end().await, Ending::Closed(_)));
    let answer = first.expect_class("SessionResponse").await;
    assert_eq!(answer["tracingId"], close["tracingId"]);
    assert_eq!(answer["body"]["connected"], false);
    assert_eq!(answer["body"]["readOnly"], true);

    let start_new = fixture("client.configureSession.startNew.json");
    assert_eq!(start_new["token"], FIXTURE_TOKEN);
    first.send(&start_new).await;
    let fresh = first.expect_class("SessionResponse").await;
    assert_eq!(fresh["body"]["connected"], true);
    assert_eq!(fresh["body"]["newSession"], true);
    assert_eq!(fresh["body"]["readOnly"], false);
    // The new session has no history and accepts messages again.
    first.say(FIXTURE_TOKEN, "after", "a").await;
}

#[tokio::test]
async fn clear_conversation_clears_closes_and_next_configure_is_new() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    let (mut other, _) = gateway.configured(FIXTURE_TOKEN).await;
    client.say(FIXTURE_TOKEN, "hello", "h").await;
    other.expect_class("StructuredMessage").await;
    let clear = fixture("client.onMessage.clearConversation.json");
    client.send(&clear).await;
    let cleared = client.expect_class("SessionClearedEvent").await;
    assert_eq!(cleared["tracingId"], clear["tracingId"]);
    client.expect_class("ConnectionClosedEvent").await;
    assert_eq!(client.expect_end().await, Ending::Closed(1000));
    other.expect_class("SessionClearedEvent").await;
    other.expect_class("ConnectionClosedEvent").await;
    let (_, again) = gateway.configured(FIXTURE_TOKEN).await;
    assert_eq!(again["newSession"], true);
}

#[tokio::test]
async fn authenticated_configure_is_refused_while_auth_is_off() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect().await;
    let mut frame: Value = fixture("client.configureAuthenticatedSession.json");
    frame["deploymentId"] = Value::from(DEPLOYMENT);
    client.send(&frame).await;
    let error = client.expect_error(403).await;
    assert_eq!(
        error["body"],
        "Turn on the Feature Toggle or fix the configuration."
    );
}
