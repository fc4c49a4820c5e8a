//! One builder that stacks the chosen layers in the one correct order.

use std::fmt;

use mcp_auth_approval::{Approval, ApprovalLayer};
use mcp_auth_audit::{Audit, AuditLayer, Auditor};
use mcp_auth_cimd::{Cimd, CimdLayer, ClientPolicy, ClientResolver};
use mcp_auth_core::mcp::{InspectLimits, McpRequest};
use mcp_auth_core::metadata::{MetadataError, ProtectedResourceMetadata};
use mcp_auth_core::middleware::inspect::{McpInspect, McpInspectLayer};
use mcp_auth_core::middleware::metadata::{Metadata, MetadataLayer};
use mcp_auth_core::{
    ConfigValueError, OFFLINE_ACCESS, Rejector, RenderRejection, ResourceId, ResourceIdError,
    Scopes,
};
use mcp_auth_jwt::{ConfigError, IssuerConfig, Verifier, VerifierBuilder, Verify, VerifyLayer};
use mcp_auth_obo::{ExchangeAllowlist, Obo, OboLayer, TokenExchangeClient};
use mcp_auth_policy::{Authorize, Policy, PolicyLayer};
use mcp_auth_scope::{Scope, ScopeLayer, ScopePolicy};
use tower_layer::Layer;

use crate::FetchPolicy;

/// Configures the whole protection of one MCP resource. See [`McpAuth::builder`].
pub struct McpAuth;

impl McpAuth {
    /// Starts configuring protection for the MCP server whose public resource identifier is
    /// `resource` (e.g. `https://mcp.example.com/mcp`). Every public URL derives from it, never
    /// from the `Host` header.
    pub fn builder(resource: &str) -> McpAuthBuilder {
        McpAuthBuilder {
            resource: resource.to_owned(),
            issuers: Vec::new(),
            scopes_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
            challenge_scope: Scopes::empty(),
            fetch_policy: FetchPolicy::default(),
            configure_verifier: None,
            policy: None,
            limits: InspectLimits::default(),
            clients: None,
            exchange: None,
            exchange_allowlist: None,
            authorize: None,
            approval: None,
            policies_ask_approval: false,
            auditor: None,
            render_rejection: None,
        }
    }
}

/// Makes the policy layer for the resource, with the scopes it advertises (for step-up).
type MakePolicyLayer = Box<dyn FnOnce(&ResourceId, &Scopes) -> PolicyLayer>;

/// Builds an [`McpAuthLayer`].
#[must_use]
pub struct McpAuthBuilder {
    resource: String,
    issuers: Vec<IssuerConfig>,
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    challenge_scope: Scopes,
    fetch_policy: FetchPolicy,
    configure_verifier: Option<Box<dyn FnOnce(VerifierBuilder) -> VerifierBuilder>>,
    policy: Option<ScopePolicy>,
    limits: InspectLimits,
    clients: Option<(ClientResolver, ClientPolicy)>,
    exchange: Option<TokenExchangeClient>,
    exchange_allowlist: Option<ExchangeAllowlist>,
    authorize: Option<MakePolicyLayer>,
    approval: Option<ApprovalLayer>,
    /// Some Cedar permit is annotated `@approval`: building without an approval layer fails.
    policies_ask_approval: bool,
    auditor: Option<Auditor>,
    render_rejection: Option<Box<dyn FnOnce(Rejector) -> Rejector>>,
}

