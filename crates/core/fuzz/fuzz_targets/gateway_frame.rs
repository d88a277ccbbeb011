//! The gateway's client-frame handler, `Hub::handle_client_frame` (what the WebSocket adapter
//! calls for every text frame), driven directly: no sockets, no async runtime.
//!
//! An input is up to [`MAX_FRAMES`] frames separated by newlines. Each input gets a fresh
//! socket that first sends a valid `configureSession` for the fixtures' token, so the fuzzed
//! frames reach the session-bound paths (messages, echo, attachments, close…), not just the
//! "not configured" refusal. Invariants: nothing panics, and every frame the gateway queues
//! for the socket is one `ServerFrame::from_json` (the browser's decoder) accepts.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use threadline_core::protocol::ServerFrame;
use threadline_gateway::domain::hub::Outgoing;
use threadline_gateway::store::Store;
use threadline_gateway::{Hub, HubOptions, ManualClock, DEMO_DEPLOYMENT_ID};

/// Frames per input: enough for configure → message → echo → close sequences.
const MAX_FRAMES: usize = 16;

/// The token of the shared protocol fixtures, so seed frames address the configured session.
const FIXTURE_TOKEN: &str = "3f1c2f0e-8a51-4d3b-9c57-1b7f0f2a6d11";

struct Gateway {
    hub: Hub,
    clock: ManualClock,
    configure: String,
}

fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| {
        // scripts/fuzz.sh points TMPDIR into the cargo target dir and clears it afterwards.
        let dir = std::env::temp_dir().join(format!("threadline-fuzz-gateway-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap_or_else(|error| panic!("fuzz setup: cannot open a store in {}: {error}", dir.display()));
        let clock = ManualClock::new(1_777_886_000_000);
        let hub = Hub::open(store, Arc::new(clock.clone()), HubOptions::default(), Vec::new(), true)
            .unwrap_or_else(|error| panic!("fuzz setup: cannot open the hub: {error}"));
        let configure = serde_json::json!({
            "action": "configureSession",
            "token": FIXTURE_TOKEN,
            "deploymentId": DEMO_DEPLOYMENT_ID,
            "tracingId": "fuzz-configure",
        })
        .to_string();
        Gateway { hub, clock, configure }
    })
}

fuzz_target!(|data: &[u8]| {
    let gateway = gateway();
    // Time moves on between inputs, so rate limits and URL expiry see realistic clocks.
    gateway.clock.advance_ms(1_000);
    let (socket, mut outgoing) = gateway.hub.register_socket(DEMO_DEPLOYMENT_ID, "http://127.0.0.1:9");
    gateway.hub.handle_client_frame(socket, &gateway.configure);
    for frame in data.split(|byte| *byte == b'\n').take(MAX_FRAMES) {
        // The adapter only hands over text frames, which are UTF-8 by then.
        gateway.hub.handle_client_frame(socket, &String::from_utf8_lossy(frame));
    }
    while let Ok(answer) = outgoing.try_recv() {
        if let Outgoing::Text(text) = answer {
            if let Err(error) = ServerFrame::from_json(&text) {
                panic!("gateway sent a frame the client cannot decode ({error}): {text}\ninput: {:?}", String::from_utf8_lossy(data));
            }
        }
    }
    gateway.hub.unregister_socket(socket);
});
