//! Attachments end to end: grant, PUT upload, send, refresh, download expiry, delete, refusals.

use serde_json::{json, Value};

use crate::support::*;

/// Path and query of an absolute URL on the test gateway.
fn path_of(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    without_scheme
        .find('/')
        .map_or("/".to_owned(), |index| without_scheme[index..].to_owned())
}

fn grant_request(id: &str, name: &str, mime: &str, size: u64) -> Value {
    json!({"action": "onAttachment", "token": FIXTURE_TOKEN, "attachmentId": id, "fileName": name, "fileType": mime,
           "fileSize": size, "errorsAsJson": true, "tracingId": format!("grant-{id}")})
}

#[tokio::test]
async fn upload_send_refresh_expire_and_delete() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    let bytes = vec![7u8; 2048];

    let request = fixture("client.onAttachment.json");
    let mut request = request;
    request["fileSize"] = Value::from(bytes.len());
    client.send(&request).await;
    let grant = client.expect_class("PresignedUrlResponse").await;
    assert_eq!(grant["tracingId"], request["tracingId"]);
    let id = grant["body"]["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(id, "c7a9e2f1-4b6d-4e8a-9f1c-2d3e4f5a6b7c");
    let tagging = grant["body"]["headers"]["x-amz-tagging"]
        .as_str()
        .unwrap()
        .to_owned();
    let upload_path = path_of(grant["body"]["url"].as_str().unwrap());

    // Without the presigned header the PUT is refused and nothing is announced.
    let refused = gateway
        .http(
            "PUT",
            &upload_path,
            &[("content-type", "image/jpeg")],
            &bytes,
        )
        .await;
    assert_eq!(refused.status, 403);
    let stored = gateway
        .http(
            "PUT",
            &upload_path,
            &[("content-type", "image/jpeg"), ("x-amz-tagging", &tagging)],
            &bytes,
        )
        .await;
    assert_eq!(stored.status, 200);
    let success = client.expect_class("UploadSuccessEvent").await;
    assert_eq!(success["body"]["attachmentId"], id.as_str());
    assert!(success["body"]["timestamp"].is_string());
    let download_path = path_of(success["body"]["downloadUrl"].as_str().unwrap());
    let download = gateway.http("GET", &download_path, &[], b"").await;
    assert_eq!(download.status, 200);
    assert_eq!(download.body, bytes);
    assert_eq!(download.header("content-type"), Some("image/jpeg"));

    let send = fixture("client.onMessage.attachment.json");
    client.send(&send).await;
    let echo = client.expect_class("StructuredMessage").await;
    assert_eq!(echo["tracingId"], send["tracingId"]);
    let attachment = &echo["body"]["content"][0]["attachment"];
    assert_eq!(attachment["id"], id.as_str());
    assert_eq!(attachment["filename"], "damaged-box.jpg");
    assert_eq!(attachment["mediaType"], "Image");
    assert_eq!(attachment["mime"], "image/jpeg");
    assert_eq!(attachment["fileSize"], 2048);

    // Download URLs expire after 10 minutes; getAttachment hands out a fresh one.
    gateway.clock.advance_ms(10 * 60 * 1000 + 1);
    assert_eq!(
        gateway.http("GET", &download_path, &[], b"").await.status,
        404
    );
    let refresh = fixture("client.getAttachment.json");
    client.send(&refresh).await;
    let refreshed = client.expect_class("PresignedUrlResponse").await;
    assert_eq!(refreshed["tracingId"], refresh["tracingId"]);
    assert_eq!(refreshed["body"]["headers"], json!({}));
    assert_eq!(refreshed["body"]["fileSize"], 2048);
    let fresh = gateway
        .http(
            "GET",
            &path_of(refreshed["body"]["url"].as_str().unwrap()),
            &[],
            b"",
        )
        .await;
    assert_eq!(fresh.status, 200);

    let delete = fixture("client.deleteAttachment.json");
    client.send(&delete).await;
    let deleted = client.expect_class("AttachmentDeletedResponse").await;
    assert_eq!(deleted["body"]["attachmentId"], id.as_str());
    assert_eq!(deleted["tracingId"], delete["tracingId"]);
    client.send(&delete).await;
    client.expect_error(4009).await;
}

