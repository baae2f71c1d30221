//! Distinct id types for the places where ids of different kinds travel together (a team and a
//! user, an organisation and a role): swapping two of them is a type error, not a silent bug.
//! Each is a UUID on the wire (`#[serde(transparent)]`), so path parameters parse into them.
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// An account.
    UserId,
    /// An organisation (tenant).
    OrgId,
    /// A team of an organisation.
    TeamId,
    /// A node of an organisation's domain tree.
    DomainId,
    /// A role of an organisation.
    RoleId,
    /// A login session.
    SessionId,
    /// A service account of an organisation.
    ServiceAccountId,
    /// An identity provider of an organisation.
    ProviderId,
    /// An invitation to an organisation.
    InvitationId,
    /// An application (OAuth client) of an organisation.
    AppId,
    /// A webhook of an organisation.
    WebhookId,
    /// A passkey of a user.
    PasskeyId,
    /// A user's link to an external identity provider.
    IdentityId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_on_the_wire() {
        let id = Uuid::now_v7();
        let json = serde_json::to_string(&TeamId(id)).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: (OrgId, UserId) = serde_json::from_str(&format!("[\"{id}\", \"{id}\"]")).unwrap();
        assert_eq!(back.0.uuid(), back.1.uuid());
    }
}
