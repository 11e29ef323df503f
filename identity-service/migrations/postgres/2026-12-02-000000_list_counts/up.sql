-- Per tenant and kind: rows ever created, rows ever deleted, other changes. Written in
-- the transaction of every change, so a list reads in its own snapshot an exact total
-- (created - deleted) and generations that tell a cached page position from a stale
-- one, whichever process made the change. `slot` spreads concurrent writers over
-- several rows on PostgreSQL; SQLite has one writer and uses slot 0 only.
CREATE TABLE list_counts (
    tenant TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    slot INTEGER NOT NULL,
    created BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    PRIMARY KEY (tenant, kind, slot)
);
INSERT INTO list_counts (tenant, kind, slot, created, deleted, changed)
    SELECT tenant, 'users', 0, COUNT(*), 0, 0 FROM users GROUP BY tenant;
INSERT INTO list_counts (tenant, kind, slot, created, deleted, changed)
    SELECT tenant, 'groups', 0, COUNT(*), 0, 0 FROM groups GROUP BY tenant;
