//! People (issue 6 §2, §4, §7): keyboard use and focus, right-to-left Arabic, the polite live
//! region, the unread badge and the agent typing indicator.

use std::sync::OnceLock;

use fantoccini::key::Key;
use serde_json::json;

use crate::harness::{Env, ANIMATIONS_SETTLED_JS};
use crate::messenger::nonce;

/// True when the focused element is inside the messenger panel (a JS expression).
const FOCUS_IN_PANEL: &str = "(() => { const a = document.activeElement; \
    return !!a && !!a.closest('[data-testid=messenger]') && a.getAttribute('data-testid') !== 'launcher'; })()";

#[tokio::test]
async fn keyboard_opens_sends_with_enter_and_escape_returns_focus_to_the_launcher() {
    let env = Env::start().await;
    let deployment = env.create_deployment(json!({ "guestSessionTtl": "1d" }));
    env.open_page(&deployment).await;

    // Open from the keyboard: focus the launcher, press Enter; focus moves into the panel.
    let launcher = env.wait_for("[data-testid=launcher]", 10).await;
    env.js("document.querySelector('[data-testid=launcher]').focus(); return true;").await;
    launcher.send_keys(&Key::Enter.to_string()).await.expect("press Enter on the launcher");
    env.wait_state("messenger", "open", 5).await;
    env.wait_js(FOCUS_IN_PANEL, json!(true), 5).await;
    env.wait_status("connected", 10).await;

    // Shift+Enter is a newline, Enter sends: one message holding both lines.
    let tag = nonce();
    let field = env.composer_field().await;
    let keys = format!(
        "first line {tag}{shift}{enter}{release}second line {tag}{enter}",
        shift = Key::Shift,
        enter = Key::Enter,
        release = Key::Null
    );
    field.send_keys(&keys).await.expect("type two lines and Enter");
    let shown = env
        .wait_messages("the two-line message sent with Enter", 10, |shown| {
            shown.iter().any(|m| m.status == "sent" && m.text.contains(&format!("second line {tag}")))
        })
        .await;
    let message = shown.iter().find(|m| m.text.contains(&format!("second line {tag}"))).expect("sent message");
    assert!(message.text.contains(&format!("first line {tag}")), "Shift+Enter split the message: {shown:#?}");
    assert_eq!(shown.len(), 1, "Shift+Enter sent a message of its own: {shown:#?}");
    let left = env.js("const f = document.querySelector('[data-testid=composer]'); \
        const t = f.matches('textarea,input') ? f : f.querySelector('textarea,input'); return t ? t.value : null;").await;
    assert_eq!(left, json!(""), "the composer is not cleared after sending");

    // Escape closes and puts focus back on the launcher.
    env.close_messenger_from_composer().await;
    let on_launcher = "document.activeElement?.getAttribute('data-testid') === 'launcher'";
    let returned = env.eventually(on_launcher, 2).await;
    let focus = env.focus_description().await;
    assert!(returned, "2 s after Escape closed the panel, focus is on {focus}, not the launcher");

    // Sending with the mouse must not drop focus out of the panel (the next Escape or Tab
    // would otherwise go nowhere).
    env.open_messenger().await;
    let by_button = format!("sent by button {tag}");
    env.send_and_confirm(&by_button).await;
    let in_panel = env.eventually(FOCUS_IN_PANEL, 2).await;
    let focus = env.focus_description().await;
    assert!(in_panel, "after clicking send (and 2 s more), focus is out of the panel: on {focus}");
    env.finish().await;
}

#[tokio::test]
async fn arabic_locale_lays_the_messenger_out_right_to_left() {
    let env = Env::start().await;
    let deployment = env.create_deployment(json!({ "guestSessionTtl": "1d" }));
    env.open_page_with(&deployment, "&locale=ar").await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    let layout = env
        .js("const m = document.querySelector('[data-testid=messenger]'); \
             const root = m.closest('[dir]'); \
             return { dir: root ? root.getAttribute('dir') : null, computed: getComputedStyle(m).direction };")
        .await;
    assert_eq!(layout["dir"], json!("rtl"), "locale=ar: the messenger root lacks dir=rtl: {layout}");
    assert_eq!(layout["computed"], json!("rtl"), "locale=ar: the messenger is not laid out right to left: {layout}");
    env.screenshot("arabic-rtl").await;
    env.finish().await;
}

