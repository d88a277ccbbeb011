//! Load bench (loopback only, bounded in count and time): holds many guest sessions on one
//! in-process gateway and measures the `onMessage` echo round trip (which includes the
//! SQLite commit).
//!
//! `cargo run --release -p threadline-gateway --example gateway-load -- --sessions 2000 --seconds 10`
//!
//! Each socket and its server side need a file descriptor: raise `ulimit -n` for big runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use threadline_gateway::{Gateway, GatewayConfig, DEMO_DEPLOYMENT_ID};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

const MAX_SESSIONS: usize = 20_000;
const MAX_SECONDS: u64 = 120;

struct Args {
    sessions: usize,
    seconds: u64,
    /// Messages per session per second.
    rate: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        sessions: 1000,
        seconds: 10,
        rate: 0.5,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--sessions" => {
                args.sessions = value.parse().map_err(|_| "--sessions: not a number")?
            }
            "--seconds" => args.seconds = value.parse().map_err(|_| "--seconds: not a number")?,
            "--rate" => args.rate = value.parse().map_err(|_| "--rate: not a number")?,
            other => {
                return Err(format!(
                    "unknown argument {other} (use --sessions N --seconds S --rate R)"
                ))
            }
        }
    }
    args.sessions = args.sessions.clamp(1, MAX_SESSIONS);
    args.seconds = args.seconds.clamp(1, MAX_SECONDS);
    args.rate = args.rate.clamp(0.01, 1.5);
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let data_dir = std::env::temp_dir().join(format!("threadline-load-{}", std::process::id()));
    let mut config = GatewayConfig::new("127.0.0.1:0".parse()?, &data_dir);
    config.dev = true;
    let (addr, handle) = Gateway::start(config).await?;
    let url = format!("ws://{addr}/v1?deploymentId={DEMO_DEPLOYMENT_ID}");

    let held = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let connecting = Arc::new(Semaphore::new(64));
    let start_line = Arc::new(tokio::sync::Barrier::new(args.sessions + 1));
    let setup_started = Instant::now();
    let mut tasks = Vec::with_capacity(args.sessions);
    for index in 0..args.sessions {
        let (url, held, failed, samples, connecting, start_line) = (
            url.clone(),
            held.clone(),
            failed.clone(),
            samples.clone(),
            connecting.clone(),
            start_line.clone(),
        );
        let seconds = args.seconds;
        let interval = Duration::from_secs_f64(1.0 / args.rate);
        tasks.push(tokio::spawn(async move {
            let token = format!("load-{index}");
            let socket = {
                let _permit = connecting.acquire().await;
                open_session(&url, &token).await
            };
            let Some(mut socket) = socket else {
                failed.fetch_add(1, Ordering::Relaxed);
                start_line.wait().await;
                return;
            };
            held.fetch_add(1, Ordering::Relaxed);
            start_line.wait().await;
            // Spread the first sends over one interval so the load is even.
            tokio::time::sleep(interval.mul_f64((index % 97) as f64 / 97.0)).await;
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let mut local = Vec::new();
            let mut sequence = 0u64;
            while Instant::now() < deadline {
                sequence += 1;
                let tracing_id = format!("{index}-{sequence}");
                let frame = json!({"action": "onMessage", "token": token, "tracingId": tracing_id, "message": {"type": "Text", "text": "load"}});
                let sent = Instant::now();
                if socket.send(Message::text(frame.to_string())).await.is_err() {
                    break;
                }
                if !wait_for_tracing_id(&mut socket, &tracing_id).await {
                    break;
                }
                local.push(sent.elapsed());
                tokio::time::sleep(interval.saturating_sub(sent.elapsed())).await;
            }
            if let Ok(mut all) = samples.lock() {
                all.extend(local);
            }
            let _ = socket.close(None).await;
        }));
    }
    start_line.wait().await;
    let setup = setup_started.elapsed();
    let concurrent = held.load(Ordering::Relaxed);
    println!(
        "sessions held concurrently: {concurrent} (failed to open: {}) in {:.1} s",
        failed.load(Ordering::Relaxed),
        setup.as_secs_f64()
    );
    let measured_started = Instant::now();
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = measured_started.elapsed();
    let mut samples = samples.lock().map(|all| all.clone()).unwrap_or_default();
    samples.sort();
    if samples.is_empty() {
        println!("no round trips measured");
    } else {
        let percentile = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
        println!("echo round trips: {}", samples.len());
        println!(
            "echo RTT p50: {:.2} ms",
            percentile(0.50).as_secs_f64() * 1000.0
        );
        println!(
            "echo RTT p99: {:.2} ms",
            percentile(0.99).as_secs_f64() * 1000.0
        );
        println!(
            "messages/s: {:.0}",
            samples.len() as f64 / elapsed.as_secs_f64()
        );
    }
    handle.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_session(url: &str, token: &str) -> Option<Socket> {
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .ok()?
    .ok()?;
    let configure = json!({"action": "configureSession", "token": token, "deploymentId": DEMO_DEPLOYMENT_ID, "tracingId": "configure"});
    socket
        .send(Message::text(configure.to_string()))
        .await
        .ok()?;
    wait_for_tracing_id(&mut socket, "configure")
        .await
        .then_some(socket)
}

/// Reads frames until one carries `tracing_id` (bounded by 10 s).
async fn wait_for_tracing_id(socket: &mut Socket, tracing_id: &str) -> bool {
    let wait = async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                if frame["tracingId"] == tracing_id {
                    return true;
                }
            }
        }
        false
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or(false)
}
