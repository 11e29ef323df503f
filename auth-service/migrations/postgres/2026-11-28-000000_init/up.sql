-- The auth-service's tables on PostgreSQL: the same as the SQLite migration of the same
-- version, spelt for PostgreSQL. Text is `COLLATE "C"` (byte-wise, as on SQLite);
-- timestamps are text in one fixed layout (scim_storage::time), so that values move
-- between backends exactly and compare in time order; BYTEA for secrets and hashes.

-- Server-wide values created on first start (the key of the client-secret hash).
CREATE TABLE settings (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL
);

-- OAuth clients. Secrets are stored only as keyed hashes.
CREATE TABLE providers (
    client_id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    tenant TEXT COLLATE "C" NOT NULL,
    -- Space-separated.
    allowed_scopes TEXT COLLATE "C" NOT NULL,
    max_token_ttl_seconds BIGINT NOT NULL,
    default_token_ttl_seconds BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    secret_hash BYTEA NOT NULL,
    previous_secret_hash BYTEA,
    previous_secret_expires TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);

CREATE INDEX providers_tenant ON providers (tenant);

-- Ed25519 signing keys: one `current`, one `next`, and `retired` ones kept until
-- `retire_after` so tokens they signed still verify.
CREATE TABLE signing_keys (
    kid TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    seed BYTEA NOT NULL,
    status TEXT COLLATE "C" NOT NULL CHECK (status IN ('next', 'current', 'retired')),
    created_at TEXT COLLATE "C" NOT NULL,
    retire_after TEXT COLLATE "C"
);

-- Revocations, read by polling verifiers in `sequence` order; an identity column, so
-- a sequence number is never handed out twice.
CREATE TABLE revocations (
    sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jti TEXT COLLATE "C",
    client_id TEXT COLLATE "C",
    issued_before TEXT COLLATE "C",
    expires_at TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);

CREATE INDEX revocations_expires_at ON revocations (expires_at);
