//! Test harness: a gateway on 127.0.0.1:0 with a manual clock, a WebSocket client, a tiny
//! HTTP/1.1 client and the protocol fixtures.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use threadline_gateway::{Gateway, GatewayConfig, GatewayHandle, HubOptions, ManualClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The fixtures' deployment id; every test gateway has it (from a deployments file).
pub const DEPLOYMENT: &str = "8d2f7a1c-3b4e-4f6a-9c0d-5e1f2a3b4c5d";
/// The fixtures' token.
pub const FIXTURE_TOKEN: &str = "3f1c2f0e-8a51-4d3b-9c57-1b7f0f2a6d11";
/// Where the manual clock starts (2026-05-04T09:13:20Z).
pub const START_MS: u64 = 1_777_886_000_000;
/// Longest wait for any single frame or HTTP answer.
pub const WAIT: Duration = Duration::from_secs(5);

/// A unique scratch directory under the system temp dir.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("threadline-gw-{label}-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}-{}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A running gateway plus its manual clock.
pub struct TestGateway {
    pub handle: GatewayHandle,
    pub clock: ManualClock,
    data_dir: PathBuf,
    config: GatewayConfig,
}

impl Drop for TestGateway {
    /// Scratch data goes with the gateway (Linux lets open SQLite files be unlinked).
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Settings for the fixtures' deployment, as TOML lines after `id`.
pub const DEFAULT_DEPLOYMENT_TOML: &str = "name = \"Fixtures\"\nguestSessionTtl = \"30m\"\nautoStart = true\n\
[deployments.attachments]\nfileTypes = [\"image/*\", \"application/pdf\"]\nmaxFileSizeKB = 1024\nblockedExtensions = [\".exe\"]\n";

impl TestGateway {
    /// A `--dev` gateway with the fixtures' deployment and default options.
    pub async fn start() -> Self {
        Self::start_with(DEFAULT_DEPLOYMENT_TOML, HubOptions::default()).await
    }

    /// A `--dev` gateway whose fixtures' deployment has `settings_toml`.
    pub async fn start_with(settings_toml: &str, options: HubOptions) -> Self {
        let data_dir = temp_dir("data");
        let file = data_dir.join("deployments.toml");
        std::fs::write(
            &file,
            format!("[[deployments]]\nid = \"{DEPLOYMENT}\"\n{settings_toml}"),
        )
        .unwrap();
        let clock = ManualClock::new(START_MS);
        let mut config = GatewayConfig::new("127.0.0.1:0".parse().unwrap(), &data_dir);
        config.deployments_file = Some(file);
        config.dev = true;
        config.clock = Arc::new(clock.clone());
        config.options = options;
        config.expiry_check_interval = Duration::from_millis(20);
        let (_, handle) = Gateway::start(config.clone()).await.unwrap();
        Self {
            handle,
            clock,
            data_dir,
            config,
        }
    }

    /// Starts a new gateway process-equivalent on the same data directory (another port),
    /// then stops the old one: what a restart keeps is what the store kept.
    pub async fn restart(&mut self) {
        let (_, handle) = Gateway::start(self.config.clone()).await.unwrap();
        let old = std::mem::replace(&mut self.handle, handle);
        old.shutdown(Duration::from_secs(2)).await;
    }

    pub fn ws_url(&self) -> String {
        self.handle.ws_url(DEPLOYMENT)
    }

    /// Opens a socket to the fixtures' deployment.
    pub async fn connect(&self) -> Client {
        Client::connect(&self.ws_url(), None).await.unwrap()
    }

    /// Opens a socket and configures `token`; returns the client and the SessionResponse body.
    pub async fn configured(&self, token: &str) -> (Client, Value) {
        let mut client = self.connect().await;
        let response = client.configure(token).await;
        (client, response)
    }

    pub async fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        http_request(self.handle.addr, method, path, headers, body).await
    }

    /// `POST` a JSON body to a control path; returns (status, JSON body).
    pub async fn control(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let response = self
            .http(
                method,
                path,
                &[("content-type", "application/json")],
                body.as_bytes(),
            )
            .await;
        (response.status, response.json())
    }
}

/// Reads a fixture from tests/gateway/fixtures (copied from the shared protocol frames).
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/gateway/fixtures")
        .join(name);
    serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("missing fixture {}", path.display())),
    )
    .unwrap()
}

