//! Where each SCIM attribute is kept in the stored (`identity.v1`) form of a resource.
//!
//! [`locate`] is the one mapping from a resolved [`AttrPath`] to a typed place in a
//! `pb::User` or `pb::Group`; identity-service's filter compiler and PATCH engine both
//! read it, so neither keeps a table of names of its own. Attributes the directory
//! derives or does not keep (`groups.$ref`, `meta.location`) have no place.

use crate::path::AttrPath;
use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, ResourceKind, USER_SCHEMA};

/// A multi-valued complex attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// `emails`.
    Emails,
    /// `phoneNumbers`.
    PhoneNumbers,
    /// `ims`.
    Ims,
    /// `photos`.
    Photos,
    /// `entitlements`.
    Entitlements,
    /// `roles`.
    Roles,
    /// `x509Certificates`.
    X509Certificates,
    /// `addresses`.
    Addresses,
    /// A user's `groups`.
    Groups,
    /// A group's `members`.
    Members,
}

const CONTAINERS: [Container; 10] = [
    Container::Emails,
    Container::PhoneNumbers,
    Container::Ims,
    Container::Photos,
    Container::Entitlements,
    Container::Roles,
    Container::X509Certificates,
    Container::Addresses,
    Container::Groups,
    Container::Members,
];

impl Container {
    /// The SCIM name.
    pub fn name(self) -> &'static str {
        match self {
            Container::Emails => "emails",
            Container::PhoneNumbers => "phoneNumbers",
            Container::Ims => "ims",
            Container::Photos => "photos",
            Container::Entitlements => "entitlements",
            Container::Roles => "roles",
            Container::X509Certificates => "x509Certificates",
            Container::Addresses => "addresses",
            Container::Groups => "groups",
            Container::Members => "members",
        }
    }

    /// The container of the resource kind called `name` (canonical spelling).
    fn of(kind: ResourceKind, name: &str) -> Option<Container> {
        let c = CONTAINERS.into_iter().find(|c| c.name() == name)?;
        let belongs = match kind {
            ResourceKind::User => c != Container::Members,
            ResourceKind::Group => c == Container::Members,
        };
        belongs.then_some(c)
    }

    /// The resource kind whose attribute this is.
    pub fn kind(self) -> ResourceKind {
        match self {
            Container::Members => ResourceKind::Group,
            _ => ResourceKind::User,
        }
    }

    /// The sub-attribute of one value called `raw` (any case); a name that repeats the
    /// container (`emails.type`) is accepted too, as value filters may write it.
    pub fn relative(self, raw: &str) -> Option<(AttrPath, Field)> {
        let raw = raw.trim();
        let name = match raw.split_once('.') {
            Some((head, rest)) if head.eq_ignore_ascii_case(self.name()) => rest,
            Some(_) => return None,
            None => raw,
        };
        let schema = self.kind().core_schema();
        let attr = schema.attr(self.name())?;
        let sub = attr.sub(name)?;
        let field = Field::of(self, sub.name)?;
        Some((
            AttrPath {
                schema,
                attr,
                sub: Some(sub),
            },
            field,
        ))
    }
}

/// A sub-attribute of one value of a [`Container`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `value`.
    Value,
    /// `display`.
    Display,
    /// `type`.
    Type,
    /// `primary`.
    Primary,
    /// `formatted` (addresses).
    Formatted,
    /// `streetAddress`.
    StreetAddress,
    /// `locality`.
    Locality,
    /// `region`.
    Region,
    /// `postalCode`.
    PostalCode,
    /// `country`.
    Country,
}

