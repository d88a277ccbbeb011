//! The smallest page that exercises what the messenger's views rely on: a signal, an event
//! handler, reactive text and a keyed list (`<For>`).
use leptos::prelude::*;

fn main() {
    leptos::mount::mount_to_body(|| {
        let (count, set_count) = signal(0);
        view! {
            <button on:click=move |_| set_count.update(|n| *n += 1)>"Clicked " {count} " times"</button>
            <For each={move || (0..count.get()).collect::<Vec<i32>>()} key={|n: &i32| *n} let:n>
                <p>{n}</p>
            </For>
        }
    })
}
