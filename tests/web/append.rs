//! Appending to a transcript (issue 6 "one append ≤ 2 ms p95"): a new message renders its own
//! row only; rows whose content does not depend on being the newest keep their DOM nodes.

use serde_json::json;
use wasm_bindgen_test::*;

use super::{agent_text, session, settle, Fixture};

/// Bug pinned: every append re-rendered the previous newest row (its item key carried a "last"
/// flag), so each append built two message rows with their markdown instead of one.
#[wasm_bindgen_test]
async fn append_keeps_the_previous_newest_row_and_hides_old_quick_replies() {
    let fixture = Fixture::mount("en");
    fixture.connect(session(1800, 1800)).await;
    fixture.socket.frame(agent_text("a1", "first"));
    settle().await;
    let first = fixture.messages().pop().expect("the first message");

    fixture.socket.frame(agent_text("a2", "second"));
    settle().await;
    let rows = fixture.messages();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].is_same_node(Some(&first)), "the previous newest row was rendered again");

    // Quick replies are offered only on the newest message: that row does render again.
    let mut choice = agent_text("a3", "pick one");
    choice["body"]["type"] = json!("Structured");
    choice["body"]["content"] = json!([{"contentType": "QuickReply", "quickReply": {"text": "Yes", "payload": "yes", "action": "Message"}}]);
    fixture.socket.frame(choice);
    settle().await;
    assert_eq!(fixture.all(".tl-quick-reply").len(), 1, "offered on the newest message");
    let second = fixture.messages()[1].clone();

    fixture.socket.frame(agent_text("a4", "never mind"));
    settle().await;
    assert!(fixture.all(".tl-quick-reply").is_empty(), "no longer offered once a newer message arrived");
    assert!(fixture.messages()[1].is_same_node(Some(&second)), "a plain row keeps its DOM node");
    assert_eq!(fixture.messages().len(), 4);
}
