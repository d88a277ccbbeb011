//! The hostile-input corpus (`crates/core/tests/corpus/hostile.json`, see the README there)
//! pushed through everything native: each payload goes into a `StructuredMessage` as agent
//! text, display name, quick-reply label, card title and file name, and through the markdown
//! parser. For every one:
//! * the frame decodes (or, for invalid JSON such as lone surrogates, fails with an error) and
//!   the field comes back exactly as sent: the protocol layer neither drops nor "cleans" text;
//! * the frame re-encodes and decodes back equal;
//! * the markdown AST rendered by an escaping renderer holds no element outside the chat
//!   allow-list and no link outside `http:`/`https:`/`mailto:`; text without markdown syntax
//!   comes back as exactly one text node;
//! * dangerous link targets are refused by `safe_href`;
//! * parsing stays fast (1 MB messages) and linear (each payload repeated to 64 KiB).
//!
//! The browser half (the same corpus rendered by the real UI) loads the same JSON file.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use threadline_core::markdown::{self, Block, Inline};
use threadline_core::protocol::{Content, DecodeError, FrameKind, Message, ServerFrame, MAX_FRAME_BYTES};

// The fuzzers' invariants (links, nesting, invented characters, linearity).
use crate::fuzz_stable::oracles;


/// The corpus, compiled in so the test needs no file access at run time.
const CORPUS: &str = include_str!("../corpus/hostile.json");

/// One corpus entry (schema in `tests/corpus/README.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    category: String,
    payload: String,
    /// The payload is repeated this many times (keeps 1 MB cases out of the file).
    #[serde(default)]
    repeat: Option<usize>,
    /// The payload is JSON string-literal content (e.g. `\ud800`), spliced into frames as is.
    #[serde(default)]
    raw_json: bool,
}

impl Entry {
    fn expanded(&self) -> String {
        self.payload.repeat(self.repeat.unwrap_or(1))
    }

    /// The payload as it must appear inside a JSON string literal.
    fn json_literal_content(&self) -> String {
        if self.raw_json {
            return self.expanded();
        }
        let quoted = serde_json::to_string(&self.expanded()).expect("strings encode");
        quoted[1..quoted.len() - 1].to_owned()
    }

    /// The string a correct JSON decoder yields for the payload, or `None` if the payload is
    /// not valid JSON string content (then every frame holding it must fail to decode).
    fn decoded_text(&self) -> Option<String> {
        if !self.raw_json {
            return Some(self.expanded());
        }
        serde_json::from_str::<String>(&format!("\"{}\"", self.payload)).ok()
    }
}

fn corpus() -> Vec<Entry> {
    serde_json::from_str(CORPUS).expect("hostile.json is a JSON array of entries")
}

/// Where a payload is placed inside a `StructuredMessage`.
#[derive(Clone, Copy, Debug)]
enum Slot {
    AgentText,
    DisplayName,
    QuickReplyLabel,
    CardTitle,
    FileName,
}

const SLOTS: [Slot; 5] = [Slot::AgentText, Slot::DisplayName, Slot::QuickReplyLabel, Slot::CardTitle, Slot::FileName];

/// Stands in for the payload while the frame is built as a value; replaced textually so raw
/// JSON escapes reach the decoder untouched.
const PLACEHOLDER: &str = "@@HOSTILE_PAYLOAD@@";

