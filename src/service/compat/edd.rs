//! Seed 001 (edd-cloud): its SFS, Compute and Gateway services read `user_id` (the account's
//! number), `username` and `display_name` from the token, so the tokens `/login` mints carry
//! them beside guildhall's claims (`token::Additions`).
use crate::model::{ClientInfo, User};
use crate::service::auth::{AuthService, Grant, Login};
use crate::service::{Result, ServiceError};
use crate::store::{self, Db};
use crate::token::{Additions, Issuer};
use serde_json::{Map, Value};
use std::sync::Arc;

pub struct EddService {
    db: Db,
    auth: Arc<AuthService>,
    tokens: Arc<Issuer>,
}

/// Seed 001's claims of a user: the number, the username (the email when there is none) and
/// the display name.
pub fn claims(user: &User, number: i32) -> Additions {
    let mut claims = Map::new();
    claims.insert("user_id".into(), Value::from(number));
    let username = user.username.clone().unwrap_or_else(|| user.email.clone());
    claims.insert("username".into(), Value::from(username));
    claims.insert("display_name".into(), Value::from(user.display_name.clone()));
    Additions {
        claims,
        ..Additions::default()
    }
}

impl EddService {
    pub fn new(db: Db, auth: Arc<AuthService>, tokens: Arc<Issuer>) -> Self {
        Self { db, auth, tokens }
    }

    /// A password login whose access token carries seed 001's claims (minted again; the first
    /// was never handed out).
    pub async fn login(&self, input: Login, client: ClientInfo) -> Result<Grant> {
        let mut grant = self.auth.login(input, client).await?;
        let number = store::compat::number_of(&self.db, grant.context.user.id)
            .await?
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("an account without a number")))?;
        let additions = claims(&grant.context.user, number);
        let token = self
            .tokens
            .user_token_with(&grant.context, &grant.session, &additions)?;
        grant.access_token = token.token;
        grant.expires_in = token.expires_in;
        Ok(grant)
    }
}
