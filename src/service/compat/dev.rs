//! Seed 003's development mode: `X-User-Email` (and `X-User-Name`) instead of a token, only when
//! `AUTH_ALLOW_DEV_HEADERS=true` and `AUTH_ENV=development` (start-up refuses the first without
//! the second, and the `Authenticator` holds a `DevHeaders` only when both are set). An unknown
//! email becomes a member of the default organisation without a password, as the seed service
//! did.
use crate::model::User;
use crate::model::input::{DisplayName, Email, Parse, Problems};
use crate::service::authn::home::org_for_login;
use crate::service::change::{Actor, Audit, Changes, Event, MembershipAction};
use crate::service::{Result, ServiceError};
use crate::store::{self, Db, StoreError};
use crate::token::VerifyError;
use uuid::Uuid;

pub struct DevHeaders {
    db: Db,
    changes: Changes,
    default_org: String,
}

impl DevHeaders {
    pub fn new(db: Db, changes: Changes, default_org: &str) -> Self {
        Self {
            db,
            changes,
            default_org: default_org.to_owned(),
        }
    }

    /// The user (and the organisation they act in) the development headers name.
    pub async fn identify(&self, email: &str, name: Option<&str>) -> Result<(Uuid, Uuid)> {
        let mut problems = Problems::default();
        let email = problems.parse::<Email>("X-User-Email", email);
        let (email,) = problems.done((email,))?;
        let user = match store::users::find_by_email(&self.db, email.as_str()).await? {
            Some(user) => user,
            None => self.create(&email, name).await?,
        };
        if !user.active {
            return Err(ServiceError::InvalidToken(VerifyError::SessionRevoked));
        }
        let org = org_for_login(&self.db, &user, None).await?;
        Ok((user.id, org.id))
    }

    /// Creates the account a development header names, in the default organisation.
    async fn create(&self, email: &Email, name: Option<&str>) -> Result<User> {
        let name = name
            .and_then(|n| DisplayName::parse(n).ok())
            .unwrap_or_else(|| email.default_name());
        let org = store::orgs::find_by_slug(&self.db, &self.default_org)
            .await?
            .filter(|o| o.active)
            .ok_or(ServiceError::Forbidden(
                "no_organisation",
                "the default organisation is not active",
            ))?;
        let mut change = self.changes.begin().await?;
        let now = change.now();
        let new = store::users::NewUser {
            id: None,
            email: email.to_string(),
            username: None,
            display_name: name.into_inner(),
            password_hash: None,
            superuser: false,
            email_verified: false,
            default_org_id: Some(org.id),
        };
        let user = match store::users::insert(change.tx(), new, now).await {
            Ok(user) => user,
            // Another request with the same header created it first.
            Err(StoreError::Conflict(_)) => {
                drop(change);
                return store::users::find_by_email(&self.db, email.as_str())
                    .await?
                    .ok_or(ServiceError::Conflict("user_exists", "the account is being created"));
            }
            Err(e) => return Err(e.into()),
        };
        store::members::add(change.tx(), org.id, user.id, &["member"], now).await?;
        change.event(org.id, Event::UserCreated { user: user.clone() });
        change.event(
            org.id,
            Event::membership(org.id, user.id, MembershipAction::Added, &[], &["member".into()]),
        );
        let actor = Actor {
            id: Some(user.id),
            name: Some("development headers".into()),
            ip: None,
        };
        change.audit(Audit::new(&actor, "user.create").org(org.id).target("user", user.id));
        change.commit().await?;
        Ok(user)
    }
}