fn frame_text(slot: Slot, entry: &Entry) -> String {
    let p = PLACEHOLDER;
    let mut body = json!({
        "id": "hostile-1",
        "type": "Text",
        "direction": "Outbound",
        "originatingEntity": "Human",
        "channel": { "time": "2026-05-04T09:16:05.904Z", "type": "Private", "from": { "nickname": "Jonas" } },
        "text": "hello",
    });
    match slot {
        Slot::AgentText => body["text"] = json!(p),
        Slot::DisplayName => body["channel"]["from"] = json!({ "nickname": p }),
        Slot::QuickReplyLabel => {
            body["type"] = json!("Structured");
            body["content"] = json!([{ "contentType": "QuickReply", "quickReply": { "text": p, "payload": "qr-1", "action": "Message" } }]);
        }
        Slot::CardTitle => {
            body["type"] = json!("Structured");
            body["content"] = json!([{ "contentType": "Card", "card": {
                "title": p,
                "actions": [{ "type": "Link", "text": "Open", "url": "https://hotel.example/rooms" }],
            } }]);
        }
        Slot::FileName => {
            body["content"] = json!([{ "contentType": "Attachment", "attachment": {
                "id": "5f6a7b8c-9d0e-4f1a-2b3c-4d5e6f7a8b9c", "mediaType": "File",
                "url": "https://files.example/a", "mime": "application/pdf", "filename": p,
            } }]);
        }
    }
    let frame = json!({ "type": "message", "class": "StructuredMessage", "code": 200, "body": body });
    frame.to_string().replace(&format!("\"{PLACEHOLDER}\""), &format!("\"{}\"", entry.json_literal_content()))
}

/// The text in `slot` of a decoded message (`None`: the slot's element did not decode).
fn slot_text(slot: Slot, message: &Message) -> Option<String> {
    match slot {
        Slot::AgentText => message.text.clone(),
        Slot::DisplayName => message.channel.as_ref()?.from.as_ref()?.nickname.clone(),
        Slot::QuickReplyLabel => match message.content.first()? {
            Content::QuickReply(reply) => Some(reply.text.clone()),
            _ => None,
        },
        Slot::CardTitle => match message.content.first()? {
            Content::Card(card) => Some(card.title.clone()),
            _ => None,
        },
        Slot::FileName => match message.content.first()? {
            Content::Attachment(attachment) => attachment.filename.clone(),
            _ => None,
        },
    }
}

#[test]
fn the_corpus_is_big_varied_and_well_formed() {
    let entries = corpus();
    assert!(entries.len() >= 100, "only {} hostile payloads", entries.len());
    let mut names = std::collections::HashSet::new();
    for entry in &entries {
        assert!(names.insert(entry.name.as_str()), "duplicate name {}", entry.name);
        assert!(
            ["html", "url", "markdown", "unicode", "size", "json"].contains(&entry.category.as_str()),
            "{}: unknown category {}",
            entry.name,
            entry.category
        );
    }
    let has = |needle: &str| entries.iter().any(|entry| entry.expanded().contains(needle));
    for needle in ["<script", "<img", "<svg", "<iframe", "<object", "<embed", "<style", "onerror=", "javascript:", "data:", "vbscript:", "\u{202E}", "\u{200D}", "\u{0}"] {
        assert!(has(needle), "the corpus lacks a payload containing {needle:?}");
    }
    assert!(entries.iter().any(|entry| entry.expanded().len() >= 1_000_000), "the corpus lacks a 1 MB message");
    assert!(entries.iter().any(|entry| entry.raw_json && entry.payload.contains("\\ud800")), "the corpus lacks a lone surrogate");
}

#[test]
fn every_payload_in_every_slot_decodes_to_exactly_itself() {
    let mut decoded = 0;
    for entry in corpus() {
        let expected = entry.decoded_text();
        for slot in SLOTS {
            let text = frame_text(slot, &entry);
            let context = format!("{} as {slot:?}", entry.name);
            let frame = match (ServerFrame::from_json(&text), &expected) {
                (Ok(frame), Some(_)) => frame,
                (Err(DecodeError::TooLarge { .. }), _) if text.len() > MAX_FRAME_BYTES => continue,
                (Err(error), None) => {
                    // Invalid JSON (lone surrogates) is refused with a reason, never a panic.
                    assert!(matches!(error, DecodeError::MalformedJson(_)), "{context}: {error}");
                    continue;
                }
                (Ok(frame), None) => panic!("{context}: invalid JSON string decoded as {frame:?}"),
                (Err(error), Some(_)) => panic!("{context}: a valid frame failed to decode: {error}"),
            };
            let FrameKind::StructuredMessage(message) = &frame.kind else {
                panic!("{context}: decoded as {}", frame.class_name());
            };
            assert_eq!(slot_text(slot, message).as_deref(), expected.as_deref(), "{context}: text changed in decoding");
            // Re-encoding keeps it text too (what the engine persists and reloads).
            let again = ServerFrame::from_json(&frame.to_json()).unwrap_or_else(|error| panic!("{context}: re-encoded frame fails: {error}"));
            assert_eq!(again, frame, "{context}: round trip changed the frame");
            decoded += 1;
        }
    }
    assert!(decoded >= 500, "only {decoded} payload/slot pairs decoded");
}

