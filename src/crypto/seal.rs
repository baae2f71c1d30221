//! Secrets at rest: envelope encryption with AES-256-GCM (aws-lc-rs). Every sealed value gets its
//! own random 256-bit data key; the data key is encrypted ("wrapped") with the master key
//! (`AUTH_MASTER_KEY`) and the secret with the data key, each under a random 96-bit nonce, and
//! the column the value belongs to ([`Purpose`]) is bound to both as associated data, so a sealed
//! value opens only in the column it was sealed for. A sealed value is one line of text:
//!
//! ```text
//! gh-sealed:v1:<master key id>:<wrapped data key>:<sealed secret>
//! ```
//!
//! The master key id is the first 8 bytes of the SHA-256 of the raw key, in hex, so a value sealed
//! with another key is reported as such; the other two parts are base64url of nonce ‖ ciphertext ‖
//! tag. Without a master key the [`Sealer`] stores values as they are, and values that are not
//! sealed (stored before a master key was set) open as themselves.
use aws_lc_rs::aead::{AES_256_GCM, Aad, MAX_TAG_LEN, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;
use std::fmt;
use std::sync::Arc;

const PREFIX: &str = "gh-sealed:";
const VERSION: &str = "v1";
const KEY_LEN: usize = 32;
/// Hex digits of a master key id.
const ID_LEN: usize = 16;

/// The column a secret is sealed for; bound to the sealed value, which opens for no other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `signing_keys.private_key`: a token signing key's PKCS#8 (base64).
    SigningKey,
    /// `identity_providers.client_secret`: guildhall's secret at an organisation's provider.
    IdpClientSecret,
    /// `webhooks.secret`: the key a webhook's deliveries are signed with.
    WebhookSecret,
    /// `mfa_totp.secret`: a user's authenticator-app secret (base32).
    TotpSecret,
}

impl Purpose {
    /// The label bound as associated data.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SigningKey => "signing_key",
            Self::IdpClientSecret => "idp_client_secret",
            Self::WebhookSecret => "webhook_secret",
            Self::TotpSecret => "totp_secret",
        }
    }

    fn aad(self, part: &str) -> String {
        format!("{PREFIX}{VERSION}:{part}:{}", self.as_str())
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SigningKey => "signing key",
            Self::IdpClientSecret => "identity provider's client secret",
            Self::WebhookSecret => "webhook's signing secret",
            Self::TotpSecret => "authenticator-app secret",
        })
    }
}

/// Why a master key cannot be read; the key itself is never part of the message.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("must be 32 bytes (64 hex digits, or base64 as from `openssl rand -base64 32`), not {0} bytes")]
    Length(usize),
    #[error("is neither hex nor base64 (32 bytes: 64 hex digits, or base64 as from `openssl rand -base64 32`)")]
    Encoding,
    #[error("cannot be used as an AES-256 key")]
    Unusable,
}

/// The master key: 32 bytes, kept only as the cipher's key schedule, named by its id.
#[derive(Clone)]
pub struct MasterKey {
    key: Arc<RandomizedNonceKey>,
    id: String,
}

impl MasterKey {
    /// 32 bytes as 64 hex digits or base64 (standard or URL-safe, padded or not); surrounding
    /// whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, KeyFormatError> {
        let bytes = Zeroizing::new(decode(text.trim()).ok_or(KeyFormatError::Encoding)?);
        if bytes.len() != KEY_LEN {
            return Err(KeyFormatError::Length(bytes.len()));
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, &bytes).map_err(|_| KeyFormatError::Unusable)?;
        Ok(Self {
            key: Arc::new(key),
            id: hex(&super::sha256(&bytes)[..ID_LEN / 2]),
        })
    }

    /// The first 8 bytes of the key's SHA-256, hex: written into every value it seals.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

