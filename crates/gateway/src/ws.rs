//! The WebSocket adapter: upgrade checks, then one task per socket that feeds text frames to
//! the [`Hub`] and writes what the hub queues (with injected faults applied).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::domain::hub::{Faults, Hub, Outgoing};
use crate::domain::session::SocketId;
use crate::AppState;

/// Transport-level cap: frames above it close the socket with 1009.
const ABSURD_FRAME_BYTES: usize = 1024 * 1024;

/// Initial read buffer per socket. The default (128 KiB) is zero-filled on every read and is
/// most of a socket's memory; guest frames are far smaller, and the buffer grows for big ones.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Query of `/v1`.
#[derive(Debug, Deserialize)]
pub struct SocketQuery {
    #[serde(rename = "deploymentId")]
    deployment_id: Option<String>,
}

/// `GET /v1?deploymentId=…`: refuses unknown deployments and disallowed origins with 403.
pub async fn upgrade(
    State(app): State<AppState>,
    Query(query): Query<SocketQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(deployment_id) = query.deployment_id.filter(|id| !id.is_empty()) else {
        return (StatusCode::FORBIDDEN, "deploymentId is required").into_response();
    };
    let Some(settings) = app.hub.deployment(&deployment_id) else {
        tracing::info!(deployment = %deployment_id, "upgrade refused: unknown deployment");
        return (StatusCode::FORBIDDEN, "Unknown deployment").into_response();
    };
    let origin = headers.get("origin").and_then(|value| value.to_str().ok());
    if !settings.allows_origin(origin) {
        tracing::info!(deployment = %deployment_id, origin = ?origin, "upgrade refused: origin not allowed");
        return (
            StatusCode::FORBIDDEN,
            "Origin not allowed for this deployment",
        )
            .into_response();
    }
    let base_url = crate::http::base_url(&headers, app.local_addr);
    let hub = app.hub.clone();
    upgrade
        .max_message_size(ABSURD_FRAME_BYTES)
        .max_frame_size(ABSURD_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let (socket_id, outgoing) = hub.register_socket(&deployment_id, &base_url);
            tracing::debug!(socket = socket_id, deployment = %deployment_id, "socket open");
            run_socket(hub.clone(), socket_id, &deployment_id, socket, outgoing).await;
            hub.unregister_socket(socket_id);
            tracing::debug!(socket = socket_id, "socket ended");
        })
}

/// Reads client frames and writes queued frames until either side ends.
async fn run_socket(
    hub: Arc<Hub>,
    socket_id: SocketId,
    deployment_id: &str,
    mut socket: WebSocket,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut faults = FaultState::new(socket_id);
    loop {
        let held_deadline = faults.held.as_ref().map(|(_, deadline)| *deadline);
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => hub.handle_client_frame(socket_id, text.as_str()),
                Some(Ok(Message::Binary(_))) => hub.refuse_frame(socket_id, 400, "Binary frames are not supported."),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => return,
                Some(Err(error)) => {
                    tracing::debug!(socket = socket_id, %error, "socket read failed");
                    // Oversized frames end here: say so with 1009 where the socket still allows it.
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame { code: 1009, reason: Utf8Bytes::from_static("Frame too large") })))
                        .await;
                    return;
                }
            },
            next = outgoing.recv() => {
                let Some(next) = next else { return };
                match next {
                    Outgoing::Text(frame) => {
                        if !faults.send(&hub, deployment_id, &mut socket, frame).await {
                            return;
                        }
                    }
                    Outgoing::Close(code, reason) => {
                        if let Some((held, _)) = faults.held.take() {
                            let _ = socket.send(Message::Text(held.into())).await;
                        }
                        let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                        // Give the peer a moment to answer the close handshake, then go.
                        let _ = tokio::time::timeout(Duration::from_secs(2), async {
                            while let Some(Ok(message)) = socket.recv().await {
                                if matches!(message, Message::Close(_)) {
                                    break;
                                }
                            }
                        })
                        .await;
                        return;
                    }
                    // Dropping the socket closes TCP without a close frame.
                    Outgoing::Abort => return,
                }
            }
            _ = sleep_until_opt(held_deadline) => {
                if let Some((held, _)) = faults.held.take() {
                    if socket.send(Message::Text(held.into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Per-socket fault bookkeeping.
struct FaultState {
    sent: u64,
    rng: u64,
    /// A frame held back to be sent after the next one (reordering).
    held: Option<(String, tokio::time::Instant)>,
}

impl FaultState {
    fn new(seed: u64) -> Self {
        Self {
            sent: 0,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            held: None,
        }
    }

    /// xorshift64*: enough randomness for fault injection.
    fn chance(&mut self, probability: f64) -> bool {
        if probability <= 0.0 {
            return false;
        }
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let sample =
            (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        sample < probability
    }

    /// Sends a frame through the configured faults; false when the socket must end.
    async fn send(
        &mut self,
        hub: &Hub,
        deployment_id: &str,
        socket: &mut WebSocket,
        frame: String,
    ) -> bool {
        let faults: Option<Faults> = hub.faults_for(deployment_id);
        let Some(faults) = faults else {
            return socket.send(Message::Text(frame.into())).await.is_ok();
        };
        if faults.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
        }
        if self.held.is_none() && self.chance(faults.reorder_rate) {
            self.held = Some((
                frame,
                tokio::time::Instant::now() + Duration::from_millis(200),
            ));
            return true;
        }
        let copies = if self.chance(faults.duplicate_rate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            if !self.send_counted(&faults, socket, frame.clone()).await {
                return false;
            }
        }
        if let Some((held, _)) = self.held.take() {
            return self.send_counted(&faults, socket, held).await;
        }
        true
    }

    async fn send_counted(
        &mut self,
        faults: &Faults,
        socket: &mut WebSocket,
        frame: String,
    ) -> bool {
        if faults
            .drop_after_frames
            .is_some_and(|limit| self.sent >= limit)
        {
            tracing::info!("fault injection: dropping the socket without a close frame");
            return false;
        }
        self.sent += 1;
        socket.send(Message::Text(frame.into())).await.is_ok()
    }
}
