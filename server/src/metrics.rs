//! Prometheus metrics: the counters (atomics, one process-wide set), the one-line hooks the parts
//! that already see each event call (`api_call`, `upstream`, `refresh`, `flow`), and `/metrics` in
//! Prometheus text format on a listener of its own (`metrics_listen`), never on the public router.
//!
//! Every label comes from a fixed list in this file: a status class, an error code of the
//! scripts' API (`ErrorCode::API`), a refresh outcome, a flow event, a connection status, a pool
//! state. No label carries a link name, a path, a host, a user or anything else a caller chooses,
//! so no request can add a series (the set has at most a few hundred, whatever anyone sends).

use crate::config::Config;
use crate::error::Result;
use app::connection::ConnectionStatus;
use app::error::ErrorCode;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use sqlx::AnyPool;
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

mod render;

/// `1xx` … `5xx`, then anything else.
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];
/// The service's own answer, then each code of the scripts' API.
const CODES: usize = 1 + ErrorCode::API.len();
/// Upper bounds of the added-latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// How a refresh at a token endpoint ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    Ok,
    /// `invalid_grant`: the connection needs a new authorisation.
    NeedsReauthorization,
    /// The endpoint failed in a way worth retrying: Liaison backs off.
    RetryLater,
    /// Refused for another reason: the connection is in error.
    Failed,
    /// Liaison's own side failed (database, vault).
    Error,
}

const REFRESHES: [(Refresh, &str); 5] = [
    (Refresh::Ok, "ok"),
    (Refresh::NeedsReauthorization, "needs_reauthorization"),
    (Refresh::RetryLater, "retry_later"),
    (Refresh::Failed, "failed"),
    (Refresh::Error, "error"),
];

/// What happened to an authorisation flow (the popup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Started,
    /// Connected: the code was exchanged and the tokens stored.
    Finished,
    /// Ended without a connection (declined, expired, refused by the provider, …).
    Failed,
}

const FLOWS: [(Flow, &str); 3] = [(Flow::Started, "started"), (Flow::Finished, "finished"), (Flow::Failed, "failed")];

pub struct Metrics {
    calls: [[AtomicU64; CODES]; CLASSES.len()],
    /// Per bucket (not cumulative), then the calls over the last bound.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_micros: AtomicU64,
    refreshes: [AtomicU64; REFRESHES.len()],
    flows: [AtomicU64; FLOWS.len()],
}

/// The process's counters.
pub static METRICS: Metrics = Metrics::new();

impl Metrics {
    pub const fn new() -> Metrics {
        Metrics {
            calls: [const { [const { AtomicU64::new(0) }; CODES] }; CLASSES.len()],
            latency: [const { AtomicU64::new(0) }; BUCKETS.len() + 1],
            latency_micros: AtomicU64::new(0),
            refreshes: [const { AtomicU64::new(0) }; REFRESHES.len()],
            flows: [const { AtomicU64::new(0) }; FLOWS.len()],
        }
    }

    fn call(&self, status: u16, error: Option<&str>) {
        let class = match status {
            100..=599 => usize::from(status / 100 - 1),
            _ => CLASSES.len() - 1,
        };
        // An unknown code cannot happen (ApiError takes only API codes): it counts as `internal`.
        let code = match error {
            None => 0,
            Some(e) => 1 + ErrorCode::API.iter().position(|c| c.as_str() == e).unwrap_or(ErrorCode::API.len() - 1),
        };
        self.calls[class][code].fetch_add(1, Relaxed);
    }

    fn added(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.latency[bucket].fetch_add(1, Relaxed);
        self.latency_micros.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    fn refreshed(&self, outcome: Refresh) {
        if let Some(i) = REFRESHES.iter().position(|(r, _)| *r == outcome) {
            self.refreshes[i].fetch_add(1, Relaxed);
        }
    }

    fn flowed(&self, event: Flow) {
        if let Some(i) = FLOWS.iter().position(|(f, _)| *f == event) {
            self.flows[i].fetch_add(1, Relaxed);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The time of one call of the scripts' API: when it arrived, and how long it waited for the
/// service (every try). What is left is the latency Liaison added.
struct Timing {
    started: Instant,
    upstream: Cell<Duration>,
}

tokio::task_local! {
    static CALL: Timing;
}

/// Middleware of the scripts' API's routes: times each call.
pub async fn timed(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let timing = Timing { started: Instant::now(), upstream: Cell::new(Duration::ZERO) };
    CALL.scope(timing, next.run(req)).await
}

/// Hook around a call to the service: its time is not Liaison's.
pub async fn upstream<T>(call: impl std::future::Future<Output = T>) -> T {
    let sent = Instant::now();
    let out = call.await;
    let _ = CALL.try_with(|t| t.upstream.set(t.upstream.get() + sent.elapsed()));
    out
}

/// Hook: a call of the scripts' API answered with `status` (its head is ready), with Liaison's
/// error code if it refused or failed it.
pub fn api_call(status: u16, error: Option<&str>) {
    METRICS.call(status, error);
    if let Ok(took) = CALL.try_with(|t| t.started.elapsed().saturating_sub(t.upstream.get())) {
        METRICS.added(took);
    }
}

/// Hook: a refresh at a token endpoint ended.
pub fn refresh(outcome: Refresh) {
    METRICS.refreshed(outcome);
}

/// Hook: an authorisation flow started, finished or failed.
pub fn flow(event: Flow) {
    METRICS.flowed(event);
}

/// With `metrics_listen` set: binds it (a start that cannot fails) and serves `/metrics` there.
pub async fn listen(config: &Config, pool: &AnyPool) -> Result<()> {
    let Some(addr) = config.metrics_listen else { return Ok(()) };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| crate::error::Error::Config(format!("metrics_listen: cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        tracing::warn!(%bound, "/metrics has no authentication and listens off the loopback: keep it behind a firewall");
    }
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(Scrape { pool: pool.clone(), max: config.db_max_connections });
    let limits = crate::accept::Limits::serving(config, 16);
    tokio::spawn(async move {
        let app = crate::accept::within_time(app, limits.request_timeout);
        if let Err(e) = crate::accept::serve(listener, app, limits, std::future::pending()).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    tracing::info!("metrics served at http://{bound}/metrics");
    Ok(())
}

#[derive(Clone)]
struct Scrape {
    pool: AnyPool,
    max: u32,
}

/// `GET /metrics`: the counters, and what the database says now.
async fn scrape(State(s): State<Scrape>) -> axum::response::Response {
    let statuses: Vec<(String, i64)> =
        match sqlx::query_as("SELECT status, COUNT(*) FROM connections GROUP BY status").fetch_all(&s.pool).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot count connections");
                Vec::new()
            }
        };
    let pool = render::Pool { size: s.pool.size(), idle: s.pool.num_idle(), max: s.max };
    let mut out = String::with_capacity(8 * 1024);
    render::all(&METRICS, &statuses, pool, &mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

/// Connections by status, every known status present (0 when none).
fn by_status(rows: &[(String, i64)]) -> Vec<(&'static str, i64)> {
    ConnectionStatus::ALL
        .iter()
        .map(|s| (s.as_str(), rows.iter().filter(|(r, _)| r == s.as_str()).map(|(_, n)| *n).sum()))
        .collect()
}

fn line(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ =
        if labels.is_empty() { writeln!(out, "{name} {value}") } else { writeln!(out, "{name}{{{labels}}} {value}") };
}
