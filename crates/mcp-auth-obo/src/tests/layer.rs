//! OboLayer: the handle in the extensions, audit summaries, and the status of propagated
//! failures.

use mcp_auth_testing::StrictReadiness;
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use mcp_auth_core::record::RequestRecord;
use mcp_auth_core::{AuthBody, AuthError, Principal, ResourceId};
use mcp_auth_fetch::FetchPolicy;
use serde_json::Value;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

use super::mock::{Clock, MockAs, Reply, caller};
use crate::{ClientAuth, ExchangeRequest, Obo, OboLayer, OnBehalfOf, TokenExchangeClient};

const HOUR: Duration = Duration::from_secs(3600);
const RESOURCE: &str = "https://mcp.example.com/mcp";
const METADATA: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

fn api() -> ExchangeRequest {
    ExchangeRequest::audience("https://api.example").scope("api:read")
}

/// A handler that exchanges with `get_token_or_deny` and answers 200 with the token's
/// fingerprint, or 200 "handled" when it failed (the layer is expected to replace that).
async fn handler(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(obo) = OnBehalfOf::from_extensions(req.extensions()) else {
        return Ok(Response::new(Full::from("no handle")));
    };
    Ok(match obo.get_token_or_deny(api()).await {
        Ok(token) => Response::new(Full::from(token.expose_secret().to_owned())),
        Err(_) => Response::new(Full::from("handled")),
    })
}

type Svc = Obo<tower::util::ServiceFn<fn(Request<Full<Bytes>>) -> HandlerFuture>>;
type HandlerFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

fn service(client: TokenExchangeClient) -> Svc {
    fn boxed(req: Request<Full<Bytes>>) -> HandlerFuture {
        Box::pin(handler(req))
    }
    let resource = ResourceId::parse(RESOURCE).unwrap();
    ServiceBuilder::new()
        .layer(OboLayer::new(client, &resource))
        .service(service_fn(boxed as fn(_) -> _))
}

fn request(principal: Option<Principal>) -> Request<Full<Bytes>> {
    let mut req = Request::post("/mcp").body(Full::default()).unwrap();
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    req
}

