//! The control API contract the end-to-end suites rely on.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn deployments_create_patch_list_and_refuse_unknown_fields() {
    let gateway = TestGateway::start().await;
    let (status, created) = gateway
        .control("POST", "/control/deployments", r#"{"name": "Shop", "guestSessionTtl": "15m", "allowedOrigins": ["https://shop.example"], "conversationDisconnect": {"enabled": true, "type": "ReadOnly"}}"#)
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["deploymentId"].as_str().unwrap().to_owned();
    let (status, error) = gateway
        .control(
            "POST",
            "/control/deployments",
            r#"{"name": "x", "colour": "red"}"#,
        )
        .await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("colour"));
    assert_eq!(
        gateway
            .control(
                "POST",
                "/control/deployments",
                r#"{"guestSessionTtl": "2h"}"#
            )
            .await
            .0,
        400
    );
    assert_eq!(
        gateway
            .control(
                "POST",
                "/control/deployments",
                r#"{"guestSessionTtl": {"days": 31}}"#
            )
            .await
            .0,
        400
    );
    assert_eq!(
        gateway
            .control(
                "PATCH",
                &format!("/control/deployments/{id}"),
                r#"{"bogus": 1}"#
            )
            .await
            .0,
        400
    );
    assert_eq!(
        gateway
            .control("PATCH", "/control/deployments/missing", r#"{"name": "y"}"#)
            .await
            .0,
        404
    );
    let (status, patched) = gateway
        .control(
            "PATCH",
            &format!("/control/deployments/{id}"),
            r#"{"welcomeMessage": "Hello"}"#,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["welcomeMessage"], "Hello");
    assert_eq!(patched["name"], "Shop");
    assert_eq!(patched["guestSessionTtl"], "15m");
    let (_, list) = gateway.control("GET", "/control/deployments", "").await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["deploymentId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids[0],
        threadline_gateway::DEMO_DEPLOYMENT_ID,
        "the demo deployment is listed first"
    );
    assert!(ids.contains(&DEPLOYMENT) && ids.contains(&id.as_str()));
    let demo = &list[0];
    assert_eq!(demo["name"], "Demo");
    assert_eq!(demo["guestSessionTtl"], "30m");
    assert_eq!(demo["welcomeMessage"], "Hi! How can we help you today?");
    assert_eq!(demo["autoStart"], false);
    assert_eq!(
        demo["attachments"]["fileTypes"],
        json!(["image/*", "application/pdf"])
    );
    assert_eq!(demo["attachments"]["maxFileSizeKB"], 10240);
}

#[tokio::test]
async fn session_listing_and_detail_shapes() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured("tok-ctl").await;
    client.say("tok-ctl", "first", "1").await;
    gateway.control("POST", "/control/sessions/tok-ctl/messages", r#"{"text": "second", "content": [{"contentType": "QuickReply", "quickReply": {"text": "Yes", "payload": "yes"}}]}"#).await;
    let agent = client.expect_class("StructuredMessage").await;
    assert_eq!(agent["body"]["type"], "Structured");
    assert_eq!(agent["body"]["content"][0]["quickReply"]["text"], "Yes");
    let (status, sessions) = gateway
        .control(
            "GET",
            &format!("/control/sessions?deploymentId={DEPLOYMENT}"),
            "",
        )
        .await;
    assert_eq!(status, 200);
    let session = &sessions[0];
    for key in [
        "token",
        "deploymentId",
        "conversationId",
        "state",
        "expirationDate",
        "sockets",
    ] {
        assert!(session.get(key).is_some(), "missing {key} in {session}");
    }
    assert_eq!(session["token"], "tok-ctl");
    assert_eq!(session["state"], "active");
    assert_eq!(session["sockets"], 1);
    assert_eq!(session["expirationDate"], START_MS / 1000 + 1800);
    let (_, detail) = gateway
        .control(
            "GET",
            &format!("/control/sessions/tok-ctl?deploymentId={DEPLOYMENT}"),
            "",
        )
        .await;
    assert_eq!(detail["conversationId"], session["conversationId"]);
    let transcript = detail["transcript"].as_array().unwrap();
    assert_eq!(transcript.len(), 2);
    assert_eq!(transcript[0]["text"], "first");
    assert_eq!(transcript[0]["direction"], "Inbound");
    assert_eq!(transcript[1]["text"], "second");
    assert_eq!(
        gateway
            .control("GET", "/control/sessions/nobody", "")
            .await
            .0,
        404
    );
    assert_eq!(
        gateway
            .control(
                "POST",
                "/control/sessions/tok-ctl/messages",
                r#"{"text": "x", "extra": 1}"#
            )
            .await
            .0,
        400
    );
    assert_eq!(
        gateway
            .control("POST", "/control/sessions/tok-ctl/messages", r#"{}"#)
            .await
            .0,
        400
    );
    let (status, _) = gateway
        .control("POST", "/control/sessions/tok-ctl/typing", "")
        .await;
    assert_eq!(status, 200);
    let typing = client.expect_class("StructuredMessage").await;
    assert_eq!(typing["body"]["events"][0]["eventType"], "Typing");
    assert_eq!(typing["body"]["events"][0]["typing"]["duration"], 5000);
}

#[tokio::test]
async fn drop_aborts_sockets_without_a_close_frame() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured("tok-drop").await;
    let (status, dropped) = gateway
        .control("POST", "/control/sessions/tok-drop/drop", "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(dropped["dropped"], 1);
    assert_eq!(client.expect_end().await, Ending::Aborted);
    // Reconnecting resumes the session.
    let (_, resumed) = gateway.configured("tok-drop").await;
    assert_eq!(resumed["newSession"], false);
}

#[tokio::test]
async fn expire_in_seconds_is_enforced_by_the_server_clock() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured("tok-soon").await;
    gateway
        .control(
            "POST",
            "/control/sessions/tok-soon/expire",
            r#"{"inSeconds": 30}"#,
        )
        .await;
    client.expect_silence(100).await;
    gateway.clock.advance_ms(30_000);
    client.expect_class("SessionExpiredEvent").await;
}

#[tokio::test]
async fn faults_duplicate_and_drop_frames_until_cleared() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured("tok-fault").await;
    let body = format!(r#"{{"deploymentId": "{DEPLOYMENT}", "duplicateRate": 1.0}}"#);
    assert_eq!(
        gateway.control("POST", "/control/faults", &body).await.0,
        200
    );
    assert_eq!(
        gateway
            .control("POST", "/control/faults", r#"{"duplicateRate": 2}"#)
            .await
            .0,
        400
    );
    assert_eq!(
        gateway
            .control("POST", "/control/faults", r#"{"nope": 2}"#)
            .await
            .0,
        400
    );
    let first = client.say("tok-fault", "twice", "d").await;
    let second = client.expect_class("StructuredMessage").await;
    assert_eq!(first, second);
    assert_eq!(
        gateway.control("DELETE", "/control/faults", "").await.0,
        200
    );
    client.say("tok-fault", "once", "o").await;
    client.expect_silence(150).await;
    gateway
        .control("POST", "/control/faults", r#"{"dropAfterFrames": 0}"#)
        .await;
    client.send(&json!({"action": "echo", "token": "tok-fault", "message": {"type": "Text", "text": "ping"}})).await;
    assert_eq!(client.expect_end().await, Ending::Aborted);
}

#[tokio::test]
async fn raw_frames_reach_the_sockets_verbatim() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured("tok-raw").await;
    let frame = json!({"type": "message", "class": "BrandNewClass", "code": 200, "body": {"x": 1}});
    let (status, sent) = gateway
        .control(
            "POST",
            "/control/sessions/tok-raw/frames",
            &frame.to_string(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(sent["sockets"], 1);
    assert_eq!(client.recv_unchecked().await, frame);
}