#[tokio::test]
async fn bad_grants_answer_generate_url_error() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    for (id, name, mime, size, code) in [
        ("a1", "notes.txt", "text/plain", 10, 4001),
        ("a2", "setup.exe", "image/png", 10, 4001),
        ("a3", "big.png", "image/png", 2_000_000, 4002),
        ("a4", "../../etc/passwd.png", "image/png", 10, 4004),
        ("a5", "dir\\evil.png", "image/png", 10, 4004),
        (
            "a6",
            &format!("{}.png", "x".repeat(300)),
            "image/png",
            10,
            4005,
        ),
    ] {
        client.send(&grant_request(id, name, mime, size)).await;
        let error = client.expect_class("GenerateUrlError").await;
        assert_eq!(error["body"]["attachmentId"], id);
        assert_eq!(error["body"]["errorCode"], code, "{name}");
        assert!(error["body"]["errorMessage"].is_string());
        assert_eq!(error["tracingId"], format!("grant-{id}"));
    }
}

#[tokio::test]
async fn upload_checks_size_and_type_and_sending_requires_a_finished_upload() {
    let gateway = TestGateway::start().await;
    let (mut client, _) = gateway.configured(FIXTURE_TOKEN).await;
    client
        .send(&grant_request("b1", "photo.png", "image/png", 4))
        .await;
    let grant = client.expect_class("PresignedUrlResponse").await;
    let tagging = grant["body"]["headers"]["x-amz-tagging"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = path_of(grant["body"]["url"].as_str().unwrap());

    // Not uploaded yet → 4010; unknown id → 4009.
    let send = |id: &str| {
        json!({"action": "onMessage", "token": FIXTURE_TOKEN, "tracingId": "s",
        "message": {"type": "Text", "text": "", "content": [{"contentType": "Attachment", "attachment": {"id": id}}]}})
    };
    client.send(&send("b1")).await;
    client.expect_error(4010).await;
    client.send(&send("nope")).await;
    client.expect_error(4009).await;

    let wrong_type = gateway
        .http(
            "PUT",
            &path,
            &[
                ("content-type", "application/pdf"),
                ("x-amz-tagging", &tagging),
            ],
            b"abcd",
        )
        .await;
    assert_eq!(wrong_type.status, 200);
    let failure = client.expect_class("UploadFailureEvent").await;
    assert_eq!(failure["body"]["errorCode"], 4003);
    let wrong_size = gateway
        .http(
            "PUT",
            &path,
            &[("content-type", "image/png"), ("x-amz-tagging", &tagging)],
            b"abcdef",
        )
        .await;
    assert_eq!(wrong_size.status, 200);
    assert_eq!(
        client.expect_class("UploadFailureEvent").await["body"]["errorCode"],
        4002
    );
    gateway
        .http(
            "PUT",
            &path,
            &[("content-type", "image/png"), ("x-amz-tagging", &tagging)],
            b"abcd",
        )
        .await;
    client.expect_class("UploadSuccessEvent").await;
    client.send(&send("b1")).await;
    assert_eq!(
        client.expect_class("StructuredMessage").await["body"]["content"][0]["attachment"]["id"],
        "b1"
    );

    // A forged or expired upload URL is refused.
    let forged = path.replace("signature=", "signature=x");
    assert_eq!(
        gateway
            .http("PUT", &forged, &[("x-amz-tagging", &tagging)], b"abcd")
            .await
            .status,
        403
    );
    assert_eq!(
        gateway
            .http(
                "PUT",
                "/uploads/..%2F..%2Fetc?expires=1&signature=x",
                &[],
                b"abcd"
            )
            .await
            .status,
        404
    );
}
