CREATE INDEX user_emails_tenant_value ON user_emails (tenant, value_norm);
DROP INDEX user_emails_tenant_value_user;
CREATE INDEX memberships_tenant_member ON memberships (tenant, member_value);
DROP INDEX memberships_tenant_member_group;
