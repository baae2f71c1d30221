//! Applications: the OAuth 2.0 / OpenID Connect clients an organisation registers with guildhall
//! as its OpenID Provider, and what a user's login in the browser (single sign-on) is.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Public clients (SPAs, native apps, CLIs) hold no secret and must use PKCE; confidential ones
/// (servers) authenticate at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    Public,
    #[default]
    Confidential,
}

/// How a client authenticates at the token, revocation and introspection endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// Public clients: the `client_id` alone.
    None,
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form.
    ClientSecretPost,
    /// A JWT signed with one of the client's registered keys (RFC 7523, OIDC Core §9).
    PrivateKeyJwt,
}

impl ClientAuth {
    pub const ALL: [ClientAuth; 4] = [
        Self::None,
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether the method proves possession of a shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// The grants a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    DeviceCode,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::DeviceCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// The scopes every client may be granted unless it lists its own: OpenID Connect's standard
/// ones. Any other scope a client registers is passed through to `scope` in its access tokens.
pub const STANDARD_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: Uuid,
    pub org_id: Uuid,
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
    pub auth_method: ClientAuth,
    /// SHA-256 of the secret (256 random bits) for the secret methods.
    pub secret_hash: Option<String>,
    /// The client's public keys (a JWK Set) for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    /// RFC 8707 resource indicators the client may ask tokens for (they become `aud`).
    pub resources: Vec<String>,
    /// No consent screen: the organisation's own application.
    pub first_party: bool,
    /// May get tokens for any organisation the user belongs to (set by a superuser only; the
    /// console is one). Otherwise only for the client's own organisation.
    pub multi_org: bool,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub backchannel_logout_uri: Option<String>,
    /// `id_token_signed_response_alg`; RS256 when unset.
    pub id_token_alg: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Application {
    /// Whether it authenticates like a public client (no secret, no key).
    pub fn is_public(&self) -> bool {
        self.kind == ClientKind::Public || self.auth_method == ClientAuth::None
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The scopes the client may ask for.
    pub fn allowed_scopes(&self) -> Vec<&str> {
        if self.scopes.is_empty() {
            STANDARD_SCOPES.to_vec()
        } else {
            self.scopes.iter().map(String::as_str).collect()
        }
    }

    /// Whether `uri` is one of the registered redirect URIs: exactly, except that a loopback
    /// redirect (`http://127.0.0.1`, `http://[::1]`) may use any port (RFC 8252 §7.3).
    pub fn redirect_registered(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
            || loopback_without_port(uri).is_some_and(|asked| {
                self.redirect_uris
                    .iter()
                    .any(|r| loopback_without_port(r).as_ref() == Some(&asked))
            })
    }
}

/// A loopback redirect URI with its port taken out, or `None` if it is not one.
fn loopback_without_port(uri: &str) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    let loopback = url.scheme() == "http"
        && matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            | matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    if !loopback {
        return None;
    }
    url.set_port(None).ok()?;
    Some(url.to_string())
}

/// A login held by a browser (the `guildhall_session` cookie): every application the browser
/// is sent to after it logs in without a password until it ends or expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub auth_time: DateTime<Utc>,
    /// RFC 8176 methods, e.g. `pwd`, `fed` (an external provider), `otp`, `hwk`.
    pub amr: Vec<String>,
    pub acr: String,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(uris: &[&str]) -> Application {
        let now = DateTime::<Utc>::from_timestamp(1_900_000_000, 0).unwrap();
        Application {
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            client_id: "c".into(),
            name: "c".into(),
            kind: ClientKind::Public,
            auth_method: ClientAuth::None,
            secret_hash: None,
            jwks: None,
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: vec![],
            resources: vec![],
            first_party: false,
            multi_org: false,
            access_token_ttl: None,
            refresh_token_ttl: None,
            backchannel_logout_uri: None,
            id_token_alg: None,
            active: true,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn redirects_match_exactly_except_loopback_ports() {
        let a = app(&[
            "https://app.example/cb",
            "http://127.0.0.1/callback",
            "http://[::1]:8080/cb",
        ]);
        assert!(a.redirect_registered("https://app.example/cb"));
        assert!(!a.redirect_registered("https://app.example/cb/"));
        assert!(!a.redirect_registered("https://app.example/cb?x=1"));
        assert!(!a.redirect_registered("https://app.example:8443/cb"));
        assert!(!a.redirect_registered("https://APP.example/cb"));
        assert!(a.redirect_registered("http://127.0.0.1:51234/callback"));
        assert!(a.redirect_registered("http://127.0.0.1/callback"));
        assert!(!a.redirect_registered("http://127.0.0.1:51234/other"));
        assert!(a.redirect_registered("http://[::1]:9999/cb"));
        assert!(!a.redirect_registered("http://localhost:51234/callback"));
        assert!(!a.redirect_registered("https://127.0.0.1:51234/callback"));
    }
}

/// An application as an admin or a seed document describes it (`PUT` replaces all of it;
/// omitted fields take their defaults). `validate` turns it into an `AppSpec` or every problem.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppDraft {
    pub name: String,
    pub kind: ClientKind,
    /// Default: `none` for public clients, `client_secret_basic` for confidential ones.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<ClientAuth>,
    /// The client's public keys (a JWK Set), for `private_key_jwt` only.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default: `authorization_code` and `refresh_token`.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// The scopes the client may ask for; default OpenID Connect's `openid profile email
    /// offline_access`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RFC 8707 resource indicators the client may ask access tokens for.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The organisation's own application: no consent screen.
    #[serde(default)]
    pub first_party: bool,
    /// Tokens for any organisation the user belongs to, picked at login (superusers only).
    #[serde(default)]
    pub multi_org: bool,
    /// Seconds, 60 to 86400; default `AUTH_ACCESS_TOKEN_TTL`.
    #[serde(default)]
    pub access_token_ttl: Option<i64>,
    /// Seconds, 60 to 31536000; default `AUTH_REFRESH_TOKEN_TTL`.
    #[serde(default)]
    pub refresh_token_ttl: Option<i64>,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// `RS256` (the default) or the access tokens' algorithm.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
}

fn yes() -> bool {
    true
}

/// A validated `AppDraft`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    pub name: String,
    pub kind: ClientKind,
    pub auth_method: ClientAuth,
    pub jwks: Option<serde_json::Value>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub resources: Vec<String>,
    pub first_party: bool,
    pub multi_org: bool,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub backchannel_logout_uri: Option<String>,
    pub id_token_alg: Option<String>,
    pub active: bool,
}

/// What validating a draft depends on.
pub struct AppRules {
    /// `AUTH_ENV=development`: plain-http redirect URIs anywhere.
    pub development: bool,
    /// The access tokens' algorithm (an ID-token algorithm a client may register besides RS256).
    pub access_algorithm: crate::token::Algorithm,
}

const MAX_URIS: usize = 20;
const MAX_URI_LEN: usize = 2000;

/// A URI the browser (or guildhall, for back-channel logout) is sent to: absolute, without a
/// fragment or credentials; `https`, or `http` on this machine (anywhere in development), or
/// — for native apps, when `private_use` — a private-use scheme with a dot in it (RFC 8252 §7.1).
fn target_uri(raw: &str, rules: &AppRules, private_use: bool) -> Result<String, String> {
    if raw.len() > MAX_URI_LEN {
        return Err(format!("is longer than {MAX_URI_LEN} characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| "is not an absolute URI".to_owned())?;
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if rules.development || seed::rules::is_loopback(&url) => {}
        "http" => return Err("must use https (http only on 127.0.0.1, [::1] or localhost)".into()),
        scheme if private_use && scheme.contains('.') => {}
        _ => {
            return Err(if private_use {
                "must use https, http on this machine, or a private-use scheme such as com.example.app".into()
            } else {
                "must use https (http only on 127.0.0.1, [::1] or localhost)".into()
            });
        }
    }
    Ok(raw.to_owned())
}

/// An OAuth scope token (RFC 6749 §3.3).
fn scope_token(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 100
        && raw
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("must be 1 to 100 printable ASCII characters without spaces, quotes or backslashes".into())
    }
}

/// A JWK Set of public signing keys guildhall can verify client assertions with.
fn public_jwks(value: &serde_json::Value) -> Result<serde_json::Value, String> {
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(value.clone()).map_err(|_| "is not a JWK Set ({\"keys\": [...]})".to_owned())?;
    if set.keys.is_empty() || set.keys.len() > 10 {
        return Err("must hold 1 to 10 keys".into());
    }
    let private = value["keys"]
        .as_array()
        .is_some_and(|keys| keys.iter().any(|k| k.get("d").is_some() || k.get("k").is_some()));
    if private {
        return Err("must hold public keys only".into());
    }
    for key in &set.keys {
        if jsonwebtoken::DecodingKey::from_jwk(key).is_err() {
            return Err("holds a key that cannot verify signatures".into());
        }
        if matches!(key.algorithm, jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)) {
            return Err("must hold public keys only".into());
        }
    }
    Ok(value.clone())
}

impl AppDraft {
    pub fn validate(self, rules: &AppRules) -> Result<AppSpec, super::input::Invalid> {
        let mut problems = super::input::Problems::default();
        let name = problems.parse::<super::input::DisplayName>("name", &self.name);
        let kind = self.kind;
        let auth_method = self.token_endpoint_auth_method.unwrap_or(match kind {
            ClientKind::Public => ClientAuth::None,
            ClientKind::Confidential => ClientAuth::ClientSecretBasic,
        });
        match (kind, auth_method) {
            (ClientKind::Public, ClientAuth::None) => {}
            (ClientKind::Public, _) => problems.add("token_endpoint_auth_method", "must be none for a public client"),
            (ClientKind::Confidential, ClientAuth::None) => problems.add(
                "token_endpoint_auth_method",
                "must be client_secret_basic, client_secret_post or private_key_jwt for a confidential client",
            ),
            _ => {}
        }
        let jwks = match (&self.jwks, auth_method) {
            (Some(jwks), ClientAuth::PrivateKeyJwt) => problems.check("jwks", public_jwks(jwks)),
            (None, ClientAuth::PrivateKeyJwt) => {
                problems.add("jwks", "is required for private_key_jwt");
                None
            }
            (Some(_), _) => {
                problems.add("jwks", "is only for private_key_jwt");
                None
            }
            (None, _) => None,
        };
        let grant_names = self
            .grant_types
            .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
        let mut grant_types = Vec::new();
        for (i, g) in grant_names.iter().enumerate() {
            match GrantType::parse(g) {
                Some(GrantType::ClientCredentials) if kind == ClientKind::Public => problems.add(
                    format!("grant_types[{i}]"),
                    "client_credentials is for confidential clients",
                ),
                Some(grant) if !grant_types.contains(&grant) => grant_types.push(grant),
                Some(_) => {}
                None => problems.add(
                    format!("grant_types[{i}]"),
                    "must be authorization_code, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:device_code",
                ),
            }
        }
        if grant_names.is_empty() {
            problems.add("grant_types", "must name at least one grant");
        }
        let mut uris = |field: &str, list: &[String], private_use: bool| -> Vec<String> {
            if list.len() > MAX_URIS {
                problems.add(field, format!("must hold at most {MAX_URIS} URIs"));
            }
            let mut out = Vec::new();
            for (i, raw) in list.iter().enumerate() {
                if let Some(uri) = problems.check(&format!("{field}[{i}]"), target_uri(raw, rules, private_use)) {
                    out.push(uri);
                }
            }
            out
        };
        let native = kind == ClientKind::Public;
        let redirect_uris = uris("redirect_uris", &self.redirect_uris, native);
        let post_logout_redirect_uris = uris("post_logout_redirect_uris", &self.post_logout_redirect_uris, native);
        if self.redirect_uris.is_empty() && grant_types.contains(&GrantType::AuthorizationCode) {
            problems.add("redirect_uris", "is required for the authorization_code grant");
        }
        let backchannel_logout_uri = match &self.backchannel_logout_uri {
            Some(raw) => problems.check("backchannel_logout_uri", target_uri(raw, rules, false)),
            None => None,
        };
        let mut resources = Vec::new();
        for (i, raw) in self.resources.iter().enumerate() {
            let parsed = url::Url::parse(raw)
                .ok()
                .filter(|u| u.fragment().is_none() && raw.len() <= MAX_URI_LEN)
                .map(|_| raw.clone())
                .ok_or_else(|| "must be an absolute URI without a fragment (RFC 8707)".to_owned());
            resources.extend(problems.check(&format!("resources[{i}]"), parsed));
        }
        if self.resources.len() > MAX_URIS {
            problems.add("resources", format!("must hold at most {MAX_URIS} resources"));
        }
        let mut scopes = Vec::new();
        for (i, raw) in self.scopes.iter().enumerate() {
            if let Some(s) = problems.check(&format!("scopes[{i}]"), scope_token(raw))
                && !scopes.contains(&s)
            {
                scopes.push(s);
            }
        }
        if self.scopes.len() > 50 {
            problems.add("scopes", "must hold at most 50 scopes");
        }
        if self.access_token_ttl.is_some_and(|t| !(60..=86_400).contains(&t)) {
            problems.add("access_token_ttl", "must be between 60 and 86400 seconds");
        }
        if self.refresh_token_ttl.is_some_and(|t| !(60..=31_536_000).contains(&t)) {
            problems.add("refresh_token_ttl", "must be between 60 and 31536000 seconds");
        }
        let id_token_alg = match self.id_token_signed_response_alg.as_deref() {
            None | Some("RS256") => self.id_token_signed_response_alg.clone(),
            Some(alg)
                if alg == rules.access_algorithm.as_str()
                    && rules.access_algorithm != crate::token::Algorithm::HS256 =>
            {
                Some(alg.to_owned())
            }
            Some(_) => {
                problems.add(
                    "id_token_signed_response_alg",
                    format!(
                        "must be RS256{}",
                        match rules.access_algorithm {
                            crate::token::Algorithm::HS256 | crate::token::Algorithm::RS256 => String::new(),
                            other => format!(" or {other}"),
                        }
                    ),
                );
                None
            }
        };
        let (name,) = problems.done((name,))?;
        Ok(AppSpec {
            name: name.into_inner(),
            kind,
            auth_method,
            jwks,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            scopes,
            resources,
            first_party: self.first_party,
            multi_org: self.multi_org,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            backchannel_logout_uri,
            id_token_alg,
            active: self.is_active,
        })
    }
}

impl Application {
    /// The application described by `spec`, keeping its identity and secret.
    pub fn with_spec(self, spec: AppSpec, now: DateTime<Utc>) -> Self {
        Self {
            name: spec.name,
            kind: spec.kind,
            secret_hash: if spec.auth_method.uses_secret() {
                self.secret_hash
            } else {
                None
            },
            auth_method: spec.auth_method,
            jwks: spec.jwks,
            redirect_uris: spec.redirect_uris,
            post_logout_redirect_uris: spec.post_logout_redirect_uris,
            grant_types: spec.grant_types,
            scopes: spec.scopes,
            resources: spec.resources,
            first_party: spec.first_party,
            multi_org: spec.multi_org,
            access_token_ttl: spec.access_token_ttl,
            refresh_token_ttl: spec.refresh_token_ttl,
            backchannel_logout_uri: spec.backchannel_logout_uri,
            id_token_alg: spec.id_token_alg,
            active: spec.active,
            updated_at: now,
            ..self
        }
    }
}
