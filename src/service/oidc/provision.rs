//! From a verified external identity to a local account in the provider's organisation.
//!
//! Rules, in order:
//! 1. (issuer, subject) already linked → that account (refused if disabled). If it is no longer a
//!    member of the provider's organisation it becomes one again only when the provider
//!    provisions just in time.
//! 2. The email's domain must be one the provider serves (when it lists any).
//! 3. An account with the same email exists → linked only when the provider asserted
//!    `email_verified` and allows linking by email; otherwise refused (`account_exists`), so a
//!    provider cannot take over an account by claiming its address. An organisation's provider
//!    is run by that organisation's admins, who could make it assert any address: it links only
//!    accounts that belong to that organisation alone (never a superuser), the same bound as
//!    their admin powers over accounts. The operator's provider (`AUTH_OIDC_*`) links any.
//! 4. Otherwise a new account (no password) when the provider provisions just in time.
//!
//! The group mapping is applied when the membership is created: the roles, teams and domains of
//! every mapping whose value is among the identity's groups (the highest team role wins). Later
//! logins do not change memberships an admin may have edited since.
use super::{OidcError, OidcService, Provider};
use crate::model::User;
use crate::service::ServiceError;
use crate::service::journal::{Actor, Invalidation, Journal};
use crate::service::validate;
use crate::store::{self, Tx};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
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

impl OidcService {
    /// The account and organisation this identity logs in to, provisioning per the rules above.
    /// Two first logins of one identity at once: the loser's insert conflicts, rolls back, and
    /// its second attempt finds the winner's account.
    pub(super) async fn provision(&self, provider: &Provider, identity: &Identity) -> Result<(Uuid, Uuid), OidcError> {
        match self.provision_once(provider, identity).await {
            Err(OidcError::Service(ServiceError::Conflict("conflict", _))) => {
                self.provision_once(provider, identity).await
            }
            other => other,
        }
    }

    async fn provision_once(&self, provider: &Provider, identity: &Identity) -> Result<(Uuid, Uuid), OidcError> {
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let user = self.account(&tx, &mut journal, provider, identity).await?;
        let actor = Actor {
            id: Some(user.id),
            name: Some(user.email.clone()),
            ip: None,
        };
        if !user.active {
            return Err(refuse("account_disabled", "the account is disabled"));
        }
        if !store::orgs::is_member(&tx, provider.org_id, user.id).await? {
            if !provider.jit {
                return Err(refuse(
                    "not_provisioned",
                    "the account is not a member of the provider's organisation",
                ));
            }
            self.join(&tx, &mut journal, provider, &user, &identity.groups).await?;
        }
        journal.audit(
            Some(provider.org_id),
            &actor,
            "login.external",
            Some(("user", user.id.to_string())),
            Some(json!({"provider": provider.slug, "subject": identity.subject})),
        );
        self.core.commit(tx, journal).await?;
        Ok((user.id, provider.org_id))
    }

