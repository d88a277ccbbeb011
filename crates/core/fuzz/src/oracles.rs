//! The invariants every fuzz input is checked against, shared by the cargo-fuzz targets
//! (`crates/core/fuzz/fuzz_targets/`) and the stable-toolchain harness
//! (`crates/core/tests/core/fuzz_stable.rs` includes this file with `#[path]`), so both modes
//! judge inputs by the same rules.
//!
//! Each function panics, naming the broken invariant and the input, when the code under test
//! misbehaves; a panic is what both harnesses report as a finding.

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::{Duration, Instant};

use serde_json::Value;

use threadline_core::markdown::{self, Block, Inline};
use threadline_core::protocol::{
    ClientAction, DecodeError, DeploymentConfig, HistoryPage, ServerFrame,
};

/// Deepest inline nesting the markdown parser may produce (its `MAX_DEPTH` is 6; one more
/// level of slack). A bound here keeps the UI's recursive renderer safe.
pub const MAX_INLINE_DEPTH: usize = 7;

/// Size the markdown linearity check blows an input up to.
pub const LINEARITY_BYTES: usize = 64 * 1024;

/// Time the parser may take for [`LINEARITY_BYTES`] of input. Linear parsing needs a few
/// milliseconds even in a debug build; a quadratic one needs seconds or minutes.
pub const LINEARITY_BUDGET: Duration = Duration::from_secs(2);

/// A server frame either fails to decode with an error, or decodes to a value whose encoding
/// decodes back to the same value (and re-encodes to the same text).
pub fn server_frame(text: &str) {
    round_trip("ServerFrame", text, ServerFrame::from_json, ServerFrame::to_json);
}

/// The same round-trip rule for client actions (what the gateway decodes).
pub fn client_action(text: &str) {
    round_trip("ClientAction", text, ClientAction::from_json, ClientAction::to_json);
}

/// The same round-trip rule for `config.json`.
pub fn deployment_config(text: &str) {
    round_trip("DeploymentConfig", text, DeploymentConfig::from_json, DeploymentConfig::to_json);
}

/// The same round-trip rule for history pages.
pub fn history_page(text: &str) {
    round_trip("HistoryPage", text, HistoryPage::from_json, HistoryPage::to_json);
}

fn round_trip<T: PartialEq + Debug>(
    what: &str,
    text: &str,
    decode: fn(&str) -> Result<T, DecodeError>,
    encode: fn(&T) -> String,
) {
    let value = match decode(text) {
        Ok(value) => value,
        Err(error) => {
            // Errors are shown to people and logs: they must render and say something.
            assert!(!error.to_string().is_empty(), "{what}: empty error message for {text:?}");
            return;
        }
    };
    let encoded = encode(&value);
    let again = match decode(&encoded) {
        Ok(again) => again,
        // Canonical encoding may be longer than the input (`1e2` → `100.0`, defaults filled
        // in), so an input just under the size limit may legitimately re-encode just over it.
        Err(DecodeError::TooLarge { .. }) if encoded.len() > text.len() => return,
        Err(error) => panic!(
            "{what}: decoded value re-encodes to text that does not decode ({error})\ninput:   {text:?}\nencoded: {encoded:?}"
        ),
    };
    let re_encoded = encode(&again);
    if again == value && re_encoded == encoded {
        return;
    }
    // Same text but a different value: two values share an encoding, so one cannot survive.
    assert_ne!(
        re_encoded, encoded,
        "{what}: two different values encode alike\ninput: {text:?}\nvalue: {value:?}\nagain: {again:?}"
    );
    // serde_json's default float parser is best-effort, not correctly rounded: a number like
    // `4184467440737095516160` can come back one ULP off after a decode/encode cycle (the
    // `float_roundtrip` feature would fix that at a size cost in the wasm build). Such drift
    // in an opaque number is tolerated; any other difference is a bug.
    let encoded_value: Value = serde_json::from_str(&encoded).unwrap_or(Value::Null);
    let re_encoded_value: Value = serde_json::from_str(&re_encoded).unwrap_or(Value::Null);
    assert!(
        same_up_to_float_rounding(&encoded_value, &re_encoded_value),
        "{what}: decode(encode(value)) != value\ninput:   {text:?}\nencoded: {encoded:?}\nvalue: {value:?}\nagain: {again:?}"
    );
}

/// JSON equality, except that floats may differ by the parser's rounding error.
pub fn same_up_to_float_rounding(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) if a != b => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() <= a.abs().max(b.abs()) * 4.0 * f64::EPSILON,
            _ => false,
        },
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_up_to_float_rounding(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter().all(|(key, a)| b.get(key).is_some_and(|b| same_up_to_float_rounding(a, b)))
        }
        _ => left == right,
    }
}

