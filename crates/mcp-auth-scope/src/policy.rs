//! The scope policy and its decisions.

use std::collections::HashMap;
use std::sync::Arc;

use mcp_auth_core::mcp::{McpMessage, McpRequest, MessageKind, Target};
use mcp_auth_core::record::ScopeCheck;
use mcp_auth_core::{AuthError, Principal, Scopes};

use crate::pattern::{NamePattern, ResourcePattern};
use crate::{PolicyError, Requirement, ScopeHierarchy};

/// What happens to a tool, resource or prompt the policy does not mention.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Undeclared {
    /// Refuse it (403 without a challenge: no scope would help). The default: fail closed.
    #[default]
    Deny,
    /// Require this instead.
    Require(Requirement),
}

/// The kinds of named things a policy governs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// Tools (`tools/call`, `tools/list`).
    Tool,
    /// Resources (`resources/read`, `resources/list`, ...).
    Resource,
    /// Prompts (`prompts/get`, `prompts/list`).
    Prompt,
}

impl TargetKind {
    fn noun(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::Resource => "resource",
            Self::Prompt => "prompt",
        }
    }

    /// The method that uses an item of this kind.
    fn use_method(self) -> &'static str {
        match self {
            Self::Tool => "tools/call",
            Self::Resource => "resources/read",
            Self::Prompt => "prompts/get",
        }
    }
}

/// Which scopes each MCP operation needs.
///
/// Built with [`ScopePolicy::builder`] or from configuration ([`crate::ScopeConfig`]). Cloning is a
/// reference-count increment.
///
/// Precedence among patterns does not depend on declaration order: an exact name wins, then the
/// matching pattern with the most literal characters, then the alphabetically first.
///
/// ```
/// use mcp_auth_scope::{Requirement, ScopePolicy, ScopeHierarchy};
///
/// let policy = ScopePolicy::builder()
///     .required(Requirement::all("mcp:read"))
///     .tool("add_note", Requirement::all("mcp:write"))
///     .tool("admin_*", Requirement::all("mcp:admin"))
///     .hierarchy(ScopeHierarchy::new([("mcp:admin", ["mcp:write"]), ("mcp:write", ["mcp:read"])]).unwrap())
///     .build()
///     .unwrap();
/// assert_eq!(policy.tool_requirement("admin_reset").unwrap().to_string(), "mcp:admin mcp:read");
/// ```
#[derive(Clone, Debug)]
pub struct ScopePolicy(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    base: Requirement,
    methods: Rules,
    tools: Rules,
    prompts: Rules,
    resources: Vec<(ResourcePattern, Requirement)>,
    undeclared: Undeclared,
    client_messages: Requirement,
    hierarchy: ScopeHierarchy,
    filter_lists: bool,
    known: Scopes,
    /// Tools that act for a user: a client acting for itself may not call them.
    users_only: Rules,
    /// The whole requirement (base, method and target) of `tools/call` / `prompts/get` for each
    /// exactly named tool and prompt, and of each exactly named method without a target:
    /// computed once, so a decision is lookups and subset checks.
    precomputed: Precomputed,
}

#[derive(Debug, Default)]
struct Precomputed {
    tool_calls: HashMap<String, Requirement>,
    prompt_gets: HashMap<String, Requirement>,
    methods: HashMap<String, Requirement>,
}

/// Name rules: exact names in a map, patterns sorted most specific first.
#[derive(Debug, Default)]
struct Rules {
    exact: HashMap<String, Requirement>,
    patterns: Vec<(NamePattern, Requirement)>,
}

impl Rules {
    fn insert(&mut self, pattern: &str, requirement: Requirement) {
        let pattern = NamePattern::new(pattern);
        if pattern.is_exact() {
            self.exact.insert(pattern.source().to_owned(), requirement);
        } else {
            self.patterns.push((pattern, requirement));
            self.patterns.sort_by(|(a, _), (b, _)| {
                b.specificity()
                    .cmp(&a.specificity())
                    .then_with(|| a.source().cmp(b.source()))
            });
        }
    }

    fn lookup(&self, name: &str) -> Option<&Requirement> {
        self.exact.get(name).or_else(|| {
            self.patterns
                .iter()
                .find(|(p, _)| p.matches(name))
                .map(|(_, r)| r)
        })
    }

    fn requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.exact
            .values()
            .chain(self.patterns.iter().map(|(_, r)| r))
    }
}

