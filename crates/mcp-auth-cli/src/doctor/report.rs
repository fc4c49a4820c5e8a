//! The doctor's findings: printed as they are made, or gathered into one JSON document.

use serde_json::{Value, json};

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// It holds.
    Pass,
    /// It does not: the server refuses, or a client will fail.
    Fail,
    /// Worth knowing, not an error.
    Warn,
    /// Could not be checked now (a network failure): exit 3 unless something failed.
    Unreachable,
    /// Not reached, because an earlier step failed.
    Skipped,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Self::Pass => "✓",
            Self::Fail => "✗",
            Self::Warn => "!",
            Self::Unreachable => "?",
            Self::Skipped => "·",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Unreachable => "unreachable",
            Self::Skipped => "skipped",
        }
    }
}

struct Check {
    section: String,
    name: String,
    status: Status,
    detail: String,
    fix: Option<String>,
}

/// Every check made, in order.
pub(crate) struct Report {
    json: bool,
    section: String,
    checks: Vec<Check>,
    extra: serde_json::Map<String, Value>,
}

impl Report {
    pub(crate) fn new(json: bool) -> Self {
        Self {
            json,
            section: String::new(),
            checks: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// Starts a section (printed as a heading).
    pub(crate) fn section(&mut self, title: impl Into<String>) {
        self.section = title.into();
        if !self.json {
            println!("\n{}", self.section);
        }
    }

    /// Prints an informational line (text mode only; JSON gets it through [`Report::attach`]).
    pub(crate) fn info(&self, label: &str, value: &str) {
        if !self.json {
            println!("    {label:<14} {value}");
        }
    }

    /// Attaches a value to the JSON document.
    pub(crate) fn attach(&mut self, key: &str, value: Value) {
        self.extra.insert(key.to_owned(), value);
    }

    /// Records a check.
    pub(crate) fn check(
        &mut self,
        name: &str,
        status: Status,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        let detail = detail.into();
        if !self.json {
            println!("  {} {name:<16} {detail}", status.mark());
            if let Some(fix) = &fix {
                println!("      fix: {fix}");
            }
        }
        self.checks.push(Check {
            section: self.section.clone(),
            name: name.to_owned(),
            status,
            detail,
            fix,
        });
    }

    /// Records a check that passes when `holds`, and otherwise has status `otherwise`, with
    /// the text for each outcome.
    pub(crate) fn verdict(
        &mut self,
        name: &str,
        holds: bool,
        otherwise: Status,
        passed: &str,
        failed: &str,
    ) {
        if holds {
            self.check(name, Status::Pass, passed, None);
        } else {
            self.check(name, otherwise, failed, None);
        }
    }

    pub(crate) fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The overall result: `ok`, `failed` or `unreachable`.
    pub(crate) fn result(&self) -> &'static str {
        if self.count(Status::Fail) > 0 {
            "failed"
        } else if self.count(Status::Unreachable) > 0 {
            "unreachable"
        } else {
            "ok"
        }
    }

    /// Prints the JSON document (JSON mode) or the summary line (text mode).
    pub(crate) fn finish(self) {
        if self.json {
            let checks: Vec<Value> = self
                .checks
                .iter()
                .map(|c| {
                    json!({
                        "section": c.section,
                        "check": c.name,
                        "status": c.status.name(),
                        "detail": c.detail,
                        "fix": c.fix,
                    })
                })
                .collect();
            let mut doc = serde_json::Map::new();
            doc.insert("result".into(), self.result().into());
            doc.insert("checks".into(), checks.into());
            doc.extend(self.extra);
            println!("{}", Value::Object(doc));
        } else {
            println!(
                "\n{}: {} passed, {} failed, {} warnings, {} unreachable",
                self.result(),
                self.count(Status::Pass),
                self.count(Status::Fail),
                self.count(Status::Warn),
                self.count(Status::Unreachable),
            );
        }
    }
}