/// Markdown parsing never panics and its AST is safe to render:
/// * every link target is an absolute `http:`, `https:` or `mailto:` URL that `safe_href`
///   accepts unchanged (no whitespace or control characters);
/// * inline nesting stays within [`MAX_INLINE_DEPTH`];
/// * the parser never invents characters: the text of the AST (`plain_text`) is a
///   sub-multiset of the input's characters, so no `<`, quote or letter appears that the
///   sender did not write;
/// * `plain_text` agrees with a walk over the AST.
pub fn markdown(text: &str) {
    let blocks = markdown::parse(text);
    let mut walk = Walk::default();
    for block in &blocks {
        match block {
            Block::Paragraph(inlines) => walk.inlines(inlines, 1),
            Block::List { items, .. } => {
                for item in items {
                    walk.inlines(item, 1);
                }
            }
            Block::CodeBlock(_) => {}
        }
    }
    for href in &walk.hrefs {
        assert!(is_allowed_href(href), "markdown: link with a disallowed target {href:?}\ninput: {text:?}");
        assert_eq!(
            markdown::safe_href(href).as_deref(),
            Some(href.as_str()),
            "markdown: link target that safe_href does not accept unchanged\ninput: {text:?}"
        );
    }
    assert!(
        walk.max_depth <= MAX_INLINE_DEPTH,
        "markdown: inline nesting {} deeper than {MAX_INLINE_DEPTH}\ninput: {text:?}",
        walk.max_depth
    );
    let rendered = markdown::plain_text(&blocks);
    if let Some(invented) = invented_char(text, &rendered) {
        panic!("markdown: the AST holds a {invented:?} the input does not\ninput: {text:?}\nplain:  {rendered:?}");
    }
}

/// Parsing stays linear: `text` repeated up to about `target_bytes` parses within
/// [`LINEARITY_BUDGET`]. Hostile repetition (thousands of unclosed markers) is exactly what a
/// quadratic parser chokes on.
pub fn markdown_is_linear(text: &str, target_bytes: usize) {
    if text.is_empty() {
        return;
    }
    let copies = (target_bytes / text.len()).max(1);
    let big = text.repeat(copies);
    let started = Instant::now();
    let blocks = markdown::parse(&big);
    let elapsed = started.elapsed();
    assert!(
        elapsed <= LINEARITY_BUDGET,
        "markdown: {} bytes took {elapsed:?} (budget {LINEARITY_BUDGET:?}): superlinear parsing\nunit: {text:?}",
        big.len()
    );
    // Keep the result alive so the parse is not optimised away.
    assert!(blocks.len() <= big.len() + 1);
}

/// Whether `href` starts with an allowed scheme and has no whitespace or control characters.
pub fn is_allowed_href(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    let scheme_ok = ["http://", "https://", "mailto:"].iter().any(|scheme| lower.starts_with(scheme));
    scheme_ok && !href.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Every link target in the AST of `text`.
pub fn markdown_hrefs(text: &str) -> Vec<String> {
    let mut walk = Walk::default();
    for block in markdown::parse(text) {
        match block {
            Block::Paragraph(inlines) => walk.inlines(&inlines, 1),
            Block::List { items, .. } => items.iter().for_each(|item| walk.inlines(item, 1)),
            Block::CodeBlock(_) => {}
        }
    }
    walk.hrefs
}

#[derive(Default)]
struct Walk {
    hrefs: Vec<String>,
    max_depth: usize,
}

impl Walk {
    fn inlines(&mut self, inlines: &[Inline], depth: usize) {
        for inline in inlines {
            match inline {
                Inline::Text(_) | Inline::Code(_) | Inline::LineBreak => {
                    self.max_depth = self.max_depth.max(depth - 1);
                }
                Inline::Bold(children) | Inline::Italic(children) => {
                    self.max_depth = self.max_depth.max(depth);
                    self.inlines(children, depth + 1);
                }
                Inline::Link { href, children } => {
                    self.max_depth = self.max_depth.max(depth);
                    self.hrefs.push(href.clone());
                    self.inlines(children, depth + 1);
                }
            }
        }
    }
}

/// The first character `output` holds more often than `input`, if any.
pub fn invented_char(input: &str, output: &str) -> Option<char> {
    let mut available: HashMap<char, usize> = HashMap::new();
    for c in input.chars() {
        *available.entry(c).or_default() += 1;
    }
    for c in output.chars() {
        match available.get_mut(&c) {
            Some(count) if *count > 0 => *count -= 1,
            _ => return Some(c),
        }
    }
    None
}
