//! Minting access tokens: the claims of a user's session in one organisation or of a service
//! account, stamped with the issuer, audience and lifetime, signed with the current key.
use super::claims::{AccessClaims, Additions, Issuance};
use super::keys::KeyStore;
use super::verify::Verifier;
use crate::clock::SharedClock;
use crate::model::{MembershipContext, ServiceAccount, Session};
use chrono::Duration;
use std::sync::Arc;

/// A signed access token and the seconds it lives.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

pub struct Issuer {
    keys: Arc<KeyStore>,
    issuer: String,
    audience: String,
    ttl: Duration,
    claim_budget: usize,
    clock: SharedClock,
}

impl Issuer {
    pub fn new(
        keys: Arc<KeyStore>,
        issuer: &str,
        audience: &str,
        ttl: Duration,
        claim_budget: usize,
        clock: SharedClock,
    ) -> Self {
        Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            claim_budget,
            clock,
        }
    }

    /// A user's token for `session`, carrying `context`; it never outlives the session.
    pub fn user_token(
        &self,
        context: &MembershipContext,
        session: &Session,
    ) -> Result<AccessToken, jsonwebtoken::errors::Error> {
        self.user_token_with(context, session, &Additions::default())
    }

    /// A user's token with a compatibility route's additions (`claims::Additions`).
    pub fn user_token_with(
        &self,
        context: &MembershipContext,
        session: &Session,
        additions: &Additions,
    ) -> Result<AccessToken, jsonwebtoken::errors::Error> {
        let now = self.clock.now();
        let ttl = session.grant.access_ttl.map_or(self.ttl, Duration::seconds);
        let expires_at = (now + ttl).min(session.expires_at);
        let issuance = Issuance {
            issuer: &self.issuer,
            audience: &self.audience,
            now,
            expires_at,
        };
        let mut claims = AccessClaims::for_user(context, session, &issuance, self.claim_budget);
        claims.add(additions);
        Ok(AccessToken {
            token: self.sign(&claims)?,
            expires_in: (expires_at - now).num_seconds(),
        })
    }

    /// A service account's token (client-credentials grant).
    pub fn service_token(
        &self,
        account: &ServiceAccount,
        org_slug: &str,
    ) -> Result<AccessToken, jsonwebtoken::errors::Error> {
        let now = self.clock.now();
        let expires_at = now + self.ttl;
        let issuance = Issuance {
            issuer: &self.issuer,
            audience: &self.audience,
            now,
            expires_at,
        };
        let claims = AccessClaims::for_service(account, org_slug, &issuance);
        Ok(AccessToken {
            token: self.sign(&claims)?,
            expires_in: (expires_at - now).num_seconds(),
        })
    }

    /// An application's own token (client-credentials grant).
    pub fn app_token(
        &self,
        app: &crate::model::Application,
        org_slug: &str,
        scope: Option<String>,
        audience: Option<String>,
    ) -> Result<AccessToken, jsonwebtoken::errors::Error> {
        let now = self.clock.now();
        let ttl = app.access_token_ttl.map_or(self.ttl, Duration::seconds);
        let expires_at = now + ttl;
        let issuance = Issuance {
            issuer: &self.issuer,
            audience: &self.audience,
            now,
            expires_at,
        };
        let claims = AccessClaims::for_app(app, org_slug, scope, audience, &issuance);
        Ok(AccessToken {
            token: self.sign(&claims)?,
            expires_in: (expires_at - now).num_seconds(),
        })
    }

    /// Signs claims with the current key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, jsonwebtoken::errors::Error> {
        let ring = self.keys.current();
        jsonwebtoken::encode(&Verifier::header(&ring), claims, &ring.signing().encoding)
    }
}
