DROP TABLE backfills;
DROP INDEX users_tenant_sort_email;
ALTER TABLE users DROP COLUMN sort_email;
DROP INDEX groups_tenant_external_id;
CREATE INDEX groups_tenant_external_id ON groups (tenant, external_id);
DROP INDEX users_tenant_display_name;
CREATE INDEX users_tenant_display_name ON users (tenant, display_name_norm);
DROP INDEX users_tenant_external_id;
CREATE INDEX users_tenant_external_id ON users (tenant, external_id);
