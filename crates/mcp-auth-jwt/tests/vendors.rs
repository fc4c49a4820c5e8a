//! Each identity provider's profile against a fixture that serves that vendor's documented
//! discovery document, JWKS and token shapes (see `mcp_auth_testing::vendors` for the sources):
//! the profile accepts its vendor's access token, and refuses it for another audience, with a
//! broken signature, from another client or tenant, and the vendor's ID token.

use std::time::Duration;

use mcp_auth_core::{AuthError, Principal, ResourceId};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_jwt::{IssuerConfig, Profile, Tenants, Verifier};
use mcp_auth_testing::TokenBuilder;
use mcp_auth_testing::vendors::{
    API_APP_ID, CLIENT_ID, COGNITO_RESOURCE_SERVER, OTHER_TENANT, TENANT, Vendor, VendorIssuer,
};
use serde_json::json;

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn verifier(config: IssuerConfig) -> Verifier {
    Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
        .issuer(config)
        .fetch_policy(
            FetchPolicy::default()
                .allow_loopback(true)
                .timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap()
}

/// The configuration the README gives for each vendor, pointed at the fixture.
fn configured(idp: &VendorIssuer) -> IssuerConfig {
    match idp.vendor() {
        Vendor::Auth0 => IssuerConfig::discover(&idp.issuer()).profile(Profile::Auth0),
        Vendor::Auth0Rfc9068 => IssuerConfig::discover(&idp.issuer()),
        Vendor::EntraV1 => IssuerConfig::discover(&idp.issuer())
            .metadata_from(idp.metadata_from().unwrap())
            .profile(Profile::EntraV1)
            .audience(format!("api://{API_APP_ID}")),
        Vendor::Entra => IssuerConfig::discover(&idp.issuer())
            .profile(Profile::Entra)
            .audience(API_APP_ID),
        Vendor::EntraMultiTenant => {
            IssuerConfig::multi_tenant(&idp.configured_issuer(), Tenants::only([TENANT]))
                .profile(Profile::Entra)
                .audience(API_APP_ID)
        }
        Vendor::Okta => IssuerConfig::discover(&idp.issuer())
            .profile(Profile::Okta)
            .audience("api://default"),
        Vendor::Keycloak => IssuerConfig::discover(&idp.issuer()).profile(Profile::Keycloak),
        Vendor::Cognito => IssuerConfig::discover(&idp.issuer())
            .profile(Profile::Cognito)
            .client_ids([CLIENT_ID])
            .scope_prefix(COGNITO_RESOURCE_SERVER),
        other => panic!("no configuration for {other:?}"),
    }
}

/// A token granting `tools:read` where and how the vendor spells scopes.
fn with_tools_read(idp: &VendorIssuer, token: TokenBuilder) -> TokenBuilder {
    match idp.vendor() {
        Vendor::Okta => token.claim("scp", json!(["tools:read"])),
        Vendor::EntraV1 | Vendor::Entra | Vendor::EntraMultiTenant => {
            token.claim("scp", "tools:read")
        }
        Vendor::Cognito => token.claim(
            "scope",
            format!("openid {COGNITO_RESOURCE_SERVER}/tools:read"),
        ),
        _ => token.claim("scope", "openid tools:read"),
    }
}

async fn refused(v: &Verifier, token: &str) -> AuthError {
    match v.verify(token).await {
        Ok(p) => panic!("accepted: {p:?}"),
        Err(e) => e,
    }
}

async fn accepted(v: &Verifier, token: &str) -> Principal {
    match v.verify(token).await {
        Ok(p) => p,
        Err(e) => panic!("refused: {} ({})", e.description(), e.reason()),
    }
}

#[tokio::test]
async fn every_profile_accepts_its_vendors_token_and_maps_it() {
    for vendor in Vendor::ALL {
        let idp = VendorIssuer::start(vendor, RESOURCE).await;
        let v = verifier(configured(&idp));
        let token = with_tools_read(&idp, idp.access_token()).sign();
        let p = accepted(&v, &token).await;
        assert_eq!(p.issuer(), idp.issuer(), "{vendor:?}");
        assert!(p.scopes().contains("tools:read"), "{vendor:?}: {p:?}");
        let client = match vendor {
            Vendor::Keycloak => "mcp-client",
            _ => CLIENT_ID,
        };
        assert_eq!(p.client_id(), Some(client), "{vendor:?}");
        let audience = idp.vendor_audience().or(match vendor {
            Vendor::Cognito => None,
            _ => Some(RESOURCE.to_owned()),
        });
        assert_eq!(p.audience(), audience.as_deref(), "{vendor:?}");
        let roles: &[&str] = match vendor {
            Vendor::Keycloak => &["default-roles-mcp", "offline_access"],
            Vendor::Cognito => &["admin"],
            _ => &[],
        };
        assert_eq!(p.roles(), roles, "{vendor:?}");
    }
}

#[tokio::test]
async fn every_profile_refuses_another_audience_and_a_broken_signature() {
    for vendor in Vendor::ALL {
        let idp = VendorIssuer::start(vendor, RESOURCE).await;
        let v = verifier(configured(&idp));
        let other = idp
            .access_token()
            .claim("aud", "https://other-api.example.com/")
            .sign();
        let e = refused(&v, &other).await;
        assert_eq!(
            e.reason(),
            "wrong_audience",
            "{vendor:?}: {}",
            e.description()
        );

        let good = idp.access_token().sign();
        let (rest, signature) = good.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let broken = format!("{rest}.{flipped}{}", &signature[1..]);
        let e = refused(&v, &broken).await;
        assert_eq!(
            e.reason(),
            "bad_signature",
            "{vendor:?}: {}",
            e.description()
        );
    }
}

#[tokio::test]
async fn id_tokens_are_not_access_tokens_for_any_profile() {
    for vendor in Vendor::ALL {
        let idp = VendorIssuer::start(vendor, RESOURCE).await;
        let v = verifier(configured(&idp));
        let e = refused(&v, &idp.id_token().sign()).await;
        // Each vendor's ID token fails on what tells it apart there: its audience (the
        // client), its kind (`typ: ID`, `token_use: id`) or the missing client claim.
        assert!(
            matches!(
                e.reason(),
                "wrong_audience" | "wrong_token_kind" | "missing_claim" | "wrong_typ"
            ),
            "{vendor:?}: {} ({})",
            e.description(),
            e.reason()
        );
    }
}

#[tokio::test]
async fn keycloak_without_an_audience_mapper_is_explained() {
    let idp = VendorIssuer::start(Vendor::Keycloak, RESOURCE).await;
    let v = verifier(configured(&idp));
    let e = refused(&v, &idp.access_token().claim("aud", "account").sign()).await;
    assert_eq!(e.reason(), "wrong_audience");
    assert!(e.description().contains("`account`"), "{}", e.description());
    // The ID token, though addressed to the client, is refused for its kind too.
    let id = idp.id_token().claim("aud", json!([RESOURCE])).sign();
    let e = refused(&v, &id).await;
    assert_eq!(e.reason(), "wrong_token_kind", "{}", e.description());
    assert!(
        e.description().contains("`typ` is `ID`"),
        "{}",
        e.description()
    );
}

#[tokio::test]
async fn auth0_default_profile_under_the_strict_profile_is_refused_for_its_typ() {
    let idp = VendorIssuer::start(Vendor::Auth0, RESOURCE).await;
    let strict = verifier(IssuerConfig::discover(&idp.issuer()));
    let e = refused(&strict, &idp.access_token().sign()).await;
    assert_eq!(e.reason(), "wrong_typ", "{}", e.description());
    let lenient = verifier(IssuerConfig::auth0(&idp.origin().replace("http://", "")));
    // The vendor constructor names the https issuer; the fixture is http, so only the
    // profile is compared here.
    assert_eq!(
        lenient.issuers().next().unwrap(),
        format!("https://{}/", idp.origin().trim_start_matches("http://"))
    );
}

#[tokio::test]
async fn entra_multi_tenant_admits_listed_tenants_only() {
    let idp = VendorIssuer::start(Vendor::EntraMultiTenant, RESOURCE).await;
    let v = verifier(configured(&idp));
    let p = accepted(&v, &idp.access_token_for(TENANT).sign()).await;
    assert_eq!(p.claim("tid"), Some(&json!(TENANT)));

    let e = refused(&v, &idp.access_token_for(OTHER_TENANT).sign()).await;
    assert_eq!(e.reason(), "tenant_not_allowed", "{}", e.description());

    // `iss` names an admitted tenant but `tid` another: the token is not that tenant's.
    let mixed = idp
        .access_token_for(TENANT)
        .claim("tid", OTHER_TENANT)
        .sign();
    let e = refused(&v, &mixed).await;
    assert!(
        matches!(e.reason(), "wrong_tenant" | "key_issuer_mismatch"),
        "{}",
        e.description()
    );

    // The literal template as `iss` names no tenant: not this issuer's token.
    let literal = idp
        .access_token_for(TENANT)
        .claim("iss", format!("{}/{{tenantid}}/v2.0", idp.origin()))
        .sign();
    let e = refused(&v, &literal).await;
    assert_eq!(e.reason(), "untrusted_issuer", "{}", e.description());

    // Any tenant, set explicitly.
    let any = verifier(
        IssuerConfig::multi_tenant(&idp.configured_issuer(), Tenants::Any)
            .profile(Profile::Entra)
            .audience(API_APP_ID),
    );
    accepted(&any, &idp.access_token_for(OTHER_TENANT).sign()).await;
}

#[tokio::test]
async fn entra_keys_sign_only_for_the_issuer_they_name() {
    let idp = VendorIssuer::start(Vendor::EntraMultiTenant, RESOURCE).await;
    // A second, single-tenant configuration that trusts the same shared keys under another
    // issuer name: the key's `issuer` member does not cover it.
    let issuer = format!("{}/tenant-b/v2.0", idp.origin());
    let v = verifier(
        IssuerConfig::jwks_uri(
            &issuer,
            &format!("{}/common/discovery/v2.0/keys", idp.origin()),
        )
        .profile(Profile::Entra)
        .audience(API_APP_ID),
    );
    let token = idp
        .access_token()
        .claim("iss", issuer.as_str())
        .claim("tid", "other")
        .sign();
    let e = refused(&v, &token).await;
    assert_eq!(e.reason(), "key_issuer_mismatch", "{}", e.description());
}

#[tokio::test]
async fn entra_v1_token_against_a_v2_configuration_is_refused_by_issuer() {
    let v1 = VendorIssuer::start(Vendor::EntraV1, RESOURCE).await;
    let v2 = VendorIssuer::start(Vendor::Entra, RESOURCE).await;
    let v = verifier(configured(&v2));
    let e = refused(&v, &v1.access_token().sign()).await;
    assert_eq!(e.reason(), "untrusted_issuer", "{}", e.description());
    // Same issuer, v1 shape (the API's manifest still issues v1 tokens): the `ver` check.
    let v1_shaped = v2.access_token().claim("ver", "1.0").sign();
    let e = refused(&v, &v1_shaped).await;
    assert_eq!(e.reason(), "wrong_token_kind", "{}", e.description());
    assert!(
        e.description().contains("`ver` is `1.0`"),
        "{}",
        e.description()
    );
}

#[tokio::test]
async fn cognito_is_bound_to_its_clients_since_it_has_no_audience() {
    let idp = VendorIssuer::start(Vendor::Cognito, RESOURCE).await;
    let v = verifier(configured(&idp));
    let other = idp
        .access_token()
        .claim("client_id", "some-other-app")
        .sign();
    let e = refused(&v, &other).await;
    assert_eq!(e.reason(), "client_not_allowed", "{}", e.description());

    // Without the allow list the configuration does not build.
    let err = Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
        .issuer(IssuerConfig::discover(&idp.issuer()).profile(Profile::Cognito))
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("client ids"), "{err}");

    // Any other profile still requires `aud`.
    let strict = verifier(
        IssuerConfig::discover(&idp.issuer())
            .profile(Profile::Okta)
            .client_ids([CLIENT_ID]),
    );
    let e = refused(&strict, &idp.access_token().claim("cid", CLIENT_ID).sign()).await;
    assert_eq!(e.description(), "token has no `aud` claim");
}

