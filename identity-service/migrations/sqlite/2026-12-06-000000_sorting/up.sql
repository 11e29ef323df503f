-- The e-mail a user sorts by (RFC 7644 §3.4.2.3: the primary value, else the first),
-- folded, so that `sortBy=emails.value` walks an index. Existing users get theirs from
-- identity-service at start-up (the value is inside the encoded attributes, which SQL
-- cannot read): the `backfills` row says that is still to do.
ALTER TABLE users ADD COLUMN sort_email TEXT;
CREATE INDEX users_tenant_sort_email ON users (tenant, sort_email);
CREATE TABLE backfills (name TEXT PRIMARY KEY NOT NULL);
INSERT INTO backfills (name) VALUES ('users.sort_email');
