//! Table definitions, in the shape `diesel print-schema` produces for the migrations.
//!
//! `sequence` is declared `BigInt`: SQLite stores every integer as 64 bits, and the
//! PostgreSQL spelling of the table will be `BIGSERIAL`.

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
        previous_secret_expires -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        seed -> Binary,
        status -> Text,
        created_at -> Timestamp,
        retire_after -> Nullable<Timestamp>,
    }
}

diesel::table! {
    revocations (sequence) {
        sequence -> BigInt,
        jti -> Nullable<Text>,
        client_id -> Nullable<Text>,
        issued_before -> Nullable<Timestamp>,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(settings, providers, signing_keys, revocations);
