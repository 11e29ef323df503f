//! The multi-valued complex attributes and their sub-attributes, with canonical names.

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

pub(super) fn container(name: &str) -> Option<Container> {
    Some(match name {
        "emails" => Container::Emails,
        "phonenumbers" => Container::PhoneNumbers,
        "ims" => Container::Ims,
        "photos" => Container::Photos,
        "entitlements" => Container::Entitlements,
        "roles" => Container::Roles,
        "x509certificates" => Container::X509Certificates,
        "addresses" => Container::Addresses,
        "groups" => Container::Groups,
        "members" => Container::Members,
        _ => return None,
    })
}

/// The SCIM name of a container.
pub fn container_name(c: Container) -> &'static str {
    match c {
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

/// The sub-attributes each container has, with canonical `container.field` names.
pub(super) fn field_of(c: Container, sub: &str) -> Option<(Field, &'static str)> {
    use Container as C;
    use Field as F;
    let field = match (c, sub) {
        (C::Addresses, "formatted") => F::Formatted,
        (C::Addresses, "streetaddress") => F::StreetAddress,
        (C::Addresses, "locality") => F::Locality,
        (C::Addresses, "region") => F::Region,
        (C::Addresses, "postalcode") => F::PostalCode,
        (C::Addresses, "country") => F::Country,
        (C::Addresses, "type") => F::Type,
        (C::Addresses, "primary") => F::Primary,
        (C::Addresses, _) => return None,
        (C::Groups | C::Members, "value") => F::Value,
        (C::Groups | C::Members, "display") => F::Display,
        (C::Groups | C::Members, "type") => F::Type,
        (C::Groups | C::Members, _) => return None,
        (_, "value") => F::Value,
        (_, "display") => F::Display,
        (_, "type") => F::Type,
        (_, "primary") => F::Primary,
        _ => return None,
    };
    Some((field, canonical_field(c, field)))
}

fn canonical_field(c: Container, f: Field) -> &'static str {
    use Container as C;
    use Field as F;
    match (c, f) {
        (C::Emails, F::Value) => "emails.value",
        (C::Emails, F::Display) => "emails.display",
        (C::Emails, F::Type) => "emails.type",
        (C::Emails, _) => "emails.primary",
        (C::PhoneNumbers, F::Value) => "phoneNumbers.value",
        (C::PhoneNumbers, F::Display) => "phoneNumbers.display",
        (C::PhoneNumbers, F::Type) => "phoneNumbers.type",
        (C::PhoneNumbers, _) => "phoneNumbers.primary",
        (C::Ims, F::Value) => "ims.value",
        (C::Ims, F::Display) => "ims.display",
        (C::Ims, F::Type) => "ims.type",
        (C::Ims, _) => "ims.primary",
        (C::Photos, F::Value) => "photos.value",
        (C::Photos, F::Display) => "photos.display",
        (C::Photos, F::Type) => "photos.type",
        (C::Photos, _) => "photos.primary",
        (C::Entitlements, F::Value) => "entitlements.value",
        (C::Entitlements, F::Display) => "entitlements.display",
        (C::Entitlements, F::Type) => "entitlements.type",
        (C::Entitlements, _) => "entitlements.primary",
        (C::Roles, F::Value) => "roles.value",
        (C::Roles, F::Display) => "roles.display",
        (C::Roles, F::Type) => "roles.type",
        (C::Roles, _) => "roles.primary",
        (C::X509Certificates, F::Value) => "x509Certificates.value",
        (C::X509Certificates, F::Display) => "x509Certificates.display",
        (C::X509Certificates, F::Type) => "x509Certificates.type",
        (C::X509Certificates, _) => "x509Certificates.primary",
        (C::Addresses, F::Formatted) => "addresses.formatted",
        (C::Addresses, F::StreetAddress) => "addresses.streetAddress",
        (C::Addresses, F::Locality) => "addresses.locality",
        (C::Addresses, F::Region) => "addresses.region",
        (C::Addresses, F::PostalCode) => "addresses.postalCode",
        (C::Addresses, F::Country) => "addresses.country",
        (C::Addresses, F::Type) => "addresses.type",
        (C::Addresses, _) => "addresses.primary",
        (C::Groups, F::Value) => "groups.value",
        (C::Groups, F::Display) => "groups.display",
        (C::Groups, _) => "groups.type",
        (C::Members, F::Value) => "members.value",
        (C::Members, F::Display) => "members.display",
        (C::Members, _) => "members.type",
    }
}
