//! Input rules shared by services: normalisation of emails, usernames and slugs, and a
//! collector that reports every problem at once.
use super::{FieldError, ServiceError};

/// Collects field problems; `finish` fails with all of them.
#[derive(Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Runs a rule; on failure records it and yields `None`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|m| self.add(field, m)).ok()
    }

    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Validation(self.0))
        }
    }
}

pub use seed::rules::{display_name, email, key, permissions, reference, slug, username};