/// The outcome of checking one request.
#[derive(Clone, Debug)]
pub struct Verdict {
    check: ScopeCheck,
    denial: Option<AuthError>,
}

impl Verdict {
    /// True when the request may proceed.
    pub fn is_allowed(&self) -> bool {
        self.denial.is_none()
    }

    /// The denial to send (403 with the step-up challenge, or 403 for undeclared targets).
    pub fn denial(&self) -> Option<&AuthError> {
        self.denial.as_ref()
    }

    /// Required, granted and missing scopes, for the audit record.
    pub fn check(&self) -> &ScopeCheck {
        &self.check
    }

    pub(crate) fn into_parts(self) -> (ScopeCheck, Option<AuthError>) {
        (self.check, self.denial)
    }
}

impl ScopePolicy {
    /// A policy that requires nothing and allows every tool, resource and prompt: what a stack
    /// without scope rules enforces.
    pub fn allow_all() -> Self {
        Self::builder()
            .undeclared(Undeclared::Require(Requirement::none()))
            .filter_lists(false)
            .build()
            .expect("an empty policy is valid")
    }

    /// Starts a policy. With nothing added it requires nothing for methods and denies every
    /// tool, resource and prompt (fail closed).
    pub fn builder() -> ScopePolicyBuilder {
        ScopePolicyBuilder::default()
    }

    /// Decides a request carrying `mcp` (absent for `GET`/`DELETE` and other non-JSON-RPC
    /// requests) for a caller granted `granted`.
    pub fn decide(&self, granted: &Scopes, mcp: Option<&McpRequest>) -> Verdict {
        let effective = self.0.hierarchy.effective(granted);
        let messages: &[McpMessage] = mcp.map_or(&[], |m| m.messages());
        let batch = mcp.is_some_and(McpRequest::is_batch);
        let mut tally = Tally::default();
        if messages.is_empty() {
            tally.judge(&self.0.base, &effective, || "this request".into());
        }
        for (i, message) in messages.iter().enumerate() {
            let what = || describe(message, batch.then_some(i));
            match self.message_requirement(message) {
                Ok(requirement) => tally.judge(&requirement, &effective, what),
                Err(undeclared) => {
                    let check =
                        ScopeCheck::new(false, tally.required, granted.clone(), tally.missing);
                    let denial = AuthError::access_denied(
                        "undeclared_target",
                        format!(
                            "{}: the {undeclared} is not available to any caller under this server's scope policy",
                            what()
                        ),
                    );
                    return Verdict {
                        check,
                        denial: Some(denial),
                    };
                }
            }
        }

        let Some(reason) = tally.first_failure else {
            let check = ScopeCheck::new(true, tally.required, granted.clone(), Scopes::empty());
            return Verdict {
                check,
                denial: None,
            };
        };
        // One challenge for everything the request needs, plus the relevant scopes the caller
        // already holds, so clients that replace (rather than merge) their scope set succeed.
        let relevant: Scopes = granted
            .iter()
            .filter(|s| self.0.known.contains(s))
            .collect();
        let challenge = relevant.union(&tally.required);
        let description = if tally.failures > 1 {
            format!(
                "{reason}, and {} more message(s) of the batch need more scope",
                tally.failures - 1
            )
        } else {
            reason
        };
        let denial = AuthError::insufficient_scope(challenge, description);
        let check = ScopeCheck::new(false, tally.required, granted.clone(), tally.missing);
        Verdict {
            check,
            denial: Some(denial),
        }
    }

    /// Decides a request for `principal`: [`ScopePolicy::decide`] on its scopes, after refusing
    /// a client acting for itself ([`Principal::acts_for_itself`]) a
    /// [users-only](ScopePolicyBuilder::users_only) tool. That refusal is a 403 `access_denied`
    /// (reason `user_required`) without a scope challenge: no scope would make it pass, so a
    /// client must not be sent to re-authorise.
    pub fn decide_for(&self, principal: &Principal, mcp: Option<&McpRequest>) -> Verdict {
        if principal.acts_for_itself()
            && let Some(mcp) = mcp
        {
            let batch = mcp.is_batch();
            for (i, message) in mcp.messages().iter().enumerate() {
                if let Some(Target::Tool(name)) = message.target()
                    && self.0.users_only.lookup(name).is_some()
                {
                    let granted = principal.scopes();
                    let check =
                        ScopeCheck::new(false, Scopes::empty(), granted.clone(), Scopes::empty());
                    let denial = AuthError::access_denied(
                        "user_required",
                        format!(
                            "{} acts for a user: a token the client obtained for itself (no user \
                             behind it) cannot call it, whatever its scopes",
                            describe(message, batch.then_some(i))
                        ),
                    );
                    return Verdict {
                        check,
                        denial: Some(denial),
                    };
                }
            }
        }
        self.decide(principal.scopes(), mcp)
    }

