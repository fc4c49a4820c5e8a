//! What an operation needs: any one of several all-of scope sets.

use std::fmt;

use mcp_auth_core::Scopes;
use serde::Deserialize;

/// Scopes an operation needs: satisfied when the caller holds **all** scopes of **any one**
/// alternative. One alternative is the common case (`["files:write"]`); several express "admins,
/// or owners with write access" (`any_of = [["files:admin"], ["files:owner", "files:write"]]`).
/// No alternative at all means nothing is needed.
///
/// In configuration: a list of scopes, a space-separated string, or `{ any_of = [[...], ...] }`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    alternatives: Vec<Scopes>,
}

impl Requirement {
    /// Needs nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Needs every scope of `scopes` (space-separated).
    pub fn all(scopes: &str) -> Self {
        Self::from_sets(vec![Scopes::parse(scopes)])
    }

    /// Needs every scope of one of `alternatives` (each space-separated).
    pub fn any_of(alternatives: &[&str]) -> Self {
        Self::from_sets(alternatives.iter().map(|s| Scopes::parse(s)).collect())
    }

    pub(crate) fn from_sets(alternatives: Vec<Scopes>) -> Self {
        // An empty alternative needs nothing, which makes the whole requirement empty.
        if alternatives.iter().any(Scopes::is_empty) {
            return Self::none();
        }
        Self { alternatives }
    }

    /// The alternatives.
    pub fn alternatives(&self) -> &[Scopes] {
        &self.alternatives
    }

    /// True when nothing is needed.
    pub fn is_none(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// Both requirements at once: every combination of one alternative from each.
    pub fn and(&self, other: &Requirement) -> Requirement {
        match (self.is_none(), other.is_none()) {
            (true, _) => other.clone(),
            (_, true) => self.clone(),
            _ => {
                let mut combined =
                    Vec::with_capacity(self.alternatives.len() * other.alternatives.len());
                for a in &self.alternatives {
                    for b in &other.alternatives {
                        let union = a.union(b);
                        if !combined.contains(&union) {
                            combined.push(union);
                        }
                    }
                }
                Requirement {
                    alternatives: combined,
                }
            }
        }
    }

    /// Every scope mentioned.
    pub(crate) fn mentioned(&self) -> impl Iterator<Item = &str> {
        self.alternatives.iter().flat_map(|s| s.iter())
    }
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Requirement {
    /// `nothing`, `a b`, or `a b | c`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("nothing");
        }
        for (i, alt) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{alt}")?;
        }
        Ok(())
    }
}

/// The configuration form of a [`Requirement`], before validation.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RequirementConfig {
    Text(String),
    List(Vec<String>),
    AnyOf { any_of: Vec<Vec<String>> },
}

impl RequirementConfig {
    /// Validates every scope token; `key` names the setting in errors.
    pub(crate) fn resolve(&self, key: &str) -> Result<Requirement, crate::PolicyError> {
        let check = |tokens: Vec<&str>| -> Result<Scopes, crate::PolicyError> {
            for token in &tokens {
                if !Scopes::is_valid_token(token) {
                    return Err(crate::PolicyError::new(
                        key,
                        format!(
                            "`{token}` is not a valid scope (printable ASCII without spaces, quotes or backslashes)"
                        ),
                    ));
                }
            }
            Ok(tokens.into_iter().collect())
        };
        let sets = match self {
            Self::Text(text) => vec![check(text.split_ascii_whitespace().collect())?],
            Self::List(items) => vec![check(items.iter().map(String::as_str).collect())?],
            Self::AnyOf { any_of } => {
                if any_of.is_empty() {
                    return Err(crate::PolicyError::new(
                        key,
                        "`any_of` needs at least one alternative; use [] to need nothing",
                    ));
                }
                any_of
                    .iter()
                    .map(|alt| check(alt.iter().map(String::as_str).collect()))
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(Requirement::from_sets(sets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conjunction_of_alternatives() {
        let a = Requirement::any_of(&["x", "y"]);
        let b = Requirement::all("z");
        assert_eq!(a.and(&b).to_string(), "x z | y z");
        assert_eq!(a.and(&Requirement::none()), a);
        assert_eq!(Requirement::none().and(&b), b);
        assert_eq!(Requirement::any_of(&["a", ""]), Requirement::none());
    }
}
