//! A gateway process, a chromedriver process and a WebDriver session, torn down on drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::loopback_http::raw_request;

/// True once every running CSS animation or transition is an endless one (typing dots): the
/// page has come to rest (an expression).
pub const ANIMATIONS_SETTLED_JS: &str = "document.getAnimations().every(a => a.playState !== 'running' \
    || a.effect?.getTiming?.().iterations === Infinity)";

/// The gateway's `--dev` demo deployment (fixed id).
pub const DEMO_DEPLOYMENT: &str = "7c2a1d3e-5b4f-4a6c-8d9e-0f1a2b3c4d5e";

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// Everything one browser test needs; processes are killed and the data dir removed on drop.
pub struct Env {
    pub base: String,
    pub client: Client,
    gateway: Child,
    chromedriver: Child,
    /// `127.0.0.1:port` of chromedriver, to end a WebDriver session left open by a panic.
    chromedriver_addr: String,
    /// The WebDriver session id; `None` once `finish` closed it.
    session_id: Option<String>,
    data_dir: PathBuf,
    artifacts: PathBuf,
}

impl Env {
    /// Starts the gateway (`--dev`, serving the release client) and a Chromium session.
    pub async fn start() -> Env {
        let dist = dist_dir();
        let data_dir = std::env::temp_dir().join(format!(
            "threadline-e2e-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("create data dir");

        let port = free_port();
        let gateway = spawn_gateway(port, &data_dir, &dist);

        let cd_port = free_port();
        let mut chromedriver = Command::new("chromedriver")
            .arg(format!("--port={cd_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver (apt-get install chromium-driver; scripts/tools.sh does)");
        wait_for_port(cd_port, &mut chromedriver, Path::new("/dev/null"));

        let caps = json!({ "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--window-size=1024,768"],
        }});
        let client = ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(serde_json::from_value(caps).expect("capabilities"))
        .connect(&format!("http://127.0.0.1:{cd_port}"))
        .await
        .expect("WebDriver session");

        let session_id = client.session_id().await.ok().flatten();
        let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-artifacts");
        let _ = std::fs::create_dir_all(&artifacts);
        Env {
            base: format!("http://127.0.0.1:{port}"),
            client,
            gateway,
            chromedriver,
            chromedriver_addr: format!("127.0.0.1:{cd_port}"),
            session_id,
            data_dir,
            artifacts,
        }
    }

    /// Kills the gateway with SIGKILL (a crash: no close frames, no flush) and starts it again
    /// on the same port with the same data dir, returning once it listens. Blocks the thread
    /// (call it through `tokio::task::block_in_place` on a multi-threaded runtime).
    pub fn restart_gateway(&mut self) {
        let _ = self.gateway.kill();
        let _ = self.gateway.wait();
        let port = self.gateway_addr().rsplit(':').next().and_then(|p| p.parse().ok()).expect("gateway port");
        self.gateway = spawn_gateway(port, &self.data_dir, &dist_dir());
    }

    /// A path for a scratch file that is deleted with the test's data dir.
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        self.data_dir.join(name)
    }

    /// chromedriver's `host:port` (for vendor commands such as `goog/cdp/execute`).
    pub fn chromedriver_addr(&self) -> &str {
        &self.chromedriver_addr
    }

    /// The gateway's `host:port`.
    pub fn gateway_addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Calls the gateway's HTTP API (control API, config.json, …) and returns (status, JSON body).
    pub fn http(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let addr = self.base.trim_start_matches("http://");
        http_request(addr, method, path, body)
    }

    /// Waits until `css` matches an element, for at most `secs` seconds.
    pub async fn wait_for(&self, css: &str, secs: u64) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(secs))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(err) => {
                self.failure_screenshot().await;
                panic!("no element matches {css:?} within {secs} s: {err}");
            }
        }
    }

    /// Polls `probe` (a JS expression) until it returns `want`, for at most `secs` seconds.
    pub async fn wait_js(&self, probe: &str, want: Value, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            last = self.client.execute(&format!("return ({probe});"), vec![]).await.unwrap_or(Value::Null);
            if last == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.failure_screenshot().await;
        panic!("{probe} stayed {last} (wanted {want}) for {secs} s");
    }

    /// Saves `failure-<test name>.png` (libtest names each test's thread after the test).
    pub async fn failure_screenshot(&self) {
        let test = std::thread::current().name().unwrap_or("unnamed").replace("::", "-");
        self.screenshot(&format!("failure-{test}")).await;
    }

    /// Saves a PNG screenshot under target/e2e-artifacts/NAME.png.
    pub async fn screenshot(&self, name: &str) {
        // Let finite CSS transitions/animations (panel opening) settle, at most 1 s, so the
        // artefact shows the state and not a half-faded frame.
        let settled = format!("return {ANIMATIONS_SETTLED_JS};");
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline && self.client.execute(&settled, vec![]).await.ok() != Some(Value::Bool(true)) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.artifacts.join(format!("{name}.png")), png);
        }
    }

    /// Ends the WebDriver session (call at the end of each test; Drop cannot await).
    pub async fn finish(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.session_id = None;
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // A test that panicked never reached `finish`: end its WebDriver session over plain HTTP
        // (no async runtime needed) so chromedriver quits Chromium instead of orphaning it.
        if let Some(id) = self.session_id.take() {
            let _ = raw_request(&self.chromedriver_addr, "DELETE", &format!("/session/{id}"), None);
        }
        let _ = self.gateway.kill();
        let _ = self.gateway.wait();
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Starts the gateway (`--dev`, serving `dist`) on `port` and waits until it listens. Its
/// stderr is appended to `data_dir/gateway.log` (a restart keeps the earlier log).
fn spawn_gateway(port: u16, data_dir: &Path, dist: &Path) -> Child {
    let log_path = data_dir.join("gateway.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).expect("gateway log");
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_threadline-gateway"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data_dir)
        .arg("--static")
        .arg(dist)
        .arg("--dev")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn threadline-gateway");
    wait_for_port(port, &mut gateway, &log_path);
    gateway
}

/// The release client build the gateway serves; set by scripts/test.sh.
fn dist_dir() -> PathBuf {
    let dist = std::env::var_os("THREADLINE_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist"));
    assert!(
        dist.join("index.html").is_file(),
        "no release client build at {} — run `trunk build --release` (scripts/test.sh does) \
         or set THREADLINE_DIST",
        dist.display()
    );
    dist
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_for_port(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("process exited ({status}) before listening on {port}:\n{log}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listened on 127.0.0.1:{port} within 30 s");
}

/// A minimal HTTP/1.1 client (Connection: close) for the control API; panics on I/O errors.
pub fn http_request(addr: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    crate::loopback_http::request(addr, method, path, body.as_ref())
        .unwrap_or_else(|err| panic!("{method} http://{addr}{path} failed: {err}"))
}

