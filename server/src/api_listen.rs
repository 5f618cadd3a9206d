//! The scripts' API's own listener (`api_listen`): `/api/v1/` only (`crate::routes::api_router`),
//! served on Linux by one single-threaded tokio runtime per core, each on a thread of its own with
//! a socket of its own bound to the same address (`SO_REUSEPORT`: the kernel spreads new
//! connections over them; elsewhere, one such thread). A connection is then read, handled and
//! answered on one thread, which also sends its calls on (each thread has its own outbound pool,
//! `crate::outbound`): no hand-off between the shared runtime's workers for the request itself
//! (the stamp read's lock, the call log's writer and database round trips still cross threads).
//! The accept loop is `listen`'s (`crate::accept::serve`: the header time limit, the connection
//! cap, shared out between the threads, and the graceful stop); the API stays on `listen` too.

use crate::accept::{self, Limits};
use crate::error::{Error, Result};
use axum::Router;
use std::net::SocketAddr;
use std::sync::mpsc;
use tokio::sync::{oneshot, watch};

/// The listener's threads, serving until `stopping` turns true.
pub struct ApiListener {
    pub bound: SocketAddr,
    served: Vec<oneshot::Receiver<()>>,
}

/// Binds `addr` once per thread (the first bind picks the port when `addr`'s is 0) and serves
/// `app` on each, within `limits` all together; an address that cannot be bound stops the start.
pub fn start(addr: SocketAddr, app: Router, limits: Limits, stopping: watch::Receiver<bool>) -> Result<ApiListener> {
    // Only Linux spreads the connections of sockets sharing a port: elsewhere, one thread.
    let threads =
        if cfg!(target_os = "linux") { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { 1 };
    let limits = limits.shared(threads);
    let mut listener = ApiListener { bound: addr, served: Vec::with_capacity(threads) };
    for n in 0..threads {
        let (app, stopping, at) = (app.clone(), stopping.clone(), listener.bound);
        let (bound_tx, bound_rx) = mpsc::channel();
        let (served_tx, served_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("liaison-api-{n}"))
            .spawn(move || serve_one(at, app, limits, stopping, bound_tx, served_tx))
            .map_err(|e| Error::Config(format!("api_listen: cannot start a thread: {e}")))?;
        listener.served.push(served_rx);
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
        self.served.len()
    }

    /// Waits until every thread has stopped accepting and its connections have finished (after
    /// `stopping`).
    pub async fn finished(self) {
        for served in self.served {
            let _ = served.await;
        }
    }
}

/// One thread: its runtime, its socket, its accept loop; says where it bound (or why it could
/// not) on `bound`, and on `served` when its connections have finished. The runtime stays up
/// after that, until the process ends: what calls started on it (a database connection opened, a
/// refresh's connection) may still serve `listen` in its grace period.
fn serve_one(
    addr: SocketAddr,
    app: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    bound: mpsc::Sender<std::io::Result<SocketAddr>>,
    served: oneshot::Sender<()>,
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
        let _ = served.send(());
        std::future::pending::<()>().await;
    });
}

/// A listening socket on `addr`; on Linux, one that this process's other threads may bind too.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    #[cfg(target_os = "linux")]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
