//! The hosted pages: server-rendered HTML (askama templates compiled into the binary, under
//! `templates/`), no JavaScript needed (the `form_post` response auto-submits with a nonce'd
//! script, and has a button for when scripts are off), every form carrying a CSRF token checked
//! against the `guildhall_csrf` cookie (double submit; the cookie is HttpOnly and
//! SameSite=Strict), and every page sent with a strict Content-Security-Policy
//! (`default-src 'none'`, `frame-ancestors 'none'`, `form-action` limited to guildhall and the
//! application's registered redirect origins), `no-store` and no referrer. The pages that offer
//! a passkey also allow guildhall's own script (`/oauth2/assets/passkey.js`, `script-src
//! 'self'`) and its requests (`connect-src 'self'`); no page runs inline script but `form_post`'s
//! nonce'd one.
use crate::crypto;
use crate::http::error::current_request_id;
use crate::service::openid::{
    Branding, ConsentView, EnrolView, LoginView, OrgChoice, ProviderButton, ResponseMode, SecondFactorView, Step,
    form_origin,
};
use askama::Template;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

pub const SESSION_COOKIE: &str = "guildhall_session";

/// The scripts a page may run.
pub enum Scripts<'a> {
    None,
    /// One inline script carrying this nonce (`form_post`).
    Nonce(&'a str),
    /// guildhall's own script files (the passkey buttons).
    Own,
}

fn scripts(own: bool) -> Scripts<'static> {
    if own { Scripts::Own } else { Scripts::None }
}
pub const CSRF_COOKIE: &str = "guildhall_csrf";

pub const STYLE: &str = include_str!("../../../templates/style.css");
pub const PASSKEY_SCRIPT: &str = include_str!("../../../templates/passkey.js");

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    brand: &'a Branding,
    handle: &'a str,
    csrf: &'a str,
    login: &'a str,
    error: Option<&'a str>,
    providers: &'a [ProviderButton],
    sso_asked: bool,
    passkeys: bool,
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage<'a> {
    brand: &'a Branding,
    handle: &'a str,
    csrf: &'a str,
    mfa_token: &'a str,
    error: Option<&'a str>,
    passkeys: bool,
}

#[derive(Template)]
#[template(path = "enrol_factor.html")]
struct EnrolFactorPage<'a> {
    brand: &'a Branding,
    handle: &'a str,
    csrf: &'a str,
    mfa_token: &'a str,
    secret: &'a str,
    qr_base64: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    brand: &'a Branding,
    handle: &'a str,
    csrf: &'a str,
    codes: &'a [String],
}

#[derive(Template)]
#[template(path = "select_account.html")]
struct SelectAccountPage<'a> {
    brand: &'a Branding,
    handle: &'a str,
    csrf: &'a str,
    user: &'a str,
}

#[derive(Template)]
#[template(path = "organization.html")]
struct OrganizationPage<'a> {
    brand: &'a Branding,
    handle: &'a str,
    csrf: &'a str,
    orgs: &'a [OrgChoice],
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    brand: &'a Branding,
    handle: &'a str,
    csrf: &'a str,
    user: &'a str,
    scopes: &'a [(String, String)],
    user_code: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    brand: &'a Branding,
    title: &'a str,
    message: &'a str,
    error: bool,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    brand: &'a Branding,
    csrf: &'a str,
    client_name: Option<&'a str>,
    carried: &'a [(&'static str, String)],
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage<'a> {
    brand: &'a Branding,
    csrf: &'a str,
    user_code: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    params: &'a [(&'static str, String)],
    nonce: &'a str,
}

/// guildhall's own branding, for pages outside an application's request.
pub fn house() -> Branding {
    Branding {
        client_name: "guildhall".into(),
        org_name: "guildhall".into(),
        logo_url: None,
        form_targets: vec![],
    }
}

/// The browser's value of a cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// What a page needs to know about the request that shows it.
pub struct PageContext {
    /// The CSRF token the forms carry (the cookie's, or a new one that is set).
    pub csrf: String,
    new_csrf: bool,
    secure: bool,
}

impl PageContext {
    pub fn new(headers: &HeaderMap, secure: bool) -> Self {
        match cookie(headers, CSRF_COOKIE).filter(|c| c.len() == 43) {
            Some(existing) => Self {
                csrf: existing.to_owned(),
                new_csrf: false,
                secure,
            },
            None => Self {
                csrf: crypto::random_token().unwrap_or_default(),
                new_csrf: true,
                secure,
            },
        }
    }

