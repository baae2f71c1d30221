//! Passkeys (WebAuthn, through webauthn-rs): registered by a logged-in user, listed, named and
//! removed; used as a second factor after a password, and alone on the hosted login page as a
//! discoverable credential (the browser names the account).
//!
//! - The relying party is the public URL (`AUTH_PUBLIC_URL`, by default `AUTH_ISSUER` or
//!   `http://localhost:<port>`): its host is the RP id, its origin the only origin allowed. An IP
//!   address cannot be a WebAuthn RP id, so with a public URL such as `http://127.0.0.1:8080`
//!   passkeys are off and their routes answer 409 `passkeys_unavailable`.
//! - Every ceremony keeps its server-side state (the challenge, the credentials allowed) in
//!   `webauthn_ceremonies` for `CEREMONY_TTL`; answering it takes the row out, so a challenge is
//!   answered once. A ceremony belongs to a user (or, for a discoverable login, to one hosted
//!   login request) and is refused elsewhere.
//! - User verification is required (webauthn-rs's passkey policy), so a passkey alone is two
//!   factors: a passwordless login gets `amr` `hwk` (or `swk` for a synced, backup-eligible
//!   passkey) with `mfa`.
//! - An assertion is also checked against the stored credentials after webauthn-rs verified it:
//!   a passkey removed after its challenge was handed out no longer counts.
//! - Registration asks for a discoverable credential (`residentKey: preferred`), so the
//!   passkey can log in without a name; webauthn-rs itself neither needs nor checks that.
use super::{MfaService, Result};
use crate::model::User;
use crate::service::ServiceError;
use crate::service::authz::Caller;
use crate::service::change::{Audit, Change, Event};
use crate::store::{self, passkeys::Credential};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

/// How long a ceremony's challenge can be answered.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);
/// The longest passkey name.
pub const NAME_MAX: usize = 64;

pub const UNAVAILABLE: ServiceError = ServiceError::Conflict(
    "passkeys_unavailable",
    "passkeys need a public URL (AUTH_PUBLIC_URL) whose host is a domain name; an IP address cannot be a WebAuthn relying party",
);
/// An assertion that does not verify, or whose ceremony is unknown, spent or expired.
pub const WRONG_PASSKEY: ServiceError = ServiceError::Unauthorized(
    "invalid_passkey",
    "the passkey's answer is not valid, or its challenge expired or was already answered",
);

const REGISTER: &str = "register";
const AUTHENTICATE: &str = "authenticate";
const DISCOVER: &str = "discover";
/// The flow of ceremonies a logged-in user (or a login's second step) started.
const USER_FLOW: &str = "user";

/// The relying party of the public URL, or `None` when its host is not a domain name.
pub fn relying_party(issuer: &str) -> Option<Webauthn> {
    let origin = Url::parse(issuer).ok()?;
    let rp_id = origin.domain()?.to_owned();
    let origin = Url::parse(&origin.origin().ascii_serialization()).ok()?;
    WebauthnBuilder::new(&rp_id, &origin)
        .ok()?
        .rp_name("guildhall")
        .timeout(std::time::Duration::from_secs(
            u64::try_from(CEREMONY_TTL.num_seconds()).unwrap_or(300),
        ))
        .build()
        .ok()
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&Credential> for PasskeyInfo {
    fn from(c: &Credential) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            created_at: c.created_at,
            last_used_at: c.last_used_at,
        }
    }
}

/// A passkey's answer to a challenge: the ceremony that handed it out, and the browser's
/// `PublicKeyCredential` (as `toJSON()` gives it).
#[derive(Debug, Clone)]
pub struct Assertion {
    pub ceremony: Uuid,
    pub credential: PublicKeyCredential,
}

/// A ceremony handed out: its id and the options for `navigator.credentials.create/get`
/// (`{"publicKey": {...}}`).
#[derive(Debug, Clone)]
pub struct Started {
    pub ceremony: Uuid,
    pub options: Value,
}

/// A passkey registered: it, and the recovery codes when it is the account's first factor.
#[derive(Debug, Clone)]
pub struct Registered {
    pub passkey: PasskeyInfo,
    pub recovery_codes: Option<Vec<String>>,
}

/// The RFC 8176 method of a passkey: `swk` for a synced (backup-eligible) one, else `hwk`.
fn method_of(backup_eligible: bool) -> &'static str {
    if backup_eligible { "swk" } else { "hwk" }
}

