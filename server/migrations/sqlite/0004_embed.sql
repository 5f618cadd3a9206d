-- Sessions started by a host console that embeds Liaison in an iframe: the host's origin (where
-- the page may post its events). NULL for ordinary sign-ins.
ALTER TABLE sessions ADD COLUMN embed_origin TEXT;
