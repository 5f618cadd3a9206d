-- One-time starts (issue 17).
--
-- An authorisation popup may only be started with a nonce that the Connect (or create-and-connect)
-- call issued to this browser session, for this person and this connection, a few minutes ago.
-- Only the SHA-256 of the nonce is kept; `/oauth/start` deletes the row as it reads it (single use).
CREATE TABLE oauth_starts (
    nonce_hash TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_starts_expiry ON oauth_starts (expires_at);

-- Embedded sign-in tokens already used: the SHA-256 of the token's signed part, kept until the
-- token expires, so a token signs someone in once, whichever instance it reaches.
CREATE TABLE embed_tokens_used (
    token_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX embed_tokens_used_expiry ON embed_tokens_used (expires_at);
