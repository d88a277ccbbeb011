//! The real binary: `kill -9` mid-conversation loses no acknowledged message.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::*;

/// Starts the binary on a free port; returns the child and its address once it listens.
async fn spawn_gateway(data_dir: &std::path::Path, port: u16) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_threadline-gateway"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data_dir)
        .arg("--dev")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("gateway did not start")
        .unwrap()
        .unwrap();
    assert_eq!(
        first,
        format!("threadline-gateway listening on http://127.0.0.1:{port}")
    );
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("127.0.0.1:{port}").parse().unwrap())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn kill_dash_nine_loses_no_acknowledged_message() {
    let data_dir = temp_dir("restart");
    let port = free_port();
    let (mut child, addr) = spawn_gateway(&data_dir, port).await;
    let demo = threadline_gateway::DEMO_DEPLOYMENT_ID;
    let url = format!("ws://{addr}/v1?deploymentId={demo}");
    let token = "tok-durable";
    let mut client = Client::connect(&url, None).await.unwrap();
    client.send(&serde_json::json!({"action": "configureSession", "token": token, "deploymentId": demo, "tracingId": "configure"})).await;
    assert_eq!(
        client.expect_class("SessionResponse").await["body"]["newSession"],
        true
    );
    let mut acknowledged = Vec::new();
    for index in 0..20 {
        let text = format!("durable {index}");
        client.say(token, &text, &format!("d{index}")).await;
        acknowledged.push(text);
    }
    // SIGKILL: no graceful shutdown, no flush.
    child.start_kill().unwrap();
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        client.expect_end().await,
        Ending::Aborted | Ending::Closed(_)
    ));

    let (mut child, addr) = spawn_gateway(&data_dir, port).await;
    let mut client = Client::connect(&format!("ws://{addr}/v1?deploymentId={demo}"), None)
        .await
        .unwrap();
    client.send(&serde_json::json!({"action": "configureSession", "token": token, "deploymentId": demo, "tracingId": "configure"})).await;
    assert_eq!(
        client.expect_class("SessionResponse").await["body"]["newSession"],
        false,
        "the session survives"
    );
    client
        .send(&serde_json::json!({"action": "getJwt", "token": token, "tracingId": "j"}))
        .await;
    let jwt = client.expect_class("JwtResponse").await["body"]["jwt"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = http_request(
        addr,
        "GET",
        "/api/v2/webmessaging/messages?pageSize=100",
        &[("authorization", &format!("bearer {jwt}"))],
        b"",
    )
    .await;
    assert_eq!(page.status, 200);
    let mut texts: Vec<String> = page.json()["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entity| entity["text"].as_str().unwrap().to_owned())
        .collect();
    texts.reverse();
    assert_eq!(texts, acknowledged);
    child.start_kill().unwrap();
    let _ = child.wait().await;
}
