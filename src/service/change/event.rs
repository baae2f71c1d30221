//! What changed, as typed events: each variant knows its NATS subject (seed 001's
//! `auth.<object>.<id>.<action>`), its CloudEvents type (`guildhall.<object>.<action>`) and its
//! seed 001 event name, and renders its own data. `Change::event` takes one; the outbox keeps the
//! CloudEvent it becomes.
use crate::model::{Application, Domain, Invitation, Organisation, Role, ServiceAccount, Session, Team, User, Webhook};
use serde_json::{Value, json};
use uuid::Uuid;

/// What happened to a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipAction {
    Added,
    RolesChanged,
    Removed,
}

impl MembershipAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::RolesChanged => "roles_changed",
            Self::Removed => "removed",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    UserCreated {
        user: User,
    },
    UserUpdated {
        before: User,
        after: User,
        password_changed: bool,
    },
    UserDeleted {
        user: User,
    },
    SessionCreated {
        session: Session,
    },
    SessionInvalidated {
        session: Uuid,
        reason: String,
    },
    /// A user joined, left or got other roles in an organisation. `extra` carries what else the
    /// change granted (teams and domains of a provider's group mapping) and its source.
    MembershipChanged {
        org: Uuid,
        user: Uuid,
        action: MembershipAction,
        before: Vec<String>,
        after: Vec<String>,
        extra: Option<Value>,
    },
    OrganizationCreated {
        org: Organisation,
    },
    OrganizationUpdated {
        before: Organisation,
        after: Organisation,
    },
    OrganizationDeleted {
        org: Organisation,
    },
    TeamCreated {
        team: Team,
    },
    TeamUpdated {
        before: Team,
        after: Team,
    },
    TeamDeleted {
        team: Team,
        members: Vec<Uuid>,
    },
    /// `role`: the user's role in the team now; `None`: removed from it.
    TeamMembersChanged {
        team: Uuid,
        user: Uuid,
        role: Option<String>,
    },
    DomainCreated {
        domain: Domain,
    },
    DomainUpdated {
        before: Domain,
        after: Domain,
    },
    /// One node of a deleted subtree; `deleted_with` is the root the admin deleted.
    DomainDeleted {
        domain: Uuid,
        deleted_with: Uuid,
    },
    DomainUsersChanged {
        domain: Uuid,
        user: Uuid,
        assigned: bool,
    },
    RoleCreated {
        role: Role,
    },
    RoleUpdated {
        before: Role,
        after: Role,
    },
    RoleDeleted {
        role: Role,
        holders: Vec<Uuid>,
    },
    ServiceAccountCreated {
        account: ServiceAccount,
    },
    ServiceAccountUpdated {
        account: ServiceAccount,
    },
    ServiceAccountDeleted {
        id: Uuid,
        client_id: String,
    },
    /// An organisation's admin invited an address (`auth.org.{org}.invitation.created`).
    InvitationCreated {
        invitation: Invitation,
    },
    /// The invitation was accepted by `user`, who is now a member.
    InvitationAccepted {
        invitation: Invitation,
        user: Uuid,
    },
    InvitationRevoked {
        invitation: Invitation,
    },
    ApplicationCreated {
        app: Application,
    },
    ApplicationUpdated {
        app: Application,
    },
    ApplicationDeleted {
        app: Application,
    },
    WebhookCreated {
        webhook: Webhook,
    },
    WebhookUpdated {
        before: Webhook,
        after: Webhook,
    },
    WebhookDeleted {
        webhook: Webhook,
    },
    /// Disabled after its deliveries failed for the whole retry window (`reason`).
    WebhookDisabled {
        webhook: Webhook,
        reason: String,
    },
    /// A second factor was enrolled (`method`: `totp`).
    MfaEnrolled {
        user: Uuid,
        method: &'static str,
    },
    MfaRemoved {
        user: Uuid,
        method: &'static str,
    },
    /// An admin removed every second factor of the user (`by`).
    MfaReset {
        user: Uuid,
        by: Option<Uuid>,
    },
}

impl Event {
    /// A membership changed from `before` roles to `after`.
    pub fn membership(org: Uuid, user: Uuid, action: MembershipAction, before: &[String], after: &[String]) -> Self {
        Self::MembershipChanged {
            org,
            user,
            action,
            before: before.to_vec(),
            after: after.to_vec(),
            extra: None,
        }
    }
}

/// What events say about a user (never a secret).
pub fn user_data(user: &User) -> Value {
    json!({
        "user_id": user.id, "email": user.email, "username": user.username, "name": user.display_name,
        "is_active": user.active, "is_superuser": user.superuser,
    })
}

fn org_data(o: &Organisation) -> Value {
    json!({"org_id": o.id, "slug": o.slug, "name": o.name, "is_active": o.active})
}

fn team_data(t: &Team) -> Value {
    json!({"team_id": t.id, "org_id": t.org_id, "slug": t.slug, "name": t.name, "external_ref": t.external_ref, "is_active": t.active})
}