    /// The linked, linkable or new account.
    async fn account(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        provider: &Provider,
        identity: &Identity,
    ) -> Result<User, OidcError> {
        let now = journal.now();
        if let Some(user_id) = store::oidc::linked_user(tx, &identity.issuer, &identity.subject).await? {
            store::oidc::touch(tx, &identity.issuer, &identity.subject, now).await?;
            return store::users::find(tx, user_id)
                .await?
                .ok_or_else(|| refuse("account_disabled", "the linked account no longer exists"));
        }
        let email = identity
            .email
            .as_deref()
            .and_then(|e| validate::email(e).ok())
            .ok_or_else(|| {
                refuse(
                    "email_required",
                    "the identity provider did not assert an email address",
                )
            })?;
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
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
            email: Some(&email),
        };
        if let Some(user) = store::users::find_by_email(tx, &email).await? {
            // Read committed: a concurrent first login may have committed the account and its
            // link between our link lookup and this one. Both land in one commit, so once the
            // account is visible so is its link.
            if let Some(user_id) = store::oidc::linked_user(tx, &identity.issuer, &identity.subject).await? {
                return store::users::find(tx, user_id)
                    .await?
                    .ok_or_else(|| refuse("account_disabled", "the linked account no longer exists"));
            }
            if !(provider.link_by_email && identity.email_verified && self.linkable(tx, provider, &user).await?) {
                return Err(refuse(
                    "account_exists",
                    "an account with this email exists and is not linked to this provider",
                ));
            }
            store::oidc::link(
                tx,
                store::oidc::NewIdentity {
                    user_id: user.id,
                    ..link
                },
                now,
            )
            .await?;
            journal.audit(
                Some(provider.org_id),
                &Actor {
                    id: Some(user.id),
                    name: Some(email.clone()),
                    ip: None,
                },
                "identity.link",
                Some(("user", user.id.to_string())),
                Some(json!({"provider": provider.slug, "by": "verified_email"})),
            );
            return Ok(user);
        }
        if !provider.jit {
            return Err(refuse("not_provisioned", "no account exists for this identity"));
        }
        let local = email.split('@').next().unwrap_or_default().to_owned();
        let name = identity
            .name
            .as_deref()
            .and_then(|n| validate::display_name(n).ok())
            .or_else(|| validate::display_name(&local).ok())
            .unwrap_or_else(|| "user".into());
        let user = store::users::insert(
            tx,
            store::users::NewUser {
                id: None,
                email: email.clone(),
                username: None,
                display_name: name,
                password_hash: None,
                superuser: false,
                default_org_id: Some(provider.org_id),
            },
            now,
        )
        .await?;
        store::oidc::link(
            tx,
            store::oidc::NewIdentity {
                user_id: user.id,
                ..link
            },
            now,
        )
        .await?;
        journal.event(
            Some(provider.org_id),
            "user",
            user.id,
            "created",
            "UserCreated",
            crate::service::auth::user_data(&user),
        );
        journal.audit(
            Some(provider.org_id),
            &Actor {
                id: Some(user.id),
                name: Some(email),
                ip: None,
            },
            "user.provision",
            Some(("user", user.id.to_string())),
            Some(json!({"provider": provider.slug})),
        );
        Ok(user)
    }

    /// Whether an organisation's provider may take over this account by its email.
    async fn linkable(&self, tx: &Tx, provider: &Provider, user: &User) -> Result<bool, OidcError> {
        if provider.operator {
            return Ok(true);
        }
        let orgs = store::orgs::orgs_of(tx, user.id).await?;
        Ok(!user.superuser && orgs.iter().all(|org| *org == provider.org_id))
    }

    /// Makes the user a member of the provider's organisation with what their groups map to.
    async fn join(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        provider: &Provider,
        user: &User,
        groups: &[String],
    ) -> Result<(), OidcError> {
        let now = journal.now();
        let org = provider.org_id;
        let mut roles: BTreeSet<String> = BTreeSet::from(["member".to_owned()]);
        let mut teams: BTreeMap<String, &str> = BTreeMap::new();
        let mut domains: BTreeSet<String> = BTreeSet::new();
        for mapping in provider.mappings.iter().filter(|m| groups.contains(&m.value)) {
            roles.extend(mapping.roles.iter().cloned());
            for (team, role) in &mapping.teams {
                let rank = |r: &str| TEAM_RANK.iter().position(|x| *x == r).unwrap_or(0);
                let entry = teams.entry(team.clone()).or_insert(role.as_str());
                if rank(role) > rank(entry) {
                    *entry = role.as_str();
                }
            }
            domains.extend(mapping.domains.iter().cloned());
        }
        let known: Vec<String> = store::orgs::roles(tx, org).await?.into_iter().map(|r| r.key).collect();
        roles.retain(|r| known.contains(r));
        let keys: Vec<&str> = roles.iter().map(String::as_str).collect();
        store::orgs::add_member(tx, org, user.id, &keys, now).await?;
        let mut granted_teams = Vec::new();
        for (slug, role) in &teams {
            if let Some(team) = store::teams::find_by_slug(tx, org, slug).await? {
                store::teams::put_member(tx, org, team.id, user.id, role, now).await?;
                granted_teams.push(json!({"team": slug, "role": role}));
            }
        }
        let tree = store::domains::list(tx, org).await?;
        let mut granted_domains = Vec::new();
        for key in &domains {
            if let Some(domain) = tree.iter().find(|d| &d.key == key) {
                store::domains::assign(tx, org, domain.id, user.id, now).await?;
                granted_domains.push(key.clone());
            }
        }
        journal.event(
            Some(org),
            "org",
            org,
            "membership.changed",
            "MembershipChanged",
            json!({"user_id": user.id, "action": "added", "roles_added": keys, "roles_removed": [],
                   "teams": granted_teams, "domains": granted_domains, "source": provider.slug}),
        );
        journal.invalidate(Invalidation::Members {
            org,
            users: vec![user.id],
        });
        Ok(())
    }
}