impl McpAuthBuilder {
    /// Trusts an issuer; it is also listed in the metadata's `authorization_servers`.
    pub fn issuer(mut self, issuer: IssuerConfig) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Enforces a scope policy after verification. Without one, every verified caller may do
    /// everything. The policy also supplies the `scope` of 401 challenges when it knows the
    /// operation, and `scopes_supported` when that is not set explicitly.
    pub fn scopes(mut self, policy: ScopePolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Admits clients by `policy`, identifying Client ID Metadata Document clients with
    /// `resolver`. Without it, every client the issuer issued a token to is admitted.
    pub fn clients(mut self, resolver: ClientResolver, policy: ClientPolicy) -> Self {
        self.clients = Some((resolver, policy));
        self
    }

    /// Lets handlers exchange the caller's token for downstream APIs (an
    /// [`OnBehalfOf`](mcp_auth_obo::OnBehalfOf) handle in every authenticated request).
    pub fn on_behalf_of(mut self, client: TokenExchangeClient) -> Self {
        self.exchange = Some(client);
        self
    }

    /// Limits the exchanges handlers may make, per tool: anything outside `allowlist` is
    /// refused before the authorization server is contacted (403 when the handler denies
    /// with it).
    pub fn exchange_allowlist(mut self, allowlist: ExchangeAllowlist) -> Self {
        self.exchange_allowlist = Some(allowlist);
        self
    }

    /// Decides every call of a tool, read of a resource and use of a prompt with `authorize`
    /// (after scopes): a [`CedarAuthorizer`](mcp_auth_policy::CedarAuthorizer) over your
    /// policies (feature `policy`), or a decision point of your own. Listings show what the
    /// caller could use.
    pub fn authorize(mut self, authorize: impl Authorize) -> Self {
        self.authorize = Some(Box::new(move |resource: &ResourceId, _: &Scopes| {
            PolicyLayer::new(authorize, resource)
        }));
        self
    }

    /// Like [`authorize`](Self::authorize) with Cedar policies, where a refused caller is asked
    /// for more of the advertised scopes (`scopes_supported`) when some of them would let the
    /// call through.
    #[cfg(feature = "policy")]
    pub fn cedar(mut self, authorizer: mcp_auth_policy::CedarAuthorizer) -> Self {
        self.policies_ask_approval = authorizer.policies().asks_approval();
        self.authorize = Some(Box::new(
            move |resource: &ResourceId, supported: &Scopes| {
                PolicyLayer::new(authorizer.step_up_scopes(supported.clone()), resource)
            },
        ));
        self
    }

    /// Holds calls of the tools `approval` gates (and those a policy marks) until the person
    /// behind the token approves that exact call on their own device (OpenID CIBA, answered
    /// through the 2026-07-28 protocol's multi-round-trip requests). Placed after the policy
    /// layer.
    pub fn approval(mut self, approval: ApprovalLayer) -> Self {
        self.approval = Some(approval);
        self
    }

    /// Records one audit event per request (and per exchange) into `auditor`. Keep the auditor
    /// to [shut it down](Auditor::shutdown) when the server stops.
    pub fn audit(mut self, auditor: Auditor) -> Self {
        self.auditor = Some(auditor);
        self
    }

    /// Limits on request bodies (size, batch length, nesting, read time). Defaults to
    /// [`InspectLimits::default`].
    pub fn inspect_limits(mut self, limits: InspectLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The scopes advertised in the metadata (`scopes_supported`).
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The `scope` of 401 challenges when the policy does not say more: what a client should
    /// ask for to use the server at all, e.g. `"mcp:read"`.
    pub fn challenge_scope(mut self, scope: impl Into<Scopes>) -> Self {
        self.challenge_scope = scope.into();
        self
    }

    /// The metadata's human-readable `resource_name`.
    pub fn resource_name(mut self, name: &str) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The metadata's `resource_documentation` URL.
    pub fn resource_documentation(mut self, url: &str) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The outbound HTTP policy for issuer discovery and JWKS fetches (the development switch
    /// for loopback issuers lives here).
    pub fn fetch_policy(mut self, policy: FetchPolicy) -> Self {
        self.fetch_policy = policy;
        self
    }

    /// Renders every layer's denials with `render` instead of the default (see
    /// [`RenderRejection`]); the typed [`AuthError`](crate::AuthError) stays in the response
    /// extensions for the audit layer.
    pub fn render_rejection(mut self, render: impl RenderRejection) -> Self {
        self.render_rejection = Some(Box::new(move |rejector| rejector.render_with(render)));
        self
    }

    /// Adjusts the verifier beyond what this builder exposes (cache sizes, refresh interval,
    /// DPoP settings). Calls add up: each adjusts what the ones before it left (so a later call
    /// does not undo the `[redis]` table's replay store unless it sets another).
    pub fn verifier(
        mut self,
        configure: impl FnOnce(VerifierBuilder) -> VerifierBuilder + 'static,
    ) -> Self {
        self.configure_verifier = Some(match self.configure_verifier.take() {
            Some(before) => Box::new(move |builder| configure(before(builder))),
            None => Box::new(configure),
        });
        self
    }

    /// Validates everything and builds the layer.
    ///
    /// # Errors
    /// A [`BuildError`] naming the setting at fault.
    pub fn build(self) -> Result<McpAuthLayer, BuildError> {
        let resource = ResourceId::parse(&self.resource)?;
        let policy = self.policy.unwrap_or_else(ScopePolicy::allow_all);
        let mut scopes_supported: Vec<String> = if self.scopes_supported.is_empty() {
            policy.known_scopes().iter().map(str::to_owned).collect()
        } else {
            self.scopes_supported
        };
        if scopes_supported.iter().any(|s| s == OFFLINE_ACCESS) {
            // MCP 2026-07-28: a resource never advertises it (nor asks for it in a challenge).
            tracing::warn!(
                target: "mcp_auth",
                "`offline_access` left out of scopes_supported: refresh tokens are between the client and its authorization server"
            );
            scopes_supported.retain(|s| s != OFFLINE_ACCESS);
        }

        // A refused caller may be asked for more of what the resource advertises.
        let supported = Scopes::from_iter(scopes_supported.iter().map(String::as_str));
        let mut verifier = Verifier::builder(resource.clone()).fetch_policy(self.fetch_policy);
        for issuer in &self.issuers {
            verifier = verifier.issuer(issuer.clone());
        }
        if let Some(configure) = self.configure_verifier {
            verifier = configure(verifier);
        }
        let verifier = verifier.build()?;
        let mut metadata =
            ProtectedResourceMetadata::builder(&resource).scopes_supported(scopes_supported);
        for issuer in &self.issuers {
            metadata = metadata.authorization_server(issuer.issuer());
        }
        if let Some(name) = self.resource_name {
            metadata = metadata.resource_name(name);
        }
        if let Some(url) = self.resource_documentation {
            metadata = metadata.resource_documentation(url);
        }
        // RFC 9728 §2: the DPoP proof algorithms accepted, and whether DPoP is required.
        let dpop_algs: Vec<String> = verifier
            .dpop_algorithms()
            .split(' ')
            .map(str::to_owned)
            .collect();
        metadata = metadata.extra("dpop_signing_alg_values_supported", dpop_algs.into());
        if verifier.requires_dpop() {
            metadata = metadata.extra("dpop_bound_access_tokens_required", true.into());
        }
        let metadata = metadata.build()?;
        // One rejector renders every layer's denials alike.
        let mut rejector = Rejector::for_resource(&resource);
        if let Some(custom) = self.render_rejection {
            rejector = custom(rejector);
        }
        let hint_policy = policy.clone();
        let verify = VerifyLayer::new(verifier)
            .rejector(rejector.clone())
            .challenge_scope(self.challenge_scope)
            .scope_hint(move |extensions| {
                hint_policy.challenge_hint(extensions.get::<McpRequest>())
            });
        let clients = match self.clients {
            Some((resolver, policy)) => CimdLayer::new(resolver, policy).rejector(rejector.clone()),
            None => CimdLayer::disabled(),
        };
        let authorize = match self.authorize {
            Some(make) => make(&resource, &supported).rejector(rejector.clone()),
            None => PolicyLayer::disabled(),
        };
        let approval = match self.approval {
            Some(layer) => layer.rejector(rejector.clone()),
            None if self.policies_ask_approval => {
                return Err(BuildError::Config(ConfigValueError::new(
                    "approval",
                    "a policy annotated `@approval` needs an approval layer: add `.approval(..)` (or an [approval] table)",
                )));
            }
            None => ApprovalLayer::disabled().rejector(rejector.clone()),
        };
        let exchange = match self.exchange {
            Some(client) => {
                let layer = OboLayer::new(client, &resource).rejector(rejector.clone());
                match self.exchange_allowlist {
                    Some(allowlist) => layer.allowlist(allowlist),
                    None => layer,
                }
            }
            None => OboLayer::disabled(),
        };
        let audit = match &self.auditor {
            Some(auditor) => auditor.layer(),
            None => AuditLayer::disabled(),
        };
        Ok(McpAuthLayer {
            audit,
            metadata: MetadataLayer::try_new(metadata.clone())?,
            inspect: McpInspectLayer::with_limits(self.limits)
                .in_front_of_verification()
                .rejector(rejector.clone()),
            verify,
            clients,
            scope: ScopeLayer::new(policy, &resource).rejector(rejector),
            authorize,
            approval,
            exchange,
            document: metadata,
            auditor: self.auditor,
        })
    }
}

/// Why [`McpAuthBuilder::build`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The resource identifier is unusable.
    #[error("`resource`: {0}")]
    Resource(#[from] ResourceIdError),
    /// The metadata document would be invalid.
    #[error("metadata: {0}")]
    Metadata(#[from] MetadataError),
    /// The verifier configuration is invalid.
    #[error("{0}")]
    Verifier(#[from] ConfigError),
    /// The scope policy is invalid.
    #[error("{0}")]
    Scopes(#[from] mcp_auth_scope::PolicyError),
    /// A configuration value is invalid: the key at fault (`clients.registry`,
    /// `fetch.ca_files`) and what to do about it.
    #[error("{0}")]
    Config(#[from] ConfigValueError),
    /// The configuration text does not parse: a syntax error, an unknown key or a value of the
    /// wrong kind, with the line and column.
    #[error("{0}")]
    Parse(String),
    /// Policies that cannot be used (feature `policy`): every problem, with file, line and fix.
    #[cfg(feature = "policy")]
    #[error("{0}")]
    Policy(#[from] mcp_auth_policy::PolicyError),
    /// The configuration file cannot be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
}

impl BuildError {
    /// The configuration key at fault, when the error is about one value.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Config(error) => Some(error.key()),
            _ => None,
        }
    }
}

/// The composed protection, outermost first: audit, RFC 9728 metadata, request inspection,
/// token verification, client identity, scope enforcement, policy decisions, token exchange.
///
/// Metadata requests are answered without a token; the JSON-RPC body is read once (so a 401
/// can name the scopes the operation needs); everything else needs a valid token, an admitted
/// client and scopes that satisfy the policy. Layers not configured pass requests through.
///
/// A request without credentials is answered 401 whatever its body: the body is read (within
/// [`InspectLimits::max_credential_less_bytes`]) only to choose the challenge's scope.
///
/// With the `axum` feature, [`McpAuthLayer::protect`] also serves the metadata document as real
/// routes, so that `merge`, `nest` and `route_layer` cannot hide it from clients.
#[derive(Clone)]
#[must_use]
pub struct McpAuthLayer {
    audit: AuditLayer,
    pub(crate) metadata: MetadataLayer,
    inspect: McpInspectLayer,
    verify: VerifyLayer,
    clients: CimdLayer,
    scope: ScopeLayer,
    authorize: PolicyLayer,
    approval: ApprovalLayer,
    exchange: OboLayer,
    document: ProtectedResourceMetadata,
    auditor: Option<Auditor>,
}

/// The service [`McpAuthLayer`] produces around `S`.
///
/// The request body is read and wrapped once, by the one inspector: the inner service `S`
/// receives `Request<AuthBody<B>>` for a server whose requests are `Request<B>`.
pub type McpAuthService<S> =
    Audit<Metadata<McpInspect<Verify<Cimd<Scope<Policy<Approval<Obo<S>>>>>>>>>;

impl McpAuthLayer {
    /// The verifier (e.g. to [`warm_up`](Verifier::warm_up) at start-up).
    pub fn verifier(&self) -> &Verifier {
        self.verify.verifier()
    }

    /// The metadata document served.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.document
    }

    /// The scope policy enforced.
    pub fn policy(&self) -> &ScopePolicy {
        self.scope.policy()
    }

    /// The auditor, when auditing is on (shut it down when the server stops).
    pub fn auditor(&self) -> Option<&Auditor> {
        self.auditor.as_ref()
    }
}

impl fmt::Debug for McpAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpAuthLayer")
            .field("verify", &self.verify)
            .field("clients", &self.clients)
            .field("exchange", &self.exchange)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for McpAuthLayer {
    type Service = McpAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let inner = self.scope.layer(
            self.authorize
                .layer(self.approval.layer(self.exchange.layer(inner))),
        );
        let inner = self.verify.layer(self.clients.layer(inner));
        self.audit
            .layer(self.metadata.layer(self.inspect.layer(inner)))
    }
}
