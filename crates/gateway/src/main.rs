//! `threadline-gateway`: run the local Web Messaging server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use threadline_gateway::{Gateway, GatewayConfig, DEMO_DEPLOYMENT_ID};

const USAGE: &str = "\
threadline-gateway: a local, protocol-faithful Genesys Cloud Web Messaging server

USAGE:
    threadline-gateway [OPTIONS]

OPTIONS:
    --listen <addr>          address to listen on [default: 127.0.0.1:8080]
    --data <dir>             data directory (SQLite) [default: ./threadline-data]
    --deployments <file>     deployments TOML file ([[deployments]] tables with id + settings)
    --static <dir>           serve files from <dir> (index.html at /), with CORS *
    --dev                    enable the /control test API and the demo deployment
    -h, --help               print this help

Logging: RUST_LOG (default: info).";

struct Cli {
    listen: SocketAddr,
    data: PathBuf,
    deployments: Option<PathBuf>,
    static_dir: Option<PathBuf>,
    dev: bool,
}

fn parse_cli(mut args: impl Iterator<Item = String>) -> Result<Option<Cli>, String> {
    let mut cli = Cli {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        data: PathBuf::from("./threadline-data"),
        deployments: None,
        static_dir: None,
        dev: false,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => {
                let text = value("--listen")?;
                cli.listen = text.parse().map_err(|_| {
                    format!("--listen: {text:?} is not an address like 127.0.0.1:8080")
                })?;
            }
            "--data" => cli.data = PathBuf::from(value("--data")?),
            "--deployments" => cli.deployments = Some(PathBuf::from(value("--deployments")?)),
            "--static" => cli.static_dir = Some(PathBuf::from(value("--static")?)),
            "--dev" => cli.dev = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(cli))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match parse_cli(std::env::args().skip(1)) {
        Ok(Some(cli)) => cli,
        Ok(None) => {
            say(USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Logs go to stderr so stdout carries only the startup lines scripts wait for.
        .with_writer(std::io::stderr)
        .init();
    if let Some(dir) = &cli.static_dir {
        if !dir.is_dir() {
            eprintln!("error: --static {} is not a directory", dir.display());
            return ExitCode::from(2);
        }
    }
    let mut config = GatewayConfig::new(cli.listen, cli.data);
    config.deployments_file = cli.deployments;
    config.static_dir = cli.static_dir;
    config.dev = cli.dev;
    let (addr, handle) = match Gateway::start(config).await {
        Ok(started) => started,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    say(&format!("threadline-gateway listening on http://{addr}"));
    say(&format!("agent console: http://{addr}/console"));
    if cli.dev {
        say(&format!("control API: http://{addr}/control"));
        say(&format!("demo deployment: {DEMO_DEPLOYMENT_ID}"));
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    handle.shutdown(Duration::from_secs(5)).await;
    ExitCode::SUCCESS
}

/// Prints a line to stdout; a closed stdout (e.g. `| head`) is not worth a panic.
fn say(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Resolves on SIGINT or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the gateway");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
