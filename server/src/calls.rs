//! The log of API calls, written off the request path: handlers hand each call to a channel, and
//! one task writes them in batches (one transaction per batch, at most one per 50 ms while calls
//! keep coming), with the connections' and tokens' last-used times. A full channel drops entries
//! with a warning rather than slowing calls down.

use crate::store::api_tokens::{self, Call};
use crate::store::{connections as conns, Clock, Store};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::mpsc;

const CAPACITY: usize = 16 * 1024;
const BATCH: usize = 512;
/// How long the writer waits for more entries after the first of a batch.
const LINGER: std::time::Duration = std::time::Duration::from_millis(50);

enum Item {
    Call(Call),
    TouchToken(i64),
}

#[derive(Clone)]
pub struct CallLog {
    tx: mpsc::Sender<Item>,
}

impl CallLog {
    /// Starts the writer task (needs a Tokio runtime).
    pub fn start(store: Store, clock: Arc<dyn Clock>) -> CallLog {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(write_batches(store, clock, rx));
        CallLog { tx }
    }

    pub fn record(&self, call: Call) {
        if self.tx.try_send(Item::Call(call)).is_err() {
            tracing::warn!("the API call log is behind: an entry was dropped");
        }
    }

    pub fn touch_token(&self, id: i64) {
        let _ = self.tx.try_send(Item::TouchToken(id));
    }
}

async fn write_batches(store: Store, clock: Arc<dyn Clock>, mut rx: mpsc::Receiver<Item>) {
    let mut items = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut items, BATCH).await > 0 {
        // Entries that follow within LINGER share the transaction: a steady stream of calls costs
        // a write every LINGER, not one per call.
        if items.len() < BATCH {
            tokio::time::sleep(LINGER).await;
            while items.len() < BATCH {
                let Ok(item) = rx.try_recv() else { break };
                items.push(item);
            }
        }
        let now = clock.now_ms();
        if let Err(e) = write(&store, &items, now).await {
            tracing::warn!(error = %e, entries = items.len(), "could not write the API call log");
        }
        items.clear();
    }
}

async fn write(store: &Store, items: &[Item], now: i64) -> crate::error::Result<()> {
    let mut connections = BTreeSet::new();
    let mut tokens = BTreeSet::new();
    let mut calls = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Item::Call(call) => {
                calls.push(call);
                connections.extend(call.connection_id);
            }
            Item::TouchToken(id) => {
                tokens.insert(*id);
            }
        }
    }
    let mut tx = store.pool.begin().await?;
    api_tokens::record_calls(&mut tx, store.kind, &calls).await?;
    for id in connections {
        conns::touch(&mut *tx, id, now).await?;
    }
    for id in tokens {
        api_tokens::touch(&mut *tx, id, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
