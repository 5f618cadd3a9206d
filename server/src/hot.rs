//! The API's hot path without a database read per lookup: what a call reads of the caller, the
//! connection (with its service) and the grant is remembered by the area that reads it (a
//! [`Memo`] in `ApiTokens`, `Api` and `Credentials`) and reused by later calls while the **change
//! stamp** stays the same (migration 0005: triggers bump it on every committed UPDATE or DELETE of
//! those rows, whoever makes it: this instance, another one, the CLI, an operator's SQL).
//!
//! Each call reads the stamp once ([`Hot::fresh`], when its token is looked at), from a read that
//! *started after the call arrived*: a change committed before a call arrives is always seen by
//! it (a revoke takes effect at once, on every instance). On SQLite the read is made in the
//! calling thread on a connection of its own (a few microseconds; sqlx's driver would hand it to
//! a worker thread and back). On PostgreSQL it is a query, and calls that arrive while one is in
//! flight share the next, so under load a single query serves many calls.
//!
//! The memos hold what the database holds: token hashes (never a token) and sealed secrets,
//! opened per call by the vault as before.

use crate::error::ApiError;
use crate::store::{stamp, Store};
use sqlx::AnyPool;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

/// Entries kept per kind; past it, that kind starts again empty.
pub const MAX_ENTRIES: usize = 10_000;

/// The stamp a call has read: what was read at this stamp or a later one is good for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fresh(i64);

/// What an area remembers of the database, good for every call that read the stamp at which it
/// was read, or an earlier one. A newer stamp starts it again empty.
pub struct Memo<T> {
    kept: RwLock<(i64, T)>,
}

impl<T: Default> Default for Memo<T> {
    fn default() -> Self {
        Memo { kept: RwLock::new((i64::MIN, T::default())) }
    }
}

impl<T: Default> Memo<T> {
    /// What `pick` finds, if what is kept is good for a call that read `fresh`.
    pub fn get<R>(&self, fresh: Fresh, pick: impl FnOnce(&T) -> Option<R>) -> Option<R> {
        let kept = self.kept.read().unwrap_or_else(|p| p.into_inner());
        // Entries read at a later stamp than the caller's are newer still: good too.
        if kept.0 >= fresh.0 {
            pick(&kept.1)
        } else {
            None
        }
    }

    /// Keeps what was read after the stamp `fresh` was read (refused when a newer stamp is in).
    pub fn keep(&self, fresh: Fresh, put: impl FnOnce(&mut T)) {
        let mut kept = self.kept.write().unwrap_or_else(|p| p.into_inner());
        if fresh.0 > kept.0 {
            *kept = (fresh.0, T::default());
        }
        if fresh.0 == kept.0 {
            put(&mut kept.1);
        }
    }
}

/// Inserts into a memo's map; past [`MAX_ENTRIES`], the map starts again empty.
pub fn insert<K: Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
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
    /// The runtime Liaison started on, where the shared reads run (not on the thread of the call
    /// that started one: `api_listen` serves calls on runtimes of their own).
    runtime: Option<tokio::runtime::Handle>,
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
            runtime: tokio::runtime::Handle::try_current().ok(),
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
        let read = async move {
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
        };
        // (Once the main runtime has shut down, as the process exits, the read is dropped and
        // later callers wait: nothing is served then.)
        match &self.runtime {
            Some(runtime) => drop(runtime.spawn(read)),
            None => drop(tokio::spawn(read)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, db_test};
    use crate::store::DbKind;

    async fn bump(pool: &AnyPool) {
        sqlx::query("UPDATE change_stamp SET n = n + 1 WHERE id = 1").execute(pool).await.unwrap();
    }

    db_test!(a_call_sees_every_change_committed_before_it_arrived, async |store: &Store| {
        // SQLite's own connection, and the pool (PostgreSQL's way) on both databases.
        let mut hots = vec![Hot::with_source(store.pool.clone(), Source::Pool)];
        hots.push(Hot::new(store));
        assert_eq!(matches!(hots[1].source, Source::Sqlite(_)), store.kind == DbKind::Sqlite);
        for hot in hots {
            let first = hot.fresh().await.unwrap();
            assert_eq!(hot.fresh().await.unwrap(), first, "nothing changed");
            bump(&store.pool).await;
            let second = hot.fresh().await.unwrap();
            assert_eq!(second.0, first.0 + 1);
        }
    });

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

    #[test]
    fn entries_serve_their_stamp_and_later_calls_read_again_after_a_change() {
        let memo: Memo<HashMap<i64, i64>> = Memo::default();
        let at = |n| Fresh(n);
        let get = |fresh| memo.get(fresh, |m| m.get(&7).copied());
        memo.keep(at(5), |m| insert(m, 7, 1));
        assert_eq!(get(at(5)), Some(1), "same stamp");
        assert_eq!(get(at(4)), Some(1), "an older call may use newer rows");
        assert_eq!(get(at(6)), None, "a call after a change reads again");
        // Read at an older stamp than what is kept: not kept.
        memo.keep(at(5), |m| insert(m, 7, 2));
        memo.keep(at(6), |m| insert(m, 7, 3));
        memo.keep(at(5), |m| insert(m, 7, 4));
        assert_eq!(get(at(6)), Some(3));
    }

    #[test]
    fn a_full_map_starts_again() {
        let mut map = HashMap::new();
        for n in 0..MAX_ENTRIES as i64 {
            insert(&mut map, n, n);
        }
        assert_eq!(map.len(), MAX_ENTRIES);
        insert(&mut map, -1, -1);
        assert_eq!(map.len(), 1);
    }
}
