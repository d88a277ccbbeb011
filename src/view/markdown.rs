//! Renders the markdown AST of `threadline_core::markdown` as DOM nodes. Text always becomes
//! text nodes (never parsed as HTML); links only carry targets that passed `safe_href`.

use leptos::prelude::*;
use threadline_core::markdown::{parse, Block, Inline};

/// The view of a message text in the markdown subset.
pub fn render_markdown(text: &str) -> AnyView {
    parse(text).into_iter().map(block_view).collect_view().into_any()
}

fn block_view(block: Block) -> AnyView {
    match block {
        Block::Paragraph(inlines) => view! { <p>{inlines_view(inlines)}</p> }.into_any(),
        Block::List { ordered: true, items } => view! { <ol>{items_view(items)}</ol> }.into_any(),
        Block::List { ordered: false, items } => view! { <ul>{items_view(items)}</ul> }.into_any(),
        Block::CodeBlock(code) => view! {
            <pre>
                <code>{code}</code>
            </pre>
        }
        .into_any(),
    }
}

fn items_view(items: Vec<Vec<Inline>>) -> AnyView {
    items.into_iter().map(|item| view! { <li>{inlines_view(item)}</li> }).collect_view().into_any()
}

fn inlines_view(inlines: Vec<Inline>) -> AnyView {
    inlines.into_iter().map(inline_view).collect_view().into_any()
}

fn inline_view(inline: Inline) -> AnyView {
    match inline {
        Inline::Text(text) => text.into_any(),
        Inline::Bold(children) => view! { <strong>{inlines_view(children)}</strong> }.into_any(),
        Inline::Italic(children) => view! { <em>{inlines_view(children)}</em> }.into_any(),
        Inline::Code(code) => view! { <code>{code}</code> }.into_any(),
        Inline::Link { href, children } => view! {
            <a href=href target="_blank" rel="noopener noreferrer">
                {inlines_view(children)}
            </a>
        }
        .into_any(),
        Inline::LineBreak => view! { <br /> }.into_any(),
    }
}
