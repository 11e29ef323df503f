//! Table definitions, in the shape `diesel print-schema` produces for the migrations.
//!
//! One deliberate difference: the `seq` columns are declared `BigInt` because SQLite's
//! `INTEGER PRIMARY KEY` is the 64-bit rowid, while print-schema would say `Integer`.

// @generated shape; see the module doc for the one hand edit.

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
        created_at -> Timestamp,
        updated_at -> Timestamp,
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
        created_at -> Timestamp,
        updated_at -> Timestamp,
        attributes -> Binary,
    }
}

diesel::allow_tables_to_appear_in_same_query!(groups, memberships, user_emails, users);
