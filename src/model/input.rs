//! Input parsed once, where it enters (the HTTP layer, a seed document): `Email`, `Username`,
//! `DisplayName`, `Slug`, `Key`, `Password` and friends can only be made by their parsers, so a
//! service that takes one never checks it again. The rules themselves live in `seed::rules`,
//! shared with seed documents. `Problems` collects every field's problem, so a request hears
//! about all of them at once (a 422 naming each field).
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::sync::LazyLock;

/// Longest password accepted, in characters (OWASP ASVS 2.1.2 asks for at least 64).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// One field's problem, reported on 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Input that failed its rules: every field's problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    /// One field's problem.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

/// A value with a parser: what `Problems::parse` can make.
pub trait Parse: Sized {
    fn parse(raw: &str) -> Result<Self, String>;
}

/// Collects field problems; `done` yields the parsed values or every problem.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Parses `raw` as a `T`; on failure records the problem under `field`.
    pub fn parse<T: Parse>(&mut self, field: &str, raw: &str) -> Option<T> {
        self.check(field, T::parse(raw))
    }

    /// An optional value: absent stays absent, present must parse.
    pub fn parse_opt<T: Parse>(&mut self, field: &str, raw: Option<&str>) -> Option<Option<T>> {
        match raw {
            Some(raw) => self.parse(field, raw).map(Some),
            None => Some(None),
        }
    }

    /// An optional new password: absent stays absent, present must satisfy the policy.
    pub fn password_opt(
        &mut self,
        field: &str,
        raw: Option<String>,
        policy: &PasswordPolicy,
    ) -> Option<Option<Password>> {
        match raw {
            Some(raw) => self.check(field, Password::new(raw, policy)).map(Some),
            None => Some(None),
        }
    }

    /// Runs a rule; on failure records it and yields `None`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|m| self.add(field, m)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Fails with every problem recorded, if any.
    pub fn finish(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.0))
        }
    }

    /// The parsed values (a tuple of what `parse` and `check` returned), or every problem.
    pub fn done<T: Complete>(self, values: T) -> Result<T::Value, Invalid> {
        self.finish()?;
        // A value is missing only when its parser recorded a problem; this is the safety net.
        values.complete().ok_or_else(|| Invalid::field("body", "is invalid"))
    }
}

/// A tuple of `Option`s that is complete when every one is `Some`.
pub trait Complete {
    type Value;
    fn complete(self) -> Option<Self::Value>;
}

macro_rules! complete_tuple {
    ($($name:ident),+) => {
        impl<$($name),+> Complete for ($(Option<$name>,)+) {
            type Value = ($($name,)+);
            #[allow(non_snake_case)]
            fn complete(self) -> Option<Self::Value> {
                let ($($name,)+) = self;
                Some(($($name?,)+))
            }
        }
    };
}
complete_tuple!(A);
complete_tuple!(A, B);
complete_tuple!(A, B, C);
complete_tuple!(A, B, C, D);
complete_tuple!(A, B, C, D, E);
complete_tuple!(A, B, C, D, E, F);

