-- The change stamp: one number that grows with every committed UPDATE or DELETE of the rows the
-- API's hot path reads (organisations, users, API tokens, services, connections, grants). The
-- server keeps what it read of those rows in memory for as long as the stamp stays the same, and
-- reads the stamp once per call (shared by the calls that arrive together), so a change made by
-- anyone (this instance, another one, the CLI, an operator's SQL) is seen by the next call.
-- INSERTs do not count: the memory holds only rows that exist. Columns written on every call
-- (`last_used_at`) do not count either; every other column does (a store test checks each one,
-- so a column added later must be added to its trigger here in a new migration).
--
-- The triggers are deferred to the commit and bump the stamp once per transaction, so the stamp's
-- row is the last lock a transaction takes and is held only while it commits: no deadlock with
-- the transaction's other row locks, and one row version per transaction, not per row changed.
CREATE TABLE change_stamp (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO change_stamp (id, n) VALUES (1, 0);

CREATE FUNCTION liaison_bump_change_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('liaison.change_stamped', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('liaison.change_stamped', 'yes', true);
        UPDATE change_stamp SET n = n + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER organisations_stamp AFTER UPDATE OR DELETE ON organisations
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION liaison_bump_change_stamp();

CREATE CONSTRAINT TRIGGER users_stamp AFTER UPDATE OR DELETE ON users
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION liaison_bump_change_stamp();

CREATE CONSTRAINT TRIGGER api_tokens_stamp
AFTER UPDATE OF id, org_id, user_id, name, token_hash, prefix, created_at, revoked_at OR DELETE ON api_tokens
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION liaison_bump_change_stamp();

CREATE CONSTRAINT TRIGGER services_stamp AFTER UPDATE OR DELETE ON services
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION liaison_bump_change_stamp();

CREATE CONSTRAINT TRIGGER connections_stamp
AFTER UPDATE OF id, org_id, link_name, name, service_id, catalog_id, service_name, scopes, per_user,
    internal, status, status_reason, client_id, client_secret, created_by, created_by_name,
    created_at, updated_at OR DELETE ON connections
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION liaison_bump_change_stamp();

CREATE CONSTRAINT TRIGGER grants_stamp AFTER UPDATE OR DELETE ON grants
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION liaison_bump_change_stamp();
