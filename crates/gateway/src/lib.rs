//! threadline-gateway: a protocol-faithful local Genesys Cloud Web Messaging server.
//!
//! One host:port serves the WebSocket `/v1`, `config.json`, history, attachments, the agent
//! console (`/console`) and, with `--dev`, the test-control API (`/control`). State lives in
//! SQLite (WAL) under the data directory.
//!
//! Layout: [`domain`] holds the behaviour (no HTTP), [`ws`] and [`http`] adapt it to axum,
//! [`store`] persists it, [`clock`] makes time injectable.

pub mod clock;
pub mod domain;
pub mod http;
pub mod jwt;
pub mod store;
pub mod wire;
pub mod ws;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, Method};
use axum::routing::{get, put};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use domain::deployment::{DeploymentSettings, DEMO_DEPLOYMENT_ID};
pub use domain::hub::{Faults, Hub, HubOptions};

/// State shared by every route.
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    /// The address the listener is bound to (fallback for building absolute URLs).
    pub local_addr: SocketAddr,
}

/// Everything needed to start a gateway.
#[derive(Clone)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub deployments_file: Option<PathBuf>,
    pub static_dir: Option<PathBuf>,
    /// Enables `/control` and the demo deployment.
    pub dev: bool,
    pub clock: Arc<dyn Clock>,
    pub options: HubOptions,
    /// How often expired sessions are looked for.
    pub expiry_check_interval: Duration,
    /// How often the retention purge runs.
    pub retention_interval: Duration,
}

impl GatewayConfig {
    /// Defaults: system clock, checks every second, retention hourly.
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen,
            data_dir: data_dir.into(),
            deployments_file: None,
            static_dir: None,
            dev: false,
            clock: Arc::new(SystemClock),
            options: HubOptions::default(),
            expiry_check_interval: Duration::from_secs(1),
            retention_interval: Duration::from_secs(3600),
        }
    }
}

/// Why the gateway could not start (configuration or environment, reported to the operator).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot read the deployments file {path}: {source}")]
    DeploymentsFile {
        path: String,
        source: std::io::Error,
    },
    #[error("deployments file {path}: {source}")]
    DeploymentsInvalid {
        path: String,
        source: domain::deployment::SettingsError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Builds the router for `state`.
pub fn app(state: AppState, dev: bool, static_dir: Option<&Path>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        // Mirror, not `*`: the Fetch spec never lets `*` cover `Authorization`.
        .allow_headers(tower_http::cors::AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(600));
    let mut router = Router::new()
        .route("/v1", get(ws::upgrade))
        .route("/healthz", get(http::webmessaging::healthz))
        .route(
            "/webdeployments/v1/deployments/{id}/config.json",
            get(http::webmessaging::deployment_config),
        )
        .route(
            "/api/v2/webmessaging/messages",
            get(http::webmessaging::history),
        )
        .route(
            "/api/v2/conversations/{id}",
            get(http::webmessaging::conversation),
        )
        .route("/uploads/{id}", put(http::webmessaging::upload))
        .route("/api/v2/downloads/{id}", get(http::webmessaging::download))
        .merge(http::console::routes())
        .merge(http::auth::routes());
    if dev {
        router = router.merge(http::control::routes());
    }
    let mut router = router
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024));
    if let Some(dir) = static_dir {
        let files = tower::ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ))
            .service(ServeDir::new(dir));
        router = router.fallback_service(files);
    }
    router.layer(cors)
}

/// A running gateway.
pub struct GatewayHandle {
    pub addr: SocketAddr,
    pub hub: Arc<Hub>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

impl GatewayHandle {
    /// `http://addr`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://addr/v1?deploymentId=…`.
    pub fn ws_url(&self, deployment_id: &str) -> String {
        format!("ws://{}/v1?deploymentId={deployment_id}", self.addr)
    }

    /// Closes every socket (1001) and stops the server, waiting at most `grace`.
    pub async fn shutdown(mut self, grace: Duration) {
        self.hub.close_all_sockets(1001, "Server shutting down");
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.ticker.abort();
        if tokio::time::timeout(grace, &mut self.server).await.is_err() {
            tracing::warn!("connections still open after the grace period; stopping anyway");
            self.server.abort();
        }
    }
}

/// Starts a gateway.
pub struct Gateway;

impl Gateway {
    /// Opens the store, loads deployments, binds the listener and serves in the background.
    pub async fn start(config: GatewayConfig) -> Result<(SocketAddr, GatewayHandle), GatewayError> {
        let file_deployments = match &config.deployments_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    GatewayError::DeploymentsFile {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                domain::deployment::parse_deployments_toml(&text).map_err(|source| {
                    GatewayError::DeploymentsInvalid {
                        path: path.display().to_string(),
                        source,
                    }
                })?
            }
            None => Vec::new(),
        };
        let store = store::Store::open(&config.data_dir)?;
        let hub = Arc::new(Hub::open(
            store,
            config.clock.clone(),
            config.options.clone(),
            file_deployments,
            config.dev,
        )?);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| GatewayError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| GatewayError::Bind {
            addr: config.listen,
            source,
        })?;
        let router = app(
            AppState {
                hub: hub.clone(),
                local_addr: addr,
            },
            config.dev,
            config.static_dir.as_deref(),
        );
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            // Small frames, answered one by one: never wait for Nagle's algorithm.
            let listener = listener.tap_io(|stream| {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
            });
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = shutdown_rx.await;
                })
                .await;
            if let Err(error) = result {
                tracing::error!(%error, "server stopped with an error");
            }
        });
        let ticker = tokio::spawn(run_ticker(
            hub.clone(),
            config.expiry_check_interval,
            config.retention_interval,
        ));
        Ok((
            addr,
            GatewayHandle {
                addr,
                hub,
                shutdown: Some(shutdown_tx),
                server,
                ticker,
            },
        ))
    }
}

/// Background duties: session expiry and the retention purge.
async fn run_ticker(hub: Arc<Hub>, expiry_every: Duration, retention_every: Duration) {
    let mut expiry = tokio::time::interval(expiry_every.max(Duration::from_millis(10)));
    let mut retention = tokio::time::interval(retention_every.max(Duration::from_millis(10)));
    loop {
        tokio::select! {
            _ = expiry.tick() => { hub.expire_due_sessions(); }
            _ = retention.tick() => { hub.purge_retention(); }
        }
    }
}
