//! guildhall as an OpenID Provider in tests: an app whose issuer is its real address (relying
//! parties compare it byte for byte), applications registered through the API, and a
//! browser-like client (cookies, no redirects followed) that reads the hosted pages' forms.
use crate::helpers::{Org, TestApp, spawn_app_with};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guildhall::config::Settings;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// An app listening on a port picked first, so the issuer can be its address.
pub async fn spawn_provider(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    spawn_app_with(move |s| {
        s.port = port;
        s.issuer = Some(format!("http://127.0.0.1:{port}"));
        s.oidc.public_url = Some(format!("http://127.0.0.1:{port}"));
        tweak(s);
    })
    .await
}

/// Registers an application of `org`; answers its view (with `client_secret` when it has one).
pub async fn register_app(app: &TestApp, org: &Org, settings: Value) -> Value {
    app.expect(
        "POST",
        &format!("/orgs/{}/clients", org.id),
        &org.admin_token,
        Some(settings),
        StatusCode::CREATED,
    )
    .await
}

/// A PKCE pair (RFC 7636 §4.1–4.2).
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let challenge = URL_SAFE_NO_PAD.encode(guildhall::crypto::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// The value of a hidden input (or any input with a value) named `name` in a page.
pub fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html_unescape(&html[start..end]))
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser: keeps cookies, follows nothing.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

/// What a page answered.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub html: String,
    pub csp: Option<String>,
}

impl Page {
    async fn from(response: Response) -> Self {
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let csp = response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        Self {
            status,
            location,
            html: response.text().await.unwrap(),
            csp,
        }
    }

    pub fn field(&self, name: &str) -> String {
        field(&self.html, name).unwrap_or_else(|| panic!("no {name} in the page:\n{}", self.html))
    }

    /// The query parameters of the redirect.
    pub fn redirect_params(&self) -> Vec<(String, String)> {
        let location = self
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("no redirect:\n{}", self.html));
        let url = url::Url::parse(location).unwrap();
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.redirect_params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub fn is(&self, what: &str) -> bool {
        self.html.contains(what)
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap(),
            base: app.address.clone(),
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        };
        Page::from(self.client.get(url).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Page::from(
            self.client
                .post(format!("{}{path}", self.base))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Submits the login form of `page`.
    pub async fn log_in(&self, page: &Page, login: &str, password: &str) -> Page {
        let (handle, csrf) = (page.field("handle"), page.field("csrf"));
        self.post(
            "/oauth2/login",
            &[
                ("handle", &handle),
                ("csrf", &csrf),
                ("login", login),
                ("password", password),
            ],
        )
        .await
    }

    /// Answers the consent page of `page`.
    pub async fn consent(&self, page: &Page, decision: &str) -> Page {
        let (handle, csrf) = (page.field("handle"), page.field("csrf"));
        self.post(
            "/oauth2/consent",
            &[("handle", &handle), ("csrf", &csrf), ("decision", decision)],
        )
        .await
    }

    /// Picks an organisation on the picker page.
    pub async fn pick(&self, page: &Page, slug: &str) -> Page {
        let (handle, csrf) = (page.field("handle"), page.field("csrf"));
        self.post(
            "/oauth2/organization",
            &[("handle", &handle), ("csrf", &csrf), ("organization", slug)],
        )
        .await
    }
}

/// An authorization URL for a client.
pub fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap();
    format!("{}/oauth2/authorize?{query}", app.address)
}

/// Exchanges a code at the token endpoint; answers status and body.
pub async fn exchange(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url("/oauth2/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(json!(null)))
}
