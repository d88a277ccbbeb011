//! Load bench (loopback only, bounded in count and time) for the issue's target: many
//! concurrent guest sessions, each sending keep-alive `echo`s (and, optionally, real
//! `onMessage`s) at a realistic pace, while a few probe sessions measure the echo round trip
//! continuously.
//!
//! ```text
//! cargo run --release -p threadline-gateway --example gateway-load -- --sessions 10000 --seconds 20
//! ```
//!
//! Phases: the gateway starts in a child process (this same binary with `--serve-gateway`, so
//! the two processes have their own file-descriptor budgets and the gateway's RSS is its own);
//! the probes connect; `--sessions` sessions are ramped up (`--ramp-concurrency` handshakes at
//! a time, each one `configureSession`); all are held for `--seconds` while every session
//! sends one echo per `--keepalive` seconds (like the client's keep-alive) and one
//! `onMessage` per `--message-interval` seconds (0 = none); then figures are printed.
//!
//! Each socket needs a file descriptor in each process: `ulimit -n` must exceed the session
//! count plus a few hundred (the bench says so before starting if it does not).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use threadline_gateway::{Gateway, GatewayConfig, DEMO_DEPLOYMENT_ID};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

const MAX_SESSIONS: usize = 20_000;
const MAX_SECONDS: u64 = 300;
const MAX_PROBES: usize = 200;
/// No single reply may take longer than this; a slower one counts as a dropped session.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

const USAGE: &str = "gateway-load [--sessions N] [--seconds S] [--keepalive S] [--message-interval S]
             [--probes P] [--probe-interval-ms MS] [--ramp-concurrency C] [--ramp-timeout S]
             [--settle S] [--gateway-workers W]
  --sessions N           sessions ramped up and held (default 2000, max 20000)
  --seconds S            how long they are held after the ramp-up (default 20, max 300)
  --keepalive S          each held session sends one echo every S seconds (default 30)
  --message-interval S   each held session sends one onMessage every S seconds (default 0 = none)
  --probes P             extra sessions measuring echo RTT back to back (default 10, max 200)
  --probe-interval-ms MS pause between two probe echoes (default 100)
  --ramp-concurrency C   handshakes in flight during the ramp-up (default 128)
  --ramp-timeout S       give up opening sessions after S seconds (default 120)
  --settle S             pause between the ramp-up and the measured hold (default 2), so the
                         gateway's queued session writes are not measured as echo latency
  --gateway-workers W    tokio worker threads of the gateway (default: one per core)";

#[derive(Clone, Debug)]
struct Args {
    sessions: usize,
    seconds: u64,
    keepalive: Duration,
    message_interval: Option<Duration>,
    probes: usize,
    probe_interval: Duration,
    ramp_concurrency: usize,
    ramp_timeout: Duration,
    settle: Duration,
    gateway_workers: Option<usize>,
}

