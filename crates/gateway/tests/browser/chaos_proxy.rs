//! A loopback chaos proxy between the browser and the gateway (issue "Proof" §2).
//!
//! # What it is
//!
//! A TCP proxy on `127.0.0.1:0` that forwards to the gateway. The page is pointed at it as its
//! server (`?server=http://127.0.0.1:<proxy>`), so every request of the client goes through it:
//! `config.json`, history pages, uploads and the WebSocket `/v1`.
//!
//! * Plain HTTP passes through byte for byte (a connection that starts as plain HTTP stays a
//!   pass-through, keep-alive requests included; browsers open WebSockets on their own
//!   connections). Faults on REST calls are out of scope here; a
//!   gateway restart already makes them fail for real.
//! * A request carrying `Upgrade: websocket` is forwarded (minus `Sec-WebSocket-Extensions`, so
//!   no permessage-deflate is negotiated and frames stay readable); once the gateway answers
//!   `101`, the proxy parses WebSocket frames in both directions (client→server frames are
//!   masked: the proxy unmasks to read and re-masks with the same key to write) and applies
//!   faults to data frames only. Control frames (ping, pong, close) and fragments pass as they
//!   are.
//!
//! # Faults (each one realistic for a TCP connection or a broken middlebox)
//!
//! Server → client data frames:
//! * `delay` 20–250 ms (the stream stalls: later frames wait behind it, as on TCP);
//! * `duplicate` (the same frame twice, as a replaying server would send it);
//! * `reorder` (held back until the next frame has gone, at most [`REORDER_WINDOW`]);
//! * `truncate` (the payload cut at a char boundary: invalid JSON the client must treat as a
//!   malformed frame and survive), followed by a cut after 0–2 more frames or
//!   [`TRUNCATE_CUT_WINDOW`], whichever comes first: what was lost can only come back through a
//!   reconnect and history, as it would after a real corruption;
//! * `drop+cut` (the frame is lost and the connection dies with it);
//! * `cut` (the frame arrives, then the connection dies).
//!
//! Client → server data frames: `delay`, `drop+cut` (a send lost with the connection) and `cut`
//! after forwarding (the server has the message, the client never sees the echo: the outbox must
//! reconcile instead of sending it twice). Client frames are never duplicated or reordered: TCP
//! cannot do that to them, and the real service does not de-duplicate retransmitted actions.
//!
//! A silent drop with the socket left open is NOT scheduled: only the 90 s keep-alive would
//! notice it, which is correct behaviour but too slow for a seeded run. Gateway restarts are
//! driven by the test itself (`Env::restart_gateway`); the proxy sees them as upstream
//! connections that die and as refused connects, and cuts the browser's side in turn.
//!
//! A cut closes both TCP connections without a WebSocket close frame, which the browser
//! reports as code 1006.
//!
//! # The schedule
//!
//! [`ChaosProxy::arm`] starts a schedule for one seed. Whether and how a data frame is faulted
//! is a pure function of (seed, WebSocket connection ordinal since `arm`, direction, data-frame
//! ordinal on that connection) through a splitmix64 hash, so a seed always means the same
//! schedule. The browser's timing can still interleave differently between runs of one seed;
//! the fault log ([`ChaosProxy::fault_log`]) says what actually happened. Connection cuts draw
//! from a per-seed budget (`max_cuts`), so a seed cannot starve the client of a link forever.
//! [`ChaosProxy::calm`] stops all faults at once, also on live connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Longest a reordered server frame waits for a successor before it is sent anyway.
pub const REORDER_WINDOW: Duration = Duration::from_millis(150);

/// Longest a connection lives on after a truncated frame.
pub const TRUNCATE_CUT_WINDOW: Duration = Duration::from_millis(300);

/// Largest WebSocket frame the proxy will buffer (the gateway closes at 1 MiB).
const MAX_FRAME: u64 = 4 * 1024 * 1024;

/// Largest HTTP request or response head the proxy reads before giving up on a connection.
const MAX_HEAD: usize = 64 * 1024;

