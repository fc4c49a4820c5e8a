//! From a configuration to the router the gateway serves: one protected route per MCP server,
//! each with its metadata document, plus the JWKS of the identity assertions.

use axum::Router;
use axum::routing::get;
use http::HeaderValue;
use mcp_auth::obo::ExchangeRequest;
use mcp_auth::{Auditor, McpAuthLayer};

use crate::assertion::IdentityAssertions;
use crate::config::{ConfigError, GatewayConfig, RouteConfig};
use crate::proxy::{Credentials, Forwarding, Proxy};
use crate::upstream::{CredentialsEntry, Target, static_header};

/// Paths the gateway answers itself.
pub(crate) const HEALTH: &str = "/healthz";
pub(crate) const READY: &str = "/readyz";

/// The routes of one configuration, built.
pub(crate) struct Built {
    pub(crate) router: Router,
    /// Each route's stack (its verifier warms up at start).
    pub(crate) layers: Vec<McpAuthLayer>,
    /// Each route's server, for readiness.
    pub(crate) upstreams: Vec<Target>,
}

/// What routes share and keep across reloads.
pub(crate) struct Shared<'a> {
    pub(crate) auditor: Option<&'a Auditor>,
    pub(crate) assertions: Option<&'a IdentityAssertions>,
}

pub(crate) fn build(config: &GatewayConfig, shared: &Shared<'_>) -> Result<Built, ConfigError> {
    let mut router = Router::new();
    let mut layers = Vec::new();
    let mut upstreams = Vec::new();
    let mut paths: Vec<String> = vec![HEALTH.into(), READY.into()];
    if let Some(assertions) = shared.assertions {
        paths.push(assertions.jwks_path().to_owned());
        // Serialised once; each answer shares the bytes.
        let jwks = axum::body::Bytes::from(assertions.jwks().to_string());
        router = router.route(
            assertions.jwks_path(),
            get(move || {
                let jwks = jwks.clone();
                async move {
                    (
                        [(http::header::CONTENT_TYPE, "application/jwk-set+json")],
                        jwks,
                    )
                }
            }),
        );
    }
    let single = config.routes.len() == 1;
    for route in &config.routes {
        let (layer, path, proxy, target) = build_route(route, config, shared)?;
        if paths.contains(&path) {
            return Err(ConfigError::value(
                format!("{}.resource", route.origin),
                format!("the path `{path}` is already served; give each route its own path"),
            ));
        }
        paths.push(path.clone());
        let protected = Router::new().route_service(&path, proxy);
        router = router.merge(if single {
            // One server: the root metadata path names it unambiguously too.
            layer.protect(protected)
        } else {
            protected
                .layer(layer.clone())
                .merge(layer.resource_metadata_router())
        });
        layers.push(layer);
        upstreams.push(target);
    }
    Ok(Built {
        router,
        layers,
        upstreams,
    })
}

fn build_route(
    route: &RouteConfig,
    config: &GatewayConfig,
    shared: &Shared<'_>,
) -> Result<(McpAuthLayer, String, Proxy, Target), ConfigError> {
    let key = if route.origin == "top level" {
        "upstream".to_owned()
    } else {
        format!("{}.upstream", route.origin)
    };
    let resource = route.auth.resource.clone();
    let public = url::Url::parse(&resource).map_err(|e| {
        ConfigError::value(
            format!("{}.resource", route.origin),
            format!("`{resource}` is not a URL: {e}"),
        )
    })?;
    let target = Target::from_entry(&route.upstream, &key)?;
    let credentials = match &route.upstream.credentials {
        CredentialsEntry::None => Credentials::None,
        CredentialsEntry::StaticHeader { header, value_env } => {
            let (name, value) = static_header(header, value_env, &key)?;
            Credentials::Static(name, value)
        }
        CredentialsEntry::TokenExchange {
            audience,
            resource: target_resource,
            scope,
        } => {
            if route.auth.token_exchange.is_none() {
                return Err(ConfigError::value(
                    format!("{key}.credentials"),
                    "a token exchange needs the route's [token_exchange] (the gateway's client \
                     at the authorization server)",
                ));
            }
            let mut request = match (audience, target_resource) {
                (Some(audience), None) => ExchangeRequest::audience(audience),
                (None, Some(resource)) => ExchangeRequest::resource(resource),
                _ => {
                    return Err(ConfigError::value(
                        format!("{key}.credentials"),
                        "name exactly one of `audience` and `resource`",
                    ));
                }
            };
            if let Some(scope) = scope {
                request = request.scope(scope);
            }
            Credentials::Exchange(request)
        }
        CredentialsEntry::IdentityAssertion { audience, header } => {
            let assertions = shared.assertions.ok_or_else(|| {
                ConfigError::value(
                    format!("{key}.credentials"),
                    "identity assertions need the gateway's signer (add [identity_assertion])",
                )
            })?;
            let header = match header {
                Some(name) => http::HeaderName::try_from(name.as_str()).map_err(|_| {
                    ConfigError::value(
                        format!("{key}.credentials.header"),
                        format!("`{name}` is not a header name"),
                    )
                })?,
                None => http::header::AUTHORIZATION,
            };
            Credentials::Assertion {
                assertions: assertions.clone(),
                audience: audience.as_deref().unwrap_or(&target.url).into(),
                header,
            }
        }
    };
    let mut builder = route
        .auth
        .clone()
        .into_builder_in(&config.base)
        .map_err(|source| ConfigError::Stack {
            resource: resource.clone(),
            source,
        })?;
    if let Some(auditor) = shared.auditor {
        builder = builder.audit(auditor.clone());
    }
    let layer = builder.build().map_err(|source| ConfigError::Stack {
        resource: resource.clone(),
        source,
    })?;
    let forwarding = Forwarding {
        trust: config.gateway.trust_forwarded,
        proto: HeaderValue::from_str(public.scheme()).unwrap_or(HeaderValue::from_static("http")),
    };
    let path = public.path().to_owned();
    let proxy = Proxy::new(target.clone(), credentials, forwarding, &path);
    Ok((layer, path, proxy, target))
}
