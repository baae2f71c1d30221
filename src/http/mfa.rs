//! `/auth/mfa/*`: second factors (`service::mfa`). A user with a bearer token enrols an
//! authenticator app, confirms it with a first code (and gets recovery codes, once), regenerates
//! recovery codes and removes the app with a fresh factor. A login of an account with a factor
//! answers 401 `mfa_required` with an `mfa_token` for `POST /auth/mfa/verify`; a member of an
//! organisation that requires a factor and has none gets 403 `mfa_enrollment_required` with an
//! `mfa_token` for `POST /auth/mfa/enroll` and `.../enroll/confirm`, which finishes the login.
//! Organisation admins reset a member's factors at `DELETE /orgs/{id}/members/{user_id}/mfa`.
//!
//! Passkeys (`service::mfa::passkeys`) live under `/auth/mfa/webauthn`: `register/start` hands
//! out the options for `navigator.credentials.create` and a `ceremony_id`; `register/finish`
//! takes the browser's credential (its `toJSON()`). A passkey answers as a factor wherever a
//! `code` goes, as `assertion: {ceremony_id, credential}`, after `POST
//! /auth/mfa/webauthn/challenge` (a login's `mfa_token`) or `.../authenticate/start` (a logged-in
//! user's fresh factor) handed out the options for `navigator.credentials.get`.
use super::dto::TokenResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, Auth};
use super::schema;
use super::state::AppState;
use crate::model::input::{Invalid, Problems};
use crate::model::{ClientInfo, OrgId, PasskeyId, UserId};
use crate::service::mfa::passkeys::{self, PasskeyInfo, Registered, Started};
use crate::service::mfa::{Assertion, Enrolment, Factor, Status};
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
    /// How many passkeys are registered.
    pub passkeys: u64,
    pub recovery_codes_left: u64,
    /// What a login asks for: `totp`, `webauthn`, `recovery_code`.
    pub methods: Vec<String>,
}

impl From<Status> for MfaStatusView {
    fn from(s: Status) -> Self {
        Self {
            methods: s.methods(),
            totp: s.totp,
            passkeys: s.passkeys,
            recovery_codes_left: s.recovery_codes_left,
        }
    }
}

