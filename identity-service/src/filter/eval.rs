//! The filter evaluator: RFC 7644 §3.4.2.2 semantics over decoded resources.
//!
//! * A comparison on a multi-valued attribute matches when any value matches.
//! * `pr` is true when some value is non-empty; `eq null` is its negation.
//! * `ne` on a missing attribute is true.
//! * Strings of `caseExact=false` attributes are folded to lower case before comparing
//!   (the literal was folded at compile time); ordering operators compare the folded
//!   strings lexicographically, date-times chronologically, versions numerically.

use std::borrow::Cow;
use std::cmp::Ordering;

use scim_proto::identity::v1 as pb;

use super::attrs::{Container, EnterpriseField, Field, NameField, Path, Stored};
use super::{Comparison, Literal, Node, Op};

/// One value of an attribute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    /// A string.
    Str(&'a str),
    /// A boolean.
    Bool(bool),
    /// Seconds and nanoseconds since the epoch.
    Time(i64, i32),
    /// An integer.
    Int(i64),
}

/// One value of a multi-valued complex attribute.
#[derive(Debug, Clone, Copy)]
pub enum Elem<'a> {
    /// emails, phoneNumbers, ims, photos, entitlements, roles, x509Certificates.
    Multi(&'a pb::MultiValue),
    /// addresses.
    Address(&'a pb::Address),
    /// A user's groups.
    GroupRef(&'a pb::GroupRef),
    /// A group's members.
    Member(&'a pb::Member),
}

/// Something a filter can be evaluated against.
pub trait Target {
    /// The values of an attribute (empty when absent).
    fn values(&self, path: Path) -> Vec<Val<'_>>;
    /// The values of a multi-valued complex attribute.
    fn elements(&self, container: Container) -> Vec<Elem<'_>>;
}

/// Whether `target` matches `node`.
pub fn matches<T: Target + ?Sized>(node: &Node, target: &T) -> bool {
    match node {
        Node::Compare(c) => compare(c, &target.values(c.attr.path)),
        Node::And(ns) => ns.iter().all(|n| matches(n, target)),
        Node::Or(ns) => ns.iter().any(|n| matches(n, target)),
        Node::Not(n) => !matches(n, target),
        Node::ValuePath(c, inner) => target.elements(*c).iter().any(|e| matches(inner, e)),
    }
}

fn present(v: &Val<'_>) -> bool {
    match v {
        Val::Str(s) => !s.is_empty(),
        _ => true,
    }
}

fn compare(c: &Comparison, values: &[Val<'_>]) -> bool {
    let exact = c.attr.case_exact;
    match (c.op, &c.literal) {
        (Op::Pr, _) => values.iter().any(present),
        (Op::Eq, Literal::Null) => !values.iter().any(present),
        (Op::Ne, Literal::Null) => values.iter().any(present),
        (Op::Ne, lit) => values.is_empty() || values.iter().any(|v| !test(Op::Eq, v, lit, exact)),
        (op, lit) => values.iter().any(|v| test(op, v, lit, exact)),
    }
}

fn test(op: Op, value: &Val<'_>, lit: &Literal, case_exact: bool) -> bool {
    match (value, lit) {
        (Val::Str(s), Literal::Str(l)) => {
            let s: Cow<'_, str> = if case_exact {
                Cow::Borrowed(s)
            } else {
                Cow::Owned(s.to_lowercase())
            };
            match op {
                Op::Co => s.contains(l.as_str()),
                Op::Sw => s.starts_with(l.as_str()),
                Op::Ew => s.ends_with(l.as_str()),
                _ => ordered(op, s.as_ref().cmp(l.as_str())),
            }
        }
        (Val::Bool(b), Literal::Bool(l)) => op == Op::Eq && b == l,
        (Val::Time(s, n), Literal::Time(ls, ln)) => ordered(op, (s, n).cmp(&(ls, ln))),
        (Val::Int(i), Literal::Int(l)) => ordered(op, i.cmp(l)),
        _ => false,
    }
}

fn ordered(op: Op, ord: Ordering) -> bool {
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        _ => false,
    }
}

fn opt(s: &Option<String>) -> Vec<Val<'_>> {
    s.as_deref().map(Val::Str).into_iter().collect()
}

fn time(ts: Option<&prost_types::Timestamp>) -> Vec<Val<'_>> {
    ts.map(|t| Val::Time(t.seconds, t.nanos))
        .into_iter()
        .collect()
}

