//! The scripts' API's own listener (`api_listen`): `/api/v1/` only (`crate::routes::api_router`),
//! served by one single-threaded tokio runtime per core, each on a thread of its own with a socket
//! of its own bound to the same address (`SO_REUSEPORT`: the kernel spreads new connections over
//! them). A call is then read, handled, sent on (each thread has its own outbound pool,
//! `crate::outbound`) and answered on one thread, with no hand-off between workers, which is
//! where a proxied call's CPU went on the shared runtime (tools/bench/NOTES.md). The accept loop
//! is `listen`'s (`crate::accept::serve`: the header time limit, the connection cap, shared out
//! between the threads, and the graceful stop); the API stays on `listen` too.

use crate::accept::{self, Limits};
use crate::error::{Error, Result};
use axum::Router;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use tokio::sync::watch;

/// The listener's threads, serving until `stopping` turns true.
pub struct ApiListener {
    pub bound: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

/// Binds `addr` once per core (the first bind picks the port when `addr`'s is 0) and serves
/// `app` on each; an address that cannot be bound stops the start.
pub fn start(addr: SocketAddr, app: Router, limits: Limits, stopping: watch::Receiver<bool>) -> Result<ApiListener> {
    // Elsewhere than on Unix a port is bound once: one thread.
    let cores = if cfg!(unix) { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { 1 };
    let limits = Limits { max_connections: (limits.max_connections / cores).max(1), ..limits };
    let mut listener = ApiListener { bound: addr, threads: Vec::with_capacity(cores) };
    for n in 0..cores {
        let (app, stopping, at) = (app.clone(), stopping.clone(), listener.bound);
        let (bound_tx, bound_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("liaison-api-{n}"))
            .spawn(move || serve_one(at, app, limits, stopping, bound_tx))
            .map_err(|e| Error::Config(format!("api_listen: cannot start a thread: {e}")))?;
        listener.threads.push(thread);
        match bound_rx.recv() {
            Ok(Ok(bound)) => listener.bound = bound,
            Ok(Err(e)) => return Err(Error::Config(format!("api_listen: cannot listen on {at}: {e}"))),
            Err(_) => return Err(Error::Config(format!("api_listen: the thread for {at} stopped"))),
        }
    }
    Ok(listener)
}

impl ApiListener {
    /// How many threads serve it.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Waits until every thread has let its connections finish (after `stopping`).
    pub async fn finished(self) {
        let _ = tokio::task::spawn_blocking(move || {
            for thread in self.threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

/// One thread: its runtime, its socket, its accept loop; says where it bound (or why it could
/// not) on `bound`.
fn serve_one(
    addr: SocketAddr,
    app: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    bound: mpsc::Sender<std::io::Result<SocketAddr>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = bound.send(Err(e));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match bind(addr) {
            Ok(listener) => listener,
            Err(e) => {
                let _ = bound.send(Err(e));
                return;
            }
        };
        let _ = bound.send(listener.local_addr());
        let stop = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        if let Err(e) = accept::serve(listener, app, limits, stop).await {
            tracing::error!(error = %e, "the API listener stopped");
        }
    });
}

/// A listening socket on `addr` that other threads of this process may bind as well.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
