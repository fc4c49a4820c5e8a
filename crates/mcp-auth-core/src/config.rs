//! What the crates' configuration sections share: the error that names the key at fault.

use std::fmt;

/// A configuration value that does not work: the key at fault, as a path into the
/// configuration (`issuers[0].jwks_uri`, `clients.registry`), and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigValueError {
    key: String,
    problem: String,
}

impl ConfigValueError {
    /// The value at `key` does not work, because of `problem` (say what to do about it).
    pub fn new(key: impl Into<String>, problem: impl fmt::Display) -> Self {
        Self {
            key: key.into(),
            problem: problem.to_string(),
        }
    }

    /// The key, as a path into the configuration.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong, and the fix.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ConfigValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl std::error::Error for ConfigValueError {}
