//! A small, safe markdown subset for chat messages: **bold**, *italic*, `code`, fenced code
//! blocks, bulleted and numbered lists, `[links](https://…)` and bare `https://…` links.
//!
//! The parser returns a tiny AST that the UI turns into DOM nodes one by one, so nothing here is
//! ever interpreted as HTML: `<img src=x onerror=…>` stays the literal text it is. Link targets
//! are limited to `http:`, `https:` and `mailto:`; anything else (`javascript:`, `data:`,
//! relative paths) keeps its label as plain text and loses the link.
//!
//! Cost is linear in the input: every closing marker is found through a per-marker cursor that
//! only moves forward, so hostile input (thousands of unclosed `**`, `[`, `` ` ``) cannot make
//! the parser quadratic. Nesting depth is bounded as well.

/// One block of a parsed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// Lines of running text; consecutive lines are separated by [`Inline::LineBreak`].
    Paragraph(Vec<Inline>),
    /// A bulleted (`ordered == false`) or numbered list; each item is a line of inline content.
    List { ordered: bool, items: Vec<Vec<Inline>> },
    /// A fenced (```) code block, shown verbatim.
    CodeBlock(String),
}

/// Inline content inside a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Bold(Vec<Inline>),
    Italic(Vec<Inline>),
    Code(String),
    /// A link whose `href` already passed [`safe_href`].
    Link { href: String, children: Vec<Inline> },
    LineBreak,
}

/// Deepest nesting of inline constructs we build; deeper markers stay literal text.
const MAX_DEPTH: usize = 6;

/// Parses `input` into blocks. Never fails: anything that is not markdown is text.
pub fn parse(input: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut list: Option<(bool, Vec<&str>)> = None;
    let mut code: Option<Vec<&str>> = None;

    for raw_line in input.split('\n') {
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if let Some(code_lines) = code.as_mut() {
            if line.trim_start().starts_with("```") {
                blocks.push(Block::CodeBlock(code_lines.join("\n")));
                code = None;
            } else {
                code_lines.push(line);
            }
            continue;
        }
        if line.trim_start().starts_with("```") {
            flush_paragraph(&mut paragraph, &mut blocks);
            flush_list(&mut list, &mut blocks);
            code = Some(Vec::new());
            continue;
        }
        if line.trim().is_empty() {
            flush_paragraph(&mut paragraph, &mut blocks);
            flush_list(&mut list, &mut blocks);
            continue;
        }
        if let Some((ordered, item)) = list_item(line) {
            flush_paragraph(&mut paragraph, &mut blocks);
            match list.as_mut() {
                Some((current, items)) if *current == ordered => items.push(item),
                _ => {
                    flush_list(&mut list, &mut blocks);
                    list = Some((ordered, vec![item]));
                }
            }
            continue;
        }
        flush_list(&mut list, &mut blocks);
        paragraph.push(line);
    }
    if let Some(code_lines) = code {
        // An unclosed fence still shows its content verbatim rather than vanishing.
        blocks.push(Block::CodeBlock(code_lines.join("\n")));
    }
    flush_paragraph(&mut paragraph, &mut blocks);
    flush_list(&mut list, &mut blocks);
    blocks
}

/// Returns the link target if it is an absolute `http:`, `https:` or `mailto:` URL without
/// whitespace or control characters; `None` for every other scheme (e.g. `javascript:`).
pub fn safe_href(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = url.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    let allowed = match scheme.as_str() {
        "http" | "https" => rest.starts_with("//") && rest.len() > 2,
        "mailto" => !rest.is_empty(),
        _ => false,
    };
    allowed.then(|| url.to_string())
}

/// The text of parsed blocks without any markup (for screen-reader announcements and previews).
pub fn plain_text(blocks: &[Block]) -> String {
    fn inline_text(inlines: &[Inline], out: &mut String) {
        for inline in inlines {
            match inline {
                Inline::Text(text) | Inline::Code(text) => out.push_str(text),
                Inline::Bold(children) | Inline::Italic(children) => inline_text(children, out),
                Inline::Link { children, .. } => inline_text(children, out),
                Inline::LineBreak => out.push('\n'),
            }
        }
    }
    let mut out = String::new();
    for (index, block) in blocks.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        match block {
            Block::Paragraph(inlines) => inline_text(inlines, &mut out),
            Block::List { items, .. } => {
                for (item_index, item) in items.iter().enumerate() {
                    if item_index > 0 {
                        out.push('\n');
                    }
                    inline_text(item, &mut out);
                }
            }
            Block::CodeBlock(code) => out.push_str(code),
        }
    }
    out
}