#[tokio::test]
async fn okta_needs_its_audience_configured() {
    let idp = VendorIssuer::start(Vendor::Okta, RESOURCE).await;
    let without = verifier(IssuerConfig::discover(&idp.issuer()).profile(Profile::Okta));
    let e = refused(&without, &idp.access_token().sign()).await;
    assert_eq!(e.reason(), "wrong_audience");
    assert!(
        e.description().contains("`api://default`"),
        "{}",
        e.description()
    );
    // A token with no `typ` at all is refused by the strict default profile.
    let strict = verifier(IssuerConfig::discover(&idp.issuer()).audience("api://default"));
    let e = refused(&strict, &idp.access_token().sign()).await;
    assert_eq!(e.reason(), "wrong_typ");
}

#[tokio::test]
async fn each_vendors_client_credentials_tokens_act_for_the_client_itself() {
    for vendor in Vendor::ALL {
        let idp = VendorIssuer::start(vendor, RESOURCE).await;
        let v = verifier(configured(&idp));
        let user = with_tools_read(&idp, idp.access_token()).sign();
        assert!(
            !accepted(&v, &user).await.acts_for_itself(),
            "{vendor:?}: a user's token"
        );
        // The vendor's own shape of a client-credentials token (as its documentation shows).
        let machine = match vendor {
            Vendor::Auth0 | Vendor::Auth0Rfc9068 => idp
                .access_token()
                .claim("sub", format!("{CLIENT_ID}@clients"))
                .claim("gty", "client-credentials"),
            Vendor::Entra | Vendor::EntraMultiTenant | Vendor::EntraV1 => idp
                .access_token()
                .claim("idtyp", "app")
                .claim("roles", json!(["Notes.Read.All"])),
            Vendor::Keycloak => idp
                .access_token()
                .claim("preferred_username", "service-account-mcp-client"),
            Vendor::Okta | Vendor::Cognito => idp.access_token().claim("sub", CLIENT_ID),
            other => panic!("no machine token for {other:?}"),
        };
        let machine = with_tools_read(&idp, machine).sign();
        assert!(
            accepted(&v, &machine).await.acts_for_itself(),
            "{vendor:?}: a client-credentials token"
        );
    }
}