/// A passkey of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyView {
    pub id: uuid::Uuid,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<PasskeyInfo> for PasskeyView {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

/// A WebAuthn ceremony handed out: answer it within five minutes, once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CeremonyView {
    pub ceremony_id: uuid::Uuid,
    /// `{"publicKey": {...}}`: for `navigator.credentials.create` (registration) or `.get`
    /// (authentication); `PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)`
    /// (or `parseRequestOptionsFromJSON`) reads it.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

impl From<Started> for CeremonyView {
    fn from(s: Started) -> Self {
        Self {
            ceremony_id: s.ceremony,
            options: s.options,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredPasskey {
    pub passkey: PasskeyView,
    /// New recovery codes, shown once: only when the passkey is the account's first factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

impl From<Registered> for RegisteredPasskey {
    fn from(r: Registered) -> Self {
        Self {
            passkey: r.passkey.into(),
            recovery_codes: r.recovery_codes,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinishRequest {
    pub ceremony_id: uuid::Uuid,
    /// What to call the passkey (at most 64 characters; `Passkey` when left out).
    #[serde(default)]
    #[schema(value_type = Option<schema::PasskeyName>)]
    pub name: Option<String>,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.create`, as its
    /// `toJSON()` writes it.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskeyRequest {
    #[schema(value_type = schema::PasskeyRename)]
    pub name: String,
}

/// A passkey's answer to a challenge handed out by `.../challenge` or `.../authenticate/start`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertionRequest {
    pub ceremony_id: uuid::Uuid,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.get`, as `toJSON()`
    /// writes it.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

impl AssertionRequest {
    fn parse(self, problems: &mut Problems) -> Option<Assertion> {
        match serde_json::from_value(self.credential) {
            Ok(credential) => Some(Assertion {
                ceremony: self.ceremony_id,
                credential,
            }),
            Err(_) => {
                problems.add("assertion.credential", "is not a WebAuthn PublicKeyCredential");
                None
            }
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The token of the `mfa_required` answer.
    #[schema(value_type = schema::NotBlank)]
    pub mfa_token: String,
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

/// A second factor: `code` (the app's), `assertion` (a passkey's) or `recovery_code`, exactly
/// one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactorRequest {
    #[serde(default)]
    #[schema(value_type = Option<schema::TotpCode>)]
    pub code: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<schema::NotBlank>)]
    pub recovery_code: Option<String>,
    #[serde(default)]
    pub assertion: Option<AssertionRequest>,
}

impl FactorRequest {
    fn parse(self, problems: &mut Problems) -> Option<Factor> {
        match (self.code, self.recovery_code, self.assertion) {
            (Some(code), None, None) => Some(Factor::Totp(code)),
            (None, Some(code), None) if !code.trim().is_empty() => Some(Factor::Recovery(code)),
            (None, Some(_), None) => {
                problems.add("recovery_code", "is required");
                None
            }
            (None, None, Some(assertion)) => assertion.parse(problems).map(|a| Factor::Passkey(Box::new(a))),
            (None, None, None) => {
                problems.add("code", "give code, assertion or recovery_code");
                None
            }
            _ => {
                problems.add("code", "give one of code, assertion and recovery_code");
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
    #[serde(default)]
    pub assertion: Option<AssertionRequest>,
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
        assertion: body.assertion,
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

/// The caller's passkeys.
#[utoipa::path(get, path = "/auth/mfa/webauthn", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = PasskeyList)))]
pub async fn passkeys(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<PasskeyList>> {
    let passkeys = state.mfa.passkeys(caller.user_id).await?;
    Ok(Json(PasskeyList {
        passkeys: passkeys.into_iter().map(Into::into).collect(),
    }))
}

/// Starts registering a passkey: the options for `navigator.credentials.create`.
#[utoipa::path(post, path = "/auth/mfa/webauthn/register/start", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = CeremonyView), (status = 409, body = ErrorBody)))]
pub async fn register_start(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<CeremonyView>> {
    Ok(Json(state.mfa.start_registration(&caller).await?.into()))
}

/// Finishes registering a passkey with the browser's credential; the first factor of an
/// account also gets recovery codes (shown once).
#[utoipa::path(post, path = "/auth/mfa/webauthn/register/finish", tag = "auth", security(("bearer" = [])),
    request_body = RegisterFinishRequest,
    responses((status = 201, body = RegisteredPasskey), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn register_finish(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<RegisterFinishRequest>,
) -> ApiResult<(StatusCode, Json<RegisteredPasskey>)> {
    let mut problems = Problems::default();
    let name = problems.check("name", passkeys::parse_name(body.name.as_deref()));
    let credential = match serde_json::from_value(body.credential) {
        Ok(c) => Some(c),
        Err(_) => {
            problems.add("credential", "is not a WebAuthn PublicKeyCredential");
            None
        }
    };
    let (name, credential) = problems.done((name, credential))?;
    let registered = state
        .mfa
        .finish_registration(&caller, body.ceremony_id, name, &credential)
        .await?;
    Ok((StatusCode::CREATED, Json(registered.into())))
}

/// Renames one of the caller's passkeys.
#[utoipa::path(patch, path = "/auth/mfa/webauthn/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Passkey id")), request_body = RenamePasskeyRequest,
    responses((status = 200, body = PasskeyView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rename_passkey(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<PasskeyId>,
    ApiJson(body): ApiJson<RenamePasskeyRequest>,
) -> ApiResult<Json<PasskeyView>> {
    let mut problems = Problems::default();
    let name = match body.name.trim() {
        "" => {
            problems.add("name", "is required");
            None
        }
        _ => problems.check("name", passkeys::parse_name(Some(&body.name))),
    };
    let (name,) = problems.done((name,))?;
    Ok(Json(state.mfa.rename_passkey(&caller, id.uuid(), name).await?.into()))
}

/// Removes one of the caller's passkeys; needs a fresh factor.
#[utoipa::path(delete, path = "/auth/mfa/webauthn/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Passkey id")), request_body = FactorRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_passkey(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<PasskeyId>,
    ApiJson(body): ApiJson<FactorRequest>,
) -> ApiResult<StatusCode> {
    state.mfa.remove_passkey(&caller, id.uuid(), &body.factor()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A challenge for the caller's passkeys, to answer as a fresh factor (`assertion`).
#[utoipa::path(post, path = "/auth/mfa/webauthn/authenticate/start", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = CeremonyView), (status = 409, body = ErrorBody)))]
pub async fn authenticate_start(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<CeremonyView>> {
    Ok(Json(state.mfa.start_authentication(caller.user_id).await?.into()))
}

/// A challenge for the passkeys of a login's account (its `mfa_token`), to answer at
/// `POST /auth/mfa/verify` (`assertion`).
#[utoipa::path(post, path = "/auth/mfa/webauthn/challenge", tag = "auth", request_body = ChallengeRequest,
    responses((status = 200, body = CeremonyView), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn login_challenge(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ChallengeRequest>,
) -> ApiResult<Json<CeremonyView>> {
    let mut problems = Problems::default();
    let token = token("mfa_token", &body.mfa_token, &mut problems);
    let (token,) = problems.done((token,))?;
    Ok(Json(state.mfa.start_login_authentication(&token).await?.into()))
}
