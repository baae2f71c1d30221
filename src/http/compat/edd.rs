//! Seed 001 (edd-cloud): `/login`, `/logout`, `/me` at the root. The native shapes plus `token`
//! (the access token) on login, and `user_id` (the account's number) and `display_name` on `/me`.
use crate::http::auth::{LoginRequest, LogoutRequest};
use crate::http::dto::{TokenResponse, UserView};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, Auth, Bearer, OptionalJson};
use crate::http::state::AppState;
use crate::model::ClientInfo;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
pub struct EddLogin {
    /// The access token again, under seed 001's name.
    pub token: String,
    #[serde(flatten)]
    pub tokens: TokenResponse,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EddMe {
    #[serde(flatten)]
    pub user: UserView,
    /// The account's number (seed 001's integer `user_id`).
    pub user_id: i32,
    pub display_name: String,
}

/// `{username or email, password}` → the native token response plus `token`; the access token
/// also carries seed 001's `user_id`, `username` and `display_name`.
#[utoipa::path(post, path = "/login", tag = "compat", request_body = LoginRequest,
    responses((status = 200, body = EddLogin), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<EddLogin>> {
    let tokens = TokenResponse::from(state.edd.login(body.parse()?, client).await?);
    Ok(Json(EddLogin {
        token: tokens.access_token.clone(),
        tokens,
    }))
}

/// Ends the session (as `/auth/logout`).
#[utoipa::path(post, path = "/logout", tag = "compat", request_body(content = Option<LogoutRequest>),
    security((), ("bearer" = [])), responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    state: State<AppState>,
    bearer: Bearer,
    body: OptionalJson<LogoutRequest>,
) -> ApiResult<StatusCode> {
    crate::http::auth::logout(state, bearer, body).await
}

#[utoipa::path(get, path = "/me", tag = "compat", security(("bearer" = [])),
    responses((status = 200, body = EddMe), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<EddMe>> {
    let (context, number) = state.cl.context_with_number(&caller).await?;
    Ok(Json(EddMe {
        user: context.as_ref().into(),
        user_id: number,
        display_name: context.user.display_name.clone(),
    }))
}
