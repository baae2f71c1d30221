//! From a verified external identity to a local account in the provider's organisation.
//!
//! Rules, in order:
//! 1. (issuer, subject) already linked → that account (refused if disabled). If it is no longer a
//!    member of the provider's organisation it becomes one again only when the provider
//!    provisions just in time, and never when an admin removed it (only an admin or an
//!    invitation brings it back).
//! 2. The email's domain must be one the provider serves (when it lists any).
//! 3. An account with the same email exists → linked only when the provider asserted
//!    `email_verified`, our account's email is verified too, and the provider allows linking by
//!    email; otherwise refused (`account_exists`), so a provider cannot take over an account by
//!    claiming its address, nor hand a squatter's self-registered account to its owner's login.
//!    An organisation's provider is run by that organisation's admins, who could make it assert
//!    any address: it links only accounts that belong to that organisation alone (never a
//!    superuser), the same bound as their admin powers over accounts (a member of no
//!    organisation is nobody's). The operator's provider (`AUTH_OIDC_*`) links any such account.
//! 4. Otherwise a new account (no password) when the provider provisions just in time.
//!
//! The group mapping is applied when the membership is created: the roles, teams and domains of
//! every mapping whose value is among the identity's groups (the highest team role wins), and the
//! roles of the organisation's verified email domain when it is `auto_join` and the account's
//! address is verified. Later logins do not change memberships an admin may have edited since.
use super::{OidcError, Provider};
use crate::model::User;
use crate::model::input::{DisplayName, Email, Parse};
use crate::service::ServiceError;
use crate::service::change::{Actor, Audit, Change, Changes, Event};
use crate::service::orgs::joining::{self, Grants};
use crate::store;
use serde_json::json;
use std::collections::BTreeSet;
use uuid::Uuid;

/// A verified external identity.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

fn refuse(error: &'static str, description: &str) -> OidcError {
    OidcError::Redirect {
        to: String::new(),
        client_state: None,
        error,
        description: description.to_owned(),
    }
}

const TEAM_RANK: [&str; 3] = ["member", "maintainer", "owner"];

/// Finds, links or creates the account of an external identity (the code flow's callback and the
/// global provider's tokens both come here).
pub struct Provisioner {
    changes: Changes,
}

impl Provisioner {
    pub fn new(changes: Changes) -> Self {
        Self { changes }
    }

    /// The account and organisation this identity logs in to, provisioning per the rules above.
    /// Two first logins of one identity at once: the loser's insert conflicts, rolls back, and
    /// its second attempt finds the winner's account.
    pub async fn provision(&self, provider: &Provider, identity: &Identity) -> Result<(Uuid, Uuid), OidcError> {
        match self.provision_once(provider, identity).await {
            Err(OidcError::Service(ServiceError::Conflict("conflict" | "already_a_member", _))) => {
                self.provision_once(provider, identity).await
            }
            other => other,
        }
    }

    async fn provision_once(&self, provider: &Provider, identity: &Identity) -> Result<(Uuid, Uuid), OidcError> {
        let mut change = self.changes.begin().await?;
        let user = self.account(&mut change, provider, identity).await?;
        if !user.active {
            return Err(refuse("account_disabled", "the account is disabled"));
        }
        if !store::members::is_member(change.tx(), provider.org_id, user.id).await? {
            if !provider.jit {
                return Err(refuse(
                    "not_provisioned",
                    "the account is not a member of the provider's organisation",
                ));
            }
            if store::members::was_removed(change.tx(), provider.org_id, user.id).await? {
                // An admin removed this member; only an admin or an invitation brings them back.
                return Err(refuse(
                    "membership_removed",
                    "an administrator removed this account from the organisation",
                ));
            }
            self.join(&mut change, provider, &user, &identity.groups).await?;
        }
        change.audit(
            Audit::new(&Actor::user(user.id, &user.email, None), "login.external")
                .org(provider.org_id)
                .target("user", user.id)
                .detail(json!({"provider": provider.slug, "subject": identity.subject})),
        );
        change.commit().await?;
        Ok((user.id, provider.org_id))
    }

