//! Table definitions, in the shape `diesel print-schema` produces for the migrations.
//!
//! Two deliberate differences from what print-schema would say for SQLite:
//! * the `seq` columns are `BigInt`: SQLite's `INTEGER PRIMARY KEY` is the 64-bit rowid
//!   (PostgreSQL: `BIGINT GENERATED ALWAYS AS IDENTITY`);
//! * timestamps are `Text` on both backends ([`scim_storage::time`]); SQLite's columns
//!   are declared `TIMESTAMP` and have always held that text.

// @generated shape; see the module doc for the hand edits.

diesel::table! {
    groups (seq) {
        seq -> BigInt,
        id -> Text,
        tenant -> Text,
        display_name -> Text,
        display_name_norm -> Text,
        external_id -> Nullable<Text>,
        member_count -> BigInt,
        version -> BigInt,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    memberships (group_id, member_value) {
        group_id -> Text,
        member_value -> Text,
        member_type -> Text,
        display -> Nullable<Text>,
        tenant -> Text,
    }
}

diesel::table! {
    user_emails (user_id, position) {
        user_id -> Text,
        position -> Integer,
        tenant -> Text,
        value_norm -> Text,
        #[sql_name = "type"]
        type_ -> Nullable<Text>,
    }
}

diesel::table! {
    users (seq) {
        seq -> BigInt,
        id -> Text,
        tenant -> Text,
        user_name -> Text,
        user_name_norm -> Text,
        external_id -> Nullable<Text>,
        display_name -> Nullable<Text>,
        display_name_norm -> Nullable<Text>,
        active -> Nullable<Bool>,
        password_hash -> Nullable<Text>,
        version -> BigInt,
        created_at -> Text,
        updated_at -> Text,
        attributes -> Binary,
        sort_email -> Nullable<Text>,
    }
}

diesel::table! {
    backfills (name) {
        name -> Text,
    }
}

diesel::table! {
    list_counts (tenant, kind, slot) {
        tenant -> Text,
        kind -> Text,
        slot -> Integer,
        created -> BigInt,
        deleted -> BigInt,
        changed -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    backfills,
    groups,
    list_counts,
    memberships,
    user_emails,
    users
);