    /// Whether the tool `name` is [users-only](ScopePolicyBuilder::users_only).
    pub fn is_users_only(&self, name: &str) -> bool {
        self.0.users_only.lookup(name).is_some()
    }

    /// The scopes to advertise in a 401 challenge for this request: the first alternative of
    /// everything it needs.
    pub fn challenge_hint(&self, mcp: Option<&McpRequest>) -> Option<Scopes> {
        let messages: &[McpMessage] = mcp.map_or(&[], |m| m.messages());
        let requirements: Vec<Requirement> = if messages.is_empty() {
            vec![self.0.base.clone()]
        } else {
            messages
                .iter()
                .filter_map(|m| self.message_requirement(m).ok())
                .collect()
        };
        let hint = requirements
            .iter()
            .filter_map(|r| r.alternatives().first())
            .fold(Scopes::empty(), |acc, s| acc.union(s));
        (!hint.is_empty()).then_some(hint)
    }

    /// True when the answers to list methods are filtered.
    pub fn filters_lists(&self) -> bool {
        self.0.filter_lists
    }

    /// Whether a caller with `effective` scopes (hierarchy already applied, see
    /// [`ScopePolicy::effective`]) may use the named item: what a listing shows.
    pub fn may_use(&self, effective: &Scopes, kind: TargetKind, name: &str) -> bool {
        let Ok(target) = self.target_requirement(kind, name) else {
            return false;
        };
        let method = self
            .0
            .methods
            .lookup(kind.use_method())
            .cloned()
            .unwrap_or_default();
        let requirement = self.0.base.and(&method).and(&target);
        choose(&requirement, effective).1.is_empty()
    }

    /// The granted scopes plus what the hierarchy implies.
    pub fn effective(&self, granted: &Scopes) -> Scopes {
        self.0.hierarchy.effective(granted)
    }

    /// What calling tool `name` requires (base and `tools/call` rules included), or `None`
    /// when the tool is undeclared and undeclared tools are denied.
    pub fn tool_requirement(&self, name: &str) -> Option<Requirement> {
        let target = self.target_requirement(TargetKind::Tool, name).ok()?;
        let method = self
            .0
            .methods
            .lookup("tools/call")
            .cloned()
            .unwrap_or_default();
        Some(self.0.base.and(&method).and(&target))
    }

    /// Every scope the policy mentions (what `scopes_supported` should list).
    pub fn known_scopes(&self) -> &Scopes {
        &self.0.known
    }

    fn message_requirement(&self, message: &McpMessage) -> Result<Requirement, String> {
        let base = &self.0.base;
        match message.kind() {
            MessageKind::Request => {}
            _ => return Ok(base.and(&self.0.client_messages)),
        }
        let pre = &self.0.precomputed;
        let found = match (message.method(), message.target()) {
            (Some("tools/call"), Some(Target::Tool(name))) => pre.tool_calls.get(name.as_str()),
            (Some("prompts/get"), Some(Target::Prompt(name))) => pre.prompt_gets.get(name.as_str()),
            (Some(method), None) => pre.methods.get(method),
            _ => None,
        };
        if let Some(found) = found {
            return Ok(found.clone());
        }
        let method = message
            .method()
            .and_then(|m| self.0.methods.lookup(m))
            .cloned()
            .unwrap_or_default();
        let target = match message.target() {
            None => Requirement::none(),
            Some(Target::Tool(name)) => self.target_requirement(TargetKind::Tool, name)?,
            Some(Target::Resource(uri)) => self.target_requirement(TargetKind::Resource, uri)?,
            Some(Target::Prompt(name)) => self.target_requirement(TargetKind::Prompt, name)?,
            Some(_) => Requirement::none(),
        };
        Ok(base.and(&method).and(&target))
    }

