//! Sessions over time: TTL expiry with the manual clock, config changes, the socket limit,
//! fan-out to other tabs, read-only disconnects, conversations and retention.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn inactivity_expiry_pushes_session_expired_and_activity_extends_it() {
    let gateway = TestGateway::start().await;
    let (mut client, session) = gateway.configured("tok-ttl").await;
    assert_eq!(session["durationSeconds"], 1800);
    // Activity at +20 min pushes the expiry to +50 min.
    gateway.clock.advance_ms(20 * 60 * 1000);
    client.say("tok-ttl", "still here", "a").await;
    gateway.clock.advance_ms(20 * 60 * 1000);
    client.expect_silence(150).await;
    client.send(&json!({"action": "echo", "token": "tok-ttl", "tracingId": "e", "message": {"type": "Text", "text": "ping"}})).await;
    let echo = client.expect_class("StructuredMessage").await;
    assert_eq!(
        echo["body"]["metadata"]["expirationDate"],
        (START_MS / 1000 + 50 * 60).to_string()
    );
    // Past the expiry the server pushes SessionExpiredEvent by itself.
    gateway.clock.advance_ms(10 * 60 * 1000 + 1);
    let pushed = client.expect_class("SessionExpiredEvent").await;
    assert_eq!(pushed["body"], json!({}));
    let (_, detail) = gateway
        .control("GET", "/control/sessions/tok-ttl", "")
        .await;
    assert_eq!(detail["state"], "expired");
    // Expiry does not delete the stored messages.
    assert_eq!(detail["transcript"][0]["text"], "still here");
}

#[tokio::test]
async fn a_config_change_applies_to_new_sessions_only() {
    let gateway = TestGateway::start().await;
    let (_old, before) = gateway.configured("tok-old").await;
    assert_eq!(before["durationSeconds"], 1800);
    let (status, patched) = gateway
        .control(
            "PATCH",
            &format!("/control/deployments/{DEPLOYMENT}"),
            r#"{"guestSessionTtl": {"hours": 2}, "attachments": {"maxFileSizeKB": 5}}"#,
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["guestSessionTtlSeconds"], 7200);
    assert_eq!(
        patched["attachments"]["fileTypes"][0], "image/*",
        "PATCH is partial"
    );
    let (_, resumed) = gateway.configured("tok-old").await;
    assert_eq!(
        resumed["durationSeconds"], 1800,
        "a live session keeps its TTL"
    );
    assert_eq!(resumed["allowedMedia"]["inbound"]["maxFileSizeKB"], 1024);
    let (_, fresh) = gateway.configured("tok-new").await;
    assert_eq!(fresh["durationSeconds"], 7200);
    assert_eq!(fresh["allowedMedia"]["inbound"]["maxFileSizeKB"], 5);
    let config = gateway
        .http(
            "GET",
            &format!("/webdeployments/v1/deployments/{DEPLOYMENT}/config.json"),
            &[],
            b"",
        )
        .await
        .json();
    assert_eq!(
        config["messenger"]["apps"]["conversations"]["sessionDurationSeconds"],
        7200
    );
}

#[tokio::test]
async fn a_fourth_socket_closes_the_oldest_with_connection_closed_event() {
    let gateway = TestGateway::start().await;
    let (mut first, _) = gateway.configured("tok-limit").await;
    let (mut second, _) = gateway.configured("tok-limit").await;
    let (mut third, _) = gateway.configured("tok-limit").await;
    let (mut fourth, response) = gateway.configured("tok-limit").await;
    assert_eq!(response["connected"], true);
    assert_eq!(
        first.expect_class("ConnectionClosedEvent").await["body"],
        json!({})
    );
    assert_eq!(first.expect_end().await, Ending::Closed(1000));
    second.expect_silence(100).await;
    let (_, sessions) = gateway
        .control(
            "GET",
            &format!("/control/sessions?deploymentId={DEPLOYMENT}"),
            "",
        )
        .await;
    assert_eq!(sessions[0]["sockets"], 3);
    fourth.say("tok-limit", "from four", "f").await;
    assert!(second
        .expect_class("StructuredMessage")
        .await
        .get("tracingId")
        .is_none());
    assert!(third
        .expect_class("StructuredMessage")
        .await
        .get("tracingId")
        .is_none());
}

