//! `/auth/*`: register, login, token, refresh, logout, me, sessions.
use super::dto::*;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiForm, ApiJson, ApiPath, Auth, OptionalJson, TokenInput, basic, bearer};
use super::state::AppState;
use crate::model::ClientInfo;
use crate::service::FieldError;
use crate::service::auth::Login;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = TokenResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    let grant = state.auth.register(body.into(), client).await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let login = body.email.or(body.username).or(body.login).unwrap_or_default();
    let input = Login {
        login,
        password: body.password,
        organization: body.organization,
    };
    Ok(Json(state.auth.login(input, client).await?.into()))
}

#[utoipa::path(post, path = "/auth/token", tag = "auth", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenForm>,
) -> ApiResult<Response> {
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
            state.auth.refresh(&token, form.organization.as_deref()).await?
        }
        "client_credentials" => {
            let (id, secret) = basic(&headers)
                .or_else(|| Some((form.client_id?, form.client_secret?)))
                .ok_or(ApiError::Unauthorized(
                    "invalid_client",
                    "client authentication failed".into(),
                ))?;
            let grant = state.clients.token(&id, &secret).await?;
            let body = json!({"access_token": grant.access_token, "token_type": "bearer", "expires_in": grant.expires_in, "scope": grant.scope});
            return Ok(Json(body).into_response());
        }
        _ => {
            let detail = "grant_type must be password, refresh_token or client_credentials";
            return Err(ApiError::BadRequest("unsupported_grant_type", detail.into()));
        }
    };
    Ok(Json(TokenResponse::from(grant)).into_response())
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
    OptionalJson(body): OptionalJson<LogoutRequest>,
) -> ApiResult<StatusCode> {
    if let Some(token) = bearer(&headers) {
        let caller = state.auth.caller(token).await?;
        state.auth.logout(&caller).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let request = body.unwrap_or_default();
    match request.refresh_token {
        Some(token) => {
            state.auth.logout_with_refresh(&token).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(ApiError::Unauthorized("not_authenticated", "Not authenticated".into())),
    }
}

#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = LogoutAllResponse), (status = 401, body = ErrorBody)))]
pub async fn logout_all(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<LogoutAllResponse>> {
    Ok(Json(LogoutAllResponse {
        revoked: state.auth.logout_all(&caller).await?,
    }))
}

#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
) -> ApiResult<Json<UserView>> {
    match auth {
        Ok(Auth(caller)) => Ok(Json(state.auth.me(&caller).await?.as_ref().into())),
        Err(refused) => {
            // Not ours: perhaps the global OpenID provider's (AUTH_OIDC_ISSUER).
            if let Some(token) = bearer(&headers)
                && let Some(view) = super::oidc::external_me(&state, token).await?
            {
                return Ok(Json(view));
            }
            Err(refused)
        }
    }
}

#[utoipa::path(get, path = "/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody)))]
pub async fn sessions(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<SessionList>> {
    let sessions = state.auth.sessions(&caller).await?;
    Ok(Json(SessionList {
        sessions: sessions
            .into_iter()
            .map(|s| SessionView::new(s, caller.session_id))
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state.auth.revoke_session(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Services validate a token and get the user's *current* context (domains expanded).
#[utoipa::path(post, path = "/auth/validate", tag = "auth", request_body = ValidateRequest,
    responses((status = 200, body = ValidateResponse), (status = 422, body = ErrorBody)))]
pub async fn validate(State(state): State<AppState>, TokenInput(token): TokenInput) -> ApiResult<Response> {
    let token = token.ok_or_else(|| {
        ApiError::Validation(vec![FieldError {
            field: "token".into(),
            message: "is required (or send Authorization: Bearer)".into(),
        }])
    })?;
    let mut verdict = state.auth.validate(&token).await?;
    if verdict.is_err() {
        // Not ours: perhaps the global OpenID provider's (AUTH_OIDC_ISSUER).
        if let Some(external) = state.oidc.external(&token).await? {
            verdict = external;
        }
    }
    Ok(match verdict {
        // The hot path: a context's answer is rendered once and served as bytes after that.
        Ok(context) => {
            let body = context.rendered.get_or_init(|| {
                let answer = ValidateResponse {
                    valid: true,
                    user: Some(context.as_ref().into()),
                    error: None,
                };
                // Strings, numbers and arrays only: serialising it cannot fail.
                serde_json::to_vec(&answer).unwrap_or_default().into()
            });
            (
                [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
                .into_response()
        }
        Err(reason) => Json(ValidateResponse {
            valid: false,
            user: None,
            error: Some(reason.to_owned()),
        })
        .into_response(),
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
    let account = state.clients.authenticate(&id, &secret).await?;
    let Some(found) = state.clients.introspect(&account, &form.token).await? else {
        return Ok(Json(json!({"active": false})));
    };
    let c = &found.claims;
    let mut answer = json!({
        "active": true, "token_type": "Bearer", "sub": c.sub, "iss": c.iss, "aud": c.aud, "exp": c.exp, "iat": c.iat,
        "nbf": c.nbf, "jti": c.jti, "org": c.org, "scope": c.permissions.join(" "),
    });
    if let Value::Object(map) = &mut answer {
        match &found.context {
            Some(context) => {
                let user = UserView::from(context.as_ref());
                map.insert(
                    "username".into(),
                    json!(
                        context
                            .user
                            .username
                            .clone()
                            .unwrap_or_else(|| context.user.email.clone())
                    ),
                );
                map.insert("sid".into(), json!(c.sid));
                map.insert("scope".into(), json!(user.permissions.join(" ")));
                for (key, value) in [
                    ("email", json!(user.email)),
                    ("name", json!(user.name)),
                    ("roles", json!(user.roles)),
                    ("permissions", json!(user.permissions)),
                    ("teams", json!(user.teams)),
                    ("domains", json!(user.domains)),
                ] {
                    map.insert(key.into(), value);
                }
            }
            None => {
                map.insert("client_id".into(), json!(c.client_id));
                map.insert("permissions".into(), json!(c.permissions));
            }
        }
    }
    Ok(Json(answer))
}
