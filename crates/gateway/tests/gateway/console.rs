//! The agent console's JSON API and live event stream.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

#[tokio::test]
async fn console_lists_replies_transfers_and_streams_changes() {
    let gateway = TestGateway::start().await;
    let page = gateway.http("GET", "/console", &[], b"").await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("/console/app.js"));
    assert_eq!(
        gateway
            .http("GET", "/console/app.js", &[], b"")
            .await
            .header("content-type"),
        Some("text/javascript; charset=utf-8")
    );

    // Subscribe to the event stream before anything happens.
    let mut events = tokio::net::TcpStream::connect(gateway.handle.addr)
        .await
        .unwrap();
    events
        .write_all(b"GET /console/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();

    let (mut client, _) = gateway.configured("tok-console").await;
    client.say("tok-console", "I need help", "h").await;
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while !seen.contains("\"kind\":\"message\"") {
        let read = tokio::time::timeout(WAIT, events.read(&mut buffer))
            .await
            .expect("no console event")
            .unwrap();
        assert!(read > 0, "event stream ended");
        seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }

    let list = gateway
        .http("GET", "/console/api/conversations", &[], b"")
        .await
        .json();
    let conversation = &list[0];
    assert_eq!(conversation["token"], "tok-console");
    assert_eq!(conversation["state"], "queued");
    assert_eq!(conversation["sockets"], 1);
    let id = conversation["id"].as_str().unwrap().to_owned();

    let reply = json!({"text": "Which order?", "quickReplies": ["#1", "#2"], "agentName": "Ada"});
    let sent = gateway
        .http(
            "POST",
            &format!("/console/api/conversations/{id}/messages"),
            &[("content-type", "application/json")],
            reply.to_string().as_bytes(),
        )
        .await;
    assert_eq!(sent.status, 200);
    let agent = client.expect_class("StructuredMessage").await;
    assert_eq!(agent["body"]["type"], "Structured");
    assert_eq!(agent["body"]["channel"]["from"]["nickname"], "Ada");
    assert_eq!(agent["body"]["content"][1]["quickReply"]["text"], "#2");

    let typing = gateway
        .http(
            "POST",
            &format!("/console/api/conversations/{id}/typing"),
            &[],
            b"",
        )
        .await;
    assert_eq!(typing.status, 204);
    assert_eq!(
        client.expect_class("StructuredMessage").await["body"]["events"][0]["eventType"],
        "Typing"
    );

    let transfer = gateway
        .http(
            "POST",
            &format!("/console/api/conversations/{id}/transfer"),
            &[],
            br#"{"queue": "Billing"}"#,
        )
        .await;
    assert_eq!(transfer.status, 204);
    // A transfer survives the customer reconnecting.
    drop(client);
    let (_, resumed) = gateway.configured("tok-console").await;
    assert_eq!(resumed["newSession"], false);
    let detail = gateway
        .http("GET", &format!("/console/api/conversations/{id}"), &[], b"")
        .await
        .json();
    assert_eq!(detail["conversation"]["queue"], "Billing");
    assert_eq!(detail["transcript"].as_array().unwrap().len(), 2);

    let ended = gateway
        .http(
            "POST",
            &format!("/console/api/conversations/{id}/disconnect"),
            &[],
            br#"{"readOnly": false}"#,
        )
        .await;
    assert_eq!(ended.status, 200);
    let detail = gateway
        .http("GET", &format!("/console/api/conversations/{id}"), &[], b"")
        .await
        .json();
    assert_eq!(detail["conversation"]["state"], "ended");
    assert_eq!(
        gateway
            .http("POST", "/console/api/conversations/nope/typing", &[], b"")
            .await
            .status,
        404
    );
}
