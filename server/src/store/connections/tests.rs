use super::*;
use crate::store::sql;
use crate::store::testing::db_test;

struct Row {
    id: i64,
    name: String,
    link: String,
    service: String,
    internal: bool,
    status: ConnectionStatus,
    created_at: i64,
}

const SERVICES: [&str; 4] = ["GitHub", "Slack", "Zoho 100%_off", "Quote \"x\" \\ back"];
const STATUSES: [ConnectionStatus; 3] =
    [ConnectionStatus::Connected, ConnectionStatus::Revoked, ConnectionStatus::NeedsReauth];

/// 1,300 connections of organisation 1 (and a few of organisation 2 that must never show).
async fn seed(store: &Store) -> Vec<Row> {
    for sql in [
        "INSERT INTO organisations (id, name, created_at) VALUES (1, 'Acme', 1)",
        "INSERT INTO organisations (id, name, created_at) VALUES (2, 'Other', 1)",
    ] {
        sqlx::query(sql).execute(&store.pool).await.unwrap();
    }
    let mut rows = Vec::new();
    let mut tx = store.begin().await.unwrap();
    for i in 0..1_300i64 {
        let org = if i % 97 == 0 { 2 } else { 1 };
        let row = Row {
            id: i + 1,
            name: if i % 3 == 0 { format!("GitHub Sync {i}") } else { format!("Nightly {i}") },
            link: format!("conn_{i}"),
            service: SERVICES[(i % 4) as usize].to_string(),
            internal: i % 10 == 0,
            status: STATUSES[(i % 3) as usize],
            // Some share a time: the id breaks the tie.
            created_at: 1_000 + i / 2,
        };
        let sql = "INSERT INTO connections (id, org_id, link_name, name, catalog_id, service_name, scopes, internal, \
                   status, created_by_name, created_at, updated_at) VALUES ($1, $2, $3, $4, 'x', $5, '[]', $6, $7, 'Ada', $8, $8)";
        sql!(
            sql,
            row.id,
            org,
            &row.link,
            &row.name,
            &row.service,
            i64::from(row.internal),
            row.status.as_str(),
            row.created_at
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        if org == 1 {
            rows.push(row);
        }
    }
    tx.commit().await.unwrap();
    rows
}

/// What the list must answer, computed here.
fn expected(rows: &[Row], q: &ConnectionQuery, per_page: usize) -> (Vec<i64>, i64) {
    let term = q.search.trim().to_lowercase();
    let mut hits: Vec<&Row> = rows
        .iter()
        .filter(|r| r.internal == q.internal && q.status.is_none_or(|s| s == r.status))
        .filter(|r| {
            term.is_empty()
                || r.name.to_lowercase().contains(&term)
                || r.link.contains(&term)
                || r.service.to_lowercase().contains(&term)
        })
        .collect();
    hits.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
    let ids = hits.iter().skip(q.page as usize * per_page).take(per_page).map(|r| r.id).collect();
    (ids, hits.len() as i64)
}

db_test!(search_filters_and_pages_answer_as_a_plain_scan_would_on_both_databases, async |store: &Store| {
    let rows = seed(store).await;
    let searches = [
        "",
        "git",
        "github",
        "  GITHUB sync ",
        "gi",
        "n",
        "100%",
        "%_",
        "_o",
        "\"x\"",
        "\\",
        "zzz",
        "conn_12",
        "conn",
        "sync 3",
    ];
    let mut indexed_many = false;
    for search in searches {
        for status in [None, Some(ConnectionStatus::Revoked)] {
            for internal in [false, true] {
                for page_no in [0, 1, 9] {
                    let q =
                        ConnectionQuery { internal, search: search.to_string(), status, page: page_no, per_page: 50 };
                    let (want, want_total) = expected(&rows, &q, 50);
                    let (got, total) = page(store, 1, &q, 50).await.unwrap();
                    let got: Vec<i64> = got.iter().map(|c| c.id).collect();
                    assert_eq!(
                        (got, total),
                        (want, want_total),
                        "{:?}: {search:?} {status:?} internal={internal} page={page_no}",
                        store.kind
                    );
                    // More matches in the organisation than the threshold: more in the index too.
                    indexed_many |= search.chars().count() >= TRIGRAM && total > MANY_MATCHES;
                }
            }
        }
    }
    assert!(indexed_many, "a search with more than {MANY_MATCHES} matches was tried");
});

db_test!(the_search_index_follows_renames_and_deletes, async |store: &Store| {
    seed(store).await;
    let q =
        |search: &str| ConnectionQuery { internal: false, search: search.into(), status: None, page: 0, per_page: 50 };
    assert_eq!(page(store, 1, &q("zebra"), 50).await.unwrap().1, 0);
    let nightly_1 = page(store, 1, &q("nightly 1"), 50).await.unwrap().1;
    sqlx::query("UPDATE connections SET name = 'Zebra Crossing' WHERE id = 2").execute(&store.pool).await.unwrap();
    let (found, total) = page(store, 1, &q("zebra"), 50).await.unwrap();
    assert_eq!((found.first().map(|c| c.id), total), (Some(2), 1), "{:?}", store.kind);
    assert_eq!(page(store, 1, &q("nightly 1"), 50).await.unwrap().1, nightly_1 - 1, "the old name is gone");
    sqlx::query("DELETE FROM connections WHERE id = 2").execute(&store.pool).await.unwrap();
    assert_eq!(page(store, 1, &q("zebra"), 50).await.unwrap().1, 0, "{:?}", store.kind);
});