/// splitmix64: a tiny, well-mixed PRNG; enough to turn a seed into a schedule.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant for a test schedule).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low) + 1)
    }

    /// True with `percent`% probability.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// How often a schedule faults data frames (every fault class of a direction is equally likely).
#[derive(Clone, Copy, Debug)]
pub struct FaultMix {
    /// Share of data frames that get a fault, in percent.
    pub percent: u64,
    /// Connection cuts (drop+cut, cut, truncate's cut) allowed per seed.
    pub max_cuts: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    fn arrow(self) -> &'static str {
        match self {
            Self::ClientToServer => "c→s",
            Self::ServerToClient => "s→c",
        }
    }
}

/// What happens to one data frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Pass,
    Delay(u64),
    Duplicate,
    Reorder,
    /// Keep this many ‰ of the payload, then cut after this many more data frames.
    Truncate { keep_permille: u64, cut_after: u64 },
    DropThenCut,
    CutAfter,
}

impl Fault {
    fn cuts(self) -> bool {
        matches!(self, Self::Truncate { .. } | Self::DropThenCut | Self::CutAfter)
    }
}

/// The schedule of the current seed (`None` = calm: pass everything).
#[derive(Debug)]
struct Plan {
    seed: u64,
    mix: FaultMix,
    /// Bumped by every `arm`, so connections of an older schedule stop drawing faults.
    epoch: u64,
    armed_at: Instant,
    cuts_left: u64,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    plan: Mutex<Option<Plan>>,
    epoch: AtomicU64,
    /// WebSocket connections seen since the last `arm` (the ordinal of the next one).
    connections: AtomicU64,
    log: Mutex<Vec<String>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// The fault for data frame `frame` of connection `conn` (of schedule `epoch`) in `dir`.
    fn decide(&self, epoch: u64, conn: u64, dir: Direction, frame: u64) -> Fault {
        let mut guard = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        let Some(plan) = guard.as_mut().filter(|plan| plan.epoch == epoch) else { return Fault::Pass };
        let dir_bit = u64::from(dir == Direction::ServerToClient);
        let mut rng = SplitMix::new(
            plan.seed ^ conn.wrapping_mul(0xA24B_AED4_963E_E407) ^ frame.wrapping_mul(0x9FB2_1C65_1E98_DF25) ^ (dir_bit << 63),
        );
        // Warm up so neighbouring inputs do not give correlated first draws.
        rng.next_u64();
        if !rng.chance(plan.mix.percent) {
            return Fault::Pass;
        }
        // Every candidate's parameters are drawn (in this order) before one is picked, so a seed
        // keeps its schedule.
        let candidates = match dir {
            Direction::ServerToClient => vec![
                Fault::Delay(rng.between(20, 250)),
                Fault::Duplicate,
                Fault::Reorder,
                Fault::Truncate { keep_permille: rng.between(50, 950), cut_after: rng.below(3) },
                Fault::DropThenCut,
                Fault::CutAfter,
            ],
            Direction::ClientToServer => vec![Fault::Delay(rng.between(20, 250)), Fault::DropThenCut, Fault::CutAfter],
        };
        let fault = candidates[rng.below(candidates.len() as u64) as usize];
        if fault.cuts() {
            if plan.cuts_left == 0 {
                return Fault::Pass;
            }
            plan.cuts_left -= 1;
        }
        let at = plan.armed_at.elapsed().as_millis();
        drop(guard);
        self.note(format!("t+{at}ms conn#{conn} {} frame#{frame}: {fault:?}", dir.arrow()));
        fault
    }

