//! `/auth/*`: register, login, token, refresh, logout, me, sessions.
use super::dto::*;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiForm, ApiJson, ApiPath, Auth, bearer};
use super::state::AppState;
use crate::model::ClientInfo;
use crate::service::FieldError;
use crate::service::auth::{Login, Registration};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = TokenResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    let input = Registration {
        email: body.email,
        password: body.password,
        name: body.name,
        username: body.username,
        organization: body.organization,
    };
    let grant = state.auth.register(input, client).await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let login = body
        .email
        .or(body.username)
        .or(body.login)
        .unwrap_or_default();
    let input = Login {
        login,
        password: body.password,
        organization: body.organization,
    };
    Ok(Json(state.auth.login(input, client).await?.into()))
}

#[utoipa::path(post, path = "/auth/token", tag = "auth", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiForm(form): ApiForm<TokenForm>,
) -> ApiResult<Json<TokenResponse>> {
    let missing = |field: &str| {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: "is required".into(),
        }])
    };
    let grant = match form.grant_type.as_deref().unwrap_or("password") {
        "password" => {
            let login = form.username.ok_or_else(|| missing("username"))?;
            let password = form.password.ok_or_else(|| missing("password"))?;
            state
                .auth
                .login(
                    Login {
                        login,
                        password,
                        organization: form.organization,
                    },
                    client,
                )
                .await?
        }
        "refresh_token" => {
            let token = form.refresh_token.ok_or_else(|| missing("refresh_token"))?;
            state
                .auth
                .refresh(&token, form.organization.as_deref())
                .await?
        }
        _ => {
            return Err(ApiError::BadRequest(
                "unsupported_grant_type",
                "grant_type must be password or refresh_token".into(),
            ));
        }
    };
    Ok(Json(grant.into()))
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    Ok(Json(
        state
            .auth
            .refresh(&body.refresh_token, body.organization.as_deref())
            .await?
            .into(),
    ))
}

/// Ends the session of the bearer token, or of the refresh token in the body.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body(content = Option<LogoutRequest>),
    security((), ("bearer" = [])), responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    if let Some(token) = bearer(&headers) {
        let principal = state.auth.authenticate(token).await?;
        state.auth.logout(&principal).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let request: LogoutRequest = if body.is_empty() {
        LogoutRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::BadRequest(
                "malformed_json",
                "the body must be {\"refresh_token\": \"...\"}".into(),
            )
        })?
    };
    match request.refresh_token {
        Some(token) => {
            state.auth.logout_with_refresh(&token).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(ApiError::Unauthorized(
            "not_authenticated",
            "Not authenticated".into(),
        )),
    }
}

#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = LogoutAllResponse), (status = 401, body = ErrorBody)))]
pub async fn logout_all(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<LogoutAllResponse>> {
    Ok(Json(LogoutAllResponse {
        revoked: state.auth.logout_all(&principal).await?,
    }))
}

#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(principal): Auth) -> ApiResult<Json<UserView>> {
    Ok(Json(state.auth.me(&principal).await?.into()))
}

#[utoipa::path(get, path = "/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody)))]
pub async fn sessions(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<SessionList>> {
    let sessions = state.auth.sessions(&principal).await?;
    Ok(Json(SessionList {
        sessions: sessions
            .into_iter()
            .map(|s| SessionView::new(s, principal.session_id))
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state.auth.revoke_session(&principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
