-- Two lookups answered from an index alone, each index replacing the one that is its
-- prefix (so every query the old one served, the new one serves):
-- * a user's groups: with `group_id` in it, listing the groups of a page of users no
--   longer seeks each membership's table row;
-- * Entra's e-mail lookup: with `user_id` in it, the matching users' ids need no seek
--   of each e-mail row, and come out distinct without a temporary B-tree.
CREATE INDEX memberships_tenant_member_group ON memberships (tenant, member_value, group_id);
DROP INDEX memberships_tenant_member;
CREATE INDEX user_emails_tenant_value_user ON user_emails (tenant, value_norm, user_id);
DROP INDEX user_emails_tenant_value;
