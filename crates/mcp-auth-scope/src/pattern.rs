//! Matching tool and prompt names, and resource URIs, against the policy's patterns.

use wildmatch::WildMatch;

use crate::PolicyError;

/// A name pattern: exact, or a glob with `*` (any run of characters) and `?` (one character).
#[derive(Clone, Debug)]
pub(crate) struct NamePattern {
    source: String,
    glob: Option<WildMatch>,
}

impl NamePattern {
    pub(crate) fn new(source: &str) -> Self {
        let glob = (source.contains('*') || source.contains('?')).then(|| WildMatch::new(source));
        Self {
            source: source.to_owned(),
            glob,
        }
    }

    pub(crate) fn is_exact(&self) -> bool {
        self.glob.is_none()
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        match &self.glob {
            None => self.source == name,
            Some(glob) => glob.matches(name),
        }
    }

    /// How specific the pattern is: its number of literal characters.
    pub(crate) fn specificity(&self) -> usize {
        self.source
            .chars()
            .filter(|c| *c != '*' && *c != '?')
            .count()
    }

    pub(crate) fn source(&self) -> &str {
        &self.source
    }
}

/// A resource pattern: an exact URI, `prefix:URI` (every URI starting with it), a URI template
/// (`file:///users/{id}/notes`: `{name}` matches one path segment, `{+name}` anything), or a glob.
#[derive(Clone, Debug)]
pub(crate) enum ResourcePattern {
    Exact(String),
    Prefix(String),
    Template(Vec<TemplatePart>),
    Glob(NamePattern),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TemplatePart {
    Literal(String),
    /// `{name}`: one or more characters other than `/`, `?` and `#`.
    Segment,
    /// `{+name}`: any run of characters (possibly empty).
    Any,
}

impl ResourcePattern {
    pub(crate) fn parse(source: &str, key: &str) -> Result<Self, PolicyError> {
        if let Some(prefix) = source.strip_prefix("prefix:") {
            if prefix.is_empty() {
                return Err(PolicyError::new(
                    key,
                    "`prefix:` needs a URI prefix after it",
                ));
            }
            return Ok(Self::Prefix(prefix.to_owned()));
        }
        if source.contains('{') || source.contains('}') {
            return parse_template(source, key).map(Self::Template);
        }
        if source.contains('*') || source.contains('?') {
            return Ok(Self::Glob(NamePattern::new(source)));
        }
        Ok(Self::Exact(source.to_owned()))
    }

    pub(crate) fn matches(&self, uri: &str) -> bool {
        match self {
            Self::Exact(e) => e == uri,
            Self::Prefix(p) => uri.starts_with(p.as_str()),
            Self::Template(parts) => template_matches(parts, uri),
            Self::Glob(g) => g.matches(uri),
        }
    }

    /// Exact beats everything; otherwise more literal characters win.
    pub(crate) fn rank(&self) -> (bool, usize) {
        match self {
            Self::Exact(e) => (true, e.len()),
            Self::Prefix(p) => (false, p.len()),
            Self::Template(parts) => (
                false,
                parts
                    .iter()
                    .map(|p| {
                        if let TemplatePart::Literal(l) = p {
                            l.len()
                        } else {
                            0
                        }
                    })
                    .sum(),
            ),
            Self::Glob(g) => (false, g.specificity()),
        }
    }
}

fn parse_template(source: &str, key: &str) -> Result<Vec<TemplatePart>, PolicyError> {
    let mut parts = Vec::new();
    let mut rest = source;
    while let Some(open) = rest.find('{') {
        if rest[..open].contains('}') {
            return Err(PolicyError::new(
                key,
                format!("unbalanced `}}` in URI template `{source}`"),
            ));
        }
        if open > 0 {
            parts.push(TemplatePart::Literal(rest[..open].to_owned()));
        }
        let close = rest[open..].find('}').ok_or_else(|| {
            PolicyError::new(key, format!("unclosed `{{` in URI template `{source}`"))
        })? + open;
        let var = &rest[open + 1..close];
        let (any, name) = match var.strip_prefix('+') {
            Some(name) => (true, name),
            None => (false, var),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(PolicyError::new(
                key,
                format!("`{{{var}}}` in `{source}`: variables are `{{name}}` or `{{+name}}`"),
            ));
        }
        if matches!(
            parts.last(),
            Some(TemplatePart::Segment | TemplatePart::Any)
        ) {
            return Err(PolicyError::new(
                key,
                format!("`{source}`: two variables need a literal between them"),
            ));
        }
        parts.push(if any {
            TemplatePart::Any
        } else {
            TemplatePart::Segment
        });
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err(PolicyError::new(
            key,
            format!("unbalanced `}}` in URI template `{source}`"),
        ));
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest.to_owned()));
    }
    Ok(parts)
}

/// Matches left to right; a variable extends to the next occurrence of the following literal
/// that lets the rest match (backtracking over at most the number of variables).
fn template_matches(parts: &[TemplatePart], uri: &str) -> bool {
    match parts.split_first() {
        None => uri.is_empty(),
        Some((TemplatePart::Literal(l), rest)) => uri
            .strip_prefix(l.as_str())
            .is_some_and(|tail| template_matches(rest, tail)),
        Some((var, rest)) => {
            let limit = match var {
                TemplatePart::Segment => uri.find(['/', '?', '#']).unwrap_or(uri.len()),
                _ => uri.len(),
            };
            let min = usize::from(*var == TemplatePart::Segment);
            (min..=limit)
                .rev()
                .filter(|i| uri.is_char_boundary(*i))
                .any(|i| template_matches(rest, &uri[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(p: &str) -> ResourcePattern {
        ResourcePattern::parse(p, "k").unwrap()
    }

    #[test]
    fn names() {
        assert!(NamePattern::new("read_file").matches("read_file"));
        assert!(!NamePattern::new("read_file").matches("read_files"));
        assert!(NamePattern::new("admin_*").matches("admin_reset"));
        assert!(NamePattern::new("get_?").matches("get_x"));
        assert!(!NamePattern::new("get_?").matches("get_xy"));
        assert_eq!(NamePattern::new("admin_*").specificity(), 6);
    }

    #[test]
    fn resources() {
        assert!(res("file:///a").matches("file:///a"));
        assert!(!res("file:///a").matches("file:///a/b"));
        assert!(res("prefix:file:///docs/").matches("file:///docs/x/y"));
        assert!(!res("prefix:file:///docs/").matches("file:///doc"));
        let t = res("file:///users/{id}/notes");
        assert!(t.matches("file:///users/42/notes"));
        assert!(!t.matches("file:///users/42/43/notes"));
        assert!(!t.matches("file:///users//notes"));
        let any = res("file:///users/{+path}");
        assert!(any.matches("file:///users/42/43/notes"));
        assert!(res("db://{table}/{id}").matches("db://t/1"));
        assert!(res("mem://*.txt").matches("mem://a/b.txt"));
    }

    #[test]
    fn bad_templates_name_the_problem() {
        for bad in ["a{b", "a}b", "a{}", "a{b c}", "{a}{b}"] {
            assert!(
                ResourcePattern::parse(bad, "scopes.resources").is_err(),
                "{bad}"
            );
        }
    }
}
