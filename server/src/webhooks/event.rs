//! The events webhooks tell, and their payload: an event id, its type, the time, the
//! organisation, the connection (link name, name, service, status), the actor, and a reason where
//! there is one — never a token or a secret. [`record`] writes an event to the outbox, one row per
//! endpoint of the organisation, on the connection of the transaction that makes the change, so
//! the event exists exactly when the change does.

use crate::error::Result;
use crate::store::connections::ConnectionRecord;
use crate::store::webhooks::{self as store, NewOutbox};
use crate::store::{sql_scalar, Exec};
use app::connection::ConnectionStatus;
use serde_json::{json, Value};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Created,
    Authorised,
    ReauthorisationNeeded,
    RefreshFailed,
    RefreshRecovered,
    Revoked,
    Enabled,
    Deleted,
    GrantAdded,
    GrantRemoved,
    /// Sent from the endpoint's page or the admin API, to try a receiver.
    Test,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::Created,
        EventType::Authorised,
        EventType::ReauthorisationNeeded,
        EventType::RefreshFailed,
        EventType::RefreshRecovered,
        EventType::Revoked,
        EventType::Enabled,
        EventType::Deleted,
        EventType::GrantAdded,
        EventType::GrantRemoved,
        EventType::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "connection.created",
            EventType::Authorised => "connection.authorised",
            EventType::ReauthorisationNeeded => "connection.reauthorisation_needed",
            EventType::RefreshFailed => "connection.refresh_failed",
            EventType::RefreshRecovered => "connection.refresh_recovered",
            EventType::Revoked => "connection.revoked",
            EventType::Enabled => "connection.enabled",
            EventType::Deleted => "connection.deleted",
            EventType::GrantAdded => "connection.grant_added",
            EventType::GrantRemoved => "connection.grant_removed",
            EventType::Test => "webhook.test",
        }
    }
}

/// One event about a connection.
pub struct Event<'a> {
    pub kind: EventType,
    pub connection: &'a ConnectionRecord,
    /// The connection's status once the change is made (`None` when it was deleted).
    pub status: Option<ConnectionStatus>,
    /// Why, in words (re-authorisation needed, a refresh failed, a grant removed).
    pub reason: Option<&'a str>,
    /// Who did it: a person's label, "admin API", or "Liaison" for what Liaison did itself.
    pub actor: &'a str,
    /// Whose grant, for the grant events of a login-user connection (the person's id).
    pub user_id: Option<i64>,
}

impl<'a> Event<'a> {
    pub fn new(
        kind: EventType,
        connection: &'a ConnectionRecord,
        status: Option<ConnectionStatus>,
        actor: &'a str,
    ) -> Self {
        Event { kind, connection, status, reason: None, actor, user_id: None }
    }

    pub fn because(self, reason: Option<&'a str>) -> Self {
        Event { reason, ..self }
    }

    pub fn of_user(self, user_id: i64) -> Self {
        Event { user_id: Some(user_id), ..self }
    }

    /// What Liaison did itself to a grant (a refresh): of the person's own grant on a login-user
    /// connection (naming them), else of the connection's.
    pub fn by_liaison(kind: EventType, c: &'a ConnectionRecord, status: ConnectionStatus, user_key: i64) -> Self {
        let e = Event::new(kind, c, Some(status), LIAISON);
        if c.per_user && user_key != 0 {
            e.of_user(user_key)
        } else {
            e
        }
    }
}

/// The actor of what Liaison does by itself (a refresh, a grant set aside).
pub const LIAISON: &str = "Liaison";

/// A new event id: `evt_` and 32 hex digits.
pub fn new_id() -> String {
    format!("evt_{:032x}", rand::random::<u128>())
}

/// `2026-12-02T07:50:00.123Z`.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = app::time::civil_from_days(days);
    let (h, min, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{:03}Z", ms.rem_euclid(1000))
}

/// The JSON body of an event.
pub fn payload(id: &str, kind: EventType, now: i64, org: (i64, &str), connection: Value, actor: &str) -> Value {
    json!({
        "id": id,
        "type": kind.as_str(),
        "time": rfc3339(now),
        "organisation": { "id": org.0, "name": org.1 },
        "connection": connection,
        "actor": actor,
    })
}

fn connection_json(e: &Event<'_>) -> Value {
    let c = e.connection;
    let mut v = json!({
        "link_name": c.link_name,
        "name": c.name,
        "service": c.service_name,
        "status": e.status.map(|s| s.as_str()).unwrap_or("deleted"),
        "login_user": c.per_user,
    });
    if let Some(reason) = e.reason {
        v["reason"] = json!(reason);
    }
    if let Some(user) = e.user_id {
        v["user_id"] = json!(user);
    }
    v
}

async fn org_name<'e>(db: impl Exec<'e>, org_id: i64) -> Result<String> {
    Ok(sql_scalar!("SELECT name FROM organisations WHERE id = $1", org_id).fetch_one(db).await?)
}

/// Writes `event` to the outbox for every endpoint of its organisation, on `conn` (the change's
/// transaction). Nothing is written when the organisation has no endpoint.
pub async fn record(conn: &mut sqlx::AnyConnection, event: Event<'_>, now: i64) -> Result<()> {
    let org_id = event.connection.org_id;
    let endpoints = store::endpoint_ids(&mut *conn, org_id).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let org = org_name(&mut *conn, org_id).await?;
    let id = new_id();
    let body = payload(&id, event.kind, now, (org_id, &org), connection_json(&event), event.actor).to_string();
    for endpoint_id in endpoints {
        let row = NewOutbox { org_id, endpoint_id, event_id: &id, event_type: event.kind.as_str(), payload: &body };
        store::enqueue(&mut *conn, row, now).await?;
    }
    Ok(())
}

/// A test event for one endpoint.
pub async fn record_test(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
    endpoint_id: i64,
    actor: &str,
    now: i64,
) -> Result<String> {
    let org = org_name(&mut *conn, org_id).await?;
    let id = new_id();
    let body = payload(&id, EventType::Test, now, (org_id, &org), Value::Null, actor).to_string();
    let row = NewOutbox { org_id, endpoint_id, event_id: &id, event_type: EventType::Test.as_str(), payload: &body };
    store::enqueue(&mut *conn, row, now).await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_007), "2000-02-29T00:00:00.007Z");
        assert_eq!(rfc3339(1_796_196_645_123), "2026-12-02T07:30:45.123Z");
    }

    #[test]
    fn every_type_has_its_own_name() {
        let mut names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
    }
}
