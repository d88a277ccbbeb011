//! Chaos (issue "Proof" §2): seeded schedules of network faults and gateway restarts while a
//! scripted customer (typing in the page) and a scripted agent (the control API) exchange
//! numbered messages. After the faults stop, the page's transcript and the server's must each
//! hold every number of both authors exactly once, in order.
//!
//! The page talks to the gateway through [`ChaosProxy`] (`?server=<proxy>`); its module doc
//! describes the faults. One gateway and one browser serve every seed; each seed gets a fresh
//! deployment (so a fresh page, token and conversation).
//!
//! * `CHAOS_SEEDS=500` runs more seeds (the long, nightly-style mode; default 50), starting
//!   at `CHAOS_SEED_BASE` (default 1).
//! * `CHAOS_SEED=1234` replays one seed.
//! * `CHAOS_HARSH=1` doubles the fault rate, allows 3–8 cuts and up to 2 gateway restarts per
//!   seed (for bug hunting; a harsh seed replays only with `CHAOS_HARSH=1` set again).
//! * `CHAOS_VERBOSE=1` prints the fault log of passing seeds too (a failing seed always does).
//!
//! A seed fixes the fault schedule, the order of the messages, the pauses and whether and when
//! the gateway restarts; the browser's own timing can still interleave differently between two
//! runs, so each failure also prints the fault log of that run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::chaos_proxy::{ChaosProxy, FaultMix, SplitMix};
use crate::harness::Env;
use crate::loopback_http::request_ok;
use crate::messenger::{nonce, ShownMessage};

/// Seeds in the normal run.
const DEFAULT_SEEDS: u64 = 50;

/// Numbered messages per author and seed.
const MESSAGES_EACH_WAY: u64 = 4;

/// How long the client may take to converge once the faults stop (reconnect backoff included).
const CONVERGE_LIMIT: Duration = Duration::from_secs(40);

/// After convergence, how long a late duplicate gets to show up before the final check.
const SETTLE: Duration = Duration::from_millis(400);

/// One action of the scripted exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The customer types and sends message number n.
    Customer(u64),
    /// The agent sends message number n (control API, straight to the gateway).
    Agent(u64),
    /// SIGKILL the gateway and start it again on the same port and data.
    RestartGateway,
    Pause(u64),
}

/// The seed's whole schedule: the exchange with its pauses and restarts, and the fault mix.
/// `harsh` (env `CHAOS_HARSH`) faults about twice as many frames, allows more cuts per seed and
/// restarts the gateway more often, for hunting bugs in the long mode.
fn schedule(seed: u64, harsh: bool) -> (Vec<Step>, FaultMix) {
    let mut rng = SplitMix::new(seed);
    let mix = if harsh {
        FaultMix { percent: rng.between(35, 70), max_cuts: rng.between(3, 8) }
    } else {
        FaultMix { percent: rng.between(10, 35), max_cuts: rng.between(1, 3) }
    };
    let (mut customer, mut agent) = (1, 1);
    let mut exchange = Vec::new();
    while customer <= MESSAGES_EACH_WAY || agent <= MESSAGES_EACH_WAY {
        let customer_turn = agent > MESSAGES_EACH_WAY || (customer <= MESSAGES_EACH_WAY && rng.chance(50));
        if customer_turn {
            exchange.push(Step::Customer(customer));
            customer += 1;
        } else {
            exchange.push(Step::Agent(agent));
            agent += 1;
        }
    }
    let restarts = if harsh { rng.below(3) } else { u64::from(rng.chance(30)) };
    for _ in 0..restarts {
        let at = rng.below(exchange.len() as u64 + 1) as usize;
        exchange.insert(at, Step::RestartGateway);
    }
    let mut steps = Vec::new();
    for step in exchange {
        steps.push(step);
        let pause = rng.between(0, 250);
        if pause > 0 {
            steps.push(Step::Pause(pause));
        }
    }
    (steps, mix)
}

