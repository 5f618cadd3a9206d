-- The call log keeps one index besides its key: (org_id, link_name, at) serves a connection's
-- recent calls and an organisation's deletion alike. (org_id, at) served no query and cost every
-- logged call one more B-tree insert.
DROP INDEX IF EXISTS api_calls_org_at;