    fn note(&self, line: String) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

/// The proxy; its tasks are aborted on drop.
pub struct ChaosProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl ChaosProxy {
    /// Listens on a free loopback port and forwards to `upstream`; calm until `arm`.
    pub async fn start(upstream: SocketAddr) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the chaos proxy");
        let addr = listener.local_addr().expect("chaos proxy address");
        let shared = Arc::new(Shared {
            upstream,
            plan: Mutex::new(None),
            epoch: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
        });
        let accept_shared = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = accept_shared.clone();
                let task = tokio::spawn(handle_connection(client, shared));
                let mut tasks = accept_shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
                tasks.retain(|task| !task.is_finished());
                tasks.push(task);
            }
        });
        ChaosProxy { addr, shared, accept }
    }

    /// `http://127.0.0.1:<port>`: the server URL to give the page.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts the schedule of `seed` (and clears the fault log).
    pub fn arm(&self, seed: u64, mix: FaultMix) {
        let epoch = self.shared.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.shared.connections.store(0, Ordering::SeqCst);
        self.shared.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.shared.plan.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Plan { seed, mix, epoch, armed_at: Instant::now(), cuts_left: mix.max_cuts });
    }

    /// Stops injecting faults, on live connections too.
    pub fn calm(&self) {
        *self.shared.plan.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Appends a line to the fault log (the test notes its own steps there).
    pub fn note(&self, line: String) {
        self.shared.note(line);
    }

    /// What the proxy did since `arm`, one line per fault.
    pub fn fault_log(&self) -> Vec<String> {
        self.shared.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many WebSocket connections were opened through the proxy since `arm`.
    pub fn websocket_connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.shared.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            task.abort();
        }
    }
}

/// Reads an HTTP head (through the blank line) from `stream`; `None` on EOF, error or overflow.
/// Bytes after the head that arrived in the same read are returned as well.
async fn read_head(stream: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn is_websocket_upgrade(head: &[u8]) -> bool {
    String::from_utf8_lossy(head).lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("upgrade") && value.trim().eq_ignore_ascii_case("websocket")
        })
    })
}

