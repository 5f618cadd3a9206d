-- Signed webhooks: the endpoints an organisation's admins register (each with its signing secret,
-- sealed, and the previous one while a rotation lasts), the outbox written in the transaction of
-- the change an event tells (one row per endpoint), and a row per delivery attempt. An instance
-- delivers an endpoint's events while it holds the endpoint's lease (one instance at a time, its
-- events one by one), each event under a lease of its own taken just before its POST.
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    secret TEXT,
    previous_secret TEXT,
    previous_until BIGINT,
    created_by_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, id);
-- A URL once per organisation (and at most MAX_ENDPOINTS endpoints each, checked by the server).
CREATE UNIQUE INDEX webhook_endpoints_url ON webhook_endpoints (org_id, url);

CREATE TABLE webhook_outbox (
    id INTEGER PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    delivered_at BIGINT,
    gave_up_at BIGINT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, id)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX webhook_outbox_endpoint ON webhook_outbox (endpoint_id);
-- At most one test event still to deliver per endpoint.
CREATE UNIQUE INDEX webhook_outbox_one_test ON webhook_outbox (endpoint_id)
    WHERE event_type = 'webhook.test' AND delivered_at IS NULL AND gave_up_at IS NULL;

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    outbox_id BIGINT NOT NULL REFERENCES webhook_outbox (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status_code BIGINT,
    latency_ms BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_outbox ON webhook_deliveries (outbox_id);
