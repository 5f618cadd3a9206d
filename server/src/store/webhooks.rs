//! Webhooks: an organisation's endpoints (their signing secrets sealed, see `crate::vault`), the
//! outbox of events still to deliver (one row per endpoint; an instance works an endpoint while it
//! holds the endpoint's lease, and takes each row's own lease just before sending it), and the log
//! of delivery attempts. Every query of an endpoint names the
//! organisation.

use crate::error::Result;
use crate::store::Exec;
use crate::store::{sql, sql_scalar};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct EndpointRecord {
    pub id: i64,
    pub org_id: i64,
    pub url: String,
    pub description: String,
    /// Sealed.
    pub secret: Option<String>,
    /// Sealed: the secret before the last rotation, still signing until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<i64>,
    pub created_by_name: String,
    pub created_at: i64,
    pub rotated_at: Option<i64>,
}

const ENDPOINT_COLUMNS: &str =
    "id, org_id, url, description, secret, previous_secret, previous_until, created_by_name, created_at, rotated_at";

fn endpoint(r: sqlx::any::AnyRow) -> EndpointRecord {
    EndpointRecord {
        id: r.get("id"),
        org_id: r.get("org_id"),
        url: r.get("url"),
        description: r.get("description"),
        secret: r.get("secret"),
        previous_secret: r.get("previous_secret"),
        previous_until: r.get("previous_until"),
        created_by_name: r.get("created_by_name"),
        created_at: r.get("created_at"),
        rotated_at: r.get("rotated_at"),
    }
}

/// A new endpoint, without its secret yet (sealed for its row id, then set).
pub async fn create<'e>(
    db: impl Exec<'e>,
    org_id: i64,
    url: &str,
    description: &str,
    by: &str,
    now: i64,
) -> Result<i64> {
    let id = sql_scalar!(
        "INSERT INTO webhook_endpoints (org_id, url, description, created_by_name, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        org_id,
        url,
        description,
        by,
        now
    )
    .fetch_one(db)
    .await?;
    Ok(id)
}

pub async fn endpoints<'e>(db: impl Exec<'e>, org_id: i64) -> Result<Vec<EndpointRecord>> {
    let rows = sql!(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE org_id = $1 ORDER BY id"), org_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(endpoint).collect())
}

pub async fn endpoint_by_id<'e>(db: impl Exec<'e>, org_id: i64, id: i64) -> Result<Option<EndpointRecord>> {
    let r =
        sql!(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE org_id = $1 AND id = $2"), org_id, id)
            .fetch_optional(db)
            .await?;
    Ok(r.map(endpoint))
}

/// The endpoint of an outbox row, to deliver it (the row names the organisation).
pub async fn endpoint_for_delivery<'e>(db: impl Exec<'e>, id: i64) -> Result<Option<EndpointRecord>> {
    let r =
        sql!(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"), id).fetch_optional(db).await?;
    Ok(r.map(endpoint))
}

/// How many endpoints an organisation has.
pub async fn count<'e>(db: impl Exec<'e>, org_id: i64) -> Result<i64> {
    Ok(sql_scalar!("SELECT COUNT(*) FROM webhook_endpoints WHERE org_id = $1", org_id).fetch_one(db).await?)
}

/// The ids of an organisation's endpoints (the outbox gets a row for each).
pub async fn endpoint_ids<'e>(db: impl Exec<'e>, org_id: i64) -> Result<Vec<i64>> {
    Ok(sql_scalar!("SELECT id FROM webhook_endpoints WHERE org_id = $1 ORDER BY id", org_id).fetch_all(db).await?)
}

/// Both sealed secrets at once (a rotation): the new one, and the one before it with the time it
/// stops signing; only if the endpoint is the organisation's and its secret is still `current`
/// (false: another rotation came first).
pub struct Rotation<'a> {
    pub org_id: i64,
    pub id: i64,
    pub current: Option<&'a str>,
    pub secret: &'a str,
    pub previous: Option<&'a str>,
    pub previous_until: Option<i64>,
}

pub async fn set_secrets<'e>(db: impl Exec<'e>, r: Rotation<'_>, now: i64) -> Result<bool> {
    let sql = "UPDATE webhook_endpoints SET secret = $1, previous_secret = $2, previous_until = $3, rotated_at = $4 \
               WHERE org_id = $5 AND id = $6 AND COALESCE(secret, '') = COALESCE($7, '')";
    let done = sql!(sql, r.secret, r.previous, r.previous_until, now, r.org_id, r.id, r.current).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets the previous secrets whose overlap is over: how many.