impl Field {
    /// The stored field of `c`'s sub-attribute called `name` (canonical spelling).
    fn of(c: Container, name: &str) -> Option<Field> {
        use Field as F;
        let address = c == Container::Addresses;
        let reference = matches!(c, Container::Groups | Container::Members);
        Some(match name {
            "value" if !address => F::Value,
            "display" if !address => F::Display,
            "type" => F::Type,
            "primary" if !reference => F::Primary,
            "formatted" if address => F::Formatted,
            "streetAddress" if address => F::StreetAddress,
            "locality" if address => F::Locality,
            "region" if address => F::Region,
            "postalCode" if address => F::PostalCode,
            "country" if address => F::Country,
            _ => return None,
        })
    }
}

/// A component of `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameField {
    /// `name.formatted`.
    Formatted,
    /// `name.familyName`.
    FamilyName,
    /// `name.givenName`.
    GivenName,
    /// `name.middleName`.
    MiddleName,
    /// `name.honorificPrefix`.
    HonorificPrefix,
    /// `name.honorificSuffix`.
    HonorificSuffix,
}

/// An attribute of the enterprise extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnterpriseField {
    /// `employeeNumber`.
    EmployeeNumber,
    /// `costCenter`.
    CostCenter,
    /// `organization`.
    Organization,
    /// `division`.
    Division,
    /// `department`.
    Department,
    /// `manager` as a whole.
    Manager,
    /// `manager.value`.
    ManagerValue,
    /// `manager.displayName`.
    ManagerDisplayName,
}

/// A place in the stored form of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// `id`.
    Id,
    /// `externalId`.
    ExternalId,
    /// `userName`.
    UserName,
    /// `displayName` (users and groups).
    DisplayName,
    /// `nickName`.
    NickName,
    /// `profileUrl`.
    ProfileUrl,
    /// `title`.
    Title,
    /// `userType`.
    UserType,
    /// `preferredLanguage`.
    PreferredLanguage,
    /// `locale`.
    Locale,
    /// `timezone`.
    Timezone,
    /// `active`.
    Active,
    /// `password` (write-only; kept as a hash).
    Password,
    /// `name` as a whole.
    Name,
    /// One component of `name`.
    NamePart(NameField),
    /// The enterprise extension as a whole.
    Enterprise,
    /// One attribute of the enterprise extension.
    EnterpriseAttr(EnterpriseField),
    /// A multi-valued attribute as a whole.
    Values(Container),
    /// One sub-attribute of every value of a multi-valued attribute.
    Each(Container, Field),
    /// `meta.created`.
    MetaCreated,
    /// `meta.lastModified`.
    MetaLastModified,
    /// `meta.version`.
    MetaVersion,
    /// `meta.resourceType`.
    MetaResourceType,
}

/// Where the attribute at `path` of a `kind` resource is stored.
pub fn locate(kind: ResourceKind, path: &AttrPath) -> Option<Stored> {
    let sub = path.sub.map(|s| s.name);
    match (path.schema.id, kind) {
        (USER_SCHEMA, ResourceKind::User) | (GROUP_SCHEMA, ResourceKind::Group) => {}
        (ENTERPRISE_USER_SCHEMA, ResourceKind::User) => return enterprise(path.attr.name, sub),
        _ => return None,
    }
    if let Some(c) = Container::of(kind, path.attr.name) {
        return match sub {
            None => Some(Stored::Values(c)),
            Some(s) => Field::of(c, s).map(|f| Stored::Each(c, f)),
        };
    }
    let user = kind == ResourceKind::User;
    Some(match (path.attr.name, sub) {
        ("id", None) => Stored::Id,
        ("externalId", None) => Stored::ExternalId,
        ("displayName", None) => Stored::DisplayName,
        ("meta", Some(s)) => meta(s)?,
        ("userName", None) if user => Stored::UserName,
        ("nickName", None) if user => Stored::NickName,
        ("profileUrl", None) if user => Stored::ProfileUrl,
        ("title", None) if user => Stored::Title,
        ("userType", None) if user => Stored::UserType,
        ("preferredLanguage", None) if user => Stored::PreferredLanguage,
        ("locale", None) if user => Stored::Locale,
        ("timezone", None) if user => Stored::Timezone,
        ("active", None) if user => Stored::Active,
        ("password", None) if user => Stored::Password,
        ("name", None) if user => Stored::Name,
        ("name", Some(s)) if user => Stored::NamePart(name_part(s)?),
        _ => return None,
    })
}

