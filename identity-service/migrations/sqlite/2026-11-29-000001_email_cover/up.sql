-- Entra's e-mail lookup answered from the index alone: with `user_id` in it, the
-- matching users' ids need no seek of each e-mail row, and come out distinct without a
-- temporary B-tree. It serves every query the `(tenant, value_norm)` index served,
-- which it replaces.
CREATE INDEX user_emails_tenant_value_user ON user_emails (tenant, value_norm, user_id);
DROP INDEX user_emails_tenant_value;
