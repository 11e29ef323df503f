-- Failed client authentications per client id, shared by every replica on the
-- database, so that N replicas do not give a guesser N times the attempts. Rows are
-- forgotten some time after their last failure (see the service's guard module).
CREATE TABLE auth_failures (
    client_id TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failure TEXT NOT NULL,
    locked_until TEXT
);
CREATE INDEX auth_failures_last_failure ON auth_failures (last_failure);
