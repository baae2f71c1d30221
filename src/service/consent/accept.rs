//! Accepting an invitation (`POST /invitations/{token}/accept`). The token was mailed to the
//! address, so presenting it proves control of the mailbox. Four cases:
//!
//! 1. A bearer of an account whose email is the invitation's: it joins (an unverified address
//!    becomes verified). A bearer of another account: 403 `invitation_email_mismatch`.
//! 2. No bearer, no account for the address: `{name?, password}` creates a verified account,
//!    which joins and gets the usual token response (201).
//! 3. No bearer, an unverified account for the address (perhaps made by someone else): the
//!    mailbox owner takes it over. It becomes verified, must get a new password in the same
//!    request, every earlier session of it ends, its reset and verification tokens are spent and
//!    its external identities unlinked; then it joins and gets a token response (200).
//! 4. No bearer, a verified account for the address: 401 `login_required` (log in, then accept
//!    with the bearer). Nothing is spent.
//!
//! The invitation is spent first in the change with a conditional update (`accepted_at IS NULL`,
//! checked by rows affected), so of two concurrent accepts exactly one goes on; the other finds
//! the token gone (404), also when it saw the account the winner had just made (it checks the
//! invitation again before answering `login_required`). Roles, teams and domains are applied in the same transaction, `mv`
//! moves, and a removal an admin made earlier is forgotten (the invitation brings them back).
use super::TOKEN_NOT_FOUND;
use super::invitations::InvitationService;
use super::verification::mark_verified;
use crate::model::input::{DisplayName, Invalid, Password};
use crate::model::{ClientInfo, Invitation, InvitationStatus, Organisation, User};
use crate::service::auth::{Grant, SessionStart};
use crate::service::authn::{Credential, context};
use crate::service::change::{Actor, Audit, Change, Event, SessionsOf};
use crate::service::orgs::joining::{self, Grants};
use crate::service::{Result, ServiceError, conflict};
use crate::store;
use serde_json::json;

/// What the person sends with an acceptance without a bearer.
#[derive(Default)]
pub struct Acceptance {
    /// A new account's (or a taken-over account's) display name; default: the address's local part.
    pub name: Option<DisplayName>,
    pub password: Option<Password>,
}

/// How an acceptance ended.
pub enum Accepted {
    /// The bearer's account joined.
    Joined {
        organization: Organisation,
        roles: Vec<String>,
    },
    /// An account was created (`created`) or taken over, joined, and logged in.
    Session { grant: Box<Grant>, created: bool },
}

const MISMATCH: ServiceError = ServiceError::Forbidden(
    "invitation_email_mismatch",
    "the invitation is for another email address than this account's",
);
const LOGIN_REQUIRED: ServiceError = ServiceError::Unauthorized(
    "login_required",
    "an account with this address exists: log in, then accept the invitation with its bearer token",
);
const DISABLED: ServiceError = ServiceError::Forbidden("account_disabled", "the account is disabled");

impl InvitationService {
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn accept(
        &self,
        token: &str,
        bearer: Option<&str>,
        input: Acceptance,
        client: ClientInfo,
    ) -> Result<Accepted> {
        let (invitation, organization) = self.pending(token).await?;
        match bearer {
            Some(bearer) => self.accept_as(bearer, invitation, organization, client).await,
            None => self.accept_anonymously(invitation, organization, input, client).await,
        }
    }