fn domain_data(d: &Domain) -> Value {
    json!({"domain_id": d.id, "org_id": d.org_id, "key": d.key, "name": d.name, "parent_id": d.parent_id, "is_active": d.active})
}

fn role_data(r: &Role) -> Value {
    json!({"role_id": r.id, "org_id": r.org_id, "key": r.key, "name": r.name, "permissions": r.permissions})
}

fn invitation_data(i: &Invitation) -> Value {
    json!({"invitation_id": i.id, "org_id": i.org_id, "email": i.email, "roles": i.roles, "teams": i.teams,
        "domains": i.domains, "invited_by": i.invited_by, "expires_at": i.expires_at})
}

fn webhook_data(w: &Webhook) -> Value {
    json!({"webhook_id": w.id, "org_id": w.org_id, "url": w.url, "event_types": w.event_types, "is_active": w.active})
}

fn account_data(a: &ServiceAccount) -> Value {
    json!({"service_account_id": a.id, "client_id": a.client_id, "name": a.name, "permissions": a.permissions})
}

impl Event {
    /// The object, its id, the action (seed 001's subject parts) and the event's name.
    pub fn parts(&self) -> (&'static str, Uuid, &'static str, &'static str) {
        match self {
            Self::UserCreated { user } => ("user", user.id, "created", "UserCreated"),
            Self::UserUpdated { after, .. } => ("user", after.id, "updated", "UserUpdated"),
            Self::UserDeleted { user } => ("user", user.id, "deleted", "UserDeleted"),
            Self::SessionCreated { session } => ("session", session.id, "created", "SessionCreated"),
            Self::SessionInvalidated { session, .. } => ("session", *session, "invalidated", "SessionInvalidated"),
            Self::MembershipChanged { org, .. } => ("org", *org, "membership.changed", "MembershipChanged"),
            Self::OrganizationCreated { org } => ("org", org.id, "created", "OrganizationCreated"),
            Self::OrganizationUpdated { after, .. } => ("org", after.id, "updated", "OrganizationUpdated"),
            Self::OrganizationDeleted { org } => ("org", org.id, "deleted", "OrganizationDeleted"),
            Self::TeamCreated { team } => ("team", team.id, "created", "TeamCreated"),
            Self::TeamUpdated { after, .. } => ("team", after.id, "updated", "TeamUpdated"),
            Self::TeamDeleted { team, .. } => ("team", team.id, "deleted", "TeamDeleted"),
            Self::TeamMembersChanged { team, .. } => ("team", *team, "members.changed", "TeamMembersChanged"),
            Self::DomainCreated { domain } => ("domain", domain.id, "created", "DomainCreated"),
            Self::DomainUpdated { after, .. } => ("domain", after.id, "updated", "DomainUpdated"),
            Self::DomainDeleted { domain, .. } => ("domain", *domain, "deleted", "DomainDeleted"),
            Self::DomainUsersChanged { domain, .. } => ("domain", *domain, "users.changed", "DomainUsersChanged"),
            Self::RoleCreated { role } => ("role", role.id, "created", "RoleCreated"),
            Self::RoleUpdated { after, .. } => ("role", after.id, "updated", "RoleUpdated"),
            Self::RoleDeleted { role, .. } => ("role", role.id, "deleted", "RoleDeleted"),
            Self::ServiceAccountCreated { account } => ("identity", account.id, "created", "IdentityCreated"),
            Self::ServiceAccountUpdated { account } => {
                ("identity", account.id, "updated", "IdentityPermissionsUpdated")
            }
            Self::ServiceAccountDeleted { id, .. } => ("identity", *id, "deleted", "IdentityPermissionsDeleted"),
            Self::InvitationCreated { invitation: i } => ("org", i.org_id, "invitation.created", "InvitationCreated"),
            Self::InvitationAccepted { invitation: i, .. } => {
                ("org", i.org_id, "invitation.accepted", "InvitationAccepted")
            }
            Self::InvitationRevoked { invitation: i } => ("org", i.org_id, "invitation.revoked", "InvitationRevoked"),
            Self::ApplicationCreated { app } => ("application", app.id, "created", "ApplicationCreated"),
            Self::ApplicationUpdated { app } => ("application", app.id, "updated", "ApplicationUpdated"),
            Self::ApplicationDeleted { app } => ("application", app.id, "deleted", "ApplicationDeleted"),
            Self::WebhookCreated { webhook } => ("webhook", webhook.id, "created", "WebhookCreated"),
            Self::WebhookUpdated { after, .. } => ("webhook", after.id, "updated", "WebhookUpdated"),
            Self::WebhookDeleted { webhook } => ("webhook", webhook.id, "deleted", "WebhookDeleted"),
            Self::WebhookDisabled { webhook, .. } => ("webhook", webhook.id, "disabled", "WebhookDisabled"),
            Self::MfaEnrolled { user, .. } => ("user", *user, "mfa.enrolled", "MfaEnrolled"),
            Self::MfaRemoved { user, .. } => ("user", *user, "mfa.removed", "MfaRemoved"),
            Self::MfaReset { user, .. } => ("user", *user, "mfa.reset", "MfaReset"),
        }
    }

