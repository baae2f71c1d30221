//! Self-registration into the default organisation (`AUTH_ALLOW_REGISTRATION`); the address is
//! mailed a verification token (`service::consent::verification`).
use super::{AuthService, Grant, SessionStart};
use crate::model::ClientInfo;
use crate::model::input::{DisplayName, Email, Password, Username};
use crate::service::authn::context;
use crate::service::change::{Actor, Audit, Event, MembershipAction};
use crate::service::{Result, ServiceError, conflict};
use crate::store;

pub struct Registration {
    pub email: Email,
    pub password: Password,
    /// Defaults to the email's local part.
    pub name: Option<DisplayName>,
    pub username: Option<Username>,
    pub organization: Option<String>,
}

impl AuthService {
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn register(&self, input: Registration, client: ClientInfo) -> Result<Grant> {
        let config = &self.config;
        if !config.allow_registration {
            return Err(ServiceError::Forbidden(
                "registration_disabled",
                "self-registration is disabled",
            ));
        }
        let closed = ServiceError::Forbidden(
            "registration_closed",
            "self-registration is open only for the default organisation",
        );
        let slug = input.organization.unwrap_or_else(|| config.default_org.clone());
        if slug != config.default_org {
            return Err(closed);
        }
        let org = store::orgs::find_by_slug(&self.db, &slug)
            .await?
            .filter(|o| o.active)
            .ok_or(closed)?;
        let hash = self.hasher.hash(input.password.secret()).await?;
        let name = input.name.unwrap_or_else(|| input.email.default_name());
        let mut change = self.changes.begin().await?;
        let new = store::users::NewUser {
            id: None,
            email: input.email.into_inner(),
            username: input.username.map(Username::into_inner),
            display_name: name.into_inner(),
            password_hash: Some(hash),
            superuser: false,
            email_verified: false,
            default_org_id: Some(org.id),
        };
        let user = store::users::insert(change.tx(), new, change.now())
            .await
            .map_err(conflict(
                "user_exists",
                "a user with this email or username already exists",
            ))?;
        store::members::add(change.tx(), org.id, user.id, &["member"], change.now()).await?;
        let context = context::load(change.tx(), user.id, org.id)
            .await?
            .map_err(context::denied)?;
        let actor = Actor::user(user.id, &user.email, client.ip.clone());
        change.event(org.id, Event::UserCreated { user: user.clone() });
        change.event(
            org.id,
            Event::membership(org.id, user.id, MembershipAction::Added, &[], &["member".into()]),
        );
        change.audit(Audit::new(&actor, "user.register").org(org.id).target("user", user.id));
        let verification = self.verification.start(&change, &user).await?;
        let grant = self
            .start_session(&mut change, context, SessionStart::api(client, &["pwd"]))
            .await?;
        change.commit().await?;
        self.verification.send(verification);
        Ok(grant)
    }
}
