-- API tokens may carry an expiry (Unix milliseconds; NULL: never). The scripts' API compares it
-- with the clock on every call, cached or not. The column moves the change stamp like every other
-- column of api_tokens but last_used_at (see 0005), so its trigger is made anew with it.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

DROP TRIGGER api_tokens_stamp ON api_tokens;
CREATE CONSTRAINT TRIGGER api_tokens_stamp
AFTER UPDATE OF id, org_id, user_id, name, token_hash, prefix, created_at, revoked_at, expires_at OR DELETE
ON api_tokens
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION liaison_bump_change_stamp();