    /// The event's `data`.
    pub fn data(&self) -> Value {
        match self {
            Self::UserCreated { user } | Self::UserDeleted { user } => user_data(user),
            Self::UserUpdated {
                before,
                after,
                password_changed,
            } => json!({"before": user_data(before), "after": user_data(after), "password_changed": password_changed}),
            Self::SessionCreated { session: s } => json!({
                "session_id": s.id, "user_id": s.user_id, "org_id": s.org_id, "ip": s.ip, "user_agent": s.user_agent}),
            Self::SessionInvalidated { session, reason } => json!({"session_id": session, "reason": reason}),
            Self::MembershipChanged {
                org,
                user,
                action,
                before,
                after,
                extra,
            } => {
                let added: Vec<&String> = after.iter().filter(|r| !before.contains(r)).collect();
                let removed: Vec<&String> = before.iter().filter(|r| !after.contains(r)).collect();
                let mut data = json!({"org_id": org, "user_id": user, "action": action.as_str(), "roles": after,
                    "roles_added": added, "roles_removed": removed});
                if let (Value::Object(map), Some(Value::Object(more))) = (&mut data, extra) {
                    map.extend(more.clone());
                }
                data
            }
            Self::OrganizationCreated { org } | Self::OrganizationDeleted { org } => org_data(org),
            Self::OrganizationUpdated { before, after } => {
                json!({"before": org_data(before), "after": org_data(after)})
            }
            Self::TeamCreated { team } => team_data(team),
            Self::TeamUpdated { before, after } => json!({"before": team_data(before), "after": team_data(after)}),
            Self::TeamDeleted { team, members } => json!({"team": team_data(team), "members": members}),
            Self::TeamMembersChanged { team, user, role } => match role {
                Some(role) => json!({"team_id": team, "user_id": user, "action": "put", "role": role}),
                None => json!({"team_id": team, "user_id": user, "action": "removed"}),
            },
            Self::DomainCreated { domain } => domain_data(domain),
            Self::DomainUpdated { before, after } => {
                json!({"before": domain_data(before), "after": domain_data(after)})
            }
            Self::DomainDeleted { domain, deleted_with } => json!({"domain_id": domain, "deleted_with": deleted_with}),
            Self::DomainUsersChanged { domain, user, assigned } => json!({"domain_id": domain, "user_id": user,
                "action": if *assigned { "assigned" } else { "unassigned" }}),
            Self::RoleCreated { role } => role_data(role),
            Self::RoleUpdated { before, after } => json!({"before": role_data(before), "after": role_data(after)}),
            Self::RoleDeleted { role, holders } => json!({"role": role_data(role), "holders": holders}),
            Self::ServiceAccountCreated { account } | Self::ServiceAccountUpdated { account } => account_data(account),
            Self::ServiceAccountDeleted { id, client_id } => {
                json!({"service_account_id": id, "client_id": client_id})
            }
            Self::InvitationCreated { invitation } | Self::InvitationRevoked { invitation } => {
                invitation_data(invitation)
            }
            Self::InvitationAccepted { invitation, user } => {
                let mut data = invitation_data(invitation);
                if let Value::Object(map) = &mut data {
                    map.insert("user_id".into(), json!(user));
                }
                data
            }
            Self::ApplicationCreated { app } | Self::ApplicationUpdated { app } | Self::ApplicationDeleted { app } => {
                json!({"application_id": app.id, "org_id": app.org_id, "client_id": app.client_id, "name": app.name,
                    "kind": app.kind, "is_active": app.active})
            }
            Self::WebhookCreated { webhook } | Self::WebhookDeleted { webhook } => webhook_data(webhook),
            Self::WebhookUpdated { before, after } => {
                json!({"before": webhook_data(before), "after": webhook_data(after)})
            }
            Self::WebhookDisabled { webhook, reason } => {
                let mut data = webhook_data(webhook);
                data["reason"] = json!(reason);
                data
            }
            Self::MfaEnrolled { user, method } | Self::MfaRemoved { user, method } => {
                json!({"user_id": user, "method": method})
            }
            Self::MfaReset { user, by } => json!({"user_id": user, "reset_by": by}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_events_say_what_was_added_and_removed() {
        let event = Event::MembershipChanged {
            org: Uuid::nil(),
            user: Uuid::max(),
            action: MembershipAction::RolesChanged,
            before: vec!["member".into()],
            after: vec!["admin".into(), "member".into()],
            extra: Some(json!({"source": "okta"})),
        };
        assert_eq!(event.parts().0, "org");
        assert_eq!(event.parts().2, "membership.changed");
        let data = event.data();
        assert_eq!(data["roles_added"], json!(["admin"]));
        assert_eq!(data["roles_removed"], json!([]));
        assert_eq!(data["action"], "roles_changed");
        assert_eq!(data["source"], "okta");
    }
}
