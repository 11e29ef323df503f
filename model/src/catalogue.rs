//! The attribute catalogue: core User, enterprise User and Group (RFC 7643 §4, §8.7).
//!
//! Written as `const` data so lookups never allocate. Where we deviate from the RFC's
//! own schema documents it is deliberate: `id`, `externalId` and `meta` are listed
//! because IdP schema discovery expects them, Group `displayName` is server-unique
//! because the directory enforces it, and `members.display` exists because Okta sends
//! it and expects it echoed.

use crate::schema::{
    AttrDef, AttrType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, Returned, SchemaDef,
    USER_SCHEMA, Uniqueness,
};

impl AttrDef {
    const fn new(name: &'static str, kind: AttrType, description: &'static str) -> Self {
        AttrDef {
            name,
            kind,
            multi_valued: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            required: false,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            description,
        }
    }

    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }

    const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }

    const fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        // A reference is case exact (RFC 7643 §2.3.7).
        let mut a = Self::new(name, AttrType::Reference, description).exact();
        a.reference_types = types;
        a
    }

    const fn complex(
        name: &'static str,
        subs: &'static [AttrDef],
        description: &'static str,
    ) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = subs;
        a
    }

    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    const fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    const fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }

    const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
}

use Mutability::{Immutable, ReadOnly, WriteOnly};

const ID: AttrDef = AttrDef::string("id", "Server-assigned, stable identifier of the resource.")
    .exact()
    .mutability(ReadOnly)
    .returned(Returned::Always)
    .unique();

const EXTERNAL_ID: AttrDef = AttrDef::string(
    "externalId",
    "Identifier of the resource in the provisioning client.",
)
.exact();

const META_SUBS: &[AttrDef] = &[
    AttrDef::string("resourceType", "Name of the resource type.")
        .exact()
        .mutability(ReadOnly),
    AttrDef::new(
        "created",
        AttrType::DateTime,
        "When the resource was created.",
    )
    .mutability(ReadOnly),
    AttrDef::new(
        "lastModified",
        AttrType::DateTime,
        "When the resource last changed.",
    )
    .mutability(ReadOnly),
    AttrDef::reference("location", &["uri"], "URI of the resource.")
        .exact()
        .mutability(ReadOnly),
    AttrDef::string("version", "Entity tag of the current version.")
        .exact()
        .mutability(ReadOnly),
];

const META: AttrDef =
    AttrDef::complex("meta", META_SUBS, "Server-maintained metadata.").mutability(ReadOnly);

const NAME_SUBS: &[AttrDef] = &[
    AttrDef::string("formatted", "The full name for display."),
    AttrDef::string(
        "familyName",
        "Family name (last name in most Western languages).",
    ),
    AttrDef::string(
        "givenName",
        "Given name (first name in most Western languages).",
    ),
    AttrDef::string("middleName", "Middle name(s)."),
    AttrDef::string("honorificPrefix", "Honorific prefix, e.g. 'Ms.'."),
    AttrDef::string("honorificSuffix", "Honorific suffix, e.g. 'III'."),
];

/// Sub-attributes shared by the plain multi-valued attributes; only `type`'s canonical
/// values differ, hence the macro.
macro_rules! multi_subs {
    ($value:expr, [$($canon:literal),*]) => {
        &[
            $value,
            AttrDef::string("display", "Human-readable label of the value."),
            AttrDef::string("type", "Label of the value's function.").canonical(&[$($canon),*]),
            AttrDef::boolean("primary", "Whether this is the preferred value; at most one is."),
        ]
    };
}

const EMAIL_SUBS: &[AttrDef] = multi_subs!(
    AttrDef::string("value", "The email address."),
    ["work", "home", "other"]
);
const PHONE_SUBS: &[AttrDef] = multi_subs!(
    AttrDef::string("value", "The phone number."),
    ["work", "home", "mobile", "fax", "pager", "other"]
);
const IMS_SUBS: &[AttrDef] = multi_subs!(
    AttrDef::string("value", "The instant messaging address."),
    ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
);
const PHOTO_SUBS: &[AttrDef] = multi_subs!(
    AttrDef::reference("value", &["external"], "URL of the image."),
    ["photo", "thumbnail"]
);
const PLAIN_SUBS: &[AttrDef] = multi_subs!(AttrDef::string("value", "The value."), []);
const CERT_SUBS: &[AttrDef] = multi_subs!(
    // Binary values are case exact (RFC 7643 §2.3.6).
    AttrDef::new(
        "value",
        AttrType::Binary,
        "DER certificate, base64-encoded."
    )
    .exact(),
    []
);

