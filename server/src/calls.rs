//! The log of API calls, written off the request path: handlers hand each call to a channel, and
//! one task writes them in batches (one transaction per batch, at most one per 50 ms while calls
//! keep coming), with the connections' and tokens' last-used times. A full channel drops entries
//! with a warning rather than slowing calls down. Read back for a connection's details page
//! (`recent`), as far as the viewer may see it.

use crate::error::Result;
use crate::store::api_tokens::{self, Call};
use crate::store::call_log::Whose;
use crate::store::{call_log, connections as conns, users, Clock, Store};
use app::calls::{CallView, RECENT_CALLS};
use app::model::{Role, Viewer};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::mpsc;

const CAPACITY: usize = 16 * 1024;

/// Who made a call, as the log names them: the person and their API token.
pub fn caller_label(email: &str, token_name: &str) -> String {
    format!("{email} (token {token_name})")
}

/// The start of the label of every call a person made (`caller_label`).
fn callers_prefix(email: &str) -> String {
    format!("{email} (token ")
}
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

async fn write(store: &Store, items: &[Item], now: i64) -> Result<()> {
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
    let mut tx = store.begin().await?;
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

/// A connection's most recent calls, as its details page shows them, newest first. Only calls
/// made since the connection was created: the log is keyed by link name, and an older connection
/// of that name, or calls to the name before any connection had it, are not this one's. Admins
/// see every call; so does the creator of a shared connection. The creator of a login-user
/// connection (each person calls with their own grant) and other members see only their own calls
/// (what they may see elsewhere: nobody else's API tokens), and only those made since they were
/// added: a person removed and added again with the same email is another person.
pub async fn recent(store: &Store, viewer: &Viewer, link_name: &str) -> Result<Vec<CallView>> {
    let c = crate::actor::connection(store, viewer.org_id, link_name).await?;
    let everyone = viewer.role == Role::Admin || (crate::actor::can_manage(viewer, &c) && !c.per_user);
    let own = callers_prefix(&viewer.email);
    let (whose, since) = if everyone {
        (Whose::Everyone, c.created_at)
    } else {
        let Some(added) = users::created_at(&store.pool, viewer.org_id, viewer.user_id).await? else {
            return Ok(Vec::new());
        };
        (Whose::Caller(&own), c.created_at.max(added))
    };
    let rows = call_log::recent(&store.pool, viewer.org_id, &c.link_name, since, whose, RECENT_CALLS).await?;
    Ok(rows
        .into_iter()
        .map(|r| CallView {
            at: r.at,
            caller: r.actor,
            method: r.method,
            host: r.host,
            status: u16::try_from(r.status).unwrap_or(0),
            latency_ms: r.latency_ms,
            error: r.error_code,
            attempts: u32::try_from(r.attempts).unwrap_or(1),
        })
        .collect())
}
