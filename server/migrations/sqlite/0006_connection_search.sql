-- The Connections list's search (name, link name, service; a substring, any case) through an
-- index: an FTS5 table with the trigram tokenizer over those three columns, kept by triggers.
-- It holds no secret. A search shorter than three characters has no trigram and scans instead.
CREATE VIRTUAL TABLE connections_search USING fts5(
    name, link_name, service_name,
    content = 'connections', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO connections_search (connections_search) VALUES ('rebuild');

-- The search's matches are counted through this narrow index (one lookup per match) rather than
-- the table's wide rows.
CREATE INDEX connections_scope ON connections (id, org_id, internal, status);

CREATE TRIGGER connections_search_insert AFTER INSERT ON connections
BEGIN
    INSERT INTO connections_search (rowid, name, link_name, service_name)
    VALUES (new.id, new.name, new.link_name, new.service_name);
END;

CREATE TRIGGER connections_search_delete AFTER DELETE ON connections
BEGIN
    INSERT INTO connections_search (connections_search, rowid, name, link_name, service_name)
    VALUES ('delete', old.id, old.name, old.link_name, old.service_name);
END;

CREATE TRIGGER connections_search_update AFTER UPDATE OF id, name, link_name, service_name ON connections
BEGIN
    INSERT INTO connections_search (connections_search, rowid, name, link_name, service_name)
    VALUES ('delete', old.id, old.name, old.link_name, old.service_name);
    INSERT INTO connections_search (rowid, name, link_name, service_name)
    VALUES (new.id, new.name, new.link_name, new.service_name);
END;