async fn body(response: Response<AuthBody<Full<Bytes>>>) -> String {
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_successful_exchange_reaches_the_handler() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let response = service(mock.client(&clock))
        .oneshot(request(Some(caller("alice", &clock, HOUR))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, "exchanged-1");
}

#[tokio::test]
async fn invalid_grant_becomes_401_invalid_token() {
    let mock = MockAs::start().await;
    mock.always(Reply::oauth_error(
        400,
        "invalid_grant",
        "subject token revoked",
    ));
    let clock = Clock::new();
    let response = service(mock.client(&clock))
        .oneshot(request(Some(caller("alice", &clock, HOUR))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(r#"resource_metadata="{METADATA}""#)),
        "{challenge}"
    );
    assert_eq!(
        response.extensions().get::<AuthError>().unwrap().reason(),
        "exchange_invalid_grant"
    );
    let json: Value = serde_json::from_str(&body(response).await).unwrap();
    assert_eq!(json["error"], "invalid_token");
    assert!(
        !json.to_string().contains("revoked"),
        "the AS's words stay out: {json}"
    );
}

#[tokio::test]
async fn invalid_target_and_invalid_scope_become_403() {
    for code in ["invalid_target", "invalid_scope"] {
        let mock = MockAs::start().await;
        mock.always(Reply::oauth_error(400, code, "no"));
        let clock = Clock::new();
        let response = service(mock.client(&clock))
            .oneshot(request(Some(caller("alice", &clock, HOUR))))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{code}");
        assert!(
            response.headers().get("www-authenticate").is_none(),
            "{code}: no step-up helps"
        );
        let json: Value = serde_json::from_str(&body(response).await).unwrap();
        assert_eq!(json["error"], "access_denied");
    }
}

#[tokio::test]
async fn an_unreachable_authorization_server_becomes_503() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = format!("http://{}/token", listener.local_addr().unwrap());
    drop(listener);
    let client = TokenExchangeClient::builder(ClientAuth::client_secret_basic("c", "s"))
        .token_endpoint(closed)
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .backoff(Duration::from_secs(3), Duration::from_secs(30))
        .build()
        .unwrap();
    let clock = Clock::new();
    let response = service(client)
        .oneshot(request(Some(caller("alice", &clock, HOUR))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "3");
    assert!(response.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn a_failure_the_handler_handles_keeps_its_response() {
    let mock = MockAs::start().await;
    mock.always(Reply::oauth_error(400, "invalid_target", "no"));
    let clock = Clock::new();
    let resource = ResourceId::parse(RESOURCE).unwrap();
    let svc = ServiceBuilder::new()
        .layer(OboLayer::new(mock.client(&clock), &resource))
        .service_fn(|req: Request<Full<Bytes>>| async move {
            let obo = OnBehalfOf::from_extensions(req.extensions()).unwrap();
            let fallback = match obo.get_token_on_behalf_of(api()).await {
                Ok(_) => "token",
                Err(_) => "fell back to public data",
            };
            Ok::<_, Infallible>(Response::new(Full::from(fallback)))
        });
    let response = svc
        .oneshot(request(Some(caller("alice", &clock, HOUR))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, "fell back to public data");
}

#[tokio::test]
async fn a_request_without_a_principal_gets_no_handle() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    // A handle smuggled in from outside is removed too.
    let mut req = request(None);
    req.extensions_mut().insert(OnBehalfOf::new(
        mock.client(&clock),
        caller("forged", &clock, HOUR),
        None,
    ));
    let response = service(mock.client(&clock)).oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, "no handle");
    assert_eq!(mock.exchanges(), 0);
}

#[tokio::test]
async fn exchanges_are_recorded_for_the_audit_layer() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let resource = ResourceId::parse(RESOURCE).unwrap();
    let svc = ServiceBuilder::new()
        .layer(OboLayer::new(mock.client(&clock), &resource))
        .service_fn(|req: Request<Full<Bytes>>| async move {
            let obo = OnBehalfOf::from_extensions(req.extensions()).unwrap();
            obo.get_token_on_behalf_of(api()).await.unwrap();
            obo.get_token_on_behalf_of(api()).await.unwrap();
            let refused = ExchangeRequest::audience("https://refused.example").scope("x y");
            let _ = obo.get_token_on_behalf_of(refused).await;
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        });
    mock.script(|received, n| {
        if received.form.get("audience").map(String::as_str) == Some("https://refused.example") {
            Reply::oauth_error(400, "invalid_target", "unknown")
        } else {
            super::mock::grant_all(received, n)
        }
    });
    let record = RequestRecord::default();
    let mut req = request(Some(caller("alice", &clock, HOUR)));
    req.extensions_mut().insert(record.clone());
    svc.oneshot(req).await.unwrap();
    let exchanges = record.snapshot().exchanges;
    assert_eq!(exchanges.len(), 3);
    let (first, second, third) = (&exchanges[0], &exchanges[1], &exchanges[2]);
    assert_eq!(first.target, "https://api.example");
    assert_eq!(first.requested.to_string(), "api:read");
    assert_eq!(first.granted.as_ref().unwrap().to_string(), "api:read");
    assert!(!first.cached && first.error.is_none());
    assert!(first.latency > Duration::ZERO);
    assert!(second.cached && second.error.is_none());
    assert_eq!(third.target, "https://refused.example");
    assert_eq!(third.error.as_deref(), Some("invalid_target"));
    assert!(third.granted.is_none() && !third.cached);
    let printed = format!("{exchanges:?}");
    assert!(
        !printed.contains("exchanged-") && !printed.contains("alice\""),
        "{printed}"
    );
}

#[tokio::test]
async fn grpc_requests_get_trailers_only_denials() {
    let mock = MockAs::start().await;
    mock.always(Reply::oauth_error(400, "invalid_grant", "no"));
    let clock = Clock::new();
    let mut req = request(Some(caller("alice", &clock, HOUR)));
    req.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let response = service(mock.client(&clock)).oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "16");
}

#[tokio::test]
async fn a_denial_made_through_a_copy_of_the_extensions_still_counts() {
    // rmcp hands tools a copy of the request parts; the handle's state is shared.
    let mock = MockAs::start().await;
    mock.always(Reply::oauth_error(400, "invalid_scope", "no"));
    let clock = Clock::new();
    let resource = ResourceId::parse(RESOURCE).unwrap();
    let svc = ServiceBuilder::new()
        .layer(OboLayer::new(mock.client(&clock), &resource))
        .service_fn(|req: Request<Full<Bytes>>| async move {
            let copied = req.extensions().clone();
            let obo = OnBehalfOf::from_extensions(&copied).unwrap().clone();
            drop(req);
            let result = tokio::spawn(async move { obo.get_token_or_deny(api()).await });
            assert!(result.await.unwrap().is_err());
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        });
    let response = svc
        .oneshot(request(Some(caller("alice", &clock, HOUR))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn readiness_is_forwarded_to_the_inner_service() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let resource = ResourceId::parse(RESOURCE).unwrap();
    let inner = StrictReadiness::new(tower::service_fn(|req: Request<Full<Bytes>>| async move {
        let has_handle = OnBehalfOf::from_extensions(req.extensions()).is_some();
        Ok::<_, Infallible>(Response::new(Full::from(has_handle.to_string())))
    }));
    let mut svc = OboLayer::new(mock.client(&clock), &resource).layer(inner);
    for principal in [Some(caller("alice", &clock, HOUR)), None] {
        let expected = principal.is_some().to_string();
        let response = svc
            .ready()
            .await
            .unwrap()
            .call(request(principal))
            .await
            .unwrap();
        assert_eq!(body(response).await, expected);
    }
}

#[test]
fn services_futures_and_handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<OboLayer>();
    send_sync::<OnBehalfOf>();
    send_sync::<TokenExchangeClient>();
    send_sync::<Svc>();
    send::<crate::layer::ResponseFuture<HandlerFuture>>();
    send_sync::<crate::ExchangedToken>();
    send_sync::<crate::ExchangeError>();
}

/// A `tools/call` of `tool` for the allowlist to bind the handle to.
fn tool_call(tool: &str, clock: &Clock) -> Request<Full<Bytes>> {
    let mut req = request(Some(caller("alice", clock, HOUR)));
    let body =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}"}}}}"#);
    let mcp = mcp_auth_core::mcp::McpRequest::parse(body.as_bytes(), &Default::default()).unwrap();
    req.extensions_mut().insert(mcp);
    req
}

#[tokio::test]
async fn the_allowlist_refuses_before_the_authorization_server_is_asked() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let resource = ResourceId::parse(RESOURCE).unwrap();
    let allowlist = crate::ExchangeAllowlist::new()
        .allow("call_api", "https://api.example", "api:read api:write")
        .allow("*", "https://directory.example", "");
    let svc = ServiceBuilder::new()
        .layer(OboLayer::new(mock.client(&clock), &resource).allowlist(allowlist))
        .service_fn(|req: Request<Full<Bytes>>| async move {
            let obo = OnBehalfOf::from_extensions(req.extensions()).unwrap();
            let mut outcomes = Vec::new();
            for request in [
                api(),
                ExchangeRequest::audience("https://api.example").scope("api:admin"),
                ExchangeRequest::audience("https://elsewhere.example"),
                ExchangeRequest::audience("https://directory.example"),
            ] {
                outcomes.push(match obo.get_token_on_behalf_of(request).await {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => e.code().to_owned(),
                });
            }
            Ok::<_, Infallible>(Response::new(Full::from(outcomes.join(","))))
        });
    let record = RequestRecord::default();
    let mut req = tool_call("call_api", &clock);
    req.extensions_mut().insert(record.clone());
    let response = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(body(response).await, "ok,not_allowed,not_allowed,ok");
    assert_eq!(
        mock.received().len(),
        2,
        "only the allowed exchanges reached the server"
    );
    let exchanges = record.snapshot().exchanges;
    assert!(
        exchanges
            .iter()
            .all(|e| e.tool.as_deref() == Some("call_api")),
        "{exchanges:?}"
    );

    // Another tool may reach only what every tool may.
    let response = svc.oneshot(tool_call("other_tool", &clock)).await.unwrap();
    assert_eq!(
        body(response).await,
        "not_allowed,not_allowed,not_allowed,ok"
    );
}

#[tokio::test]
async fn a_handler_denying_with_an_allowlist_refusal_answers_403() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let resource = ResourceId::parse(RESOURCE).unwrap();
    let svc = ServiceBuilder::new()
        .layer(
            OboLayer::new(mock.client(&clock), &resource)
                .allowlist(crate::ExchangeAllowlist::new().allow("x", "https://other", "")),
        )
        .service_fn(handler);
    let response = svc.oneshot(tool_call("call_api", &clock)).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let text = body(response).await;
    assert!(text.contains("may not obtain a token"), "{text}");
    assert_eq!(mock.received().len(), 0);
}
