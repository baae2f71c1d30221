//! The master key that seals secrets at rest (`crypto::seal`): `AUTH_MASTER_KEY` or a file
//! holding it, `AUTH_MASTER_KEY_FILE`.
use super::{ConfigError, bad};
use crate::crypto::seal::MasterKey;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Clone, Default)]
pub struct SealingSettings {
    /// Master key sealing the secrets kept in the database: 32 bytes, base64 or hex
    #[arg(long, env = "AUTH_MASTER_KEY", hide_env_values = true, global = true)]
    pub master_key: Option<String>,
    /// File holding the master key (instead of AUTH_MASTER_KEY)
    #[arg(long, env = "AUTH_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
}

impl SealingSettings {
    /// `None`: no master key, secrets are stored as they are.
    pub fn validate(&self) -> Result<Option<MasterKey>, ConfigError> {
        master_key(
            self.master_key.as_deref(),
            self.master_key_file.as_deref(),
            "AUTH_MASTER_KEY",
        )
    }
}

/// A master key given as a value or as a file (`name` and `name_FILE` in messages); neither: `None`.
pub fn master_key(value: Option<&str>, file: Option<&Path>, name: &str) -> Result<Option<MasterKey>, ConfigError> {
    let value = value.filter(|v| !v.trim().is_empty());
    let file = file.filter(|f| !f.as_os_str().is_empty());
    match (value, file) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(bad(format!("set {name} or {name}_FILE, not both"))),
        (Some(value), None) => MasterKey::parse(value)
            .map(Some)
            .map_err(|e| bad(format!("{name} {e}"))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("cannot read {name}_FILE {}: {e}", path.display())))?;
            MasterKey::parse(&text)
                .map(Some)
                .map_err(|e| bad(format!("{name}_FILE {}: the key {e}", path.display())))
        }
    }
}
