//! Cedar policies: loaded from files, validated against the MCP schema when the stack is built.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    ActionConstraint, Authorizer, Decision, Entities, EntityId, EntityTypeName, EntityUid, Policy,
    PolicyId, PolicySet, PrincipalConstraint, Request, ResourceConstraint, Schema, SchemaFragment,
    ValidationMode, Validator,
};

use crate::error::{PolicyError, PolicyProblem, line_and_column, problems_of};

/// The MCP schema shipped with this crate: entity types `Mcp::User`, `Mcp::Service`,
/// `Mcp::Role`, `Mcp::Group`, `Mcp::Tool`, `Mcp::Resource`, `Mcp::Prompt`; actions
/// `"tools/call"`, `"resources/read"`, `"prompts/get"` (all in `use`); the context's `client`
/// and `arguments`.
pub const MCP_SCHEMA: &str = include_str!("mcp.cedarschema");

/// When no schema fragment declares the tools' arguments, calls carry none that policies may
/// read.
const NO_ARGUMENTS: &str = "namespace Mcp { type Arguments = {}; }";

/// A validated set of Cedar policies. Cheap to clone.
#[derive(Clone)]
pub struct CedarPolicies {
    inner: Arc<Inner>,
}

struct Inner {
    /// Every policy, as loaded.
    set: PolicySet,
    /// The policies that may apply to a call, by action and, when a policy names the target
    /// exactly, by target: Cedar evaluates every policy of the set it is given, so each
    /// decision is given only these.
    index: HashMap<(&'static str, Option<EntityUid>), PolicySet>,
    /// `@reason("…")` of each policy that has one: what a refused caller is told.
    reasons: HashMap<PolicyId, String>,
    /// Permits annotated `@approval`: a call they allow needs the person's approval.
    approvals: std::collections::HashSet<PolicyId>,
    authorizer: Authorizer,
    count: usize,
    /// The attributes `Mcp::Arguments` declares, when the schema lists them: strict validation
    /// lets policies read no other, so no other is handed to Cedar.
    declared_arguments: Option<std::collections::HashSet<String>>,
}

/// What Cedar decided about one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decided {
    pub(crate) allowed: bool,
    /// The policies that decided (for a denial, the forbids that applied).
    pub(crate) policies: Vec<String>,
    /// Policies whose evaluation failed (a denial, whatever else applied).
    pub(crate) errors: Vec<String>,
}

/// Configures [`CedarPolicies`]: policy and schema sources.
#[derive(Debug, Default, Clone)]
pub struct CedarPoliciesBuilder {
    policies: Vec<(String, Result<String, String>)>,
    schemas: Vec<(String, Result<String, String>)>,
}

impl CedarPolicies {
    /// Starts a policy set.
    pub fn builder() -> CedarPoliciesBuilder {
        CedarPoliciesBuilder::default()
    }

    /// How many policies the set holds.
    pub fn len(&self) -> usize {
        self.inner.count
    }

    /// True when the set holds no policy (then every call is refused).
    pub fn is_empty(&self) -> bool {
        self.inner.count == 0
    }

    /// The argument names policies may read (`None`: not known, hand them all over).
    pub(crate) fn declared_arguments(&self) -> Option<&std::collections::HashSet<String>> {
        self.inner.declared_arguments.as_ref()
    }

    /// Whether any permit is annotated `@approval` (the stack then needs an approval layer).
    pub fn asks_approval(&self) -> bool {
        !self.inner.approvals.is_empty()
    }

    /// Whether `policy` is a permit annotated `@approval` (the calls it allows need the
    /// approval of the person behind the token).
    pub(crate) fn asks_approval_in(&self, policy: &str) -> bool {
        PolicyId::from_str(policy).is_ok_and(|id| self.inner.approvals.contains(&id))
    }

