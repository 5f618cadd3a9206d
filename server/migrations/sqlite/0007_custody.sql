-- Custody: the fingerprint of the endpoints (authorise, token, refresh, revoke and API base URLs,
-- authentication type, OAuth client) a grant was made under. Its secrets are sent only while the
-- service still has those endpoints (server/src/custody.rs). NULL: made before this column existed.
ALTER TABLE grants ADD COLUMN custody TEXT;
-- The same for an authorisation in progress: its code is exchanged only at those endpoints.
ALTER TABLE oauth_flows ADD COLUMN custody TEXT;
