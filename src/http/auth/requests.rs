//! What clients send to `/auth/*` (and the seed services' equivalents), and how each request
//! becomes a service's typed input: every field checked at once, a 422 naming each problem.
use crate::config::PasswordPolicy;
use crate::http::error::ApiError;
use crate::http::extract::{OptionalJson, bearer};
use crate::http::schema;
use crate::model::input::{DisplayName, Email, Invalid, Password, Problems, Username};
use crate::service::auth::{Login, Registration};
use axum::extract::{FromRequest, Request};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(value_type = schema::Email)]
    pub email: String,
    #[schema(value_type = schema::NewPassword)]
    pub password: String,
    /// Display name (also accepted as `display_name` or `full_name`); defaults to the email's local part.
    #[serde(default, alias = "display_name", alias = "full_name")]
    #[schema(value_type = Option<schema::DisplayName>)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<schema::Username>)]
    pub username: Option<String>,
    /// Organisation slug; only the default organisation is open for self-registration (403 otherwise).
    #[serde(default)]
    pub organization: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email, or username; `username` and `login` are accepted too.
    #[serde(default)]
    #[schema(value_type = Option<schema::LoginName>)]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<schema::LoginName>)]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<schema::LoginName>)]
    pub login: Option<String>,
    #[schema(value_type = schema::Password)]
    pub password: String,
    /// Organisation slug; default: the last one used.
    #[serde(default)]
    pub organization: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
    /// Switch to this organisation (slug).
    #[serde(default)]
    pub organization: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /auth/token`, OAuth 2.0 form fields: `username` and `password` for the `password`
/// grant, `refresh_token` for `refresh_token`, the client's credentials (HTTP Basic, or
/// `client_id` and `client_secret`) for `client_credentials`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// `password` (the default), `refresh_token` or `client_credentials`; another is a 400
    /// `unsupported_grant_type`.
    #[serde(default)]
    #[schema(nullable = false, value_type = Option<GrantType>)]
    pub grant_type: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub password: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
    /// Organisation slug.
    #[serde(default)]
    #[schema(nullable = false)]
    pub organization: Option<String>,
    /// Ignored.
    #[serde(default)]
    #[schema(nullable = false)]
    pub scope: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub client_secret: Option<String>,
}

/// The grants `POST /auth/token` serves.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum GrantType {
    Password,
    RefreshToken,
    ClientCredentials,
}

/// Optional: without a body (or without `token`), the `Authorization: Bearer` token is validated.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ValidateRequest {
    /// The access token; `Authorization: Bearer` works too.
    #[serde(default)]
    pub token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct IntrospectForm {
    pub token: String,
    /// Ignored (RFC 7662 §2.1).
    #[serde(default)]
    #[schema(nullable = false)]
    pub token_type_hint: Option<String>,
}

impl RegisterRequest {
    pub fn parse(self, policy: &PasswordPolicy) -> Result<Registration, Invalid> {
        let mut problems = Problems::default();
        let email = problems.parse::<Email>("email", &self.email);
        let password = problems.check("password", Password::new(self.password, policy));
        let name = problems.parse_opt::<DisplayName>("name", self.name.as_deref());
        let username = problems.parse_opt::<Username>("username", self.username.as_deref());
        let (email, password, name, username) = problems.done((email, password, name, username))?;
        Ok(Registration {
            email,
            password,
            name,
            username,
            organization: self.organization,
        })
    }
}

impl LoginRequest {
    /// `email`, `username` or `login` names the account.
    pub fn parse(self) -> Result<Login, Invalid> {
        Login::parse(
            self.email.or(self.username).or(self.login),
            self.password,
            self.organization,
        )
    }
}

/// What `POST /auth/token` is asked for.
pub enum TokenRequest {
    Password(Login),
    Refresh {
        token: String,
        organization: Option<String>,
    },
    ClientCredentials {
        id: String,
        secret: String,
    },
}

/// Why a token request cannot be served before anything is looked up.
pub enum TokenRequestError {
    Invalid(Invalid),
    UnsupportedGrant,
    NoClientCredentials,
}

impl From<Invalid> for TokenRequestError {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e)
    }
}

impl TokenForm {
    /// The grant asked for (`password` by default); HTTP Basic credentials win over the form's.
    pub fn parse(self, basic: Option<(String, String)>) -> Result<TokenRequest, TokenRequestError> {
        let missing = |field: &str| Invalid::field(field, "is required");
        match self.grant_type.as_deref().unwrap_or("password") {
            "password" => {
                let login = self.username.ok_or_else(|| missing("username"))?;
                let password = self.password.ok_or_else(|| missing("password"))?;
                Ok(TokenRequest::Password(Login::parse(
                    Some(login),
                    password,
                    self.organization,
                )?))
            }
            "refresh_token" => Ok(TokenRequest::Refresh {
                token: self.refresh_token.ok_or_else(|| missing("refresh_token"))?,
                organization: self.organization,
            }),
            "client_credentials" => {
                let form = self.client_id.zip(self.client_secret);
                let (id, secret) = basic.or(form).ok_or(TokenRequestError::NoClientCredentials)?;
                Ok(TokenRequest::ClientCredentials { id, secret })
            }
            _ => Err(TokenRequestError::UnsupportedGrant),
        }
    }
}

impl From<TokenRequestError> for ApiError {
    fn from(e: TokenRequestError) -> Self {
        match e {
            TokenRequestError::Invalid(invalid) => invalid.into(),
            TokenRequestError::UnsupportedGrant => Self::BadRequest(
                "unsupported_grant_type",
                "grant_type must be password, refresh_token or client_credentials".into(),
            ),
            TokenRequestError::NoClientCredentials => {
                Self::Unauthorized("invalid_client", "client authentication failed".into())
            }
        }
    }
}

/// The token of a `{"token": ...}` JSON body, or else of `Authorization: Bearer` (validation and
/// introspection). The headers are read in place: a `HeaderMap` argument beside the body would
/// be a copy of them on every call of the hottest route.
pub struct TokenInput(pub Option<String>);

impl TokenInput {
    /// The token, or a 422 saying where to put it.
    pub fn required(self) -> Result<String, Invalid> {
        self.0
            .ok_or_else(|| Invalid::field("token", "is required (or send Authorization: Bearer)"))
    }
}

impl<S: Send + Sync> FromRequest<S> for TokenInput {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bearer = bearer(req.headers()).map(String::from);
        let OptionalJson(body) = OptionalJson::<ValidateRequest>::from_request(req, state).await?;
        Ok(Self(body.and_then(|b| b.token).or(bearer)))
    }
}
