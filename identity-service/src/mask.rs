//! `UpdateUser` field masks: which attributes a partial update changes.
//!
//! Paths are proto field names (`user_name`, `name.given_name`, `enterprise.manager`);
//! the lowerCamel JSON spelling (`userName`) is accepted too, since both fold to the same
//! key. A path names a top-level field or a field of `name` or `enterprise`; anything
//! else is INVALID_ARGUMENT. A named field that is unset in the request is cleared.

use scim_proto::identity::v1 as pb;

use crate::error::IdentityError;

type Apply = fn(&mut pb::User, &pb::User);

use scim_model::limits::MAX_MASK_PATHS as MAX_PATHS;

fn name(u: &mut pb::User) -> &mut pb::Name {
    u.name.get_or_insert_with(Default::default)
}

fn ent(u: &mut pb::User) -> &mut pb::EnterpriseUser {
    u.enterprise.get_or_insert_with(Default::default)
}

fn src_name(u: &pb::User) -> pb::Name {
    u.name.clone().unwrap_or_default()
}

fn src_ent(u: &pb::User) -> pb::EnterpriseUser {
    u.enterprise.clone().unwrap_or_default()
}

/// Every path, as folded key → how to copy it. `password` is handled by the caller.
const PATHS: &[(&str, Apply)] = &[
    ("username", |t, s| t.user_name = s.user_name.clone()),
    ("externalid", |t, s| t.external_id = s.external_id.clone()),
    ("name", |t, s| t.name = s.name.clone()),
    ("name.formatted", |t, s| {
        name(t).formatted = src_name(s).formatted
    }),
    ("name.familyname", |t, s| {
        name(t).family_name = src_name(s).family_name
    }),
    ("name.givenname", |t, s| {
        name(t).given_name = src_name(s).given_name
    }),
    ("name.middlename", |t, s| {
        name(t).middle_name = src_name(s).middle_name
    }),
    ("name.honorificprefix", |t, s| {
        name(t).honorific_prefix = src_name(s).honorific_prefix
    }),
    ("name.honorificsuffix", |t, s| {
        name(t).honorific_suffix = src_name(s).honorific_suffix
    }),
    ("displayname", |t, s| {
        t.display_name = s.display_name.clone()
    }),
    ("nickname", |t, s| t.nick_name = s.nick_name.clone()),
    ("profileurl", |t, s| t.profile_url = s.profile_url.clone()),
    ("title", |t, s| t.title = s.title.clone()),
    ("usertype", |t, s| t.user_type = s.user_type.clone()),
    ("preferredlanguage", |t, s| {
        t.preferred_language = s.preferred_language.clone()
    }),
    ("locale", |t, s| t.locale = s.locale.clone()),
    ("timezone", |t, s| t.timezone = s.timezone.clone()),
    ("active", |t, s| t.active = s.active),
    ("password", |_, _| {}),
    ("emails", |t, s| t.emails = s.emails.clone()),
    ("phonenumbers", |t, s| {
        t.phone_numbers = s.phone_numbers.clone()
    }),
    ("ims", |t, s| t.ims = s.ims.clone()),
    ("photos", |t, s| t.photos = s.photos.clone()),
    ("addresses", |t, s| t.addresses = s.addresses.clone()),
    ("entitlements", |t, s| {
        t.entitlements = s.entitlements.clone()
    }),
    ("roles", |t, s| t.roles = s.roles.clone()),
    ("x509certificates", |t, s| {
        t.x509_certificates = s.x509_certificates.clone()
    }),
    ("enterprise", |t, s| t.enterprise = s.enterprise.clone()),
    ("enterprise.employeenumber", |t, s| {
        ent(t).employee_number = src_ent(s).employee_number
    }),
    ("enterprise.costcenter", |t, s| {
        ent(t).cost_center = src_ent(s).cost_center
    }),
    ("enterprise.organization", |t, s| {
        ent(t).organization = src_ent(s).organization
    }),
    ("enterprise.division", |t, s| {
        ent(t).division = src_ent(s).division
    }),
    ("enterprise.department", |t, s| {
        ent(t).department = src_ent(s).department
    }),
    ("enterprise.manager", |t, s| {
        ent(t).manager = src_ent(s).manager
    }),
];

/// A checked field mask.
#[derive(Clone)]
pub struct Mask {
    steps: Vec<(&'static str, Apply)>,
}

impl std::fmt::Debug for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.steps.iter().map(|(k, _)| k))
            .finish()
    }
}

fn fold(path: &str) -> String {
    path.trim()
        .chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

impl Mask {
    /// Checks the paths of a mask; INVALID_ARGUMENT for an empty mask or unknown path.
    pub fn parse(mask: Option<&prost_types::FieldMask>) -> Result<Self, IdentityError> {
        let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
        if paths.is_empty() {
            return Err(IdentityError::invalid("update_mask names no field"));
        }
        if paths.len() > MAX_PATHS {
            return Err(IdentityError::invalid(format!(
                "update_mask names more than {MAX_PATHS} fields"
            )));
        }
        let mut steps = Vec::with_capacity(paths.len());
        for path in paths {
            let key = fold(path);
            let step = PATHS.iter().find(|(k, _)| *k == key).ok_or_else(|| {
                let shown: String = path.chars().filter(|c| !c.is_control()).take(100).collect();
                IdentityError::invalid(format!("update_mask: unknown field '{shown}'"))
            })?;
            steps.push(*step);
        }
        Ok(Mask { steps })
    }

    /// Whether the mask names `password`.
    pub fn touches_password(&self) -> bool {
        self.steps.iter().any(|(k, _)| *k == "password")
    }

    /// Copies the named fields from `source` into `target`.
    pub fn apply(&self, target: &mut pb::User, source: &pb::User) {
        for (_, step) in &self.steps {
            step(target, source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> Result<Mask, IdentityError> {
        Mask::parse(Some(&prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }))
    }

    #[test]
    fn named_fields_change_and_others_stay() {
        let mut target = pb::User {
            user_name: "old".into(),
            title: Some("t".into()),
            name: Some(pb::Name {
                family_name: Some("F".into()),
                given_name: Some("G".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let source = pb::User {
            user_name: "new".into(),
            name: Some(pb::Name {
                given_name: Some("H".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        mask(&["user_name", "name.givenName"])
            .unwrap()
            .apply(&mut target, &source);
        assert_eq!(target.user_name, "new");
        assert_eq!(target.title.as_deref(), Some("t"));
        let n = target.name.unwrap();
        assert_eq!(n.given_name.as_deref(), Some("H"));
        assert_eq!(n.family_name.as_deref(), Some("F"));
    }

    #[test]
    fn unset_named_fields_are_cleared() {
        let mut target = pb::User {
            title: Some("t".into()),
            ..Default::default()
        };
        mask(&["title"])
            .unwrap()
            .apply(&mut target, &pb::User::default());
        assert_eq!(target.title, None);
    }

    #[test]
    fn unknown_and_empty_masks_are_refused() {
        assert!(mask(&[]).is_err());
        assert!(mask(&["groups"]).is_err());
        assert!(mask(&["name.nickname"]).is_err());
        assert!(mask(&["enterprise.manager"]).is_ok());
        assert!(mask(&["password"]).unwrap().touches_password());
    }
}
