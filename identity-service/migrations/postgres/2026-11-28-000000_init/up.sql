-- The directory on PostgreSQL: the same tables, columns and indexes as the SQLite
-- migration of the same version, spelt for PostgreSQL.
--
-- * Text is `COLLATE "C"`: comparisons and ORDER BY are byte-wise, as on SQLite, so
--   both backends list members in the same order and compare stored timestamps (text,
--   see scim_storage::time) in time order.
-- * `seq` is an identity column: strictly increasing, never reused.
-- * BYTEA for the encoded attributes.

CREATE TABLE users (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    tenant TEXT COLLATE "C" NOT NULL,
    user_name TEXT COLLATE "C" NOT NULL,
    user_name_norm TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C",
    display_name TEXT COLLATE "C",
    display_name_norm TEXT COLLATE "C",
    -- NULL when a client removed `active` (RFC 7644 remove); creates always set it.
    active BOOLEAN,
    password_hash TEXT COLLATE "C",
    version BIGINT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    attributes BYTEA NOT NULL
);
CREATE UNIQUE INDEX users_tenant_user_name ON users (tenant, user_name_norm);
CREATE INDEX users_tenant_external_id ON users (tenant, external_id);
CREATE INDEX users_tenant_display_name ON users (tenant, display_name_norm);
CREATE INDEX users_tenant_seq ON users (tenant, seq);

CREATE TABLE user_emails (
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    tenant TEXT COLLATE "C" NOT NULL,
    value_norm TEXT COLLATE "C" NOT NULL,
    type TEXT COLLATE "C",
    PRIMARY KEY (user_id, position)
);
CREATE INDEX user_emails_tenant_value ON user_emails (tenant, value_norm);

CREATE TABLE groups (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    tenant TEXT COLLATE "C" NOT NULL,
    display_name TEXT COLLATE "C" NOT NULL,
    display_name_norm TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C",
    member_count BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX groups_tenant_display_name ON groups (tenant, display_name_norm);
CREATE INDEX groups_tenant_external_id ON groups (tenant, external_id);
CREATE INDEX groups_tenant_seq ON groups (tenant, seq);

-- A member is a user or a group of the same tenant, so `member_value` cannot carry a
-- foreign key; deleting a user or group removes the rows naming it explicitly.
CREATE TABLE memberships (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_value TEXT COLLATE "C" NOT NULL,
    member_type TEXT COLLATE "C" NOT NULL,
    display TEXT COLLATE "C",
    tenant TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (group_id, member_value)
);
CREATE INDEX memberships_tenant_member ON memberships (tenant, member_value);
