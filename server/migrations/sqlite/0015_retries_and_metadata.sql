-- The call log records how many requests each call sent to the service (1, more when a script
-- asked for retries: Liaison-Retries on the proxy, retries in invoke). Calls logged before this
-- knew of retries sent one.
ALTER TABLE api_calls ADD COLUMN attempts BIGINT NOT NULL DEFAULT 1;

-- A connection's metadata: a small JSON object (at most 4 KiB, never a secret) that the admin API
-- and scripts read and set, shown on the details page. It is read from the database each time,
-- never kept in memory, so it does not move the change stamp (not in the connections trigger).
ALTER TABLE connections ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