    fn target_requirement(&self, kind: TargetKind, name: &str) -> Result<Requirement, String> {
        let found = match kind {
            TargetKind::Tool => self.0.tools.lookup(name),
            TargetKind::Prompt => self.0.prompts.lookup(name),
            TargetKind::Resource => self
                .0
                .resources
                .iter()
                .filter(|(p, _)| p.matches(name))
                .max_by(|(a, _), (b, _)| a.rank().cmp(&b.rank()))
                .map(|(_, r)| r),
        };
        match (found, &self.0.undeclared) {
            (Some(r), _) => Ok(r.clone()),
            (None, Undeclared::Require(r)) => Ok(r.clone()),
            (None, Undeclared::Deny) => Err(format!("{} `{}`", kind.noun(), clip(name))),
        }
    }
}

/// Accumulates the per-message outcomes of one request.
#[derive(Default)]
struct Tally {
    required: Scopes,
    missing: Scopes,
    first_failure: Option<String>,
    failures: usize,
}

impl Tally {
    fn judge(
        &mut self,
        requirement: &Requirement,
        effective: &Scopes,
        what: impl FnOnce() -> String,
    ) {
        let (chosen, lacking) = choose(requirement, effective);
        self.required = self.required.union(&chosen);
        if !lacking.is_empty() {
            self.failures += 1;
            if self.first_failure.is_none() {
                self.first_failure = Some(format!("{} needs {chosen} (missing {lacking})", what()));
            }
            self.missing = self.missing.union(&lacking);
        }
    }
}

/// The alternative to satisfy or challenge: a satisfied one if any, else the one with the
/// fewest missing scopes (the first on a tie). Returns it and what is missing of it.
fn choose(requirement: &Requirement, effective: &Scopes) -> (Scopes, Scopes) {
    if let Some(satisfied) = requirement
        .alternatives()
        .iter()
        .find(|a| effective.is_superset(a))
    {
        return (satisfied.clone(), Scopes::empty());
    }
    let mut best: Option<(Scopes, Scopes)> = None;
    for alternative in requirement.alternatives() {
        let lacking = effective.missing(alternative);
        if lacking.is_empty() {
            return (alternative.clone(), lacking);
        }
        if best.as_ref().is_none_or(|(_, l)| lacking.len() < l.len()) {
            best = Some((alternative.clone(), lacking));
        }
    }
    best.unwrap_or_default()
}

fn describe(message: &McpMessage, index: Option<usize>) -> String {
    let what = match (message.method(), message.target()) {
        (Some(method), Some(Target::Tool(n))) => format!("`{method}` of tool `{}`", clip(n)),
        (Some(method), Some(Target::Resource(u))) => {
            format!("`{method}` of resource `{}`", clip(u))
        }
        (Some(method), Some(Target::Prompt(n))) => format!("`{method}` of prompt `{}`", clip(n)),
        (Some(method), _) => format!("`{}`", clip(method)),
        (None, _) => "a response message".to_owned(),
    };
    match index {
        Some(i) => format!("batch message {i} ({what})"),
        None => what,
    }
}

fn clip(s: &str) -> String {
    mcp_auth_core::untrusted_text(s, 80)
}

/// Builds a [`ScopePolicy`].
#[derive(Debug, Default)]
#[must_use]
pub struct ScopePolicyBuilder {
    base: Requirement,
    methods: Vec<(String, Requirement)>,
    tools: Vec<(String, Requirement)>,
    prompts: Vec<(String, Requirement)>,
    resources: Vec<(String, Requirement)>,
    undeclared: Undeclared,
    client_messages: Requirement,
    hierarchy: ScopeHierarchy,
    filter_lists: Option<bool>,
    users_only: Vec<String>,
}

impl ScopePolicyBuilder {
    /// What every request needs.
    pub fn required(mut self, requirement: Requirement) -> Self {
        self.base = requirement;
        self
    }

    /// What a JSON-RPC method (or glob of methods, e.g. `resources/*`) needs, on top of the rest.
    pub fn method(mut self, pattern: &str, requirement: Requirement) -> Self {
        self.methods.push((pattern.to_owned(), requirement));
        self
    }

    /// What a tool (or glob of tools) needs.
    pub fn tool(mut self, pattern: &str, requirement: Requirement) -> Self {
        self.tools.push((pattern.to_owned(), requirement));
        self
    }

    /// What a resource needs: an exact URI, `prefix:URI`, a URI template, or a glob.
    pub fn resource(mut self, pattern: &str, requirement: Requirement) -> Self {
        self.resources.push((pattern.to_owned(), requirement));
        self
    }

