CREATE INDEX memberships_tenant_member ON memberships (tenant, member_value);
DROP INDEX memberships_tenant_member_group;
