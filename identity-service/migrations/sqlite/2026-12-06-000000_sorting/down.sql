DROP TABLE backfills;
DROP INDEX users_tenant_sort_email;
ALTER TABLE users DROP COLUMN sort_email;