fn each<'a>(elements: Vec<Elem<'a>>, field: Field) -> Vec<Val<'a>> {
    elements
        .into_iter()
        .filter_map(|e| e.field(field))
        .collect()
}

impl<'a> Elem<'a> {
    fn field(self, field: Field) -> Option<Val<'a>> {
        let s = |v: &'a Option<String>| v.as_deref().map(Val::Str);
        match (self, field) {
            (Elem::Multi(m), Field::Value) => Some(Val::Str(&m.value)),
            (Elem::Multi(m), Field::Display) => s(&m.display),
            (Elem::Multi(m), Field::Type) => s(&m.r#type),
            (Elem::Multi(m), Field::Primary) => Some(Val::Bool(m.primary)),
            (Elem::Address(a), Field::Formatted) => s(&a.formatted),
            (Elem::Address(a), Field::StreetAddress) => s(&a.street_address),
            (Elem::Address(a), Field::Locality) => s(&a.locality),
            (Elem::Address(a), Field::Region) => s(&a.region),
            (Elem::Address(a), Field::PostalCode) => s(&a.postal_code),
            (Elem::Address(a), Field::Country) => s(&a.country),
            (Elem::Address(a), Field::Type) => s(&a.r#type),
            (Elem::Address(a), Field::Primary) => Some(Val::Bool(a.primary)),
            (Elem::GroupRef(g), Field::Value) => Some(Val::Str(&g.value)),
            (Elem::GroupRef(g), Field::Display) => Some(Val::Str(&g.display)),
            (Elem::GroupRef(g), Field::Type) => Some(Val::Str(&g.r#type)),
            (Elem::Member(m), Field::Value) => Some(Val::Str(&m.value)),
            (Elem::Member(m), Field::Display) => s(&m.display),
            (Elem::Member(m), Field::Type) => Some(Val::Str(&m.r#type)),
            _ => None,
        }
    }
}

impl Target for Elem<'_> {
    fn values(&self, path: Path) -> Vec<Val<'_>> {
        match path {
            Path::Elem(f) => self.field(f).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    fn elements(&self, _container: Container) -> Vec<Elem<'_>> {
        Vec::new()
    }
}

impl Target for pb::User {
    fn values(&self, path: Path) -> Vec<Val<'_>> {
        let meta = self.meta.as_ref();
        let stored = match path {
            Path::At(s) => s,
            Path::AnyOf(c) => return self.elements(c).iter().map(|_| Val::Bool(true)).collect(),
            Path::Elem(_) => return Vec::new(),
        };
        match stored {
            Stored::Id => vec![Val::Str(&self.id)],
            Stored::ExternalId => opt(&self.external_id),
            Stored::UserName => vec![Val::Str(&self.user_name)],
            Stored::DisplayName => opt(&self.display_name),
            Stored::NickName => opt(&self.nick_name),
            Stored::ProfileUrl => opt(&self.profile_url),
            Stored::Title => opt(&self.title),
            Stored::UserType => opt(&self.user_type),
            Stored::PreferredLanguage => opt(&self.preferred_language),
            Stored::Locale => opt(&self.locale),
            Stored::Timezone => opt(&self.timezone),
            Stored::Active => self.active.map(Val::Bool).into_iter().collect(),
            Stored::NamePart(f) => self.name.as_ref().map_or_else(Vec::new, |n| {
                opt(match f {
                    NameField::Formatted => &n.formatted,
                    NameField::FamilyName => &n.family_name,
                    NameField::GivenName => &n.given_name,
                    NameField::MiddleName => &n.middle_name,
                    NameField::HonorificPrefix => &n.honorific_prefix,
                    NameField::HonorificSuffix => &n.honorific_suffix,
                })
            }),
            Stored::EnterpriseAttr(f) => self
                .enterprise
                .as_ref()
                .map_or_else(Vec::new, |e| enterprise(e, f)),
            Stored::Each(c, f) => each(self.elements(c), f),
            Stored::MetaCreated => time(meta.and_then(|m| m.created.as_ref())),
            Stored::MetaLastModified => time(meta.and_then(|m| m.last_modified.as_ref())),
            Stored::MetaVersion => meta.map(|m| Val::Int(m.version)).into_iter().collect(),
            Stored::MetaResourceType => vec![Val::Str("User")],
            // Not comparable; the compiler never resolves to these.
            Stored::Password | Stored::Name | Stored::Enterprise | Stored::Values(_) => Vec::new(),
        }
    }

    fn elements(&self, container: Container) -> Vec<Elem<'_>> {
        fn multi(v: &[pb::MultiValue]) -> Vec<Elem<'_>> {
            v.iter().map(Elem::Multi).collect()
        }
        match container {
            Container::Emails => multi(&self.emails),
            Container::PhoneNumbers => multi(&self.phone_numbers),
            Container::Ims => multi(&self.ims),
            Container::Photos => multi(&self.photos),
            Container::Entitlements => multi(&self.entitlements),
            Container::Roles => multi(&self.roles),
            Container::X509Certificates => multi(&self.x509_certificates),
            Container::Addresses => self.addresses.iter().map(Elem::Address).collect(),
            Container::Groups => self.groups.iter().map(Elem::GroupRef).collect(),
            Container::Members => Vec::new(),
        }
    }
}

fn enterprise(e: &pb::EnterpriseUser, f: EnterpriseField) -> Vec<Val<'_>> {
    match f {
        EnterpriseField::EmployeeNumber => opt(&e.employee_number),
        EnterpriseField::CostCenter => opt(&e.cost_center),
        EnterpriseField::Organization => opt(&e.organization),
        EnterpriseField::Division => opt(&e.division),
        EnterpriseField::Department => opt(&e.department),
        EnterpriseField::Manager | EnterpriseField::ManagerValue => e
            .manager
            .as_ref()
            .map(|m| Val::Str(m.value.as_str()))
            .into_iter()
            .collect(),
        EnterpriseField::ManagerDisplayName => e
            .manager
            .as_ref()
            .map_or_else(Vec::new, |m| opt(&m.display_name)),
    }
}

impl Target for pb::Group {
    fn values(&self, path: Path) -> Vec<Val<'_>> {
        let meta = self.meta.as_ref();
        let Path::At(stored) = path else {
            return Vec::new();
        };
        match stored {
            Stored::Id => vec![Val::Str(&self.id)],
            Stored::ExternalId => opt(&self.external_id),
            Stored::DisplayName => vec![Val::Str(&self.display_name)],
            Stored::Each(c, f) => each(self.elements(c), f),
            Stored::MetaCreated => time(meta.and_then(|m| m.created.as_ref())),
            Stored::MetaLastModified => time(meta.and_then(|m| m.last_modified.as_ref())),
            Stored::MetaVersion => meta.map(|m| Val::Int(m.version)).into_iter().collect(),
            Stored::MetaResourceType => vec![Val::Str("Group")],
            _ => Vec::new(),
        }
    }

    fn elements(&self, container: Container) -> Vec<Elem<'_>> {
        match container {
            Container::Members => self.members.iter().map(Elem::Member).collect(),
            _ => Vec::new(),
        }
    }
}
