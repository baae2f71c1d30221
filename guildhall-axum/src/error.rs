//! Why a request was refused: token errors carry guildhall's stable codes (the same ones
//! `POST /auth/validate` answers), the rest are the SDK's own.
use axum::http::StatusCode;

/// Why a token was refused. [`TokenError::code`] is the code guildhall's `/auth/validate` uses,
/// whether the SDK found the problem itself or guildhall answered `{"valid": false}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not an access token")]
    WrongType,
    #[error("the token's key is unknown")]
    UnknownKey,
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token was issued by someone else")]
    Issuer,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the session has ended")]
    SessionRevoked,
    #[error("the user no longer exists")]
    UserNotFound,
    #[error("the user is deactivated")]
    UserInactive,
    #[error("the organisation is deactivated")]
    OrganizationInactive,
    #[error("the user is no longer a member of the organisation")]
    NotAMember,
    #[error("a service account's token where a user's is required")]
    NotAUserToken,
    /// A code this version of the SDK does not know (a newer guildhall).
    #[error("the token was refused ({0})")]
    Other(String),
}

impl TokenError {
    /// The stable code, e.g. `token_expired`.
    pub fn code(&self) -> &str {
        match self {
            Self::Malformed => "malformed_token",
            Self::WrongType => "wrong_token_type",
            Self::UnknownKey => "unknown_key",
            Self::Algorithm => "algorithm_not_allowed",
            Self::Signature => "invalid_signature",
            Self::Issuer => "invalid_issuer",
            Self::Audience => "invalid_audience",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::SessionRevoked => "session_revoked",
            Self::UserNotFound => "user_not_found",
            Self::UserInactive => "user_inactive",
            Self::OrganizationInactive => "organization_inactive",
            Self::NotAMember => "not_a_member",
            Self::NotAUserToken => "not_a_user_token",
            Self::Other(code) => code,
        }
    }

    /// The error for a code guildhall answered.
    pub fn from_code(code: &str) -> Self {
        const KNOWN: [TokenError; 15] = [
            TokenError::Malformed,
            TokenError::WrongType,
            TokenError::UnknownKey,
            TokenError::Algorithm,
            TokenError::Signature,
            TokenError::Issuer,
            TokenError::Audience,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::SessionRevoked,
            TokenError::UserNotFound,
            TokenError::UserInactive,
            TokenError::OrganizationInactive,
            TokenError::NotAMember,
            TokenError::NotAUserToken,
        ];
        KNOWN
            .into_iter()
            .find(|known| known.code() == code)
            .unwrap_or_else(|| Self::Other(code.to_owned()))
    }
}

/// Why a request did not get a caller. As an axum response (see [`Error::status`]):
/// `{"error": code, "detail": message}`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401 `missing_token`: no `Authorization: Bearer` header.
    #[error("the request has no bearer token")]
    MissingToken,
    /// 401 with the token's code (403 for `not_a_user_token`: the token is fine, the caller is
    /// a service account where a user is required).
    #[error(transparent)]
    Invalid(#[from] TokenError),
    /// 403 `forbidden`: the caller lacks a permission the route requires.
    #[error("the permission {permission} is required")]
    Forbidden { permission: String },
    /// 503 `guildhall_unavailable`: the keys or `/auth/validate` could not be reached in time.
    /// The reason is logged, never sent to the client.
    #[error("guildhall is unavailable: {0}")]
    Unavailable(String),
    /// 500 `guildhall_not_configured`: an extractor or guard ran without [`crate::GuildhallLayer`].
    #[error("GuildhallLayer is not installed on this router")]
    NotConfigured,
}

impl Error {
    /// The stable code of the response body.
    pub fn code(&self) -> &str {
        match self {
            Self::MissingToken => "missing_token",
            Self::Invalid(token) => token.code(),
            Self::Forbidden { .. } => "forbidden",
            Self::Unavailable(_) => "guildhall_unavailable",
            Self::NotConfigured => "guildhall_not_configured",
        }
    }

    /// The HTTP status the axum response carries.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken => StatusCode::UNAUTHORIZED,
            Self::Invalid(TokenError::NotAUserToken) => StatusCode::FORBIDDEN,
            Self::Invalid(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The token's error, if the token was the problem.
    pub fn token_error(&self) -> Option<&TokenError> {
        match self {
            Self::Invalid(token) => Some(token),
            _ => None,
        }
    }
}

/// A builder setting that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("{0} is not an http(s) URL")]
    InvalidUrl(String),
    #[error("the HTTP client cannot be built")]
    Http(#[source] reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        // The codes README.md lists for POST /auth/validate.
        let documented = [
            "malformed_token",
            "wrong_token_type",
            "unknown_key",
            "algorithm_not_allowed",
            "invalid_signature",
            "invalid_issuer",
            "invalid_audience",
            "token_expired",
            "token_not_yet_valid",
            "session_revoked",
            "user_not_found",
            "user_inactive",
            "organization_inactive",
            "not_a_member",
            "not_a_user_token",
        ];
        for code in documented {
            let known = TokenError::from_code(code);
            assert!(!matches!(known, TokenError::Other(_)), "{code}");
            assert_eq!(known.code(), code);
        }
        assert_eq!(
            TokenError::from_code("brand_new_reason"),
            TokenError::Other("brand_new_reason".into())
        );
    }
}
