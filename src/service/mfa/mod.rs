//! Second factors: an authenticator app (TOTP, RFC 6238: SHA-1, 6 digits, 30 s steps, one step
//! of skew either way, through `totp-rs`), passkeys (WebAuthn, `passkeys`) and ten single-use
//! recovery codes, which an account has while it has another factor.
//!
//! - Enrolment writes an unconfirmed secret (sealed at rest) and answers it once, with its
//!   `otpauth://` URI and a QR code as SVG; a first right code confirms it and answers the
//!   recovery codes, once. The secret is never shown again.
//! - A code is accepted once: the time step it matched is claimed by one conditional UPDATE, so
//!   replaying it (or an earlier one) within its window fails, even from two requests at once.
//! - Recovery codes are 80 random bits (`xxxx-xxxx-xxxx-xxxx`, base32), stored as SHA-256;
//!   spending one is audited and mailed to the account.
//! - A password step that needs a second factor leaves a challenge: a single-use token (256
//!   bits, stored as SHA-256) living `CHALLENGE_TTL`, bound to its user, its flow (the API, or one
//!   hosted login request) and its purpose (`verify`, or only `enroll` when an organisation
//!   requires a factor the account lacks). `AuthService` spends it and counts failed codes toward
//!   the account's lockout (`auth::throttle`).
//! - Removing a factor needs a fresh one; an organisation's admin (an owner for an owner) can
//!   reset a member's factors, which ends the member's sessions.
use crate::config::Config;
use crate::crypto::{self, seal::Sealer};
use crate::mail::{Mail, SharedMailer};
use crate::model::{OrgId, User, UserId};
use crate::service::authz::Caller;
use crate::service::change::{Actor, Audit, Change, Changes, Event, SessionsOf};
use crate::service::orgs::owners;
use crate::service::{Result, ServiceError, no_randomness};
pub use crate::store::mfa::Challenge;
use crate::store::{self, Db};
use chrono::Duration;
use secrecy::ExposeSecret;
use std::sync::Arc;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use uuid::Uuid;

pub mod passkeys;
pub use passkeys::Assertion;

/// The flow of API logins' challenges (hosted logins name their request: `hosted:<handle>`).
pub const API_FLOW: &str = "api";

/// How long the token a password step leaves lives.
pub const CHALLENGE_TTL: Duration = Duration::minutes(5);
/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;
/// What the password step of an account with a second factor answers when the token is unknown,
/// spent, expired, or of another flow.
pub const CHALLENGE_NOT_FOUND: ServiceError = ServiceError::Unauthorized(
    "invalid_mfa_token",
    "the mfa_token is unknown, expired or already used; log in again",
);
/// A second factor that is not right (counted toward the account's lockout).
pub const WRONG_FACTOR: ServiceError =
    ServiceError::Unauthorized("invalid_mfa_code", "the code is not right, or was already used");

/// What a second-factor step presents.
#[derive(Debug, Clone)]
pub enum Factor {
    /// A 6-digit code of the authenticator app.
    Totp(String),
    /// One of the recovery codes.
    Recovery(String),
    /// A passkey's answer to a challenge handed out before.
    Passkey(Box<Assertion>),
}

/// A second factor as a person types it into one field (the hosted second-factor page, the
/// account page): six digits are the app's code, anything else a recovery code.
pub fn factor_of(code: &str) -> Factor {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Factor::Totp(digits)
    } else {
        Factor::Recovery(code.to_owned())
    }
}

/// A second factor that was right: its RFC 8176 method (`otp` for the app's code and a recovery
/// code, both one-time passwords; `hwk` or `swk` for a passkey) and, for a recovery code, the
/// mail to send once the change commits.
#[derive(Debug)]
pub struct Checked {
    pub method: &'static str,
    pub mail: Option<Mail>,
}

/// What a challenge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Enroll,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Enroll => "enroll",
        }
    }
}

/// A new authenticator app, shown once.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// Base32, for typing into the app.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// Which second factors an account has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub totp: bool,
    pub passkeys: u64,
    pub recovery_codes_left: u64,
}

impl Status {
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }

    /// The methods a `mfa_required` answer lists.
    pub fn methods(&self) -> Vec<String> {
        let mut methods = Vec::new();
        if self.totp {
            methods.push("totp".to_owned());
        }
        if self.passkeys > 0 {
            methods.push("webauthn".to_owned());
        }
        if self.recovery_codes_left > 0 {
            methods.push("recovery_code".to_owned());
        }
        methods
    }
}