#[tokio::test]
async fn other_tabs_get_the_echo_without_tracing_id_and_times_increase() {
    let gateway = TestGateway::start().await;
    let (mut tab_a, _) = gateway.configured("tok-tabs").await;
    let (mut tab_b, _) = gateway.configured("tok-tabs").await;
    let mine = tab_a.say("tok-tabs", "one", "t1").await;
    let copy = tab_b.expect_class("StructuredMessage").await;
    assert!(copy.get("tracingId").is_none());
    assert_eq!(copy["body"], mine["body"]);
    let (status, agent) = gateway
        .control(
            "POST",
            "/control/sessions/tok-tabs/messages",
            r#"{"text": "Hello from the agent"}"#,
        )
        .await;
    assert_eq!(status, 200);
    let at_a = tab_a.expect_class("StructuredMessage").await;
    let at_b = tab_b.expect_class("StructuredMessage").await;
    assert_eq!(at_a["body"]["direction"], "Outbound");
    assert_eq!(at_a["body"], at_b["body"]);
    assert_eq!(at_a["body"], agent);
    // The clock is frozen, yet channel.time strictly increases in send order.
    assert!(time_ms(&at_a) > time_ms(&mine));
}

#[tokio::test]
async fn read_only_disconnect_makes_later_session_responses_read_only() {
    let gateway = TestGateway::start_with(
        "conversationDisconnect = { enabled = true, type = \"ReadOnly\" }\n",
        Default::default(),
    )
    .await;
    let (mut client, _) = gateway.configured("tok-ro").await;
    client.say("tok-ro", "hi", "h").await;
    let (status, _) = gateway
        .control("POST", "/control/sessions/tok-ro/disconnect", "")
        .await;
    assert_eq!(status, 200);
    let event = client.expect_class("StructuredMessage").await;
    assert_eq!(event["body"]["events"][0]["presence"]["type"], "Disconnect");
    assert_eq!(event["body"]["metadata"]["readOnly"], "true");
    let (_, again) = gateway.configured("tok-ro").await;
    assert_eq!(again["readOnly"], true);
    assert_eq!(again["newSession"], false);
    client.send(&json!({"action": "onMessage", "token": "tok-ro", "message": {"type": "Text", "text": "blocked"}})).await;
    client.expect_error(403).await;

    // "readOnly": false on the call wins over the deployment's ReadOnly type.
    let (mut other, _) = gateway.configured("tok-send").await;
    gateway
        .control(
            "POST",
            "/control/sessions/tok-send/disconnect",
            r#"{"readOnly": false}"#,
        )
        .await;
    let event = other.expect_class("StructuredMessage").await;
    assert!(event["body"].get("metadata").is_none());
    other.say("tok-send", "can still write", "w").await;
}

#[tokio::test]
async fn conversations_go_queued_agent_ended_and_rejoin() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured("tok-conv").await;
    let (_, detail) = gateway
        .control("GET", "/control/sessions/tok-conv", "")
        .await;
    let conversation_path = format!(
        "/api/v2/conversations/{}",
        detail["conversationId"].as_str().unwrap()
    );
    client.say("tok-conv", "help", "h").await;
    assert_eq!(
        gateway
            .http("GET", &conversation_path, &[], b"")
            .await
            .json()["state"],
        "queued"
    );
    gateway
        .control(
            "POST",
            "/control/sessions/tok-conv/messages",
            r#"{"text": "On it", "agentName": "Jonas"}"#,
        )
        .await;
    let agent = client.expect_class("StructuredMessage").await;
    assert_eq!(agent["body"]["channel"]["from"]["nickname"], "Jonas");
    let state = gateway
        .http("GET", &conversation_path, &[], b"")
        .await
        .json();
    assert_eq!(state["state"], "agent");
    assert!(state.get("endTime").is_none());
    gateway
        .control(
            "POST",
            "/control/sessions/tok-conv/disconnect",
            r#"{"readOnly": false}"#,
        )
        .await;
    client.expect_class("StructuredMessage").await;
    let ended = gateway
        .http("GET", &conversation_path, &[], b"")
        .await
        .json();
    assert_eq!(ended["state"], "ended");
    assert!(ended["endTime"].is_string());
    client.say("tok-conv", "one more thing", "m").await;
    let rejoined = gateway
        .http("GET", &conversation_path, &[], b"")
        .await
        .json();
    assert_eq!(rejoined["state"], "agent");
    assert_eq!(rejoined["agent"], "Jonas");
    assert_eq!(
        gateway
            .http("GET", "/api/v2/conversations/nope", &[], b"")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn retention_purge_deletes_old_messages_only() {
    let gateway = TestGateway::start_with(
        "messageTtlDays = 2\nguestSessionTtl = \"30d\"\n",
        Default::default(),
    )
    .await;
    let (mut client, _) = gateway.configured("tok-keep").await;
    client.say("tok-keep", "old", "o").await;
    gateway.clock.advance_ms(3 * 86_400_000);
    client.say("tok-keep", "new", "n").await;
    let (status, purged) = gateway
        .control("POST", "/control/retention/purge", "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(purged["purged"], 1);
    let (_, detail) = gateway
        .control("GET", "/control/sessions/tok-keep", "")
        .await;
    let transcript = detail["transcript"].as_array().unwrap();
    assert_eq!(transcript.len(), 1);
    assert_eq!(transcript[0]["text"], "new");
}
