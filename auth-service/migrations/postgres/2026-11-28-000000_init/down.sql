DROP TABLE revocations;
DROP TABLE signing_keys;
DROP TABLE providers;
DROP TABLE settings;
