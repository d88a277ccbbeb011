//! What messages render to (issue 6 §4–5): images inline on both sides, agent HTML shown as
//! text, the markdown subset with safe links only.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::json;

use crate::files::{choose_png, download_attachment, own_image, server_attachments, solid_png};
use crate::harness::Env;
use crate::messenger::{nonce, ShownMessage};

/// Replaces `window.alert` with a recorder, so a script injected through a message shows up
/// as data instead of a dialog that would block WebDriver.
const TRAP_ALERTS_JS: &str = "window.__tlAlerts = []; window.alert = m => window.__tlAlerts.push(String(m)); return true;";

/// True when some message element of `direction` has a descendant (or itself) whose whole text
/// is exactly arguments[0].
const HAS_EXACT_TEXT_JS: &str = r#"
const [want, direction] = arguments;
return Array.from(document.querySelectorAll(`[data-testid=message][data-direction=${direction}]`))
  .some(m => [m, ...m.querySelectorAll('*')].some(e => (e.textContent || '').trim() === want));
"#;

#[tokio::test]
async fn agent_html_is_shown_as_text_and_never_runs() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d" })).await;
    env.js(TRAP_ALERTS_JS).await;

    let hostile = "<img src=x onerror=alert(1)>";
    let token = env.wait_session_token(&deployment, 5).await;
    env.agent_says(&token, &deployment, hostile);
    env.wait_messages("the agent's HTML-looking message", 10, |shown| {
        shown.iter().any(|m| m.direction == "outbound" && m.text.contains(hostile))
    })
    .await;
    // The customer typing the same characters gets the same treatment.
    let own = format!("<b>not bold</b> {}", nonce());
    env.send_and_confirm(&own).await;

    let exact = env.client.execute(HAS_EXACT_TEXT_JS, vec![json!(hostile), json!("outbound")]).await.expect("probe");
    assert_eq!(exact, json!(true), "no element of the agent message has exactly the text {hostile:?}");
    let own_exact = env.client.execute(HAS_EXACT_TEXT_JS, vec![json!(own), json!("inbound")]).await.expect("probe");
    assert_eq!(own_exact, json!(true), "no element of the customer message has exactly the text {own:?}");
    let markup = env
        .js("const t = document.querySelector('[data-testid=transcript]'); return t ? t.querySelectorAll('img, b').length : -1;")
        .await;
    assert_eq!(markup, json!(0), "message text became elements (<img>/<b>) inside the transcript");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(env.client.get_alert_text().await.is_err(), "an alert dialog is open");
    assert_eq!(env.js("return window.__tlAlerts;").await, json!([]), "alert() ran from a message");
    env.finish().await;
}

#[tokio::test]
async fn markdown_renders_to_elements_with_safe_links_only() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d", "markdown": true })).await;
    env.js(TRAP_ALERTS_JS).await;

    let token = env.wait_session_token(&deployment, 5).await;
    let tag = nonce();
    let text = format!("**bold{tag}** and *italic{tag}* see [docs{tag}](https://example.com/help) or [trap{tag}](javascript:alert(2))");
    env.agent_says(&token, &deployment, &text);
    env.wait_messages("the markdown message", 10, |shown| shown.iter().any(|m| m.text.contains(&format!("docs{tag}")))).await;

    let probe = r#"
        const tag = arguments[0];
        const m = Array.from(document.querySelectorAll('[data-testid=message][data-direction=outbound]'))
          .find(e => e.textContent.includes('docs' + tag));
        const exact = (sel, text) => Array.from(m.querySelectorAll(sel)).some(e => e.textContent.trim() === text);
        const link = Array.from(m.querySelectorAll('a')).find(a => a.textContent.trim() === 'docs' + tag);
        return {
          bold: exact('strong, b', 'bold' + tag),
          italic: exact('em, i', 'italic' + tag),
          href: link ? link.getAttribute('href') : null,
          rel: link ? (link.getAttribute('rel') || '') : null,
          unsafe: Array.from(document.querySelectorAll('a[href]')).filter(a => !/^(https?:|mailto:)/i.test(a.getAttribute('href'))).map(a => a.getAttribute('href')),
          literalStars: m.textContent.includes('**'),
        };
    "#;
    let seen = env.client.execute(probe, vec![json!(tag)]).await.expect("probe markdown");
    assert_eq!(seen["bold"], json!(true), "**bold** is not a <strong>/<b>: {seen}");
    assert_eq!(seen["italic"], json!(true), "*italic* is not an <em>/<i>: {seen}");
    assert_eq!(seen["literalStars"], json!(false), "markdown markers are shown literally: {seen}");
    assert_eq!(seen["href"], json!("https://example.com/help"), "the https link is not a link: {seen}");
    assert!(seen["rel"].as_str().unwrap_or_default().contains("noopener"), "the link lacks rel=noopener: {seen}");
    assert_eq!(seen["unsafe"], json!([]), "a link with a scheme other than http/https/mailto is rendered: {seen}");
    assert_eq!(env.js("return window.__tlAlerts;").await, json!([]), "alert() ran from a message");
    env.finish().await;
}

