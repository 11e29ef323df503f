-- The directory: users, their e-mail index, groups and memberships.
--
-- Column types stay portable (TEXT ids, TIMESTAMP, BIGINT, BOOLEAN, BLOB) so that a
-- PostgreSQL migration can mirror this file; only `seq` is SQLite-specific DDL.
-- `seq` is the stable listing order. AUTOINCREMENT keeps it strictly increasing even
-- after the newest row is deleted, so a page token that points after a deleted seq can
-- never skip a row created later (PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY).

CREATE TABLE users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    user_name TEXT NOT NULL,
    user_name_norm TEXT NOT NULL,
    external_id TEXT,
    display_name TEXT,
    display_name_norm TEXT,
    -- NULL when a client removed `active` (RFC 7644 remove); creates always set it.
    active BOOLEAN,
    password_hash TEXT,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    attributes BLOB NOT NULL
);
CREATE UNIQUE INDEX users_tenant_user_name ON users (tenant, user_name_norm);
CREATE INDEX users_tenant_external_id ON users (tenant, external_id);
CREATE INDEX users_tenant_display_name ON users (tenant, display_name_norm);
CREATE INDEX users_tenant_seq ON users (tenant, seq);

CREATE TABLE user_emails (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    value_norm TEXT NOT NULL,
    type TEXT,
    PRIMARY KEY (user_id, position)
);
CREATE INDEX user_emails_tenant_value ON user_emails (tenant, value_norm);

CREATE TABLE groups (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    display_name TEXT NOT NULL,
    display_name_norm TEXT NOT NULL,
    external_id TEXT,
    member_count BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX groups_tenant_display_name ON groups (tenant, display_name_norm);
CREATE INDEX groups_tenant_external_id ON groups (tenant, external_id);
CREATE INDEX groups_tenant_seq ON groups (tenant, seq);

-- A member is a user or a group of the same tenant, so `member_value` cannot carry a
-- foreign key; deleting a user or group removes the rows naming it explicitly.
CREATE TABLE memberships (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_value TEXT NOT NULL,
    member_type TEXT NOT NULL,
    display TEXT,
    tenant TEXT NOT NULL,
    PRIMARY KEY (group_id, member_value)
);
CREATE INDEX memberships_tenant_member ON memberships (tenant, member_value);
