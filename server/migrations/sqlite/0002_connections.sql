-- Services, connections, grants, authorisation flows and the audit log. Secrets are sealed by the
-- vault (`v1.<key id>.<base64>`), bound to their table, column and row; flags are 0 / 1.

-- Custom services, defined by an organisation's admins. `spec` is the JSON of every non-secret field.
CREATE TABLE services (
    id INTEGER PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    spec TEXT NOT NULL,
    client_id TEXT,
    client_secret TEXT,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, name_key)
);

CREATE TABLE connections (
    id INTEGER PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    link_name TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Exactly one of: a custom service (which cannot be deleted while in use) or a catalogue id.
    service_id BIGINT REFERENCES services (id) ON DELETE RESTRICT,
    catalog_id TEXT,
    service_name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    per_user BIGINT NOT NULL DEFAULT 0 CHECK (per_user IN (0, 1)),
    internal BIGINT NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    status TEXT NOT NULL CHECK (status IN ('not_connected', 'connected', 'revoked', 'needs_reauth', 'error')),
    status_reason TEXT,
    -- A predefined service's OAuth client given on the connection form (no operator-configured one).
    client_id TEXT,
    client_secret TEXT,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_by_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_used_at BIGINT,
    UNIQUE (org_id, link_name),
    CHECK ((service_id IS NULL) <> (catalog_id IS NULL))
);
CREATE INDEX connections_list ON connections (org_id, internal, created_at);

-- The credentials behind a connection: user_key 0 is the shared grant, otherwise the user's own.
-- access_token holds the API key or the Basic password for those services.
CREATE TABLE grants (
    id INTEGER PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    user_key BIGINT NOT NULL,
    access_token TEXT,
    refresh_token TEXT,
    username TEXT,
    expires_at BIGINT,
    granted_scopes TEXT,
    authorised_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    authorised_by_name TEXT NOT NULL,
    authorised_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (connection_id, user_key)
);

-- An authorisation in progress: single use (used_at), bound to the browser session, expiring.
-- Only the SHA-256 of the state is kept for the lookup; the state and the PKCE verifier are sealed.
CREATE TABLE oauth_flows (
    id INTEGER PRIMARY KEY,
    ticket TEXT NOT NULL UNIQUE,
    state_hash TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_key BIGINT NOT NULL,
    session_hash TEXT NOT NULL,
    callback_key TEXT NOT NULL,
    scopes TEXT NOT NULL,
    pkce_verifier TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    outcome TEXT,
    outcome_message TEXT
);
CREATE INDEX oauth_flows_expiry ON oauth_flows (expires_at);

-- Who did what, when. Never a secret.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    org_id BIGINT REFERENCES organisations (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_log_org_at ON audit_log (org_id, at);

-- Key rotation's progress: which key every secret should be under.
CREATE TABLE vault_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    target_key TEXT NOT NULL,
    started_at BIGINT NOT NULL
);
