-- The scripts' API: personal API tokens, the refresh lease on grants, and the log of API calls.

-- A person's API token: only its SHA-256 is kept; `prefix` (the start of the token) tells them apart.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

-- Refreshing: `version` grows with every new token set; an instance refreshes only while it holds
-- the lease (`lease_owner` until `lease_until`), taken with a conditional UPDATE. A provider that
-- fails (5xx, 429, timeout) is not asked again before `retry_at`.
ALTER TABLE grants ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN lease_owner TEXT;
ALTER TABLE grants ADD COLUMN lease_until BIGINT;
ALTER TABLE grants ADD COLUMN refresh_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN retry_at BIGINT;

-- Every call through the API: who, which connection, method, host, status, latency. Never a
-- secret, a path or a query string.
CREATE TABLE api_calls (
    id INTEGER PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    link_name TEXT NOT NULL,
    method TEXT NOT NULL,
    host TEXT NOT NULL,
    status BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    error_code TEXT
);
CREATE INDEX api_calls_org_at ON api_calls (org_id, at);
