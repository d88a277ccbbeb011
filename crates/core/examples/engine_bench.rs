//! Session engine throughput: frames handled per second, and the cost of merging a
//! 10,000-message history page (target: ≤ 20 ms). Each figure is the median of 7 runs.
//!
//! Run: `cargo run --release -p threadline-core --example engine_bench`

use std::time::{Duration, Instant};

use threadline_core::protocol::{
    Channel, Direction, EpochSeconds, FrameKind, HistoryPage, IsoTime, JwtResponse, Message, MessageId, MessageType,
    OriginatingEntity, ServerFrame, SessionResponse, TracingId,
};
use threadline_core::session::{Output, Persisted, SeededEntropy, Session, SessionConfig};
use threadline_core::time::UnixMillis;

const RUNS: usize = 7;
const FRAMES: usize = 20_000;
const HISTORY: usize = 10_000;
const T0: u64 = 1_777_886_000_000;

fn main() {
    let frames = live_frames(FRAMES);
    let frame_times: Vec<Duration> = (0..RUNS).map(|_| time_frames(&frames)).collect();
    let per_run = median(frame_times);
    let rate = FRAMES as f64 / per_run.as_secs_f64();
    println!("live frames: {FRAMES} frames in {per_run:.2?} (median of {RUNS}) = {rate:.0} frames/s");

    let page = history_page(HISTORY);
    let merge_times: Vec<Duration> = (0..RUNS).map(|_| time_history_merge(&page)).collect();
    let merge = median(merge_times);
    let verdict = if merge <= Duration::from_millis(20) { "within" } else { "OVER" };
    println!("history merge: {HISTORY} messages in {merge:.2?} (median of {RUNS}; {verdict} the 20 ms target)");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn config() -> SessionConfig {
    SessionConfig::new("bench-deployment".into(), "ws://127.0.0.1:9/v1?deploymentId=bench-deployment")
}

fn drain(session: &mut Session) -> usize {
    let mut count = 0;
    while let Some(output) = session.poll_output() {
        std::hint::black_box(&output);
        count += 1;
    }
    count
}

/// A session with an open, configured socket (`new_session` as given).
fn configured(new_session: bool) -> Session {
    let now = UnixMillis(T0);
    let mut session = Session::new(config(), Persisted::default(), Box::new(SeededEntropy::new(1)), now);
    session.open(now);
    session.handle_socket_opened(now);
    let mut response = SessionResponse::connected(new_session);
    response.duration_seconds = Some(86_400);
    response.expiration_date = Some(EpochSeconds(((T0 / 1000) + 86_400) as i64));
    session.handle_frame(&ServerFrame::new(FrameKind::SessionResponse(response)).to_json(), now);
    drain(&mut session);
    session
}

fn agent_message(index: usize) -> Message {
    Message {
        id: Some(MessageId::new(format!("{index:032x}"))),
        message_type: MessageType::Text,
        text: Some(format!("Agent message number {index}, with a little text to parse.")),
        direction: Some(Direction::Outbound),
        channel: Some(Channel { time: Some(IsoTime::from_unix_millis(T0 + index as u64 * 10)), ..Channel::default() }),
        originating_entity: Some(OriginatingEntity::Human),
        ..Message::default()
    }
}

/// A realistic mix: agent messages, their duplicates, keep-alive answers and typing events.
fn live_frames(count: usize) -> Vec<String> {
    (0..count)
        .map(|index| match index % 10 {
            0 => {
                let mut echo = Message::text("ping");
                echo.direction = Some(Direction::Inbound);
                echo.metadata.insert("durationSeconds".into(), "86400".into());
                echo.metadata.insert("expirationDate".into(), ((T0 / 1000) + 86_400).to_string());
                ServerFrame::new(FrameKind::StructuredMessage(echo))
                    .with_tracing_id(TracingId::new(threadline_core::protocol::HEALTH_CHECK_TRACING_ID))
                    .to_json()
            }
            1 => ServerFrame::new(FrameKind::StructuredMessage(agent_message(index - 1))).to_json(),
            2 => include_typing(),
            _ => ServerFrame::new(FrameKind::StructuredMessage(agent_message(index))).to_json(),
        })
        .collect()
}

fn include_typing() -> String {
    r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"direction":"Outbound","id":"t","type":"Event","events":[{"eventType":"Typing","typing":{"type":"On","duration":5000}}]}}"#.to_owned()
}

fn time_frames(frames: &[String]) -> Duration {
    let mut session = configured(true);
    let start = Instant::now();
    for (index, frame) in frames.iter().enumerate() {
        session.handle_frame(frame, UnixMillis(T0 + index as u64));
        drain(&mut session);
    }
    let elapsed = start.elapsed();
    std::hint::black_box(session.transcript().len());
    elapsed
}

fn history_page(count: usize) -> HistoryPage {
    HistoryPage {
        // Newest first, like the server.
        entities: (0..count).rev().map(agent_message).collect(),
        page_size: count as u32,
        page_number: 1,
        total: count as u64,
        page_count: 1,
    }
}

fn time_history_merge(page: &HistoryPage) -> Duration {
    let now = UnixMillis(T0 + 1_000_000);
    let mut session = configured(false);
    // Resumed: the engine asked for a JWT; answer it so the page is the requested one.
    let jwt = JwtResponse { jwt: "bench".into(), exp: EpochSeconds(((T0 / 1000) + 3_600) as i64) };
    session.handle_frame(&ServerFrame::new(FrameKind::Jwt(jwt)).to_json(), now);
    let fetches = std::iter::from_fn(|| session.poll_output()).filter(|output| matches!(output, Output::FetchHistory { .. })).count();
    assert_eq!(fetches, 1, "the engine requested page 1");
    let page = page.clone();
    let start = Instant::now();
    session.handle_history_page(page, now);
    let outputs = drain(&mut session);
    let elapsed = start.elapsed();
    assert_eq!(session.transcript().len(), HISTORY);
    std::hint::black_box(outputs);
    elapsed
}