pub struct MfaService {
    db: Db,
    changes: Changes,
    sealer: Arc<Sealer>,
    mailer: SharedMailer,
    /// The label authenticator apps show beside the account (`otpauth://` issuer).
    label: String,
    /// The WebAuthn relying party of the public URL (`None`: passkeys are off).
    webauthn: Option<webauthn_rs::Webauthn>,
}

impl MfaService {
    pub fn new(db: Db, changes: Changes, sealer: Arc<Sealer>, mailer: SharedMailer, config: &Config) -> Self {
        let host = url::Url::parse(&config.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let label = match host {
            Some(host) if !host.contains(':') => format!("guildhall ({host})"),
            _ => "guildhall".to_owned(),
        };
        let webauthn = passkeys::relying_party(&config.oidc.public_url);
        if webauthn.is_none() {
            tracing::info!(public_url = %config.oidc.public_url, "passkeys are off: the public URL's host is not a domain name");
        }
        Self {
            db,
            changes,
            sealer,
            mailer,
            label,
            webauthn,
        }
    }

    /// Whether the account has a second factor (what every password login asks).
    pub async fn has_factor(&self, user_id: Uuid) -> Result<bool> {
        Ok(store::mfa::has_factor(&self.db, user_id).await?)
    }

    async fn has_factor_in(&self, change: &Change, user_id: Uuid) -> Result<bool> {
        Ok(store::mfa::has_factor(change.tx(), user_id).await?)
    }

    pub async fn status(&self, user_id: Uuid) -> Result<Status> {
        Ok(Status {
            totp: store::mfa::has_totp(&self.db, user_id).await?,
            passkeys: store::passkeys::count(&self.db, user_id).await?,
            recovery_codes_left: store::mfa::recovery_codes_left(&self.db, user_id).await?,
        })
    }

    /// Starts enrolling an authenticator app: a new, unconfirmed secret (replacing an unconfirmed
    /// one); 409 `totp_already_enrolled` when one is confirmed.
    pub async fn enroll_totp(&self, user_id: Uuid) -> Result<Enrolment> {
        let user = &self.user(user_id).await?;
        if store::mfa::has_totp(&self.db, user.id).await? {
            return Err(ServiceError::Conflict(
                "totp_already_enrolled",
                "an authenticator app is enrolled; remove it first (DELETE /auth/mfa/totp)",
            ));
        }
        let mut bytes = [0u8; 20];
        aws_lc_rs::rand::fill(&mut bytes).map_err(no_randomness)?;
        let secret = Secret::from(bytes.to_vec()).to_base32();
        let enrolment = self.describe(&secret, &user.email)?;
        let change = self.changes.begin().await?;
        store::mfa::put_totp(change.tx(), &self.sealer, user.id, &secret, change.now()).await?;
        change.commit().await?;
        Ok(enrolment)
    }

    /// A secret as an app takes it: base32, an `otpauth://` URI, and that URI as a QR code.
    fn describe(&self, secret: &str, account: &str) -> Result<Enrolment> {
        let otpauth_uri = self
            .totp(secret, account)?
            .to_url()
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("otpauth URI: {e}")))?;
        let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("QR code: {e}")))?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build();
        Ok(Enrolment {
            secret: secret.to_owned(),
            otpauth_uri,
            qr_svg,
        })
    }

    /// The authenticator app being enrolled (not confirmed yet), shown again: the hosted page
    /// asks for its first code until one is right. `None` once confirmed, or if none was started.
    pub async fn enrolment_in_progress(&self, user_id: Uuid) -> Result<Option<Enrolment>> {
        let user = self.user(user_id).await?;
        match store::mfa::totp(&self.db, &self.sealer, user_id).await? {
            Some(t) if t.confirmed_at.is_none() => Ok(Some(self.describe(t.secret.expose_secret(), &user.email)?)),
            _ => Ok(None),
        }
    }

    /// Starts enrolling an authenticator app with the token of a login whose organisation
    /// requires one (`mfa_enrollment_required`).
    pub async fn enroll_with_token(&self, token: &str) -> Result<Enrolment> {
        let challenge = self.live_challenge(token, API_FLOW, Purpose::Enroll).await?;
        self.enroll_totp(challenge.user_id).await
    }

    /// The caller confirms the app they enrolled last with its first code: their new recovery
    /// codes (shown once).
    pub async fn confirm(&self, caller: &Caller, code: &str) -> Result<Vec<String>> {
        let user = self.user(caller.user_id).await?;
        let mut change = self.changes.begin().await?;
        let codes = self.confirm_totp(&mut change, &user, code, &caller.actor()).await?;
        change.commit().await?;
        Ok(codes)
    }

    /// Confirms the app enrolled last with its first code, inside `change`; the new recovery
    /// codes (shown once).
    pub async fn confirm_totp(
        &self,
        change: &mut Change,
        user: &User,
        code: &str,
        actor: &Actor,
    ) -> Result<Vec<String>> {
        let Some(stored) = store::mfa::totp(change.tx(), &self.sealer, user.id).await? else {
            return Err(ServiceError::Conflict(
                "totp_not_started",
                "start enrolling an authenticator app first (POST /auth/mfa/totp)",
            ));
        };
        if stored.confirmed_at.is_some() {
            return Err(ServiceError::Conflict(
                "totp_already_enrolled",
                "the authenticator app is already confirmed",
            ));
        }
        let step = self.matching_step(stored.secret.expose_secret(), &user.email, code, change)?;
        if !store::mfa::accept_step(change.tx(), user.id, step).await?
            || !store::mfa::confirm_totp(change.tx(), user.id, change.now()).await?
        {
            return Err(WRONG_FACTOR);
        }
        let codes = self.new_recovery_codes(change, user.id).await?;
        change.audit(
            Audit::new(actor, "mfa.enroll")
                .target("user", user.id)
                .detail(serde_json::json!({"method": "totp"})),
        );
        change.event(
            user.default_org_id,
            Event::MfaEnrolled {
                user: user.id,
                method: "totp",
            },
        );
        change.user_changed(user.id);
        Ok(codes)
    }

    /// Checks a second factor of `user` inside `change`: the code is claimed (never accepted
    /// again); a recovery code is spent, audited and mailed about after the change commits; a
    /// passkey's challenge is spent.
    pub async fn check(&self, change: &mut Change, user: &User, factor: &Factor, actor: &Actor) -> Result<Checked> {
        let otp = |mail| Checked { method: "otp", mail };
        match factor {
            Factor::Totp(code) => {
                let Some(stored) = store::mfa::totp(change.tx(), &self.sealer, user.id).await? else {
                    return Err(WRONG_FACTOR);
                };
                if stored.confirmed_at.is_none() {
                    return Err(WRONG_FACTOR);
                }
                let step = self.matching_step(stored.secret.expose_secret(), &user.email, code, change)?;
                if !store::mfa::accept_step(change.tx(), user.id, step).await? {
                    return Err(WRONG_FACTOR);
                }
                Ok(otp(None))
            }
            Factor::Recovery(code) => {
                let digest = crypto::token_digest(&normalize_recovery_code(code));
                if !store::mfa::use_recovery_code(change.tx(), user.id, &digest, change.now()).await? {
                    return Err(WRONG_FACTOR);
                }
                let left = store::mfa::recovery_codes_left(change.tx(), user.id).await?;
                change.audit(
                    Audit::new(actor, "mfa.recovery_code.use")
                        .target("user", user.id)
                        .detail(serde_json::json!({"left": left})),
                );
                Ok(otp(Some(recovery_mail(&user.email, left))))
            }
            Factor::Passkey(assertion) => Ok(Checked {
                method: self.check_passkey(change, user, assertion).await?,
                mail: None,
            }),
        }
    }

    /// Sends a mail after its change committed.
    pub fn send(&self, mail: Mail) {
        crate::service::consent::send(&self.mailer, mail, "recovery code notice");
    }

    /// New recovery codes for the user (the old ones stop working), after a fresh factor.
    pub async fn regenerate(&self, caller: &Caller, fresh: &Factor) -> Result<Vec<String>> {
        let (user, actor) = (&self.user(caller.user_id).await?, &caller.actor());
        let mut change = self.changes.begin().await?;
        let checked = self.require_fresh_factor(&mut change, user, fresh, actor).await?;
        let codes = self.new_recovery_codes(&mut change, user.id).await?;
        change.audit(Audit::new(actor, "mfa.recovery_codes.regenerate").target("user", user.id));
        change.commit().await?;
        if let Some(mail) = checked.mail {
            self.send(mail);
        }
        Ok(codes)
    }

    /// Removes the authenticator app (and the recovery codes, if no passkey is left), after a
    /// fresh factor.
    pub async fn remove_totp(&self, caller: &Caller, fresh: &Factor) -> Result<()> {
        let (user, actor) = (&self.user(caller.user_id).await?, &caller.actor());
        let mut change = self.changes.begin().await?;
        if !store::mfa::has_totp(change.tx(), user.id).await? {
            return Err(ServiceError::Conflict(
                "mfa_not_enrolled",
                "no authenticator app is enrolled",
            ));
        }
        let checked = self.require_fresh_factor(&mut change, user, fresh, actor).await?;
        store::mfa::delete_totp(change.tx(), user.id).await?;
        if !self.has_factor_in(&change, user.id).await? {
            store::mfa::delete_recovery_codes(change.tx(), user.id).await?;
        }
        change.audit(
            Audit::new(actor, "mfa.remove")
                .target("user", user.id)
                .detail(serde_json::json!({"method": "totp"})),
        );
        change.event(
            user.default_org_id,
            Event::MfaRemoved {
                user: user.id,
                method: "totp",
            },
        );
        change.user_changed(user.id);
        change.commit().await?;
        if let Some(mail) = checked.mail {
            self.send(mail);
        }
        Ok(())
    }

    /// An organisation's admin removes every second factor of a member (an owner's only with
    /// an owner's powers): the member's sessions and pending challenges end; audited, and an
    /// `mfa.reset` event. 404 for anyone not a member of the organisation.
    pub async fn reset(&self, caller: &Caller, org: OrgId, user: UserId) -> Result<()> {
        let admin = caller.admin_of(org.uuid())?;
        let (org, user) = (admin.org_id(), user.uuid());
        let mut change = self.changes.begin().await?;
        if !store::members::is_member(change.tx(), org, user).await? {
            return Err(ServiceError::NotFound("user not found"));
        }
        owners::guard_owner(change.tx(), caller, admin, user).await?;
        let had = store::mfa::delete_totp(change.tx(), user).await?;
        let passkeys = store::passkeys::delete_all(change.tx(), user).await?;
        let codes = store::mfa::delete_recovery_codes(change.tx(), user).await?;
        store::mfa::spend_challenges_of(change.tx(), user, change.now()).await?;
        change.end_sessions(SessionsOf::User(user), "mfa_reset").await?;
        change.audit(
            Audit::new(&caller.actor(), "mfa.reset")
                .org(org)
                .target("user", user)
                .detail(serde_json::json!({"had_factors": had || passkeys > 0 || codes > 0})),
        );
        change.event(
            org,
            Event::MfaReset {
                user,
                by: Some(caller.user_id),
            },
        );
        change.user_changed(user);
        change.commit().await
    }

    async fn user(&self, id: Uuid) -> Result<User> {
        store::users::find(&self.db, id)
            .await?
            .filter(|u| u.active)
            .ok_or(ServiceError::NotFound("user not found"))
    }

    /// Leaves a challenge for the second step of a login: its token.
    pub async fn challenge(
        &self,
        user: Uuid,
        purpose: Purpose,
        flow: &str,
        organization: Option<String>,
        methods: &[&str],
    ) -> Result<String> {
        let token = crypto::random_token().map_err(no_randomness)?;
        let now = self.changes.now();
        let challenge = Challenge {
            id: Uuid::now_v7(),
            user_id: user,
            purpose: purpose.as_str().to_owned(),
            flow: flow.to_owned(),
            organization,
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            expires_at: now + CHALLENGE_TTL,
        };
        store::mfa::insert_challenge(&self.db, &crypto::token_digest(&token), &challenge, now).await?;
        Ok(token)
    }

    /// The live challenge of `token` for this flow and purpose, or `CHALLENGE_NOT_FOUND`.
    pub async fn live_challenge(&self, token: &str, flow: &str, purpose: Purpose) -> Result<Challenge> {
        let found = store::mfa::live_challenge(&self.db, &crypto::token_digest(token), self.changes.now()).await?;
        found
            .filter(|c| c.flow == flow && c.purpose == purpose.as_str())
            .ok_or(CHALLENGE_NOT_FOUND)
    }

    /// Spends a challenge inside `change`; `CHALLENGE_NOT_FOUND` if another request did first.
    pub async fn spend(&self, change: &Change, challenge: &Challenge) -> Result<()> {
        if store::mfa::spend_challenge(change.tx(), challenge.id, change.now()).await? {
            Ok(())
        } else {
            Err(CHALLENGE_NOT_FOUND)
        }
    }

    /// A fresh factor for changing factors: a code of the app, a passkey or a recovery code.
    async fn require_fresh_factor(
        &self,
        change: &mut Change,
        user: &User,
        fresh: &Factor,
        actor: &Actor,
    ) -> Result<Checked> {
        if !self.has_factor_in(change, user.id).await? {
            return Err(ServiceError::Conflict(
                "mfa_not_enrolled",
                "no second factor is enrolled",
            ));
        }
        self.check(change, user, fresh, actor).await
    }

    async fn new_recovery_codes(&self, change: &mut Change, user: Uuid) -> Result<Vec<String>> {
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            codes.push(new_recovery_code()?);
        }
        let digests: Vec<String> = codes
            .iter()
            .map(|c| crypto::token_digest(&normalize_recovery_code(c)))
            .collect();
        store::mfa::replace_recovery_codes(change.tx(), user, &digests, change.now()).await?;
        Ok(codes)
    }

    fn totp(&self, secret_base32: &str, account: &str) -> Result<Totp> {
        let secret = Secret::try_from_base32(secret_base32)
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("stored TOTP secret: {e:?}")))?;
        // `:` separates issuer and account in an otpauth label.
        let account = account.replace(':', "_");
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_step_duration(30)
            .with_skew(1)
            .with_secret(secret)
            .with_issuer(Some(self.label.as_str()))
            .with_account_name(account)
            .build()
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("TOTP: {e:?}")))
    }

    /// The time step `code` matches now (±1 step), or `WRONG_FACTOR`.
    fn matching_step(&self, secret: &str, account: &str, code: &str, change: &Change) -> Result<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WRONG_FACTOR);
        }
        let now = u64::try_from(change.now().timestamp()).unwrap_or(0);
        let step = self.totp(secret, account)?.check(&code, now).ok_or(WRONG_FACTOR)?;
        i64::try_from(step).map_err(|_| WRONG_FACTOR)
    }
}

