//! The device authorization grant (RFC 8628) for CLIs and TVs: the device gets a device code
//! to poll with and a short user code; the user enters the code on guildhall's `/device` page,
//! logs in, picks the organisation and confirms; the device's next poll gets the tokens.
//!
//! User codes are eight letters from a 20-letter alphabet without vowels (no words, no
//! look-alikes; about 34 bits), shown as `XXXX-XXXX`, valid ten minutes.
use super::authorize::Answer;
use super::client_auth::Client;
use super::{OAuthError, OAuthResult, OpenIdProvider};
use crate::crypto;
use crate::model::GrantType;
use crate::service::{Result, no_randomness};
use crate::store::{self, provider::DeviceGrant};
use chrono::Duration;
use serde::Serialize;

const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const DEVICE_TTL_SECONDS: i64 = 600;
const INTERVAL_SECONDS: i64 = 5;

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Serialize)]
pub struct DeviceStart {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

fn new_user_code() -> Result<String> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).map_err(no_randomness)?;
    // 256 is not a multiple of 20: reject the bytes that would bias the choice.
    let mut letters = Vec::with_capacity(8);
    let mut pool = bytes.to_vec();
    while letters.len() < 8 {
        if pool.is_empty() {
            let mut more = [0u8; 8];
            aws_lc_rs::rand::fill(&mut more).map_err(no_randomness)?;
            pool.extend_from_slice(&more);
        }
        let b = pool.pop().unwrap_or(0);
        if b < 240 {
            letters.push(USER_CODE_ALPHABET[usize::from(b % 20)]);
        }
    }
    let code = String::from_utf8_lossy(&letters).into_owned();
    Ok(format!("{}-{}", &code[..4], &code[4..]))
}

/// A user code as typed: case, spaces and dashes do not matter.
pub fn normalize_user_code(raw: &str) -> Option<String> {
    let letters: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (letters.len() == 8 && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then(|| format!("{}-{}", &letters[..4], &letters[4..]))
}

impl OpenIdProvider {
    /// `POST /oauth2/device_authorization`.
    pub async fn device_authorization(&self, client: &Client, scope: Option<&str>) -> OAuthResult<DeviceStart> {
        let Client::App(app) = client else {
            return Err(OAuthError::new(
                "unauthorized_client",
                "service accounts use client_credentials",
            ));
        };
        if !app.allows(GrantType::DeviceCode) {
            return Err(OAuthError::new(
                "unauthorized_client",
                "this application may not use the device authorization grant",
            ));
        }
        let scopes: Vec<String> = scope.unwrap_or_default().split_whitespace().map(String::from).collect();
        let allowed = app.allowed_scopes();
        if scopes.iter().any(|s| !allowed.contains(&s.as_str())) {
            return Err(OAuthError::new(
                "invalid_scope",
                "a scope is not allowed for this application",
            ));
        }
        let device_code = crypto::random_token().map_err(no_randomness)?;
        let now = self.changes.now();
        let mut user_code = new_user_code()?;
        // A collision with a live code is astronomically rare; try a few times all the same.
        for _ in 0..3 {
            if store::provider::device_by_user_code(&self.db, &user_code, now)
                .await?
                .is_none()
            {
                break;
            }
            user_code = new_user_code()?;
        }
        let stored = DeviceGrant {
            device_code_hash: crypto::token_digest(&device_code),
            user_code: user_code.clone(),
            client_id: app.client_id.clone(),
            scopes: scopes.join(" "),
            status: "pending".into(),
            grant: None,
            expires_at: now + Duration::seconds(DEVICE_TTL_SECONDS),
            interval: INTERVAL_SECONDS,
            last_polled_at: None,
        };
        store::provider::insert_device(&self.db, &stored, now).await?;
        let verification_uri = self.endpoint("/device");
        Ok(DeviceStart {
            device_code,
            verification_uri_complete: crate::service::with_query(&verification_uri, &[("user_code", &user_code)]),
            user_code,
            verification_uri,
            expires_in: DEVICE_TTL_SECONDS,
            interval: INTERVAL_SECONDS,
        })
    }

    /// The `/device` page's form: a pending user code starts the hosted login and confirmation.
    pub async fn device_code_entered(&self, raw: &str, browser: Option<&str>) -> Result<Option<Answer>> {
        let Some(code) = normalize_user_code(raw) else {
            return Ok(None);
        };
        let now = self.changes.now();
        let Some(device) = store::provider::device_by_user_code(&self.db, &code, now)
            .await?
            .filter(|d| d.status == "pending")
        else {
            return Ok(None);
        };
        let Some(app) = self.app(&device.client_id).await? else {
            return Ok(None);
        };
        let scopes = device.scopes.split_whitespace().map(String::from).collect();
        Ok(Some(
            self.start_device_request(&app, device.device_code_hash, scopes, browser)
                .await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_unambiguous_letters() {
        for _ in 0..200 {
            let code = new_user_code().unwrap();
            assert_eq!(code.len(), 9);
            assert_eq!(normalize_user_code(&code.to_lowercase()), Some(code.clone()));
        }
        assert_eq!(normalize_user_code("bcdf ghjk"), Some("BCDF-GHJK".into()));
        assert_eq!(normalize_user_code("ABCD-EFGH"), None, "vowels are never issued");
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
    }
}
