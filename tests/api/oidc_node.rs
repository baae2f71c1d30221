//! A real, OpenID Certified provider (node `oidc-provider`, `tests/oidc/provider.mjs`) started on
//! 127.0.0.1 for a test, and a headless walk through its development login and consent forms.
use crate::oidc_support::location;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

static INSTALL: Mutex<bool> = Mutex::new(false);

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Installs the provider's npm packages once (from package-lock.json).
fn install() {
    let mut done = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if *done || dir().join("node_modules/oidc-provider").exists() {
        *done = true;
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir())
        .status()
        .expect("npm is needed for the OIDC tests (Node 20 or later)");
    assert!(status.success(), "npm ci in tests/oidc failed");
    *done = true;
}

pub struct NodeIdp {
    child: Child,
    pub issuer: String,
}

impl Drop for NodeIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeIdp {
    /// Starts a provider with these clients and accounts (see provider.mjs).
    pub async fn start(config: Value) -> NodeIdp {
        tokio::task::spawn_blocking(move || {
            install();
            let mut child = Command::new("node")
                .arg("provider.mjs")
                .current_dir(dir())
                .env("OIDC_TEST_CONFIG", config.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("node is needed for the OIDC tests");
            let stdout = child.stdout.take().unwrap();
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            // Keep reading what it prints (its interactions log to stdout) so it never hits EPIPE.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            let issuer = line
                .strip_prefix("listening ")
                .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
                .trim()
                .to_owned();
            NodeIdp { child, issuer }
        })
        .await
        .unwrap()
    }

    /// Walks from the authorization URL through login (as `account`) and consent; answers the
    /// provider's final redirect (to guildhall's callback). `abort` refuses at the login form.
    pub async fn authorize(&self, authorize: &str, account: &str, abort: bool) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let mut url = authorize.to_owned();
        for _ in 0..10 {
            if !url.starts_with(&self.issuer) {
                return url;
            }
            let response = client.get(&url).send().await.unwrap();
            if response.status().is_redirection() {
                url = absolute(&self.issuer, &location_any(&response));
                continue;
            }
            let page = response.text().await.unwrap();
            let uid = url.rsplit('/').next().unwrap().to_owned();
            let submit = format!("{}/interaction/{uid}", self.issuer);
            let response = if abort {
                client.get(format!("{submit}/abort")).send().await.unwrap()
            } else if page.contains(r#"name="prompt" value="login""#) {
                let form = [("prompt", "login"), ("login", account), ("password", "any")];
                client.post(&submit).form(&form).send().await.unwrap()
            } else {
                assert!(
                    page.contains(r#"name="prompt" value="consent""#),
                    "a consent form: {page}"
                );
                client
                    .post(&submit)
                    .form(&[("prompt", "consent")])
                    .send()
                    .await
                    .unwrap()
            };
            url = absolute(&self.issuer, &location_any(&response));
        }
        panic!("the provider never sent the browser back");
    }
}

fn location_any(response: &reqwest::Response) -> String {
    if response.status() == reqwest::StatusCode::FOUND {
        return location(response);
    }
    assert!(
        response.status().is_redirection(),
        "a redirect, got {}",
        response.status()
    );
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn absolute(issuer: &str, url: &str) -> String {
    if url.starts_with('/') {
        format!("{issuer}{url}")
    } else {
        url.to_owned()
    }
}