fn meta(sub: &str) -> Option<Stored> {
    Some(match sub {
        "created" => Stored::MetaCreated,
        "lastModified" => Stored::MetaLastModified,
        "version" => Stored::MetaVersion,
        "resourceType" => Stored::MetaResourceType,
        _ => return None,
    })
}

fn name_part(sub: &str) -> Option<NameField> {
    Some(match sub {
        "formatted" => NameField::Formatted,
        "familyName" => NameField::FamilyName,
        "givenName" => NameField::GivenName,
        "middleName" => NameField::MiddleName,
        "honorificPrefix" => NameField::HonorificPrefix,
        "honorificSuffix" => NameField::HonorificSuffix,
        _ => return None,
    })
}

fn enterprise(attr: &str, sub: Option<&str>) -> Option<Stored> {
    use EnterpriseField as E;
    let f = match (attr, sub) {
        ("employeeNumber", None) => E::EmployeeNumber,
        ("costCenter", None) => E::CostCenter,
        ("organization", None) => E::Organization,
        ("division", None) => E::Division,
        ("department", None) => E::Department,
        ("manager", None) => E::Manager,
        ("manager", Some("value")) => E::ManagerValue,
        ("manager", Some("displayName")) => E::ManagerDisplayName,
        _ => return None,
    };
    Some(Stored::EnterpriseAttr(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::resolve;

    fn at(kind: ResourceKind, raw: &str) -> Option<Stored> {
        locate(kind, &resolve(kind, raw)?)
    }

    #[test]
    fn every_catalogue_attribute_that_is_kept_has_a_place() {
        use ResourceKind::{Group, User};
        assert_eq!(at(User, "USERNAME"), Some(Stored::UserName));
        assert_eq!(
            at(User, "name.givenName"),
            Some(Stored::NamePart(NameField::GivenName))
        );
        assert_eq!(
            at(User, "emails.value"),
            Some(Stored::Each(Container::Emails, Field::Value))
        );
        assert_eq!(
            at(User, "addresses"),
            Some(Stored::Values(Container::Addresses))
        );
        assert_eq!(
            at(User, "manager"),
            Some(Stored::EnterpriseAttr(EnterpriseField::Manager))
        );
        assert_eq!(
            at(
                User,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
            ),
            Some(Stored::EnterpriseAttr(EnterpriseField::ManagerValue))
        );
        assert_eq!(
            at(Group, "members.value"),
            Some(Stored::Each(Container::Members, Field::Value))
        );
        assert_eq!(at(Group, "displayName"), Some(Stored::DisplayName));
        assert_eq!(at(User, "meta.version"), Some(Stored::MetaVersion));
    }

    #[test]
    fn derived_and_foreign_attributes_have_none() {
        use ResourceKind::{Group, User};
        assert_eq!(at(User, "meta.location"), None);
        assert_eq!(at(User, "groups.$ref"), None);
        assert_eq!(at(Group, "members.$ref"), None);
        assert_eq!(at(User, "addresses.value"), None);
        assert_eq!(at(Group, "userName"), None);
        assert_eq!(at(Group, "emails"), None);
    }

    #[test]
    fn relative_names_follow_the_container() {
        let (p, f) = Container::Emails.relative("Type").unwrap();
        assert_eq!(f, Field::Type);
        assert_eq!(p.to_string(), "emails.type");
        assert!(Container::Emails.relative("emails.value").is_some());
        assert!(Container::Emails.relative("phoneNumbers.value").is_none());
        assert!(Container::Members.relative("primary").is_none());
        assert!(Container::Addresses.relative("locality").is_some());
        assert!(Container::Addresses.relative("value").is_none());
    }
}
