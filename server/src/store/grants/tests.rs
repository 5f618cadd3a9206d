use super::*;
use crate::store::testing::{db_test, org_with_person};
use sqlx::AnyPool;

/// Two organisations, each with a custom service and connections to the catalogue service
/// `gh`; connections in every state, shared and login-user, each with a grant (under custody
/// `old` or `new`) and a flow in progress.
async fn seed(pool: &sqlx::AnyPool) {
    for org in [1i64, 2] {
        org_with_person(pool, org, "Ada", "admin").await;
        let service = "INSERT INTO services (id, org_id, name, name_key, spec, callback_key, created_at, \
                       updated_at) VALUES ($1, $2, 'S', 's', '{}', $3, 1, 1)";
        sql!(service, org * 7, org, format!("c-{org}")).execute(pool).await.unwrap();
    }
    let connection = "INSERT INTO connections (id, org_id, link_name, name, service_id, catalog_id, \
                      service_name, scopes, per_user, status, created_by_name, created_at, updated_at) \
                      VALUES ($1, $2, $3, $3, $4, $5, 'S', '[]', $6, $7, 'Ada', 1, 1)";
    let grant = "INSERT INTO grants (connection_id, user_key, access_token, authorised_by_name, authorised_at, \
                 updated_at, custody) VALUES ($1, 0, 'sealed', 'Ada', 1, 1, $2)";
    let flow = "INSERT INTO oauth_flows (ticket, state_hash, org_id, connection_id, user_id, user_key, \
                session_hash, callback_key, scopes, pkce_verifier, created_at, expires_at) \
                VALUES ($1, $1, $2, $3, $2, 0, 's', 'k', '[]', 'sealed', 1, 99)";
    for id in 1..=80 {
        let (org, custom, per_user, custody) = attributes(id);
        let status = STATUSES[((id - 1) / 4 % 5) as usize];
        let (service_id, catalog_id) = if custom { (Some(org * 7), None) } else { (None, Some("gh")) };
        sql!(connection, id, org, format!("c{id}"), service_id, catalog_id, i64::from(per_user), status)
            .execute(pool)
            .await
            .unwrap();
        sql!(grant, id, custody).execute(pool).await.unwrap();
        sql!(flow, format!("t{id}"), org, id).execute(pool).await.unwrap();
    }
}

const STATUSES: [&str; 5] = ["connected", "error", "needs_reauth", "not_connected", "revoked"];

/// The seed's connection `id` (1 to 80): organisation, custom service or not, login-user or
/// not, the custody of its grant.
fn attributes(id: i64) -> (i64, bool, bool, &'static str) {
    let i = id - 1;
    (1 + i / 40, (i % 40) < 20, (i / 2) % 2 == 1, if i % 2 == 0 { "old" } else { "new" })
}

/// Per connection: status, reason, grants left, flow outcome, flow message, flow used at,
/// verifier kept.
type State = (String, Option<String>, i64, Option<String>, Option<String>, Option<i64>, bool);

async fn state(pool: &sqlx::AnyPool) -> Vec<State> {
    let rows = sqlx::query(
        "SELECT c.status, c.status_reason, (SELECT COUNT(*) FROM grants g WHERE g.connection_id = c.id) AS n, \
         f.outcome, f.outcome_message, f.used_at, f.pkce_verifier \
         FROM connections c JOIN oauth_flows f ON f.connection_id = c.id ORDER BY c.id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let row = |r: sqlx::any::AnyRow| {
        let verifier: Option<String> = r.get("pkce_verifier");
        let state: State = (
            r.get("status"),
            r.get("status_reason"),
            r.get("n"),
            r.get("outcome"),
            r.get("outcome_message"),
            r.get("used_at"),
            verifier.is_some(),
        );
        state
    };
    rows.into_iter().map(row).collect()
}

