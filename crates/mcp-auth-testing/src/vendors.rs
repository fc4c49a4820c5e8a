//! Identity providers as they really are: fixtures that serve each vendor's discovery document
//! and JWKS at the vendor's paths and mint access and ID tokens in the vendor's documented shape
//! (header, claims, audience), on 127.0.0.1.
//!
//! The shapes follow the vendors' own documentation:
//!
//! - Auth0, "Access Token Profiles" (`auth0.com/docs/secure/tokens/access-tokens/access-token-profiles`):
//!   the default profile has `typ: JWT`, the client in `azp`, an `aud` array with the API
//!   identifier and `https://TENANT/userinfo`, `scope` and RBAC `permissions`; the RFC 9068
//!   profile has `typ: at+jwt`, `client_id` and `jti`. Discovery at
//!   `/.well-known/openid-configuration`, keys at `/.well-known/jwks.json` (with `x5c`, `x5t`).
//! - Microsoft Entra ID, "Access token claims reference"
//!   (`learn.microsoft.com/entra/identity-platform/access-token-claims-reference`): v1.0 tokens
//!   are issued by `https://sts.windows.net/{tid}/`, carry the App ID URI as `aud` and the client
//!   in `appid`; v2.0 tokens are issued by `https://login.microsoftonline.com/{tid}/v2.0`, carry
//!   the API's application id as `aud` and the client in `azp`; both have `scp`, `roles`, `tid`,
//!   `ver`, header `typ: JWT` (v1 also `x5t`). "OpenID Connect on the Microsoft identity
//!   platform": the `organizations`/`common` metadata names the issuer template
//!   `https://login.microsoftonline.com/{tenantid}/v2.0`; signing keys carry no `alg`, carry
//!   `x5c`, and in the shared JWKS an `issuer` member.
//! - Okta, "Validate access tokens" and the `/keys` reference (`developer.okta.com`): custom
//!   authorization servers issue `https://ORG/oauth2/<as>`, no `typ` header, `aud`
//!   `api://default`, the client in `cid`, scopes as an `scp` array, `ver: 1`, `jti` `AT.…`;
//!   metadata at `{issuer}/.well-known/oauth-authorization-server` (and `openid-configuration`),
//!   keys at `{issuer}/v1/keys`.
//! - Keycloak, Server Administration Guide ("Audience support", "Realm keys"): issuer
//!   `https://HOST/realms/<realm>`, header `typ: JWT`, payload `typ: Bearer` (`ID` for ID
//!   tokens), client in `azp`, `aud` only with an audience mapper (else `account`), roles in
//!   `realm_access.roles`; the realm JWKS also publishes an `RSA-OAEP` encryption key.
//! - Amazon Cognito, "Understanding the access token"
//!   (`docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html`):
//!   issuer `https://cognito-idp.<region>.amazonaws.com/<pool>`, no `typ`, no `aud`,
//!   `token_use: access`, `client_id`, custom scopes `<resource-server-id>/<scope>`,
//!   `cognito:groups`; keys at `{issuer}/.well-known/jwks.json`, `kid`s in standard base64.
//!
//! Real hosts are replaced by `http://127.0.0.1:PORT` and, for Entra v1, the `sts.windows.net`
//! issuer by `http://127.0.0.1:PORT/sts/{tid}/`, metadata still published under the
//! `login.microsoftonline.com`-like path `/{tid}`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_auth_core::Algorithm;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::keys::SigningKey;
use crate::token::{TokenBuilder, now};

/// The tenant of single-tenant Entra fixtures, and the first admitted tenant of the
/// multi-tenant one (the sample tenant id of Microsoft's documentation).
pub const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// Another Entra tenant, not admitted unless a test says so.
pub const OTHER_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The protected API's application id (Entra v2 `aud`; v1's App ID URI is `api://` + it).
pub const API_APP_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
/// The client application's id, as every vendor's fixture names it.
pub const CLIENT_ID: &str = "2a8c1f65-4d5e-4b3a-9f0e-7c6d5b4a3e21";
/// The Cognito resource-server id custom scopes are prefixed with.
pub const COGNITO_RESOURCE_SERVER: &str = "https://mcp.example.com";

