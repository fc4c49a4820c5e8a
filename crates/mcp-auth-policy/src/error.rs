//! Why policies could not be loaded: every problem, each naming its file, line and fix.

use std::fmt;

/// One problem in a policy or schema file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyProblem {
    /// The file (or source name) it is in.
    pub file: String,
    /// 1-based line and column, when the engine located it.
    pub line: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when the engine knows.
    pub help: Option<String>,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, column)) = self.line {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (fix: {help})")?;
        }
        Ok(())
    }
}

/// Policies that cannot be used: files that cannot be read, do not parse, or do not validate
/// against the schema. Every problem found is listed, one per line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    problems: Vec<PolicyProblem>,
}

impl PolicyError {
    pub(crate) fn new(problems: Vec<PolicyProblem>) -> Self {
        Self { problems }
    }

    pub(crate) fn one(file: &str, message: impl Into<String>) -> Self {
        Self::new(vec![PolicyProblem {
            file: file.to_owned(),
            line: None,
            message: message.into(),
            help: None,
        }])
    }

    /// Every problem found.
    pub fn problems(&self) -> &[PolicyProblem] {
        &self.problems
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} problem{} in the policies:",
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// The problems of a diagnostic from the engine, located in `text` (the file `file`).
pub(crate) fn problems_of(
    diagnostic: &dyn miette::Diagnostic,
    file: &str,
    text: &str,
) -> Vec<PolicyProblem> {
    let help = diagnostic.help().map(|h| h.to_string());
    let mut located: Vec<PolicyProblem> = diagnostic
        .labels()
        .into_iter()
        .flatten()
        .map(|label| PolicyProblem {
            file: file.to_owned(),
            line: Some(line_and_column(text, label.offset())),
            message: match label.label() {
                Some(detail) if !detail.is_empty() => format!("{diagnostic}: {detail}"),
                _ => diagnostic.to_string(),
            },
            help: help.clone(),
        })
        .take(1)
        .collect();
    if located.is_empty() {
        located.push(PolicyProblem {
            file: file.to_owned(),
            line: None,
            message: diagnostic.to_string(),
            help,
        });
    }
    // Related diagnostics (a parser reports each error so) are problems of their own.
    if let Some(related) = diagnostic.related() {
        for inner in related {
            located.extend(problems_of(inner, file, text));
        }
    }
    located
}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