fn parse_args(mut iter: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        sessions: 2000,
        seconds: 20,
        keepalive: Duration::from_secs(30),
        message_interval: None,
        probes: 10,
        probe_interval: Duration::from_millis(100),
        ramp_concurrency: 128,
        ramp_timeout: Duration::from_secs(120),
        settle: Duration::from_secs(2),
        gateway_workers: None,
    };
    fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
        value
            .parse()
            .map_err(|_| format!("{flag}: {value:?} is not a number\n{USAGE}"))
    }
    fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
        let value: f64 = number(flag, value)?;
        if !(0.0..=3600.0).contains(&value) {
            return Err(format!("{flag}: must be between 0 and 3600 seconds"));
        }
        Ok(Duration::from_secs_f64(value))
    }
    while let Some(flag) = iter.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = iter
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--sessions" => args.sessions = number(&flag, &value)?,
            "--seconds" => args.seconds = number(&flag, &value)?,
            "--keepalive" => args.keepalive = seconds(&flag, &value)?,
            "--message-interval" => {
                let interval = seconds(&flag, &value)?;
                args.message_interval = (!interval.is_zero()).then_some(interval);
            }
            "--probes" => args.probes = number(&flag, &value)?,
            "--probe-interval-ms" => {
                args.probe_interval = Duration::from_millis(number(&flag, &value)?)
            }
            "--ramp-concurrency" => args.ramp_concurrency = number(&flag, &value)?,
            "--ramp-timeout" => args.ramp_timeout = seconds(&flag, &value)?,
            "--settle" => args.settle = seconds(&flag, &value)?,
            "--gateway-workers" => args.gateway_workers = Some(number(&flag, &value)?),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    args.sessions = args.sessions.min(MAX_SESSIONS);
    args.seconds = args.seconds.clamp(1, MAX_SECONDS);
    args.probes = args.probes.min(MAX_PROBES);
    args.ramp_concurrency = args.ramp_concurrency.clamp(1, 1024);
    // Below 100 ms a keep-alive is a flood, not a keep-alive; the rate limit is not involved.
    args.keepalive = args.keepalive.max(Duration::from_millis(100));
    if let Some(interval) = &mut args.message_interval {
        // The gateway admits 20 messages per 10 s per session; stay under it.
        *interval = (*interval).max(Duration::from_millis(600));
    }
    args.gateway_workers = args.gateway_workers.map(|workers| workers.clamp(1, 64));
    Ok(args)
}

fn main() {
    let mut raw = std::env::args().skip(1).peekable();
    if raw.peek().map(String::as_str) == Some("--serve-gateway") {
        raw.next();
        let data_dir = raw.next().map(PathBuf::from);
        let workers = raw.next().and_then(|value| value.parse().ok());
        match data_dir {
            Some(dir) => serve_gateway(&dir, workers),
            None => eprintln!("--serve-gateway needs a data directory"),
        }
        return;
    }
    let args = match parse_args(raw) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(args) {
        eprintln!("gateway-load: {error}");
        std::process::exit(1);
    }
}

/// Child mode: runs a dev gateway on 127.0.0.1:0, prints `listening <addr>`, and exits when
/// its stdin closes (the parent ended, whichever way).
fn serve_gateway(data_dir: &Path, workers: Option<usize>) {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gateway child: cannot start the runtime: {error}");
            return;
        }
    };
    runtime.block_on(async {
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = GatewayConfig::new(listen, data_dir);
        config.dev = true;
        let (addr, _handle) = match Gateway::start(config).await {
            Ok(started) => started,
            Err(error) => {
                eprintln!("gateway child: {error}");
                return;
            }
        };
        println!("listening {addr}");
        let _ = std::io::stdout().flush();
        // Blocking read on a plain thread: the runtime's workers stay free for the gateway.
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
    });
    // No graceful close of thousands of sockets: the parent has already dropped them.
    runtime.shutdown_background();
}

/// The gateway child process; killed (by its own id) if it outlives the bench.
struct GatewayProcess {
    child: Child,
    data_dir: PathBuf,
}