#[tokio::test]
async fn customer_image_is_uploaded_stored_and_shown_inline() {
    let env = Env::start().await;
    let deployment = env.create_deployment(json!({
        "guestSessionTtl": "1d",
        "attachments": { "fileTypes": ["image/*"], "maxFileSizeKB": 10240, "blockedExtensions": [".exe"] }
    }));
    env.open_page(&deployment).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;

    let png = solid_png(48, 32, [0xf5, 0x9e, 0x0b]);
    choose_png(&env, "e2e-photo.png", &png).await;

    // The UI may send an attachment at once or stage it for the next send: allow both.
    let caption = format!("photo {}", nonce());
    if !wait_until(&env, 3, |shown| own_image(shown).is_some()).await {
        env.type_and_send(&caption).await;
    }
    env.wait_messages("the customer's image message, sent", 15, |shown| own_image(shown).is_some()).await;
    env.wait_image_loaded("inbound").await;
    env.screenshot("image-sent").await;

    let token = env.wait_session_token(&deployment, 5).await;
    let (session, attachments) = server_attachments(&env, &token, &deployment);
    let attachment = attachments
        .first()
        .unwrap_or_else(|| panic!("the server transcript has no Attachment content: {session}"));
    let download = download_attachment(&env, attachment);
    let url = &attachment["attachment"]["url"];
    assert_eq!(download.status, 200, "GET {url} answered {}", download.status);
    assert_eq!(download.header("content-type"), Some("image/png"), "GET {url} content type");
    assert_eq!(download.body, png, "the downloaded bytes differ from the uploaded PNG");
    env.finish().await;
}

#[tokio::test]
async fn agent_image_is_shown_inline() {
    let env = Env::start().await;
    let deployment = env.create_deployment(json!({ "guestSessionTtl": "1d" }));
    let server = ImageServer::start(solid_png(40, 40, [0xe2, 0x5a, 0x2a]));
    env.open_page(&deployment).await;
    env.open_messenger().await;
    env.wait_status("connected", 10).await;
    let token = env.wait_session_token(&deployment, 5).await;

    let url = format!("http://{}/agent-picture.png", server.addr);
    let content = json!([{
        "contentType": "Attachment",
        "attachment": {
            "id": "6a1f0b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b",
            "mediaType": "Image",
            "url": url,
            "mime": "image/png",
            "filename": "agent-picture.png",
            "fileSize": server.png.len()
        }
    }]);
    env.control(&token, &deployment, "messages", json!({ "content": content }));
    env.wait_messages("the agent's image message", 10, |shown| {
        shown.iter().any(|m| m.direction == "outbound" && m.images > 0)
    })
    .await;
    env.wait_image_loaded("outbound").await;
    env.screenshot("image-received").await;
    env.finish().await;
}

