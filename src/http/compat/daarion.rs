//! Seed 000 (DAARION): `/api/auth/*`. The native shapes plus what its clients read:
//! `display_name`, `is_admin` and `matrix_user_id` (null unless Synapse provisioned one).
use crate::http::dto::{LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, UserView, ValidateRequest};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, Auth, OptionalJson, TokenInput};
use crate::http::state::AppState;
use crate::model::{ClientInfo, MembershipContext};
use crate::service::FieldError;
use crate::service::auth::Login;
use crate::service::compat::daarion::DaarionGrant;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
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
    fn new(context: &MembershipContext, matrix_user_id: Option<String>) -> Self {
        Self {
            user: context.into(),
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
    let grant = state.daarion.register(body.into(), client).await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "compat", request_body = LoginRequest,
    responses((status = 200, body = DaarionTokens), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<DaarionTokens>> {
    let input = Login {
        login: body.email.or(body.username).or(body.login).unwrap_or_default(),
        password: body.password,
        organization: body.organization,
    };
    Ok(Json(state.daarion.login(input, client).await?.into()))
}

/// Rotates the refresh token (the old one is spent).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "compat", request_body = RefreshRequest,
    responses((status = 200, body = DaarionTokens), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<DaarionTokens>> {
    if body.organization.is_some() {
        let field = FieldError {
            field: "organization".into(),
            message: "switch organisation with POST /auth/refresh".into(),
        };
        return Err(ApiError::Validation(vec![field]));
    }
    Ok(Json(state.daarion.refresh(&body.refresh_token).await?.into()))
}

/// Ends the session of the bearer token or of `{refresh_token}` (as `/auth/logout`).
#[utoipa::path(post, path = "/api/auth/logout", tag = "compat", request_body(content = Option<LogoutRequest>),
    security((), ("bearer" = [])), responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    state: State<AppState>,
    headers: HeaderMap,
    body: OptionalJson<LogoutRequest>,
) -> ApiResult<StatusCode> {
    crate::http::auth::logout(state, headers, body).await
}

#[utoipa::path(get, path = "/api/auth/me", tag = "compat", security(("bearer" = [])),
    responses((status = 200, body = DaarionUser), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<DaarionUser>> {
    let (context, matrix) = state.daarion.me(&caller).await?;
    Ok(Json(DaarionUser::new(&context, matrix)))
}

/// `{token}` (or a bearer) → `{"active": true, ...claims}` with the current roles, or exactly
/// `{"active": false}`. No client credentials, like seed 000's internal endpoint.
#[utoipa::path(post, path = "/api/auth/introspect", tag = "compat", request_body = ValidateRequest,
    responses((status = 200, description = "`active` and the token's claims"), (status = 422, body = ErrorBody)))]
pub async fn introspect(State(state): State<AppState>, TokenInput(token): TokenInput) -> ApiResult<Json<Value>> {
    let token = token.ok_or_else(|| {
        ApiError::Validation(vec![FieldError {
            field: "token".into(),
            message: "is required".into(),
        }])
    })?;
    let Some((claims, context)) = state.daarion.introspect(&token).await? else {
        return Ok(Json(json!({"active": false})));
    };
    let mut answer = serde_json::to_value(&claims).map_err(|_| ApiError::Internal)?;
    if let Value::Object(map) = &mut answer {
        map.insert("active".into(), json!(true));
        map.insert("email".into(), json!(context.user.email));
        map.insert("name".into(), json!(context.user.display_name));
        map.insert("roles".into(), json!(context.roles));
        map.insert("permissions".into(), json!(context.permissions));
    }
    Ok(Json(answer))
}
