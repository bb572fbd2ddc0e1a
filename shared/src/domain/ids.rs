//! Identifiers parsed at the edge: a handler never sees an unvalidated id string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            pub const fn from_u128(v: u128) -> Self {
                Self(Uuid::from_u128(v))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = String;

            /// Accepts the canonical hyphenated form only (any case), so the same id always
            /// maps to the same storage key.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != 36 {
                    return Err(format!("must be a UUID like 3f2b8c1e-5d6a-4f7b-9c0d-1e2f3a4b5c6d ({})", $what));
                }
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| format!("must be a UUID like 3f2b8c1e-5d6a-4f7b-9c0d-1e2f3a4b5c6d ({})", $what))
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// The tenant: every company-scoped request names it in `Lightyear-Company-ID`.
    CompanyId,
    "company id"
);
uuid_id!(
    /// An invoice, unique within the platform.
    InvoiceId,
    "invoice id"
);
uuid_id!(
    /// An import job, unique within the platform.
    JobId,
    "import job id"
);
uuid_id!(
    /// A webhook subscription, unique within the platform.
    SubscriptionId,
    "webhook subscription id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_canonical_uuid_and_normalises_case() {
        let id: CompanyId = "3F2B8C1E-5D6A-4F7B-9C0D-1E2F3A4B5C6D".parse().unwrap();
        assert_eq!(id.to_string(), "3f2b8c1e-5d6a-4f7b-9c0d-1e2f3a4b5c6d");
    }

    #[test]
    fn rejects_non_uuid_and_non_canonical_forms() {
        for bad in [
            "",
            "abc",
            "3f2b8c1e5d6a4f7b9c0d1e2f3a4b5c6d",
            "{3f2b8c1e-5d6a-4f7b-9c0d-1e2f3a4b5c6d}",
            "../../etc",
        ] {
            assert!(bad.parse::<InvoiceId>().is_err(), "{bad}");
        }
    }
}
