//! The accept loop, Liaison's own instead of `axum::serve`, for what slow clients need: a time
//! limit on each request's head (hyper's header read timeout, which also closes idle kept-alive
//! connections), a cap on the connections served at once (the rest wait in the operating system's
//! queue), and ([`within_time`], which the main and metrics routers apply) a time limit on each
//! page, server-function and admin API request. It keeps what `axum::serve` gave: the client's
//! address as `ConnectInfo`, and a graceful shutdown that stops
//! accepting and lets the requests in flight finish. And how a request's path is written in the log
//! (`logged_path`), for every line that names one.

use app::error::{AppError, ErrorCode};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Open files kept for everything but client connections (the database, logs, outbound calls).
const RESERVED_FILES: u64 = 256;

/// The limits slow clients meet.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// To send a request's head; also how long an idle kept-alive connection stays open.
    pub header_read_timeout: Duration,
    /// Of each request but the scripts' API's, from its head to its answer.
    pub request_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Limits {
    /// The configured limits, with `max_connections` lowered to what the open-files limit (raised
    /// as far as allowed) can hold.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self::serving(config, connections_allowed(config.max_connections))
    }

    /// The configured time limits, serving at most `max_connections` (no open-files check).
    pub fn serving(config: &crate::config::Config, max_connections: usize) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds),
            request_timeout: Duration::from_secs(config.request_timeout_seconds),
            max_connections,
        }
    }

    /// These limits for `n` listeners serving at once: the connections shared out between them,
    /// each at least one (so together no more than these, unless there are more listeners than
    /// connections). Each keeps to its share: one may be full while another has room.
    pub fn shared(self, n: usize) -> Self {
        Self { max_connections: (self.max_connections / n.max(1)).max(1), ..self }
    }
}

/// `app`'s requests answered within `limit` (`request_timeout`), except the scripts' API's, which
/// have their own limit (`deadline`). The API's own listener (`crate::api_listen`) goes without
/// this layer: every layer costs each call.
pub fn within_time<S: Clone + Send + Sync + 'static>(app: Router<S>, limit: Duration) -> Router<S> {
    app.layer(middleware::from_fn(move |req: Request, next: Next| deadline(limit, req, next)))
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and returns once
/// every connection has finished its requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let max = limits.max_connections;
    let places = Arc::new(Semaphore::new(max));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(crate::outbound::READ_BUFFER_BYTES);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        // A place first: at the cap, new connections wait in the operating system's queue.
        let place = tokio::select! {
            place = places.clone().acquire_owned() => place,
            _ = &mut shutdown => break,
        };
        let Ok(place) = place else { break };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(remote));
            let mut app = app.clone();
            // A Router is always ready: no poll_ready needed.
            tower::Service::call(&mut app, req)
        });
        let conn = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _place = place;
            let mut conn = pin!(conn);
            let stopping = async move {
                // The guard `wait_for` returns is not `Send`: dropped here.
                let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
            };
            tokio::select! {
                result = conn.as_mut() => log_end(result, remote),
                _ = stopping => {
                    conn.as_mut().graceful_shutdown();
                    log_end(conn.await, remote);
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    drop(listener);
    // Every place back: every connection has ended.
    let _ = places.acquire_many(u32::try_from(max).unwrap_or(u32::MAX)).await;
    Ok(())
}

fn log_end(result: Result<(), hyper::Error>, remote: SocketAddr) {
    if let Err(e) = result {
        // Header timeouts, resets and half-sent requests: the client's doing, not an error here.
        tracing::debug!(client = %remote, error = %e, "connection ended");
    }
}

async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    // Out of open files, most likely: wait for some to close rather than spin.
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// The path as logged (every log line that names a request's path uses it): a reconnect link's
/// token is a credential, never written down.
pub(crate) fn logged_path(path: &str) -> &str {
    if path.starts_with("/reconnect/") {
        "/reconnect/…"
    } else {
        path
    }
}

/// Pages, server functions and the admin API answer within `limit`, their request body included;
/// the scripts' API (`/api/v1/`) has its own limit, and its proxied answers stream.
async fn deadline(limit: Duration, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/api/v1/") {
        return next.run(req).await;
    }
    let (method, path) = (req.method().clone(), logged_path(req.uri().path()).to_string());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %path, limit_seconds = limit.as_secs(), "request not finished in time");
            let e = AppError::new(
                ErrorCode::Busy,
                "Liaison could not finish this request in time. Try again shortly; if it keeps happening, ask your administrator to check Liaison's log.",
            );
            (StatusCode::SERVICE_UNAVAILABLE, Json(e)).into_response()
        }
    }
}

/// `wanted`, or fewer if the open-files limit (raised as far as allowed) cannot hold that many.
fn connections_allowed(wanted: usize) -> usize {
    let Some(files) = raise_open_files_limit() else { return wanted };
    let room = usize::try_from(files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX).max(16);
    if room < wanted {
        tracing::warn!(
            max_connections = wanted,
            open_files = files,
            serving = room,
            "the open-files limit is too low for max_connections: serving fewer (raise `ulimit -n`)"
        );
        return room;
    }
    wanted
}

/// Raises the soft open-files limit to the hard one; returns the limit in force.
#[cfg(unix)]
fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        // Linux refuses an unlimited soft limit for open files: a million is plenty.
        let target = limit.rlim_max.min(1 << 20);
        if limit.rlim_cur < target {
            let raised = libc::rlimit { rlim_cur: target, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = target;
            }
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
    Some(limit.rlim_cur as u64)
}

#[cfg(not(unix))]
fn raise_open_files_limit() -> Option<u64> {
    None
}
