//! Seed 000 (DAARION): `/api/auth/*`. The native shapes plus what its clients read:
//! `display_name`, `is_admin` and `matrix_user_id` (null unless Synapse provisioned one).
use crate::http::auth::TokenInput;
use crate::http::auth::introspection;
use crate::http::auth::{LoginRequest, LogoutRequest, RegisterRequest, ValidateRequest};
use crate::http::dto::UserView;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, Auth, Bearer, OptionalJson};
use crate::http::state::AppState;
use crate::model::input::Invalid;
use crate::model::{ClientInfo, MembershipContext};
use crate::service::compat::daarion::DaarionGrant;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

type ApiResult<T> = Result<T, ApiError>;

/// The native user view plus seed 000's fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct DaarionUser {
    #[serde(flatten)]
    pub user: UserView,
    pub display_name: String,
    /// Owner or admin of the organisation, or superuser.
    pub is_admin: bool,
    /// `@localpart:server` when a Matrix account was provisioned.
    pub matrix_user_id: Option<String>,
}

impl DaarionUser {
    /// The native view with seed 000's roles (`user` first).
    fn new(context: &MembershipContext, matrix_user_id: Option<String>) -> Self {
        let mut user = UserView::from(context);
        user.roles = crate::service::compat::daarion::roles(&user.roles);
        Self {
            user,
            display_name: context.user.display_name.clone(),
            is_admin: context.is_admin(),
            matrix_user_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DaarionTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    pub expires_in: i64,
    pub user: DaarionUser,
    pub matrix_user_id: Option<String>,
}

impl From<DaarionGrant> for DaarionTokens {
    fn from(g: DaarionGrant) -> Self {
        Self {
            access_token: g.grant.access_token,
            refresh_token: g.grant.refresh_token,
            token_type: "bearer",
            expires_in: g.grant.expires_in,
            user: DaarionUser::new(&g.grant.context, g.matrix_user_id.clone()),
            matrix_user_id: g.matrix_user_id,
        }
    }
}

/// `{email, password, display_name}`; provisions a Matrix account when Synapse is configured.
#[utoipa::path(post, path = "/api/auth/register", tag = "compat", request_body = RegisterRequest,
    responses((status = 201, body = DaarionTokens), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<DaarionTokens>)> {
    let input = body.parse(&state.config.password_policy)?;
    let grant = state.daarion.register(input, client).await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "compat", request_body = LoginRequest,
    responses((status = 200, body = DaarionTokens), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<DaarionTokens>> {
    Ok(Json(state.daarion.login(body.parse()?, client).await?.into()))
}

/// `POST /api/auth/refresh`: seed 000 has no organisations to switch to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DaarionRefresh {
    pub refresh_token: String,
    /// Not here: switch organisation with `POST /auth/refresh` (a 422 otherwise).
    #[serde(default)]
    #[schema(value_type = Option<()>)]
    pub organization: Option<String>,
}

/// Rotates the refresh token (the old one is spent).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "compat", request_body = DaarionRefresh,
    responses((status = 200, body = DaarionTokens), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DaarionRefresh>,
) -> ApiResult<Json<DaarionTokens>> {
    if body.organization.is_some() {
        return Err(Invalid::field("organization", "switch organisation with POST /auth/refresh").into());
    }
    Ok(Json(state.daarion.refresh(&body.refresh_token).await?.into()))
}

/// Ends the session of the bearer token or of `{refresh_token}` (as `/auth/logout`).
#[utoipa::path(post, path = "/api/auth/logout", tag = "compat", request_body(content = Option<LogoutRequest>),
    security((), ("bearer" = [])), responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    state: State<AppState>,
    bearer: Bearer,
    body: OptionalJson<LogoutRequest>,
) -> ApiResult<StatusCode> {
    crate::http::auth::logout(state, bearer, body).await
}

#[utoipa::path(get, path = "/api/auth/me", tag = "compat", security(("bearer" = [])),
    responses((status = 200, body = DaarionUser), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<DaarionUser>> {
    let (context, matrix) = state.daarion.me(&caller).await?;
    Ok(Json(DaarionUser::new(&context, matrix)))
}

/// `{token}` (or, without one, the `Authorization: Bearer` token; a 422 when there is neither) →
/// `{"active": true, ...claims}` with the current roles, or exactly `{"active": false}`. No
/// client credentials, like seed 000's internal endpoint.
#[utoipa::path(post, path = "/api/auth/introspect", tag = "compat", request_body = Option<ValidateRequest>,
    security((), ("bearer" = [])),
    responses((status = 200, description = "`active` and the token's claims")))]
pub async fn introspect(State(state): State<AppState>, token: TokenInput) -> ApiResult<Json<Value>> {
    let token = token.0.ok_or_else(|| Invalid::field("token", "is required"))?;
    Ok(Json(introspection::daarion(state.daarion.introspect(&token).await?)))
}