fn flush_paragraph(lines: &mut Vec<&str>, blocks: &mut Vec<Block>) {
    if lines.is_empty() {
        return;
    }
    let mut inlines = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            inlines.push(Inline::LineBreak);
        }
        inlines.extend(parse_inline(line));
    }
    blocks.push(Block::Paragraph(inlines));
    lines.clear();
}

fn flush_list(list: &mut Option<(bool, Vec<&str>)>, blocks: &mut Vec<Block>) {
    if let Some((ordered, items)) = list.take() {
        let items = items.into_iter().map(parse_inline).collect();
        blocks.push(Block::List { ordered, items });
    }
}

/// `- item`, `* item`, `+ item` (bulleted) or `12. item` / `12) item` (numbered).
fn list_item(line: &str) -> Option<(bool, &str)> {
    let trimmed = line.trim_start();
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = trimmed.strip_prefix(bullet) {
            return Some((false, rest));
        }
    }
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        let rest = &trimmed[digits..];
        if let Some(item) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some((true, item));
        }
    }
    None
}

/// Parses one line of inline markdown.
pub fn parse_inline(line: &str) -> Vec<Inline> {
    let mut parser = InlineParser::new(line);
    let end = parser.bytes.len();
    parser.parse_range(0, end, 0)
}

/// Forward-only search over the sorted positions of one kind of closing marker.
struct Cursor {
    positions: Vec<usize>,
    next: usize,
}

impl Cursor {
    fn new(positions: Vec<usize>) -> Self {
        Self { positions, next: 0 }
    }

    /// First position `>= from` and `< end`. Positions below `from` are skipped for good,
    /// which is sound because the parser only ever asks with a growing `from`.
    fn find(&mut self, from: usize, end: usize) -> Option<usize> {
        while self.next < self.positions.len() && self.positions[self.next] < from {
            self.next += 1;
        }
        self.positions.get(self.next).copied().filter(|&position| position < end)
    }
}

struct InlineParser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// `escaped[i]`: byte i follows a backslash and is therefore a literal character.
    escaped: Vec<bool>,
    double_star: Cursor,
    double_underscore: Cursor,
    single_star: Cursor,
    single_underscore: Cursor,
    backtick: Cursor,
    close_bracket: Cursor,
    close_paren: Cursor,
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte >= 0x80
}

