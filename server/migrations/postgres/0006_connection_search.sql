-- The Connections list's search (name, link name, service; a substring, any case) through
-- trigram indexes, where the pg_trgm extension can be had: a trusted extension since PostgreSQL
-- 13, so the database's owner may install it; it ships with PostgreSQL's contrib modules. Where
-- it cannot be installed the migration still succeeds and the search scans the table.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%); the connections search will scan', SQLERRM;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX connections_search_name ON connections USING gin (LOWER(name) gin_trgm_ops);
        CREATE INDEX connections_search_link ON connections USING gin (link_name gin_trgm_ops);
        CREATE INDEX connections_search_service ON connections USING gin (LOWER(service_name) gin_trgm_ops);
    END IF;
END
$$;
