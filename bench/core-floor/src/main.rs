//! Every engine input and output the browser driver uses, reachable from one exported function
//! whose arguments come from JS, so the optimiser can drop nothing the messenger needs: decoding
//! the deployment config, stored state, server frames and history pages; every command; encoding
//! the frames and storage writes; markdown. No view, no web-sys.
use threadline_core::markdown;
use threadline_core::protocol::{DeploymentConfig, DeploymentId, HistoryPage};
use threadline_core::session::{EntryKey, Output, Persisted, SeededEntropy, Session, SessionConfig, StorageWrite};
use threadline_core::time::UnixMillis;
use wasm_bindgen::prelude::*;

/// Drives one session through `frames` and returns a number that depends on every output.
#[wasm_bindgen]
pub fn drive(config_json: &str, stored_outbox: &str, frames: Vec<String>, history_json: &str, text: String, now: u64) -> u32 {
    let at = |offset: u64| UnixMillis(now + offset);
    let mut config = SessionConfig::new(DeploymentId::from(text.clone()), text.clone());
    if let Ok(deployment) = DeploymentConfig::from_json(config_json) {
        config.max_message_chars = deployment.to_json().len();
    }
    let persisted = Persisted { token: None, outbox: serde_json::from_str(stored_outbox).unwrap_or_default() };
    let mut session = Session::new(config, persisted, Box::new(SeededEntropy::new(now)), at(0));
    session.open(at(0));
    session.handle_socket_opened(at(1));
    for frame in &frames {
        session.handle_frame(frame, at(2));
    }
    let sent = session.send_text(text.clone(), at(3)).is_ok();
    let _ = session.send_quick_reply(text.clone(), text.clone(), None, at(3));
    let _ = session.send_postback(text.clone(), text.clone(), None, at(3));
    let _ = session.send_date_picker_answer(text.clone(), None, at(3));
    let _ = session.request_upload(&text, &text, now, at(3));
    let _ = session.retry_message(&EntryKey(text.clone()), at(3));
    let _ = session.load_older(at(4));
    match HistoryPage::from_json(history_json) {
        Ok(page) => session.handle_history_page(page, at(5)),
        Err(_) => session.handle_history_failed(500, at(5)),
    }
    session.typing(at(6));
    session.handle_visibility(false, at(6));
    session.handle_network(false, at(7));
    session.handle_timeout(at(8));
    session.handle_socket_closed(1006, &text, false, at(9));
    session.retry_connection(at(10));
    session.sign_in(text.clone(), None, at(11));
    session.handle_jwt_refreshed(text.clone(), None, at(12));
    let _ = session.start_new_conversation(at(13));
    let mut total = u32::from(sent) + markdown::plain_text(&markdown::parse(&text)).len() as u32;
    while let Some(output) = session.poll_output() {
        total += match output {
            Output::Send(frame) => frame.len() as u32,
            Output::Persist(StorageWrite::Outbox(outbox)) => serde_json::to_string(&outbox).map_or(1, |json| json.len() as u32),
            _ => 1,
        };
    }
    total + session.poll_timeout().map_or(0, |deadline| deadline.0 as u32)
}

fn main() {}