#[tokio::test]
async fn agent_typing_live_announcement_and_unread_badge() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d", "showAgentTypingIndicator": true })).await;
    let tag = nonce();
    let own = format!("my question {tag}");
    env.send_and_confirm(&own).await;
    let token = env.wait_session_token(&deployment, 5).await;

    // Record what the polite live region says over time (it announces, then clears).
    env.js(
        "window.__tlSaid = []; \
         document.querySelectorAll('[aria-live=polite]').forEach(r => new MutationObserver(() => { \
           const t = (r.textContent || '').trim(); if (t) window.__tlSaid.push(t); \
         }).observe(r, { subtree: true, childList: true, characterData: true })); \
         return document.querySelectorAll('[aria-live=polite]').length;",
    )
    .await;

    env.control(&token, &deployment, "typing", json!({}));
    let typing = env.wait_for("[data-testid=typing]", 5).await;
    assert!(typing.is_displayed().await.expect("typing displayed"), "the typing indicator is not visible");
    let answer = format!("the answer {tag}");
    env.agent_says(&token, &deployment, &answer);
    env.wait_messages("the agent answer", 10, |shown| shown.iter().any(|m| m.text.contains(&answer))).await;
    env.wait_js(&format!("(window.__tlSaid || []).some(t => t.includes('{answer}'))"), json!(true), 5).await;
    let said = env.js("return window.__tlSaid;").await;
    assert!(
        !said.as_array().into_iter().flatten().any(|t| t.as_str().unwrap_or_default().contains(&own)),
        "the live region read out the customer's own message (whole transcript?): {said}"
    );

    // Closed panel: an agent message raises the unread badge; opening clears it.
    env.close_messenger_from_composer().await;
    env.agent_says(&token, &deployment, &format!("are you there {tag}"));
    let badge = env.wait_for("[data-testid=unread-badge]", 10).await;
    env.wait_js("((document.querySelector('[data-testid=unread-badge]') || {}).textContent || '').trim()", json!("1"), 5).await;
    assert!(badge.is_displayed().await.expect("badge displayed"), "the unread badge is not visible");
    env.screenshot("unread-badge").await;
    env.open_messenger().await;
    env.wait_js(
        "(() => { const b = document.querySelector('[data-testid=unread-badge]'); \
           return !b || b.offsetParent === null || (b.textContent || '').trim() === ''; })()",
        json!(true),
        5,
    )
    .await;
    env.finish().await;
}

/// Where the panel is, what the composer's font size is, whether the launcher shows and the
/// page's own `overflow` (a JS function body).
const MOBILE_LAYOUT_JS: &str = r#"
const panel = document.querySelector('[data-testid=messenger]').getBoundingClientRect();
const launcher = document.querySelector('[data-testid=launcher]').getBoundingClientRect();
return {
  panel: [Math.round(panel.left), Math.round(panel.top), Math.round(panel.width), Math.round(panel.height)],
  viewport: [0, 0, Math.round(visualViewport.width), Math.round(visualViewport.height)],
  composerFont: getComputedStyle(document.querySelector('[data-testid=composer]')).fontSize,
  launcherShown: launcher.width > 0,
  pageOverflow: document.documentElement.style.overflow,
};
"#;

#[tokio::test]
async fn on_a_phone_the_panel_fills_the_visual_viewport_with_16px_inputs_and_holds_the_page_still() {
    let env = Env::start().await;
    env.client.set_window_size(390, 760).await.expect("a phone-sized window");
    let deployment = env.create_deployment(json!({ "guestSessionTtl": "30m" }));
    env.open_page(&deployment).await;
    // A host page long enough to scroll, with an overflow of its own to put back.
    env.js("document.body.style.minHeight = '4000px'; document.documentElement.style.overflow = 'auto'; return null;").await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    // The panel rises into place (a 0.18 s animation): measure where it comes to rest.
    env.wait_js(ANIMATIONS_SETTLED_JS, json!(true), 5).await;

    let open = env.js(MOBILE_LAYOUT_JS).await;
    assert_eq!(open["panel"], open["viewport"], "the open panel fills the visual viewport: {open}");
    assert_eq!(open["composerFont"], json!("16px"), "inputs under 16 px make iOS zoom: {open}");
    assert_eq!(open["launcherShown"], json!(false), "the launcher hides behind a full-screen panel: {open}");
    assert_eq!(open["pageOverflow"], json!("hidden"), "the page behind the panel must not scroll: {open}");
    env.screenshot("mobile-open").await;

    env.close_messenger().await;
    let closed = env.js(MOBILE_LAYOUT_JS).await;
    assert_eq!(closed["launcherShown"], json!(true), "the launcher is back once closed: {closed}");
    assert_eq!(closed["pageOverflow"], json!("auto"), "the page's own overflow is put back: {closed}");
    env.finish().await;
}

