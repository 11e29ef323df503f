//! Table definitions, in the shape `diesel print-schema` produces for the migrations.
//!
//! `sequence` is declared `BigInt`: SQLite stores every integer as 64 bits, and
//! PostgreSQL's column is a `BIGINT` identity. Timestamps are `Text` on both backends
//! ([`scim_storage::time`]); SQLite's columns are declared `TIMESTAMP` and have always
//! held that text.

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Binary,
    }
}

diesel::table! {
    providers (client_id) {
        client_id -> Text,
        name -> Text,
        tenant -> Text,
        allowed_scopes -> Text,
        max_token_ttl_seconds -> BigInt,
        default_token_ttl_seconds -> BigInt,
        disabled -> Bool,
        secret_hash -> Binary,
        previous_secret_hash -> Nullable<Binary>,
        previous_secret_expires -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        seed -> Binary,
        status -> Text,
        created_at -> Text,
        retire_after -> Nullable<Text>,
    }
}

diesel::table! {
    revocations (sequence) {
        sequence -> BigInt,
        jti -> Nullable<Text>,
        client_id -> Nullable<Text>,
        issued_before -> Nullable<Text>,
        expires_at -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    auth_failures (client_id) {
        client_id -> Text,
        failures -> Integer,
        last_failure -> Text,
        locked_until -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    settings,
    providers,
    signing_keys,
    revocations,
    auth_failures
);
