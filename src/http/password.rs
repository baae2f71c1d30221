//! `/auth/password/*`: password reset by a mailed single-use token (seed 004).
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::extract::Auth;
use super::schema;
use super::state::AppState;
use crate::config::PasswordPolicy;
use crate::model::ClientInfo;
use crate::model::input::{Email, Invalid, Password, Problems, presented_password};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    #[schema(value_type = schema::Email)]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The token from the reset message.
    #[schema(value_type = schema::NotBlank)]
    pub token: String,
    /// Also accepted as `password`.
    #[serde(alias = "password")]
    #[schema(value_type = schema::NewPassword)]
    pub new_password: String,
}

impl ResetRequest {
    fn parse(self, policy: &PasswordPolicy) -> Result<(String, Password), Invalid> {
        let mut problems = Problems::default();
        let token = self.token.trim().to_owned();
        if token.is_empty() {
            problems.add("token", "is required");
        }
        let password = problems.check("new_password", Password::new(self.new_password, policy));
        let (password,) = problems.done((password,))?;
        Ok((token, password))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    #[schema(value_type = crate::http::schema::Password)]
    pub current_password: String,
    #[schema(value_type = crate::http::schema::NewPassword)]
    pub new_password: String,
}

impl ChangeRequest {
    fn parse(self, policy: &PasswordPolicy) -> Result<(SecretString, Password), Invalid> {
        let mut problems = Problems::default();
        let current = problems.check("current_password", presented_password(self.current_password));
        let new = problems.check("new_password", Password::new(self.new_password, policy));
        problems.done((current, new))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Detail {
    pub detail: &'static str,
}

/// Always 202 with the same answer, whether or not the account exists; an existing, active
/// account is sent a single-use token (by SMTP; without `AUTH_SMTP_URL`, logged in development).
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotRequest,
    responses((status = 202, body = Detail), (status = 422, body = ErrorBody)))]
pub async fn forgot(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<ForgotRequest>,
) -> Result<(StatusCode, Json<Detail>), ApiError> {
    state
        .passwords
        .forgot(Email::parse_field("email", &body.email)?, client)
        .await?;
    let detail = "If an account with this email exists, a message with a reset token is on its way.";
    Ok((StatusCode::ACCEPTED, Json(Detail { detail })))
}

/// Sets a new password with the token; the token is spent and every session of the user ends.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetRequest,
    responses((status = 200, body = Detail), (status = 422, body = ErrorBody)))]
pub async fn reset(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<Json<Detail>, ApiError> {
    let (token, password) = body.parse(&state.config.password_policy)?;
    state.passwords.reset(&token, password, client).await?;
    Ok(Json(Detail {
        detail: "The password has been changed; every session has ended, so sign in again.",
    }))
}

/// The caller changes their own password; every other session of theirs ends (this one stays).
#[utoipa::path(post, path = "/auth/password/change", tag = "auth", request_body = ChangeRequest, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn change(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<ChangeRequest>,
) -> Result<StatusCode, ApiError> {
    let (current, new) = body.parse(&state.config.password_policy)?;
    state.auth.change_password(&caller, current, new).await?;
    Ok(StatusCode::NO_CONTENT)
}