/// `before` after a set-aside of the connections `selected` picks, of which those `marked`
/// allows say why when they were authorised.
fn expected(before: &[State], selected: impl Fn(i64) -> bool, marked: impl Fn(i64) -> bool) -> Vec<State> {
    let after = |(i, s): (usize, &State)| {
        let id = i as i64 + 1;
        if !selected(id) {
            return s.clone();
        }
        let authorised = ["connected", "error", "needs_reauth"].contains(&s.0.as_str());
        let (status, reason) = if authorised && marked(id) {
            ("needs_reauth".into(), Some("moved".into()))
        } else {
            (s.0.clone(), s.1.clone())
        };
        (status, reason, 0, Some("flow_invalid".into()), Some("moved".into()), Some(50), false)
    };
    before.iter().enumerate().map(after).collect()
}

/// The two kinds of set-aside: what each selects (organisation, custom service, login-user,
/// custody), which of those say why, and the counts it answers.
#[allow(clippy::type_complexity)]
const CASES: [(SetAside<'static>, fn(i64) -> bool, fn(i64) -> bool, SetAsideCount); 2] = [
    // A custom service of organisation 1: every grant of its connections; the authorised
    // ones (connected, error, needs_reauth), shared and login-user: 12 of 20.
    (
        SetAside::CustomService { org_id: 1, service_id: 7 },
        |id| matches!(attributes(id), (1, true, _, _)),
        |_| true,
        SetAsideCount { connections: 12, grants: 20 },
    ),
    // The catalogue service with the operator's client, in every organisation: only the
    // grants under that custody; only shared connections say why (a login-user connection
    // holds other people's grants).
    (
        SetAside::Predefined { catalog_id: "gh", client_id: "", custody: "old" },
        |id| matches!(attributes(id), (_, false, _, "old")),
        |id| !attributes(id).2,
        SetAsideCount { connections: 6, grants: 20 },
    ),
];

db_test!(a_set_aside_names_the_peoples_own_grants_it_takes, async |pool: &AnyPool| {
    for (which, selected, _, counts) in CASES {
        sqlx::query("DELETE FROM organisations").execute(pool).await.unwrap();
        seed(pool).await;
        // Each login-user connection also holds its organisation's admin's own grant.
        let own = "INSERT INTO grants (connection_id, user_key, access_token, authorised_by_name, authorised_at, \
                   updated_at, custody) VALUES ($1, $2, 'sealed', 'Ada', 1, 1, $3)";
        let mut expected = Vec::new();
        for id in 1..=80 {
            let (org, _, per_user, custody) = attributes(id);
            if per_user {
                sql!(own, id, org, custody).execute(pool).await.unwrap();
                if selected(id) {
                    expected.push((id, org));
                }
            }
        }
        let mut conn = pool.acquire().await.unwrap();
        assert_eq!(own_grants_to_set_aside(&mut conn, which).await.unwrap(), expected, "{which:?}");
        assert_eq!(expected.len(), 10);
        let grants = counts.grants + 10;
        assert_eq!(set_aside(&mut conn, which, "moved", 50).await.unwrap().grants, grants, "{which:?}");
    }
});

db_test!(a_set_aside_takes_the_grants_it_selects_and_touches_nothing_else, async |pool: &AnyPool| {
    for (which, selected, marked, counts) in CASES {
        sqlx::query("DELETE FROM organisations").execute(pool).await.unwrap();
        seed(pool).await;
        let before = state(pool).await;
        let mut conn = pool.acquire().await.unwrap();
        // Those told of: the selected and marked ones that were Connected or in error.
        let told: Vec<i64> = (1..=80)
            .filter(|&id| {
                selected(id) && marked(id) && ["connected", "error"].contains(&before[id as usize - 1].0.as_str())
            })
            .collect();
        assert_eq!(to_set_aside(&mut conn, which).await.unwrap(), told, "{which:?}");
        assert!(!told.is_empty());
        assert_eq!(set_aside(&mut conn, which, "moved", 50).await.unwrap(), counts, "{which:?}");
        assert_eq!(state(pool).await, expected(&before, selected, marked), "{which:?}");
    }
});
