//! HTTP routes: upgrade refusals, config.json, CORS, history auth, static files, health.

use std::sync::Arc;

use threadline_gateway::{Gateway, GatewayConfig, ManualClock};

use crate::support::*;

#[tokio::test]
async fn upgrades_are_refused_for_unknown_deployments_and_foreign_origins() {
    let gateway = TestGateway::start_with(
        "allowedOrigins = [\"https://shop.example\"]\n",
        Default::default(),
    )
    .await;
    let unknown = format!(
        "ws://{}/v1?deploymentId=does-not-exist",
        gateway.handle.addr
    );
    let error = Client::connect(&unknown, None)
        .await
        .err()
        .expect("unknown deployment must be refused");
    assert!(error.to_string().contains("403"), "{error}");
    let error = Client::connect(&gateway.ws_url(), Some("https://evil.example"))
        .await
        .err()
        .expect("foreign origin refused");
    assert!(error.to_string().contains("403"), "{error}");
    let error = Client::connect(&gateway.ws_url(), None)
        .await
        .err()
        .expect("missing origin refused when origins are listed");
    assert!(error.to_string().contains("403"), "{error}");
    let mut allowed = Client::connect(&gateway.ws_url(), Some("https://shop.example"))
        .await
        .unwrap();
    assert_eq!(allowed.configure("tok-origin").await["connected"], true);
}

#[tokio::test]
async fn config_json_has_the_spec_shape_and_threadline_extensions() {
    let gateway = TestGateway::start_with(
        "welcomeMessage = \"Welcome!\"\nguestSessionTtl = \"1h\"\nautoStart = true\n",
        Default::default(),
    )
    .await;
    let response = gateway
        .http(
            "GET",
            &format!("/webdeployments/v1/deployments/{DEPLOYMENT}/config.json"),
            &[("origin", "https://x.example")],
            b"",
        )
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    let config = response.json();
    assert_eq!(config["id"], DEPLOYMENT);
    assert_eq!(config["status"], "Active");
    assert!(config["apiEndpoint"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let conversations = &config["messenger"]["apps"]["conversations"];
    assert!(conversations["messagingEndpoint"]
        .as_str()
        .unwrap()
        .starts_with("ws://127.0.0.1:"));
    assert_eq!(conversations["autoStart"]["enabled"], true);
    assert_eq!(conversations["welcomeMessage"], "Welcome!");
    assert_eq!(conversations["sessionDurationSeconds"], 3600);
    assert_eq!(conversations["conversationDisconnect"]["type"], "Send");
    assert_eq!(
        config["messenger"]["fileUpload"]["modes"][0]["maxFileSizeKB"],
        10240
    );
    // The core's DeploymentConfig must read it.
    let text = config.to_string();
    let parsed: Result<threadline_core::protocol::DeploymentConfig, _> =
        serde_json::from_str(&text);
    assert!(parsed.is_ok(), "core cannot read config.json: {parsed:?}");
    assert_eq!(
        gateway
            .http(
                "GET",
                "/webdeployments/v1/deployments/nope/config.json",
                &[],
                b""
            )
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn cors_preflight_allows_authorization() {
    let gateway = TestGateway::start().await;
    let response = gateway
        .http(
            "OPTIONS",
            "/api/v2/webmessaging/messages",
            &[
                ("origin", "https://shop.example"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization"),
            ],
            b"",
        )
        .await;
    assert!(
        response.status == 200 || response.status == 204,
        "status {}",
        response.status
    );
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert!(response
        .header("access-control-allow-headers")
        .is_some_and(|value| value.to_ascii_lowercase().contains("authorization")));
}

#[tokio::test]
async fn history_refuses_missing_forged_and_expired_jwts() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured("tok-hist").await;
    client
        .send(&serde_json::json!({"action": "getJwt", "token": "tok-hist", "tracingId": "j"}))
        .await;
    let jwt = client.expect_class("JwtResponse").await["body"]["jwt"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = "/api/v2/webmessaging/messages";
    assert_eq!(gateway.http("GET", path, &[], b"").await.status, 401);
    assert_eq!(
        gateway
            .http("GET", path, &[("authorization", "bearer not.a.jwt")], b"")
            .await
            .status,
        401
    );
    let forged = format!("{}x", jwt);
    assert_eq!(
        gateway
            .http(
                "GET",
                path,
                &[("authorization", &format!("bearer {forged}"))],
                b""
            )
            .await
            .status,
        401
    );
    let empty = gateway
        .http(
            "GET",
            path,
            &[("authorization", &format!("bearer {jwt}"))],
            b"",
        )
        .await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json()["entities"], serde_json::json!([]));
    assert_eq!(empty.json()["total"], 0);
    gateway.clock.advance_ms(15 * 60 * 1000);
    assert_eq!(
        gateway
            .http(
                "GET",
                path,
                &[("authorization", &format!("bearer {jwt}"))],
                b""
            )
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn static_files_carry_cors_star_and_health_answers() {
    let data_dir = temp_dir("static-data");
    let static_dir = temp_dir("static");
    std::fs::write(static_dir.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(static_dir.join("loader.js"), "console.log(1)").unwrap();
    let mut config = GatewayConfig::new("127.0.0.1:0".parse().unwrap(), &data_dir);
    config.static_dir = Some(static_dir);
    config.clock = Arc::new(ManualClock::new(START_MS));
    let (addr, handle) = Gateway::start(config).await.unwrap();
    let index = http_request(addr, "GET", "/", &[], b"").await;
    assert_eq!(index.status, 200);
    assert_eq!(String::from_utf8_lossy(&index.body), "<h1>demo</h1>");
    assert_eq!(index.header("access-control-allow-origin"), Some("*"));
    let script = http_request(addr, "GET", "/loader.js", &[], b"").await;
    assert_eq!(script.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        http_request(addr, "GET", "/healthz", &[], b"").await.body,
        b"ok"
    );
    // Without --dev there is no control API.
    assert_eq!(
        http_request(addr, "GET", "/control/deployments", &[], b"")
            .await
            .status,
        404
    );
    assert_eq!(
        http_request(addr, "GET", "/console", &[], b"").await.status,
        200
    );
    handle.shutdown(WAIT).await;
}
