//! Matrix accounts through Synapse's shared-secret registration
//! (`/_synapse/admin/v1/register`): fetch a nonce, then register with an HMAC-SHA1 of nonce,
//! user, password and admin flag keyed by `registration_shared_secret`.
use crate::config::SynapseConfig;
use anyhow::Context;
use aws_lc_rs::hmac;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

pub struct Synapse {
    endpoint: String,
    secret: SecretString,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Nonce {
    nonce: String,
}

#[derive(Deserialize)]
struct Registered {
    user_id: String,
}

#[derive(Deserialize)]
struct MatrixError {
    #[serde(default)]
    errcode: String,
}

impl Synapse {
    pub fn new(config: &SynapseConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("cannot build the HTTP client for Synapse")?;
        Ok(Self {
            endpoint: format!("{}/_synapse/admin/v1/register", config.admin_url),
            secret: config.registration_secret.clone(),
            client,
        })
    }

    /// Registers a Matrix account for `email` (its local part, or with `fallback_suffix` when
    /// taken) and returns its user id. The Matrix password is random: nobody logs in with it.
    pub async fn register(&self, email: &str, display_name: &str, fallback_suffix: &str) -> anyhow::Result<String> {
        let base = localpart(email);
        match self.register_as(&base, display_name).await? {
            Ok(user_id) => Ok(user_id),
            Err(errcode) if errcode == "M_USER_IN_USE" => {
                let retry = format!("{base}.{fallback_suffix}");
                self.register_as(&retry, display_name)
                    .await?
                    .map_err(|code| anyhow::anyhow!("Synapse refused {retry}: {code}"))
            }
            Err(errcode) => Err(anyhow::anyhow!("Synapse refused {base}: {errcode}")),
        }
    }

    /// One attempt: the user id, or Synapse's error code.
    async fn register_as(&self, user: &str, display_name: &str) -> anyhow::Result<Result<String, String>> {
        let nonce: Nonce = self
            .client
            .get(&self.endpoint)
            .send()
            .await
            .context("cannot reach Synapse")?
            .error_for_status()
            .context("Synapse refused a nonce")?
            .json()
            .await
            .context("Synapse's nonce answer")?;
        let password = crate::crypto::random_token().map_err(|_| anyhow::anyhow!("no randomness"))?;
        let body = json!({
            "nonce": nonce.nonce, "username": user, "displayname": display_name, "password": password,
            "admin": false, "mac": mac(self.secret.expose_secret(), &nonce.nonce, user, &password, false),
        });
        let response = self
            .client
            .post(&self.endpoint)
            .json(&body)
            .send()
            .await
            .context("cannot reach Synapse")?;
        let status = response.status();
        if status.is_success() {
            let registered: Registered = response.json().await.context("Synapse's registration answer")?;
            return Ok(Ok(registered.user_id));
        }
        let errcode = response
            .json::<MatrixError>()
            .await
            .map(|e| e.errcode)
            .unwrap_or_default();
        Ok(Err(if errcode.is_empty() {
            status.to_string()
        } else {
            errcode
        }))
    }
}

/// Synapse's registration MAC: hex HMAC-SHA1 over `nonce NUL user NUL password NUL admin|notadmin`.
pub fn mac(secret: &str, nonce: &str, user: &str, password: &str, admin: bool) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let role = if admin { "admin" } else { "notadmin" };
    let message = [nonce, user, password, role].join("\0");
    hmac::sign(&key, message.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A Matrix localpart from an email: its local part, lower-cased, with anything outside
/// `a-z 0-9 . _ = - /` replaced by `_`.
pub fn localpart(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    let cleaned: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || "._=-/".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() { "user".into() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_is_hmac_sha1_of_the_documented_message() {
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, b"Jefe");
        let tag: String = hmac::sign(&key, b"what do ya want for nothing?")
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(tag, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        assert_eq!(mac("k", "n", "u", "p", false).len(), 40);
        assert_ne!(mac("k", "n", "u", "p", false), mac("k", "n", "u", "p", true));
    }

    #[test]
    fn localparts_keep_only_what_matrix_allows() {
        assert_eq!(localpart("User.Name+tag@daarion.space"), "user.name_tag");
        assert_eq!(localpart("@x"), "user");
    }
}
