//! Browser figures for the benchmark table (`scripts/bench.sh`): headless Chromium (Debian
//! `chromium` + `chromedriver`, the flags of tests/browser/harness.rs) against the release
//! gateway binary serving the release client build, loopback only.
//!
//! ```sh
//! cargo run --release -p threadline-gateway --example browser-bench -- \
//!     --gateway target/release/threadline-gateway --dist dist [--runs 5] [--messages 10000]
//! ```
//!
//! Prints markdown table rows (`| figure | Threadline | target | — | — | — |`) on stdout and
//! progress on stderr. A figure that cannot be taken prints `n/a (reason)`; the process exits 0
//! unless its arguments are wrong. Times come from the page's own clock (`performance.now()`),
//! recorded by `browser_bench/probe.js`, so WebDriver round trips are not part of them. Each
//! figure is the median of `--runs` runs (at least 5).
//!
//! `BENCH_ONLY=reload,big` (comma list of `cold`, `reload`, `network`, `big`, `host`) takes only
//! those figures, for iterating on one of them; `network` needs `reload`'s session.

#[path = "browser_bench/http.rs"]
mod http;

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

use http::{request_ok, Cdp};

/// The gateway's `--dev` demo deployment (fixed id).
const DEMO_DEPLOYMENT: &str = "7c2a1d3e-5b4f-4a6c-8d9e-0f1a2b3c4d5e";
const PROBE_JS: &str = include_str!("browser_bench/probe.js");
/// Injecting the big transcript stops after this long (the figure then says how many made it).
const INJECT_BUDGET: Duration = Duration::from_secs(150);
/// Parallel HTTP clients injecting agent messages.
const INJECT_WORKERS: usize = 4;
/// Timed appends on top of the big transcript (p95 over these).
const APPENDS: usize = 25;

struct Args {
    gateway: PathBuf,
    dist: PathBuf,
    runs: usize,
    messages: usize,
    /// Messages restored on reload.
    reload_messages: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        gateway: PathBuf::from("target/release/threadline-gateway"),
        dist: PathBuf::from("dist"),
        runs: 5,
        messages: 10_000,
        reload_messages: 50,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--gateway" => args.gateway = PathBuf::from(value),
            "--dist" => args.dist = PathBuf::from(value),
            "--runs" => args.runs = number(&value)?.clamp(5, 50),
            "--messages" => args.messages = number(&value)?.clamp(100, 20_000),
            "--reload-messages" => args.reload_messages = number(&value)?.clamp(1, 500),
            other => {
                return Err(format!(
                    "unknown argument {other} (--gateway PATH --dist DIR --runs N --messages N)"
                ))
            }
        }
    }
    Ok(args)
}

/// Whether `BENCH_ONLY` (unset: everything) selects the figure group `name`.
fn selected(name: &str) -> bool {
    match std::env::var("BENCH_ONLY") {
        Ok(list) if !list.trim().is_empty() => list.split(',').any(|item| item.trim() == name),
        _ => true,
    }
}

/// One row of the benchmark table; browser figures have no peer columns.
fn row(figure: &str, value: &str, target: &str) {
    // An error text with a pipe or a newline would break the markdown row.
    let cell = |text: &str| text.replace('|', "\\|").replace(['\n', '\r'], " ");
    println!(
        "| {} | {} | {} | — | — | — |",
        cell(figure),
        cell(value),
        cell(target)
    );
}

fn na(reason: impl std::fmt::Display) -> String {
    format!("n/a ({reason})")
}

fn median(mut samples: Vec<f64>) -> Option<f64> {
    samples.retain(|s| s.is_finite());
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Some(samples[samples.len() / 2])
}

fn percentile(mut samples: Vec<f64>, p: f64) -> Option<f64> {
    samples.retain(|s| s.is_finite());
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let rank = ((samples.len() as f64) * p).ceil() as usize;
    Some(samples[rank.clamp(1, samples.len()) - 1])
}

/// "12.3 ms (median of 5)" or why not.
fn ms_figure(samples: &Result<Vec<f64>, String>) -> String {
    match samples {
        Ok(list) => match median(list.clone()) {
            Some(m) => format!("{m:.1} ms (median of {})", list.len()),
            None => na("no samples"),
        },
        Err(reason) => na(reason),
    }
}

/// "≤ 150 ms: met" / "≤ 150 ms: MISSED" (or just the target when there is no figure).
fn verdict(target: &str, limit: f64, value: Option<f64>) -> String {
    match value {
        Some(v) if v <= limit => format!("{target}: met"),
        Some(_) => format!("{target}: MISSED"),
        None => target.to_string(),
    }
}

/// 10000 → "10,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn log(message: impl std::fmt::Display) {
    eprintln!("browser-bench: {message}");
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|err| format!("no free port: {err}"))
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited ({status}) before listening"));
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} did not listen on 127.0.0.1:{port} within 30 s"
    ))
}

