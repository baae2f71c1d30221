//! Invitations to an organisation (`/orgs/{id}/invitations`, `/invitations/{token}`): an
//! organisation's admin invites an address with roles (`owner` only by owners), teams and
//! domains; the address is mailed a single-use token (`AUTH_INVITATION_URL` for the link);
//! a resend replaces the token and restarts the expiry. One pending invitation per address and
//! organisation; inviting a current member is a 409; invitation mail to one address goes at most
//! once a minute (429 `mail_paced` in between, nothing written). Accepting is in `accept`.
use super::{TOKEN_NOT_FOUND, link, send};
use crate::config::Config;
use crate::crypto::{self, password::Hasher};
use crate::mail::{Mail, SharedMailer};
use crate::model::input::{Email, Problems};
use crate::model::{Invitation, InvitationId, InvitationStatus, OrgId, Organisation, Page, PageRequest};
use crate::service::auth::AuthService;
use crate::service::auth::throttle::MailPacer;
use crate::service::authn::Authenticator;
use crate::service::authz::Caller;
use crate::service::change::{Audit, Changes, Event};
use crate::service::orgs::{OrgService, owners, resolve_roles};
use crate::service::{Result, ServiceError, no_randomness};
use crate::store::{self, Db};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// What an admin invites.
pub struct NewInvitation {
    pub email: Email,
    /// Role keys; default `member`.
    pub roles: Option<Vec<String>>,
    /// Team slug → team role.
    pub teams: BTreeMap<String, String>,
    /// Domain keys.
    pub domains: Vec<String>,
    /// Default `AUTH_INVITATION_TTL`.
    pub expires_in: Option<Duration>,
}

/// What anyone holding the token may see before accepting: nothing about accounts.
pub struct Preview {
    pub organization: Organisation,
    pub inviter_name: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

/// The shortest and longest an invitation may be valid.
pub const MIN_EXPIRY: Duration = Duration::hours(1);
pub const MAX_EXPIRY: Duration = Duration::days(30);

pub(super) const INVITATION_NOT_FOUND: ServiceError = ServiceError::NotFound("invitation not found");
const NOT_PENDING: ServiceError = ServiceError::Conflict(
    "invitation_not_pending",
    "the invitation was accepted or revoked already",
);

pub struct InvitationService {
    pub(super) db: Db,
    pub(super) changes: Changes,
    pub(super) orgs: Arc<OrgService>,
    pub(super) authn: Arc<Authenticator>,
    pub(super) auth: Arc<AuthService>,
    pub(super) hasher: Arc<Hasher>,
    config: Arc<Config>,
    mailer: SharedMailer,
    pacer: MailPacer,
}

/// What an invitation service is built from.
pub struct Parts {
    pub db: Db,
    pub changes: Changes,
    pub orgs: Arc<OrgService>,
    pub authn: Arc<Authenticator>,
    pub auth: Arc<AuthService>,
    pub hasher: Arc<Hasher>,
    pub config: Arc<Config>,
    pub mailer: SharedMailer,
}

impl InvitationService {
    pub fn new(p: Parts) -> Self {
        Self {
            db: p.db,
            changes: p.changes,
            orgs: p.orgs,
            authn: p.authn,
            auth: p.auth,
            hasher: p.hasher,
            config: p.config,
            mailer: p.mailer,
            pacer: MailPacer::default(),
        }
    }