    /// Whether a form's token is the browser's (constant time).
    pub fn form_is_ours(headers: &HeaderMap, presented: &str) -> bool {
        let Some(cookie) = cookie(headers, CSRF_COOKIE) else {
            return false;
        };
        !presented.is_empty()
            && aws_lc_rs::constant_time::verify_slices_are_equal(cookie.as_bytes(), presented.as_bytes()).is_ok()
    }

    fn attributes(&self) -> &'static str {
        if self.secure { "; Secure" } else { "" }
    }

    fn finish(&self, mut response: Response) -> Response {
        if self.new_csrf
            && let Ok(value) = HeaderValue::from_str(&format!(
                "{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
                self.csrf,
                self.attributes()
            ))
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    /// Sets (`Some`) or clears (`None`) the browser session cookie.
    pub fn session_cookie(&self, response: &mut Response, value: Option<&str>) {
        let cookie = match value {
            Some(v) => format!(
                "{SESSION_COOKIE}={v}; Path=/; HttpOnly; SameSite=Lax{}",
                self.attributes()
            ),
            None => format!(
                "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
                self.attributes()
            ),
        };
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }

    /// A rendered page with its security headers.
    pub fn html(&self, status: StatusCode, body: String, form_targets: &[String], scripts: Scripts) -> Response {
        let mut csp = String::from(
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        );
        for target in form_targets {
            csp.push(' ');
            csp.push_str(target);
        }
        match scripts {
            Scripts::None => {}
            Scripts::Nonce(nonce) => csp.push_str(&format!("; script-src 'nonce-{nonce}'")),
            Scripts::Own => csp.push_str("; script-src 'self'; connect-src 'self'"),
        }
        let mut response = (status, axum::response::Html(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(csp) = HeaderValue::from_str(&csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        self.finish(response)
    }

    /// A message page (an error, or "you are logged out").
    pub fn message(&self, status: StatusCode, brand: &Branding, title: &str, message: &str) -> Response {
        let page = MessagePage {
            brand,
            title,
            message,
            error: status.is_client_error() || status.is_server_error(),
        };
        self.render(status, &page, &brand.form_targets)
    }

    fn render(&self, status: StatusCode, page: &impl Template, targets: &[String]) -> Response {
        self.render_with(status, page, targets, Scripts::None)
    }

    fn render_with(&self, status: StatusCode, page: &impl Template, targets: &[String], scripts: Scripts) -> Response {
        match page.render() {
            Ok(body) => self.html(status, body, targets, scripts),
            Err(e) => {
                tracing::error!(error = %e, request_id = current_request_id(), "cannot render a page");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    /// A 302 to `location`.
    pub fn redirect(&self, location: &str) -> Response {
        match HeaderValue::from_str(location) {
            Ok(value) => {
                let mut response = (StatusCode::FOUND, [(header::LOCATION, value)]).into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                self.finish(response)
            }
            Err(_) => self.message(
                StatusCode::BAD_REQUEST,
                &house(),
                "Bad address",
                "The address to go to is malformed.",
            ),
        }
    }

    /// A step of an authorization request, as the browser gets it.
    pub fn step(&self, step: Step) -> Response {
        match step {
            Step::Login(LoginView {
                handle,
                branding,
                login,
                error,
                providers,
                sso_asked,
                passkeys,
            }) => {
                let page = LoginPage {
                    brand: &branding,
                    handle: &handle,
                    csrf: &self.csrf,
                    login: &login,
                    error: error.as_deref(),
                    providers: &providers,
                    sso_asked,
                    passkeys,
                };
                let status = if error.is_some() {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::OK
                };
                self.render_with(status, &page, &branding.form_targets, scripts(passkeys))
            }
            Step::SecondFactor(SecondFactorView {
                handle,
                branding,
                mfa_token,
                error,
                passkeys,
            }) => {
                let page = SecondFactorPage {
                    brand: &branding,
                    handle: &handle,
                    csrf: &self.csrf,
                    mfa_token: &mfa_token,
                    error: error.as_deref(),
                    passkeys,
                };
                let status = if error.is_some() {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::OK
                };
                self.render_with(status, &page, &branding.form_targets, scripts(passkeys))
            }
            Step::EnrolFactor(EnrolView {
                handle,
                branding,
                mfa_token,
                secret,
                qr_svg,
                error,
            }) => {
                use base64::Engine;
                let qr_base64 = base64::engine::general_purpose::STANDARD.encode(qr_svg.as_bytes());
                let page = EnrolFactorPage {
                    brand: &branding,
                    handle: &handle,
                    csrf: &self.csrf,
                    mfa_token: &mfa_token,
                    secret: &secret,
                    qr_base64: &qr_base64,
                    error: error.as_deref(),
                };
                let status = if error.is_some() {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::OK
                };
                self.render(status, &page, &branding.form_targets)
            }
            Step::RecoveryCodes {
                handle,
                branding,
                codes,
            } => {
                let page = RecoveryCodesPage {
                    brand: &branding,
                    handle: &handle,
                    csrf: &self.csrf,
                    codes: &codes,
                };
                self.render(StatusCode::OK, &page, &branding.form_targets)
            }
            Step::SelectAccount { handle, branding, user } => {
                let page = SelectAccountPage {
                    brand: &branding,
                    handle: &handle,
                    csrf: &self.csrf,
                    user: &user,
                };
                self.render(StatusCode::OK, &page, &branding.form_targets)
            }
            Step::PickOrg { handle, branding, orgs } => {
                let page = OrganizationPage {
                    brand: &branding,
                    handle: &handle,
                    csrf: &self.csrf,
                    orgs: &orgs,
                };
                self.render(StatusCode::OK, &page, &branding.form_targets)
            }
            Step::Consent(ConsentView {
                handle,
                branding,
                user,
                scopes,
                user_code,
            }) => {
                let page = ConsentPage {
                    brand: &branding,
                    handle: &handle,
                    csrf: &self.csrf,
                    user: &user,
                    scopes: &scopes,
                    user_code: user_code.as_deref(),
                };
                self.render(StatusCode::OK, &page, &branding.form_targets)
            }
            Step::Respond {
                redirect_uri,
                mode: ResponseMode::Query,
                params,
            } => {
                let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                self.redirect(&crate::service::with_query(&redirect_uri, &pairs))
            }
            Step::Respond {
                redirect_uri,
                mode: ResponseMode::FormPost,
                params,
            } => {
                let nonce = crypto::random_token().unwrap_or_default();
                let page = FormPostPage {
                    action: &redirect_uri,
                    params: &params,
                    nonce: &nonce,
                };
                match page.render() {
                    Ok(body) => self.html(
                        StatusCode::OK,
                        body,
                        &[form_origin(&redirect_uri)],
                        Scripts::Nonce(&nonce),
                    ),
                    Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
                }
            }
            Step::DeviceDone { approved, client_name } => {
                let (title, message) = if approved {
                    (
                        "Device connected",
                        format!("{client_name} is connected. You can close this page and return to your device."),
                    )
                } else {
                    (
                        "Device not connected",
                        format!("You denied {client_name} access. You can close this page."),
                    )
                };
                self.message(StatusCode::OK, &house(), title, &message)
            }
            Step::Error { title, message } => self.message(StatusCode::BAD_REQUEST, &house(), title, &message),
        }
    }

    pub fn logout_confirm(
        &self,
        client_name: Option<&str>,
        carried: &[(&'static str, String)],
        targets: &[String],
    ) -> Response {
        let brand = house();
        let page = LogoutPage {
            brand: &brand,
            csrf: &self.csrf,
            client_name,
            carried,
        };
        self.render(StatusCode::OK, &page, targets)
    }

    pub fn device(&self, user_code: &str, error: Option<&str>) -> Response {
        let brand = house();
        let page = DevicePage {
            brand: &brand,
            csrf: &self.csrf,
            user_code,
            error,
        };
        let status = if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        self.render(status, &page, &[])
    }
}

/// A form body for a page: a malformed one is an error page, not JSON.
pub struct PageForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bad = || {
            PageContext {
                csrf: String::new(),
                new_csrf: false,
                secure: true,
            }
            .message(
                StatusCode::BAD_REQUEST,
                &house(),
                "Bad request",
                "The form could not be read. Go back and try again.",
            )
        };
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|_| bad())?;
        serde_urlencoded::from_bytes(&bytes).map(PageForm).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show() {
        let brand = Branding {
            client_name: "<script>x</script>".into(),
            org_name: "A&B".into(),
            logo_url: Some("https://x.test/\"onerror=\"".into()),
            form_targets: vec![],
        };
        let page = LoginPage {
            brand: &brand,
            handle: "h\"",
            csrf: "c",
            login: "<b>",
            error: Some("<i>"),
            providers: &[],
            sso_asked: false,
            passkeys: false,
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>x"));
        assert!(
            html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
            "{html}"
        );
        assert!(!html.contains("\"onerror=\""));
        assert!(!html.contains("<b>") && !html.contains("<i>"));
    }
}