/// Child processes and the scratch directory, killed and removed on drop.
struct Processes {
    children: Vec<Child>,
    scratch: PathBuf,
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// A gateway serving a copy of the release build (plus the bench host pages), a chromedriver
/// and a WebDriver session with the probe installed.
struct Bench {
    base: String,
    addr: String,
    client: Client,
    cdp: Cdp,
    /// The embed loader's file name when the build has one (`threadline.js`).
    loader: Option<String>,
    _processes: Processes,
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs of each host page (at least; `--runs` may ask for more).
const HOST_RUNS: usize = 21;

/// The host page used for "load time with and without the snippet": ordinary content, no
/// framework. `snippet` adds the documented install (README "Embedding"): the queueing stub
/// and settings, and the loader script added once the page has loaded. (A plain
/// `<script async src=…>` tag, the strict-CSP form, is a subresource the load event waits for:
/// one more request before `load`, whatever the script does.) `own_script` gives the page a
/// script of its own, as nearly every site has: the first script a page runs pays for its
/// JavaScript context, which a page without any would otherwise charge to the snippet.
fn host_page(snippet: Option<(&str, &str)>, own_script: bool) -> String {
    let install = match snippet {
        Some((loader, base)) => format!(
            "<script>window.Threadline=window.Threadline||function(){{(Threadline.q=Threadline.q||[]).push(arguments)}};\n\
             Threadline.c={{deploymentId:'{DEMO_DEPLOYMENT}',server:'{base}'}};\n\
             (function(d,s){{s=d.createElement('script');s.src='/{loader}';\
             d.readyState=='complete'?d.head.appendChild(s):addEventListener('load',function(){{setTimeout(function(){{d.head.appendChild(s)}})}})}})(document);</script>"
        ),
        None => String::new(),
    };
    let own = if own_script { "<script>document.documentElement.dataset.shop = 'ready';</script>" } else { "" };
    let paragraphs: String = (1..=30)
        .map(|i| format!("<p>Paragraph {i}: a host page with ordinary text, a list and a table, so the browser has real layout work.</p>\n"))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Host page</title>\n\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto}}</style>\n{own}{install}\n</head>\n\
         <body><h1>Acme shop</h1><ul><li>One</li><li>Two</li><li>Three</li></ul>\n{paragraphs}</body></html>\n"
    )
}

/// Runs the build's own loader stamping hook on `site` (best effort: no loader on failure).
fn stamp_loader(site: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let hook = root.join("www/stamp-loader.sh");
    if !hook.is_file() {
        return;
    }
    let stamped = Command::new("sh")
        .arg(&hook)
        .env("TRUNK_SOURCE_DIR", &root)
        .env("TRUNK_STAGING_DIR", site)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(stamped, Ok(status) if status.success()) {
        let _ = std::fs::remove_file(site.join("threadline.js"));
    }
}

impl Bench {
    /// Starts a CDP CPU profile (`BENCH_PROFILE`), sampled every 50 µs.
    fn start_profile(&self) -> Result<(), String> {
        self.cdp.call("Profiler.enable", json!({}))?;
        self.cdp.call("Profiler.setSamplingInterval", json!({ "interval": 50 }))?;
        self.cdp.call("Profiler.start", json!({}))?;
        Ok(())
    }

    /// Stops the CPU profile and writes it to `path` (open it in DevTools' Performance panel).
    fn save_profile(&self, path: &str, what: &str) -> Result<(), String> {
        let stopped = self.cdp.call("Profiler.stop", json!({}))?;
        std::fs::write(path, stopped["profile"].to_string()).map_err(|err| format!("write {path}: {err}"))?;
        log(format!("CPU profile of {what} written to {path}"));
        Ok(())
    }

