//! Driving an external login the way a browser does: follow redirects by hand, keep guildhall's
//! login cookie, and read where each step points.
use crate::helpers::*;
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Where the frontend wants the result (allowed by `AUTH_OIDC_REDIRECT_URIS` in these tests).
pub const FRONTEND: &str = "http://frontend.test/after-login";
/// guildhall's public address in the tests (the issuer); providers send browsers back there.
pub const PUBLIC: &str = "http://guildhall.test";

pub async fn spawn_oidc_app() -> TestApp {
    spawn_app_with(|s| s.oidc.oidc_redirect_uris = Some(format!("{FRONTEND},http://other.test/cb"))).await
}

/// A client that never follows redirects.
pub fn manual() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND, "a redirect");
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// The query parameters of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    serde_urlencoded::from_str(q).unwrap()
}

/// A browser in the middle of an external login.
pub struct Browser {
    pub client: reqwest::Client,
    /// guildhall's login cookie (`name=value`).
    pub cookie: String,
    /// Where guildhall sent the browser (the provider's authorization endpoint).
    pub authorize: String,
}

impl Browser {
    /// `GET /auth/oidc/{slug}/login`; asserts the redirect and the cookie.
    pub async fn start(app: &TestApp, slug: &str) -> Browser {
        let client = manual();
        let url = app.url(&format!(
            "/auth/oidc/{slug}/login?redirect_uri={}&state=frontend-state",
            urlencode(FRONTEND)
        ));
        let response = client.get(url).send().await.unwrap();
        let authorize = location(&response);
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let cookie = cookie.split(';').next().unwrap().to_owned();
        Browser {
            client,
            cookie,
            authorize,
        }
    }

    /// Delivers the provider's redirect (to guildhall's public address) to the test app; answers
    /// the response.
    pub async fn callback(&self, app: &TestApp, provider_redirect: &str) -> reqwest::Response {
        assert!(provider_redirect.starts_with(PUBLIC), "{provider_redirect}");
        let url = provider_redirect.replacen(PUBLIC, &app.address, 1);
        self.client
            .get(url)
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// The frontend's query after the callback: `code` (and `state`), or `error`.
    pub async fn finish(&self, app: &TestApp, provider_redirect: &str) -> HashMap<String, String> {
        let response = self.callback(app, provider_redirect).await;
        let to = location(&response);
        assert!(to.starts_with(FRONTEND), "back to the frontend: {to}");
        query(&to)
    }
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).unwrap()[1..].to_owned()
}

/// Exchanges the one-time code; asserts success and answers the token response.
pub async fn exchange(app: &TestApp, code: &str) -> Value {
    let response = app.post_json("/auth/oidc/exchange", &json!({"code": code})).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await
}

/// How many accounts exist (to prove a refused login created none).
pub async fn user_count(app: &TestApp) -> u64 {
    let root = app.superuser_token().await;
    app.expect("GET", "/admin/users", &root, None, StatusCode::OK).await["total"]
        .as_u64()
        .unwrap()
}
