//! `/auth/mfa/*`: second factors (`service::mfa`). A user with a bearer token enrols an
//! authenticator app, confirms it with a first code (and gets recovery codes, once), regenerates
//! recovery codes and removes the app with a fresh factor. A login of an account with a factor
//! answers 401 `mfa_required` with an `mfa_token` for `POST /auth/mfa/verify`; a member of an
//! organisation that requires a factor and has none gets 403 `mfa_enrollment_required` with an
//! `mfa_token` for `POST /auth/mfa/enroll` and `.../enroll/confirm`, which finishes the login.
//! Organisation admins reset a member's factors at `DELETE /orgs/{id}/members/{user_id}/mfa`.
use super::dto::TokenResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, Auth};
use super::schema;
use super::state::AppState;
use crate::model::input::{Invalid, Problems};
use crate::model::{ClientInfo, OrgId, UserId};
use crate::service::mfa::{Enrolment, Factor, Status};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
pub struct MfaStatusView {
    /// Whether an authenticator app is enrolled (and confirmed).
    pub totp: bool,
    pub recovery_codes_left: u64,
    /// What a login asks for: `totp`, `recovery_code`.
    pub methods: Vec<String>,
}

impl From<Status> for MfaStatusView {
    fn from(s: Status) -> Self {
        Self {
            methods: s.methods(),
            totp: s.totp,
            recovery_codes_left: s.recovery_codes_left,
        }
    }
}

/// A new authenticator app: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, to type into the app.
    pub secret: String,
    /// `otpauth://totp/...` (SHA-1, 6 digits, 30 s).
    pub otpauth_uri: String,
    /// The URI as a QR code: an SVG document.
    pub qr_svg: String,
}

impl From<Enrolment> for TotpEnrolment {
    fn from(e: Enrolment) -> Self {
        Self {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
            qr_svg: e.qr_svg,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes, shown once; each works instead of a code of the app.
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolledLogin {
    pub recovery_codes: Vec<String>,
    /// The login the enrolment finished.
    pub tokens: TokenResponse,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A 6-digit code of the authenticator app.
    #[schema(value_type = schema::TotpCode)]
    pub code: String,
}

/// A second factor: `code` (the app's) or `recovery_code`, exactly one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactorRequest {
    #[serde(default)]
    #[schema(value_type = Option<schema::TotpCode>)]
    pub code: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<schema::NotBlank>)]
    pub recovery_code: Option<String>,
}

impl FactorRequest {
    fn parse(self, problems: &mut Problems) -> Option<Factor> {
        match (self.code, self.recovery_code) {
            (Some(code), None) => Some(Factor::Totp(code)),
            (None, Some(code)) if !code.trim().is_empty() => Some(Factor::Recovery(code)),
            (None, Some(_)) => {
                problems.add("recovery_code", "is required");
                None
            }
            (None, None) => {
                problems.add("code", "give code or recovery_code");
                None
            }
            (Some(_), Some(_)) => {
                problems.add("recovery_code", "give code or recovery_code, not both");
                None
            }
        }
    }

    fn factor(self) -> Result<Factor, Invalid> {
        let mut problems = Problems::default();
        let factor = self.parse(&mut problems);
        problems.done((factor,)).map(|(f,)| f)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaVerifyRequest {
    /// The token of the `mfa_required` answer.
    #[schema(value_type = schema::NotBlank)]
    pub mfa_token: String,
    #[serde(default)]
    #[schema(value_type = Option<schema::TotpCode>)]
    pub code: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<schema::NotBlank>)]
    pub recovery_code: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The token of the `mfa_enrollment_required` answer.
    #[schema(value_type = schema::NotBlank)]
    pub mfa_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollConfirmRequest {
    #[schema(value_type = schema::NotBlank)]
    pub mfa_token: String,
    #[schema(value_type = schema::TotpCode)]
    pub code: String,
}

fn token(field: &str, raw: &str, problems: &mut Problems) -> Option<String> {
    let token = raw.trim();
    if token.is_empty() {
        problems.add(field, "is required");
        return None;
    }
    Some(token.to_owned())
}

/// The caller's second factors.
#[utoipa::path(get, path = "/auth/mfa", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MfaStatusView)))]
pub async fn status(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<MfaStatusView>> {
    Ok(Json(state.mfa.status(caller.user_id).await?.into()))
}

/// Starts enrolling an authenticator app (replacing one not confirmed yet).
#[utoipa::path(post, path = "/auth/mfa/totp", tag = "auth", security(("bearer" = [])),
    responses((status = 201, body = TotpEnrolment), (status = 409, body = ErrorBody)))]