    async fn start(args: &Args) -> Result<Bench, String> {
        if !args.dist.join("index.html").is_file() {
            return Err(format!(
                "no release client build at {} (trunk build --release)",
                args.dist.display()
            ));
        }
        if !args.gateway.is_file() {
            return Err(format!("no gateway binary at {}", args.gateway.display()));
        }
        let scratch =
            std::env::temp_dir().join(format!("threadline-browser-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let mut processes = Processes {
            children: Vec::new(),
            scratch: scratch.clone(),
        };
        let site = scratch.join("site");
        copy_dir(&args.dist, &site)
            .map_err(|err| format!("copy {}: {err}", args.dist.display()))?;
        // The build writes the stamped loader into dist (www/stamp-loader.sh, a Trunk hook);
        // a dist built before the hook existed gets it stamped here the same way.
        if !site.join("threadline.js").is_file() {
            stamp_loader(&site);
        }
        let loader = site
            .join("threadline.js")
            .is_file()
            .then(|| "threadline.js".to_string());

        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        if let Some(loader) = &loader {
            let write = |name: &str, html: String| {
                std::fs::write(site.join(name), html).map_err(|err| format!("write {name}: {err}"))
            };
            for (own_script, prefix) in [(false, "bench-host"), (true, "bench-host-scripted")] {
                write(&format!("{prefix}-plain.html"), host_page(None, own_script))?;
                write(&format!("{prefix}-snippet.html"), host_page(Some((loader, &base)), own_script))?;
            }
        }
        let data = scratch.join("data");
        std::fs::create_dir_all(&data)
            .map_err(|err| format!("create {}: {err}", data.display()))?;
        let gateway_log = std::fs::File::create(scratch.join("gateway.log"))
            .map_err(|err| format!("gateway log: {err}"))?;
        let gateway = Command::new(&args.gateway)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(&data)
            .arg("--static")
            .arg(&site)
            .arg("--dev")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(gateway_log)
            .spawn()
            .map_err(|err| format!("spawn {}: {err}", args.gateway.display()))?;
        processes.children.push(gateway);
        let last = processes.children.len() - 1;
        wait_for_port(port, &mut processes.children[last], "threadline-gateway")?;

        let cd_port = free_port()?;
        let chromedriver = Command::new("chromedriver")
            .arg(format!("--port={cd_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| {
                format!("spawn chromedriver (apt-get install chromium-driver): {err}")
            })?;
        processes.children.push(chromedriver);
        let last = processes.children.len() - 1;
        wait_for_port(cd_port, &mut processes.children[last], "chromedriver")?;

        let caps = json!({ "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--window-size=1024,768"],
        }});
        let caps = serde_json::from_value(caps).map_err(|err| format!("capabilities: {err}"))?;
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{cd_port}"))
            .await
            .map_err(|err| format!("WebDriver session: {err}"))?;
        let session_id = client.session_id().await.ok().flatten();
        let setup = session_id
            .ok_or_else(|| "WebDriver session has no id".to_string())
            .and_then(|session_id| {
                let cdp = Cdp {
                    chromedriver: format!("127.0.0.1:{cd_port}"),
                    session_id,
                };
                cdp.call("Page.enable", json!({}))?;
                cdp.call(
                    "Page.addScriptToEvaluateOnNewDocument",
                    json!({ "source": PROBE_JS }),
                )?;
                cdp.call("Network.enable", json!({}))?;
                Ok(cdp)
            });
        let cdp = match setup {
            Ok(cdp) => cdp,
            Err(err) => {
                // End the session so chromedriver quits Chromium before it is killed itself.
                let _ = client.close().await;
                return Err(err);
            }
        };
        Ok(Bench {
            addr: format!("127.0.0.1:{port}"),
            base,
            client,
            cdp,
            loader,
            _processes: processes,
        })
    }

    fn page_url(&self, deployment: &str) -> String {
        format!(
            "{}/?deploymentId={deployment}&server={}",
            self.base, self.base
        )
    }

    async fn js(&self, script: &str) -> Result<Value, String> {
        self.client
            .execute(script, vec![])
            .await
            .map_err(|err| format!("page script failed: {err}"))
    }

    /// Polls `expr` (a JS expression) until it is neither null, undefined nor false.
    async fn wait_js(&self, expr: &str, secs: u64, what: &str) -> Result<Value, String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let value = self
                .js(&format!(
                    "try {{ return ({expr}) ?? null; }} catch (e) {{ return null; }}"
                ))
                .await?;
            if !value.is_null() && value != Value::Bool(false) {
                return Ok(value);
            }
            if Instant::now() >= deadline {
                return Err(format!("{what} not seen within {secs} s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The paint time of probe mark `key` (ms since navigation start), waiting for it.
    async fn mark(&self, key: &str, secs: u64, what: &str) -> Result<Value, String> {
        self.wait_js(&format!("window.__tlb && __tlb.marks['{key}'] && __tlb.marks['{key}'].paint !== null && __tlb.marks['{key}']"), secs, what)
            .await
    }

    /// Leaves the page (so the next navigation is a fresh one); failures do not matter.
    async fn blank(&self) {
        let _ = self.client.goto("about:blank").await;
    }

    async fn goto(&self, url: &str) -> Result<(), String> {
        self.client
            .goto(url)
            .await
            .map_err(|err| format!("open {url}: {err}"))?;
        self.wait_js("!!window.__tlb", 5, "the probe script")
            .await
            .map(|_| ())
    }

    /// Clicks the launcher in the page (works inside open shadow roots too).
    async fn click_launcher(&self) -> Result<(), String> {
        self.wait_js(
            "(() => { const l = (window.__tlb && document.querySelector('[data-testid=launcher]')) || null; \
              if (l) { l.click(); return true; } \
              for (const h of document.querySelectorAll('*')) { const s = h.shadowRoot && h.shadowRoot.querySelector('[data-testid=launcher]'); if (s) { s.click(); return true; } } \
              return false; })()",
            10,
            "the launcher",
        )
        .await
        .map(|_| ())
    }

    async fn wait_state(&self, testid: &str, state: &str, secs: u64) -> Result<(), String> {
        self.wait_js(
            &format!("__tlb.state('{testid}') === '{state}'"),
            secs,
            &format!("{testid} = {state}"),
        )
        .await
        .map(|_| ())
    }

    /// Opens the panel with the launcher and waits until the status is `connected`.
    async fn open_connected(&self) -> Result<(), String> {
        if self.js("return __tlb.state('messenger');").await? != json!("open") {
            self.click_launcher().await?;
        }
        self.wait_state("messenger", "open", 10).await?;
        self.wait_state("status", "connected", 15).await
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        request_ok(&self.addr, method, path, body.as_ref())
    }

    fn new_deployment(&self, name: &str) -> Result<String, String> {
        let created = self.control(
            "POST",
            "/control/deployments",
            Some(json!({ "name": name })),
        )?;
        created["deploymentId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no deploymentId in {created}"))
    }

    /// The token of the deployment's most recently active session.
    async fn session_token(&self, deployment: &str) -> Result<String, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let sessions = self.control(
                "GET",
                &format!("/control/sessions?deploymentId={deployment}"),
                None,
            )?;
            if let Some(token) = sessions.get(0).and_then(|s| s["token"].as_str()) {
                return Ok(token.to_string());
            }
            if Instant::now() >= deadline {
                return Err("the gateway has no session for the page".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn agent_says(&self, token: &str, deployment: &str, text: &str) -> Result<(), String> {
        self.control(
            "POST",
            &format!("/control/sessions/{token}/messages?deploymentId={deployment}"),
            Some(json!({ "text": text, "agentName": "Bench" })),
        )
        .map(|_| ())
    }

    fn clear_cache_and_storage(&self) -> Result<(), String> {
        self.cdp.call("Network.clearBrowserCache", json!({}))?;
        self.cdp.call(
            "Storage.clearDataForOrigin",
            json!({ "origin": self.base, "storageTypes": "all" }),
        )?;
        Ok(())
    }

    fn set_offline(&self, offline: bool) -> Result<(), String> {
        self.cdp
            .call(
                "Network.emulateNetworkConditions",
                json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 }),
            )
            .map(|_| ())
    }
}

fn ms(value: &Value, key: &str) -> Result<f64, String> {
    value[key]
        .as_f64()
        .ok_or_else(|| format!("probe mark has no {key}: {value}"))
}

/// Cold open: navigation → launcher painted; click → panel interactive (open, status connected,
/// composer enabled). Cache and storage cleared before each run (a first visit).
async fn cold_open(
    bench: &Bench,
    runs: usize,
) -> (Result<Vec<f64>, String>, Result<Vec<f64>, String>) {
    let mut launcher = Vec::new();
    let mut interactive = Vec::new();
    let mut interactive_error = None;
    for run in 0..runs {
        let result: Result<(f64, Option<f64>), String> = async {
            bench.blank().await;
            bench.clear_cache_and_storage()?;
            bench.goto(&bench.page_url(DEMO_DEPLOYMENT)).await?;
            let shown = bench.mark("launcher", 20, "launcher").await?;
            let launcher_ms = ms(&shown, "paint")?;
            bench.click_launcher().await?;
            let ready = match bench
                .mark(
                    "interactive",
                    15,
                    "panel interactive (open, connected, composer enabled)",
                )
                .await
            {
                Ok(mark) => Some(ms(&mark, "paint")? - ms(&mark, "clickAt")?),
                Err(err) => {
                    interactive_error = Some(err);
                    None
                }
            };
            Ok((launcher_ms, ready))
        }
        .await;
        match result {
            Ok((l, i)) => {
                let i_text = i.map_or_else(|| "n/a".to_string(), |i| format!("{i:.1} ms"));
                log(format!(
                    "cold open run {}: launcher {l:.1} ms, interactive {i_text}",
                    run + 1
                ));
                launcher.push(l);
                interactive.extend(i);
            }
            Err(err) => return (Err(err.clone()), Err(err)),
        }
    }
    let interactive = if interactive.len() >= runs {
        Ok(interactive)
    } else {
        Err(interactive_error.unwrap_or_else(|| "missing runs".into()))
    };
    (Ok(launcher), interactive)
}

/// Reload → restored transcript: `count` agent messages in a conversation, then reload; the
/// figure is navigation start → newest message painted in the open panel (the probe clicks the
/// launcher as soon as it can if the panel does not reopen by itself). Returns the times, the
/// number of messages shown at that moment, and the session (deployment, token) for reuse.
async fn reload_restore(
    bench: &Bench,
    runs: usize,
    count: usize,
) -> Result<(Vec<f64>, Vec<u64>, String, String), String> {
    bench.blank().await;
    bench.clear_cache_and_storage()?;
    let deployment = bench.new_deployment("bench-reload")?;
    let url = bench.page_url(&deployment);
    bench.goto(&url).await?;
    bench.open_connected().await?;
    let token = bench.session_token(&deployment).await?;
    let stamp = std::process::id();
    let newest = format!("bench reload {count} of {count} ({stamp})");
    for i in 1..=count {
        let text = if i == count {
            newest.clone()
        } else {
            format!("bench reload {i} of {count} ({stamp})")
        };
        bench.agent_says(&token, &deployment, &text)?;
    }
    bench
        .wait_js(
            &format!("__tlb.count() >= {count}"),
            30,
            &format!("{count} messages on the page"),
        )
        .await?;

    let mut times = Vec::new();
    let mut shown = Vec::new();
    for run in 0..runs {
        let config = json!({ "want": { "key": "reload", "text": newest, "autoOpen": true } });
        bench
            .js(&format!(
                "sessionStorage.setItem('__tlb', JSON.stringify({config})); return true;"
            ))
            .await?;
        // `BENCH_PROFILE=file.cpuprofile`: a CDP CPU profile of the last reload.
        let profile = profile_path("reload").filter(|_| run + 1 == runs);
        if profile.is_some() {
            bench.start_profile()?;
        }
        bench
            .client
            .refresh()
            .await
            .map_err(|err| format!("reload: {err}"))?;
        let mark = bench.mark("reload", 20, "restored transcript").await?;
        if let Some(path) = profile {
            bench.save_profile(&path, "the reload")?;
        }
        let painted = ms(&mark, "paint")?;
        let count_shown = bench
            .js("return __tlb.wantShownCount;")
            .await?
            .as_u64()
            .unwrap_or(0);
        log(format!(
            "reload run {}: {painted:.1} ms, {count_shown} messages shown",
            run + 1
        ));
        if std::env::var_os("BENCH_RESOURCES").is_some() {
            // Where the reload's time goes: each request's start and end on the page clock.
            let timeline = bench
                .js("return performance.getEntriesByType('resource').map(e => `${e.name.replace(/^https?:\\/\\/[^/]+/, '').slice(0, 60)} ${e.startTime.toFixed(1)}→${e.responseEnd.toFixed(1)}`).concat(__tlb.wsLog).join('\\n');")
                .await?;
            log(timeline.as_str().unwrap_or_default());
        }
        times.push(painted);
        shown.push(count_shown);
    }
    Ok((times, shown, deployment, token))
}

/// Network restored → connected: offline (DevTools emulation) plus the gateway dropping the
/// socket, wait until the page leaves `connected`, then online; the figure is the `online`
/// event → status `connected` painted.
async fn network_restore(
    bench: &Bench,
    runs: usize,
    deployment: &str,
    token: &str,
) -> Result<(Vec<f64>, String), String> {
    let mut times = Vec::new();
    let mut notes = Vec::new();
    for run in 0..runs {
        bench.wait_state("status", "connected", 15).await?;
        bench.js("__tlb.expectReconnect(); return true;").await?;
        bench.set_offline(true)?;
        let outcome = async {
            bench.control(
                "POST",
                &format!("/control/sessions/{token}/drop?deploymentId={deployment}"),
                None,
            )?;
            bench
                .wait_js(
                    "__tlb.leftConnected",
                    10,
                    "status leaving connected after the drop",
                )
                .await?;
            // Let reconnect attempts fail while offline, as a real outage would.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let state = bench.js("return __tlb.state('status');").await?;
            if state == json!("connected") {
                notes.push("reconnected while emulated offline".to_string());
            }
            Ok::<(), String>(())
        }
        .await;
        // The page's clock when the command is sent; the `online` event overwrites it.
        bench
            .js("__tlb.onlineAt = performance.now(); return true;")
            .await?;
        bench.set_offline(false)?;
        outcome?;
        let mark = bench
            .mark("reconnected", 20, "connected after going online")
            .await?;
        let took = ms(&mark, "paint")? - ms(&mark, "onlineAt")?;
        log(format!("network restore run {}: {took:.1} ms", run + 1));
        times.push(took);
    }
    notes.dedup();
    Ok((times, notes.join("; ")))
}

/// Adds `count` agent messages with `INJECT_WORKERS` parallel clients within `INJECT_BUDGET`,
/// then one last message (the newest). Returns (messages sent, the newest text).
fn inject_many(addr: &str, token: &str, deployment: &str, count: usize) -> (usize, String) {
    let path = format!("/control/sessions/{token}/messages?deploymentId={deployment}");
    let deadline = Instant::now() + INJECT_BUDGET;
    let sent = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for worker in 0..INJECT_WORKERS {
            let (path, sent) = (&path, &sent);
            scope.spawn(move || {
                let mut i = worker;
                while i < count && Instant::now() < deadline {
                    let body = json!({ "text": format!("bench history message {i}"), "agentName": "Bench" });
                    if request_ok(addr, "POST", path, Some(&body)).is_err() {
                        break;
                    }
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    i += INJECT_WORKERS;
                }
            });
        }
    });
    let newest = format!("bench newest message ({})", std::process::id());
    let mut total = sent.into_inner();
    if request_ok(
        addr,
        "POST",
        &path,
        Some(&json!({ "text": newest, "agentName": "Bench" })),
    )
    .is_ok()
    {
        total += 1;
    }
    (total, newest)
}

