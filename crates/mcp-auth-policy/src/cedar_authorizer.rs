//! The built-in decision point: Cedar policies over the caller, its client, the target and the
//! arguments.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
};
use mcp_auth_core::{Principal, Scopes, TokenDigest};
use quick_cache::sync::Cache;
use serde_json::Value;

use crate::authorize::{Authorize, Decision, Denial, Verdict};
use crate::call::{Action, Call};
use crate::cedar::CedarPolicies;
use crate::claims::{ClaimMap, ClaimMaps};

/// Decides calls with Cedar policies. Build it with [`CedarAuthorizer::new`] and adjust it
/// with its methods.
///
/// - The principal is `Mcp::User::"<sub>"`, or `Mcp::Service::"<sub>"` for a client acting for
///   itself, with its issuer, scopes, roles, groups, permissions (from the issuer's
///   [`ClaimMap`]), the subjects of its delegation chain (`actors`) and client id; its roles
///   and groups are its parents (`Mcp::Role::"…"`, `Mcp::Group::"…"`).
/// - The resource is `Mcp::Tool::"<name>"` (attribute `name`), `Mcp::Resource::"<uri>"`
///   (`uri`) or `Mcp::Prompt::"<name>"` (`name`).
/// - The context holds `client` (id, `metadata_document`, `approved`, host, name) and
///   `arguments`.
/// - A policy whose evaluation fails (an argument of an unexpected type) denies the call.
/// - A denial that more scope would lift asks for it (step-up) when candidate scopes are
///   configured ([`step_up_scopes`](Self::step_up_scopes)).
#[derive(Clone)]
pub struct CedarAuthorizer {
    inner: Arc<Inner>,
}

struct Inner {
    policies: CedarPolicies,
    claims: ClaimMaps,
    step_up: Scopes,
    /// The principal's entity, built once per token.
    callers: Cache<TokenDigest, Arc<Caller>>,
    /// The caller's and a target's entities and applicable policies, once per token, action
    /// and target.
    prepared: Cache<(TokenDigest, Action, EntityUid), Arc<Prepared>>,
}

/// A caller as Cedar sees it.
struct Caller {
    uid: EntityUid,
    entity: Entity,
    /// Its roles and groups, as entities.
    parents: HashSet<EntityUid>,
}

/// What deciding a caller's calls of one target needs besides the call itself.
struct Prepared {
    entities: Entities,
    /// The policies that may apply to this caller, action and target.
    policies: cedar_policy::PolicySet,
}

const TOOL: &str = "Mcp::Tool";
const RESOURCE: &str = "Mcp::Resource";
const PROMPT: &str = "Mcp::Prompt";

impl CedarAuthorizer {
    /// Decides with `policies`, reading roles, groups and permissions with
    /// [`ClaimMap::generic`] for every issuer.
    pub fn new(policies: CedarPolicies) -> Self {
        Self::with(
            policies,
            ClaimMaps::new(ClaimMap::generic()),
            Scopes::default(),
        )
    }

    fn with(policies: CedarPolicies, claims: ClaimMaps, step_up: Scopes) -> Self {
        Self {
            inner: Arc::new(Inner {
                policies,
                claims,
                step_up,
                callers: Cache::new(10_000),
                prepared: Cache::new(10_000),
            }),
        }
    }

    fn rebuild(self, change: impl FnOnce(&mut ClaimMaps, &mut Scopes)) -> Self {
        let mut claims = self.inner.claims.clone();
        let mut step_up = self.inner.step_up.clone();
        change(&mut claims, &mut step_up);
        Self::with(self.inner.policies.clone(), claims, step_up)
    }

    /// Reads `issuer`'s roles, groups and permissions with `map`.
    pub fn claims_for(self, issuer: impl Into<String>, map: ClaimMap) -> Self {
        let issuer = issuer.into();
        self.rebuild(|claims, _| claims.insert(issuer, map))
    }

    /// The scopes a refused caller may be asked to obtain: when adding some of them would let
    /// the call through, the answer is 403 `insufficient_scope` naming the fewest that do.
    pub fn step_up_scopes(self, scopes: impl Into<Scopes>) -> Self {
        let scopes = scopes.into();
        self.rebuild(|_, step_up| *step_up = scopes)
    }

    /// The policies.
    pub fn policies(&self) -> &CedarPolicies {
        &self.inner.policies
    }

