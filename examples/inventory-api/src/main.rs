//! `inventory-api`: a small API protected by tessera-guard.
//!
//! `GET /items` needs the scope `inventory:read`, `POST /items` needs
//! `inventory:write`; tokens must be issued by `--issuer` for `--audience`.
//! The API's own client at the issuer (registered with `--introspection`)
//! lets the guard follow the revocation feed, so a revoked token is refused
//! within a second, and check opaque tokens by introspection.
//! See the README section "Protecting an API (tessera-guard)".

mod api;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tessera_guard::Guard;
use tracing_subscriber::EnvFilter;

/// An inventory API protected by tessera-guard.
#[derive(Parser)]
#[command(name = "inventory-api", version)]
struct Args {
    /// The authorization server that issues the tokens.
    #[arg(long, env = "TESSERA_ISSUER", default_value = "http://127.0.0.1:8080")]
    issuer: String,
    /// Address to listen on.
    #[arg(long, env = "INVENTORY_LISTEN", default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// This API's resource identifier: tokens must carry it in `aud`.
    #[arg(long, env = "INVENTORY_AUDIENCE", default_value = "http://127.0.0.1:8081")]
    audience: String,
    /// The API's own client at the issuer (registered with --introspection).
    #[arg(long, env = "INVENTORY_CLIENT_ID", default_value = "inventory-api")]
    client_id: String,
    /// That client's secret (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = "INVENTORY_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("issuer", &self.issuer)
            .field("listen", &self.listen)
            .field("audience", &self.audience)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // RUST_LOG overrides; the guard says at debug why it refused a token.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tessera_guard=debug"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    // Discovers the issuer, loads its keys and reads the revocation feed
    // before the first request is served; then follows the feed.
    let guard = Guard::builder(&args.issuer, &args.audience)
        .client_credentials(&args.client_id, &args.client_secret)
        .scopes_supported([api::READ, api::WRITE])
        .resource_name("Inventory API")
        .build()
        .await
        .map_err(|e| format!("cannot start the guard (issuer {}): {e}", args.issuer))?;
    tracing::info!(
        issuer = %args.issuer,
        audience = %args.audience,
        keys = guard.key_count(),
        feed_position = guard.feed_position(),
        "guard ready"
    );

    let app = api::router(&guard, api::Store::default());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!("listening on http://{}", args.listen);
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.map_err(|e| format!("server: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C (or SIGTERM on Unix): stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