/// Why a stored value cannot be sealed or opened. Messages name the master key ids, never a key
/// or a secret.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "a {purpose} is sealed with master key {sealed_with}, but no master key is configured (set AUTH_MASTER_KEY or AUTH_MASTER_KEY_FILE)"
    )]
    NoMasterKey { purpose: Purpose, sealed_with: String },
    #[error("a {purpose} is sealed with master key {sealed_with}, but the configured master key is {configured}")]
    WrongMasterKey {
        purpose: Purpose,
        sealed_with: String,
        configured: String,
    },
    #[error("a sealed {purpose} does not open: it was altered, or sealed for another column")]
    Tampered { purpose: Purpose },
    #[error("a sealed {purpose} is malformed or of an unknown version")]
    Malformed { purpose: Purpose },
    #[error("cannot seal a {purpose}: no randomness or the cipher failed")]
    Cipher { purpose: Purpose },
}

/// Seals secrets before they are stored and opens them when they are read; a pass-through without
/// a master key. Built once from the configuration and handed to what stores secrets.
pub struct Sealer {
    master: Option<MasterKey>,
}

impl Sealer {
    pub fn new(master: Option<MasterKey>) -> Self {
        Self { master }
    }

    /// The id of the master key new values are sealed with; `None`: values are stored as they are.
    pub fn master_key_id(&self) -> Option<&str> {
        self.master.as_ref().map(MasterKey::id)
    }

    /// Whether a stored value is sealed (rather than plaintext from before a master key was set).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// What to store for `plaintext` in `purpose`'s column: sealed with the master key, or,
    /// without one, the plaintext itself.
    pub fn seal(&self, purpose: Purpose, plaintext: &str) -> Result<String, SealError> {
        let Some(master) = &self.master else {
            return Ok(plaintext.to_owned());
        };
        let cipher = || SealError::Cipher { purpose };
        let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
        aws_lc_rs::rand::fill(data_key.as_mut()).map_err(|_| cipher())?;
        let wrapped = seal_with(&master.key, &purpose.aad("key"), data_key.as_ref()).ok_or_else(cipher)?;
        let data_key = RandomizedNonceKey::new(&AES_256_GCM, data_key.as_ref()).map_err(|_| cipher())?;
        let sealed = seal_with(&data_key, &purpose.aad("secret"), plaintext.as_bytes()).ok_or_else(cipher)?;
        Ok(format!(
            "{PREFIX}{VERSION}:{}:{}:{}",
            master.id,
            URL_SAFE_NO_PAD.encode(wrapped),
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// The secret a stored value of `purpose`'s column holds. Plaintext opens as itself.
    pub fn open(&self, purpose: Purpose, stored: &str) -> Result<SecretString, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(SecretString::from(stored));
        };
        let malformed = || SealError::Malformed { purpose };
        let tampered = || SealError::Tampered { purpose };
        let parts: Vec<&str> = rest.split(':').collect();
        let [version, id, wrapped, sealed] = parts[..] else {
            return Err(malformed());
        };
        if version != VERSION || id.len() != ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed());
        }
        let master = match &self.master {
            None => {
                return Err(SealError::NoMasterKey {
                    purpose,
                    sealed_with: id.to_owned(),
                });
            }
            Some(master) if master.id != id => {
                return Err(SealError::WrongMasterKey {
                    purpose,
                    sealed_with: id.to_owned(),
                    configured: master.id.clone(),
                });
            }
            Some(master) => master,
        };
        let wrapped = URL_SAFE_NO_PAD.decode(wrapped).map_err(|_| malformed())?;
        let sealed = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| malformed())?;
        let data_key = open_with(&master.key, &purpose.aad("key"), wrapped).ok_or_else(tampered)?;
        let data_key = RandomizedNonceKey::new(&AES_256_GCM, &data_key).map_err(|_| tampered())?;
        let plaintext = open_with(&data_key, &purpose.aad("secret"), sealed).ok_or_else(tampered)?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| malformed())?;
        Ok(SecretString::from(text))
    }
}

