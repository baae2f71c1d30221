//! Seed 001's default user: `DEFAULT_USERNAME` with `DEFAULT_PASSWORD` creates that account on
//! first start (`AUTH_DEFAULT_USERNAME`, `AUTH_DEFAULT_PASSWORD`). Named like the bootstrap
//! superuser (`AUTH_ADMIN_USERNAME`, seed 001's `ADMIN_USERNAME`), it *is* the superuser, and the
//! password is the superuser's; without a default user, `DEFAULT_PASSWORD` stays what it always
//! was here, the superuser's password.
use super::{ConfigError, bad};
use clap::Args;
use secrecy::SecretString;

#[derive(Args, Clone, Default)]
pub struct DefaultUserSettings {
    /// An account created at first start (alias DEFAULT_USERNAME): a username, or an email address
    #[arg(long, env = "AUTH_DEFAULT_USERNAME", global = true)]
    pub default_username: Option<String>,
    /// Password of that account (alias DEFAULT_PASSWORD; without a default user, the superuser's)
    #[arg(long, env = "AUTH_DEFAULT_PASSWORD", hide_env_values = true, global = true)]
    pub default_password: Option<String>,
}

/// The default user to create, other than the superuser.
#[derive(Debug, Clone)]
pub struct DefaultUser {
    /// Lower-cased; an email address when it has an `@`.
    pub name: String,
    pub password: SecretString,
}

impl DefaultUserSettings {
    /// The default user (when it is not the superuser), and the superuser's password.
    pub fn validate(
        self,
        admin_username: &str,
        admin_password: Option<String>,
    ) -> Result<(Option<DefaultUser>, Option<SecretString>), ConfigError> {
        let name = self
            .default_username
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty());
        let password = self.default_password.filter(|p| !p.is_empty());
        let admin_password = admin_password.filter(|p| !p.is_empty());
        match (name, password) {
            (None, password) => Ok((None, admin_password.or(password).map(SecretString::from))),
            (Some(name), password) if name == admin_username => match (admin_password, password) {
                (Some(a), Some(d)) if a != d => Err(bad(format!(
                    "AUTH_ADMIN_PASSWORD and DEFAULT_PASSWORD differ, and both are the password of {name}"
                ))),
                (a, d) => Ok((None, a.or(d).map(SecretString::from))),
            },
            (Some(name), None) => Err(bad(format!(
                "DEFAULT_USERNAME \"{name}\" needs DEFAULT_PASSWORD (AUTH_DEFAULT_PASSWORD)"
            ))),
            (Some(name), Some(password)) => {
                let valid = if name.contains('@') {
                    seed::rules::email(&name).is_ok()
                } else {
                    seed::rules::username(&name).is_ok()
                };
                if !valid {
                    return Err(bad(format!(
                        "DEFAULT_USERNAME \"{name}\" is neither a valid username nor an email address"
                    )));
                }
                let user = DefaultUser {
                    name,
                    password: SecretString::from(password),
                };
                Ok((Some(user), admin_password.map(SecretString::from)))
            }
        }
    }
}