    fn caller(&self, principal: &Principal) -> Arc<Caller> {
        let digest = *principal.token().digest();
        if let Some(caller) = self.inner.callers.get(&digest) {
            return caller;
        }
        let caller = Arc::new(self.build_caller(principal, principal.scopes()));
        self.inner.callers.insert(digest, caller.clone());
        caller
    }

    fn build_caller(&self, principal: &Principal, scopes: &Scopes) -> Caller {
        let memberships = self.inner.claims.read(principal);
        let kind = if principal.acts_for_itself() {
            "Mcp::Service"
        } else {
            "Mcp::User"
        };
        let caller_uid = uid(kind, principal.subject());
        let strings = |values: &BTreeSet<String>| {
            RestrictedExpression::new_set(
                values
                    .iter()
                    .map(|v| RestrictedExpression::new_string(v.clone())),
            )
        };
        let mut attrs = HashMap::from([
            (
                "issuer".to_owned(),
                RestrictedExpression::new_string(principal.issuer().to_owned()),
            ),
            (
                "subject".to_owned(),
                RestrictedExpression::new_string(principal.subject().to_owned()),
            ),
            (
                "scopes".to_owned(),
                RestrictedExpression::new_set(
                    scopes
                        .iter()
                        .map(|s| RestrictedExpression::new_string(s.to_owned())),
                ),
            ),
            ("roles".to_owned(), strings(&memberships.roles)),
            ("groups".to_owned(), strings(&memberships.groups)),
            ("permissions".to_owned(), strings(&memberships.permissions)),
            (
                "actors".to_owned(),
                RestrictedExpression::new_set(
                    principal
                        .actor()
                        .into_iter()
                        .flat_map(|a| a.chain())
                        .take(16)
                        .map(|a| RestrictedExpression::new_string(a.subject.clone())),
                ),
            ),
        ]);
        if let Some(client) = principal.client_id() {
            attrs.insert(
                "client_id".to_owned(),
                RestrictedExpression::new_string(client.to_owned()),
            );
        }
        let parents: HashSet<EntityUid> = memberships
            .roles
            .iter()
            .map(|r| uid("Mcp::Role", r))
            .chain(memberships.groups.iter().map(|g| uid("Mcp::Group", g)))
            .collect();
        // Attributes built from strings, sets and records only: nothing here can fail.
        let entity = Entity::new(caller_uid.clone(), attrs, parents.clone())
            .unwrap_or_else(|_| Entity::new_no_attrs(caller_uid.clone(), HashSet::new()));
        Caller {
            uid: caller_uid,
            entity,
            parents,
        }
    }

    /// The caller's and the target's entities and the policies that may apply: remembered
    /// per token, action and target when `cache` names the token (the caller's claims are the
    /// token's).
    fn prepared(
        &self,
        caller: &Caller,
        call: &Call,
        resource: &EntityUid,
        cache: Option<TokenDigest>,
    ) -> Option<Arc<Prepared>> {
        let key = cache.map(|digest| (digest, call.action, resource.clone()));
        if let Some(found) = key.as_ref().and_then(|k| self.inner.prepared.get(k)) {
            return Some(found);
        }
        let attribute = match call.action {
            Action::CallTool | Action::GetPrompt => "name",
            Action::ReadResource => "uri",
        };
        let target = Entity::new(
            resource.clone(),
            HashMap::from([(
                attribute.to_owned(),
                RestrictedExpression::new_string(call.target.clone()),
            )]),
            HashSet::new(),
        )
        .ok()?;
        let entities = Entities::from_entities([caller.entity.clone(), target], None).ok()?;
        let policies = self.inner.policies.applicable_to(
            call.action.id(),
            resource,
            &caller.uid,
            &caller.parents,
        );
        let prepared = Arc::new(Prepared { entities, policies });
        if let Some(key) = key {
            self.inner.prepared.insert(key, prepared.clone());
        }
        Some(prepared)
    }

