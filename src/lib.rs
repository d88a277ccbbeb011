//! Threadline: an embeddable web messenger (Leptos, WASM) for Genesys Cloud Web Messaging.
//!
//! * [`start`] is the page entry point: it reads the settings (URL query, then
//!   `window.ThreadlineConfig`, then defaults), fetches the deployment's `config.json`, and
//!   mounts the messenger into `<div id="threadline">` (created when missing).
//! * [`mount`] mounts a messenger with explicit settings and [`Services`] (socket, HTTP,
//!   storage), which is how the browser tests drive it with a scripted transport.
//!
//! The protocol and every decision about time and order live in `threadline-core`'s sans-IO
//! session engine; [`platform`] is the only code touching browser APIs, [`view`] renders the
//! [`model::Model`] the engine's events feed.

pub mod address;
pub mod attachments;
pub mod auth;
pub mod config;
pub mod embed;
pub mod i18n;
pub mod model;
pub mod platform;
pub mod tabs;
pub mod view;

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use threadline_core::protocol::{DeploymentConfig, DeploymentId};
use threadline_core::session::SessionConfig;

pub use address::{endpoints, AddressError, Endpoints};
pub use config::{AppConfig, Position, RawConfig, Theme, DEFAULT_DEPLOYMENT_ID};
pub use i18n::Locale;
pub use platform::driver::{Driver, Services};
pub use platform::storage::{StorageProblem, Store};
pub use platform::{Http, HttpDone, HttpResponse, SocketEvent, SocketSink, Transport, UploadDone, UploadProgress};

/// A mounted messenger. Dropping it closes the connection and removes the UI.
pub struct Messenger {
    driver: Rc<Driver>,
    // The Leptos unmount handle (its type names the whole view tree, so it is kept erased).
    mounted: Option<Box<dyn Any>>,
    // Owns the model's signals; dropped last.
    _owner: Owner,
}

impl Messenger {
    /// The driver (for commands such as opening the panel programmatically).
    pub fn driver(&self) -> &Rc<Driver> {
        &self.driver
    }

    /// Opens the panel, as a click on the launcher would.
    pub fn open(&self) {
        self.driver.open_panel();
    }

    /// Closes the panel.
    pub fn close(&self) {
        self.driver.close_panel();
    }
}

impl Drop for Messenger {
    fn drop(&mut self) {
        // The view goes first: shutting the engine down changes the model (the state becomes
        // closed), and a view effect notified of that change would otherwise run after its
        // owner was disposed. The engine stops before the model's owner (`_owner`) is dropped,
        // so no late socket or HTTP callback touches disposed signals.
        self.mounted.take();
        self.driver.shutdown();
    }
}

/// The production services: browser WebSocket, fetch/XHR, and localStorage namespaced by
/// deployment (memory fallback with a visible notice).
pub fn browser_services(deployment_id: &str) -> Services {
    Services {
        transport: Box::new(platform::socket::BrowserSocket::default()),
        http: Rc::new(platform::http::BrowserHttp),
        store: Store::browser(deployment_id),
    }
}

