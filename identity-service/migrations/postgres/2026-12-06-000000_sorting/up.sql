-- Sorted lists (RFC 7644 §3.4.2.3) walk an index in (value, seq) order. SQLite's indexes
-- end in the rowid, which is `seq`; PostgreSQL's name it, so that a walk needs no sort
-- of equal values: the indexes on the nullable, non-unique columns are made again with
-- `seq` last (they serve the equality lookups as before).
DROP INDEX users_tenant_external_id;
CREATE INDEX users_tenant_external_id ON users (tenant, external_id, seq);
DROP INDEX users_tenant_display_name;
CREATE INDEX users_tenant_display_name ON users (tenant, display_name_norm, seq);
DROP INDEX groups_tenant_external_id;
CREATE INDEX groups_tenant_external_id ON groups (tenant, external_id, seq);

-- The e-mail a user sorts by (the primary value, else the first), folded, so that
-- `sortBy=emails.value` walks an index. Existing users get theirs from identity-service
-- at start-up (the value is inside the encoded attributes, which SQL cannot read): the
-- `backfills` row says that is still to do.
ALTER TABLE users ADD COLUMN sort_email TEXT COLLATE "C";
CREATE INDEX users_tenant_sort_email ON users (tenant, sort_email, seq);
CREATE TABLE backfills (name TEXT COLLATE "C" PRIMARY KEY);
INSERT INTO backfills (name) VALUES ('users.sort_email');