    /// The `@reason` annotation of `policy`, if it has one.
    pub(crate) fn reason(&self, policy: &str) -> Option<&str> {
        let id = PolicyId::from_str(policy).ok()?;
        self.inner.reasons.get(&id).map(String::as_str)
    }

    /// The policies that may apply to `action` (a schema action id) on `resource` when the
    /// caller is `caller`, whose parents (roles, groups) are `parents`: those whose principal
    /// constraint the caller can meet. Cedar evaluates every policy it is given, about a
    /// microsecond each, so a caller's decisions are given only these.
    pub(crate) fn applicable_to(
        &self,
        action: &'static str,
        resource: &EntityUid,
        caller: &EntityUid,
        parents: &std::collections::HashSet<EntityUid>,
    ) -> PolicySet {
        let meets = |uid: &EntityUid| uid == caller || parents.contains(uid);
        let mut subset = PolicySet::new();
        for policy in self.applicable(action, resource).policies() {
            let possible = match policy.principal_constraint() {
                PrincipalConstraint::Any => true,
                PrincipalConstraint::Eq(uid) => &uid == caller,
                PrincipalConstraint::In(uid) => meets(&uid),
                PrincipalConstraint::Is(kind) => &kind == caller.type_name(),
                PrincipalConstraint::IsIn(kind, uid) => &kind == caller.type_name() && meets(&uid),
            };
            if possible {
                // Ids are unique in the set it came from, so adding cannot fail.
                let _ = subset.add(policy.clone());
            }
        }
        subset
    }

    /// The policies that may apply to `action` (a schema action id) on `resource`.
    fn applicable(&self, action: &'static str, resource: &EntityUid) -> &PolicySet {
        let index = &self.inner.index;
        index
            .get(&(action, Some(resource.clone())))
            .or_else(|| index.get(&(action, None)))
            .unwrap_or(&self.inner.set)
    }

    pub(crate) fn decide(
        &self,
        policies: &PolicySet,
        request: &Request,
        entities: &Entities,
    ) -> Decided {
        let response = self
            .inner
            .authorizer
            .is_authorized(request, policies, entities);
        let diagnostics = response.diagnostics();
        let errors: Vec<String> = diagnostics
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => {
                    e.policy_id().to_string()
                }
            })
            .collect();
        Decided {
            // An error anywhere denies: a forbid that failed to evaluate must not let a call
            // through.
            allowed: response.decision() == Decision::Allow && errors.is_empty(),
            policies: diagnostics.reason().map(ToString::to_string).collect(),
            errors,
        }
    }

    /// Whether some values of the unknown `arguments` could let the request through.
    pub(crate) fn could_allow(
        &self,
        policies: &PolicySet,
        request: &Request,
        entities: &Entities,
    ) -> bool {
        let response = self
            .inner
            .authorizer
            .is_authorized_partial(request, policies, entities);
        response.decision() != Some(Decision::Deny)
    }
}

impl std::fmt::Debug for CedarPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CedarPolicies")
            .field("policies", &self.inner.count)
            .finish_non_exhaustive()
    }
}

