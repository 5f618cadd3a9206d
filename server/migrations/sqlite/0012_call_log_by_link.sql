-- A connection's recent calls, for its details page (issue 23): by link name, newest first.
CREATE INDEX api_calls_org_link_at ON api_calls (org_id, link_name, at);
