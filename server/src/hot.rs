//! The API's hot path without a database read per lookup: what a call reads of the caller (API
//! token, person, organisation), the connection (with its service) and the grant is kept in memory
//! and reused by later calls while the **change stamp** stays the same (migration 0005: triggers
//! bump it on every committed UPDATE or DELETE of those rows, whoever makes it: this instance,
//! another one, the CLI, an operator's SQL).
//!
//! Each call still reads the stamp, from a read that *started after the call arrived*: a change
//! committed before a call arrives is always seen by it (a revoke takes effect at once, on every
//! instance). On SQLite the read is made in the calling thread on a connection of its own (a few
//! microseconds; sqlx's driver would hand it to a worker thread and back). On PostgreSQL it is a
//! query, and calls that arrive while one is in flight share the next, so under load a single
//! query serves many calls.
//!
//! The memory holds what the database holds: token hashes (never a token) and sealed secrets,
//! opened per call by the vault as before.

use crate::error::ApiError;
use crate::services::Resolved;
use crate::store::connections::ConnectionRecord;
use crate::store::grants::GrantRecord;
use crate::store::{stamp, Store};
use app::model::Viewer;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

/// Entries kept per kind; past it, that kind starts again empty.
const MAX_ENTRIES: usize = 10_000;

/// The stamp a call has read: what was read at this stamp or a later one is good for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fresh(i64);

/// Who calls: the person an API token belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub viewer: Viewer,
    pub token_id: i64,
    /// For the call log: the person's email and the token's name.
    pub label: String,
    /// The change stamp this call read (what is remembered at it or later is good for the call).
    pub fresh: Fresh,
}

/// A caller as remembered: the person behind a token hash, when the token's last use was
/// written (so it is written at most once a minute), and when the token expires (time moves
/// without a change to the database: it is compared with the clock on every call).
pub struct KnownCaller {
    pub caller: Caller,
    pub last_used: AtomicI64,
    pub expires_at: Option<i64>,
}

/// A connection as remembered, with its service resolved.
pub struct Found {
    pub c: ConnectionRecord,
    pub resolved: Resolved,
}

#[derive(Default)]
struct Memo {
    stamp: i64,
    callers: HashMap<String, Arc<KnownCaller>>,
    /// By organisation, then link name (looked up without building a key).
    targets: HashMap<i64, HashMap<String, Arc<Found>>>,
    /// How many targets are kept, over every organisation (the cap is per kind, not per map).
    target_count: usize,
    grants: HashMap<(i64, i64), Arc<GrantRecord>>,
}

/// The reads of the stamp: `started` numbers them; callers wait for one numbered above the last
/// started when they arrived.
#[derive(Default)]
struct Gate {
    started: u64,
    in_flight: bool,
    wanted: u64,
}

#[derive(Debug, Clone, Copy)]
struct Published {
    read: u64,
    /// None when the read failed.
    stamp: Option<i64>,
}

/// Where the stamp is read.
enum Source {
    /// SQLite: a connection of the hot path's own, used in the calling thread.
    Sqlite(Mutex<rusqlite::Connection>),
    /// Any database, through the pool (with the gate).
    Pool,
}

pub struct Hot {
    pool: AnyPool,
    source: Source,
    gate: Mutex<Gate>,
    published: watch::Sender<Published>,
    memo: RwLock<Memo>,
}

fn open_sqlite(file: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    // A WAL reader waits only while the log is recovered after a crash.
    conn.busy_timeout(std::time::Duration::from_secs(1))?;
    Ok(conn)
}

fn insert<K: Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

impl Hot {
    pub fn new(store: &Store) -> Arc<Hot> {
        let source = match &store.sqlite_file {
            Some(file) => match open_sqlite(file) {
                Ok(conn) => Source::Sqlite(Mutex::new(conn)),
                Err(e) => {
                    tracing::warn!(error = %e, "the change stamp will be read through the pool");
                    Source::Pool
                }
            },
            None => Source::Pool,
        };
        Self::with_source(store.pool.clone(), source)
    }

    fn with_source(pool: AnyPool, source: Source) -> Arc<Hot> {
        Arc::new(Hot {
            pool,
            source,
            gate: Mutex::default(),
            published: watch::Sender::new(Published { read: 0, stamp: None }),
            memo: RwLock::default(),
        })
    }