/// nonce ‖ ciphertext ‖ tag of `plaintext`; the buffer is sized up front so no copy of the
/// plaintext is left behind by a reallocation.
fn seal_with(key: &RandomizedNonceKey, aad: &str, plaintext: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + MAX_TAG_LEN);
    let mut data = Zeroizing::new(Vec::with_capacity(plaintext.len() + MAX_TAG_LEN));
    data.extend_from_slice(plaintext);
    let nonce = key
        .seal_in_place_append_tag(Aad::from(aad.as_bytes()), &mut *data)
        .ok()?;
    out.extend_from_slice(nonce.as_ref());
    out.extend_from_slice(&data);
    Some(out)
}

/// The plaintext of nonce ‖ ciphertext ‖ tag, if it authenticates.
fn open_with(key: &RandomizedNonceKey, aad: &str, mut sealed: Vec<u8>) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + key.algorithm().tag_len() {
        return None;
    }
    let mut data = Zeroizing::new(sealed.split_off(NONCE_LEN));
    let nonce = Nonce::try_assume_unique_for_key(&sealed).ok()?;
    let len = key
        .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut data[..])
        .ok()?
        .len();
    data.truncate(len);
    Some(data)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const STANDARD_ANY: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_ANY: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// 64 hex digits, else base64 of either alphabet.