    async fn accept_as(
        &self,
        bearer: &str,
        invitation: Invitation,
        organization: Organisation,
        client: ClientInfo,
    ) -> Result<Accepted> {
        let caller = self.authn.caller(Credential::Bearer(bearer)).await?;
        let user = store::users::find(&self.db, caller.user_id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if user.email != invitation.email {
            return Err(MISMATCH);
        }
        let mut change = self.changes.begin().await?;
        spend(&change, &invitation).await?;
        let actor = Actor::user(user.id, &user.email, client.ip);
        let roles = apply(&mut change, &invitation, &user, &actor).await?;
        if !user.email_verified {
            mark_verified(&mut change, &user).await?;
        }
        change.commit().await?;
        Ok(Accepted::Joined { organization, roles })
    }

    async fn accept_anonymously(
        &self,
        invitation: Invitation,
        organization: Organisation,
        input: Acceptance,
        client: ClientInfo,
    ) -> Result<Accepted> {
        match store::users::find_by_email(&self.db, &invitation.email).await? {
            Some(user) if !user.active => return Err(self.refuse(&invitation, DISABLED).await),
            Some(user) if user.email_verified => return Err(self.refuse(&invitation, LOGIN_REQUIRED).await),
            _ => {}
        }
        let password = input.password.ok_or_else(|| {
            Invalid::field(
                "password",
                "is required: the account for this address gets this password",
            )
        })?;
        let hash = self.hasher.hash(password.secret()).await?;
        let mut change = self.changes.begin().await?;
        let now = change.now();
        spend(&change, &invitation).await?;
        // Read again inside the change: it may have moved since.
        let found = store::users::find_by_email(change.tx(), &invitation.email).await?;
        let created = found.is_none();
        let user = match found {
            None => {
                let name = match input.name {
                    Some(name) => name,
                    None => default_name(&invitation.email)?,
                };
                let new = store::users::NewUser {
                    id: None,
                    email: invitation.email.clone(),
                    username: None,
                    display_name: name.into_inner(),
                    password_hash: Some(hash),
                    superuser: false,
                    email_verified: true,
                    default_org_id: Some(organization.id),
                };
                let user = store::users::insert(change.tx(), new, now)
                    .await
                    .map_err(conflict("user_exists", "an account with this address exists"))?;
                change.event(organization.id, Event::UserCreated { user: user.clone() });
                user
            }
            Some(user) if user.active && !user.email_verified => take_over(&mut change, user, hash, input.name).await?,
            Some(user) if !user.active => return Err(DISABLED),
            Some(_) => return Err(LOGIN_REQUIRED),
        };
        let actor = Actor::user(user.id, &user.email, client.ip.clone());
        apply(&mut change, &invitation, &user, &actor).await?;
        let context = context::load(change.tx(), user.id, organization.id)
            .await?
            .map_err(context::denied)?;
        let grant = self
            .auth
            .start_session(&mut change, context, SessionStart::api(client, &["pwd"]))
            .await?;
        change.commit().await?;
        Ok(Accepted::Session {
            grant: Box::new(grant),
            created,
        })
    }
}

impl InvitationService {
    /// `error`, unless a concurrent accept spent the invitation meanwhile (and made the account
    /// this one found): then the one 404, as the loser of a race always gets.
    async fn refuse(&self, invitation: &Invitation, error: ServiceError) -> ServiceError {
        match store::invitations::find(&self.db, invitation.org_id, invitation.id).await {
            Ok(Some(current)) if current.status(self.changes.now()) == InvitationStatus::Pending => error,
            Ok(_) => TOKEN_NOT_FOUND,
            Err(e) => e.into(),
        }
    }
}

/// The address's local part, as registration names an account without a name.
fn default_name(email: &str) -> Result<DisplayName> {
    let local = email.split('@').next().unwrap_or_default();
    Ok(DisplayName::parse_field("name", local).or_else(|_| DisplayName::parse_field("name", "user"))?)
}

/// The mailbox's owner takes over an unverified account that claimed the address: a new password,
/// the address verified, and nothing of whoever made it left working (sessions, reset and
/// verification tokens, linked external identities).
async fn take_over(change: &mut Change, user: User, hash: String, name: Option<DisplayName>) -> Result<User> {
    let now = change.now();
    let changes = store::users::UserChanges {
        password_hash: Some(hash),
        display_name: name.map(DisplayName::into_inner),
        email_verified: Some(true),
        ..store::users::UserChanges::default()
    };
    let after = store::users::update(change.tx(), user.id, changes, now).await?;
    change
        .end_sessions(SessionsOf::User(user.id), "invitation_accepted")
        .await?;
    store::resets::spend_all_of(change.tx(), user.id, now).await?;
    store::verifications::spend_all_of(change.tx(), user.id, now).await?;
    let unlinked = store::oidc::unlink_all(change.tx(), user.id).await?;
    change.user_changed(user.id);
    change.audit(
        Audit::new(&Actor::user(user.id, &user.email, None), "user.take_over")
            .target("user", user.id)
            .detail(json!({"by": "invitation", "identities_unlinked": unlinked})),
    );
    change.event(
        user.default_org_id,
        Event::UserUpdated {
            before: user,
            after: after.clone(),
            password_changed: true,
        },
    );
    Ok(after)
}

/// Spends the invitation: of several racing accepts, exactly one gets past this (the others wait
/// for its row lock and then find it accepted: the one 404).
async fn spend(change: &Change, invitation: &Invitation) -> Result<()> {
    if store::invitations::accept(change.tx(), invitation.id, change.now()).await? {
        Ok(())
    } else {
        Err(TOKEN_NOT_FOUND)
    }
}

/// Joins the organisation with what the (spent) invitation grants, in `change`.
async fn apply(change: &mut Change, invitation: &Invitation, user: &User, actor: &Actor) -> Result<Vec<String>> {
    let now = change.now();
    let org = invitation.org_id;
    store::invitations::accepted_by(change.tx(), invitation.id, user.id).await?;
    let grants = Grants {
        roles: invitation.roles.iter().cloned().collect(),
        teams: invitation.teams.clone(),
        domains: invitation.domains.iter().cloned().collect(),
    };
    let source = json!({"source": "invitation", "invitation_id": invitation.id});
    let roles = joining::join(change, org, user.id, &grants, source).await?;
    let accepted = Invitation {
        accepted_at: Some(now),
        accepted_by: Some(user.id),
        ..invitation.clone()
    };
    change.audit(
        Audit::new(actor, "invitation.accept")
            .org(org)
            .target("invitation", invitation.id)
            .detail(json!({"roles": roles})),
    );
    change.event(
        org,
        Event::InvitationAccepted {
            invitation: accepted,
            user: user.id,
        },
    );
    Ok(roles)
}