    /// What a prompt (or glob of prompts) needs.
    pub fn prompt(mut self, pattern: &str, requirement: Requirement) -> Self {
        self.prompts.push((pattern.to_owned(), requirement));
        self
    }

    /// Marks a tool (or glob of tools) as acting for a user: a token a client obtained for
    /// itself (the client-credentials grant; [`Principal::acts_for_itself`]) may not call it
    /// whatever its scopes, and listings do not show it to such a caller. See
    /// [`ScopePolicy::decide_for`].
    pub fn users_only(mut self, pattern: &str) -> Self {
        self.users_only.push(pattern.to_owned());
        self
    }

    /// What happens to undeclared tools, resources and prompts. Defaults to
    /// [`Undeclared::Deny`].
    pub fn undeclared(mut self, undeclared: Undeclared) -> Self {
        self.undeclared = undeclared;
        self
    }

    /// What client notifications (`notifications/initialized`, ...) and the client's replies to
    /// server requests need on top of the base requirement. Defaults to nothing more.
    pub fn client_messages(mut self, requirement: Requirement) -> Self {
        self.client_messages = requirement;
        self
    }

    /// The scope hierarchy.
    pub fn hierarchy(mut self, hierarchy: ScopeHierarchy) -> Self {
        self.hierarchy = hierarchy;
        self
    }

    /// Filter the answers to `tools/list`, `resources/list`, `resources/templates/list` and
    /// `prompts/list` down to what the caller may use. Defaults to on.
    pub fn filter_lists(mut self, filter: bool) -> Self {
        self.filter_lists = Some(filter);
        self
    }

    /// Validates the patterns and builds the policy.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the setting, e.g. an invalid URI template.
    pub fn build(self) -> Result<ScopePolicy, PolicyError> {
        let mut methods = Rules::default();
        for (pattern, requirement) in self.methods {
            methods.insert(&pattern, requirement);
        }
        let mut tools = Rules::default();
        for (pattern, requirement) in self.tools {
            tools.insert(&pattern, requirement);
        }
        let mut prompts = Rules::default();
        for (pattern, requirement) in self.prompts {
            prompts.insert(&pattern, requirement);
        }
        let mut users_only = Rules::default();
        for pattern in self.users_only {
            users_only.insert(&pattern, Requirement::none());
        }
        let mut resources = Vec::new();
        for (pattern, requirement) in self.resources {
            let key = format!("scopes.resources.\"{pattern}\"");
            resources.push((ResourcePattern::parse(&pattern, &key)?, requirement));
        }
        let mut known: Vec<&str> = Vec::new();
        known.extend(self.base.mentioned());
        known.extend(self.client_messages.mentioned());
        for rules in [&methods, &tools, &prompts] {
            known.extend(rules.requirements().flat_map(Requirement::mentioned));
        }
        known.extend(resources.iter().flat_map(|(_, r)| r.mentioned()));
        if let Undeclared::Require(r) = &self.undeclared {
            known.extend(r.mentioned());
        }
        known.extend(self.hierarchy.mentioned());
        let known: Scopes = known.into_iter().collect();
        let mut policy = Inner {
            base: self.base,
            methods,
            tools,
            prompts,
            resources,
            undeclared: self.undeclared,
            client_messages: self.client_messages,
            hierarchy: self.hierarchy,
            filter_lists: self.filter_lists.unwrap_or(true),
            known,
            users_only,
            precomputed: Precomputed::default(),
        };
        policy.precomputed = precompute(&policy);
        Ok(ScopePolicy(Arc::new(policy)))
    }
}

/// The requirements worth computing once: exactly named tools and prompts, and exactly named
/// methods (for requests without a target).
fn precompute(policy: &Inner) -> Precomputed {
    let method = |name: &str| policy.methods.lookup(name).cloned().unwrap_or_default();
    let whole = |rules: &Rules, use_method: &str| -> HashMap<String, Requirement> {
        let method = method(use_method);
        rules
            .exact
            .iter()
            .map(|(name, target)| (name.clone(), policy.base.and(&method).and(target)))
            .collect()
    };
    Precomputed {
        tool_calls: whole(&policy.tools, "tools/call"),
        prompt_gets: whole(&policy.prompts, "prompts/get"),
        methods: policy
            .methods
            .exact
            .iter()
            .map(|(name, requirement)| (name.clone(), policy.base.and(requirement)))
            .collect(),
    }
}
