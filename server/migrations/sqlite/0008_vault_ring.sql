-- The key every instance seals new secrets under, as the database records it. The first server to
-- start writes its active key; after that only `liaison keys rotate` changes it (bumping
-- `version`). Running servers read this row every second: they seal under `active_key` as soon as
-- a rotation starts and re-read the key file when it changes, so no restart is needed and no
-- instance keeps sealing under a key the rotation retires. A server that does not hold
-- `active_key` (a master_key without the new key) records it in `refused_key`/`refused_at`, and
-- the rotation then stops and gives the old active key back.
CREATE TABLE vault_ring (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    active_key TEXT NOT NULL,
    version BIGINT NOT NULL,
    refused_key TEXT,
    refused_at BIGINT
);