    #[tracing::instrument(skip_all, fields(org = %id), err(level = "info"))]
    pub async fn create(&self, caller: &Caller, id: OrgId, input: NewInvitation) -> Result<Invitation> {
        let admin = self.orgs.admin_of_existing(caller, id).await?;
        let org = admin.org_id();
        let wanted = input.roles.unwrap_or_else(|| vec!["member".into()]);
        let (_, roles) = resolve_roles(&self.db, org, &wanted).await?;
        owners::check_owner_grant(caller, admin, &roles)?;
        self.check_grants(org, &input.teams, &input.domains).await?;
        let lifetime = input.expires_in.unwrap_or(self.config.consent.invitation_ttl);
        let email = input.email.into_inner();
        let now = self.changes.now();
        if let Some(user) = store::users::find_by_email(&self.db, &email).await?
            && store::members::is_member(&self.db, org, user.id).await?
        {
            return Err(ServiceError::Conflict(
                "already_a_member",
                "the address belongs to a member of the organisation",
            ));
        }
        let inviter = store::users::find(&self.db, caller.user_id)
            .await?
            .map_or_else(|| caller.email.clone(), |u| u.display_name);
        let mut change = self.changes.begin().await?;
        if store::invitations::pending_for(change.tx(), org, &email, now)
            .await?
            .is_some()
        {
            return Err(ServiceError::Conflict(
                "invitation_pending",
                "the address has a pending invitation; resend it or revoke it first",
            ));
        }
        self.pacer.check(&email, now).map_err(ServiceError::Paced)?;
        let token = crypto::random_token().map_err(no_randomness)?;
        let mut domains = input.domains;
        domains.sort();
        domains.dedup();
        let new = Invitation {
            id: Uuid::now_v7(),
            org_id: org,
            email,
            roles,
            teams: input.teams,
            domains,
            invited_by: Some(caller.user_id),
            inviter_name: inviter,
            created_at: now,
            expires_at: now + lifetime,
            sent_at: now,
            accepted_at: None,
            accepted_by: None,
            revoked_at: None,
        };
        let invitation = store::invitations::insert(change.tx(), &new, crypto::token_digest(&token)).await?;
        change.event(
            org,
            Event::InvitationCreated {
                invitation: invitation.clone(),
            },
        );
        change.audit(
            Audit::new(&caller.actor(), "invitation.create")
                .org(org)
                .target("invitation", invitation.id)
                .detail(json!({"email": invitation.email, "roles": invitation.roles})),
        );
        change.commit().await?;
        let mail = self.mail(&invitation, &token).await?;
        send(&self.mailer, mail, "invitation");
        Ok(invitation)
    }

    /// Teams must exist with a known team role, domains must exist: a 422 naming each problem.
    async fn check_grants(&self, org: Uuid, teams: &BTreeMap<String, String>, domains: &[String]) -> Result<()> {
        let mut problems = Problems::default();
        for (slug, role) in teams {
            if store::teams::find_by_slug(&self.db, org, slug).await?.is_none() {
                problems.add(format!("teams.{slug}"), format!("unknown team \"{slug}\""));
            }
            if !seed::TEAM_ROLES.contains(&role.as_str()) {
                problems.add(format!("teams.{slug}"), format!("unknown team role \"{role}\""));
            }
        }
        let tree = store::domains::list(&self.db, org).await?;
        for key in domains.iter().filter(|k| !tree.iter().any(|d| &d.key == *k)) {
            problems.add("domains", format!("unknown domain \"{key}\""));
        }
        Ok(problems.finish()?)
    }

    pub async fn list(
        &self,
        caller: &Caller,
        id: OrgId,
        status: Option<InvitationStatus>,
        page: PageRequest,
    ) -> Result<Page<Invitation>> {
        let admin = self.orgs.admin_of_existing(caller, id).await?;
        let now = self.changes.now();
        Ok(store::invitations::list(&self.db, admin.org_id(), status, now, page).await?)
    }

    pub async fn get(&self, caller: &Caller, id: OrgId, invitation: InvitationId) -> Result<Invitation> {
        let admin = self.orgs.admin_of_existing(caller, id).await?;
        store::invitations::find(&self.db, admin.org_id(), invitation.uuid())
            .await?
            .ok_or(INVITATION_NOT_FOUND)
    }

    /// Revokes an invitation: its token stops working. Accepted or revoked already: 409.
    pub async fn revoke(&self, caller: &Caller, id: OrgId, invitation: InvitationId) -> Result<()> {
        let found = self.get(caller, id, invitation).await?;
        self.guard_owner_invitation(caller, id, &found)?;
        let mut change = self.changes.begin().await?;
        let now = change.now();
        if !store::invitations::revoke(change.tx(), found.org_id, found.id, now).await? {
            return Err(NOT_PENDING);
        }
        let revoked = Invitation {
            revoked_at: Some(now),
            ..found
        };
        change.audit(
            Audit::new(&caller.actor(), "invitation.revoke")
                .org(revoked.org_id)
                .target("invitation", revoked.id),
        );
        change.event(revoked.org_id, Event::InvitationRevoked { invitation: revoked });
        change.commit().await
    }