const ADDRESS_SUBS: &[AttrDef] = &[
    AttrDef::string("formatted", "The full address for display."),
    AttrDef::string("streetAddress", "Street, house number, and so on."),
    AttrDef::string("locality", "City or locality."),
    AttrDef::string("region", "State or region."),
    AttrDef::string("postalCode", "Postal code."),
    AttrDef::string("country", "Country, ISO 3166-1 alpha-2."),
    AttrDef::string("type", "Label of the address.").canonical(&["work", "home", "other"]),
    AttrDef::boolean("primary", "Whether this is the preferred address."),
];

const USER_GROUP_SUBS: &[AttrDef] = &[
    AttrDef::string("value", "The group's id.")
        .exact()
        .mutability(ReadOnly),
    AttrDef::reference("$ref", &["User", "Group"], "URI of the group.").mutability(ReadOnly),
    AttrDef::string("display", "The group's display name.").mutability(ReadOnly),
    AttrDef::string("type", "Direct or indirect membership.")
        .canonical(&["direct", "indirect"])
        .mutability(ReadOnly),
];

const USER_ATTRS: &[AttrDef] = &[
    ID,
    EXTERNAL_ID,
    AttrDef::string("userName", "Unique identifier the user signs in with.")
        .required()
        .unique(),
    AttrDef::complex("name", NAME_SUBS, "The components of the user's name."),
    AttrDef::string("displayName", "Name shown to end users."),
    AttrDef::string("nickName", "Casual name."),
    AttrDef::reference(
        "profileUrl",
        &["external"],
        "URL of the user's online profile.",
    ),
    AttrDef::string("title", "Job title."),
    AttrDef::string(
        "userType",
        "Relationship to the organisation, e.g. 'Employee'.",
    ),
    AttrDef::string("preferredLanguage", "Preferred written or spoken language."),
    AttrDef::string("locale", "Default location for localisation."),
    AttrDef::string("timezone", "Time zone in IANA format."),
    AttrDef::boolean("active", "Whether the user is active."),
    AttrDef::string("password", "Clear-text password; write-only.")
        .mutability(WriteOnly)
        .returned(Returned::Never),
    AttrDef::complex("emails", EMAIL_SUBS, "Email addresses.").multi(),
    AttrDef::complex("phoneNumbers", PHONE_SUBS, "Phone numbers.").multi(),
    AttrDef::complex("ims", IMS_SUBS, "Instant messaging addresses.").multi(),
    AttrDef::complex("photos", PHOTO_SUBS, "URLs of photos of the user.").multi(),
    AttrDef::complex("addresses", ADDRESS_SUBS, "Physical mailing addresses.").multi(),
    AttrDef::complex("groups", USER_GROUP_SUBS, "Groups the user belongs to.")
        .multi()
        .mutability(ReadOnly),
    AttrDef::complex("entitlements", PLAIN_SUBS, "Entitlements of the user.").multi(),
    AttrDef::complex("roles", PLAIN_SUBS, "Roles of the user.").multi(),
    AttrDef::complex("x509Certificates", CERT_SUBS, "X.509 certificates.").multi(),
    META,
];

const MANAGER_SUBS: &[AttrDef] = &[
    AttrDef::string("value", "The manager's user id.").exact(),
    AttrDef::reference("$ref", &["User"], "URI of the manager's user resource."),
    AttrDef::string("displayName", "The manager's display name.").mutability(ReadOnly),
];

const ENTERPRISE_ATTRS: &[AttrDef] = &[
    AttrDef::string("employeeNumber", "Identifier assigned by the organisation."),
    AttrDef::string("costCenter", "Name of a cost center."),
    AttrDef::string("organization", "Name of an organisation."),
    AttrDef::string("division", "Name of a division."),
    AttrDef::string("department", "Name of a department."),
    AttrDef::complex("manager", MANAGER_SUBS, "The user's manager."),
];

const MEMBER_SUBS: &[AttrDef] = &[
    AttrDef::string("value", "The member's id.")
        .exact()
        .mutability(Immutable),
    AttrDef::reference("$ref", &["User", "Group"], "URI of the member.").mutability(Immutable),
    AttrDef::string("display", "Label of the member, stored as sent."),
    AttrDef::string("type", "Kind of member.")
        .canonical(&["User", "Group"])
        .mutability(Immutable),
];

const GROUP_ATTRS: &[AttrDef] = &[
    ID,
    EXTERNAL_ID,
    AttrDef::string("displayName", "Human-readable name of the group.")
        .required()
        .unique(),
    AttrDef::complex("members", MEMBER_SUBS, "Members of the group.").multi(),
    META,
];

/// The core User schema.
pub static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRS,
};

/// The enterprise User extension.
pub static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRS,
};

/// The core Group schema.
pub static GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRS,
};
