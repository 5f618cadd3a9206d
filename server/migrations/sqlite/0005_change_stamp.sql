-- The change stamp: one number that grows with every committed UPDATE or DELETE of the rows the
-- API's hot path reads (organisations, users, API tokens, services, connections, grants). The
-- server keeps what it read of those rows in memory for as long as the stamp stays the same, and
-- reads the stamp once per call (shared by the calls that arrive together), so a change made by
-- anyone (this instance, another one, the CLI, an operator's SQL) is seen by the next call.
-- INSERTs do not count: the memory holds only rows that exist. Columns written on every call
-- (`last_used_at`) do not count either; every other column does (a store test checks each one,
-- so a column added later must be added to its trigger here in a new migration).
CREATE TABLE change_stamp (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO change_stamp (id, n) VALUES (1, 0);

CREATE TRIGGER organisations_stamp_update AFTER UPDATE ON organisations
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER organisations_stamp_delete AFTER DELETE ON organisations
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER users_stamp_update AFTER UPDATE ON users
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER users_stamp_delete AFTER DELETE ON users
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER api_tokens_stamp_update
AFTER UPDATE OF id, org_id, user_id, name, token_hash, prefix, created_at, revoked_at ON api_tokens
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_stamp_delete AFTER DELETE ON api_tokens
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER services_stamp_update AFTER UPDATE ON services
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER services_stamp_delete AFTER DELETE ON services
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER connections_stamp_update
AFTER UPDATE OF id, org_id, link_name, name, service_id, catalog_id, service_name, scopes, per_user,
    internal, status, status_reason, client_id, client_secret, created_by, created_by_name,
    created_at, updated_at ON connections
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER connections_stamp_delete AFTER DELETE ON connections
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER grants_stamp_update AFTER UPDATE ON grants
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER grants_stamp_delete AFTER DELETE ON grants
BEGIN UPDATE change_stamp SET n = n + 1 WHERE id = 1; END;
