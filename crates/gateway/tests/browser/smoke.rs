//! The release build loads and renders (this is what a broken wasm-opt breaks).

use crate::harness::Env;

#[tokio::test]
async fn release_build_renders_the_launcher() {
    let env = Env::start().await;
    env.client.goto(&format!("{}/", env.base)).await.expect("open demo page");
    let launcher = env.wait_for("[data-testid=launcher]", 20).await;
    assert!(launcher.is_displayed().await.expect("displayed"), "launcher is not visible");
    env.screenshot("launcher").await;
    env.finish().await;
}
