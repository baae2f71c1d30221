//! `POST {base}/auth/validate`: the user's current context from guildhall, or its reason for
//! refusing the token (`{"valid": false, "error": code}` becomes that [`TokenError`]).
use crate::context::{Org, Source, Team, UserContext};
use crate::error::{Error, TokenError};
use crate::fetch;
use crate::token::Claims;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Answer {
    valid: bool,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: Uuid,
    email: String,
    #[serde(default)]
    username: Option<String>,
    name: String,
    org: Org,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    teams: Vec<Team>,
    #[serde(default)]
    domains: Vec<Domain>,
}

/// `/auth/validate` answers domain objects; a token carries paths. Both mean a path.
#[derive(Deserialize)]
#[serde(untagged)]
enum Domain {
    Path(String),
    Node { path: String },
}

impl Domain {
    fn into_path(self) -> String {
        match self {
            Self::Path(path) | Self::Node { path } => path,
        }
    }
}

/// Asks guildhall about `token`, whose (unverified or verified) `claims` supply the session and `mv`.
pub(crate) async fn validate(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    claims: &Claims,
) -> Result<UserContext, Error> {
    let response = client
        .post(url)
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .map_err(|e| Error::Unavailable(format!("POST {url}: {}", fetch::describe(&e))))?;
    let answer: Answer = fetch::read_json(response, url).await.map_err(Error::Unavailable)?;
    let user = match answer {
        Answer {
            valid: true,
            user: Some(user),
            ..
        } => user,
        Answer { valid: true, .. } => return Err(Error::Unavailable(format!("{url} answered valid without a user"))),
        Answer { error, .. } => {
            return Err(TokenError::from_code(error.as_deref().unwrap_or("invalid_token")).into());
        }
    };
    let Some(session_id) = claims.sid else {
        return Err(TokenError::NotAUserToken.into());
    };
    if user.id != claims.sub || user.org.id != claims.org.id {
        return Err(Error::Unavailable(format!(
            "{url} answered for another user or organisation"
        )));
    }
    Ok(UserContext {
        user_id: user.id,
        session_id,
        email: user.email,
        name: user.name,
        username: user.username,
        org: user.org,
        roles: user.roles,
        permissions: user.permissions,
        teams: user.teams,
        domains: user.domains.into_iter().map(Domain::into_path).collect(),
        mv: claims.mv,
        source: Source::Validated,
    })
}
