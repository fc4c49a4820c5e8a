//! `mcp-auth doctor` against fixtures that reproduce each identity provider's documented
//! shapes, and against a running server protected by mcp-auth.

use std::path::{Path, PathBuf};

use mcp_auth_testing::vendors::{API_APP_ID, Vendor, VendorIssuer};
use serde_json::Value;

mod common;
use common::{Run, mcp_auth};

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mcp-auth-doctor-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn doctor(args: &[&str]) -> Run {
    let args: Vec<&str> = std::iter::once("doctor")
        .chain(args.iter().copied())
        .collect();
    mcp_auth(&args, &std::env::temp_dir()).await
}

fn token_file(dir: &Path, token: &str) -> String {
    let path = dir.join("token.txt");
    std::fs::write(&path, format!("Bearer {token}\n")).unwrap();
    path.display().to_string()
}

/// Runs the doctor on `token` for `idp` with extra flags, and checks the token never shows.
async fn explain(idp: &VendorIssuer, token: &str, flags: &[&str]) -> Run {
    let dir = temp_dir("token");
    let file = token_file(&dir, token);
    let issuer = idp.configured_issuer();
    let mut args = vec![
        "--issuer",
        issuer.as_str(),
        "--resource",
        RESOURCE,
        "--token-file",
        file.as_str(),
        "--allow-loopback",
    ];
    args.extend_from_slice(flags);
    let run = doctor(&args).await;
    let signature = token.rsplit('.').next().unwrap();
    for output in [&run.stdout, &run.stderr] {
        assert!(!output.contains(token), "the token was printed");
        assert!(!output.contains(signature), "the signature was printed");
    }
    run
}

#[tokio::test]
async fn okta_token_without_the_profile_is_explained_in_okta_terms() {
    let okta = VendorIssuer::start(Vendor::Okta, RESOURCE).await;
    let token = okta.access_token().sign();

    // The strict default: the missing `typ` is the first failing step.
    let run = explain(&okta, &token, &[]).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("✓ discovery"), "{}", run.stdout);
    assert!(run.stdout.contains("✓ keys"), "{}", run.stdout);
    assert!(run.stdout.contains("✗ typ"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("Okta access tokens have no `typ` header: use --idp okta"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("· audience"), "{}", run.stdout);
    // Claims are shown (not the token): the issuer and the client.
    assert!(run.stdout.contains(&okta.issuer()), "{}", run.stdout);
    assert!(run.stdout.contains("looks like     okta"), "{}", run.stdout);

    // With the profile, the audience is next.
    let run = explain(&okta, &token, &["--idp", "okta"]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("✓ typ"), "{}", run.stdout);
    assert!(run.stdout.contains("✗ audience"), "{}", run.stdout);
    assert!(
        run.stdout.contains("add --audience api://default"),
        "{}",
        run.stdout
    );

    // With both, every step passes.
    let run = explain(
        &okta,
        &token,
        &["--idp", "okta", "--audience", "api://default"],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains('✗'), "{}", run.stdout);
    assert!(run.stdout.contains("✓ client"), "{}", run.stdout);
}

#[tokio::test]
async fn classic_misconfigurations_get_their_fix() {
    // Entra: a v1 token (`ver` 1.0) against a v2 configuration.
    let entra = VendorIssuer::start(Vendor::Entra, RESOURCE).await;
    let v1 = entra.access_token().claim("ver", "1.0").sign();
    let run = explain(&entra, &v1, &["--idp", "entra", "--audience", API_APP_ID]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("✗ token kind"), "{}", run.stdout);
    assert!(
        run.stdout.contains("accessTokenAcceptedVersion"),
        "{}",
        run.stdout
    );

    // Keycloak without an audience mapper.
    let keycloak = VendorIssuer::start(Vendor::Keycloak, RESOURCE).await;
    let token = keycloak.access_token().claim("aud", "account").sign();
    let run = explain(&keycloak, &token, &["--idp", "keycloak"]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("✗ audience"), "{}", run.stdout);
    assert!(run.stdout.contains("audience mapper"), "{}", run.stdout);

    // Auth0's default profile under the strict profile.
    let auth0 = VendorIssuer::start(Vendor::Auth0, RESOURCE).await;
    let run = explain(&auth0, &auth0.access_token().sign(), &[]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("Auth0's default token profile"),
        "{}",
        run.stdout
    );

    // Cognito without its client list: the configuration itself fails, naming the fix.
    let cognito = VendorIssuer::start(Vendor::Cognito, RESOURCE).await;
    let run = explain(
        &cognito,
        &cognito.access_token().sign(),
        &["--idp", "cognito"],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("✗ configuration"), "{}", run.stdout);
    assert!(run.stdout.contains("--client-id"), "{}", run.stdout);
}

#[tokio::test]
async fn json_output_and_unreachable_issuers() {
    let okta = VendorIssuer::start(Vendor::Okta, RESOURCE).await;
    let token = okta.access_token().sign();
    let run = explain(&okta, &token, &["--idp", "okta", "--json"]).await;
    assert_eq!(run.code, 1);
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(report["result"], "failed");
    let audience = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "audience")
        .unwrap();
    assert_eq!(audience["status"], "fail");
    assert!(audience["fix"].as_str().unwrap().contains("api://default"));
    assert_eq!(
        report["token"]["claims"]["cid"],
        okta.vendor_audience().map_or(Value::Null, |_| Value::from(
            mcp_auth_testing::vendors::CLIENT_ID
        ))
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    // An issuer nobody answers for: exit 3.
    let origin = okta.origin().to_owned();
    drop(okta);
    let issuer = format!("{origin}/oauth2/default");
    let run = doctor(&[
        "--issuer",
        &issuer,
        "--resource",
        RESOURCE,
        "--allow-loopback",
    ])
    .await;
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("? discovery"), "{}", run.stdout);

    // Usage: neither --issuer nor --config.
    let run = doctor(&["--resource", RESOURCE]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--issuer"), "{}", run.stderr);
}

#[tokio::test]
async fn a_loopback_issuer_without_the_switch_is_refused_with_the_flag_named() {
    let okta = VendorIssuer::start(Vendor::Okta, RESOURCE).await;
    let run = doctor(&[
        "--issuer",
        &okta.issuer(),
        "--resource",
        RESOURCE,
        "--idp",
        "okta",
    ])
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("✗ configuration"), "{}", run.stdout);
    assert!(run.stdout.contains("allow_loopback"), "{}", run.stdout);
}

