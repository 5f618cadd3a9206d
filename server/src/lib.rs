//! Liaison's server: storage, sessions, configuration and the HTTP surface. The `liaison` binary
//! (main.rs) is a thin command line over this library.

pub mod accept;
pub mod actor;
pub mod admin;
pub mod api_listen;
pub mod api_tokens;
pub mod auth;
pub mod backend;
pub mod backup;
pub mod calls;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod connections;
pub mod credentials;
pub mod custody;
pub mod doctor;
pub mod embed;
pub mod error;
pub mod flows;
pub mod hot;
pub mod infra;
pub mod invoke;
pub mod keys;
pub mod members;
pub mod metadata;
pub mod metrics;
pub mod outbound;
pub mod reconnect;
pub mod routes;
pub mod services;
pub mod store;
pub mod theme;
pub mod vault;
pub mod webhooks;

use crate::auth::session::CookieSettings;
use crate::backend::ServerBackend;
use crate::config::{Config, LogFormat};
use crate::error::Result;
use crate::store::{Clock, Store};
use leptos::config::{Env, LeptosOptions};
use std::sync::Arc;
use std::time::Duration;

/// Sets up structured logging from the configuration.
pub fn init_logging(config: &Config) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(std::io::stdout().is_terminal()).try_init(),
    };
    if let Err(e) = result {
        eprintln!("liaison: logging was already set up: {e}");
    }
}

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests finish (up to the grace
/// period).
pub async fn serve(config: Config) -> Result<()> {
    let catalog = catalog::Catalog::load(config.catalog_file.as_deref()).map_err(|problems| {
        crate::error::Error::Invalid(format!("the service catalogue has problems:\n  {}", problems.join("\n  ")))
    })?;
    tracing::info!(services = catalog.services().len(), "service catalogue loaded");
    // Before the database is touched: a bad file stops the start with nothing changed.
    let clients = services::OperatorClients::load(config.oauth_clients_file.as_deref(), &catalog)?;
    let store = Store::open(&config).await?;
    store.migrate().await?;
    if store.kind == store::DbKind::Sqlite {
        // One instance owns an SQLite file: a refresh lease can only be left by a process that died.
        let cleared = store::grants::clear_leases(&store.pool).await?;
        if cleared > 0 {
            tracing::warn!(cleared, "refresh leases left by a stopped process were cleared");
        }
        let cleared = store::webhooks::clear_leases(&store.pool).await?;
        if cleared > 0 {
            tracing::warn!(cleared, "webhook deliveries left by a stopped process will be tried again");
        }
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let bound = listener.local_addr()?;
    let public_url = config
        .public_url_for(bound)
        .map_err(|e| crate::error::Error::Invalid(format!("cannot form the public URL: {e}")))?;
    let cookies = CookieSettings {
        secure: public_url.scheme() == "https",
        max_age_secs: u64::from(config.session_ttl_hours) * 3600,
    };
    let clock: Arc<dyn Clock> = clock::from_config(&config);
    let vault = keys::live::Vault::start(&config, &store).await?;
    tracing::info!(key_id = vault.active_id(), keys = vault.key_ids().len(), "vault keys loaded");
    let outbound = outbound::Outbound::new(outbound_config(&config))
        .map_err(|e| crate::error::Error::Invalid(format!("cannot build the outbound HTTP client: {e}")))?;
    let url = public_url.to_string();
    let infra = infra::Infra {
        store: store.clone(),
        clock: clock.clone(),
        outbound,
        public_url: if url.ends_with('/') { url } else { format!("{url}/") },
    };
    let vault = Arc::new(vault);
    let services = services::Services {
        infra: infra.clone(),
        vault: vault.clone(),
        catalog: Arc::new(catalog),
        clients,
        allow_http: config.allow_http_urls,
    };
    let backend = Arc::new(ServerBackend::new(backend::Parts {
        infra,
        vault,
        services,
        cookies,
        admin_token: config.admin_token.clone(),
        embed: embed::Embed::new(
            config.embed_origins.clone(),
            config.embed_secret.as_ref().map(|s| s.expose().to_string()),
        )
        .provisioning(config.embed_provision)
        .themed(config.embed_theme.as_ref()),
        login_lockout_seconds: config.login_lockout_seconds,
        api: invoke::ApiSettings {
            timeout: Duration::from_secs(config.api_timeout_seconds),
            max_body_bytes: config.api_max_body_bytes,
        },
    }));
    backend.services.settle_custody_at_start().await?;
    backend.webhooks.spawn_delivery();
    backend.credentials.spawn_keep_alive();
    let leptos = LeptosOptions::builder()
        .output_name("liaison")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(bound)
        .env(match std::env::var("LEPTOS_ENV").as_deref() {
            Ok("DEV") | Ok("development") => Env::DEV,
            _ => Env::PROD,
        })
        .build();
    let state = routes::AppState {
        leptos: Arc::new(leptos),
        backend,
        public_origin: public_url.origin().ascii_serialization().into(),
        trust_host: config.public_url.is_none(),
    };
    spawn_session_sweeper(store.clone(), clock);
    let mut limits = accept::Limits::from_config(&config);
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let api = match config.api_listen {
        None => None,
        Some(addr) => {
            // `max_connections` is for the process: half for `listen`, half for the API's own.
            // (Its `request_timeout` goes unused there: the API's calls have their own limit.)
            limits = limits.shared(2);
            let api = api_listen::start(addr, routes::api_router(state.clone()), limits, stopping_rx.clone())?;
            tracing::info!(threads = api.threads(), "the scripts' API served at http://{}/api/v1/", api.bound);
            Some(api)
        }
    };
    let app = routes::router(state, limits.request_timeout);
    metrics::listen(&config, &store.pool).await?;
    tracing::info!(public_url = %public_url, database = ?store.kind, "listening on http://{bound}");

    let server = async move {
        let served = accept::serve(listener, app, limits, async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(true);
        })
        .await;
        if let Some(api) = api {
            api.finished().await;
        }
        served
    };
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    tokio::select! {
        result = server => result?,
        _ = async {
            let _ = stopping_rx.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!("grace period over: exiting with requests still in flight"),
    }
    // Connections still out (calls past the grace period) are not waited for long.
    if tokio::time::timeout(Duration::from_secs(5), store.pool.close()).await.is_err() {
        tracing::warn!("database connections still in use at exit");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The outbound client's settings from the configuration.
pub fn outbound_config(config: &Config) -> outbound::OutboundConfig {
    outbound::OutboundConfig {
        allow_private: config.allow_private_network.clone(),
        timeout: Duration::from_secs(config.outbound_timeout_seconds),
        max_response_bytes: 1024 * 1024,
    }
}

fn spawn_session_sweeper(store: Store, clock: Arc<dyn Clock>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            match store::sessions::purge_expired(&store.pool, clock.now_ms()).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "expired sessions removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
            if let Err(e) = store::flows::purge(&store.pool, clock.now_ms()).await {
                tracing::warn!(error = %e, "could not remove old authorisation flows");
            }
            if let Err(e) = reconnect::purge(&store, clock.now_ms()).await {
                tracing::warn!(error = %e, "could not remove old reconnect links");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