impl CedarPoliciesBuilder {
    /// Adds the policies in the `.cedar` file at `path`.
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot be read: {e}"));
        self.policies.push((path.display().to_string(), text));
        self
    }

    /// Adds policies from text; `name` stands for the file in messages and policy ids.
    pub fn source(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.policies.push((name.into(), Ok(text.into())));
        self
    }

    /// Adds a schema fragment (Cedar schema syntax) from the file at `path`: the server's
    /// `namespace Mcp { type Arguments = { … }; }`, and any entity types of its own.
    pub fn schema_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot be read: {e}"));
        self.schemas.push((path.display().to_string(), text));
        self
    }

    /// Adds a schema fragment from text.
    pub fn schema_source(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.schemas.push((name.into(), Ok(text.into())));
        self
    }

    /// Parses the policies and validates them (strictly) against the MCP schema and the
    /// fragments given.
    ///
    /// # Errors
    /// Every file that cannot be read, every parse error and every validation error, each
    /// with its file, line and the engine's fix.
    pub fn build(self) -> Result<CedarPolicies, PolicyError> {
        let mut problems = Vec::new();
        let mut declared_arguments = None;
        let schema = self.schema(&mut problems, &mut declared_arguments);
        let mut set = PolicySet::new();
        let mut reasons = HashMap::new();
        let mut approvals = std::collections::HashSet::new();
        // Which source each policy came from, for locating validation errors.
        let mut origin: HashMap<PolicyId, usize> = HashMap::new();
        for (index, (name, text)) in self.policies.iter().enumerate() {
            let text = match text {
                Ok(text) => text,
                Err(e) => {
                    problems.extend(PolicyError::one(name, e.clone()).problems().to_vec());
                    continue;
                }
            };
            let parsed = match PolicySet::from_str(text) {
                Ok(parsed) => parsed,
                Err(e) => {
                    problems.extend(problems_of(&e, name, text));
                    continue;
                }
            };
            if parsed.templates().next().is_some() {
                problems.push(PolicyProblem {
                    file: name.clone(),
                    line: None,
                    message: "policy templates (`?principal`, `?resource`) are not supported"
                        .into(),
                    help: Some("write the policy for the principal or resource it is for".into()),
                });
            }
            for policy in parsed.policies() {
                let line = text
                    .find(&policy.to_string())
                    .map_or(0, |at| line_and_column(text, at).0);
                let id = policy
                    .annotation("id")
                    .map_or_else(|| format!("{name}:{line}"), str::to_owned);
                let Ok(policy_id) = PolicyId::from_str(&id);
                if let Some(reason) = policy.annotation("reason") {
                    reasons.insert(policy_id.clone(), reason.to_owned());
                }
                if policy.annotation("approval").is_some()
                    && policy.effect() == cedar_policy::Effect::Permit
                {
                    approvals.insert(policy_id.clone());
                }
                origin.insert(policy_id.clone(), index);
                if set.add(policy.new_id(policy_id)).is_err() {
                    problems.push(PolicyProblem {
                        file: name.clone(),
                        line: Some((line, 1)),
                        message: format!("the policy id `{id}` is used twice"),
                        help: Some("give each `@id(\"…\")` a distinct value".into()),
                    });
                }
            }
        }
        if let Some(schema) = &schema
            && problems.is_empty()
        {
            let validation = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
            for error in validation.validation_errors() {
                let (name, text) = origin
                    .get(error.policy_id())
                    .and_then(|i| self.policies.get(*i))
                    .and_then(|(name, text)| Some((name.as_str(), text.as_deref().ok()?)))
                    .unwrap_or(("policies", ""));
                problems.extend(problems_of(error, name, text));
            }
            for warning in validation.validation_warnings() {
                tracing::warn!(target: "mcp_auth::policy", %warning, "policy warning");
            }
        }
        if !problems.is_empty() {
            return Err(PolicyError::new(problems));
        }
        let count = set.policies().count();
        if count == 0 {
            tracing::warn!(target: "mcp_auth::policy", "no policy loaded: every call will be refused");
        }
        let index = index(&set);
        Ok(CedarPolicies {
            inner: Arc::new(Inner {
                index,
                set,
                reasons,
                approvals,
                authorizer: Authorizer::new(),
                count,
                declared_arguments,
            }),
        })
    }

    /// The MCP schema with the server's fragments.
    fn schema(
        &self,
        problems: &mut Vec<PolicyProblem>,
        declared_arguments: &mut Option<std::collections::HashSet<String>>,
    ) -> Option<Schema> {
        let mut fragments = Vec::new();
        let shipped = SchemaFragment::from_cedarschema_str(MCP_SCHEMA)
            .map(|(f, _)| f)
            .expect("the shipped MCP schema parses");
        fragments.push(shipped);
        let mut any_user = false;
        for (name, text) in &self.schemas {
            let text = match text {
                Ok(text) => text,
                Err(e) => {
                    problems.extend(PolicyError::one(name, e.clone()).problems().to_vec());
                    continue;
                }
            };
            match SchemaFragment::from_cedarschema_str(text) {
                Ok((fragment, _warnings)) => {
                    if let Some(names) = argument_names(&fragment) {
                        declared_arguments
                            .get_or_insert_with(Default::default)
                            .extend(names);
                    }
                    fragments.push(fragment);
                    any_user = true;
                }
                Err(e) => problems.extend(problems_of(&e, name, text)),
            }
        }
        if !any_user {
            *declared_arguments = Some(Default::default());
            fragments.push(
                SchemaFragment::from_cedarschema_str(NO_ARGUMENTS)
                    .map(|(f, _)| f)
                    .expect("the empty arguments fragment parses"),
            );
        }
        match Schema::from_schema_fragments(fragments) {
            Ok(schema) => Some(schema),
            Err(e) => {
                let name = self
                    .schemas
                    .first()
                    .map_or("the MCP schema", |(name, _)| name.as_str());
                let mut found = problems_of(&e, name, "");
                for problem in &mut found {
                    problem.line = None;
                    if problem.help.is_none() && problem.message.contains("Arguments") {
                        problem.help = Some(
                            "declare `namespace Mcp { type Arguments = { amount?: Long }; }` \
                             (the attributes tool calls carry) in your schema fragment"
                                .into(),
                        );
                    }
                }
                problems.extend(found);
                None
            }
        }
    }
}