#[test]
fn dangerous_link_targets_are_refused_everywhere() {
    let mut refused = 0;
    for entry in corpus().iter().filter(|entry| entry.category == "url") {
        let target = entry.expanded();
        assert_eq!(markdown::safe_href(&target), None, "{}: safe_href accepted {target:?}", entry.name);
        // As a markdown link and as an autolink, it yields no link (and certainly no unsafe one).
        for text in [format!("[click]({target})"), format!("<{target}>"), target.clone()] {
            for href in oracles::markdown_hrefs(&text) {
                assert!(oracles::is_allowed_href(&href), "{}: link {href:?} from {text:?}", entry.name);
                assert!(!href.to_ascii_lowercase().contains("script:"), "{}: link {href:?} from {text:?}", entry.name);
            }
        }
        refused += 1;
    }
    assert!(refused >= 30, "only {refused} dangerous link targets in the corpus");
}

#[test]
fn markdown_of_every_payload_renders_inert() {
    for entry in corpus() {
        let Some(text) = entry.decoded_text() else { continue };
        let started = Instant::now();
        // Panics name the payload: links, nesting, invented characters (see the oracles).
        oracles::markdown(&text);
        let blocks = markdown::parse(&text);
        let html = render_html(&blocks);
        if let Err(problem) = allow_listed_html(&html) {
            panic!("{}: rendered markup is not inert: {problem}\nhtml: {}", entry.name, truncate(&html));
        }
        if is_plain(&text) {
            assert_eq!(blocks, vec![Block::Paragraph(vec![Inline::Text(text.clone())])], "{}: plain text did not stay one text node", entry.name);
        }
        // Generous for a debug build: a 1 MB message parses in well under a second.
        assert!(started.elapsed() < Duration::from_secs(5), "{}: {} bytes took {:?}", entry.name, text.len(), started.elapsed());
    }
}

#[test]
fn markdown_parsing_of_every_payload_is_linear() {
    for entry in corpus() {
        let Some(text) = entry.decoded_text() else { continue };
        if text.len() <= 64 * 1024 {
            oracles::markdown_is_linear(&text, 64 * 1024);
        }
    }
}

#[test]
fn a_one_megabyte_agent_message_decodes_and_parses_quickly() {
    let text = "<b>bold?</b> **yes** [x](javascript:alert(1)) ".repeat(1024 * 1024 / 45);
    assert!(text.len() >= 1_000_000);
    let frame = json!({ "type": "message", "class": "StructuredMessage", "code": 200,
        "body": { "type": "Text", "direction": "Outbound", "text": text } })
    .to_string();
    let started = Instant::now();
    let decoded = ServerFrame::from_json(&frame).expect("a 1 MB message is within the frame limit");
    let FrameKind::StructuredMessage(message) = decoded.kind else { panic!("not a message") };
    let blocks = markdown::parse(message.text.as_deref().unwrap_or_default());
    assert!(oracles::markdown_hrefs(message.text.as_deref().unwrap_or_default()).is_empty());
    assert!(!blocks.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5), "1 MB took {:?}", started.elapsed());
    // Past the frame limit the decoder refuses up front instead of buffering.
    let too_big = json!({ "class": "StructuredMessage", "body": { "text": "x".repeat(MAX_FRAME_BYTES) } }).to_string();
    assert!(matches!(ServerFrame::from_json(&too_big), Err(DecodeError::TooLarge { .. })));
}

// ---------------------------------------------------------------------------------------------
// An escaping renderer with the chat allow-list: what the UI does with DOM text nodes, written
// out as HTML so the result can be checked by scanning.

