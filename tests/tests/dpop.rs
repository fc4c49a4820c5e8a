//! DPoP (RFC 9449) end to end: oidc-provider binds an access token to a client's key when the
//! token request carries a proof, and a client built on `jose` (not on mcp-auth) presents it to
//! the example server with proofs, right and wrong.

use mcp_auth_e2e::{Provider, client_credentials_client, dpop_client};
use serde_json::json;

const CLIENT: (&str, &str) = ("svc", "svc-secret");

#[tokio::test]
async fn dpop_bound_tokens_need_their_proofs_and_every_wrong_proof_is_refused() {
    let provider = Provider::start(json!({
        "scopes": ["mcp:read"],
        "clients": [client_credentials_client(CLIENT, "mcp:read")],
    }))
    .await;
    let server = protected_server::start(protected_server::Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(provider.issuer.clone()),
        ..Default::default()
    })
    .await
    .expect("server starts");

    let report = dpop_client(&provider.issuer, CLIENT, &server.mcp_url).await;
    assert_eq!(report["token_type"], "DPoP", "{report}");
    assert!(
        report["cnf"]["jkt"].is_string(),
        "oidc-provider bound the token: {report}"
    );
    let cases = report["cases"].as_object().unwrap();
    for (case, outcome) in cases {
        let want = match case.as_str() {
            "valid" | "fresh_after_replay" => 200,
            _ => 401,
        };
        assert_eq!(outcome["status"], want, "{case}: {outcome}");
    }
    assert_eq!(cases.len(), 15, "every case ran: {report}");
    // The bound token as a bearer token: refused, and the challenge offers DPoP.
    let challenge = cases["as_bearer"]["challenge"].as_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(challenge.contains("DPoP algs=\""), "{challenge}");
    // A replayed proof: the error is the DPoP challenge's.
    let challenge = cases["replayed"]["challenge"].as_str().unwrap();
    assert!(
        challenge.contains("error=\"invalid_dpop_proof\"") && challenge.contains("used before"),
        "{challenge}"
    );
}
