-- Reconnect links (issue 20): an admin gives one member of the organisation a single-use link,
-- valid for a chosen time, that re-authorises one connection (or adds that member's own grant to
-- a login-user connection). Only the SHA-256 of the link's token is kept. A link is used once:
-- the update that sets used_at is conditional, so of two concurrent uses one wins.
CREATE TABLE reconnect_links (
    id INTEGER PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_by_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX reconnect_links_org ON reconnect_links (org_id, id);

-- A start link issued by a reconnect link lets its person authorise the connection even if they
-- could not manage it otherwise (a shared connection someone else created).
ALTER TABLE oauth_starts ADD COLUMN by_link BIGINT NOT NULL DEFAULT 0;
