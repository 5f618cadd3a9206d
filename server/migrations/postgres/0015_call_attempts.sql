-- The call log records how many requests each call sent to the service (1, more when a script
-- asked for retries: Liaison-Retries on the proxy, retries in invoke). Calls logged before this
-- knew of retries sent one.
ALTER TABLE api_calls ADD COLUMN attempts BIGINT NOT NULL DEFAULT 1;
