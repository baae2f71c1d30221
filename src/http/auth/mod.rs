//! `/auth/*`: register, login, token, refresh, logout, me, sessions, linked identities, validate,
//! introspect.
pub mod introspection;
pub mod requests;

pub use requests::*;

use super::dto::*;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiForm, ApiJson, ApiPath, ApiQuery, Auth, Bearer, OptionalJson, basic};
use super::state::AppState;
use crate::model::{ClientInfo, IdentityId, LinkedIdentity, SessionId};
use crate::service::authn::Credential;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

type ApiResult<T> = Result<T, ApiError>;

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = TokenResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    let input = body.parse(&state.config.password_policy)?;
    let grant = state.auth.register(input, client).await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    Ok(Json(state.auth.login(body.parse()?, client).await?.into()))
}

/// `POST /auth/token`'s answer: a user's tokens, or a service account's access token.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum TokenAnswer {
    User(Box<TokenResponse>),
    Client(ClientTokenResponse),
}

/// `grant_type=client_credentials`: an access token for the service account, nothing to refresh.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ClientTokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    pub expires_in: i64,
    /// The service account's permissions, space-separated.
    pub scope: String,
}

/// OAuth 2.0 token endpoint: `password` (the default), `refresh_token` or `client_credentials`
/// (HTTP Basic, or `client_id` and `client_secret` in the form).
#[utoipa::path(post, path = "/auth/token", tag = "auth", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("basic" = [])),
    responses((status = 200, body = TokenAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenForm>,
) -> ApiResult<Response> {
    if form.grant_type.is_none() {
        // Seed 002's form login (OAuth 2.0 clients always send a grant_type): FastAPI's errors.
        return Ok(super::compat::cl::form_login(&state, client, form)
            .await
            .into_response());
    }
    let grant = match form.parse(basic(&headers))? {
        TokenRequest::Password(login) => state.auth.login(login, client).await?,
        TokenRequest::Refresh { token, organization } => state.auth.refresh(&token, organization.as_deref()).await?,
        TokenRequest::ClientCredentials { id, secret } => {
            let grant = state.clients.token(&id, &secret).await?;
            return Ok(Json(TokenAnswer::Client(ClientTokenResponse {
                access_token: grant.access_token,
                token_type: "bearer",
                expires_in: grant.expires_in,
                scope: grant.scope,
            }))
            .into_response());
        }
    };
    Ok(Json(TokenAnswer::User(Box::new(grant.into()))).into_response())
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let grant = state
        .auth
        .refresh(&body.refresh_token, body.organization.as_deref())
        .await?;
    Ok(Json(grant.into()))
}

/// Ends the session of the bearer token, or of the refresh token in the body.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body(content = Option<LogoutRequest>),
    security((), ("bearer" = [])), responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    OptionalJson(body): OptionalJson<LogoutRequest>,
) -> ApiResult<StatusCode> {
    match (bearer, body.and_then(|b| b.refresh_token)) {
        (Some(token), _) => {
            state
                .auth
                .logout(&state.authn.caller(Credential::Bearer(&token)).await?)
                .await?
        }
        (None, Some(refresh_token)) => state.auth.logout_with_refresh(&refresh_token).await?,
        (None, None) => return Err(ApiError::Unauthorized("not_authenticated", "Not authenticated".into())),
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = LogoutAllResponse), (status = 401, body = ErrorBody)))]
pub async fn logout_all(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<LogoutAllResponse>> {
    let revoked = state.auth.logout_all(&caller).await?;
    Ok(Json(LogoutAllResponse { revoked }))
}

#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<UserView>> {
    let context = state.authn.me(super::extract::credential(&headers)).await?;
    Ok(Json(context.as_ref().into()))
}

/// The caller's live sessions, newest first, a page at a time.
#[utoipa::path(get, path = "/auth/sessions", tag = "auth", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sessions(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<SessionList>> {
    let page = state.auth.sessions(&caller, page.request()?).await?;
    Ok(Json(SessionList::new(page, caller.session_id)))
}

#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<SessionId>,
) -> ApiResult<StatusCode> {
    state.auth.revoke_session(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A link of the caller's account to an external OpenID Connect provider.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IdentityView {
    pub id: uuid::Uuid,
    /// The provider's slug.
    pub provider: String,
    pub issuer: String,
    pub email: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_login_at: chrono::DateTime<chrono::Utc>,
}

impl From<LinkedIdentity> for IdentityView {
    fn from(l: LinkedIdentity) -> Self {
        Self {
            id: l.id,
            provider: l.provider,
            issuer: l.issuer,
            email: l.email,
            created_at: l.created_at,
            last_login_at: l.last_login_at,
        }
    }
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IdentityList {
    pub identities: Vec<IdentityView>,
}

/// The caller's linked identity providers, oldest link first.
#[utoipa::path(get, path = "/auth/me/identities", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = IdentityList), (status = 401, body = ErrorBody)))]
pub async fn identities(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<IdentityList>> {
    let identities = state.users.identities(&caller).await?;
    Ok(Json(IdentityList {
        identities: identities.into_iter().map(IdentityView::from).collect(),
    }))
}

/// Unlinks a provider from the caller's account; 409 `last_sign_in_method` while it is the
/// account's only way to log in.
#[utoipa::path(delete, path = "/auth/me/identities/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Linked identity id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn unlink_identity(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<IdentityId>,
) -> ApiResult<StatusCode> {
    state.users.unlink_identity(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Services validate a token and get the user's *current* context (domains expanded). The token
/// is `{"token"}` in the body or, without one, the `Authorization: Bearer` token (a 422 when there
/// is neither). An invalid token is a 200 with `valid: false` and the reason.
#[utoipa::path(post, path = "/auth/validate", tag = "auth", request_body = Option<ValidateRequest>,
    security((), ("bearer" = [])),
    responses((status = 200, body = ValidateResponse)))]
pub async fn validate(State(state): State<AppState>, token: TokenInput) -> ApiResult<Response> {
    Ok(match state.authn.validate(&token.required()?).await? {
        // The hot path: a context's answer is rendered once and served as bytes after that.
        Ok((context, methods)) => {
            let json = HeaderValue::from_static("application/json");
            (
                [(header::CONTENT_TYPE, json)],
                state.renderings().valid(&context, methods),
            )
                .into_response()
        }
        Err(reason) => Json(json!({"valid": false, "user": null, "error": reason})).into_response(),
    })
}

/// RFC 7662 introspection, for service accounts (HTTP Basic). Inactive is exactly `{"active": false}`.
#[utoipa::path(post, path = "/auth/introspect", tag = "auth", security(("basic" = [])),
    request_body(content = IntrospectForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "RFC 7662 answer"), (status = 401, body = ErrorBody)))]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<IntrospectForm>,
) -> ApiResult<Json<Value>> {
    let (id, secret) = basic(&headers).ok_or(ApiError::Unauthorized(
        "invalid_client",
        "introspection needs a service account's HTTP Basic credentials".into(),
    ))?;
    let account = state.clients.introspector(&id, &secret).await?;
    let found = state.authn.introspect(&form.token, Some(account.org_id)).await?;
    Ok(Json(introspection::rfc7662(found)))
}
