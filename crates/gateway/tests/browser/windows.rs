//! Tabs for the end-to-end tests: open and switch them, count the gateway's sockets of a
//! deployment, and time a handover from inside the tabs.

use std::time::{Duration, Instant};

use fantoccini::wd::WindowHandle;

use crate::harness::Env;

/// Records every `data-state` of the status element with the page's wall clock, so a handover
/// can be timed from inside a tab (`window.__tlTimedStates = [[state, ms], …]`).
pub(crate) const RECORD_TIMED_STATES_JS: &str = r#"
    window.__tlTimedStates = [];
    const note = () => {
      const e = document.querySelector('[data-testid=status]');
      const s = e ? e.getAttribute('data-state') : null;
      const log = window.__tlTimedStates;
      if (s && (log.length === 0 || log[log.length - 1][0] !== s)) log.push([s, Date.now()]);
    };
    note();
    new MutationObserver(note).observe(document.documentElement,
      { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
"#;

/// When the status recorded by [`RECORD_TIMED_STATES_JS`] went back to `connected` after
/// leaving it (`null`: not yet).
const RECONNECTED_AT_JS: &str = "const log = window.__tlTimedStates || []; \
    const i = log.findIndex(e => e[0] !== 'connected'); \
    const c = i < 0 ? undefined : log.slice(i).find(e => e[0] === 'connected'); \
    return c ? c[1] : null;";

impl Env {
    /// Live sockets of every session of `deployment`, summed (the gateway's control API).
    pub(crate) fn sockets(&self, deployment: &str) -> u64 {
        self.sessions(deployment).iter().map(|session| session["sockets"].as_u64().unwrap_or(0)).sum()
    }

    /// Waits until the deployment has exactly `want` live sockets, then checks it stays so for
    /// `settle` (a second socket opening late would show up).
    pub(crate) async fn wait_sockets(&self, deployment: &str, want: u64, secs: u64, settle: Duration) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = self.sockets(deployment);
        while seen != want {
            assert!(Instant::now() < deadline, "{seen} sockets for the deployment, wanted {want} (sessions: {:#?})", self.sessions(deployment));
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen = self.sockets(deployment);
        }
        let until = Instant::now() + settle;
        while Instant::now() < until {
            let now = self.sockets(deployment);
            assert_eq!(now, want, "the socket count moved to {now} after reaching {want}: {:#?}", self.sessions(deployment));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a new (blank) tab and switches to it.
    pub(crate) async fn new_tab(&self) -> WindowHandle {
        let handle = self.client.new_window(true).await.expect("open a tab").handle;
        self.switch_to(&handle).await;
        handle
    }

    /// Opens a new tab on the deployment's page and switches to it.
    pub(crate) async fn open_tab(&self, deployment: &str) -> WindowHandle {
        self.open_tab_with(deployment, "").await
    }

    /// `open_tab` with more page options (`&sound=1`), as `open_page_with`.
    pub(crate) async fn open_tab_with(&self, deployment: &str, options: &str) -> WindowHandle {
        let handle = self.new_tab().await;
        self.open_page_with(deployment, options).await;
        handle
    }

    /// Makes `tab` the current window.
    pub(crate) async fn switch_to(&self, tab: &WindowHandle) {
        self.client.switch_to_window(tab.clone()).await.expect("switch tabs");
    }
}

/// Waits (10 s per tab) until each tab's recorded status log (`RECORD_TIMED_STATES_JS`) shows
/// `connected` again after leaving it, and returns the earliest such time (page clock, ms).
/// Leaves the last of `tabs` current.
pub(crate) async fn first_reconnect(env: &Env, tabs: &[&WindowHandle], what: &str) -> f64 {
    let mut reconnected_at = Vec::new();
    for tab in tabs {
        env.switch_to(tab).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let at = loop {
            if let Some(at) = env.js(RECONNECTED_AT_JS).await.as_f64() {
                break at;
            }
            assert!(Instant::now() < deadline, "no reconnect after {what}: {}", env.js("return window.__tlTimedStates;").await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        reconnected_at.push(at);
    }
    reconnected_at.into_iter().fold(f64::INFINITY, f64::min)
}