fn decode(text: &str) -> Option<Vec<u8>> {
    if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
            .collect();
    }
    STANDARD_ANY.decode(text).or_else(|_| URL_SAFE_ANY.decode(text)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use secrecy::ExposeSecret;

    const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn sealer(hex: &str) -> Sealer {
        Sealer::new(Some(MasterKey::parse(hex).unwrap()))
    }

    fn open(sealer: &Sealer, purpose: Purpose, stored: &str) -> Result<String, SealError> {
        sealer.open(purpose, stored).map(|s| s.expose_secret().to_owned())
    }

    #[test]
    fn a_sealed_value_opens_to_what_was_sealed_and_shows_nothing_of_it() {
        let sealer = sealer(KEY_HEX);
        for secret in ["s3cret", "", "ünïcode ✓", &"x".repeat(4000)] {
            let stored = sealer.seal(Purpose::IdpClientSecret, secret).unwrap();
            assert!(Sealer::is_sealed(&stored), "{stored}");
            assert!(
                secret.len() < 4 || !stored.contains(secret),
                "the plaintext does not show"
            );
            assert_eq!(open(&sealer, Purpose::IdpClientSecret, &stored).unwrap(), secret);
        }
        let (a, b) = (
            sealer.seal(Purpose::SigningKey, "same").unwrap(),
            sealer.seal(Purpose::SigningKey, "same").unwrap(),
        );
        assert_ne!(a, b, "fresh data key and nonces every time");
        let parts: Vec<&str> = a.split(':').collect();
        assert_eq!(parts[..3], ["gh-sealed", "v1", sealer.master_key_id().unwrap()]);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[3]).unwrap().len(),
            12 + 32 + 16,
            "wrapped data key"
        );
    }

    #[test]
    fn the_master_key_id_is_the_start_of_its_sha256() {
        let key = MasterKey::parse(KEY_HEX).unwrap();
        let raw: Vec<u8> = (0u8..32).collect();
        assert_eq!(key.id(), hex(&crate::crypto::sha256(&raw)[..8]));
        assert_eq!(
            format!("{key:?}"),
            format!("MasterKey({})", key.id()),
            "Debug shows only the id"
        );
        let as_base64 = MasterKey::parse(&format!("  {}\n", STANDARD.encode(&raw))).unwrap();
        let unpadded = MasterKey::parse(&URL_SAFE_NO_PAD.encode(&raw)).unwrap();
        assert_eq!(
            (as_base64.id(), unpadded.id()),
            (key.id(), key.id()),
            "hex and base64 alike"
        );
    }

    #[test]
    fn a_master_key_of_the_wrong_length_or_encoding_is_refused() {
        assert_eq!(MasterKey::parse("abcd").unwrap_err(), KeyFormatError::Length(3));
        assert_eq!(
            MasterKey::parse(&STANDARD.encode([7u8; 16])).unwrap_err(),
            KeyFormatError::Length(16)
        );
        assert_eq!(MasterKey::parse("not a key!").unwrap_err(), KeyFormatError::Encoding);
        assert_eq!(MasterKey::parse("").unwrap_err(), KeyFormatError::Length(0));
    }

    #[test]
    fn tampering_with_any_part_fails() {
        let sealer = sealer(KEY_HEX);
        let stored = sealer.seal(Purpose::SigningKey, "the private key").unwrap();
        let other = sealer.seal(Purpose::SigningKey, "another private key").unwrap();
        let parts: Vec<&str> = stored.split(':').collect();
        let other_parts: Vec<&str> = other.split(':').collect();
        let with = |i: usize, value: &str| {
            let mut p = parts.clone();
            p[i] = value;
            p.join(":")
        };
        let flip = |s: &str, at: usize| {
            let mut bytes = s.as_bytes().to_vec();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap()
        };
        let cases = [
            ("version", with(1, "v2")),
            ("key id", with(2, "0123456789abcdef")),
            ("key id, not hex", with(2, "0123456789abcdeg")),
            ("wrapped key, first byte", with(3, &flip(parts[3], 0))),
            ("wrapped key, in the tag", with(3, &flip(parts[3], parts[3].len() - 3))),
            ("secret, nonce", with(4, &flip(parts[4], 1))),
            ("secret, ciphertext", with(4, &flip(parts[4], 20))),
            ("secret, tag", with(4, &flip(parts[4], parts[4].len() - 3))),
            ("secret, truncated", with(4, &parts[4][..parts[4].len() - 4])),
            ("secret, empty", with(4, "")),
            ("another value's data key", with(3, other_parts[3])),
            ("another value's secret", with(4, other_parts[4])),
            ("a part more", format!("{stored}:x")),
            ("a part less", parts[..4].join(":")),
        ];
        for (what, tampered) in cases {
            assert_ne!(tampered, stored, "{what}: the case changes something");
            assert!(open(&sealer, Purpose::SigningKey, &tampered).is_err(), "{what}");
        }
        assert_eq!(open(&sealer, Purpose::SigningKey, &stored).unwrap(), "the private key");
    }

    #[test]
    fn a_value_sealed_for_one_column_does_not_open_in_another() {
        let sealer = sealer(KEY_HEX);
        let stored = sealer.seal(Purpose::IdpClientSecret, "s3cret").unwrap();
        let err = open(&sealer, Purpose::SigningKey, &stored).unwrap_err();
        assert!(
            matches!(
                err,
                SealError::Tampered {
                    purpose: Purpose::SigningKey
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn the_wrong_master_key_or_none_is_named_clearly() {
        let stored = sealer(KEY_HEX).seal(Purpose::SigningKey, "k").unwrap();
        let id = MasterKey::parse(KEY_HEX).unwrap().id().to_owned();
        let other = sealer(&"ff".repeat(32));
        let err = open(&other, Purpose::SigningKey, &stored).unwrap_err().to_string();
        let other_id = other.master_key_id().unwrap();
        assert_eq!(
            err,
            format!("a signing key is sealed with master key {id}, but the configured master key is {other_id}")
        );
        let err = open(&Sealer::new(None), Purpose::SigningKey, &stored)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&id) && err.contains("no master key is configured"),
            "{err}"
        );
        assert!(err.contains("AUTH_MASTER_KEY"), "says how to fix it: {err}");
    }

    #[test]
    fn plaintext_opens_as_itself_and_without_a_key_nothing_is_sealed() {
        let plain = Sealer::new(None);
        assert_eq!(plain.master_key_id(), None);
        assert_eq!(plain.seal(Purpose::IdpClientSecret, "s3cret").unwrap(), "s3cret");
        for sealer in [plain, sealer(KEY_HEX)] {
            assert_eq!(open(&sealer, Purpose::IdpClientSecret, "s3cret").unwrap(), "s3cret");
            assert!(!Sealer::is_sealed("s3cret"));
        }
    }
}