/// The user's stored credential with this id: a credential no longer stored (removed after its
/// challenge went out) or someone else's is `WRONG_PASSKEY`.
async fn stored_credential(change: &Change, user_id: Uuid, credential_id: &str) -> Result<Credential> {
    store::passkeys::by_credential_id(change.tx(), credential_id)
        .await?
        .filter(|c| c.user_id == user_id)
        .ok_or(WRONG_PASSKEY)
}

/// Records a verified use of `stored` (its `passkey` as parsed): the new counter, when it moved,
/// and the time.
async fn record_use(
    change: &Change,
    stored: &Credential,
    mut passkey: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<()> {
    let updated = match passkey.update_credential(result) {
        Some(true) => Some(serde_json::to_string(&passkey).map_err(internal("passkey"))?),
        _ => None,
    };
    store::passkeys::used(change.tx(), stored.id, updated, change.now()).await?;
    Ok(())
}

/// A credential id as stored: base64url without padding, as browsers write it.
fn encode_id(id: &webauthn_rs::prelude::CredentialID) -> String {
    let bytes: &[u8] = id.as_ref();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn internal(what: &str) -> impl FnOnce(serde_json::Error) -> ServiceError + '_ {
    move |e| ServiceError::Internal(anyhow::anyhow!("{what}: {e}"))
}

/// A passkey name as given: trimmed, 1 to `NAME_MAX` characters, no control characters.
pub fn parse_name(name: Option<&str>) -> std::result::Result<String, String> {
    let name = name.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Ok("Passkey".to_owned());
    }
    if name.chars().count() > NAME_MAX {
        return Err("is longer than 64 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(name.to_owned())
}

impl MfaService {
    fn relying(&self) -> Result<&Webauthn> {
        self.webauthn.as_ref().ok_or(UNAVAILABLE)
    }

    /// Whether passkeys can be used here (the public URL's host is a domain name).
    pub fn passkeys_available(&self) -> bool {
        self.webauthn.is_some()
    }

    pub async fn passkeys(&self, user_id: Uuid) -> Result<Vec<PasskeyInfo>> {
        let found = store::passkeys::of_user(&self.db, user_id).await?;
        Ok(found.iter().map(PasskeyInfo::from).collect())
    }

    async fn store_ceremony(&self, user: Option<Uuid>, kind: &str, flow: &str, state: String) -> Result<Uuid> {
        let now = self.changes.now();
        let id = Uuid::now_v7();
        store::passkeys::insert_ceremony(
            &self.db,
            store::passkeys::Ceremony {
                id,
                user_id: user,
                kind: kind.to_owned(),
                flow: flow.to_owned(),
                state,
                expires_at: now + CEREMONY_TTL,
                created_at: now,
            },
        )
        .await?;
        Ok(id)
    }

    /// Starts registering a passkey for the caller: the options for
    /// `navigator.credentials.create`, excluding the passkeys they already have.
    pub async fn start_registration(&self, caller: &Caller) -> Result<Started> {
        let webauthn = self.relying()?;
        let user = self.user(caller.user_id).await?;
        let existing = self.stored_passkeys(&self.db, user.id).await?;
        let exclude = existing.iter().map(|p| p.cred_id().clone()).collect::<Vec<_>>();
        let display = if user.display_name.is_empty() {
            user.email.clone()
        } else {
            user.display_name.clone()
        };
        let (options, state) = webauthn
            .start_passkey_registration(user.id, &user.email, &display, Some(exclude))
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("passkey registration: {e}")))?;
        let mut options = serde_json::to_value(options).map_err(internal("passkey options"))?;
        if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
            selection["residentKey"] = Value::from("preferred");
        }
        let state = serde_json::to_string(&state).map_err(internal("passkey registration state"))?;
        let ceremony = self.store_ceremony(Some(user.id), REGISTER, USER_FLOW, state).await?;
        Ok(Started { ceremony, options })
    }

    /// Finishes a registration the caller started: the new passkey (audited, an `mfa.enrolled`
    /// event), and new recovery codes when it is the account's first second factor.
    pub async fn finish_registration(
        &self,
        caller: &Caller,
        ceremony: Uuid,
        name: String,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<Registered> {
        let webauthn = self.relying()?;
        let user = self.user(caller.user_id).await?;
        let mut change = self.changes.begin().await?;
        let taken = store::passkeys::take_ceremony(change.tx(), ceremony, REGISTER, change.now()).await?;
        let Some(taken) = taken.filter(|c| c.user_id == Some(user.id)) else {
            return Err(WRONG_PASSKEY);
        };
        let state: PasskeyRegistration =
            serde_json::from_str(&taken.state).map_err(internal("passkey registration state"))?;
        let passkey = webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|_| WRONG_PASSKEY)?;
        let credential_id = encode_id(passkey.cred_id());
        if store::passkeys::by_credential_id(change.tx(), &credential_id)
            .await?
            .is_some()
        {
            return Err(ServiceError::Conflict(
                "passkey_already_registered",
                "this passkey is already registered",
            ));
        }
        let first = !self.has_factor_in(&change, user.id).await?;
        let stored = Credential {
            id: Uuid::now_v7(),
            user_id: user.id,
            credential_id,
            name,
            passkey: serde_json::to_string(&passkey).map_err(internal("passkey"))?,
            created_at: change.now(),
            last_used_at: None,
        };
        store::passkeys::insert(change.tx(), stored.clone()).await?;
        let recovery_codes = if first {
            Some(self.new_recovery_codes(&mut change, user.id).await?)
        } else {
            None
        };
        change.audit(
            Audit::new(&caller.actor(), "mfa.enroll")
                .target("user", user.id)
                .detail(serde_json::json!({"method": "webauthn", "passkey": stored.id})),
        );
        change.event(
            user.default_org_id,
            Event::MfaEnrolled {
                user: user.id,
                method: "webauthn",
            },
        );
        change.user_changed(user.id);
        change.commit().await?;
        Ok(Registered {
            passkey: PasskeyInfo::from(&stored),
            recovery_codes,
        })
    }

    /// Renames one of the caller's passkeys; 404 for anyone else's.
    pub async fn rename_passkey(&self, caller: &Caller, id: Uuid, name: String) -> Result<PasskeyInfo> {
        let change = self.changes.begin().await?;
        if !store::passkeys::rename(change.tx(), caller.user_id, id, &name).await? {
            return Err(ServiceError::NotFound("passkey not found"));
        }
        let renamed = store::passkeys::find(change.tx(), caller.user_id, id)
            .await?
            .ok_or(ServiceError::NotFound("passkey not found"))?;
        change.commit().await?;
        Ok(PasskeyInfo::from(&renamed))
    }

    /// Removes one of the caller's passkeys after a fresh second factor (the recovery codes go
    /// with the account's last factor); 404 for anyone else's.
    pub async fn remove_passkey(&self, caller: &Caller, id: Uuid, fresh: &super::Factor) -> Result<()> {
        let (user, actor) = (&self.user(caller.user_id).await?, &caller.actor());
        let mut change = self.changes.begin().await?;
        if store::passkeys::find(change.tx(), user.id, id).await?.is_none() {
            return Err(ServiceError::NotFound("passkey not found"));
        }
        let checked = self.require_fresh_factor(&mut change, user, fresh, actor).await?;
        store::passkeys::delete(change.tx(), user.id, id).await?;
        if !self.has_factor_in(&change, user.id).await? {
            store::mfa::delete_recovery_codes(change.tx(), user.id).await?;
        }
        change.audit(
            Audit::new(actor, "mfa.remove")
                .target("user", user.id)
                .detail(serde_json::json!({"method": "webauthn", "passkey": id})),
        );
        change.event(
            user.default_org_id,
            Event::MfaRemoved {
                user: user.id,
                method: "webauthn",
            },
        );
        change.user_changed(user.id);
        change.commit().await?;
        if let Some(mail) = checked.mail {
            self.send(mail);
        }
        Ok(())
    }

    /// A challenge for the user's passkeys (a login's second step, or a fresh factor): the
    /// options for `navigator.credentials.get`. 409 `no_passkeys` without one.
    pub async fn start_authentication(&self, user_id: Uuid) -> Result<Started> {
        let webauthn = self.relying()?;
        let passkeys = self.stored_passkeys(&self.db, user_id).await?;
        if passkeys.is_empty() {
            return Err(ServiceError::Conflict("no_passkeys", "the account has no passkey"));
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("passkey authentication: {e}")))?;
        let options = serde_json::to_value(options).map_err(internal("passkey options"))?;
        let state = serde_json::to_string(&state).map_err(internal("passkey authentication state"))?;
        let ceremony = self
            .store_ceremony(Some(user_id), AUTHENTICATE, USER_FLOW, state)
            .await?;
        Ok(Started { ceremony, options })
    }

    /// A challenge for the passkeys of the account an API login's `mfa_token` names.
    pub async fn start_login_authentication(&self, token: &str) -> Result<Started> {
        let challenge = self
            .live_challenge(token, super::API_FLOW, super::Purpose::Verify)
            .await?;
        self.start_authentication(challenge.user_id).await
    }

    /// A challenge any passkey of this site can answer (the browser picks the account), for a
    /// passwordless login belonging to `flow`.
    pub async fn start_discoverable(&self, flow: &str) -> Result<Started> {
        let webauthn = self.relying()?;
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("passkey authentication: {e}")))?;
        let mut options = serde_json::to_value(options).map_err(internal("passkey options"))?;
        // A button asks (modal), rather than the form field's autofill (conditional).
        if let Some(map) = options.as_object_mut() {
            map.remove("mediation");
        }
        let state = serde_json::to_string(&state).map_err(internal("passkey authentication state"))?;
        let ceremony = self.store_ceremony(None, DISCOVER, flow, state).await?;
        Ok(Started { ceremony, options })
    }

    /// Checks a passkey's answer for `user` inside `change`: the ceremony is spent, the stored
    /// credential's counter updated; the method (`hwk` or `swk`).
    pub(super) async fn check_passkey(
        &self,
        change: &mut Change,
        user: &User,
        assertion: &Assertion,
    ) -> Result<&'static str> {
        let webauthn = self.relying()?;
        let taken = store::passkeys::take_ceremony(change.tx(), assertion.ceremony, AUTHENTICATE, change.now()).await?;
        let Some(taken) = taken.filter(|c| c.user_id == Some(user.id)) else {
            return Err(WRONG_PASSKEY);
        };
        let state: PasskeyAuthentication =
            serde_json::from_str(&taken.state).map_err(internal("passkey authentication state"))?;
        let result = webauthn
            .finish_passkey_authentication(&assertion.credential, &state)
            .map_err(|_| WRONG_PASSKEY)?;
        let stored = stored_credential(change, user.id, &encode_id(result.cred_id())).await?;
        let passkey: Passkey = serde_json::from_str(&stored.passkey).map_err(internal("passkey"))?;
        record_use(change, &stored, passkey, &result).await?;
        Ok(method_of(result.backup_eligible()))
    }

    /// A passwordless login's answer, for the login request `flow`: the account the passkey
    /// belongs to (active) and the method. Every failure is `WRONG_PASSKEY`.
    pub async fn discoverable_login(&self, flow: &str, assertion: &Assertion) -> Result<(User, &'static str)> {
        let webauthn = self.relying()?;
        let change = self.changes.begin().await?;
        let taken = store::passkeys::take_ceremony(change.tx(), assertion.ceremony, DISCOVER, change.now()).await?;
        let Some(taken) = taken.filter(|c| c.flow == flow) else {
            return Err(WRONG_PASSKEY);
        };
        let state: DiscoverableAuthentication =
            serde_json::from_str(&taken.state).map_err(internal("passkey authentication state"))?;
        let (user_id, raw_id) = webauthn
            .identify_discoverable_authentication(&assertion.credential)
            .map_err(|_| WRONG_PASSKEY)?;
        let stored = stored_credential(&change, user_id, &URL_SAFE_NO_PAD.encode(raw_id)).await?;
        let passkey: Passkey = serde_json::from_str(&stored.passkey).map_err(internal("passkey"))?;
        let result = webauthn
            .finish_discoverable_authentication_v2(&assertion.credential, state, &passkey)
            .map_err(|_| WRONG_PASSKEY)?;
        let user = store::users::find(change.tx(), user_id)
            .await?
            .filter(|u| u.active)
            .ok_or(WRONG_PASSKEY)?;
        record_use(&change, &stored, passkey, &result).await?;
        change.commit().await?;
        Ok((user, method_of(result.backup_eligible())))
    }

    async fn stored_passkeys<C: store::Conn>(&self, c: &C, user_id: Uuid) -> Result<Vec<Passkey>> {
        let mut out = Vec::new();
        for stored in store::passkeys::of_user(c, user_id).await? {
            out.push(serde_json::from_str(&stored.passkey).map_err(internal("passkey"))?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_urls_domain_and_never_an_ip_address() {
        assert!(relying_party("https://id.example.com").is_some());
        assert!(relying_party("http://localhost:8080").is_some());
        assert!(relying_party("http://127.0.0.1:8080").is_none());
        assert!(relying_party("http://[::1]:8080").is_none());
        assert!(relying_party("not a url").is_none());
    }

    #[test]
    fn passkey_names_are_trimmed_bounded_and_printable() {
        assert_eq!(parse_name(None).unwrap(), "Passkey");
        assert_eq!(parse_name(Some("  Laptop ")).unwrap(), "Laptop");
        assert!(parse_name(Some(&"x".repeat(65))).is_err());
        assert!(parse_name(Some("a\u{0}b")).is_err());
    }
}
