-- A user's groups are read from this index alone: with `group_id` in it, listing the
-- groups of a page of users no longer seeks each membership's table row. It serves
-- every query the `(tenant, member_value)` index served, which it replaces.
CREATE INDEX memberships_tenant_member_group ON memberships (tenant, member_value, group_id);
DROP INDEX memberships_tenant_member;
