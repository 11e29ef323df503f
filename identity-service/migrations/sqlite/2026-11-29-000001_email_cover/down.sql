CREATE INDEX user_emails_tenant_value ON user_emails (tenant, value_norm);
DROP INDEX user_emails_tenant_value_user;