/// Elements the chat renderer may create for markdown.
const ALLOWED_ELEMENTS: &[&str] = &["p", "ul", "ol", "li", "pre", "code", "strong", "em", "a", "br"];

fn render_html(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Paragraph(inlines) => {
                out.push_str("<p>");
                render_inlines(inlines, &mut out);
                out.push_str("</p>");
            }
            Block::List { ordered, items } => {
                let tag = if *ordered { "ol" } else { "ul" };
                out.push_str(&format!("<{tag}>"));
                for item in items {
                    out.push_str("<li>");
                    render_inlines(item, &mut out);
                    out.push_str("</li>");
                }
                out.push_str(&format!("</{tag}>"));
            }
            Block::CodeBlock(code) => {
                out.push_str("<pre><code>");
                escape_into(code, &mut out);
                out.push_str("</code></pre>");
            }
        }
    }
    out
}

fn render_inlines(inlines: &[Inline], out: &mut String) {
    for inline in inlines {
        match inline {
            Inline::Text(text) => escape_into(text, out),
            Inline::Code(code) => {
                out.push_str("<code>");
                escape_into(code, out);
                out.push_str("</code>");
            }
            Inline::Bold(children) => {
                out.push_str("<strong>");
                render_inlines(children, out);
                out.push_str("</strong>");
            }
            Inline::Italic(children) => {
                out.push_str("<em>");
                render_inlines(children, out);
                out.push_str("</em>");
            }
            Inline::Link { href, children } => {
                out.push_str("<a href=\"");
                escape_into(href, out);
                out.push_str("\">");
                render_inlines(children, out);
                out.push_str("</a>");
            }
            Inline::LineBreak => out.push_str("<br>"),
        }
    }
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// Checks every tag in `html`: allow-listed element, no attribute except an `href` with an
/// allowed scheme on `<a>`.
fn allow_listed_html(html: &str) -> Result<(), String> {
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>').ok_or_else(|| format!("unterminated tag at {:?}", truncate(after)))?;
        let tag = &after[..close];
        let name_and_attributes = tag.strip_prefix('/').unwrap_or(tag);
        let (name, attributes) = name_and_attributes.split_once(' ').unwrap_or((name_and_attributes, ""));
        if !ALLOWED_ELEMENTS.contains(&name) {
            return Err(format!("element <{name}> is not allow-listed"));
        }
        if !attributes.is_empty() {
            let href = attributes
                .strip_prefix("href=\"")
                .and_then(|value| value.strip_suffix('"'))
                .filter(|_| name == "a")
                .ok_or_else(|| format!("attributes {attributes:?} on <{name}>"))?;
            let href = href.replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">");
            if !oracles::is_allowed_href(&href) {
                return Err(format!("link to {href:?}"));
            }
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Text with nothing the markdown parser treats as syntax: it must come back verbatim.
fn is_plain(text: &str) -> bool {
    let trimmed = text.trim_start();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let numbered = digits > 0 && (trimmed[digits..].starts_with(". ") || trimmed[digits..].starts_with(") "));
    !text.trim().is_empty()
        && !text.contains(['*', '_', '`', '[', ']', '\\', '\n', '\r'])
        && !text.to_ascii_lowercase().contains("http")
        && !["- ", "* ", "+ "].iter().any(|bullet| trimmed.starts_with(bullet))
        && !numbered
}

fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}

#[test]
fn the_inertness_check_itself_rejects_markup() {
    // The scanner must fail on exactly what it is meant to catch.
    assert!(allow_listed_html("<p>x</p><a href=\"https://a.example\">y</a>").is_ok());
    assert!(allow_listed_html("<script>alert(1)</script>").is_err());
    assert!(allow_listed_html("<img src=x onerror=alert(1)>").is_err());
    assert!(allow_listed_html("<a href=\"javascript:alert(1)\">y</a>").is_err());
    assert!(allow_listed_html("<p onclick=\"x\">y</p>").is_err());
    let _: Value = serde_json::from_str(CORPUS).expect("the corpus is plain JSON");
}
