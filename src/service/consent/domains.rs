//! Verified email domains (`/orgs/{id}/email-domains`), distinct from the business-domain tree.
//!
//! An organisation's admin claims a domain and is given a TXT record to publish:
//! `_guildhall-challenge.<domain>` holding `guildhall-domain-verification=<random>` (a value of
//! its own per organisation and domain, so one organisation's record proves nothing for
//! another). `verify` looks it up (`crate::dns`) and marks the domain verified; a unique index
//! keeps one organisation per verified domain (409 `domain_claimed`). A verified domain may carry
//! a join policy: `invite_only` (the default) or `auto_join` with roles (never `owner`): a user
//! whose verified address is in the domain sees the organisation in `joinable` and may `join`
//! (unless an admin removed them). Identity providers may serve only verified domains of their
//! organisation (`service::providers`), so a verified domain in use cannot be deleted.
use crate::crypto;
use crate::dns::{Dns, DnsError};
use crate::model::input::Problems;
use crate::model::{EmailDomain, JoinPolicy, OrgId, Organisation};
use crate::service::authz::Caller;
use crate::service::change::{Audit, Changes};
use crate::service::orgs::joining::{self, Grants};
use crate::service::orgs::{OrgService, resolve_roles};
use crate::service::{Result, ServiceError, conflict, no_randomness};
use crate::store::{self, Db};
use serde_json::json;
use std::sync::Arc;

/// What a TXT challenge value starts with.
pub const CHALLENGE_PREFIX: &str = "guildhall-domain-verification=";

const NOT_FOUND: ServiceError = ServiceError::NotFound("email domain not found");
const CLAIMED: (&str, &str) = ("domain_claimed", "another organisation has verified this domain");
const NOT_JOINABLE: ServiceError = ServiceError::NotFound("organization not found");

/// A join policy as asked for: `auto_join` with role keys, or `invite_only`.
pub enum PolicyInput {
    InviteOnly,
    AutoJoin(Option<Vec<String>>),
}

/// An organisation one may join through one's verified address.
pub struct Joinable {
    pub organization: Organisation,
    pub roles: Vec<String>,
}

pub struct EmailDomainService {
    db: Db,
    changes: Changes,
    orgs: Arc<OrgService>,
    dns: Dns,
}

impl EmailDomainService {
    pub fn new(db: Db, changes: Changes, orgs: Arc<OrgService>, dns: Dns) -> Self {
        Self { db, changes, orgs, dns }
    }

    pub async fn list(&self, caller: &Caller, id: OrgId) -> Result<Vec<EmailDomain>> {
        let admin = self.orgs.admin_of_existing(caller, id).await?;
        Ok(store::email_domains::list(&self.db, admin.org_id()).await?)
    }

    /// Claims a domain; the answer carries the TXT record to publish.
    pub async fn claim(&self, caller: &Caller, id: OrgId, domain: &str, policy: PolicyInput) -> Result<EmailDomain> {
        let admin = self.orgs.admin_of_existing(caller, id).await?;
        let org = admin.org_id();
        let policy = self.policy(org, policy).await?;
        if store::email_domains::verified(&self.db, None, domain)
            .await?
            .is_some_and(|d| d.org_id != org)
        {
            return Err(ServiceError::Conflict(CLAIMED.0, CLAIMED.1));
        }
        let challenge = format!("{CHALLENGE_PREFIX}{}", crypto::random_token().map_err(no_randomness)?);
        let mut change = self.changes.begin().await?;
        let claimed = store::email_domains::insert(change.tx(), org, domain, &challenge, &policy, None, change.now())
            .await
            .map_err(conflict(
                "email_domain_exists",
                "the organisation has claimed this domain already",
            ))?;
        change.audit(
            Audit::new(&caller.actor(), "email_domain.create")
                .org(org)
                .target("email_domain", &claimed.domain),
        );
        change.commit().await?;
        Ok(claimed)
    }

    /// Looks the TXT record up and marks the domain verified (already verified: as it is).
    #[tracing::instrument(skip_all, fields(domain), err(level = "info"))]
    pub async fn verify(&self, caller: &Caller, id: OrgId, domain: &str) -> Result<EmailDomain> {
        let claimed = self.find(caller, id, domain).await?;
        if claimed.verified() {
            return Ok(claimed);
        }
        let values = match self.dns.txt(&claimed.record_name()).await {
            Ok(values) => values,
            Err(DnsError::NotFound) => {
                return Err(ServiceError::Conflict(
                    "dns_record_not_found",
                    "no TXT record was found at the challenge name; publish it and try again",
                ));
            }
            Err(DnsError::Unavailable(why)) => {
                tracing::warn!(why, "DNS lookup failed");
                return Err(ServiceError::Upstream(
                    "dns_unavailable",
                    "the DNS lookup failed; try again later",
                ));
            }
        };
        if !values.iter().any(|v| v.trim() == claimed.challenge) {
            return Err(ServiceError::Conflict(
                "dns_record_mismatch",
                "the TXT record at the challenge name does not hold this organisation's challenge value",
            ));
        }
        let mut change = self.changes.begin().await?;
        let now = change.now();
        store::email_domains::mark_verified(change.tx(), claimed.id, &claimed.domain, now)
            .await
            .map_err(conflict(CLAIMED.0, CLAIMED.1))?;
        change.audit(
            Audit::new(&caller.actor(), "email_domain.verify")
                .org(claimed.org_id)
                .target("email_domain", &claimed.domain),
        );
        change.commit().await?;
        Ok(EmailDomain {
            verified_at: Some(now),
            updated_at: now,
            ..claimed
        })
    }

