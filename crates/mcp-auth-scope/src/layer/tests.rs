use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use mcp_auth_core::mcp::InspectLimits;
use mcp_auth_core::middleware::inspect::McpInspectLayer;
use mcp_auth_core::record::RequestRecord;
use mcp_auth_core::{AuthBody, BearerToken, Principal, ResourceId, Scopes};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};

use crate::{Requirement, ScopeHierarchy, ScopeLayer, ScopePolicy, Undeclared};

const METADATA: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

fn policy() -> ScopePolicy {
    ScopePolicy::builder()
        .required(Requirement::all("mcp:read"))
        .method("tools/list", Requirement::none())
        .method("resources/*", Requirement::all("res:any"))
        .tool("whoami", Requirement::none())
        .tool("add_note", Requirement::all("mcp:write"))
        .tool("admin_*", Requirement::all("mcp:admin"))
        .tool(
            "admin_audit",
            Requirement::any_of(&["mcp:admin", "auditor"]),
        )
        .tool(
            "transfer",
            Requirement::any_of(&["bank:admin bank:root", "bank:write bank:transfer"]),
        )
        .resource("file:///public", Requirement::none())
        .resource("prefix:file:///private/", Requirement::all("files:secret"))
        .resource("file:///users/{id}/notes", Requirement::all("notes:read"))
        .resource("mem://*.log", Requirement::all("logs:read"))
        .prompt("summarise", Requirement::all("prompts:use"))
        .hierarchy(
            ScopeHierarchy::new([("mcp:admin", ["mcp:write"]), ("mcp:write", ["mcp:read"])])
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn principal(scopes: &str) -> Principal {
    Principal::builder("https://issuer", "alice", BearerToken::new("t"))
        .scopes(Scopes::parse(scopes))
        .build()
}

/// Runs `body` through the scope layer in front of `respond`, as `scopes`.
async fn run_with(
    policy: ScopePolicy,
    scopes: Option<&str>,
    method: &str,
    body: &str,
    respond: fn() -> Response<Full<Bytes>>,
) -> (u16, Option<String>, Value, RequestRecord) {
    run_as(policy, scopes.map(principal), method, body, respond).await
}

/// Runs `body` through the scope layer in front of `respond`, as `caller`.
async fn run_as(
    policy: ScopePolicy,
    caller: Option<Principal>,
    method: &str,
    body: &str,
    respond: fn() -> Response<Full<Bytes>>,
) -> (u16, Option<String>, Value, RequestRecord) {
    let svc = ServiceBuilder::new()
        .layer(McpInspectLayer::with_limits(
            InspectLimits::default().max_body_bytes(1024),
        ))
        .layer(ScopeLayer::new(
            policy,
            &ResourceId::parse("https://mcp.example.com/mcp").unwrap(),
        ))
        .service_fn(move |_req: Request<AuthBody<Full<Bytes>>>| async move {
            Ok::<_, Infallible>(respond())
        });
    let mut request = Request::builder()
        .method(method)
        .uri("/mcp")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    let record = RequestRecord::default();
    request.extensions_mut().insert(record.clone());
    let response = svc.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, challenge, json, record)
}

fn ok() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(br#"{"ok":true}"#)))
}

async fn run(scopes: &str, body: &str) -> (u16, Option<String>) {
    let (status, challenge, _, _) = run_with(policy(), Some(scopes), "POST", body, ok).await;
    (status, challenge)
}

fn call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}}).to_string()
}

fn read(uri: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": uri}})
        .to_string()
}

fn challenge(scope: &str, description: &str) -> Option<String> {
    Some(format!(
        r#"Bearer error="insufficient_scope", scope="{scope}", resource_metadata="{METADATA}", error_description="{description}""#
    ))
}

#[tokio::test]
async fn tool_rules_and_the_exact_step_up_challenge() {
    assert_eq!(run("mcp:read", &call("whoami")).await.0, 200);
    assert_eq!(run("mcp:read mcp:write", &call("add_note")).await.0, 200);
    assert_eq!(
        run("mcp:read", &call("add_note")).await,
        (
            403,
            challenge(
                "mcp:read mcp:write",
                "`tools/call` of tool `add_note` needs mcp:read mcp:write (missing mcp:write)"
            )
        )
    );
}

