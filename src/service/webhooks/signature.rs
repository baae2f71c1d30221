//! Standard Webhooks signatures (standardwebhooks.com): a `whsec_`-prefixed base64 secret, and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`.
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub const PREFIX: &str = "whsec_";

/// A new secret: 32 random bytes.
pub fn new_secret() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key)?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(key)))
}

/// The `webhook-signature` value of a message; `None` for a secret that is not one of ours.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let mut context = hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body.as_bytes());
    Some(format!("v1,{}", STANDARD.encode(context.sign().as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_reference_implementation() {
        // The Standard Webhooks test vector (its libraries' test suites use it).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(sign("no prefix", "id", 1, body).is_none());
        let fresh = new_secret().unwrap();
        assert!(fresh.starts_with(PREFIX) && sign(&fresh, "id", 1, body).is_some());
    }
}