/// An identity provider's documented token shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Vendor {
    /// Auth0 with its default access-token profile (`typ: JWT`, client in `azp`).
    Auth0,
    /// Auth0 with its RFC 9068 access-token profile.
    Auth0Rfc9068,
    /// Microsoft Entra ID, v1.0 tokens of one tenant.
    EntraV1,
    /// Microsoft Entra ID, v2.0 tokens of one tenant.
    Entra,
    /// Microsoft Entra ID, v2.0 tokens of any tenant, metadata from `organizations`.
    EntraMultiTenant,
    /// An Okta custom authorization server named `default`.
    Okta,
    /// A Keycloak realm named `mcp`.
    Keycloak,
    /// An Amazon Cognito user pool `us-east-1_Example`.
    Cognito,
}

impl Vendor {
    /// Every vendor shape.
    pub const ALL: [Vendor; 8] = [
        Self::Auth0,
        Self::Auth0Rfc9068,
        Self::EntraV1,
        Self::Entra,
        Self::EntraMultiTenant,
        Self::Okta,
        Self::Keycloak,
        Self::Cognito,
    ];
}

/// A fixture identity provider of one [`Vendor`] on 127.0.0.1.
///
/// ```no_run
/// use mcp_auth_testing::vendors::{Vendor, VendorIssuer};
///
/// # #[tokio::main] async fn main() {
/// let okta = VendorIssuer::start(Vendor::Okta, "https://mcp.example.com/mcp").await;
/// let token = okta.access_token().claim("scp", vec!["tools:read"]).sign();
/// assert!(okta.issuer().ends_with("/oauth2/default"));
/// # let _ = token;
/// # }
/// ```
pub struct VendorIssuer {
    vendor: Vendor,
    origin: String,
    resource: String,
    key: SigningKey,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    documents: HashMap<String, Value>,
    jwks_path: String,
    jwks_fetches: AtomicUsize,
}