    /// The request and entities for `call` by `caller`; `None` arguments are unknown.
    fn request(
        &self,
        caller: &Caller,
        call: &Call,
        cache: Option<TokenDigest>,
    ) -> Option<(Request, Arc<Prepared>)> {
        let (resource, action) = target_and_action(call);
        let prepared = self.prepared(caller, call, &resource, cache)?;
        let mut context = Vec::with_capacity(2);
        context.push((
            "arguments".to_owned(),
            match &call.arguments {
                Some(arguments) => {
                    arguments_of(arguments, self.inner.policies.declared_arguments())
                }
                None => RestrictedExpression::new_unknown("arguments"),
            },
        ));
        if let Some(client) = &call.client {
            let mut fields = vec![
                (
                    "id".to_owned(),
                    RestrictedExpression::new_string(client.client_id.clone()),
                ),
                (
                    "metadata_document".to_owned(),
                    RestrictedExpression::new_bool(client.metadata_document),
                ),
                (
                    "approved".to_owned(),
                    RestrictedExpression::new_bool(client.approved),
                ),
            ];
            if client.metadata_document
                && let Some(host) = url_host(&client.client_id)
            {
                fields.push(("host".to_owned(), RestrictedExpression::new_string(host)));
            }
            if let Some(name) = &client.name {
                fields.push((
                    "name".to_owned(),
                    RestrictedExpression::new_string(name.clone()),
                ));
            }
            context.push((
                "client".to_owned(),
                RestrictedExpression::new_record(fields).ok()?,
            ));
        }
        let request = Request::new(
            caller.uid.clone(),
            action.clone(),
            resource,
            Context::from_pairs(context).ok()?,
            None,
        )
        .ok()?;
        Some((request, prepared))
    }

    fn denial(&self, call: &Call, forbids: Vec<String>, errors: Vec<String>) -> Denial {
        let policies = self.inner.policies.clone();
        let reason = forbids.iter().find_map(|id| policies.reason(id));
        let message = match (reason, errors.is_empty()) {
            (Some(reason), _) => reason.to_owned(),
            (None, false) => format!(
                "the policy for {} `{}` could not be evaluated with these arguments",
                call.action.noun(),
                call.shown_target()
            ),
            (None, true) if !forbids.is_empty() => {
                format!(
                    "a policy forbids this call of {} `{}`",
                    call.action.noun(),
                    call.shown_target()
                )
            }
            (None, true) => format!(
                "no policy allows you to use {} `{}` this way",
                call.action.noun(),
                call.shown_target()
            ),
        };
        let mut ids = forbids;
        ids.extend(errors);
        Denial {
            policies: ids,
            message,
            step_up: None,
        }
    }

    /// The fewest candidate scopes that, added to the caller's, let `call` through.
    fn scopes_that_would_help(&self, call: &Call) -> Option<Scopes> {
        let granted = call.principal.scopes();
        let candidates: Vec<String> = self
            .inner
            .step_up
            .iter()
            .filter(|s| !granted.contains(s))
            .map(str::to_owned)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let allowed_with = |extra: &[String]| {
            let scopes = Scopes::from_iter(granted.iter().chain(extra.iter().map(String::as_str)));
            let caller = self.build_caller(&call.principal, &scopes);
            self.request(&caller, call, None)
                .is_some_and(|(request, prepared)| {
                    self.inner
                        .policies
                        .decide(&prepared.policies, &request, &prepared.entities)
                        .allowed
                })
        };
        if !allowed_with(&candidates) {
            return None;
        }
        let mut needed = candidates;
        let mut i = 0;
        while i < needed.len() {
            let mut without = needed.clone();
            without.remove(i);
            if allowed_with(&without) {
                needed = without;
            } else {
                i += 1;
            }
        }
        Some(Scopes::from_iter(
            granted.iter().chain(needed.iter().map(String::as_str)),
        ))
    }
}

impl Authorize for CedarAuthorizer {
    fn authorize(&self, call: &Call) -> Decision {
        let caller = self.caller(&call.principal);
        let digest = *call.principal.token().digest();
        let Some((request, prepared)) = self.request(&caller, call, Some(digest)) else {
            return Decision::Ready(Verdict::deny(
                "the call could not be described to the policy engine",
            ));
        };
        let decided = self
            .inner
            .policies
            .decide(&prepared.policies, &request, &prepared.entities);
        if decided.allowed {
            let approval = decided
                .policies
                .iter()
                .find(|id| self.inner.policies.asks_approval_in(id))
                .cloned();
            return Decision::Ready(Verdict::Allow {
                policies: decided.policies,
                approval,
            });
        }
        let mut denial = self.denial(call, decided.policies, decided.errors.clone());
        // A forbid that applied, or a policy that failed, is not lifted by more scope.
        if denial.policies.is_empty() {
            denial.step_up = self.scopes_that_would_help(call);
        }
        Decision::Ready(Verdict::Deny(denial))
    }