/// A server protected by mcp-auth on 127.0.0.1, trusting `idp`; returns its MCP URL.
async fn protected_server(idp: &VendorIssuer, protect: bool) -> String {
    use axum::Router;
    use axum::routing::post;
    use mcp_auth::{FetchPolicy, IssuerConfig, McpAuth};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let routes = Router::new().route("/mcp", post(|| async { "{}" }));
    let app = if protect {
        McpAuth::builder(&url)
            .issuer(IssuerConfig::discover(&idp.issuer()))
            .fetch_policy(FetchPolicy::default().allow_loopback(true))
            .challenge_scope("mcp:read")
            .build()
            .unwrap()
            .protect(routes)
    } else {
        routes
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn server_probe_follows_the_challenge_to_the_authorization_server() {
    let idp = VendorIssuer::start(Vendor::Auth0Rfc9068, RESOURCE).await;
    let url = protected_server(&idp, true).await;
    let issuer = idp.issuer();
    let run = doctor(&[
        "--issuer",
        &issuer,
        "--resource",
        &url,
        "--server",
        &url,
        "--allow-loopback",
    ])
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for line in [
        "✓ challenge",
        "✓ challenge CORS",
        "✓ metadata",
        "✓ resource",
        "✓ authorization",
        "✓ scopes",
        "✓ metadata CORS",
        "✓ PKCE",
        // The fixture, like Auth0, offers neither CIMD nor registration in its metadata.
        "! client identity",
    ] {
        assert!(run.stdout.contains(line), "{line}\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains(&format!("Authorization server {issuer}")),
        "{}",
        run.stdout
    );

    // The same route without mcp-auth in front: no challenge, nothing to follow.
    let open = protected_server(&idp, false).await;
    let run = doctor(&[
        "--issuer",
        &issuer,
        "--resource",
        &open,
        "--server",
        &open,
        "--allow-loopback",
    ])
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("✗ challenge"), "{}", run.stdout);
    assert!(
        run.stdout.contains("without a token got 200"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("✗ metadata"), "{}", run.stdout);
}

#[tokio::test]
async fn an_opaque_token_without_introspection_is_named_as_such() {
    let okta = VendorIssuer::start(Vendor::Okta, RESOURCE).await;
    let run = explain(&okta, "0a1b2c3d4e5f6a7b8c9d", &["--idp", "okta"]).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("✗ format"), "{}", run.stdout);
    assert!(run.stdout.contains("opaque"), "{}", run.stdout);
}

#[tokio::test]
async fn a_server_configuration_file_is_checked_as_the_server_would_run_it() {
    let entra = VendorIssuer::start(Vendor::EntraMultiTenant, RESOURCE).await;
    let dir = temp_dir("config");
    let config = dir.join("mcp-auth.toml");
    // Sections the doctor does not need (scopes, audit) are ignored, not refused.
    std::fs::write(
        &config,
        format!(
            "resource = \"{RESOURCE}\"\n[[issuers]]\nissuer = \"{}\"\nprofile = \"entra\"\ntenants = [\"{}\"]\naudiences = [\"{API_APP_ID}\"]\n[fetch]\nallow_loopback = true\n[scopes]\nrequired = [\"mcp:read\"]\n",
            entra.configured_issuer(),
            mcp_auth_testing::vendors::TENANT,
        ),
    )
    .unwrap();
    let token = entra.access_token().sign();
    let file = token_file(&dir, &token);
    let config = config.display().to_string();
    let run = doctor(&["--config", &config, "--token-file", &file]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("profile        entra"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("✓ audience"), "{}", run.stdout);

    let other = entra
        .access_token_for(mcp_auth_testing::vendors::OTHER_TENANT)
        .sign();
    let file = token_file(&dir, &other);
    let run = doctor(&["--config", &config, "--token-file", &file]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("✗ issuer"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "--tenant {}",
            mcp_auth_testing::vendors::OTHER_TENANT
        )),
        "{}",
        run.stdout
    );
}
