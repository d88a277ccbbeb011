//! Every error the gateway emits on the socket, and that the socket stays open after it.

use serde_json::json;
use threadline_gateway::domain::session::RateLimit;
use threadline_gateway::HubOptions;

use crate::support::*;

#[tokio::test]
async fn malformed_unknown_and_incomplete_frames_keep_the_socket_open() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect().await;
    client.send_text("{not json").await;
    client.expect_error(400).await;
    client.send_text("[1,2,3]").await;
    client.expect_error(400).await;
    client.send_binary(b"{}").await;
    client.expect_error(400).await;
    client
        .send(&json!({"action": "launchRocket", "token": "t", "tracingId": "x"}))
        .await;
    let unknown = client.expect_error(400).await;
    assert_eq!(unknown["tracingId"], "x");
    client
        .send(&json!({"action": "configureSession", "deploymentId": DEPLOYMENT, "tracingId": "m"}))
        .await;
    let missing = client.expect_error(4020).await;
    assert_eq!(missing["tracingId"], "m");
    client
        .send(&json!({"action": "configureSession", "token": "t"}))
        .await;
    client.expect_error(4020).await;
    // Still usable.
    let answer = client.configure("tok-errors").await;
    assert_eq!(answer["connected"], true);
    client
        .send(&json!({"action": "onMessage", "token": "tok-errors"}))
        .await;
    client.expect_error(4020).await;
    client
        .send(
            &json!({"action": "onMessage", "token": "tok-errors", "message": {"text": "no type"}}),
        )
        .await;
    client.expect_error(4020).await;
    client
        .send(&json!({"action": "getAttachment", "token": "tok-errors"}))
        .await;
    client.expect_error(4020).await;
    client
        .send(&json!({"action": "onAttachment", "token": "tok-errors", "fileType": "image/png"}))
        .await;
    client.expect_error(4020).await;
    client.say("tok-errors", "still here", "s").await;
}

#[tokio::test]
async fn requests_before_configure_answer_4007_and_wrong_deployment_403() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect().await;
    client.send(&json!({"action": "onMessage", "token": "tok-x", "tracingId": "1", "message": {"type": "Text", "text": "hi"}})).await;
    client.expect_error(4007).await;
    client.send(&json!({"action": "echo", "token": "tok-x", "message": {"type": "Text", "text": "ping"}})).await;
    client.expect_error(4007).await;
    client.send(&json!({"action": "configureSession", "token": "tok-x", "deploymentId": "some-other-deployment"})).await;
    client.expect_error(403).await;
}

#[tokio::test]
async fn long_text_4011_and_oversized_custom_attributes_4013() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured("tok-limits").await;
    let long = "x".repeat(4097);
    client.send(&json!({"action": "onMessage", "token": "tok-limits", "tracingId": "long", "message": {"type": "Text", "text": long}})).await;
    assert_eq!(client.expect_error(4011).await["tracingId"], "long");
    let huge = "y".repeat(70 * 1024);
    client.send(&json!({"action": "onMessage", "token": "tok-limits", "message": {"type": "Text", "text": huge}})).await;
    client.expect_error(4011).await;
    let attributes = json!({"blob": "z".repeat(2100)});
    client.send(&json!({"action": "onMessage", "token": "tok-limits", "tracingId": "attrs",
        "message": {"type": "Text", "text": "hi", "channel": {"metadata": {"customAttributes": attributes}}}})).await;
    let error = client.expect_error(4013).await;
    assert!(error["body"].as_str().unwrap().contains("2048"));
    // Top-level channel is accepted too, and counted.
    client.send(&json!({"action": "onMessage", "token": "tok-limits", "channel": {"metadata": {"customAttributes": attributes}},
        "message": {"type": "Text", "text": "hi"}})).await;
    client.expect_error(4013).await;
    client.say("tok-limits", "fine", "ok").await;
}

#[tokio::test]
async fn rate_limit_answers_too_many_requests_with_retry_after() {
    let options = HubOptions {
        rate_limit: RateLimit {
            max_messages: 3,
            window_ms: 10_000,
        },
        ..HubOptions::default()
    };
    let gateway = TestGateway::start_with(DEFAULT_DEPLOYMENT_TOML, options).await;
    let (mut client, _) = gateway.configured("tok-rate").await;
    for index in 0..3 {
        client.say("tok-rate", "hi", &format!("r{index}")).await;
    }
    client.send(&json!({"action": "onMessage", "token": "tok-rate", "tracingId": "r3", "message": {"type": "Text", "text": "hi"}})).await;
    let limited = client.expect_class("TooManyRequestsErrorMessage").await;
    assert_eq!(limited["code"], 429);
    assert_eq!(limited["tracingId"], "r3");
    assert_eq!(limited["body"]["errorCode"], 4029);
    assert_eq!(limited["body"]["retryAfter"], 10);
    gateway.clock.advance_ms(10_000);
    client.say("tok-rate", "allowed again", "r4").await;
}

#[tokio::test]
async fn disabled_typing_and_clear_answer_403_with_the_spec_texts() {
    let settings = "showUserTypingIndicator = false\nconversationClear = false\n";
    let gateway = TestGateway::start_with(settings, HubOptions::default()).await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    client.send(&fixture("client.onMessage.typing.json")).await;
    assert_eq!(
        client.expect_error(403).await["body"],
        "Turn on the Feature Toggle or fix the configuration."
    );
    client
        .send(&fixture("client.onMessage.clearConversation.json"))
        .await;
    assert_eq!(
        client.expect_error(403).await["body"],
        "Presence events Conversation Clear are not supported"
    );
    client.say(FIXTURE_TOKEN, "socket still open", "open").await;
}

#[tokio::test]
async fn expired_sessions_answer_4006_or_session_expired_event() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured("tok-exp").await;
    let (status, _) = gateway
        .control(
            "POST",
            "/control/sessions/tok-exp/expire",
            r#"{"inSeconds": 0}"#,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        client.expect_class("SessionExpiredEvent").await["body"],
        json!({})
    );
    client.send(&json!({"action": "onMessage", "token": "tok-exp", "tracingId": "late", "message": {"type": "Text", "text": "hi"}})).await;
    assert_eq!(client.expect_error(4006).await["tracingId"], "late");
    client.send(&json!({"action": "echo", "token": "tok-exp", "tracingId": "e", "message": {"type": "Text", "text": "ping"}})).await;
    assert_eq!(
        client.expect_class("SessionExpiredEvent").await["tracingId"],
        "e"
    );
    // Configuring the same token again is refused with SessionExpiredEvent, on any socket.
    let mut again = gateway.connect().await;
    again.send(&json!({"action": "configureSession", "token": "tok-exp", "deploymentId": DEPLOYMENT, "startNew": true, "tracingId": "c"})).await;
    assert_eq!(
        again.expect_class("SessionExpiredEvent").await["tracingId"],
        "c"
    );
}

#[tokio::test]
async fn absurd_frames_close_the_socket_with_1009() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect().await;
    client.send_text(&"a".repeat(2 * 1024 * 1024)).await;
    assert_eq!(client.expect_end().await, Ending::Closed(1009));
    // The gateway itself is unharmed.
    let (_, fresh) = gateway.configured("tok-after-absurd").await;
    assert_eq!(fresh["connected"], true);
}
