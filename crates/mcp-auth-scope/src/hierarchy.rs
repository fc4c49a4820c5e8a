//! Scope hierarchies: a broader scope implies narrower ones.

use std::collections::{BTreeMap, BTreeSet};

use mcp_auth_core::Scopes;

use crate::PolicyError;

/// Which scopes imply which: `files:admin ⊃ files:write ⊃ files:read` is declared as
/// `files:admin → [files:write]`, `files:write → [files:read]`. Implications are transitive and
/// precomputed; cycles are refused.
#[derive(Clone, Debug, Default)]
pub struct ScopeHierarchy {
    /// For each broader scope, every scope it implies (transitively), sorted.
    closure: BTreeMap<String, Vec<String>>,
}

impl ScopeHierarchy {
    /// Builds from direct implications (broader scope, narrower scopes).
    ///
    /// # Errors
    /// A scope that implies itself through a cycle, or an invalid scope token.
    pub fn new<I, S, N>(implications: I) -> Result<Self, PolicyError>
    where
        I: IntoIterator<Item = (S, N)>,
        S: Into<String>,
        N: IntoIterator,
        N::Item: Into<String>,
    {
        let mut direct: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (broad, narrow) in implications {
            let broad = broad.into();
            if !Scopes::is_valid_token(&broad) {
                return Err(PolicyError::new(
                    "scopes.hierarchy",
                    format!("`{broad}` is not a valid scope"),
                ));
            }
            let entry = direct.entry(broad.clone()).or_default();
            for n in narrow {
                let n = n.into();
                if !Scopes::is_valid_token(&n) {
                    return Err(PolicyError::new(
                        format!("scopes.hierarchy.{broad}"),
                        format!("`{n}` is not a valid scope"),
                    ));
                }
                entry.insert(n);
            }
        }
        let mut closure = BTreeMap::new();
        for broad in direct.keys() {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&String> = direct[broad].iter().collect();
            while let Some(scope) = stack.pop() {
                if scope == broad {
                    return Err(PolicyError::new(
                        format!("scopes.hierarchy.{broad}"),
                        format!(
                            "`{broad}` implies itself through a cycle; a hierarchy must be acyclic"
                        ),
                    ));
                }
                if seen.insert(scope.clone())
                    && let Some(next) = direct.get(scope)
                {
                    stack.extend(next.iter());
                }
            }
            closure.insert(broad.clone(), seen.into_iter().collect());
        }
        Ok(Self { closure })
    }

    /// The granted scopes plus everything they imply.
    pub fn effective(&self, granted: &Scopes) -> Scopes {
        if self.closure.is_empty() || !granted.iter().any(|s| self.closure.contains_key(s)) {
            return granted.clone();
        }
        let implied = granted
            .iter()
            .filter_map(|s| self.closure.get(s))
            .flatten()
            .map(String::as_str);
        granted.iter().chain(implied).collect()
    }

    /// Every scope the hierarchy mentions.
    pub(crate) fn mentioned(&self) -> impl Iterator<Item = &str> {
        self.closure
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.as_str()).chain(v.iter().map(String::as_str)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitive_implications() {
        let h = ScopeHierarchy::new([("admin", vec!["write"]), ("write", vec!["read"])]).unwrap();
        assert_eq!(
            h.effective(&Scopes::parse("admin")).to_string(),
            "admin read write"
        );
        assert_eq!(
            h.effective(&Scopes::parse("write other")).to_string(),
            "other read write"
        );
        assert_eq!(h.effective(&Scopes::parse("read")).to_string(), "read");
    }

    #[test]
    fn cycles_are_refused() {
        let e = ScopeHierarchy::new([("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])])
            .unwrap_err();
        assert!(e.to_string().contains("cycle"), "{e}");
        assert!(ScopeHierarchy::new([("a", vec!["a"])]).is_err());
        assert!(ScopeHierarchy::new([("a b", vec!["c"])]).is_err());
    }
}
