-- Portable across SQLite and PostgreSQL where possible: TEXT ids, TIMESTAMP columns
-- (UTC), BOOLEAN flags. Only the revocation sequence needs a per-backend spelling.

-- Server-wide values created on first start (the key of the client-secret hash).
CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

-- OAuth clients. Secrets are stored only as keyed hashes.
CREATE TABLE providers (
    client_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    tenant TEXT NOT NULL,
    -- Space-separated.
    allowed_scopes TEXT NOT NULL,
    max_token_ttl_seconds BIGINT NOT NULL,
    default_token_ttl_seconds BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    secret_hash BLOB NOT NULL,
    previous_secret_hash BLOB,
    previous_secret_expires TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX providers_tenant ON providers (tenant);

-- Ed25519 signing keys: one `current`, one `next`, and `retired` ones kept until
-- `retire_after` so tokens they signed still verify.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    seed BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('next', 'current', 'retired')),
    created_at TIMESTAMP NOT NULL,
    retire_after TIMESTAMP
);

-- Revocations, read by polling verifiers in `sequence` order. AUTOINCREMENT so a
-- sequence number is never handed out twice, even after the newest row was purged.
CREATE TABLE revocations (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    jti TEXT,
    client_id TEXT,
    issued_before TIMESTAMP,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX revocations_expires_at ON revocations (expires_at);
