//! [`Builder`]: where guildhall is, what its tokens must say, and how hard to try reaching it.
use crate::Guildhall;
use crate::clock::{Clock, SystemClock};
use crate::error::BuildError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Configures a [`Guildhall`]; start with [`Guildhall::builder`].
pub struct Builder {
    pub(crate) issuer: String,
    pub(crate) base_url: Option<String>,
    pub(crate) audience: String,
    pub(crate) leeway: Duration,
    pub(crate) timeout: Duration,
    pub(crate) min_refresh_interval: Duration,
    pub(crate) failure_backoff: Duration,
    pub(crate) max_key_age: Duration,
    pub(crate) hs256_secret: Option<Vec<u8>>,
    pub(crate) always_validate: bool,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("issuer", &self.issuer)
            .field("base_url", &self.base_url)
            .field("audience", &self.audience)
            .field("hs256_secret", &self.hs256_secret.as_ref().map(|_| "<set>"))
            .field("always_validate", &self.always_validate)
            .finish_non_exhaustive()
    }
}

impl Builder {
    pub(crate) fn new(issuer: String) -> Self {
        Self {
            issuer,
            base_url: None,
            audience: "guildhall".to_owned(),
            leeway: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            min_refresh_interval: Duration::from_secs(5),
            failure_backoff: Duration::from_secs(2),
            max_key_age: Duration::from_secs(600),
            hs256_secret: None,
            always_validate: false,
            clock: Arc::new(SystemClock),
        }
    }

    /// The `aud` tokens must carry (guildhall's `AUTH_AUDIENCE`); default `guildhall`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Where to reach guildhall when that is not the issuer (behind a proxy, an internal name).
    /// Discovery, JWKS and `/auth/validate` go there; endpoint URLs the discovery document gives
    /// under the issuer are moved onto this base. The `iss` pinned stays the issuer.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`; default 30 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Each request to guildhall (connecting included) gives up after this; default 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A token with an unknown `kid` re-fetches the JWKS at most this often; default 5 s.
    /// Tokens with other unknown kids inside that window are refused with `unknown_key`.
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// After a failed fetch, unknown kids fail with `guildhall_unavailable` for this long
    /// without trying again; default 2 s.
    pub fn failure_backoff(mut self, backoff: Duration) -> Self {
        self.failure_backoff = backoff;
        self
    }

    /// Keys older than this are re-fetched in the background (so a key guildhall stopped
    /// publishing stops verifying); default 10 min. Verification keeps using them meanwhile.
    pub fn max_key_age(mut self, age: Duration) -> Self {
        self.max_key_age = age;
        self
    }

    /// Accept HS256 tokens signed with this shared secret (guildhall's `AUTH_JWT_SECRET`).
    /// Without it HMAC tokens are refused with `algorithm_not_allowed`.
    pub fn hs256_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.hs256_secret = Some(secret.into());
        self
    }

    /// Ask `/auth/validate` for every user token, as [`crate::Fresh`] does: current
    /// memberships and revoked sessions seen at once, at the price of a round trip.
    pub fn always_validate(mut self) -> Self {
        self.always_validate = true;
        self
    }

    /// The time source (tests pass one they can move).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the settings and builds the verifier. Nothing is fetched yet: keys are discovered
    /// on the first token, or now with [`Guildhall::discover`].
    pub fn build(self) -> Result<Guildhall, BuildError> {
        Guildhall::from_builder(self)
    }
}

/// An http(s) URL without its trailing slash, for joining paths.
pub(crate) fn base(url: &str) -> Result<String, BuildError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| BuildError::InvalidUrl(url.to_owned()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(BuildError::InvalidUrl(url.to_owned()));
    }
    Ok(url.trim_end_matches('/').to_owned())
}