macro_rules! string_input {
    ($($(#[$doc:meta])* $name:ident => $rule:path),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl Parse for $name {
            fn parse(raw: &str) -> Result<Self, String> {
                $rule(raw).map(Self)
            }
        }

        impl $name {
            /// Parses one field on its own: a 422 naming `field` when it fails.
            pub fn parse_field(field: &str, raw: &str) -> Result<Self, Invalid> {
                <Self as Parse>::parse(raw).map_err(|m| Invalid::field(field, m))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    )*};
}

string_input!(
    /// A lower-cased email address with one `@` and a dotted domain.
    Email => seed::rules::email,
    /// A lower-cased login name of letters, digits, `.`, `_` and `-` (never an `@`).
    Username => seed::rules::username,
    /// A person's or thing's name: 1–200 characters, trimmed, no control characters.
    DisplayName => seed::rules::display_name,
    /// An organisation's or team's slug.
    Slug => seed::rules::slug,
    /// A domain's or role's key.
    Key => seed::rules::key,
    /// A free-text reference to something outside guildhall (at most 255 characters).
    Reference => seed::rules::reference,
);

impl Email {
    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }

    /// The display name an account gets when none is given: the local part.
    pub fn default_name(&self) -> DisplayName {
        DisplayName::parse(self.local_part()).unwrap_or_else(|_| DisplayName("user".into()))
    }
}

/// Permission strings (`read:posts`, `*`), sorted and without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(Vec<String>);

impl Permissions {
    pub fn parse(raw: &[String]) -> Result<Self, String> {
        seed::rules::permissions(raw).map(Self)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn into_inner(self) -> Vec<String> {
        self.0
    }
}

/// What new passwords must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub blocklist: bool,
}

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

impl PasswordPolicy {
    /// Checks a new password: length only (no composition rules, ASVS 2.1.9), taken exactly as
    /// received, and not on the list of common passwords.
    pub fn check(&self, password: &str) -> Result<(), String> {
        let chars = password.chars().count();
        if chars < self.min_length {
            return Err(format!("must be at least {} characters", self.min_length));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
        }
        if self.blocklist && COMMON.contains(password.to_lowercase().as_str()) {
            return Err("is too common; choose another".into());
        }
        Ok(())
    }
}

/// A new password that satisfies the policy; it never reaches a log line.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    pub fn new(raw: String, policy: &PasswordPolicy) -> Result<Self, String> {
        policy.check(&raw)?;
        Ok(Self(SecretString::from(raw)))
    }

    pub fn secret(&self) -> SecretString {
        self.0.clone()
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A password presented to log in: present, and not absurdly long (it is not checked against the
/// policy: an old password may predate it).
pub fn presented_password(raw: String) -> Result<SecretString, String> {
    if raw.is_empty() {
        return Err("is required".into());
    }
    if raw.chars().count() > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    Ok(SecretString::from(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_report_every_field_and_yield_typed_values() {
        let mut p = Problems::default();
        let email = p.parse::<Email>("email", " Ada@Acme.Test ");
        let slug = p.parse::<Slug>("slug", "Not A Slug");
        let name = p.parse::<DisplayName>("name", "   ");
        let invalid = p.done((email, slug, name)).unwrap_err();
        let fields: Vec<&str> = invalid.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["slug", "name"]);

        let mut p = Problems::default();
        let email = p.parse::<Email>("email", " Ada@Acme.Test ");
        let (email,) = p.done((email,)).unwrap();
        assert_eq!(email.as_str(), "ada@acme.test");
        assert_eq!(email.domain(), "acme.test");
        assert_eq!(email.default_name().as_str(), "ada");
    }

    #[test]
    fn the_password_policy_checks_length_and_common_passwords() {
        let policy = PasswordPolicy {
            min_length: 8,
            blocklist: true,
        };
        assert!(Password::new("short".into(), &policy).is_err());
        assert!(Password::new("password123".into(), &policy).is_err());
        assert!(Password::new("x".repeat(MAX_PASSWORD_CHARS + 1), &policy).is_err());
        assert_eq!(
            Password::new("correct horse battery".into(), &policy).unwrap().expose(),
            "correct horse battery"
        );
        assert!(presented_password(String::new()).is_err());
        let long = "x".repeat(1025);
        let cases: &[(&str, bool)] = &[
            ("short", false),
            ("password", false),
            ("PassWord123", false),
            ("correct horse battery staple", true),
            ("alllowercaseletters", true),
            ("ééééééééé", true),
            (long.as_str(), false),
        ];
        for (password, ok) in cases {
            assert_eq!(policy.check(password).is_ok(), *ok, "{password:.20}");
        }
        let relaxed = PasswordPolicy {
            min_length: 4,
            blocklist: false,
        };
        assert!(relaxed.check("password").is_ok());
    }
}
