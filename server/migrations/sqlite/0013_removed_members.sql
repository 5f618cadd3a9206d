-- The people an admin removed from an organisation, by email: removing a person deletes their
-- user row, and a console allowed to bring people Liaison does not know (embed_provision_users)
-- must not bring them back. An admin adding them again lifts the mark.
CREATE TABLE removed_members (
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    removed_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, email)
);