#[tokio::test]
async fn the_base_requirement_applies_to_everything() {
    assert_eq!(run("", &call("whoami")).await.0, 403);
    let get = run_with(policy(), Some(""), "GET", "", ok).await;
    assert_eq!(get.0, 403);
    assert_eq!(
        get.1,
        challenge("mcp:read", "this request needs mcp:read (missing mcp:read)")
    );
    assert_eq!(
        run_with(policy(), Some("mcp:read"), "GET", "", ok).await.0,
        200
    );
}

#[tokio::test]
async fn globs_exact_names_and_specificity() {
    assert_eq!(run("mcp:read", &call("admin_reset")).await.0, 403);
    assert_eq!(run("mcp:admin", &call("admin_reset")).await.0, 200);
    // the exact rule beats the glob: an auditor may call admin_audit
    assert_eq!(run("mcp:read auditor", &call("admin_audit")).await.0, 200);
}

#[tokio::test]
async fn hierarchy_is_honoured() {
    assert_eq!(
        run("mcp:admin", &call("add_note")).await.0,
        200,
        "admin implies write implies read"
    );
    assert_eq!(
        run("mcp:write", &call("whoami")).await.0,
        200,
        "write implies the base read"
    );
}

#[tokio::test]
async fn alternatives_challenge_the_closest_one() {
    assert_eq!(
        run("mcp:read bank:admin bank:root", &call("transfer"))
            .await
            .0,
        200
    );
    assert_eq!(
        run("mcp:read bank:write bank:transfer", &call("transfer"))
            .await
            .0,
        200
    );
    let (status, ch) = run("mcp:read bank:write", &call("transfer")).await;
    assert_eq!(status, 403);
    assert!(
        ch.unwrap()
            .contains(r#"scope="bank:transfer bank:write mcp:read""#),
        "closest alternative"
    );
}

#[tokio::test]
async fn resource_rules() {
    let r = "mcp:read res:any";
    assert_eq!(run(r, &read("file:///public")).await.0, 200);
    assert_eq!(run(r, &read("file:///private/x")).await.0, 403);
    assert_eq!(
        run(&format!("{r} files:secret"), &read("file:///private/x"))
            .await
            .0,
        200
    );
    assert_eq!(
        run(&format!("{r} notes:read"), &read("file:///users/7/notes"))
            .await
            .0,
        200
    );
    assert_eq!(run(r, &read("file:///users/7/notes")).await.0, 403);
    assert_eq!(
        run(&format!("{r} logs:read"), &read("mem://app/x.log"))
            .await
            .0,
        200
    );
    // method rule `resources/*` adds res:any
    assert_eq!(
        run("mcp:read files:secret", &read("file:///private/x"))
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn prompts() {
    let get = json!({"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"summarise"}})
        .to_string();
    assert_eq!(run("mcp:read", &get).await.0, 403);
    assert_eq!(run("mcp:read prompts:use", &get).await.0, 200);
}

#[tokio::test]
async fn undeclared_targets_fail_closed_or_fall_back() {
    let (status, challenge, body, _) =
        run_with(policy(), Some("mcp:admin"), "POST", &call("rm_rf"), ok).await;
    assert_eq!(status, 403);
    assert!(challenge.is_none(), "no scope would help");
    assert_eq!(body["error"], "access_denied");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("tool `rm_rf` is not available")
    );
    let fallback = ScopePolicy::builder()
        .undeclared(Undeclared::Require(Requirement::all("extra")))
        .build()
        .unwrap();
    assert_eq!(
        run_with(fallback.clone(), Some("extra"), "POST", &call("rm_rf"), ok)
            .await
            .0,
        200
    );
    assert_eq!(
        run_with(fallback, Some(""), "POST", &call("rm_rf"), ok)
            .await
            .0,
        403
    );
    let prompt =
        json!({"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"nope"}}).to_string();
    assert_eq!(run("mcp:admin", &prompt).await.0, 403);
}

#[tokio::test]
async fn batches_pass_only_whole_and_challenge_for_the_whole() {
    let batch = format!(
        "[{},{},{}]",
        call("whoami"),
        call("add_note"),
        call("admin_reset")
    );
    let (status, ch) = run("mcp:read", &batch).await;
    assert_eq!(status, 403);
    let ch = ch.unwrap();
    assert!(
        ch.contains(r#"scope="mcp:admin mcp:read mcp:write""#),
        "{ch}"
    );
    assert!(ch.contains("batch message 1"), "{ch}");
    assert!(ch.contains("1 more message(s)"), "{ch}");
    assert_eq!(run("mcp:admin", &batch).await.0, 200);
}

#[tokio::test]
async fn notifications_and_responses_have_their_own_rule() {
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let reply = r#"{"jsonrpc":"2.0","id":"srv-1","result":{"roots":[]}}"#;
    let error = r#"{"jsonrpc":"2.0","id":"srv-2","error":{"code":-1,"message":"no"}}"#;
    for body in [note, reply, error] {
        assert_eq!(run("mcp:read", body).await.0, 200, "{body}");
        assert_eq!(run("", body).await.0, 403, "{body}");
    }
    let strict = ScopePolicy::builder()
        .client_messages(Requirement::all("client:talk"))
        .build()
        .unwrap();
    assert_eq!(
        run_with(strict.clone(), Some(""), "POST", note, ok).await.0,
        403
    );
    assert_eq!(
        run_with(strict, Some("client:talk"), "POST", note, ok)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn malformed_bodies_get_precise_4xx_and_never_panic() {
    let cases = [
        ("not json", 400, "not valid JSON-RPC"),
        (r#"{"jsonrpc":"2.0","id":1}"#, 400, "neither `method`"),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":42}}"#,
            400,
            "invalid params",
        ),
        (
            r#"{"jsonrpc":"2.0","id":[1],"method":"tools/list"}"#,
            400,
            "`id` must be",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":{"x":1}}"#,
            400,
            "not valid JSON-RPC",
        ),
        ("[]", 400, "must not be empty"),
    ];
    for (body, status, text) in cases {
        let (s, _, json, _) = run_with(policy(), Some("mcp:admin"), "POST", body, ok).await;
        assert_eq!(s, status, "{body}");
        assert!(
            json["error_description"].as_str().unwrap().contains(text),
            "{body}: {json}"
        );
    }
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"p":"{}"}}}}"#,
        "x".repeat(2000)
    );
    let (s, _, json, _) = run_with(policy(), Some("mcp:admin"), "POST", &big, ok).await;
    assert_eq!(s, 413);
    assert_eq!(
        json["error_description"],
        "request body exceeds the limit of 1024 bytes"
    );
}

#[tokio::test]
async fn no_principal_is_refused() {
    let (status, _, json, _) = run_with(policy(), None, "POST", &call("whoami"), ok).await;
    assert_eq!(status, 403);
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("inside the verification layer")
    );
}

#[tokio::test]
async fn decisions_are_recorded_for_audit() {
    let (_, _, _, record) =
        run_with(policy(), Some("mcp:read"), "POST", &call("add_note"), ok).await;
    let check = record.snapshot().scope.unwrap();
    assert!(!check.allowed);
    assert_eq!(check.required.to_string(), "mcp:read mcp:write");
    assert_eq!(check.granted.to_string(), "mcp:read");
    assert_eq!(check.missing.to_string(), "mcp:write");
    let (_, _, _, record) =
        run_with(policy(), Some("mcp:admin"), "POST", &call("add_note"), ok).await;
    assert!(record.snapshot().scope.unwrap().allowed);
}

// --- listings ---

fn tools_answer() -> Response<Full<Bytes>> {
    let body = json!({"jsonrpc": "2.0", "id": 7, "result": {"tools": [
        {"name": "whoami"}, {"name": "add_note"}, {"name": "admin_reset"}, {"name": "undeclared"}, {"noname": true}
    ], "nextCursor": "c"}});
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r.headers_mut()
        .insert("content-length", "999".parse().unwrap());
    r
}

fn names(result: &Value, field: &str) -> Vec<String> {
    result[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn json_listings_show_only_what_the_caller_may_use() {
    let list = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#;
    let (status, _, body, _) =
        run_with(policy(), Some("mcp:read"), "POST", list, tools_answer).await;
    assert_eq!(status, 200);
    assert_eq!(names(&body["result"], "tools"), ["whoami"]);
    assert_eq!(body["result"]["nextCursor"], "c");
    let (_, _, body, _) = run_with(policy(), Some("mcp:admin"), "POST", list, tools_answer).await;
    assert_eq!(
        names(&body["result"], "tools"),
        ["whoami", "add_note", "admin_reset"]
    );
    // switched off per policy
    let unfiltered = ScopePolicy::builder()
        .method("tools/list", Requirement::none())
        .filter_lists(false)
        .build()
        .unwrap();
    let (_, _, body, _) = run_with(unfiltered, Some(""), "POST", list, tools_answer).await;
    assert_eq!(body["result"]["tools"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn responses_to_other_ids_are_untouched() {
    let list = r#"{"jsonrpc":"2.0","id":8,"method":"tools/list"}"#;
    let (_, _, body, _) = run_with(policy(), Some("mcp:read"), "POST", list, tools_answer).await;
    assert_eq!(body["result"]["tools"].as_array().unwrap().len(), 5);
}

/// A body that yields its chunks one per poll, returning Pending in between.
struct Trickle {
    chunks: Vec<Bytes>,
    pending: bool,
}

impl Body for Trickle {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.pending {
            self.pending = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.pending = true;
        if self.chunks.is_empty() {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(Frame::data(self.chunks.remove(0)))))
    }
}

#[tokio::test]
async fn sse_listings_are_filtered_event_by_event() {
    let policy = policy();
    let svc = ServiceBuilder::new()
        .layer(McpInspectLayer::new())
        .layer(ScopeLayer::new(policy, &ResourceId::parse("https://mcp.example.com/mcp").unwrap()))
        .service_fn(|_req: Request<AuthBody<Full<Bytes>>>| async {
            let answer = json!({"jsonrpc":"2.0","id":"L","result":{"tools":[{"name":"whoami"},{"name":"add_note"}]}});
            let chunks = vec![
                Bytes::from("event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n"),
                Bytes::from(format!("id: 2\nevent: message\ndata: {}", &answer.to_string()[..20])),
                Bytes::from(format!("{}\n\n", &answer.to_string()[20..])),
            ];
            let mut r = Response::new(Trickle { chunks, pending: false });
            r.headers_mut().insert("content-type", "text/event-stream".parse().unwrap());
            Ok::<_, Infallible>(r)
        });
    let mut request = Request::post("/mcp")
        .body(Full::new(Bytes::from(
            r#"{"jsonrpc":"2.0","id":"L","method":"tools/list"}"#,
        )))
        .unwrap();
    request.extensions_mut().insert(principal("mcp:read"));
    let response = svc.oneshot(request).await.unwrap();
    let mut body = response.into_body();
    // The first event arrives on its own, before the second is complete: streaming preserved.
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(
        std::str::from_utf8(&first)
            .unwrap()
            .contains("notifications/progress")
    );
    let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let text = std::str::from_utf8(&second).unwrap();
    assert!(text.starts_with("id: 2\nevent: message\ndata: "), "{text}");
    assert!(text.ends_with("\n\n"), "{text:?}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let value: Value = serde_json::from_str(data).unwrap();
    assert_eq!(names(&value["result"], "tools"), ["whoami"]);
    assert!(body.frame().await.is_none());
}

#[tokio::test]
async fn oversized_listings_fail_closed() {
    let svc = ServiceBuilder::new()
        .layer(McpInspectLayer::new())
        .layer(
            ScopeLayer::new(
                policy(),
                &ResourceId::parse("https://mcp.example.com/mcp").unwrap(),
            )
            .max_listing_bytes(50),
        )
        .service_fn(|_req: Request<AuthBody<Full<Bytes>>>| async {
            Ok::<_, Infallible>(tools_answer())
        });
    let mut request = Request::post("/mcp")
        .body(Full::new(Bytes::from(
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#,
        )))
        .unwrap();
    request.extensions_mut().insert(principal("mcp:read"));
    let response = svc.oneshot(request).await.unwrap();
    let err = response.into_body().collect().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("refusing to pass it on unfiltered"),
        "{err}"
    );
}

#[tokio::test]
async fn a_post_nothing_inspected_is_refused_not_decided_blind() {
    let svc = ServiceBuilder::new()
        .layer(ScopeLayer::new(
            policy(),
            &ResourceId::parse("https://mcp.example.com/mcp").unwrap(),
        ))
        .service_fn(|_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        });
    let mut request = Request::post("/mcp")
        .body(Full::new(Bytes::from(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"clear_notes"}}"#,
        )))
        .unwrap();
    request.extensions_mut().insert(principal("mcp:read"));
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 403);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("place McpInspectLayer outside"),
        "{body:?}"
    );
}

/// A token the client `svc` obtained for itself (client credentials: `sub` is its client id).
fn client_itself(scopes: &str) -> Principal {
    Principal::builder("https://issuer", "svc", BearerToken::new("t"))
        .client_id("svc")
        .scopes(Scopes::parse(scopes))
        .build()
}

#[tokio::test]
async fn users_only_tools_refuse_clients_acting_for_themselves_without_step_up() {
    let policy = || {
        ScopePolicy::builder()
            .required(Requirement::all("mcp:read"))
            .method("tools/list", Requirement::none())
            .tool("whoami", Requirement::none())
            .tool("add_note", Requirement::all("mcp:write"))
            .tool("admin_*", Requirement::all("mcp:admin"))
            .users_only("admin_*")
            .build()
            .unwrap()
    };
    // A user's token with the scope may call it.
    let alice = principal("mcp:read mcp:admin");
    assert!(!alice.acts_for_itself());
    let (status, ..) = run_as(policy(), Some(alice), "POST", &call("admin_reset"), ok).await;
    assert_eq!(status, 200);

    // The client acting for itself may not, whatever its scopes; the 403 has no challenge.
    let (status, challenge, body, record) = run_as(
        policy(),
        Some(client_itself("mcp:read mcp:admin")),
        "POST",
        &call("admin_reset"),
        ok,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(challenge, None, "no scope would help: no step-up");
    let text = body.to_string();
    assert!(
        text.contains("user_required") || text.contains("acts for a user"),
        "{text}"
    );
    assert!(!record.snapshot().scope.unwrap().allowed);
    // Even without the scope, the answer is the same: a step-up would only loop.
    let (status, challenge, ..) = run_as(
        policy(),
        Some(client_itself("mcp:read")),
        "POST",
        &call("admin_reset"),
        ok,
    )
    .await;
    assert_eq!((status, challenge), (403, None));
    // Other tools are decided on scopes as before.
    let (status, ..) = run_as(
        policy(),
        Some(client_itself("mcp:read")),
        "POST",
        &call("whoami"),
        ok,
    )
    .await;
    assert_eq!(status, 200);

    // Listings hide it from the client, not from the user.
    let list = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#;
    let (_, _, body, _) = run_as(
        policy(),
        Some(client_itself("mcp:read mcp:write mcp:admin")),
        "POST",
        list,
        tools_answer,
    )
    .await;
    assert_eq!(names(&body["result"], "tools"), ["whoami", "add_note"]);
    let (_, _, body, _) = run_as(
        policy(),
        Some(principal("mcp:read mcp:write mcp:admin")),
        "POST",
        list,
        tools_answer,
    )
    .await;
    assert_eq!(
        names(&body["result"], "tools"),
        ["whoami", "add_note", "admin_reset"]
    );
}