/// The actions of the MCP schema a call may be.
const ACTIONS: [&str; 3] = ["tools/call", "resources/read", "prompts/get"];

fn action_uid(id: &str) -> EntityUid {
    let kind = EntityTypeName::from_str("Mcp::Action").expect("the schema's action type");
    let Ok(id) = EntityId::from_str(id);
    EntityUid::from_type_name_and_id(kind, id)
}

/// For each action, the policies that may apply to it: one set per target some policy names
/// exactly (with every policy not naming one target), and one for every other target.
fn index(set: &PolicySet) -> HashMap<(&'static str, Option<EntityUid>), PolicySet> {
    let group = action_uid("use");
    let mut index = HashMap::new();
    for action in ACTIONS {
        let uid = action_uid(action);
        let applies = |policy: &&Policy| match policy.action_constraint() {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(a) => a == uid,
            ActionConstraint::In(list) => list.contains(&uid) || list.contains(&group),
        };
        let policies: Vec<&Policy> = set.policies().filter(applies).collect();
        let exact = |policy: &Policy| match policy.resource_constraint() {
            ResourceConstraint::Eq(target) => Some(target),
            _ => None,
        };
        let collect = |keep: &dyn Fn(&Policy) -> bool| {
            let mut subset = PolicySet::new();
            for policy in policies.iter().filter(|p| keep(p)) {
                // Ids are unique in `set`, so adding cannot fail.
                let _ = subset.add((*policy).clone());
            }
            subset
        };
        let named: std::collections::HashSet<EntityUid> =
            policies.iter().filter_map(|p| exact(p)).collect();
        for target in named {
            let subset = collect(&|p| exact(p).is_none_or(|t| t == target));
            index.insert((action, Some(target)), subset);
        }
        index.insert((action, None), collect(&|p| exact(p).is_none()));
    }
    index
}

/// The attribute names of `Mcp::Arguments` in `fragment`, when it declares it as a record.
fn argument_names(fragment: &SchemaFragment) -> Option<Vec<String>> {
    let json = fragment.clone().to_json_value().ok()?;
    let arguments = json.get("Mcp")?.get("commonTypes")?.get("Arguments")?;
    if arguments.get("type")?.as_str()? != "Record" {
        return None;
    }
    Some(
        arguments
            .get("attributes")?
            .as_object()?
            .keys()
            .cloned()
            .collect(),
    )
}