    /// The stamp, from a read that started after this call: every change committed before now
    /// is behind it.
    pub async fn fresh(self: &Arc<Self>) -> Result<Fresh, ApiError> {
        if let Source::Sqlite(conn) = &self.source {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            let read = conn.prepare_cached(stamp::READ).and_then(|mut q| q.query_row([], |r| r.get::<_, i64>(0)));
            return read.map(Fresh).map_err(|e| {
                tracing::error!(error = %e, "could not read the change stamp");
                ApiError::internal()
            });
        }
        let mut rx = self.published.subscribe();
        let need = {
            let mut g = self.gate.lock().unwrap_or_else(|p| p.into_inner());
            let need = g.started + 1;
            g.wanted = g.wanted.max(need);
            if !g.in_flight {
                g.in_flight = true;
                g.started = need;
                self.spawn_read(need);
            }
            need
        };
        loop {
            let p = *rx.borrow_and_update();
            if p.read >= need {
                return p.stamp.map(Fresh).ok_or_else(ApiError::internal);
            }
            if rx.changed().await.is_err() {
                return Err(ApiError::internal());
            }
        }
    }

    /// Read number `n`, in a task of its own (a caller that gives up does not stop it); when it
    /// is done, the next starts if anyone arrived meanwhile.
    fn spawn_read(self: &Arc<Self>, n: u64) {
        let this = self.clone();
        tokio::spawn(async move {
            let stamp = match stamp::read(&this.pool).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "could not read the change stamp");
                    None
                }
            };
            let mut g = this.gate.lock().unwrap_or_else(|p| p.into_inner());
            this.published.send_replace(Published { read: n, stamp });
            if g.wanted > n {
                g.started = n + 1;
                this.spawn_read(n + 1);
            } else {
                g.in_flight = false;
            }
        });
    }

    fn get<V: ?Sized>(&self, fresh: Fresh, pick: impl FnOnce(&Memo) -> Option<Arc<V>>) -> Option<Arc<V>> {
        let memo = self.memo.read().unwrap_or_else(|p| p.into_inner());
        // Entries read at a later stamp than the caller's are newer still: good too.
        if memo.stamp >= fresh.0 {
            pick(&memo)
        } else {
            None
        }
    }

    /// Keeps what was read after the stamp `fresh` was read (refused when a newer stamp is in).
    fn put(&self, fresh: Fresh, put: impl FnOnce(&mut Memo)) {
        let mut memo = self.memo.write().unwrap_or_else(|p| p.into_inner());
        if fresh.0 > memo.stamp {
            *memo = Memo { stamp: fresh.0, ..Memo::default() };
        }
        if fresh.0 == memo.stamp {
            put(&mut memo);
        }
    }

    pub fn caller(&self, fresh: Fresh, token_hash: &str) -> Option<Arc<KnownCaller>> {
        self.get(fresh, |m| m.callers.get(token_hash).cloned())
    }

    pub fn keep_caller(&self, fresh: Fresh, token_hash: String, known: Arc<KnownCaller>) {
        self.put(fresh, |m| insert(&mut m.callers, token_hash, known));
    }

    pub fn target(&self, fresh: Fresh, org_id: i64, link_name: &str) -> Option<Arc<Found>> {
        self.get(fresh, |m| m.targets.get(&org_id).and_then(|links| links.get(link_name)).cloned())
    }

    pub fn keep_target(&self, fresh: Fresh, found: Arc<Found>) {
        self.put(fresh, |m| {
            if m.target_count >= MAX_ENTRIES {
                m.targets.clear();
                m.target_count = 0;
            }
            let links = m.targets.entry(found.c.org_id).or_default();
            if links.insert(found.c.link_name.clone(), found).is_none() {
                m.target_count += 1;
            }
        });
    }

    pub fn grant(&self, fresh: Fresh, connection_id: i64, user_key: i64) -> Option<Arc<GrantRecord>> {
        self.get(fresh, |m| m.grants.get(&(connection_id, user_key)).cloned())
    }

    pub fn keep_grant(&self, fresh: Fresh, connection_id: i64, grant: Arc<GrantRecord>) {
        self.put(fresh, |m| insert(&mut m.grants, (connection_id, grant.user_key), grant));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{testing, DbKind};

    async fn bump(pool: &AnyPool) {
        sqlx::query("UPDATE change_stamp SET n = n + 1 WHERE id = 1").execute(pool).await.unwrap();
    }

    #[tokio::test]
    async fn a_call_sees_every_change_committed_before_it_arrived() {
        for db in testing::all().await {
            // SQLite's own connection, and the pool (PostgreSQL's way) on both databases.
            let mut hots = vec![Hot::with_source(db.store.pool.clone(), Source::Pool)];
            hots.push(Hot::new(&db.store));
            assert_eq!(matches!(hots[1].source, Source::Sqlite(_)), db.store.kind == DbKind::Sqlite);
            for hot in hots {
                let first = hot.fresh().await.unwrap();
                assert_eq!(hot.fresh().await.unwrap(), first, "nothing changed");
                bump(&db.store.pool).await;
                let second = hot.fresh().await.unwrap();
                assert_eq!(second.0, first.0 + 1);
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_arriving_together_share_reads_and_all_see_the_change() {
        let db = testing::sqlite().await;
        let hot = Hot::with_source(db.store.pool.clone(), Source::Pool);
        let before = hot.fresh().await.unwrap();
        bump(&db.store.pool).await;
        let calls: Vec<_> = (0..200)
            .map(|_| {
                let hot = hot.clone();
                tokio::spawn(async move { hot.fresh().await.unwrap() })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().0, before.0 + 1);
        }
        let reads = hot.gate.lock().unwrap().started;
        assert!(reads < 1 + 200, "200 calls shared reads: {reads} reads in all");
    }

    #[tokio::test]
    async fn entries_serve_their_stamp_and_later_calls_read_again_after_a_change() {
        let db = testing::sqlite().await;
        let hot = Hot::new(&db.store);
        let at = |n| Fresh(n);
        let grant = |id| GrantRecord {
            id,
            user_key: 0,
            access_token: Some("sealed".into()),
            refresh_token: None,
            username: None,
            expires_at: None,
            granted_scopes: None,
            authorised_by_name: "Ada".into(),
            authorised_at: 1,
            updated_at: 1,
            version: 0,
            lease_until: None,
            refresh_failures: 0,
            retry_at: None,
            custody: None,
        };
        hot.keep_grant(at(5), 7, Arc::new(grant(1)));
        assert_eq!(hot.grant(at(5), 7, 0).map(|g| g.id), Some(1), "same stamp");
        assert_eq!(hot.grant(at(4), 7, 0).map(|g| g.id), Some(1), "an older call may use newer rows");
        assert!(hot.grant(at(6), 7, 0).is_none(), "a call after a change reads again");
        // Read at an older stamp than what is kept: not kept.
        hot.keep_grant(at(5), 7, Arc::new(grant(2)));
        hot.keep_grant(at(6), 7, Arc::new(grant(3)));
        hot.keep_grant(at(5), 7, Arc::new(grant(4)));
        assert_eq!(hot.grant(at(6), 7, 0).map(|g| g.id), Some(3));
    }

    #[tokio::test]
    async fn the_targets_cap_counts_every_organisation() {
        let db = testing::sqlite().await;
        let hot = Hot::new(&db.store);
        let catalog = crate::catalog::Catalog::load(None).unwrap();
        let spec = catalog.services()[0].spec.clone();
        let found = |org_id: i64, link: &str| {
            Arc::new(Found {
                c: ConnectionRecord {
                    id: 1,
                    org_id,
                    link_name: link.into(),
                    name: link.into(),
                    service: app::connection::ServiceRef::Predefined("x".into()),
                    service_name: "X".into(),
                    scopes: vec![],
                    per_user: false,
                    internal: false,
                    status: app::connection::ConnectionStatus::Connected,
                    status_reason: None,
                    client_id: None,
                    client_secret: None,
                    created_by: None,
                    created_by_name: "Ada".into(),
                    created_at: 1,
                    last_used_at: None,
                },
                resolved: Resolved::new(spec.clone(), None),
            })
        };
        // One link in each of MAX_ENTRIES organisations, then one more: the kind starts again.
        for org in 0..MAX_ENTRIES as i64 {
            hot.keep_target(Fresh(1), found(org, "a"));
        }
        assert!(hot.target(Fresh(1), (MAX_ENTRIES - 1) as i64, "a").is_some(), "all kept up to the cap");
        hot.keep_target(Fresh(1), found(-1, "b"));
        assert!(hot.target(Fresh(1), (MAX_ENTRIES - 1) as i64, "a").is_none(), "past the cap, the targets start again");
        assert!(hot.target(Fresh(1), -1, "b").is_some());
    }
}
