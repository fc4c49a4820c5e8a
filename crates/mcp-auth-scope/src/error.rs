//! Why a scope policy is invalid.

use std::fmt;

/// An invalid scope policy: the configuration key at fault and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    key: String,
    message: String,
}

impl PolicyError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The configuration key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for PolicyError {}
