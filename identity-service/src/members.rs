//! Member changes as requests state them, checked: who to add, remove or replace.
//!
//! Bounds: [`MAX_MEMBERS_PER_REQUEST`] members named per request, over all changes.
//! Storage of the changes is in [`crate::db::memberships`].

use std::collections::HashMap;

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::member_change::Kind as ChangeKind;

use crate::error::IdentityError;
use crate::model::MAX_NAME_BYTES;

pub use scim_model::limits::MAX_MEMBERS_PER_REQUEST;

/// What a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// A user of the tenant.
    User,
    /// A group of the tenant (nesting).
    Group,
}

impl MemberKind {
    /// The stored and returned name.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "User",
            MemberKind::Group => "Group",
        }
    }
}

/// A checked member from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInput {
    /// The user or group id.
    pub value: String,
    /// Which of the two.
    pub kind: MemberKind,
    /// The client's label, if any.
    pub display: Option<String>,
}

impl MemberInput {
    /// Checks one member of a request.
    pub fn from_proto(m: &pb::Member) -> Result<Self, IdentityError> {
        if m.value.is_empty() || m.value.len() > MAX_NAME_BYTES {
            return Err(IdentityError::invalid(
                "member value must be a non-empty user or group id",
            ));
        }
        let kind = match m.r#type.to_ascii_lowercase().as_str() {
            "" | "user" => MemberKind::User,
            "group" => MemberKind::Group,
            _ => return Err(IdentityError::invalid("member type must be User or Group")),
        };
        let display = m.display.clone().filter(|d| !d.is_empty());
        Ok(MemberInput {
            value: m.value.clone(),
            kind,
            display,
        })
    }
}

/// One checked change to a member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Add these (idempotent).
    Add(Vec<MemberInput>),
    /// Remove these values (absent ones are ignored).
    Remove(Vec<String>),
    /// Make the list exactly this.
    Replace(Vec<MemberInput>),
    /// Remove everyone.
    RemoveAll,
}

/// Checks a request's member changes, enforcing [`MAX_MEMBERS_PER_REQUEST`].
pub fn changes_from_proto(changes: &[pb::MemberChange]) -> Result<Vec<Change>, IdentityError> {
    let named: usize = changes
        .iter()
        .map(|c| match &c.kind {
            Some(ChangeKind::Add(l) | ChangeKind::Replace(l)) => l.members.len(),
            Some(ChangeKind::Remove(v)) => v.values.len(),
            _ => 0,
        })
        .sum();
    if named > MAX_MEMBERS_PER_REQUEST {
        return Err(IdentityError::invalid(format!(
            "a request may name at most {MAX_MEMBERS_PER_REQUEST} members"
        )));
    }
    let list = |l: &pb::MemberList| -> Result<Vec<MemberInput>, IdentityError> {
        l.members.iter().map(MemberInput::from_proto).collect()
    };
    let mut out = Vec::with_capacity(changes.len());
    for c in changes {
        match &c.kind {
            None => return Err(IdentityError::invalid("member change is empty")),
            Some(ChangeKind::Add(l)) => out.push(Change::Add(list(l)?)),
            Some(ChangeKind::Replace(l)) => out.push(Change::Replace(list(l)?)),
            Some(ChangeKind::Remove(v)) => out.push(Change::Remove(v.values.clone())),
            Some(ChangeKind::RemoveAll(true)) => out.push(Change::RemoveAll),
            Some(ChangeKind::RemoveAll(false)) => {}
        }
    }
    Ok(out)
}

/// One entry per value; a later non-empty display wins.
pub fn dedup(members: &[MemberInput]) -> Vec<MemberInput> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(members.len());
    let mut out: Vec<MemberInput> = Vec::with_capacity(members.len());
    for m in members {
        match index.get(m.value.as_str()) {
            Some(&i) => {
                if m.display.is_some() {
                    out[i].display = m.display.clone();
                }
            }
            None => {
                index.insert(&m.value, out.len());
                out.push(m.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(value: &str, display: Option<&str>) -> MemberInput {
        MemberInput {
            value: value.into(),
            kind: MemberKind::User,
            display: display.map(str::to_owned),
        }
    }

    #[test]
    fn dedup_keeps_first_position_and_last_display() {
        let out = dedup(&[
            m("a", Some("x")),
            m("b", None),
            m("a", Some("y")),
            m("a", None),
        ]);
        assert_eq!(out, vec![m("a", Some("y")), m("b", None)]);
    }

    #[test]
    fn member_types_are_checked() {
        let ok = pb::Member {
            value: "x".into(),
            r#type: "group".into(),
            display: Some(String::new()),
        };
        let parsed = MemberInput::from_proto(&ok).unwrap();
        assert_eq!(parsed.kind, MemberKind::Group);
        assert_eq!(parsed.display, None);
        let bad = pb::Member {
            value: "x".into(),
            r#type: "Robot".into(),
            display: None,
        };
        assert!(MemberInput::from_proto(&bad).is_err());
        assert!(MemberInput::from_proto(&pb::Member::default()).is_err());
    }

    #[test]
    fn too_many_named_members_are_refused() {
        let many = pb::MemberChange {
            kind: Some(ChangeKind::Remove(pb::MemberValues {
                values: vec!["x".into(); MAX_MEMBERS_PER_REQUEST + 1],
            })),
        };
        assert!(changes_from_proto(&[many]).is_err());
    }
}