/// Mounts a messenger into `parent`.
///
/// `deployment` is the parsed `config.json` (use `DeploymentConfig::default()` when it could
/// not be fetched). Fails only on unusable settings (server or deployment id).
pub fn mount(parent: web_sys::HtmlElement, app: AppConfig, deployment: DeploymentConfig, services: Services) -> Result<Messenger, AddressError> {
    let endpoints = address::endpoints(&app.server, &app.deployment_id)?;
    let session_config = SessionConfig::from_deployment(DeploymentId::new(app.deployment_id.clone()), endpoints.ws_url.clone(), &deployment);
    let strings = app.locale.strings();
    let conversations = deployment.conversations().cloned();
    let appearance = view::Appearance {
        title: app.title.clone().unwrap_or_else(|| strings.title.to_string()),
        theme: app.theme,
        position: app.position,
        primary_color: app.primary_color.clone().or_else(|| {
            let color = deployment.messenger.as_ref()?.styles.as_ref()?.primary_color.clone()?;
            config::is_hex_color(&color).then_some(color)
        }),
    };
    let fetched = deployment != DeploymentConfig::default();
    let markdown = !fetched || deployment.markdown_enabled();
    let agent_typing = !fetched || deployment.agent_typing_enabled();
    // Sign-in needs the deployment's `auth.enabled` (every token endpoint refuses otherwise).
    let sign_in = app.auth.clone().filter(|_| {
        let offered = !fetched || deployment.auth_enabled();
        if !offered {
            web_sys::console::warn_1(&"Threadline: sign-in is configured but the deployment has auth turned off".into());
        }
        offered
    });
    let auth_services = sign_in.map(|settings| (settings, endpoints.clone(), services.http.clone()));

    // The model's signals belong to an owner the Messenger keeps, so they outlive no one.
    let owner = Owner::new();
    let locale = app.locale;
    let driver = owner.with(|| {
        let model = model::Model::new(locale);
        if let Some(app) = &conversations {
            if let Some(welcome) = app.welcome_message.clone().filter(|text| !text.trim().is_empty()) {
                model.welcome.set(welcome);
            }
            if let Some(bot) = app.humanize.as_ref().filter(|humanize| humanize.enabled).and_then(|humanize| humanize.bot.clone()) {
                model.bot_name.set(bot.name);
                model.bot_avatar.set(bot.avatar_url);
            }
        }
        model.markdown.set(markdown);
        model.agent_typing_enabled.set(agent_typing);
        Driver::start(session_config, deployment, endpoints, services, model)
    });
    driver.configure_alerts(app.sound, app.notifications);
    if let Some((settings, endpoints, http)) = auth_services {
        platform::auth::BrowserAuth::install(&driver, settings, endpoints, http, platform::auth::redirect_return());
    }
    let view_driver = driver.clone();
    let handle = leptos::mount::mount_to(parent, move || view! { <view::App driver=view_driver appearance=appearance /> });
    Ok(Messenger { driver, mounted: Some(Box::new(handle)), _owner: owner })
}

thread_local! {
    static PAGE_MESSENGER: RefCell<Option<Messenger>> = const { RefCell::new(None) };
}

/// Page entry point (called by `main`): settings from the page, `config.json` from the server,
/// then the messenger in `<div id="threadline">`. Errors are reported on the console.
pub fn start() {
    console_error_panic_hook::set_once();
    // Embedded by www/threadline.js: the loader boots the app into its shadow root instead.
    if embed::loaded_by_loader() {
        return;
    }
    // An IdP redirect back to this page: take the code out of the URL (restoring the URL the
    // sign-in started from, settings included) before anything reads it.
    platform::auth::capture_redirect_return();
    let app = platform::page::page_config();
    let endpoints = match address::endpoints(&app.server, &app.deployment_id) {
        Ok(endpoints) => endpoints,
        Err(error) => {
            web_sys::console::error_1(&format!("Threadline: {error}").into());
            return;
        }
    };
    let services = browser_services(&app.deployment_id);
    let http = services.http.clone();
    http.get(
        &endpoints.config_url(),
        None,
        Box::new(move |result| {
            let deployment = deployment_or_default(result);
            let Some(parent) = platform::page::mount_point() else {
                web_sys::console::error_1(&"Threadline: no document body to mount into".into());
                return;
            };
            match mount(parent, app, deployment, services) {
                Ok(messenger) => PAGE_MESSENGER.with(|slot| *slot.borrow_mut() = Some(messenger)),
                Err(error) => web_sys::console::error_1(&format!("Threadline: {error}").into()),
            }
        }),
    );
}

/// The deployment's `config.json` from the answer to its fetch, or the defaults when there is
/// none or it is unusable (the console says why).
pub fn deployment_or_default(result: Result<HttpResponse, String>) -> DeploymentConfig {
    match result {
        Ok(response) if (200..300).contains(&response.status) => DeploymentConfig::from_json(&response.body).unwrap_or_else(|error| {
            web_sys::console::warn_1(&format!("Threadline: config.json ignored (server sent an unusable document): {error}").into());
            DeploymentConfig::default()
        }),
        Ok(response) => {
            web_sys::console::warn_1(&format!("Threadline: config.json answered HTTP {}; using defaults", response.status).into());
            DeploymentConfig::default()
        }
        Err(error) => {
            web_sys::console::warn_1(&format!("Threadline: config.json unavailable ({error}); using defaults").into());
            DeploymentConfig::default()
        }
    }
}

/// Removes the messenger started by [`start`] (closing its connection).
pub fn stop() {
    PAGE_MESSENGER.with(|slot| slot.borrow_mut().take());
}