/// Runs axe-core on the messenger and answers its violations (id, impact, help, first targets).
const AXE_RUN_JS: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document.querySelector('.tl-root'), { resultTypes: ['violations'] })
  .then(result => done(result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ': ' + (n.failureSummary || '').slice(0, 240)),
  }))))
  .catch(error => done([{ id: 'axe-failed', impact: 'critical', help: String(error), nodes: [] }]));
"#;

/// axe-core's source (installed by scripts/tools.sh from npm), read from disk once.
fn axe_source() -> &'static str {
    static AXE: OnceLock<String> = OnceLock::new();
    AXE.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error} (scripts/tools.sh installs axe-core)", path.display()))
    })
}

impl Env {
    /// Audits the messenger as it is shown now with axe-core and fails on any violation, naming
    /// the state. axe-core is injected once per loaded page.
    async fn assert_accessible(&self, state: &str) {
        let axe = axe_source();
        // Colours are judged as they come to rest, not halfway through the panel's fade-in
        // (endless animations such as the typing dots never finish and do not count).
        self.wait_js(ANIMATIONS_SETTLED_JS, json!(true), 5).await;
        if self.js("return typeof axe === 'undefined';").await == json!(true) {
            self.client.execute(axe, vec![]).await.expect("load axe-core into the page");
        }
        let violations = self.client.execute_async(AXE_RUN_JS, vec![]).await.expect("run axe-core");
        if violations != json!([]) {
            self.screenshot(&format!("axe-{state}")).await;
        }
        assert_eq!(violations, json!([]), "accessibility violations ({state}):\n{violations:#}");
    }
}

/// A card carousel and quick replies, the richest content the transcript renders.
fn rich_content() -> serde_json::Value {
    json!([
        {"contentType": "Carousel", "carousel": {"cards": [
            {"title": "Deluxe Room", "description": "King bed, sea view",
             "actions": [{"type": "Postback", "text": "Book now", "payload": "book_deluxe"},
                         {"type": "Link", "text": "More info", "url": "https://hotel.example/rooms/deluxe"}]},
            {"title": "Suite", "description": "Two rooms", "actions": [{"type": "Postback", "text": "Book now", "payload": "book_suite"}]}
        ]}},
        {"contentType": "QuickReply", "quickReply": {"text": "Track my order", "payload": "track", "action": "Message"}},
        {"contentType": "QuickReply", "quickReply": {"text": "Talk to an agent", "payload": "agent", "action": "Message"}}
    ])
}

#[tokio::test]
async fn axe_finds_no_accessibility_violations_in_the_main_states_light_dark_and_arabic_on_a_yellow_brand() {
    let env = Env::start().await;
    // (name, page options): a light brand colour tests the dark text and darkened links it gets.
    let looks = [("light", "&theme=light"), ("dark", "&theme=dark"), ("yellow-ar", "&theme=light&locale=ar&primaryColor=%23ffd400")];
    for (theme, options) in looks {
        let deployment = env.create_deployment(json!({ "guestSessionTtl": "30m" }));
        env.open_page_with(&deployment, options).await;
        env.assert_accessible(&format!("{theme}, closed")).await;

        env.open_messenger().await;
        env.wait_status("connected", 10).await;
        env.assert_accessible(&format!("{theme}, open")).await;

        let tag = nonce();
        env.send_and_confirm(&format!("hello {tag}")).await;
        let token = env.wait_session_token(&deployment, 5).await;
        let markdown = format!("**Rooms** for you, see [our site](https://hotel.example) {tag}");
        env.control(&token, &deployment, "messages", json!({ "text": markdown, "content": rich_content() }));
        env.control(&token, &deployment, "typing", json!({}));
        env.wait_for("[data-testid=typing]", 10).await;
        env.wait_for(".tl-quick-reply", 10).await;
        env.assert_accessible(&format!("{theme}, conversation")).await;

        env.wait_for("[data-testid=emoji]", 5).await.click().await.expect("open the emoji picker");
        env.wait_for(".tl-emoji-picker", 5).await;
        env.assert_accessible(&format!("{theme}, emoji picker")).await;
        env.wait_for("[data-testid=emoji]", 5).await.click().await.expect("close the emoji picker");

        env.control(&token, &deployment, "expire", json!({ "inSeconds": 240 }));
        env.close_messenger().await;
        env.open_messenger().await;
        env.wait_for("[data-testid=expiry-banner]", 40).await;
        env.assert_accessible(&format!("{theme}, expiry banner")).await;

        env.control(&token, &deployment, "disconnect", json!({ "readOnly": true }));
        env.wait_status("read-only", 10).await;
        env.assert_accessible(&format!("{theme}, read-only")).await;
    }
    env.finish().await;
}
