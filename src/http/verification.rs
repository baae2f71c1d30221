//! `/auth/email/verify*`: proving an address with the token mailed to it.
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Bearer, OptionalJson};
use super::password::Detail;
use super::state::AppState;
use crate::model::ClientInfo;
use crate::model::input::Email;
use crate::service::authn::Credential;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The token from the verification mail.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    pub email: String,
    pub email_verified: bool,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// Without a bearer: the address to mail (the answer is the same whether or not an
    /// unverified account has it).
    #[serde(default)]
    pub email: Option<String>,
}

/// Spends a verification token; the address it was mailed to is verified. Unknown, expired or
/// used tokens are one 404.
#[utoipa::path(post, path = "/auth/email/verify", tag = "auth", request_body = VerifyRequest,
    responses((status = 200, body = Verified), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Json<Verified>, ApiError> {
    let user = state.verification.verify(&body.token, client).await?;
    Ok(Json(Verified {
        email: user.email,
        email_verified: user.email_verified,
    }))
}

/// Mails a new verification token to the caller's address (or, without a bearer, to `email`);
/// at most one a minute per address. 409 `email_already_verified` for a bearer whose address is
/// verified.
#[utoipa::path(post, path = "/auth/email/verify/resend", tag = "auth", request_body(content = Option<ResendRequest>),
    security((), ("bearer" = [])),
    responses((status = 202, body = Detail), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn resend(
    State(state): State<AppState>,
    client: ClientInfo,
    Bearer(bearer): Bearer,
    OptionalJson(body): OptionalJson<ResendRequest>,
) -> Result<(StatusCode, Json<Detail>), ApiError> {
    match (bearer, body.and_then(|b| b.email)) {
        (Some(token), _) => {
            let caller = state.authn.caller(Credential::Bearer(&token)).await?;
            state.verification.resend(&caller).await?;
        }
        (None, Some(email)) => {
            let email = Email::parse_field("email", &email)?;
            state.verification.resend_by_email(email, client).await?;
        }
        (None, None) => return Err(ApiError::Unauthorized("not_authenticated", "Not authenticated".into())),
    }
    let detail = "If the address is not verified yet, a message with a verification token is on its way.";
    Ok((StatusCode::ACCEPTED, Json(Detail { detail })))
}