    /// Sets a domain's join policy (`auto_join` only once it is verified).
    pub async fn set_policy(
        &self,
        caller: &Caller,
        id: OrgId,
        domain: &str,
        policy: PolicyInput,
    ) -> Result<EmailDomain> {
        let claimed = self.find(caller, id, domain).await?;
        let policy = self.policy(claimed.org_id, policy).await?;
        let mut change = self.changes.begin().await?;
        let now = change.now();
        store::email_domains::set_policy(change.tx(), claimed.id, &policy, now).await?;
        change.audit(
            Audit::new(&caller.actor(), "email_domain.policy")
                .org(claimed.org_id)
                .target("email_domain", &claimed.domain)
                .detail(json!({"join_policy": policy.name(), "roles": policy.roles()})),
        );
        change.commit().await?;
        Ok(EmailDomain {
            policy,
            updated_at: now,
            ..claimed
        })
    }

    /// Deletes a claim; a domain an identity provider of the organisation serves stays (409).
    pub async fn delete(&self, caller: &Caller, id: OrgId, domain: &str) -> Result<()> {
        let claimed = self.find(caller, id, domain).await?;
        let providers = store::identity_providers::list(&self.db, claimed.org_id).await?;
        if providers.iter().any(|p| p.email_domains.contains(&claimed.domain)) {
            return Err(ServiceError::Conflict(
                "domain_in_use",
                "an identity provider of the organisation serves this domain; remove it there first",
            ));
        }
        let mut change = self.changes.begin().await?;
        store::email_domains::delete(change.tx(), claimed.org_id, claimed.id).await?;
        change.audit(
            Audit::new(&caller.actor(), "email_domain.delete")
                .org(claimed.org_id)
                .target("email_domain", &claimed.domain),
        );
        change.commit().await
    }

    async fn find(&self, caller: &Caller, id: OrgId, domain: &str) -> Result<EmailDomain> {
        let admin = self.orgs.admin_of_existing(caller, id).await?;
        store::email_domains::find(&self.db, admin.org_id(), domain)
            .await?
            .ok_or(NOT_FOUND)
    }

    /// A policy's roles must exist and must not include `owner`.
    async fn policy(&self, org: uuid::Uuid, policy: PolicyInput) -> Result<JoinPolicy> {
        match policy {
            PolicyInput::InviteOnly => Ok(JoinPolicy::InviteOnly),
            PolicyInput::AutoJoin(roles) => {
                let wanted = roles.unwrap_or_else(|| vec!["member".into()]);
                let mut problems = Problems::default();
                if wanted.iter().any(|r| r == crate::service::orgs::owners::OWNER) {
                    problems.add("roles", "auto_join cannot grant owner");
                }
                problems.finish()?;
                let (_, roles) = resolve_roles(&self.db, org, &wanted).await?;
                Ok(JoinPolicy::AutoJoin { roles })
            }
        }
    }

    /// The organisation whose verified `auto_join` domain is the caller's verified address's, if
    /// the caller is not a member and no admin removed them.
    pub async fn joinable(&self, caller: &Caller) -> Result<Vec<Joinable>> {
        let Some(user) = store::users::find(&self.db, caller.user_id).await? else {
            return Ok(Vec::new());
        };
        let Some((_, domain)) = user.email.rsplit_once('@').filter(|_| user.email_verified) else {
            return Ok(Vec::new());
        };
        let Some(claim) = store::email_domains::verified(&self.db, None, domain).await? else {
            return Ok(Vec::new());
        };
        let JoinPolicy::AutoJoin { roles } = claim.policy else {
            return Ok(Vec::new());
        };
        let Some(organization) = store::orgs::find(&self.db, claim.org_id).await?.filter(|o| o.active) else {
            return Ok(Vec::new());
        };
        if store::members::is_member(&self.db, organization.id, user.id).await?
            || store::members::was_removed(&self.db, organization.id, user.id).await?
        {
            return Ok(Vec::new());
        }
        Ok(vec![Joinable { organization, roles }])
    }

    /// Joins an organisation listed by `joinable`; anything else is not found (or 403
    /// `email_not_verified`, 409 `already_a_member`).
    pub async fn join(&self, caller: &Caller, slug: &str) -> Result<Joinable> {
        let user = store::users::find(&self.db, caller.user_id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if !user.email_verified {
            return Err(ServiceError::Forbidden(
                "email_not_verified",
                "verify your email address first (POST /auth/email/verify/resend)",
            ));
        }
        let org = store::orgs::find_by_slug(&self.db, slug).await?.ok_or(NOT_JOINABLE)?;
        if store::members::is_member(&self.db, org.id, user.id).await? {
            return Err(ServiceError::Conflict("already_a_member", "you are a member already"));
        }
        let joinable = self
            .joinable(caller)
            .await?
            .into_iter()
            .find(|j| j.organization.id == org.id)
            .ok_or(NOT_JOINABLE)?;
        let mut change = self.changes.begin().await?;
        let grants = Grants {
            roles: joinable.roles.iter().cloned().collect(),
            ..Grants::default()
        };
        let source = json!({"source": "email_domain"});
        let roles = joining::join(&mut change, org.id, user.id, &grants, source).await?;
        change.audit(
            Audit::new(&caller.actor(), "org.join")
                .org(org.id)
                .target("user", user.id)
                .detail(json!({"roles": roles, "by": "email_domain"})),
        );
        change.commit().await?;
        Ok(Joinable {
            organization: joinable.organization,
            roles,
        })
    }
}