pub async fn clear_previous_secrets<'e>(db: impl Exec<'e>, now: i64) -> Result<u64> {
    let sql = "UPDATE webhook_endpoints SET previous_secret = NULL, previous_until = NULL \
               WHERE previous_until IS NOT NULL AND previous_until <= $1";
    Ok(sql!(sql, now).execute(db).await?.rows_affected())
}

pub async fn delete<'e>(db: impl Exec<'e>, org_id: i64, id: i64) -> Result<bool> {
    let r = sql!("DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2", org_id, id).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// One event to deliver to one endpoint.
pub struct NewOutbox<'a> {
    pub org_id: i64,
    pub endpoint_id: i64,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
}

pub async fn enqueue<'e>(db: impl Exec<'e>, o: NewOutbox<'_>, now: i64) -> Result<()> {
    sql!(
        "INSERT INTO webhook_outbox (org_id, endpoint_id, event_id, event_type, payload, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        o.org_id,
        o.endpoint_id,
        o.event_id,
        o.event_type,
        o.payload,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct OutboxRecord {
    pub id: i64,
    pub org_id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub created_at: i64,
    pub attempts: i64,
}

/// Up to `limit` endpoints with an event due now that no instance works (a lease that ran out is
/// nobody's), the one with the oldest such event first.
pub async fn due_endpoints<'e>(db: impl Exec<'e>, now: i64, limit: i64) -> Result<Vec<i64>> {
    let sql = "SELECT o.endpoint_id FROM webhook_outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id \
               WHERE o.delivered_at IS NULL AND o.gave_up_at IS NULL AND o.next_attempt_at <= $1 \
               AND (e.lease_until IS NULL OR e.lease_until < $1) \
               GROUP BY o.endpoint_id ORDER BY MIN(o.id) LIMIT $2";
    Ok(sql_scalar!(sql, now, limit).fetch_all(db).await?)
}

/// Takes or renews the lease of an endpoint: its events are then `owner`'s to deliver until
/// `until`. A conditional UPDATE of one row, so of several instances one holds it.
pub async fn hold_endpoint<'e>(db: impl Exec<'e>, id: i64, owner: &str, now: i64, until: i64) -> Result<bool> {
    let sql = "UPDATE webhook_endpoints SET lease_owner = $1, lease_until = $2 \
               WHERE id = $3 AND (lease_owner = $1 OR lease_until IS NULL OR lease_until < $4)";
    let r = sql!(sql, owner, until, id, now).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// Gives an endpoint's lease back (if it is still `owner`'s).
pub async fn release_endpoint<'e>(db: impl Exec<'e>, id: i64, owner: &str) -> Result<()> {
    let sql = "UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2";
    sql!(sql, id, owner).execute(db).await?;
    Ok(())
}

/// The oldest outbox row of an endpoint that is due now and that nobody holds.
pub async fn next_due<'e>(db: impl Exec<'e>, endpoint_id: i64, now: i64) -> Result<Option<i64>> {
    let sql = "SELECT id FROM webhook_outbox WHERE endpoint_id = $1 AND delivered_at IS NULL AND gave_up_at IS NULL \
               AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) ORDER BY id LIMIT 1";
    Ok(sql_scalar!(sql, endpoint_id, now).fetch_optional(db).await?)
}

/// Takes the lease of an outbox row unless it was delivered, given up, or is held by someone
/// else: a conditional UPDATE, so of several instances exactly one gets it.
pub async fn claim<'e>(db: impl Exec<'e>, id: i64, owner: &str, now: i64, until: i64) -> Result<bool> {
    let sql = "UPDATE webhook_outbox SET lease_owner = $1, lease_until = $2 \
               WHERE id = $3 AND delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $4 \
               AND (lease_until IS NULL OR lease_until < $4)";
    let r = sql!(sql, owner, until, id, now).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

pub async fn outbox_row<'e>(db: impl Exec<'e>, id: i64) -> Result<Option<OutboxRecord>> {
    let r = sql!(
        "SELECT id, org_id, endpoint_id, event_id, event_type, payload, created_at, attempts FROM webhook_outbox \
         WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| OutboxRecord {
        id: r.get("id"),
        org_id: r.get("org_id"),
        endpoint_id: r.get("endpoint_id"),
        event_id: r.get("event_id"),
        event_type: r.get("event_type"),
        payload: r.get("payload"),
        created_at: r.get("created_at"),
        attempts: r.get("attempts"),
    }))
}

