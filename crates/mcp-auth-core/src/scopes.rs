//! OAuth scope sets: parsing `scope` strings and `scp` claims, comparing sets.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// A set of OAuth scopes, kept sorted and without duplicates.
///
/// Issuers disagree on how to carry scopes: RFC 9068 uses a space-separated `scope` string, others
/// use `scp` as a string or as an array. [`Scopes::from_claims`] accepts all three. Cloning is a
/// reference-count increment.
///
/// ```
/// use mcp_auth_core::Scopes;
///
/// let granted = Scopes::parse("files:read  files:write files:read");
/// assert_eq!(granted.to_string(), "files:read files:write");
/// assert!(granted.contains("files:write"));
/// assert!(granted.is_superset(&Scopes::parse("files:read")));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Arc<[Box<str>]>);

impl Scopes {
    /// The empty set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a space-separated scope string (RFC 6749 §3.3). Runs of whitespace are one separator;
    /// tokens with characters RFC 6749 forbids in a scope (controls, `"`, `\`, non-ASCII) are
    /// dropped, since they could never have been granted.
    pub fn parse(scope: &str) -> Self {
        scope.split_ascii_whitespace().collect()
    }

    /// Reads the scopes of a JWT claims object: `scope` (string), else `scp` (string or array of
    /// strings). Returns the empty set when neither is present or usable.
    pub fn from_claims(claims: &serde_json::Map<String, Value>) -> Self {
        match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(s)), _) => Self::parse(s),
            (_, Some(Value::String(s))) => Self::parse(s),
            (_, Some(Value::Array(items))) => items
                .iter()
                .filter_map(Value::as_str)
                .flat_map(str::split_ascii_whitespace)
                .collect(),
            _ => Self::empty(),
        }
    }

    /// True if `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.binary_search_by(|s| (**s).cmp(scope)).is_ok()
    }

    /// True if every scope of `other` is in this set.
    pub fn is_superset(&self, other: &Scopes) -> bool {
        other.iter().all(|s| self.contains(s))
    }

    /// The scopes of `other` that this set lacks.
    pub fn missing(&self, other: &Scopes) -> Scopes {
        if self.is_superset(other) {
            return Scopes::empty();
        }
        other.iter().filter(|s| !self.contains(s)).collect()
    }

    /// The union of both sets.
    pub fn union(&self, other: &Scopes) -> Scopes {
        // Decisions take unions on every request: share instead of copying when one side
        // already holds everything.
        if self.is_superset(other) {
            return self.clone();
        }
        if other.is_superset(self) {
            return other.clone();
        }
        self.iter().chain(other.iter()).collect()
    }

    /// The scopes, in sorted order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.0.iter().map(|s| &**s)
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True if `token` is a valid RFC 6749 scope token: one or more of `%x21 / %x23-5B / %x5D-7E`.
    pub fn is_valid_token(token: &str) -> bool {
        !token.is_empty()
            && token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
    }
}

impl From<&str> for Scopes {
    /// Parses a space-separated `scope` string, as [`Scopes::parse`].
    fn from(scope: &str) -> Self {
        Self::parse(scope)
    }
}

impl<'a> FromIterator<&'a str> for Scopes {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut scopes: Vec<Box<str>> = iter
            .into_iter()
            .filter(|s| Self::is_valid_token(s))
            .map(Box::from)
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        Self(scopes.into())
    }
}

impl fmt::Display for Scopes {
    /// The space-separated form, as used in `scope` parameters and challenges.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl serde::Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn parses_sorts_and_dedups() {
        let s = Scopes::parse(" b a\tb  c ");
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn drops_tokens_rfc6749_forbids() {
        let s = Scopes::parse("ok bad\"quote back\\slash caf\u{e9}");
        assert_eq!(s.to_string(), "ok");
    }

    #[test]
    fn reads_scope_string_scp_string_and_scp_array() {
        assert_eq!(
            Scopes::from_claims(&claims(json!({"scope": "a b"}))).to_string(),
            "a b"
        );
        assert_eq!(
            Scopes::from_claims(&claims(json!({"scp": "a b"}))).to_string(),
            "a b"
        );
        assert_eq!(
            Scopes::from_claims(&claims(json!({"scp": ["b", "a", 7, "c d"]}))).to_string(),
            "a b c d"
        );
        assert!(Scopes::from_claims(&claims(json!({"scope": 5}))).is_empty());
        assert!(Scopes::from_claims(&claims(json!({}))).is_empty());
    }

    #[test]
    fn scope_claim_wins_over_scp() {
        let s = Scopes::from_claims(&claims(json!({"scope": "a", "scp": ["b"]})));
        assert_eq!(s.to_string(), "a");
    }

    #[test]
    fn set_operations() {
        let granted = Scopes::parse("a b");
        let needed = Scopes::parse("b c");
        assert!(!granted.is_superset(&needed));
        assert_eq!(granted.missing(&needed).to_string(), "c");
        assert_eq!(granted.union(&needed).to_string(), "a b c");
        assert!(granted.is_superset(&Scopes::empty()));
    }
}