/// A recovery code: 80 random bits as 16 base32 letters and digits, in groups of four.
fn new_recovery_code() -> Result<String> {
    let mut bytes = [0u8; 10];
    aws_lc_rs::rand::fill(&mut bytes).map_err(no_randomness)?;
    let text = base32_lower(&bytes);
    Ok(format!(
        "{}-{}-{}-{}",
        &text[0..4],
        &text[4..8],
        &text[8..12],
        &text[12..16]
    ))
}

fn base32_lower(bytes: &[u8]) -> String {
    Secret::from(bytes.to_vec()).to_base32().to_lowercase()
}

/// A recovery code as typed: case, spaces and dashes do not matter.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn recovery_mail(email: &str, left: u64) -> Mail {
    Mail {
        to: email.to_owned(),
        subject: "A recovery code of your account was used".into(),
        body: format!(
            "A recovery code was just used to log in to the account {email} instead of its authenticator app.\r\n\r\n\
             {left} recovery codes are left.\r\n\r\n\
             If this was not you, change your password and generate new recovery codes now.\r\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits there; 6 digits are the last six).
    #[test]
    fn totp_matches_the_rfc_6238_test_vectors() {
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(8)
            .with_step_duration(30)
            .with_skew(0)
            .with_secret(b"12345678901234567890".to_vec())
            .build()
            .unwrap();
        for (time, code) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), code, "at {time}");
        }
    }

    #[test]
    fn recovery_codes_are_80_bits_in_groups_and_typed_loosely() {
        let a = new_recovery_code().unwrap();
        let b = new_recovery_code().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert_eq!(a.matches('-').count(), 3);
        assert_eq!(
            normalize_recovery_code(&a.to_uppercase().replace('-', " ")),
            a.replace('-', "")
        );
    }
}