/// How an attempt ended, for the outbox row.
pub enum Next {
    Delivered,
    RetryAt(i64),
    GiveUp,
}

/// Records the end of an attempt on its outbox row (if the lease is still ours) and releases the
/// lease.
pub async fn finish<'e>(db: impl Exec<'e>, id: i64, owner: &str, next: Next, now: i64) -> Result<bool> {
    let (delivered, retry, gave_up) = match next {
        Next::Delivered => (Some(now), None, None),
        Next::RetryAt(at) => (None, Some(at), None),
        Next::GiveUp => (None, None, Some(now)),
    };
    let sql = "UPDATE webhook_outbox SET attempts = attempts + 1, delivered_at = $1, \
               next_attempt_at = COALESCE($2, next_attempt_at), gave_up_at = $3, lease_owner = NULL, lease_until = NULL \
               WHERE id = $4 AND lease_owner = $5";
    let r = sql!(sql, delivered, retry, gave_up, id, owner).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// One attempt, as the delivery log shows it.
pub struct Attempt<'a> {
    pub org_id: i64,
    pub endpoint_id: i64,
    pub outbox_id: i64,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
}

pub async fn log_attempt<'e>(db: impl Exec<'e>, a: Attempt<'_>, now: i64) -> Result<()> {
    sql!(
        "INSERT INTO webhook_deliveries (org_id, endpoint_id, outbox_id, event_id, event_type, attempt, at, \
         status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        a.org_id,
        a.endpoint_id,
        a.outbox_id,
        a.event_id,
        a.event_type,
        a.attempt,
        now,
        a.status_code,
        a.latency_ms,
        a.error
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub attempt: i64,
    pub at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// The latest `limit` attempts of an organisation's endpoint (or of all its endpoints), newest
/// first.
pub async fn deliveries<'e>(
    db: impl Exec<'e>,
    org_id: i64,
    endpoint_id: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRecord>> {
    let columns = "id, endpoint_id, event_id, event_type, attempt, at, status_code, latency_ms, error";
    let rows = match endpoint_id {
        Some(e) => {
            let sql = format!(
                "SELECT {columns} FROM webhook_deliveries WHERE org_id = $1 AND endpoint_id = $2 ORDER BY id DESC LIMIT $3"
            );
            sql!(&sql, org_id, e, limit).fetch_all(db).await?
        }
        None => {
            let sql = format!("SELECT {columns} FROM webhook_deliveries WHERE org_id = $1 ORDER BY id DESC LIMIT $2");
            sql!(&sql, org_id, limit).fetch_all(db).await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|r| DeliveryRecord {
            id: r.get("id"),
            endpoint_id: r.get("endpoint_id"),
            event_id: r.get("event_id"),
            event_type: r.get("event_type"),
            attempt: r.get("attempt"),
            at: r.get("at"),
            status_code: r.get("status_code"),
            latency_ms: r.get("latency_ms"),
            error: r.get("error"),
        })
        .collect())
}

/// Forgets every lease: at start-up of the embedded (single-instance) SQLite mode, a lease can
/// only be left over from a process that died (its delivery is then tried again).
pub async fn clear_leases(pool: &sqlx::AnyPool) -> Result<u64> {
    let sql = "UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL";
    sqlx::query(sql).execute(pool).await?;
    let sql = "UPDATE webhook_outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL";
    Ok(sqlx::query(sql).execute(pool).await?.rows_affected())
}

/// Forgets the outbox rows (and their attempts) that ended before `before`.
pub async fn purge<'e>(db: impl Exec<'e>, before: i64) -> Result<u64> {
    let r = sql!(
        "DELETE FROM webhook_outbox WHERE COALESCE(delivered_at, gave_up_at) IS NOT NULL \
         AND COALESCE(delivered_at, gave_up_at) < $1",
        before
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

#[cfg(test)]
mod tests;