impl<'a> InlineParser<'a> {
    fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let mut escaped = vec![false; bytes.len()];
        let mut index = 0;
        while index + 1 < bytes.len() {
            if bytes[index] == b'\\' && bytes[index + 1].is_ascii_punctuation() {
                escaped[index + 1] = true;
                index += 2;
            } else {
                index += 1;
            }
        }
        let mut double_star = Vec::new();
        let mut double_underscore = Vec::new();
        let mut single_star = Vec::new();
        let mut single_underscore = Vec::new();
        let mut backtick = Vec::new();
        let mut close_bracket = Vec::new();
        let mut close_paren = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            let byte = bytes[index];
            if escaped[index] {
                index += 1;
                continue;
            }
            match byte {
                b'*' | b'_' => {
                    let run = run_length(bytes, &escaped, index, bytes.len());
                    // A closer hugs the text it closes (`a **b**`, not `a ** b`), and an `_`
                    // closer never sits inside a word (`snake_case_names` stay plain).
                    let before_ok = index > 0 && !bytes[index - 1].is_ascii_whitespace();
                    let after_ok = byte == b'*' || !bytes.get(index + run).copied().is_some_and(is_word_byte);
                    if before_ok && after_ok {
                        let (single, double) = if byte == b'*' {
                            (&mut single_star, &mut double_star)
                        } else {
                            (&mut single_underscore, &mut double_underscore)
                        };
                        match run {
                            1 => single.push(index),
                            2 => double.push(index),
                            // `***` closes an italic first, then the bold around it.
                            3 => {
                                single.push(index);
                                double.push(index + 1);
                            }
                            _ => {}
                        }
                    }
                    index += run;
                    continue;
                }
                b'`' => backtick.push(index),
                b']' if bytes.get(index + 1) == Some(&b'(') => close_bracket.push(index),
                b')' => close_paren.push(index),
                _ => {}
            }
            index += 1;
        }
        Self {
            text,
            bytes,
            escaped,
            double_star: Cursor::new(double_star),
            double_underscore: Cursor::new(double_underscore),
            single_star: Cursor::new(single_star),
            single_underscore: Cursor::new(single_underscore),
            backtick: Cursor::new(backtick),
            close_bracket: Cursor::new(close_bracket),
            close_paren: Cursor::new(close_paren),
        }
    }

    /// Whether an emphasis opener run at `index` may open: text follows the whole run, and an
    /// `_` run does not start inside a word (snake_case).
    fn can_open(&self, index: usize, run: usize, marker: u8) -> bool {
        let after_ok = self.bytes.get(index + run).is_some_and(|byte| !byte.is_ascii_whitespace());
        let before_ok = marker != b'_' || index == 0 || !is_word_byte(self.bytes[index - 1]);
        after_ok && before_ok
    }

    fn parse_range(&mut self, start: usize, end: usize, depth: usize) -> Vec<Inline> {
        let mut out = Vec::new();
        let mut text_start = start;
        let mut index = start;
        while index < end {
            let byte = self.bytes[index];
            if self.escaped[index] {
                index += 1;
                continue;
            }
            if byte == b'\\' && index + 1 < end && self.escaped[index + 1] {
                // Drop the backslash, keep the escaped character as text.
                push_text(&mut out, &self.text[text_start..index]);
                text_start = index + 1;
                index += 2;
                continue;
            }
            let parsed = match byte {
                b'`' => self.code_span(index, end),
                b'*' | b'_' if depth < MAX_DEPTH => self.emphasis(index, end, depth, byte),
                b'[' if depth < MAX_DEPTH => self.link(index, end, depth),
                b'h' | b'H' => self.bare_link(index, end),
                _ => None,
            };
            match parsed {
                Some((inline, next)) => {
                    push_text(&mut out, &self.text[text_start..index]);
                    match inline {
                        Inline::Text(words) => push_text(&mut out, &words),
                        other => out.push(other),
                    }
                    index = next;
                    text_start = next;
                }
                // A marker run that opens nothing is literal as a whole (`****` is not `*` + `***`).
                None if byte == b'*' || byte == b'_' => index += run_length(self.bytes, &self.escaped, index, end),
                None => index += 1,
            }
        }
        push_text(&mut out, &self.text[text_start..end]);
        out
    }

    fn code_span(&mut self, index: usize, end: usize) -> Option<(Inline, usize)> {
        let close = self.backtick.find(index + 1, end)?;
        if close == index + 1 {
            return None;
        }
        Some((Inline::Code(self.text[index + 1..close].to_string()), close + 1))
    }

    fn emphasis(&mut self, index: usize, end: usize, depth: usize, marker: u8) -> Option<(Inline, usize)> {
        let run = run_length(self.bytes, &self.escaped, index, end);
        if run > 3 || !self.can_open(index, run, marker) {
            return None;
        }
        // `***x***` opens bold here; the third marker then opens an italic inside.
        let double = run >= 2;
        let width = if double { 2 } else { 1 };
        let cursor = match (marker, double) {
            (b'*', true) => &mut self.double_star,
            (b'*', false) => &mut self.single_star,
            (_, true) => &mut self.double_underscore,
            (_, false) => &mut self.single_underscore,
        };
        let close = cursor.find(index + width + 1, end)?;
        let children = self.parse_range(index + width, close, depth + 1);
        let inline = if double { Inline::Bold(children) } else { Inline::Italic(children) };
        Some((inline, close + width))
    }

    fn link(&mut self, index: usize, end: usize, depth: usize) -> Option<(Inline, usize)> {
        let label_end = self.close_bracket.find(index + 1, end)?;
        let url_end = self.close_paren.find(label_end + 2, end)?;
        let url = &self.text[label_end + 2..url_end];
        let children = self.parse_range(index + 1, label_end, depth + 1);
        let inline = match safe_href(url) {
            Some(href) => Inline::Link { href, children },
            // An unsafe target keeps the label's words as plain text and loses the link.
            None => {
                let mut words = String::new();
                collect_text(&children, &mut words);
                Inline::Text(words)
            }
        };
        Some((inline, url_end + 1))
    }

    /// `http://…` or `https://…` at a word start, up to whitespace, minus trailing punctuation.
    fn bare_link(&mut self, index: usize, end: usize) -> Option<(Inline, usize)> {
        if index > 0 && is_word_byte(self.bytes[index - 1]) {
            return None;
        }
        let rest = &self.text[index..end];
        let lower_prefix: String = rest.chars().take(8).collect::<String>().to_ascii_lowercase();
        if !(lower_prefix.starts_with("http://") || lower_prefix.starts_with("https://")) {
            return None;
        }
        // Control characters end the token too, so a refused URL is never rescanned from each `h`.
        let mut length = rest
            .find(|c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
            .unwrap_or(rest.len());
        while length > 0 && matches!(rest.as_bytes()[length - 1], b'.' | b',' | b';' | b':' | b'!' | b'?' | b')' | b'\'' | b'"') {
            length -= 1;
        }
        let url = &rest[..length];
        let href = safe_href(url)?;
        Some((Inline::Link { href, children: vec![Inline::Text(url.to_string())] }, index + length))
    }
}