/// Polls the messages for `secs` seconds; true as soon as `done` holds.
async fn wait_until(env: &Env, secs: u64, done: impl Fn(&[ShownMessage]) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if done(&env.messages().await) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A serving thread for one PNG on 127.0.0.1 (stands in for an agent's file host).
struct ImageServer {
    addr: String,
    png: Vec<u8>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ImageServer {
    fn start(png: Vec<u8>) -> ImageServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the image server");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("image server address").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (body, stopping) = (png.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut head = [0u8; 4096];
                        let _ = stream.read(&mut head);
                        let header = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\
                             Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(header.as_bytes()).and_then(|()| stream.write_all(&body));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ImageServer { addr, png, stop, thread: Some(thread) }
    }
}

impl Drop for ImageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Issue 6 gap: a bot's date/time-slot picker (SPEC §4.2) renders its slots, and a click
/// answers per SPEC §3.3-6 (`ButtonResponse` of type `DatePicker`, the slot's ISO `dateTime` as
/// payload, `originatingMessageId`); the picker then shows as answered.
#[tokio::test]
async fn date_picker_slot_is_answered_with_a_button_response() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d" })).await;
    let token = env.wait_session_token(&deployment, 5).await;
    let slots = ["2031-05-12T10:00:00.000Z", "2031-05-12T10:30:00.000Z", "2031-05-14T10:00:00.000Z"];
    let offered = env.control(
        &token,
        &deployment,
        "messages",
        json!({
            "text": "Pick a time for your callback",
            "content": [{"contentType": "DatePicker", "datePicker": {
                "title": "Schedule a callback",
                "subtitle": "All times in your local time zone",
                "availableTimes": slots.iter().map(|slot| json!({"dateTime": slot, "duration": 1800})).collect::<Vec<_>>()
            }}]
        }),
    );
    let picker_id = offered["id"].as_str().expect("the agent message id").to_string();
    let open = "[data-testid=date-picker][data-state=open]";
    env.wait_for(open, 10).await;
    let shown = env
        .js("return Array.from(document.querySelectorAll('[data-testid=date-slot]')).map(b => b.getAttribute('data-value'));")
        .await;
    assert_eq!(shown, json!(slots), "every slot shown, in time order");
    assert_eq!(env.js("return document.querySelectorAll('.tl-date-day').length;").await, json!(2), "grouped by day");
    env.screenshot("date-picker-open").await;

    let slot = env
        .client
        .find(Locator::Css(&format!("[data-testid=date-slot][data-value='{}']", slots[1])))
        .await
        .expect("the second slot");
    slot.click().await.expect("click the slot");
    env.wait_for("[data-testid=date-picker][data-state=answered]", 10).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        let transcript = env.session(&token, &deployment)["transcript"].clone();
        let found = transcript.as_array().into_iter().flatten().find_map(|body| {
            let response = &body["content"][0]["buttonResponse"];
            (body["direction"] == "Inbound" && response["type"] == "DatePicker").then(|| response.clone())
        });
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "the server never got a DatePicker answer: {transcript}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answer["payload"], json!(slots[1]));
    assert_eq!(answer["originatingMessageId"], json!(picker_id));
    env.wait_messages("the answer, sent and shown as a local time", 10, |shown| {
        shown.iter().any(|m| m.author == "customer" && m.status == "sent" && !m.text.contains("T10:30"))
    })
    .await;
    assert_eq!(env.js("return document.querySelectorAll('[data-testid=date-slot]:not([disabled])').length;").await, json!(0));
    env.screenshot("date-picker-answered").await;
    env.finish().await;
}

/// Issue 6 gap: the header's "clear conversation" control asks first, then clears the
/// transcript through the spec's Presence Clear.
#[tokio::test]
async fn clear_conversation_asks_then_empties_the_transcript() {
    let env = Env::start().await;
    let deployment = env.open_connected(json!({ "guestSessionTtl": "1d", "conversationClear": true })).await;
    let token = env.wait_session_token(&deployment, 5).await;
    let text = format!("before clearing {}", nonce());
    env.agent_says(&token, &deployment, &text);
    env.wait_messages("the agent message", 10, |shown| shown.iter().any(|m| m.text.contains(&text))).await;

    env.wait_for("[data-testid=clear-conversation]", 5).await.click().await.expect("click clear");
    env.wait_for("[data-testid=clear-confirm]", 5).await.click().await.expect("confirm clear");
    env.wait_messages("the cleared transcript", 10, |shown| shown.is_empty()).await;
    let notices = env.js("return Array.from(document.querySelectorAll('[data-testid=notice]')).map(n => n.textContent);").await;
    assert!(notices.to_string().contains("cleared"), "no 'cleared' notice: {notices}");
    env.finish().await;
}