/// The request head without `Sec-WebSocket-Extensions` (no compression: frames stay readable).
fn without_extensions(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive("\r\n") {
        let is_extensions =
            line.split_once(':').is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-extensions"));
        if !is_extensions {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

fn status_of(head: &[u8]) -> u16 {
    String::from_utf8_lossy(head).split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

async fn handle_connection(mut client: TcpStream, shared: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    // A refused connect (gateway restarting) closes the browser's connection: a failed fetch or
    // a WebSocket error, as a dead server gives.
    let Ok(mut server) = TcpStream::connect(shared.upstream).await else { return };
    let _ = server.set_nodelay(true);
    let Some((head, early)) = read_head(&mut client).await else { return };
    if !is_websocket_upgrade(&head) {
        if server.write_all(&head).await.is_err() || server.write_all(&early).await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        return;
    }
    if server.write_all(&without_extensions(&head)).await.is_err() || server.write_all(&early).await.is_err() {
        return;
    }
    let Some((response, server_early)) = read_head(&mut server).await else { return };
    if client.write_all(&response).await.is_err() {
        return;
    }
    if status_of(&response) != 101 {
        if client.write_all(&server_early).await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        return;
    }
    let epoch = shared.epoch.load(Ordering::SeqCst);
    let conn = shared.connections.fetch_add(1, Ordering::SeqCst);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let upward = pump_client_frames(FrameReader::new(client_read, Vec::new()), server_write, &shared, epoch, conn);
    let downward = pump_server_frames(FrameReader::new(server_read, server_early), client_write, &shared, epoch, conn);
    // Whichever side ends first (EOF, error or a scheduled cut) ends both: dropping the halves
    // closes both TCP connections without a close frame.
    let how = tokio::select! {
        how = upward => how,
        how = downward => how,
    };
    if let Ending::Cut(reason) = how {
        shared.note(format!("conn#{conn}: cut ({reason})"));
    }
}

enum Ending {
    /// EOF or an I/O error on either side.
    Closed,
    /// The schedule cut the connection.
    Cut(&'static str),
}

/// One WebSocket frame, payload unmasked.
#[derive(Clone, Debug)]
struct Frame {
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: Vec<u8>,
}

impl Frame {
    fn is_data(&self) -> bool {
        self.fin && (self.opcode == 1 || self.opcode == 2)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + 14);
        out.push(if self.fin { 0x80 } else { 0 } | (self.opcode & 0x0F));
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let len = self.payload.len();
        if len < 126 {
            out.push(mask_bit | len as u8);
        } else if len <= 0xFFFF {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(self.payload.iter().enumerate().map(|(i, byte)| byte ^ key[i % 4]));
            }
            None => out.extend_from_slice(&self.payload),
        }
        out
    }

    /// The same frame with its payload cut to about `permille`‰, at a UTF-8 boundary for text.
    fn truncated(&self, permille: u64) -> Frame {
        let len = self.payload.len();
        if len < 2 {
            return Frame { payload: Vec::new(), ..self.clone() };
        }
        let mut keep = ((len as u64 * permille) / 1000).clamp(1, len as u64 - 1) as usize;
        if self.opcode == 1 {
            while keep > 0 && keep < len && (self.payload[keep] & 0xC0) == 0x80 {
                keep -= 1;
            }
        }
        Frame { payload: self.payload[..keep].to_vec(), ..self.clone() }
    }
}

/// Parses one frame from the front of `buf`: `Ok(None)` while incomplete, `Err` when invalid.
fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, &'static str> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    let opcode = buf[0] & 0x0F;
    let masked = buf[1] & 0x80 != 0;
    let mut at = 2;
    let len = match buf[1] & 0x7F {
        126 => {
            let Some(bytes) = buf.get(2..4) else { return Ok(None) };
            at = 4;
            u64::from(u16::from_be_bytes([bytes[0], bytes[1]]))
        }
        127 => {
            let Some(bytes) = buf.get(2..10) else { return Ok(None) };
            at = 10;
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            u64::from_be_bytes(word)
        }
        short => u64::from(short),
    };
    if len > MAX_FRAME {
        return Err("frame too large for the proxy");
    }
    let mask = if masked {
        let Some(bytes) = buf.get(at..at + 4) else { return Ok(None) };
        at += 4;
        Some([bytes[0], bytes[1], bytes[2], bytes[3]])
    } else {
        None
    };
    let end = at + len as usize;
    let Some(raw) = buf.get(at..end) else { return Ok(None) };
    let payload = match mask {
        Some(key) => raw.iter().enumerate().map(|(i, byte)| byte ^ key[i % 4]).collect(),
        None => raw.to_vec(),
    };
    Ok(Some((Frame { fin, opcode, mask, payload }, end)))
}

/// Reads frames from a stream. `next` is cancel-safe (only complete frames leave the buffer),
/// so it can race a timer in `select!`.
struct FrameReader<R> {
    stream: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    fn new(stream: R, early: Vec<u8>) -> Self {
        Self { stream, buf: early }
    }

    /// The next frame; `None` on EOF, I/O error or an unparsable stream.
    async fn next(&mut self) -> Option<Frame> {
        let mut chunk = [0u8; 8192];
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((frame, used))) => {
                    self.buf.drain(..used);
                    return Some(frame);
                }
                Ok(None) => {}
                Err(_) => return None,
            }
            let n = self.stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

async fn pump_client_frames(
    mut reader: FrameReader<OwnedReadHalf>,
    mut server: OwnedWriteHalf,
    shared: &Shared,
    epoch: u64,
    conn: u64,
) -> Ending {
    let mut ordinal = 0;
    while let Some(frame) = reader.next().await {
        let fault = if frame.is_data() {
            ordinal += 1;
            shared.decide(epoch, conn, Direction::ClientToServer, ordinal)
        } else {
            Fault::Pass
        };
        match fault {
            Fault::DropThenCut => return Ending::Cut("client frame dropped"),
            Fault::Delay(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            _ => {}
        }
        if server.write_all(&frame.encode()).await.is_err() {
            return Ending::Closed;
        }
        if fault == Fault::CutAfter {
            // Give the bytes a moment to reach the server before the connection dies.
            tokio::time::sleep(Duration::from_millis(5)).await;
            return Ending::Cut("after a client frame");
        }
    }
    Ending::Closed
}

async fn pump_server_frames(
    mut reader: FrameReader<OwnedReadHalf>,
    mut client: OwnedWriteHalf,
    shared: &Shared,
    epoch: u64,
    conn: u64,
) -> Ending {
    let mut ordinal = 0;
    // A frame held back by `Reorder`, and when it must go at the latest.
    let mut held: Option<(Frame, tokio::time::Instant)> = None;
    // After a truncation: data frames still allowed through, and the time limit.
    let mut cut_after: Option<(u64, tokio::time::Instant)> = None;
    loop {
        let deadline = [held.as_ref().map(|(_, at)| *at), cut_after.map(|(_, at)| at)].into_iter().flatten().min();
        let frame = match deadline {
            Some(at) => tokio::select! {
                frame = reader.next() => frame,
                () = tokio::time::sleep_until(at) => {
                    if cut_after.is_some_and(|(_, limit)| limit <= tokio::time::Instant::now()) {
                        return Ending::Cut("after a truncated frame (time)");
                    }
                    if let Some((frame, _)) = held.take() {
                        if client.write_all(&frame.encode()).await.is_err() {
                            return Ending::Closed;
                        }
                    }
                    continue;
                }
            },
            None => reader.next().await,
        };
        let Some(frame) = frame else { return Ending::Closed };
        let fault = if frame.is_data() {
            ordinal += 1;
            shared.decide(epoch, conn, Direction::ServerToClient, ordinal)
        } else {
            Fault::Pass
        };
        let mut out = Vec::new();
        match fault {
            Fault::Pass | Fault::CutAfter => out.extend(frame.encode()),
            Fault::Delay(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                out.extend(frame.encode());
            }
            Fault::Duplicate => {
                let bytes = frame.encode();
                out.extend_from_slice(&bytes);
                out.extend(bytes);
            }
            Fault::Reorder if held.is_none() => {
                held = Some((frame, tokio::time::Instant::now() + REORDER_WINDOW));
                continue;
            }
            Fault::Reorder => out.extend(frame.encode()),
            Fault::Truncate { keep_permille, cut_after: after } => {
                out.extend(frame.truncated(keep_permille).encode());
                let limit = tokio::time::Instant::now() + TRUNCATE_CUT_WINDOW;
                // `after + 1`: the count-down below also runs for this frame.
                cut_after = Some(cut_after.map_or((after + 1, limit), |(left, at)| (left.min(after + 1), at.min(limit))));
            }
            Fault::DropThenCut => return Ending::Cut("server frame dropped"),
        }
        // The held frame goes after this one: that is the reordering.
        if let Some((late, _)) = held.take() {
            out.extend(late.encode());
        }
        if client.write_all(&out).await.is_err() {
            return Ending::Closed;
        }
        if fault == Fault::CutAfter {
            tokio::time::sleep(Duration::from_millis(5)).await;
            return Ending::Cut("after a server frame");
        }
        if let Some((left, limit)) = cut_after {
            if left <= 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                return Ending::Cut("after a truncated frame");
            }
            cut_after = Some((left - 1, limit));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_masked_and_unmasked() {
        for (len, mask) in [(5usize, None), (200, Some([1, 2, 3, 4])), (70_000, Some([9, 8, 7, 6])), (0, None)] {
            let frame = Frame { fin: true, opcode: 1, mask, payload: vec![b'x'; len] };
            let bytes = frame.encode();
            let (parsed, used) = parse_frame(&bytes).unwrap().unwrap();
            assert_eq!(used, bytes.len());
            assert_eq!((parsed.payload, parsed.mask), (frame.payload, frame.mask));
            assert!(parse_frame(&bytes[..bytes.len() - 1]).unwrap().is_none(), "a cut-off frame is incomplete");
        }
    }

    #[test]
    fn truncation_keeps_utf8_whole_and_shortens() {
        let frame = Frame { fin: true, opcode: 1, mask: None, payload: "{\"text\":\"ééééé\"}".as_bytes().to_vec() };
        for permille in [1, 300, 500, 700, 999] {
            let cut = frame.truncated(permille);
            assert!(cut.payload.len() < frame.payload.len() && !cut.payload.is_empty());
            assert!(std::str::from_utf8(&cut.payload).is_ok(), "{permille}: {:?}", cut.payload);
        }
    }

    #[test]
    fn a_seed_always_gives_the_same_schedule() {
        let draw = |seed| {
            let mut rng = SplitMix::new(seed);
            (0..8).map(|_| rng.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }
}