/// The seeds of this run, from `CHAOS_SEED`, `CHAOS_SEEDS` and `CHAOS_SEED_BASE`.
fn seeds_to_run() -> Vec<u64> {
    let number = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|value| value.trim().parse::<u64>().unwrap_or_else(|_| panic!("{name}={value:?} is not a number")))
    };
    if let Some(seed) = number("CHAOS_SEED") {
        return vec![seed];
    }
    let base = number("CHAOS_SEED_BASE").unwrap_or(1);
    let count = number("CHAOS_SEEDS").unwrap_or(DEFAULT_SEEDS);
    (base..base.saturating_add(count)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_schedules_keep_every_number_once_and_in_order() {
    let seeds = seeds_to_run();
    let mut env = Env::start().await;
    let upstream = env.gateway_addr().parse().expect("gateway address");
    let proxy = ChaosProxy::start(upstream).await;
    let started = Instant::now();
    let mut failures = Vec::new();
    let verbose = std::env::var_os("CHAOS_VERBOSE").is_some();
    let harsh = std::env::var_os("CHAOS_HARSH").is_some();
    let replay = if harsh { "CHAOS_HARSH=1 " } else { "" };
    let mut tally = BTreeMap::new();
    for &seed in &seeds {
        let seed_started = Instant::now();
        eprintln!("chaos seed {seed}: start (replay: {replay}CHAOS_SEED={seed})");
        let outcome = run_seed(&mut env, &proxy, seed, harsh).await;
        // A failed seed may end before `run_seed` calmed the proxy (a passing one did).
        proxy.calm();
        tally_faults(&proxy.fault_log(), &mut tally);
        match outcome {
            Ok(summary) => {
                eprintln!("chaos seed {seed}: ok in {:.1} s — {summary}", seed_started.elapsed().as_secs_f64());
                if verbose {
                    eprintln!("  {}", proxy.fault_log().join("\n  "));
                }
            }
            Err(report) => {
                env.screenshot(&format!("chaos-seed-{seed}")).await;
                eprintln!(
                    "chaos seed {seed}: FAILED in {:.1} s\n{report}\nfault log:\n  {}",
                    seed_started.elapsed().as_secs_f64(),
                    proxy.fault_log().join("\n  ")
                );
                failures.push(seed);
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "chaos: {} passed, {} failed of {} seeds in {elapsed:.1} s",
        seeds.len() - failures.len(),
        failures.len(),
        seeds.len()
    );
    eprintln!("chaos: faults injected by class: {tally:?}");
    env.finish().await;
    assert!(
        failures.is_empty(),
        "chaos: seeds {failures:?} failed (details above). Replay one with \
         {replay}CHAOS_SEED={} THREADLINE_DIST=<dist> cargo test -p threadline-gateway --test browser chaos -- --nocapture",
        failures[0]
    );
}

/// Counts the fault log's lines by fault class (`Delay(120)` counts as `Delay`).
fn tally_faults(log: &[String], tally: &mut BTreeMap<String, u64>) {
    for line in log {
        let class = if line.starts_with("gateway:") {
            "GatewayRestart"
        } else if let Some((_, fault)) = line.split_once(": ").filter(|_| line.contains(" frame#")) {
            fault.split(['(', ' ']).next().unwrap_or(fault)
        } else {
            continue;
        };
        *tally.entry(class.to_string()).or_insert(0) += 1;
    }
}

/// Runs one seed; `Ok` with a one-line summary, or `Err` with what went wrong.
async fn run_seed(env: &mut Env, proxy: &ChaosProxy, seed: u64, harsh: bool) -> Result<String, String> {
    let (steps, mix) = schedule(seed, harsh);
    let deployment = create_deployment(env)?;
    let tag = format!("s{seed}r{}", nonce());
    let customer: Vec<String> = (1..=MESSAGES_EACH_WAY).map(|n| format!("customer {n} of {tag}")).collect();
    let agent: Vec<String> = (1..=MESSAGES_EACH_WAY).map(|n| format!("agent {n} of {tag}")).collect();

    proxy.arm(seed, mix);
    let url = format!("{}/?deploymentId={deployment}&server={}", env.base, proxy.url());
    env.client.goto(&url).await.map_err(|err| format!("loading {url} failed: {err}"))?;
    if !env.eventually("!!document.querySelector('[data-testid=launcher]')", 20).await {
        return Err("the launcher did not appear within 20 s".into());
    }
    env.js("document.querySelector('[data-testid=launcher]').click(); return true;").await;
    if !env.eventually("document.querySelector('[data-testid=messenger]')?.getAttribute('data-state') === 'open'", 10).await {
        return Err("the messenger did not open within 10 s".into());
    }

    let mut token: Option<String> = None;
    let mut restarts = 0;
    for step in &steps {
        match *step {
            Step::Customer(n) => customer_sends(env, &customer[n as usize - 1]).await?,
            Step::Agent(n) => {
                let token = match &token {
                    Some(token) => token.clone(),
                    None => token.insert(wait_session_token(env, &deployment).await?).clone(),
                };
                agent_sends(env, &token, &deployment, &agent[n as usize - 1])?;
            }
            Step::RestartGateway => {
                proxy.note("gateway: SIGKILL and restart".into());
                tokio::task::block_in_place(|| env.restart_gateway());
                restarts += 1;
            }
            Step::Pause(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        }
    }
    let token = match token {
        Some(token) => token,
        None => wait_session_token(env, &deployment).await?,
    };
    proxy.calm();
    let faults = proxy.fault_log().iter().filter(|line| line.contains(" frame#")).count();
    let connections = proxy.websocket_connections();

    let converged = Instant::now();
    loop {
        let shown = env.messages().await;
        let server = server_texts(env, &token, &deployment)?;
        let page_done = customer.iter().all(|t| shown.iter().any(|m| m.text.contains(t) && m.status == "sent"))
            && agent.iter().all(|t| shown.iter().any(|m| m.text.contains(t)));
        let server_done = customer.iter().chain(&agent).all(|t| server.iter().any(|s| s == t));
        if page_done && server_done {
            break;
        }
        if converged.elapsed() > CONVERGE_LIMIT {
            let status = env.js("return document.querySelector('[data-testid=status]')?.getAttribute('data-state') ?? null;").await;
            return Err(format!(
                "not converged within {} s after the faults stopped (status {status}).\n\
                 page: {}\nserver: {server:?}",
                CONVERGE_LIMIT.as_secs(),
                describe(&shown)
            ));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let converge_ms = converged.elapsed().as_millis();
    tokio::time::sleep(SETTLE).await;

    let shown = env.messages().await;
    let server = server_texts(env, &token, &deployment)?;
    let mut problems = Vec::new();
    check_page(&shown, &customer, "inbound", &mut problems);
    check_page(&shown, &agent, "outbound", &mut problems);
    let ours = shown.iter().filter(|m| m.text.contains(&tag)).count();
    if ours != customer.len() + agent.len() {
        problems.push(format!("the page shows {ours} messages of this run, expected {}", customer.len() + agent.len()));
    }
    let mut ids: Vec<&str> = shown.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != shown.len() {
        problems.push("a data-id is shown twice".into());
    }
    check_server(&server, &customer, &mut problems);
    check_server(&server, &agent, &mut problems);
    if server.len() != customer.len() + agent.len() {
        problems.push(format!("the server holds {} texts, expected {}", server.len(), customer.len() + agent.len()));
    }
    if problems.is_empty() {
        Ok(format!(
            "{faults} faults, {connections} sockets, {restarts} restarts, converged {converge_ms} ms after calm"
        ))
    } else {
        Err(format!("{}\npage: {}\nserver: {server:?}", problems.join("\n"), describe(&shown)))
    }
}

/// Each of `texts` in exactly one message of `direction`, in this order.
fn check_page(shown: &[ShownMessage], texts: &[String], direction: &str, problems: &mut Vec<String>) {
    let mut last = None;
    for text in texts {
        let hits: Vec<usize> = shown.iter().enumerate().filter(|(_, m)| m.text.contains(text.as_str())).map(|(i, _)| i).collect();
        match hits.as_slice() {
            [index] => {
                if shown[*index].direction != direction {
                    problems.push(format!("page: {text:?} is {}, expected {direction}", shown[*index].direction));
                }
                if last.is_some_and(|last| *index < last) {
                    problems.push(format!("page: {text:?} is out of order"));
                }
                last = Some(*index);
            }
            _ => problems.push(format!("page: {text:?} is shown {} times", hits.len())),
        }
    }
}

/// Each of `texts` exactly once in the server's transcript, in this order.
fn check_server(server: &[String], texts: &[String], problems: &mut Vec<String>) {
    let mut last = None;
    for text in texts {
        let hits: Vec<usize> = server.iter().enumerate().filter(|(_, s)| *s == text).map(|(i, _)| i).collect();
        match hits.as_slice() {
            [index] => {
                if last.is_some_and(|last| *index < last) {
                    problems.push(format!("server: {text:?} is out of order"));
                }
                last = Some(*index);
            }
            _ => problems.push(format!("server: {text:?} is stored {} times", hits.len())),
        }
    }
}

fn describe(shown: &[ShownMessage]) -> String {
    let rows: Vec<String> = shown.iter().map(|m| format!("[{} {} {}] {}", m.direction, m.status, m.id, m.text)).collect();
    format!("{} messages:\n  {}", rows.len(), rows.join("\n  "))
}

/// Types `text` into the composer and sends it; the page must show it at once (queued while
/// the link is down, sent otherwise).
async fn customer_sends(env: &Env, text: &str) -> Result<(), String> {
    let field = env.composer_field().await;
    field.click().await.map_err(|err| format!("focusing the composer failed: {err}"))?;
    field.send_keys(text).await.map_err(|err| format!("typing {text:?} failed: {err}"))?;
    let send = env.client.find(Locator::Css("[data-testid=send]")).await.map_err(|err| format!("no send button: {err}"))?;
    send.click().await.map_err(|err| format!("clicking send for {text:?} failed: {err}"))?;
    let probe = format!(
        "Array.from(document.querySelectorAll('[data-testid=message]')).some(m => m.textContent.includes('{text}'))"
    );
    if env.eventually(&probe, 5).await {
        Ok(())
    } else {
        Err(format!("{text:?} was not shown within 5 s of pressing send"))
    }
}

/// A control API call straight to the gateway (every one answers 200 with JSON on success).
fn control_call(env: &Env, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
    request_ok(env.gateway_addr(), method, path, body.as_ref())
}

fn create_deployment(env: &Env) -> Result<String, String> {
    let body = control_call(env, "POST", "/control/deployments", Some(json!({ "guestSessionTtl": "1d" })))?;
    body["deploymentId"].as_str().map(str::to_string).ok_or_else(|| format!("no deploymentId in {body}"))
}

/// The token of the deployment's session, once the page's `configureSession` reached the server.
async fn wait_session_token(env: &Env, deployment: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sessions = control_call(env, "GET", &format!("/control/sessions?deploymentId={deployment}"), None)?;
        if let Some(token) = sessions.get(0).and_then(|s| s["token"].as_str()) {
            return Ok(token.to_string());
        }
        if Instant::now() > deadline {
            return Err("no session on the server within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn agent_sends(env: &Env, token: &str, deployment: &str, text: &str) -> Result<(), String> {
    let path = format!("/control/sessions/{token}/messages?deploymentId={deployment}");
    control_call(env, "POST", &path, Some(json!({ "text": text }))).map(|_| ())
}

/// The texts of the server's transcript, oldest first.
fn server_texts(env: &Env, token: &str, deployment: &str) -> Result<Vec<String>, String> {
    let session = control_call(env, "GET", &format!("/control/sessions/{token}?deploymentId={deployment}"), None)?;
    let transcript = session["transcript"].as_array().ok_or_else(|| format!("no transcript in {session}"))?;
    Ok(transcript.iter().filter_map(|body| body["text"].as_str().filter(|t| !t.is_empty()).map(str::to_string)).collect())
}

#[test]
fn schedules_cover_every_step_once() {
    for seed in 0..200 {
        let (steps, mix) = schedule(seed, false);
        for n in 1..=MESSAGES_EACH_WAY {
            assert_eq!(steps.iter().filter(|s| **s == Step::Customer(n)).count(), 1, "seed {seed}");
            assert_eq!(steps.iter().filter(|s| **s == Step::Agent(n)).count(), 1, "seed {seed}");
        }
        assert!(steps.iter().filter(|s| **s == Step::RestartGateway).count() <= 1);
        assert!((1..=3).contains(&mix.max_cuts) && (10..=35).contains(&mix.percent));
        assert_eq!(schedule(seed, false).0, steps, "a seed must always give the same schedule");
        let (harsh, _) = schedule(seed, true);
        assert!(harsh.iter().filter(|s| **s == Step::RestartGateway).count() <= 2);
        assert_eq!(harsh.iter().filter(|s| matches!(s, Step::Customer(_) | Step::Agent(_))).count() as u64, 2 * MESSAGES_EACH_WAY);
    }
}
