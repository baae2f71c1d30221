//! Declarative seed documents: organisations with their roles, teams, nested domains, users,
//! memberships and service accounts. This crate parses a document and validates it, reporting
//! every problem with its path (`orgs[0].teams[2].slug: duplicate "eng"`); guildhall applies it.
mod document;
mod parse;
pub mod rules;
mod validate;

pub use document::*;
pub use parse::parse;
pub use validate::{TEAM_ROLES, validate};

/// One problem in a document, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Parses and validates; `weak_password` says why a password is refused (the service's policy).
pub fn load(text: &str, weak_password: &dyn Fn(&str) -> Option<String>) -> Result<Document, Vec<Problem>> {
    let document = parse(text)?;
    let problems = validate(&document, weak_password);
    if problems.is_empty() {
        Ok(document)
    } else {
        Err(problems)
    }
}