struct BigFigures {
    messages: usize,
    first_paint: Result<Vec<f64>, String>,
    /// Frame arrival → message in the DOM, and → painted (next frame), per append.
    appends: Result<(Vec<f64>, Vec<f64>), String>,
    js_heap: Result<Vec<f64>, String>,
    wasm_memory: Option<f64>,
    dom_nodes: Option<f64>,
}

/// The big transcript: `count` agent messages arrive while the panel is closed; the figures are
/// click → newest message painted (laying out the whole transcript), one more agent message's
/// frame arrival → painted (p95 over `APPENDS`), and memory after it.
async fn big_transcript(bench: &Bench, runs: usize, count: usize) -> Result<BigFigures, String> {
    bench.blank().await;
    bench.clear_cache_and_storage()?;
    let deployment = bench.new_deployment("bench-10k")?;
    bench.goto(&bench.page_url(&deployment)).await?;
    bench.open_connected().await?;
    let token = bench.session_token(&deployment).await?;
    bench.click_launcher().await?;
    bench.wait_state("messenger", "closed", 10).await?;

    let started = Instant::now();
    let (addr, token_for_inject, deployment_for_inject) =
        (bench.addr.clone(), token.clone(), deployment.clone());
    let (sent, newest) = tokio::task::spawn_blocking(move || {
        inject_many(&addr, &token_for_inject, &deployment_for_inject, count)
    })
    .await
    .map_err(|err| format!("injection thread: {err}"))?;
    log(format!(
        "injected {sent} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    if sent < count {
        return Err(format!(
            "only {sent} of {count} messages injected within {} s",
            INJECT_BUDGET.as_secs()
        ));
    }
    let shown = bench
        .wait_js(
            &format!("__tlb.count() >= {sent} && __tlb.count()"),
            120,
            &format!("{sent} messages in the page"),
        )
        .await;
    let shown = match shown {
        Ok(n) => n.as_u64().unwrap_or(0) as usize,
        Err(_) => {
            let n = bench.js("return __tlb.count();").await?;
            return Err(format!("the page holds {n} of {sent} messages after 120 s"));
        }
    };
    log(format!(
        "page holds {shown} messages after {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    let mut first_paint = Vec::new();
    let first_paint_result = async {
        for run in 0..runs {
            let found = bench
                .js(&format!("return __tlb.setWant('big', {});", json!(newest)))
                .await?;
            if found != json!(true) {
                return Err("the newest message is not in the page".to_string());
            }
            bench.click_launcher().await?;
            let mark = bench.mark("big", 20, "newest message painted").await?;
            let took = ms(&mark, "paint")? - ms(&mark, "clickAt")?;
            log(format!(
                "open with {shown} messages, run {}: {took:.1} ms",
                run + 1
            ));
            first_paint.push(took);
            bench.click_launcher().await?;
            bench.wait_state("messenger", "closed", 10).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(first_paint)
    }
    .await;

    // Appends with the panel open and scrolled to the newest message.
    let appends = async {
        bench.click_launcher().await?;
        bench.wait_state("messenger", "open", 10).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (mut to_dom, mut to_paint) = (Vec::new(), Vec::new());
        // `BENCH_PROFILE=file.cpuprofile`: a CDP CPU profile of the appends, to find their cost.
        let profile = profile_path("appends");
        if profile.is_some() {
            bench.start_profile()?;
        }
        for i in 0..APPENDS {
            let text = format!("bench append {i} ({})", std::process::id());
            bench.js(&format!("__tlb.appendWant = {}; return true;", json!(text))).await?;
            bench.agent_says(&token, &deployment, &text)?;
            let sample = bench
                .wait_js(&format!("__tlb.appends.length > {i} && __tlb.appends[{i}].paintAt !== null && __tlb.appends[{i}]"), 10, "appended message painted")
                .await?;
            to_dom.push(ms(&sample, "domAt")? - ms(&sample, "frameAt")?);
            to_paint.push(ms(&sample, "paintAt")? - ms(&sample, "frameAt")?);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        log(format!(
            "appends, frame → DOM (ms): {}",
            to_dom.iter().map(|ms| format!("{ms:.1}")).collect::<Vec<_>>().join(" ")
        ));
        if let Some(path) = profile {
            bench.save_profile(&path, "the appends")?;
        }
        Ok::<_, String>((to_dom, to_paint))
    }
    .await;

    let mut heap = Vec::new();
    for _ in 0..runs {
        bench
            .cdp
            .call("HeapProfiler.collectGarbage", json!({}))
            .ok();
        if let Ok(usage) = bench.cdp.call("Runtime.getHeapUsage", json!({})) {
            heap.extend(usage["usedSize"].as_f64());
        }
    }
    let js_heap = if heap.is_empty() {
        Err("CDP Runtime.getHeapUsage answered nothing".to_string())
    } else {
        Ok(heap)
    };
    let wasm_memory = bench
        .js("return __tlb.wasmBytes();")
        .await
        .ok()
        .and_then(|v| v.as_f64());
    let dom_nodes = bench
        .cdp
        .call("Memory.getDOMCounters", json!({}))
        .ok()
        .and_then(|v| v["nodes"].as_f64());
    Ok(BigFigures {
        messages: shown,
        first_paint: first_paint_result,
        appends,
        js_heap,
        wasm_memory,
        dom_nodes,
    })
}

/// Host page load (navigation start → load event end) without and with the snippet, cold cache.
/// Returns (load event, first contentful paint) samples: (plain, with snippet) each.
async fn host_load(
    bench: &Bench,
    runs: usize,
    prefix: &str,
) -> Result<((Vec<f64>, Vec<f64>), (Vec<f64>, Vec<f64>)), String> {
    if bench.loader.is_none() {
        return Err(
            "no embed loader: dist has no threadline.js and www/stamp-loader.sh could not make one"
                .into(),
        );
    }
    let (mut plain, mut with_snippet) = (Vec::new(), Vec::new());
    let (mut plain_fcp, mut snippet_fcp) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let (plain_page, snippet_page) = (format!("{prefix}-plain.html"), format!("{prefix}-snippet.html"));
        let mut pages = [
            (plain_page, &mut plain, &mut plain_fcp),
            (snippet_page, &mut with_snippet, &mut snippet_fcp),
        ];
        // Alternate which page goes first, so neither always loads right after the other.
        if run % 2 == 1 {
            pages.reverse();
        }
        for (page, out, fcp) in pages {
            bench.blank().await;
            bench.clear_cache_and_storage()?;
            bench.goto(&format!("{}/{page}", bench.base)).await?;
            let load = bench
                .wait_js("(performance.getEntriesByType('navigation')[0] || {}).loadEventEnd > 0 && performance.getEntriesByType('navigation')[0].loadEventEnd", 15, "load event")
                .await?;
            out.push(load.as_f64().unwrap_or(f64::NAN));
            let paint = bench
                .wait_js(
                    "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime",
                    5,
                    "first contentful paint",
                )
                .await
                .ok()
                .and_then(|v| v.as_f64());
            fcp.push(paint.unwrap_or(f64::NAN));
        }
    }
    Ok(((plain, with_snippet), (plain_fcp, snippet_fcp)))
}

/// Runs `section` unless the overall deadline passed.
async fn bounded<T>(
    deadline: Instant,
    what: &str,
    section: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("overall time budget used up".into());
    }
    log(format!("{what}…"));
    tokio::time::timeout(left, section)
        .await
        .unwrap_or_else(|_| Err(format!("{what}: overall time budget used up")))
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("browser-bench: {err}");
            std::process::exit(2);
        }
    };
    let bench = match Bench::start(&args).await {
        Ok(bench) => bench,
        Err(err) => {
            log(&err);
            let n = thousands(args.messages);
            for (figure, target) in [
                ("Cold open: navigation → launcher visible".to_string(), "—"),
                ("Cold open: click → panel interactive".to_string(), "—"),
                (
                    format!(
                        "Reload → restored transcript ({} messages) visible",
                        args.reload_messages
                    ),
                    "≤ 150 ms median",
                ),
                ("Network restored → connected".to_string(), "—"),
                (
                    format!("{n}-message transcript: open → first paint"),
                    "≤ 50 ms",
                ),
                (
                    format!("{n}-message transcript: one append p95"),
                    "≤ 2 ms p95",
                ),
                (format!("Browser memory after {n} messages"), "—"),
                (
                    "Host page load with / without snippet".to_string(),
                    "≤ 1.05",
                ),
            ] {
                row(&figure, &na(&err), target);
            }
            return;
        }
    };
    // Keeps the whole browser part within about 7 minutes even when something hangs.
    let deadline = Instant::now() + Duration::from_secs(420);
    let runs = args.runs;

    if selected("cold") {
        let (launcher, interactive) = match bounded(deadline, "cold open", async {
            Ok(cold_open(&bench, runs).await)
        })
        .await
        {
            Ok(pair) => pair,
            Err(err) => (Err(err.clone()), Err(err)),
        };
        row(
            "Cold open: navigation → launcher visible",
            &ms_figure(&launcher),
            "—",
        );
        row(
            "Cold open: click → panel interactive (composer enabled, connected)",
            &ms_figure(&interactive),
            "—",
        );
    }
    if selected("reload") || selected("network") {
        let reload = bounded(
            deadline,
            "reload",
            reload_restore(&bench, runs, args.reload_messages),
        )
        .await;
        let (reload_times, session) = match reload {
            Ok((times, shown, deployment, token)) => {
                let least = shown.iter().min().copied().unwrap_or(0);
                (Ok(times).map(|t| (t, least)), Some((deployment, token)))
            }
            Err(err) => (Err(err), None),
        };
        let label = format!(
            "Reload → restored transcript ({} messages) visible",
            args.reload_messages
        );
        match &reload_times {
            Ok((times, least)) => {
                let m = median(times.clone());
                let note = if (*least as usize) < args.reload_messages {
                    format!("; {least} of {} shown at first paint", args.reload_messages)
                } else {
                    String::new()
                };
                row(
                    &label,
                    &format!("{}{note}", ms_figure(&Ok(times.clone()))),
                    &verdict("≤ 150 ms median", 150.0, m),
                );
            }
            Err(err) => row(&label, &na(err), "≤ 150 ms median"),
        }

        if selected("network") {
            let network = match &session {
                Some((deployment, token)) => {
                    bounded(
                        deadline,
                        "network restore",
                        network_restore(&bench, runs, deployment, token),
                    )
                    .await
                }
                None => Err("needs the reload scenario's session".into()),
            };
            match network {
                Ok((times, note)) => {
                    let note = if note.is_empty() {
                        String::new()
                    } else {
                        format!("; {note}")
                    };
                    row(
                        "Network restored (DevTools offline → online) → connected",
                        &format!("{}{note}", ms_figure(&Ok(times))),
                        "—",
                    );
                }
                Err(err) => row(
                    "Network restored (DevTools offline → online) → connected",
                    &na(err),
                    "—",
                ),
            }
        }
        bench.set_offline(false).ok();
    }

    if selected("big") {
        let big = bounded(
            deadline,
            "big transcript",
            big_transcript(&bench, runs, args.messages),
        )
        .await;
        let n = thousands(args.messages);
        let paint_label = format!("{n}-message transcript: open → first paint");
        let append_label = format!("{n}-message transcript: one append (frame → DOM) p95");
        let memory_label = format!("Browser memory after {n} messages");
        match big {
            Ok(figures) => {
                let m = figures
                    .first_paint
                    .as_ref()
                    .ok()
                    .and_then(|s| median(s.clone()));
                row(
                    &paint_label,
                    &ms_figure(&figures.first_paint),
                    &verdict("≤ 50 ms", 50.0, m),
                );
                match figures.appends {
                    Ok((to_dom, to_paint)) => {
                        let p95 = percentile(to_dom.clone(), 0.95);
                        let p50 = median(to_dom.clone());
                        let painted = percentile(to_paint.clone(), 0.95);
                        let value = match (p95, p50, painted) {
                        (Some(p95), Some(p50), Some(painted)) => format!(
                            "{p95:.1} ms p95 to the DOM (p50 {p50:.1} ms; {} appends); {painted:.1} ms p95 to the next painted frame",
                            to_dom.len()
                        ),
                        _ => na("no samples"),
                    };
                        row(&append_label, &value, &verdict("≤ 2 ms p95", 2.0, p95));
                    }
                    Err(err) => row(&append_label, &na(err), "≤ 2 ms p95"),
                }
                let heap = figures
                    .js_heap
                    .as_ref()
                    .ok()
                    .and_then(|s| median(s.clone()));
                let mib = |bytes: f64| format!("{:.1} MiB", bytes / 1_048_576.0);
                let memory = match heap {
                    Some(heap) => {
                        let mut parts = vec![format!("JS heap {} (median of {runs})", mib(heap))];
                        if let Some(wasm) = figures.wasm_memory {
                            parts.push(format!("wasm memory {}", mib(wasm)));
                        }
                        if let Some(nodes) = figures.dom_nodes {
                            parts.push(format!("{nodes:.0} DOM nodes"));
                        }
                        parts.push(format!(
                            "{} messages in the page",
                            thousands(figures.messages)
                        ));
                        parts.join(", ")
                    }
                    None => na(figures.js_heap.err().unwrap_or_default()),
                };
                row(&memory_label, &memory, "—");
            }
            Err(err) => {
                row(&paint_label, &na(&err), "≤ 50 ms");
                row(&append_label, &na(&err), "≤ 2 ms p95");
                row(&memory_label, &na(&err), "—");
            }
        }
    }

    if selected("host") {
        // A ~20 ms page and a difference of 1–2 ms: more runs than elsewhere (each is cheap).
        let host_runs = runs.max(HOST_RUNS);
        for (prefix, host_label) in [
            ("bench-host", "Host page load (load event) with / without snippet (page without JavaScript of its own)"),
            ("bench-host-scripted", "Host page load (load event) with / without snippet (page with one script of its own)"),
        ] {
            match bounded(deadline, "host page", host_load(&bench, host_runs, prefix)).await {
                Ok(((plain, with_snippet), (plain_fcp, snippet_fcp))) => match (median(plain), median(with_snippet)) {
                    (Some(p), Some(s)) if p > 0.0 => {
                        let ratio = s / p;
                        let fcp = match (median(plain_fcp), median(snippet_fcp)) {
                            (Some(p), Some(s)) if p > 0.0 => format!("; first contentful paint {s:.1} ms / {p:.1} ms = {:.3}", s / p),
                            _ => String::new(),
                        };
                        row(
                            host_label,
                            &format!("{s:.1} ms / {p:.1} ms = {ratio:.3} (median of {host_runs}, cold cache, order alternating){fcp}"),
                            &verdict("≤ 1.05", 1.05, Some(ratio)),
                        );
                    }
                    _ => row(host_label, &na("no load times"), "≤ 1.05"),
                },
                Err(err) => row(host_label, &na(err), "≤ 1.05"),
            }
        }
    }

    if bench.client.clone().close().await.is_err() {
        log("could not end the WebDriver session (chromedriver is killed anyway)");
    }
}

/// Where `BENCH_PROFILE=file.cpuprofile` puts the profile of `group`: `file.{group}.cpuprofile`,
/// one file per group (the reload's and the appends' profiles used to overwrite each other).
fn profile_path(group: &str) -> Option<String> {
    let base = std::env::var("BENCH_PROFILE").ok().filter(|path| !path.is_empty())?;
    let path = std::path::Path::new(&base);
    let stem = path.file_stem().map_or_else(|| base.clone(), |stem| stem.to_string_lossy().into_owned());
    let extension = path.extension().map_or_else(|| "cpuprofile".to_string(), |ext| ext.to_string_lossy().into_owned());
    Some(path.with_file_name(format!("{stem}.{group}.{extension}")).to_string_lossy().into_owned())
}