pub async fn enroll(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<(StatusCode, Json<TotpEnrolment>)> {
    let enrolment = state.mfa.enroll_totp(caller.user_id).await?;
    Ok((StatusCode::CREATED, Json(enrolment.into())))
}

/// Confirms the app with its first code; answers the recovery codes, once.
#[utoipa::path(post, path = "/auth/mfa/totp/confirm", tag = "auth", security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    let recovery_codes = state.mfa.confirm(&caller, &body.code).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Removes the authenticator app and the recovery codes; needs a fresh factor.
#[utoipa::path(delete, path = "/auth/mfa/totp", tag = "auth", security(("bearer" = [])), request_body = FactorRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<FactorRequest>,
) -> ApiResult<StatusCode> {
    state.mfa.remove_totp(&caller, &body.factor()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New recovery codes (the old ones stop working); needs a fresh factor.
#[utoipa::path(post, path = "/auth/mfa/recovery-codes", tag = "auth", security(("bearer" = [])), request_body = FactorRequest,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn regenerate(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<FactorRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    let recovery_codes = state.mfa.regenerate(&caller, &body.factor()?).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// The second step of a login: the `mfa_token` of the `mfa_required` answer and a factor.
/// Failures count toward the account's lockout.
#[utoipa::path(post, path = "/auth/mfa/verify", tag = "auth", request_body = MfaVerifyRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<MfaVerifyRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let mut problems = Problems::default();
    let token = token("mfa_token", &body.mfa_token, &mut problems);
    let factor = FactorRequest {
        code: body.code,
        recovery_code: body.recovery_code,
    }
    .parse(&mut problems);
    let (token, factor) = problems.done((token, factor))?;
    let grant = state.auth.verify_second_factor(&token, factor, client).await?;
    Ok(Json(grant.into()))
}

/// Starts enrolling an authenticator app with the token of an `mfa_enrollment_required` answer.
#[utoipa::path(post, path = "/auth/mfa/enroll", tag = "auth", request_body = EnrollRequest,
    responses((status = 201, body = TotpEnrolment), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn enroll_with_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<TotpEnrolment>)> {
    let mut problems = Problems::default();
    let token = token("mfa_token", &body.mfa_token, &mut problems);
    let (token,) = problems.done((token,))?;
    let enrolment = state.mfa.enroll_with_token(&token).await?;
    Ok((StatusCode::CREATED, Json(enrolment.into())))
}

/// Confirms that app with its first code and finishes the login: tokens and recovery codes.
#[utoipa::path(post, path = "/auth/mfa/enroll/confirm", tag = "auth", request_body = EnrollConfirmRequest,
    responses((status = 200, body = EnrolledLogin), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn confirm_with_token(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<EnrollConfirmRequest>,
) -> ApiResult<Json<EnrolledLogin>> {
    let mut problems = Problems::default();
    let token = token("mfa_token", &body.mfa_token, &mut problems);
    let (token,) = problems.done((token,))?;
    let (grant, recovery_codes) = state.auth.complete_enrolment(&token, &body.code, client).await?;
    Ok(Json(EnrolledLogin {
        recovery_codes,
        tokens: grant.into(),
    }))
}

/// Removes every second factor of a member and ends their sessions (an owner's only by an
/// owner or a superuser).
#[utoipa::path(delete, path = "/orgs/{id}/members/{user_id}/mfa", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, user_id)): ApiPath<(OrgId, UserId)>,
) -> ApiResult<StatusCode> {
    state.mfa.reset(&caller, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