impl VendorIssuer {
    /// Starts the fixture for a server whose resource identifier is `resource` (the audience
    /// of vendors configured to use it: Auth0's API identifier, Keycloak's audience mapper).
    ///
    /// # Panics
    /// If 127.0.0.1 cannot be bound.
    pub async fn start(vendor: Vendor, resource: &str) -> VendorIssuer {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind 127.0.0.1");
        let addr: SocketAddr = listener.local_addr().expect("local addr");
        let origin = format!("http://{addr}");
        let kid = match vendor {
            // Cognito's key ids are standard base64 (with `+`, `/` and `=`).
            Vendor::Cognito => "1a2B+c3D/e4F5g6H7i8J9k0LmNoPqRsTuVwXyZ=".to_owned(),
            Vendor::Okta => "PKW9aT0XfQqdZ6yQ3lN2s1EcVb8hJrMu7xOiYgK5wDA".to_owned(),
            _ => "nOo3ZDrODXEK1jKWhXslHR_KXEg".to_owned(),
        };
        let key = SigningKey::generate(Algorithm::RS256, kid);
        let (documents, jwks_path) = documents(vendor, &origin, &key);
        let shared = Arc::new(Shared {
            documents,
            jwks_path,
            jwks_fetches: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(route).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        VendorIssuer {
            vendor,
            origin,
            resource: resource.to_owned(),
            key,
            shared,
            task,
        }
    }

    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.vendor
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The `iss` of its tokens (for the multi-tenant fixture: [`TENANT`]'s).
    pub fn issuer(&self) -> String {
        self.issuer_for(TENANT)
    }

    /// The `iss` of tokens of `tenant` (Entra; other vendors have one issuer).
    pub fn issuer_for(&self, tenant: &str) -> String {
        let o = &self.origin;
        match self.vendor {
            Vendor::Auth0 | Vendor::Auth0Rfc9068 => format!("{o}/"),
            Vendor::EntraV1 => format!("{o}/sts/{tenant}/"),
            Vendor::Entra | Vendor::EntraMultiTenant => format!("{o}/{tenant}/v2.0"),
            Vendor::Okta => format!("{o}/oauth2/default"),
            Vendor::Keycloak => format!("{o}/realms/mcp"),
            Vendor::Cognito => format!("{o}/us-east-1_Example"),
        }
    }

    /// What an operator configures as the issuer: the issuer itself, or for the
    /// multi-tenant fixture the shared `organizations` endpoint.
    pub fn configured_issuer(&self) -> String {
        match self.vendor {
            Vendor::EntraMultiTenant => format!("{}/organizations/v2.0", self.origin),
            _ => self.issuer(),
        }
    }

    /// Where the metadata is published when not under the issuer (Entra v1: under the
    /// tenant's `login.microsoftonline.com` path).
    pub fn metadata_from(&self) -> Option<String> {
        match self.vendor {
            Vendor::EntraV1 => Some(format!("{}/{TENANT}", self.origin)),
            _ => None,
        }
    }

    /// The audience value the vendor puts in access tokens for the protected API when it is
    /// not the resource URL: Entra's application id (v2) or App ID URI (v1), Okta's
    /// `api://default`. `None` where the vendor uses the resource URL, or no `aud` at all.
    pub fn vendor_audience(&self) -> Option<String> {
        match self.vendor {
            Vendor::EntraV1 => Some(format!("api://{API_APP_ID}")),
            Vendor::Entra | Vendor::EntraMultiTenant => Some(API_APP_ID.to_owned()),
            Vendor::Okta => Some("api://default".to_owned()),
            _ => None,
        }
    }

    /// An access token in the vendor's shape, valid for five minutes, for the user `alice`
    /// (multi-tenant: of [`TENANT`]). Add scopes in the vendor's claim.
    pub fn access_token(&self) -> TokenBuilder {
        self.access_token_for(TENANT)
    }

    /// An access token of `tenant` (Entra multi-tenant).
    pub fn access_token_for(&self, tenant: &str) -> TokenBuilder {
        let now = now();
        let iss = self.issuer_for(tenant);
        let base = TokenBuilder::new(&self.key)
            .claim("iss", iss.clone())
            .claim("iat", now)
            .claim("exp", now + 300);
        match self.vendor {
            Vendor::Auth0 => base
                .typ(Some("JWT"))
                .claim("sub", "auth0|64b7f0c2a1e5d3f4a9b8c7d6")
                .claim(
                    "aud",
                    json!([self.resource, format!("{}/userinfo", self.origin)]),
                )
                .claim("azp", CLIENT_ID)
                .claim("scope", "openid profile")
                .claim("permissions", json!([])),
            Vendor::Auth0Rfc9068 => base
                .claim("sub", "auth0|64b7f0c2a1e5d3f4a9b8c7d6")
                .claim("aud", self.resource.clone())
                .claim("client_id", CLIENT_ID)
                .claim("jti", random_id())
                .claim("scope", "openid profile")
                .claim("permissions", json!([])),
            Vendor::EntraV1 => base
                .typ(Some("JWT"))
                .header("x5t", self.key.kid())
                .claim("aud", format!("api://{API_APP_ID}"))
                .claim("nbf", now)
                .claim("appid", CLIENT_ID)
                .claim("appidacr", "0")
                .claim("oid", "00000000-0000-0000-66f3-3332eca7ea81")
                .claim("sub", "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ")
                .claim("tid", tenant)
                .claim("scp", "")
                .claim("ver", "1.0")
                .claim("uti", random_id()),
            Vendor::Entra | Vendor::EntraMultiTenant => base
                .typ(Some("JWT"))
                .claim("aud", API_APP_ID)
                .claim("nbf", now)
                .claim("azp", CLIENT_ID)
                .claim("azpacr", "0")
                .claim("oid", "00000000-0000-0000-66f3-3332eca7ea81")
                .claim("sub", "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ")
                .claim("tid", tenant)
                .claim("scp", "")
                .claim("ver", "2.0")
                .claim("uti", random_id()),
            Vendor::Okta => base
                .typ(None)
                .claim("ver", 1)
                .claim("jti", format!("AT.{}", random_id()))
                .claim("aud", "api://default")
                .claim("cid", CLIENT_ID)
                .claim("uid", "00uid4BxXw6I6TV4m0g3")
                .claim("scp", json!([]))
                .claim("auth_time", now)
                .claim("sub", "alice@example.com"),
            Vendor::Keycloak => base
                .typ(Some("JWT"))
                .claim("jti", random_id())
                .claim("aud", json!([self.resource, "account"]))
                .claim("sub", "f7d4c5a2-6b3e-4c1d-9a8f-2e5b7c9d0a13")
                .claim("typ", "Bearer")
                .claim("azp", "mcp-client")
                .claim("session_state", random_id())
                .claim("acr", "1")
                .claim(
                    "realm_access",
                    json!({"roles": ["default-roles-mcp", "offline_access"]}),
                )
                .claim(
                    "resource_access",
                    json!({"account": {"roles": ["manage-account"]}}),
                )
                .claim("scope", "openid profile email")
                .claim("preferred_username", "alice"),
            Vendor::Cognito => base
                .typ(None)
                .claim("sub", "aaaaaaaa-bbbb-cccc-dddd-example")
                .claim("cognito:groups", json!(["admin"]))
                .claim("version", 2)
                .claim("client_id", CLIENT_ID)
                .claim("origin_jti", random_id())
                .claim("event_id", random_id())
                .claim("token_use", "access")
                .claim("scope", "openid")
                .claim("auth_time", now)
                .claim("jti", random_id())
                .claim("username", "alice"),
        }
    }

    /// An ID token in the vendor's shape, for the same user and client: what a confused client
    /// might send instead of an access token.
    pub fn id_token(&self) -> TokenBuilder {
        let now = now();
        let base = TokenBuilder::new(&self.key)
            .claim("iss", self.issuer())
            .claim("iat", now)
            .claim("exp", now + 300)
            .claim("sub", "alice")
            .claim("nonce", random_id());
        match self.vendor {
            Vendor::Keycloak => base
                .typ(Some("JWT"))
                .claim("aud", "mcp-client")
                .claim("azp", "mcp-client")
                .claim("typ", "ID"),
            Vendor::Cognito => base
                .typ(None)
                .claim("aud", CLIENT_ID)
                .claim("token_use", "id")
                .claim("cognito:username", "alice"),
            Vendor::Entra | Vendor::EntraMultiTenant | Vendor::EntraV1 => base
                .typ(Some("JWT"))
                .claim("aud", CLIENT_ID)
                .claim("tid", TENANT)
                .claim(
                    "ver",
                    if self.vendor == Vendor::EntraV1 {
                        "1.0"
                    } else {
                        "2.0"
                    },
                ),
            Vendor::Okta => base.typ(None).claim("aud", CLIENT_ID).claim("ver", 1),
            Vendor::Auth0 | Vendor::Auth0Rfc9068 => base.typ(Some("JWT")).claim("aud", CLIENT_ID),
        }
    }

    /// The signing key (to sign a token the fixture does not shape).
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The JWKS as the vendor publishes it.
    pub fn jwks(&self) -> Value {
        self.shared.documents[&self.shared.jwks_path].clone()
    }

    /// JWKS fetches so far.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }
}

impl Drop for VendorIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for VendorIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorIssuer")
            .field("vendor", &self.vendor)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(crate::keys::random_bytes::<12>())
}

/// The vendor's documents by path, and the JWKS path.
fn documents(vendor: Vendor, origin: &str, key: &SigningKey) -> (HashMap<String, Value>, String) {
    let o = origin;
    let mut jwk = key.public_jwk().clone();
    let object = jwk.as_object_mut().expect("jwk object");
    let certificate = key.self_signed_certificate();
    let mut extra = Vec::new();
    let (metadata_paths, issuer, jwks_path): (Vec<String>, String, String) = match vendor {
        Vendor::Auth0 | Vendor::Auth0Rfc9068 => {
            object.insert("x5t".into(), key.kid().into());
            object.insert("x5c".into(), json!([certificate]));
            (
                vec!["/.well-known/openid-configuration".into()],
                format!("{o}/"),
                "/.well-known/jwks.json".into(),
            )
        }
        Vendor::EntraV1 => {
            entra_key(object, certificate, None);
            (
                vec![format!("/{TENANT}/.well-known/openid-configuration")],
                format!("{o}/sts/{TENANT}/"),
                "/common/discovery/keys".into(),
            )
        }
        Vendor::Entra => {
            entra_key(object, certificate, None);
            (
                vec![format!("/{TENANT}/v2.0/.well-known/openid-configuration")],
                format!("{o}/{TENANT}/v2.0"),
                format!("/{TENANT}/discovery/v2.0/keys"),
            )
        }
        Vendor::EntraMultiTenant => {
            let template = format!("{o}/{{tenantid}}/v2.0");
            entra_key(object, certificate, Some(template.clone()));
            (
                vec![
                    "/organizations/v2.0/.well-known/openid-configuration".into(),
                    "/common/v2.0/.well-known/openid-configuration".into(),
                ],
                template,
                "/common/discovery/v2.0/keys".into(),
            )
        }
        Vendor::Okta => (
            vec![
                "/oauth2/default/.well-known/oauth-authorization-server".into(),
                "/oauth2/default/.well-known/openid-configuration".into(),
            ],
            format!("{o}/oauth2/default"),
            "/oauth2/default/v1/keys".into(),
        ),
        Vendor::Keycloak => {
            // The realm also publishes its encryption key; it must be skipped, not fatal.
            let enc = SigningKey::generate(Algorithm::RS256, "enc-key");
            let mut enc_jwk = enc.public_jwk().clone();
            let enc_object = enc_jwk.as_object_mut().expect("jwk object");
            enc_object.insert("alg".into(), "RSA-OAEP".into());
            enc_object.insert("use".into(), "enc".into());
            extra.push(enc_jwk);
            (
                vec!["/realms/mcp/.well-known/openid-configuration".into()],
                format!("{o}/realms/mcp"),
                "/realms/mcp/protocol/openid-connect/certs".into(),
            )
        }
        Vendor::Cognito => (
            vec!["/us-east-1_Example/.well-known/openid-configuration".into()],
            format!("{o}/us-east-1_Example"),
            "/us-east-1_Example/.well-known/jwks.json".into(),
        ),
    };
    let mut keys = vec![jwk];
    keys.extend(extra);
    let metadata = json!({
        "issuer": issuer,
        "jwks_uri": format!("{o}{jwks_path}"),
        "authorization_endpoint": format!("{o}/authorize"),
        "token_endpoint": format!("{o}/token"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    });
    let mut documents: HashMap<String, Value> = metadata_paths
        .into_iter()
        .map(|path| (path, metadata.clone()))
        .collect();
    documents.insert(jwks_path.clone(), json!({ "keys": keys }));
    (documents, jwks_path)
}

/// Entra's key shape: no `alg`, `x5t` equal to the `kid`, an `x5c` chain, and in the shared
/// JWKS the issuer the key signs for.
fn entra_key(
    object: &mut serde_json::Map<String, Value>,
    certificate: Option<String>,
    issuer: Option<String>,
) {
    object.remove("alg");
    let kid = object.get("kid").cloned().unwrap_or(Value::Null);
    object.insert("x5t".into(), kid);
    object.insert("x5c".into(), json!([certificate]));
    if let Some(issuer) = issuer {
        object.insert("issuer".into(), issuer.into());
    }
}

async fn route(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let path = uri.path();
    let Some(document) = shared.documents.get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if path == shared.jwks_path {
        shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.to_string(),
    )
        .into_response()
}