/// A fixture with its token replaced.
pub fn fixture_for(name: &str, token: &str) -> Value {
    let mut frame = fixture(name);
    frame["token"] = Value::from(token);
    frame
}

/// How a socket ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this code.
    Closed(u16),
    /// The TCP stream ended without a close frame.
    Aborted,
}

/// A WebSocket test client.
pub struct Client {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Connects, optionally sending an `Origin` header.
    pub async fn connect(
        url: &str,
        origin: Option<&str>,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request()?;
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
        }
        let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect timed out")?;
        Ok(Self { stream })
    }

    pub async fn send(&mut self, frame: &Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text.to_owned()))
            .await
            .unwrap();
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.stream
            .send(Message::binary(bytes.to_vec()))
            .await
            .unwrap();
    }

    /// The next text frame as JSON (panics after [`WAIT`] or on close). Every frame must also
    /// decode with the core's `ServerFrame` into a known class, so client and gateway agree.
    pub async fn recv(&mut self) -> Value {
        let frame = self.recv_unchecked().await;
        let decoded = threadline_core::protocol::ServerFrame::from_json(&frame.to_string())
            .unwrap_or_else(|error| panic!("core cannot decode {frame}: {error}"));
        assert!(
            !matches!(
                decoded.kind,
                threadline_core::protocol::FrameKind::Unknown { .. }
            ),
            "core does not know the class of {frame}"
        );
        frame
    }

    /// The next text frame as JSON, without the core decoding check.
    pub async fn recv_unchecked(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("no frame within the wait")
                .expect("socket ended")
                .unwrap();
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame, which must have this class; returns it.
    pub async fn expect_class(&mut self, class: &str) -> Value {
        let frame = self.recv().await;
        assert_eq!(frame["class"], class, "unexpected frame {frame}");
        frame
    }

    /// The next frame, which must be a `string` error with `code`.
    pub async fn expect_error(&mut self, code: u64) -> Value {
        let frame = self.expect_class("string").await;
        assert_eq!(frame["code"], code, "unexpected error frame {frame}");
        assert!(
            frame["body"].is_string(),
            "error body must be a string: {frame}"
        );
        frame
    }

    /// Asserts nothing arrives within `ms`.
    pub async fn expect_silence(&mut self, ms: u64) {
        if let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_millis(ms), self.stream.next()).await
        {
            panic!("expected silence, got {message:?}");
        }
    }

    /// Waits for the socket to end; reports whether a close frame came first.
    pub async fn expect_end(&mut self) -> Ending {
        loop {
            match tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("socket did not end within the wait")
            {
                Some(Ok(Message::Close(frame))) => {
                    return Ending::Closed(frame.map_or(1005, |frame| u16::from(frame.code)))
                }
                Some(Ok(Message::Text(text))) => panic!("expected the socket to end, got {text}"),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Ending::Aborted,
            }
        }
    }

    /// Sends `configureSession` for `token` and returns the SessionResponse body.
    pub async fn configure(&mut self, token: &str) -> Value {
        self.send(&serde_json::json!({"action": "configureSession", "token": token, "deploymentId": DEPLOYMENT, "tracingId": "configure"})).await;
        let frame = self.expect_class("SessionResponse").await;
        assert_eq!(frame["tracingId"], "configure");
        frame["body"].clone()
    }

    /// Sends a text message and returns the echo frame.
    pub async fn say(&mut self, token: &str, text: &str, tracing_id: &str) -> Value {
        self.send(&serde_json::json!({"action": "onMessage", "token": token, "tracingId": tracing_id, "message": {"type": "Text", "text": text}})).await;
        let frame = self.expect_class("StructuredMessage").await;
        assert_eq!(frame["tracingId"], tracing_id);
        frame
    }
}

/// A parsed HTTP response.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request with `Connection: close` (enough for tests; handles chunked bodies).
pub async fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("HTTP response timed out")
        .unwrap();
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| {
            line.split_once(':')
                .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(key, value)| {
        key.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked")
    }) {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|window| window == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
    out
}

/// Milliseconds of an ISO `channel.time` (via the core's parser, so client and server agree).
pub fn time_ms(frame: &Value) -> u64 {
    let text = frame["body"]["channel"]["time"]
        .as_str()
        .unwrap_or_else(|| panic!("no channel.time in {frame}"));
    threadline_core::protocol::time::parse_iso8601_millis(text)
        .unwrap_or_else(|| panic!("bad channel.time {text}"))
}