fn collect_text(inlines: &[Inline], out: &mut String) {
    for inline in inlines {
        match inline {
            Inline::Text(text) | Inline::Code(text) => out.push_str(text),
            Inline::Bold(children) | Inline::Italic(children) | Inline::Link { children, .. } => collect_text(children, out),
            Inline::LineBreak => out.push(' '),
        }
    }
}

/// Length of the run of unescaped `bytes[index]` markers starting at `index`, within `end`.
fn run_length(bytes: &[u8], escaped: &[bool], index: usize, end: usize) -> usize {
    let marker = bytes[index];
    let mut length = 0;
    while index + length < end && bytes[index + length] == marker && !escaped[index + length] {
        length += 1;
    }
    length
}

fn push_text(out: &mut Vec<Inline>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Inline::Text(previous)) = out.last_mut() {
        previous.push_str(text);
    } else {
        out.push(Inline::Text(text.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Inline {
        Inline::Text(value.to_string())
    }

    fn paragraph(input: &str) -> Vec<Inline> {
        match parse(input).as_slice() {
            [Block::Paragraph(inlines)] => inlines.clone(),
            other => panic!("expected one paragraph, got {other:?}"),
        }
    }

    #[test]
    fn plain_text_stays_text() {
        assert_eq!(paragraph("hello world"), vec![text("hello world")]);
    }

    #[test]
    fn html_is_never_markup() {
        let hostile = "<img src=x onerror=alert(1)>";
        assert_eq!(paragraph(hostile), vec![text(hostile)]);
        let script = "<script>alert('x')</script>";
        assert_eq!(paragraph(script), vec![text(script)]);
    }

    #[test]
    fn bold_italic_and_code() {
        assert_eq!(
            paragraph("a **b** *c* `d*e*`"),
            vec![
                text("a "),
                Inline::Bold(vec![text("b")]),
                text(" "),
                Inline::Italic(vec![text("c")]),
                text(" "),
                Inline::Code("d*e*".into()),
            ]
        );
        assert_eq!(paragraph("__b__ _i_"), vec![Inline::Bold(vec![text("b")]), text(" "), Inline::Italic(vec![text("i")])]);
    }

    #[test]
    fn nested_emphasis() {
        assert_eq!(paragraph("**bold *and italic***"), vec![Inline::Bold(vec![text("bold "), Inline::Italic(vec![text("and italic")])])]);
        assert_eq!(paragraph("***both***"), vec![Inline::Bold(vec![Inline::Italic(vec![text("both")])])]);
        assert_eq!(paragraph("**a _b_ c**"), vec![Inline::Bold(vec![text("a "), Inline::Italic(vec![text("b")]), text(" c")])]);
        assert_eq!(paragraph("****"), vec![text("****")]);
    }

    #[test]
    fn unclosed_markers_are_literal() {
        assert_eq!(paragraph("**not bold"), vec![text("**not bold")]);
        assert_eq!(paragraph("*x"), vec![text("*x")]);
        assert_eq!(paragraph("`open code"), vec![text("`open code")]);
        assert_eq!(paragraph("[label](mailto:a@b.example"), vec![text("[label](mailto:a@b.example")]);
        assert_eq!(paragraph("2 * 3 * 4"), vec![text("2 * 3 * 4")]);
    }

    #[test]
    fn snake_case_is_not_italic() {
        assert_eq!(paragraph("my_var_name"), vec![text("my_var_name")]);
    }

    #[test]
    fn escapes_keep_markers_literal() {
        assert_eq!(paragraph(r"\*not italic\*"), vec![text("*not italic*")]);
    }

    #[test]
    fn safe_links_only() {
        assert_eq!(
            paragraph("[site](https://example.com/a?b=1)"),
            vec![Inline::Link { href: "https://example.com/a?b=1".into(), children: vec![text("site")] }]
        );
        // The first `)` ends the target, so `javascript:alert(1` is refused and `)` stays text.
        assert_eq!(paragraph("[x](javascript:alert(1))"), vec![text("x)")]);
        assert_eq!(paragraph("[x](JaVaScRiPt:alert(1))")[0], text("x)"));
        assert_eq!(paragraph("[x](data:text/html,hi)"), vec![text("x")]);
        assert_eq!(paragraph("[x](/relative)"), vec![text("x")]);
        assert_eq!(
            paragraph("[mail](mailto:a@example.com)"),
            vec![Inline::Link { href: "mailto:a@example.com".into(), children: vec![text("mail")] }]
        );
    }

    #[test]
    fn safe_href_rules() {
        assert_eq!(safe_href("https://a.example").as_deref(), Some("https://a.example"));
        assert_eq!(safe_href(" HTTP://a.example ").as_deref(), Some("HTTP://a.example"));
        assert_eq!(safe_href("javascript:alert(1)"), None);
        assert_eq!(safe_href("java\tscript:alert(1)"), None);
        assert_eq!(safe_href("vbscript:x"), None);
        assert_eq!(safe_href("https:"), None);
        assert_eq!(safe_href("https://a b"), None);
        assert_eq!(safe_href(""), None);
    }

    #[test]
    fn bare_links() {
        assert_eq!(
            paragraph("see https://example.com/x. ok"),
            vec![
                text("see "),
                Inline::Link { href: "https://example.com/x".into(), children: vec![text("https://example.com/x")] },
                text(". ok"),
            ]
        );
        assert_eq!(paragraph("xhttps://example.com"), vec![text("xhttps://example.com")]);
    }

    #[test]
    fn lists_and_code_blocks() {
        let blocks = parse("intro\n- one\n- **two**\n\n1. first\n2) second\n```\n<b>raw</b>\n```\nafter");
        assert_eq!(
            blocks,
            vec![
                Block::Paragraph(vec![text("intro")]),
                Block::List { ordered: false, items: vec![vec![text("one")], vec![Inline::Bold(vec![text("two")])]] },
                Block::List { ordered: true, items: vec![vec![text("first")], vec![text("second")]] },
                Block::CodeBlock("<b>raw</b>".into()),
                Block::Paragraph(vec![text("after")]),
            ]
        );
    }

    #[test]
    fn unclosed_fence_keeps_content() {
        assert_eq!(parse("```\ncode"), vec![Block::CodeBlock("code".into())]);
    }

    #[test]
    fn line_breaks_within_paragraph() {
        assert_eq!(paragraph("a\r\nb"), vec![text("a"), Inline::LineBreak, text("b")]);
        assert_eq!(parse("a\n\nb").len(), 2);
    }

    #[test]
    fn plain_text_strips_markup() {
        assert_eq!(plain_text(&parse("**hi** [there](https://x.example)\n- a")), "hi there\na");
    }

    #[test]
    fn one_megabyte_of_hostile_input_is_fast() {
        let patterns = ["**", "*a", "[", "`", "_x", "[a](", "\\", "https://", "https://\u{1}", "***a", "[a](javascript:x)"];
        for pattern in patterns {
            let input = pattern.repeat(1_000_000 / pattern.len());
            let started = std::time::Instant::now();
            let blocks = parse(&input);
            assert!(!blocks.is_empty());
            assert!(started.elapsed().as_secs() < 2, "pattern {pattern:?} took {:?}", started.elapsed());
        }
    }

    #[test]
    fn multibyte_text_is_safe() {
        assert_eq!(paragraph("é**ü**"), vec![text("é"), Inline::Bold(vec![text("ü")])]);
        assert_eq!(paragraph("مرحبا *بك*"), vec![text("مرحبا "), Inline::Italic(vec![text("بك")])]);
    }
}
