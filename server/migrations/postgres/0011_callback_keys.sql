-- A custom service's redirect URL no longer depends on its row id (issue 23).
--
-- Its callback key (the last segment of `/oauth/callback/{key}`) is minted by the server when the
-- Create New Service form opens, so the form can show the redirect URL before anything is saved.
-- Services made before keep the key they had, `c-{id}`, so the redirect URIs registered with
-- providers keep working. A key belongs to one service, ever.
ALTER TABLE services ADD COLUMN callback_key TEXT;
UPDATE services SET callback_key = 'c-' || id;
CREATE UNIQUE INDEX services_callback_key ON services (callback_key);

-- The keys an organisation's open forms were given, until a service takes one or they expire: a
-- form may carry only a key its own organisation was given and no service has taken.
CREATE TABLE callback_keys (
    callback_key TEXT PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX callback_keys_expiry ON callback_keys (expires_at);