    fn could_allow(&self, call: &Call) -> bool {
        let caller = self.caller(&call.principal);
        let digest = *call.principal.token().digest();
        self.request(&caller, call, Some(digest))
            .is_some_and(|(request, prepared)| {
                self.inner
                    .policies
                    .could_allow(&prepared.policies, &request, &prepared.entities)
            })
    }
}

impl std::fmt::Debug for CedarAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CedarAuthorizer")
            .field("policies", &self.inner.policies)
            .field("step_up", &self.inner.step_up)
            .finish_non_exhaustive()
    }
}

fn uid(kind: &str, id: &str) -> EntityUid {
    let kind = EntityTypeName::from_str(kind).expect("a type of the MCP schema");
    let Ok(id) = EntityId::from_str(id);
    EntityUid::from_type_name_and_id(kind, id)
}

/// The schema's names, parsed once: parsing a type name costs more than the rest of building a
/// request's identifiers.
struct Names {
    tool: EntityTypeName,
    resource: EntityTypeName,
    prompt: EntityTypeName,
    call_tool: EntityUid,
    read_resource: EntityUid,
    get_prompt: EntityUid,
}

static NAMES: std::sync::LazyLock<Names> = std::sync::LazyLock::new(|| {
    let kind = |name: &str| EntityTypeName::from_str(name).expect("a type of the MCP schema");
    Names {
        tool: kind(TOOL),
        resource: kind(RESOURCE),
        prompt: kind(PROMPT),
        call_tool: uid("Mcp::Action", Action::CallTool.id()),
        read_resource: uid("Mcp::Action", Action::ReadResource.id()),
        get_prompt: uid("Mcp::Action", Action::GetPrompt.id()),
    }
});

/// The target of `call` and its action, as Cedar names them.
fn target_and_action(call: &Call) -> (EntityUid, &'static EntityUid) {
    let names = &*NAMES;
    let (kind, action) = match call.action {
        Action::CallTool => (&names.tool, &names.call_tool),
        Action::ReadResource => (&names.resource, &names.read_resource),
        Action::GetPrompt => (&names.prompt, &names.get_prompt),
    };
    let Ok(id) = EntityId::from_str(&call.target);
    (EntityUid::from_type_name_and_id(kind.clone(), id), action)
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(authority.rsplit('@').next()?.to_ascii_lowercase())
}

/// Deepest argument nesting turned into a Cedar value; deeper parts are left out.
const MAX_DEPTH: usize = 16;

/// The call's arguments as a Cedar record: the attributes the schema declares (policies may read
/// no other), or all of them when the schema's `Arguments` is not a plain record.
fn arguments_of(
    arguments: &Value,
    declared: Option<&std::collections::HashSet<String>>,
) -> RestrictedExpression {
    match (arguments, declared) {
        (Value::Object(fields), Some(declared)) => RestrictedExpression::new_record(
            fields
                .iter()
                .filter(|(k, _)| declared.contains(k.as_str()))
                .filter_map(|(k, v)| Some((k.clone(), cedar_value(v, 1)?))),
        )
        .unwrap_or_else(|_| record_of(&Value::Null, 0)),
        _ => record_of(arguments, 0),
    }
}

/// A JSON value as a Cedar value, built directly (never parsed as Cedar JSON, whose `__entity`
/// and `__extn` escapes a caller could otherwise use). Values Cedar has no type for (null,
/// numbers beyond a Long or a decimal) are left out: a policy reading them fails, and denies.
fn record_of(value: &Value, depth: usize) -> RestrictedExpression {
    cedar_value(value, depth)
        .unwrap_or_else(|| RestrictedExpression::new_record(Vec::new()).expect("an empty record"))
}

fn cedar_value(value: &Value, depth: usize) -> Option<RestrictedExpression> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(long) => RestrictedExpression::new_long(long),
            None => RestrictedExpression::new_decimal(decimal_text(n.as_f64()?)?),
        },
        Value::Array(items) => RestrictedExpression::new_set(
            items.iter().filter_map(|item| cedar_value(item, depth + 1)),
        ),
        Value::Object(fields) => RestrictedExpression::new_record(
            fields
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), cedar_value(v, depth + 1)?))),
        )
        .ok()?,
    })
}

/// A number as Cedar's `decimal` (at most four decimal places, within its range), if exact.
fn decimal_text(x: f64) -> Option<String> {
    let scaled = x * 10_000.0;
    if !x.is_finite() || scaled.fract() != 0.0 || scaled.abs() >= 9.2e18 {
        return None;
    }
    Some(format!("{x:.4}"))
}