    /// Mails the invitation again with a new token (the old one stops working) and a fresh expiry
    /// of the same length; an expired one is revived. Accepted or revoked: 409.
    pub async fn resend(&self, caller: &Caller, id: OrgId, invitation: InvitationId) -> Result<Invitation> {
        let found = self.get(caller, id, invitation).await?;
        self.guard_owner_invitation(caller, id, &found)?;
        if found.accepted_at.is_some() || found.revoked_at.is_some() {
            return Err(NOT_PENDING);
        }
        let mut change = self.changes.begin().await?;
        let now = change.now();
        self.pacer.check(&found.email, now).map_err(ServiceError::Paced)?;
        let token = crypto::random_token().map_err(no_randomness)?;
        let expires_at = now + (found.expires_at - found.created_at);
        let digest = crypto::token_digest(&token);
        if !store::invitations::renew(change.tx(), found.org_id, found.id, digest, now, expires_at).await? {
            return Err(NOT_PENDING);
        }
        change.audit(
            Audit::new(&caller.actor(), "invitation.resend")
                .org(found.org_id)
                .target("invitation", found.id),
        );
        change.commit().await?;
        let renewed = Invitation {
            expires_at,
            sent_at: now,
            ..found
        };
        let mail = self.mail(&renewed, &token).await?;
        send(&self.mailer, mail, "invitation");
        Ok(renewed)
    }

    /// An invitation that grants `owner` is an owner's to revoke or resend.
    fn guard_owner_invitation(&self, caller: &Caller, id: OrgId, invitation: &Invitation) -> Result<()> {
        let admin = caller.admin_of(id.uuid())?;
        owners::check_owner_grant(caller, admin, &invitation.roles)
    }

    /// `GET /invitations/{token}`: the organisation, the inviter's name and the expiry.
    pub async fn preview(&self, token: &str) -> Result<Preview> {
        let (invitation, organization) = self.pending(token).await?;
        Ok(Preview {
            organization,
            inviter_name: invitation.inviter_name,
            email: invitation.email,
            expires_at: invitation.expires_at,
        })
    }

    /// The pending invitation a token names, and its (active) organisation; else the one 404.
    pub(super) async fn pending(&self, token: &str) -> Result<(Invitation, Organisation)> {
        let digest = crypto::token_digest(token.trim());
        let invitation = store::invitations::pending_by_digest(&self.db, &digest, self.changes.now())
            .await?
            .ok_or(TOKEN_NOT_FOUND)?;
        let org = store::orgs::find(&self.db, invitation.org_id)
            .await?
            .filter(|o| o.active)
            .ok_or(TOKEN_NOT_FOUND)?;
        Ok((invitation, org))
    }

    async fn mail(&self, invitation: &Invitation, token: &str) -> Result<Mail> {
        let org = store::orgs::find(&self.db, invitation.org_id)
            .await?
            .map_or_else(String::new, |o| o.name);
        let consent = &self.config.consent;
        let days = (invitation.expires_at - invitation.sent_at).num_days();
        let within = if days >= 1 {
            format!("{days} days")
        } else {
            format!(
                "{} hours",
                (invitation.expires_at - invitation.sent_at).num_hours().max(1)
            )
        };
        // Without AUTH_INVITATION_URL, the link is guildhall's own acceptance page.
        let own = format!("{}/account/invitation?token={{token}}", self.config.oidc.public_url);
        let link = link(Some(consent.invitation_url.as_deref().unwrap_or(&own)), token);
        let body = format!(
            "{inviter} invited you ({email}) to join {org}.\r\n\r\n\
             To accept, use this token within {within}; it works once:\r\n\r\n\
             {token}\r\n{link}\r\n\
             If you do not want to join, ignore this message.\r\n",
            inviter = invitation.inviter_name,
            email = invitation.email,
        );
        Ok(Mail {
            to: invitation.email.clone(),
            subject: format!("You are invited to join {org}"),
            body,
        })
    }
}