    /// The linked, linkable or new account.
    async fn account(&self, change: &mut Change, provider: &Provider, identity: &Identity) -> Result<User, OidcError> {
        let now = change.now();
        let tx = change.tx();
        if let Some(user_id) = store::oidc::linked_user(tx, &identity.issuer, &identity.subject).await? {
            store::oidc::touch(tx, &identity.issuer, &identity.subject, now).await?;
            return store::users::find(tx, user_id)
                .await?
                .ok_or_else(|| refuse("account_disabled", "the linked account no longer exists"));
        }
        let email = identity
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .ok_or_else(|| {
                refuse(
                    "email_required",
                    "the identity provider did not assert an email address",
                )
            })?;
        let domain = email.domain();
        if !provider.email_domains.is_empty() && !provider.email_domains.iter().any(|d| d == domain) {
            return Err(refuse(
                "email_domain_not_allowed",
                "this provider does not serve the email's domain",
            ));
        }
        let link = store::oidc::NewIdentity {
            user_id: Uuid::nil(),
            issuer: &identity.issuer,
            subject: &identity.subject,
            provider_slug: &provider.slug,
            email: Some(email.as_str()),
        };
        if let Some(user) = store::users::find_by_email(tx, email.as_str()).await? {
            // Read committed: a concurrent first login may have committed the account and its
            // link between our link lookup and this one. Both land in one commit, so once the
            // account is visible so is its link.
            if let Some(user_id) = store::oidc::linked_user(tx, &identity.issuer, &identity.subject).await? {
                return store::users::find(tx, user_id)
                    .await?
                    .ok_or_else(|| refuse("account_disabled", "the linked account no longer exists"));
            }
            // Both sides must have proven the address: the provider asserts it, and our account
            // is verified (else a squatter's self-registered account would be linked).
            let verified = identity.email_verified && user.email_verified;
            if !(provider.link_by_email && verified && self.linkable(tx, provider, &user).await?) {
                return Err(refuse(
                    "account_exists",
                    "an account with this email exists and is not linked to this provider",
                ));
            }
            store::oidc::link(tx, link.of(user.id), now).await?;
            change.audit(
                Audit::new(&Actor::user(user.id, email.as_str(), None), "identity.link")
                    .org(provider.org_id)
                    .target("user", user.id)
                    .detail(json!({"provider": provider.slug, "by": "verified_email"})),
            );
            return Ok(user);
        }
        if !provider.jit {
            return Err(refuse("not_provisioned", "no account exists for this identity"));
        }
        let name = identity
            .name
            .as_deref()
            .and_then(|n| DisplayName::parse(n).ok())
            .unwrap_or_else(|| email.default_name());
        let user = store::users::insert(
            tx,
            store::users::NewUser {
                id: None,
                email: email.clone().into_inner(),
                username: None,
                display_name: name.into_inner(),
                password_hash: None,
                superuser: false,
                email_verified: identity.email_verified,
                default_org_id: Some(provider.org_id),
            },
            now,
        )
        .await?;
        store::oidc::link(tx, link.of(user.id), now).await?;
        change.event(provider.org_id, Event::UserCreated { user: user.clone() });
        change.audit(
            Audit::new(&Actor::user(user.id, email.as_str(), None), "user.provision")
                .org(provider.org_id)
                .target("user", user.id)
                .detail(json!({"provider": provider.slug})),
        );
        Ok(user)
    }

    /// Whether an organisation's provider may take over this account by its email.
    async fn linkable(&self, tx: &store::Tx, provider: &Provider, user: &User) -> Result<bool, OidcError> {
        if provider.operator {
            return Ok(true);
        }
        // A member of no organisation is nobody's to take: only an operator's provider links it.
        let orgs = store::members::orgs_of(tx, user.id).await?;
        Ok(!user.superuser && !orgs.is_empty() && orgs.iter().all(|org| *org == provider.org_id))
    }

    /// Makes the user a member of the provider's organisation with what their groups map to, and
    /// (for a verified address) what an `auto_join` email domain of the organisation grants.
    async fn join(
        &self,
        change: &mut Change,
        provider: &Provider,
        user: &User,
        groups: &[String],
    ) -> Result<(), OidcError> {
        let org = provider.org_id;
        let mut grants = Grants {
            roles: BTreeSet::from(["member".to_owned()]),
            ..Grants::default()
        };
        for mapping in provider.mappings.iter().filter(|m| groups.contains(&m.value)) {
            grants.roles.extend(mapping.roles.iter().cloned());
            for (team, role) in &mapping.teams {
                let rank = |r: &str| TEAM_RANK.iter().position(|x| *x == r).unwrap_or(0);
                let entry = grants.teams.entry(team.clone()).or_insert_with(|| role.clone());
                if rank(role) > rank(entry) {
                    *entry = role.clone();
                }
            }
            grants.domains.extend(mapping.domains.iter().cloned());
        }
        if user.email_verified
            && let Some((_, domain)) = user.email.rsplit_once('@')
            && let Some(claim) = store::email_domains::verified(change.tx(), Some(org), domain).await?
        {
            grants.roles.extend(claim.policy.roles().iter().cloned());
        }
        joining::join(change, org, user.id, &grants, json!({"source": provider.slug})).await?;
        Ok(())
    }
}