impl GatewayProcess {
    fn spawn(workers: Option<usize>) -> Result<(Self, String), String> {
        let data_dir =
            std::env::temp_dir().join(format!("threadline-load-{}", std::process::id()));
        let exe = std::env::current_exe().map_err(|error| format!("current_exe: {error}"))?;
        let mut command = Command::new(exe);
        command
            .arg("--serve-gateway")
            .arg(&data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(workers) = workers {
            command.arg(workers.to_string());
        }
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot start the gateway child: {error}"))?;
        let stdout = child.stdout.take().ok_or("gateway child has no stdout")?;
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let process = Self { child, data_dir };
        match (read, line.trim().strip_prefix("listening ")) {
            (Ok(_), Some(addr)) => {
                let addr = addr.to_owned();
                Ok((process, addr))
            }
            _ => Err(format!("gateway child did not start (said {line:?})")),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes its stdin (it exits), waits briefly, then kills it if needed.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// `VmRSS` and `VmHWM` (peak) of a process, in MiB.
fn rss_mib(pid: &str) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after_name = stat.rsplit_once(')')?.1;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux configuration this bench targets.
    Some(Duration::from_millis((user + system) * 10))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// The soft limit on open files, if the platform says.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn run(args: Args) -> Result<(), String> {
    let needed = (args.sessions + args.probes + 200) as u64;
    if let Some(limit) = open_file_limit().filter(|limit| *limit < needed) {
        return Err(format!(
            "the open-file limit is {limit}, {needed} are needed in each process: run `ulimit -n {needed}` first"
        ));
    }
    println!("load average at start: {}", load_average());
    let (gateway, addr) = GatewayProcess::spawn(args.gateway_workers)?;
    let pid = gateway.pid().to_string();
    println!(
        "gateway: pid {pid} on {addr}, {} worker thread(s)",
        args.gateway_workers
            .map_or_else(|| "default (one per core)".to_owned(), |w| w.to_string())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the client runtime: {error}"))?;
    let report = runtime.block_on(drive(&args, &addr, &pid));
    // Dropping the runtime drops every client socket before the gateway goes.
    runtime.shutdown_timeout(Duration::from_secs(2));
    gateway.stop();
    report
}

#[derive(Default)]
struct Samples {
    keepalive: Vec<Duration>,
    probe: Vec<Duration>,
    probe_during_ramp: Vec<Duration>,
    message: Vec<Duration>,
    configure: Vec<Duration>,
    /// Replies during the hold slower than [`SLOW`]: (seconds into the hold, kind).
    slow: Vec<(u64, &'static str)>,
}

/// Replies slower than this are also listed by when they happened (to tell a steady tail
/// from a stall that hit everyone at once).
const SLOW: Duration = Duration::from_millis(20);

struct Shared {
    url: String,
    samples: Mutex<Samples>,
    /// Sessions open right now (configured and not failed).
    open: AtomicUsize,
    failed_to_open: AtomicUsize,
    /// Held sessions whose socket failed or timed out during the hold.
    dropped: AtomicUsize,
    /// Replies received during the hold (every kind).
    replies_in_hold: AtomicUsize,
}

async fn drive(args: &Args, addr: &str, pid: &str) -> Result<(), String> {
    let shared = Arc::new(Shared {
        url: format!("ws://{addr}/v1?deploymentId={DEMO_DEPLOYMENT_ID}"),
        samples: Mutex::new(Samples::default()),
        open: AtomicUsize::new(0),
        failed_to_open: AtomicUsize::new(0),
        dropped: AtomicUsize::new(0),
        replies_in_hold: AtomicUsize::new(0),
    });
    let (hold_tx, hold_rx) = tokio::sync::watch::channel::<Option<(Instant, Instant)>>(None);

    let mut probes = Vec::with_capacity(args.probes);
    for index in 0..args.probes {
        let socket = open_session(&shared.url, &format!("probe-{index}"))
            .await
            .ok_or("a probe session could not be opened")?;
        probes.push(tokio::spawn(run_probe(
            shared.clone(),
            socket,
            index,
            args.probe_interval,
            hold_rx.clone(),
        )));
    }

    let ramp_started = Instant::now();
    let ramp_deadline = ramp_started + args.ramp_timeout;
    let connecting = Arc::new(Semaphore::new(args.ramp_concurrency));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let mut sessions = Vec::with_capacity(args.sessions);
    for index in 0..args.sessions {
        let (shared, connecting, ready, hold) = (
            shared.clone(),
            connecting.clone(),
            ready_tx.clone(),
            hold_rx.clone(),
        );
        let args = args.clone();
        sessions.push(tokio::spawn(async move {
            let opened = {
                let Ok(_permit) = connecting.acquire().await else {
                    return;
                };
                let started = Instant::now();
                let token = format!("load-{index}");
                let opened = tokio::time::timeout_at(
                    ramp_deadline.into(),
                    open_session(&shared.url, &token),
                )
                .await
                .ok()
                .flatten();
                if opened.is_some() {
                    if let Ok(mut samples) = shared.samples.lock() {
                        samples.configure.push(started.elapsed());
                    }
                }
                opened
            };
            // Counted before reporting ready, so the ramp-up total is exact.
            match &opened {
                Some(_) => shared.open.fetch_add(1, Ordering::Relaxed),
                None => shared.failed_to_open.fetch_add(1, Ordering::Relaxed),
            };
            let _ = ready.send(opened.is_some());
            let Some(socket) = opened else {
                return;
            };
            run_held_session(shared, socket, index, &args, hold).await;
        }));
    }
    drop(ready_tx);
    let mut reported = 0;
    let mut next_progress = Instant::now() + Duration::from_secs(5);
    while reported < args.sessions {
        if ready_rx.recv().await.is_none() {
            break;
        }
        reported += 1;
        if Instant::now() >= next_progress {
            println!(
                "  ramp-up: {} open after {:.1} s",
                shared.open.load(Ordering::Relaxed),
                ramp_started.elapsed().as_secs_f64()
            );
            next_progress += Duration::from_secs(5);
        }
    }
    let ramp = ramp_started.elapsed();
    let opened = shared.open.load(Ordering::Relaxed);
    println!(
        "ramp-up: {opened} sessions (+{} probes) in {:.1} s ({:.0} sessions/s), failed to open: {}",
        args.probes,
        ramp.as_secs_f64(),
        opened as f64 / ramp.as_secs_f64().max(1e-9),
        shared.failed_to_open.load(Ordering::Relaxed)
    );
    let rss_after_ramp = rss_mib(pid);

    // Announced now, starting after the settle pause: every session wakes up and schedules
    // its first send outside the measured window.
    let hold_start = Instant::now() + args.settle;
    let hold_end = hold_start + Duration::from_secs(args.seconds);
    let _ = hold_tx.send(Some((hold_start, hold_end)));
    tokio::time::sleep_until(hold_start.into()).await;
    let cpu_at_hold_start = cpu_time(pid);
    tokio::time::sleep_until(hold_end.into()).await;
    let held_at_end = shared.open.load(Ordering::Relaxed);
    let rss_at_end = rss_mib(pid);
    let cpu_in_hold = cpu_time(pid)
        .zip(cpu_at_hold_start)
        .map(|(end, start)| end.saturating_sub(start));
    let client_rss = rss_mib("self");
    let hold = hold_start.elapsed();
    // Tasks stop by themselves at the end of the hold; wait for any reply still in flight.
    for task in probes.into_iter().chain(sessions) {
        let _ = tokio::time::timeout(REPLY_TIMEOUT, task).await;
    }

    let samples = shared
        .samples
        .lock()
        .map(|mut samples| std::mem::take(&mut *samples))
        .map_err(|_| "a session task panicked")?;
    println!(
        "hold: {:.1} s, sessions held at the end: {held_at_end} of {opened} (dropped: {})",
        hold.as_secs_f64(),
        shared.dropped.load(Ordering::Relaxed)
    );
    print_latency("configureSession during ramp-up", samples.configure);
    print_latency("probe echo RTT during ramp-up", samples.probe_during_ramp);
    let mut all_echoes = samples.keepalive.clone();
    all_echoes.extend_from_slice(&samples.probe);
    print_latency("keep-alive echo RTT (held sessions)", samples.keepalive);
    print_latency("probe echo RTT (held)", samples.probe);
    print_latency("onMessage RTT (commit, then echo)", samples.message);
    let p99 = percentile(&mut all_echoes, 0.99);
    print_latency("echo RTT, all during the hold", all_echoes);
    print_slow(samples.slow, args.seconds);
    let replies = shared.replies_in_hold.load(Ordering::Relaxed);
    println!(
        "replies/s during the hold: {:.0}",
        replies as f64 / hold.as_secs_f64()
    );
    if let Some(cpu) = cpu_in_hold {
        println!(
            "gateway CPU during the hold: {:.1}% of one core, {:.0} us per reply",
            cpu.as_secs_f64() / hold.as_secs_f64() * 100.0,
            cpu.as_secs_f64() * 1e6 / replies.max(1) as f64
        );
    }
    let rss = |value: Option<(f64, f64)>| {
        value.map_or_else(
            || "unknown".to_owned(),
            |(now, peak)| format!("{now:.0} MiB (peak {peak:.0} MiB)"),
        )
    };
    println!(
        "gateway RSS: after ramp-up {}, at the end {}; bench client RSS {}",
        rss(rss_after_ramp),
        rss(rss_at_end),
        rss(client_rss)
    );
    println!("load average at end: {}", load_average());
    if let Some(p99) = p99 {
        let met = held_at_end >= 10_000 && p99 <= Duration::from_millis(20);
        println!(
            "target (10,000 sessions held, p99 echo RTT <= 20 ms): {} ({held_at_end} held, p99 {:.2} ms)",
            if met { "met" } else { "not met" },
            p99.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

/// `second:count` of the replies slower than [`SLOW`], per second of the hold.
fn print_slow(slow: Vec<(u64, &'static str)>, seconds: u64) {
    if slow.is_empty() {
        println!("replies over {} ms: none", SLOW.as_millis());
        return;
    }
    let mut per_second = vec![0usize; seconds as usize + 1];
    for (second, _) in &slow {
        if let Some(count) = per_second.get_mut(*second as usize) {
            *count += 1;
        }
    }
    let by_kind = |kind: &str| slow.iter().filter(|(_, k)| *k == kind).count();
    let timeline: Vec<String> = per_second
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(second, count)| format!("{second}s:{count}"))
        .collect();
    println!(
        "replies over {} ms: {} (keep-alive {}, probe {}, message {}), by second of the hold: {}",
        SLOW.as_millis(),
        slow.len(),
        by_kind("keep-alive"),
        by_kind("probe"),
        by_kind("message"),
        timeline.join(" ")
    );
}

fn percentile(samples: &mut [Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    Some(samples[((samples.len() as f64 - 1.0) * p).round() as usize])
}

fn print_latency(label: &str, mut samples: Vec<Duration>) {
    if samples.is_empty() {
        println!("{label}: no samples");
        return;
    }
    let ms = |duration: Option<Duration>| duration.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let p50 = ms(percentile(&mut samples, 0.50));
    let p99 = ms(percentile(&mut samples, 0.99));
    let max = ms(samples.last().copied());
    println!(
        "{label}: n={}, p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
        samples.len()
    );
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Waits for the hold window (`None` if the bench is ending before it began).
async fn hold_window(
    hold: &mut tokio::sync::watch::Receiver<Option<(Instant, Instant)>>,
) -> Option<(Instant, Instant)> {
    hold.wait_for(Option::is_some).await.ok().and_then(|window| *window)
}

/// A held session: one echo per keep-alive interval, one message per message interval, both
/// spread evenly over the sessions so the offered load is flat.
async fn run_held_session(
    shared: Arc<Shared>,
    mut socket: Socket,
    index: usize,
    args: &Args,
    mut hold: tokio::sync::watch::Receiver<Option<(Instant, Instant)>>,
) {
    let Some((start, end)) = hold_window(&mut hold).await else {
        return;
    };
    let spread = |interval: Duration, salt: usize| {
        let slot = (index.wrapping_mul(salt) % args.sessions.max(1)) as f64;
        interval.mul_f64(slot / args.sessions.max(1) as f64)
    };
    let token = format!("load-{index}");
    let mut next_echo = start + spread(args.keepalive, 1);
    let mut next_message = args
        .message_interval
        .map(|interval| start + spread(interval, 7919));
    let mut sequence = 0u64;
    let mut keepalive = Vec::new();
    let mut messages = Vec::new();
    let mut slow = Vec::new();
    loop {
        let is_message = next_message.is_some_and(|at| at < next_echo);
        let at = if is_message {
            next_message.unwrap_or(next_echo)
        } else {
            next_echo
        };
        if at >= end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        sequence += 1;
        let tracing_id = format!("{index}-{sequence}");
        let frame = if is_message {
            json!({"action": "onMessage", "token": token, "tracingId": tracing_id,
                   "message": {"type": "Text", "text": "load test message"}})
        } else {
            json!({"action": "echo", "token": token, "tracingId": tracing_id,
                   "message": {"type": "Text", "text": "ping"}})
        };
        let Some(rtt) = round_trip(&mut socket, frame.to_string(), &tracing_id).await else {
            shared.open.fetch_sub(1, Ordering::Relaxed);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            break;
        };
        shared.replies_in_hold.fetch_add(1, Ordering::Relaxed);
        if rtt > SLOW {
            let kind = if is_message { "message" } else { "keep-alive" };
            slow.push((at.saturating_duration_since(start).as_secs(), kind));
        }
        if is_message {
            messages.push(rtt);
            next_message = next_message.zip(args.message_interval).map(|(at, i)| at + i);
        } else {
            keepalive.push(rtt);
            next_echo += args.keepalive;
        }
    }
    if let Ok(mut samples) = shared.samples.lock() {
        samples.keepalive.extend(keepalive);
        samples.message.extend(messages);
        samples.slow.extend(slow);
    }
}

/// A probe: echoes back to back (with a pause) from before the ramp-up to the end of the hold.
async fn run_probe(
    shared: Arc<Shared>,
    mut socket: Socket,
    index: usize,
    pause: Duration,
    hold: tokio::sync::watch::Receiver<Option<(Instant, Instant)>>,
) {
    let token = format!("probe-{index}");
    let mut during_ramp = Vec::new();
    let mut held = Vec::new();
    let mut slow = Vec::new();
    let mut sequence = 0u64;
    loop {
        let window = *hold.borrow();
        if window.is_some_and(|(_, end)| Instant::now() >= end) {
            break;
        }
        sequence += 1;
        let tracing_id = format!("probe-{index}-{sequence}");
        let frame = json!({"action": "echo", "token": token, "tracingId": tracing_id,
                           "message": {"type": "Text", "text": "ping"}});
        let sent = Instant::now();
        let Some(rtt) = round_trip(&mut socket, frame.to_string(), &tracing_id).await else {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            break;
        };
        match window {
            Some((start, _)) if sent >= start => {
                shared.replies_in_hold.fetch_add(1, Ordering::Relaxed);
                held.push(rtt);
                if rtt > SLOW {
                    slow.push((sent.duration_since(start).as_secs(), "probe"));
                }
            }
            // Sent during the settle pause: neither ramp-up nor hold.
            Some(_) => {}
            None => during_ramp.push(rtt),
        }
        tokio::time::sleep(pause).await;
    }
    if let Ok(mut samples) = shared.samples.lock() {
        samples.probe.extend(held);
        samples.probe_during_ramp.extend(during_ramp);
        samples.slow.extend(slow);
    }
}

/// Sends a frame and waits for the reply carrying `tracing_id`; the round trip, or `None` when
/// the socket failed or the reply took longer than [`REPLY_TIMEOUT`].
async fn round_trip(socket: &mut Socket, frame: String, tracing_id: &str) -> Option<Duration> {
    let sent = Instant::now();
    socket.send(Message::text(frame)).await.ok()?;
    wait_for_tracing_id(socket, tracing_id)
        .await
        .then(|| sent.elapsed())
}

/// Small read buffers: 10,000 sockets × the 128 KiB default would be the client's whole RSS.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

async fn open_session(url: &str, token: &str) -> Option<Socket> {
    let (mut socket, _) = tokio::time::timeout(
        REPLY_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true),
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

/// Reads frames until one carries `tracing_id` (bounded by [`REPLY_TIMEOUT`]). A substring
/// test, not a JSON parse: the bench client must cost far less than the gateway it measures.
async fn wait_for_tracing_id(socket: &mut Socket, tracing_id: &str) -> bool {
    let needle = format!("\"tracingId\":\"{tracing_id}\"");
    let wait = async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                if text.as_str().contains(&needle) {
                    return true;
                }
            }
        }
        false
    };
    tokio::time::timeout(REPLY_TIMEOUT, wait)
        .await
        .unwrap_or(false)
}
