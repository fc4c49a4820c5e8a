//! DPoP through the whole stack: the RFC 9728 document names the proof algorithms (and says when
//! DPoP is required), a DPoP presentation passes every layer, and the audit event records the
//! key the token is bound to.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth::audit::{Auditor, EventKind, MemorySink};
use mcp_auth::{DpopPolicy, IssuerConfig, McpAuth};
use mcp_auth_testing::{Algorithm, MockIssuer, SigningKey};
use serde_json::json;
use tower::{Layer, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";

#[tokio::test]
async fn the_metadata_names_the_proof_algorithms_and_whether_dpop_is_required() {
    let issuer = MockIssuer::start().await;
    let allowed = McpAuth::builder(RESOURCE)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    let doc = serde_json::to_value(allowed.metadata()).unwrap();
    assert_eq!(
        doc["dpop_signing_alg_values_supported"],
        json!(["ES256", "ES384", "EdDSA", "PS256", "RS256"])
    );
    assert!(doc.get("dpop_bound_access_tokens_required").is_none());

    let required = McpAuth::builder(RESOURCE)
        .issuer(
            IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()).dpop(DpopPolicy::Required),
        )
        .build()
        .unwrap();
    let doc = serde_json::to_value(required.metadata()).unwrap();
    assert_eq!(doc["dpop_bound_access_tokens_required"], true);
}

#[tokio::test]
async fn a_dpop_presentation_passes_the_stack_and_the_audit_records_the_binding() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let client = SigningKey::generate(Algorithm::ES256, "client");
    let sink = MemorySink::new();
    let auditor = Auditor::builder().sink(sink.clone()).start();
    let auth = McpAuth::builder(RESOURCE)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .audit(auditor.clone())
        .build()
        .unwrap();
    let jkt = client.thumbprint().unwrap();
    let token = issuer.token().claim("cnf", json!({"jkt": jkt})).sign();
    let send = |authorization: String, proof: Option<String>| {
        let mut request = Request::post(RESOURCE)
            .header("authorization", authorization)
            .header("content-type", "application/json");
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        let request = request
            .body(Full::new(Bytes::from(
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}"#,
            )))
            .unwrap();
        let inner = tower::service_fn(|_req: Request<_>| async move {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
        });
        auth.layer(inner).oneshot(request)
    };
    let proof = client.dpop_proof("POST", RESOURCE, &token).sign();
    // The audit event is written once the response body has been sent.
    let ok = send(format!("DPoP {token}"), Some(proof)).await.unwrap();
    assert_eq!(ok.status(), 200);
    ok.into_body().collect().await.unwrap();
    let bearer = send(format!("Bearer {token}"), None).await.unwrap();
    assert_eq!(bearer.status(), 401);
    bearer.into_body().collect().await.unwrap();
    tokio::task::spawn_blocking(move || auditor.shutdown())
        .await
        .unwrap();

    let events: Vec<_> = sink
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Request)
        .collect();
    assert_eq!(events.len(), 2);
    let bound = events[0].principal.as_ref().expect("the caller");
    assert_eq!(
        bound.key_binding.as_deref(),
        Some(format!("dpop:{jkt}").as_str())
    );
    let refused = events[1].decision.as_ref().and_then(|d| d.reason);
    assert_eq!(refused, Some("dpop_bound_as_bearer"));
}

#[tokio::test]
async fn the_toml_sets_an_issuers_dpop_policy() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let toml = format!(
        "resource = \"{RESOURCE}\"\n[[issuers]]\nissuer = \"{}\"\njwks_uri = \"{}\"\ndpop = \"required\"\n[fetch]\nallow_loopback = true\n",
        issuer.issuer(),
        issuer.jwks_uri()
    );
    let auth = McpAuth::from_toml(&toml).unwrap().build().unwrap();
    let doc = serde_json::to_value(auth.metadata()).unwrap();
    assert_eq!(doc["dpop_bound_access_tokens_required"], true);
}
