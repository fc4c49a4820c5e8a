//! A person approves the exact high-risk call, end to end: the example's `transfer_funds`
//! behind the approval layer, oidc-provider with CIBA and rich authorization requests as the
//! issuer (its test-only `/test/ciba/*` endpoints play the person's device, through its own
//! `backchannelResult`), and rmcp's client and the TypeScript SDK v2 client speaking the
//! 2026-07-28 protocol's multi-round-trip requests; and the gateway holding a call before a
//! Python SDK server sees it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_auth_e2e::{Provider, jwt_claims};
use rmcp::ClientHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationCapability, ErrorData,
    FormElicitationCapability, Implementation, InputRequest, InputRequiredResult, InputResponses,
    ProtocolVersion,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt as _, RequestContext, RoleClient, RunningService,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const APP: &str = "app";
const REDIRECT: &str = "http://127.0.0.1:8976/callback";
const SERVER_CLIENT: (&str, &str) = ("protected-server", "server-secret");
/// An authentication context the issuer knows: the approval asks for it, the audit records it.
const STRONG: &str = "urn:mcp-auth:test:strong";

/// The person's answer to the approval prompt in the client.
#[derive(Clone, Copy)]
enum Prompt {
    Accept,
    Decline,
}

/// An rmcp client handler that shows elicitations (or declares it cannot) and records them.
#[derive(Clone)]
struct Agent {
    elicits: bool,
    answer: Prompt,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    fn new(elicits: bool, answer: Prompt) -> Self {
        Self {
            elicits,
            answer,
            seen: Arc::default(),
        }
    }

    fn prompts(&self) -> Vec<String> {
        self.seen.lock().expect("prompts").clone()
    }
}

impl ClientHandler for Agent {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        if self.elicits {
            capabilities.elicitation =
                Some(ElicitationCapability::new().with_form(FormElicitationCapability::new()));
        }
        ClientConfig::new(capabilities, Implementation::new("approval-e2e", "0.0.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let message = serde_json::to_value(&request).expect("json")["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.seen.lock().expect("prompts").push(message);
        Ok(match self.answer {
            Prompt::Accept => ElicitResult::new(ElicitationAction::Accept).with_content(json!({})),
            Prompt::Decline => ElicitResult::new(ElicitationAction::Decline),
        })
    }
}

struct Setup {
    provider: Provider,
    server: protected_server::Server,
    audit: std::path::PathBuf,
    http: reqwest::Client,
}

/// oidc-provider with CIBA (polled at most every second) and rich authorization requests; the
/// user-facing client `app`, and this server's confidential client.
async fn ciba_provider(ttl: u64) -> Provider {
    Provider::start(json!({
        "scopes": ["mcp:read", "mcp:write"],
        "acrValues": [STRONG],
        "accountId": "alice",
        "accounts": {"bob": {}},
        "ciba": {"enabled": true, "ttl": ttl, "interval": 1},
        "richAuthorizationRequests": {"enabled": true, "types": ["mcp_tool_call"]},
        "clients": [
            {
                "client_id": APP, "token_endpoint_auth_method": "none",
                "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"],
                "response_types": ["code"], "application_type": "native",
            },
            {
                "client_id": SERVER_CLIENT.0, "client_secret": SERVER_CLIENT.1,
                "grant_types": ["urn:openid:params:grant-type:ciba"],
                "backchannel_token_delivery_mode": "poll",
                "redirect_uris": [], "response_types": [],
                "token_endpoint_auth_method": "client_secret_basic",
            },
        ],
    }))
    .await
}

async fn setup(name: &str, ttl: u64) -> Setup {
    setup_with(name, ttl, |options| options).await
}

async fn setup_with(
    name: &str,
    ttl: u64,
    adjust: impl Fn(protected_server::Options) -> protected_server::Options,
) -> Setup {
    let provider = ciba_provider(ttl).await;
    let audit = std::env::temp_dir().join(format!(
        "mcp-auth-approval-{name}-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&audit);
    let server = protected_server::start(adjust(replica_options(&provider, &audit)))
        .await
        .expect("server starts");
    Setup {
        provider,
        server,
        audit,
        http: reqwest::Client::new(),
    }
}

/// rmcp's client on the 2026-07-28 protocol at `url`, with a bearer token.
async fn connect_to(url: &str, token: &str, agent: Agent) -> RunningService<RoleClient, Agent> {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    agent
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_config(config),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("discovers")
}

fn replica_options(provider: &Provider, audit: &std::path::Path) -> protected_server::Options {
    protected_server::Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(provider.issuer.clone()),
        exchange_client: Some((SERVER_CLIENT.0.into(), SERVER_CLIENT.1.into())),
        audit_file: Some(audit.to_owned()),
        approval_round_wait: Some(Duration::from_secs(3)),
        ..Default::default()
    }
}

impl Setup {
    async fn token(&self, account: &str) -> String {
        let token = self
            .provider
            .authorization_code_for(
                Some(account),
                APP,
                REDIRECT,
                &self.server.mcp_url,
                "mcp:read mcp:write",
            )
            .await;
        assert_eq!(jwt_claims(&token)["sub"], account);
        token
    }

    /// Alice's token, and her agent, which shows prompts and accepts them.
    async fn alice(&self) -> (String, RunningService<RoleClient, Agent>) {
        let alice = self.token("alice").await;
        let client = self.connect(&alice, Agent::new(true, Prompt::Accept)).await;
        (alice, client)
    }

    async fn connect(&self, token: &str, agent: Agent) -> RunningService<RoleClient, Agent> {
        connect_to(&self.server.mcp_url, token, agent).await
    }

    /// The approval requests the issuer holds (`pending` ones, or all).
    async fn ciba_requests(&self, which: &str) -> Vec<Value> {
        let answer: Value = self
            .http
            .get(format!("{}/test/ciba/{which}", self.provider.issuer))
            .send()
            .await
            .expect("provider")
            .json()
            .await
            .expect("json");
        answer["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Waits (bounded) for the issuer to hold a pending request, and returns it.
    async fn pending_request(&self) -> Value {
        for _ in 0..200 {
            if let Some(request) = self.ciba_requests("pending").await.pop() {
                return request;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no approval request reached the issuer");
    }

    async fn decide(&self, request: &Value, decision: &str) {
        self.decide_with(request, decision, json!({})).await;
    }

    /// Decides with what the issuer grants set by `body` (`authorization_details`, `acr`).
    async fn decide_with(&self, request: &Value, decision: &str, body: Value) {
        let id = request["auth_req_id"].as_str().expect("id");
        let answer = self
            .http
            .post(format!(
                "{}/test/ciba/{id}/{decision}",
                self.provider.issuer
            ))
            .json(&body)
            .send()
            .await
            .expect("provider");
        assert!(answer.status().is_success(), "{decision}: {answer:?}");
    }

    /// The audit events' approval records, in order.
    fn approvals(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|event| event.get("approval").cloned())
            .collect()
    }

    /// Waits (bounded) until the audit file holds `count` approval records.
    async fn approvals_at_least(&self, count: usize) -> Vec<Value> {
        for _ in 0..100 {
            let approvals = self.approvals();
            if approvals.len() >= count {
                return approvals;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fewer than {count} approval events: {:?}", self.approvals());
    }
}

fn transfer(amount: i64, to: &str) -> CallToolRequestParams {
    CallToolRequestParams::new("transfer_funds").with_arguments(
        json!({"amount": amount, "to": to})
            .as_object()
            .expect("object")
            .clone(),
    )
}

fn retry(params: CallToolRequestParams, state: &str) -> CallToolRequestParams {
    let mut responses = InputResponses::new();
    responses.insert(
        "approval".into(),
        json!({"action": "accept", "content": {}}),
    );
    params
        .with_input_responses(responses)
        .with_request_state(state.to_owned())
}

async fn once(
    client: &RunningService<RoleClient, Agent>,
    params: CallToolRequestParams,
) -> CallToolResponse {
    client.call_tool_once(params).await.expect("answered")
}

fn input_required(response: CallToolResponse) -> InputRequiredResult {
    match response {
        CallToolResponse::InputRequired(result) => result,
        other => panic!("expected input_required, got {other:?}"),
    }
}

fn complete(response: CallToolResponse) -> CallToolResult {
    match response {
        CallToolResponse::Complete(result) => result,
        other => panic!("expected a result, got {other:?}"),
    }
}

fn text(result: &CallToolResult) -> String {
    serde_json::to_value(result).expect("json")["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Calls through rmcp's own round driving while the person decides on their device; the
/// request the issuer received and the call's final result.
async fn decided(
    s: &Setup,
    client: &Arc<RunningService<RoleClient, Agent>>,
    params: CallToolRequestParams,
    decision: &str,
) -> (Value, CallToolResult) {
    let calling = {
        let client = client.clone();
        tokio::spawn(async move { client.call_tool_with_mrtr_max_rounds(params, 60).await })
    };
    let request = s.pending_request().await;
    s.decide(&request, decision).await;
    let result = calling.await.expect("task").expect("answers");
    (request, result)
}

async fn transfers(client: &RunningService<RoleClient, Agent>) -> Vec<Value> {
    let listed = client
        .call_tool(CallToolRequestParams::new("list_transfers"))
        .await
        .expect("list_transfers is not gated");
    serde_json::from_str(&text(&listed)).expect("a JSON list")
}

#[tokio::test]
async fn an_approved_call_runs_once_and_nothing_else_passes_for_it() {
    let s = setup("once", 600).await;
    let (alice, client) = s.alice().await;

    // The first call starts a request at the issuer and asks the client to wait, with a prompt.
    let first = input_required(once(&client, transfer(100, "ACME-7")).await);
    let state = first.request_state.clone().expect("a requestState");
    let prompt = match first
        .input_requests
        .as_ref()
        .and_then(|r| r.get("approval"))
    {
        Some(InputRequest::Elicitation(request)) => serde_json::to_value(&request.params)
            .expect("json")["message"]
            .as_str()
            .expect("message")
            .to_owned(),
        other => panic!("no elicitation in {other:?}"),
    };
    // Ungated tools are untouched, and nothing ran yet.
    assert!(transfers(&client).await.is_empty());

    // What reached the person's device: this call, named by its digest and a code the prompt
    // shows too; never the issuer's request id in the client's hands.
    let request = s.pending_request().await;
    assert_eq!(request["client_id"], SERVER_CLIENT.0, "{request}");
    assert_eq!(request["login_hint"], "alice", "{request}");
    assert_eq!(request["resource"], s.server.mcp_url.as_str(), "{request}");
    assert_eq!(
        request["requested_expiry"], 300,
        "the default, bounded lifetime"
    );
    let code = request["binding_message"]
        .as_str()
        .expect("binding message");
    assert!(
        code.starts_with("MCP-") && prompt.contains(code),
        "{code} / {prompt}"
    );
    let detail = &request["authorization_details"][0];
    assert_eq!(detail["type"], "mcp_tool_call", "{request}");
    assert_eq!(detail["tool"], "transfer_funds", "{request}");
    assert!(
        detail["summary"].as_str().unwrap().contains("ACME-7"),
        "{detail}"
    );
    let digest = detail["digest"].as_str().expect("digest").to_owned();
    let auth_req_id = request["auth_req_id"].as_str().expect("id");
    assert!(!state.contains(auth_req_id), "the request id is sealed");

    // Accepting the prompt is not the approval: still pending.
    let still = input_required(once(&client, retry(transfer(100, "ACME-7"), &state)).await);
    let state = still.request_state.expect("a fresh state");
    assert!(
        transfers(&client).await.is_empty(),
        "nothing ran before approval"
    );

    // The person approves; the retry runs the call, once.
    s.decide(&request, "approve").await;
    let done = complete(once(&client, retry(transfer(100, "ACME-7"), &state)).await);
    assert_ne!(done.is_error, Some(true), "{done:?}");
    let ran: Value = serde_json::from_str(&text(&done)).expect("json");
    assert_eq!(
        (ran["amount"].as_i64(), ran["by"].as_str()),
        (Some(100), Some("alice"))
    );

    // The same approved state again: refused, and the call does not run twice.
    let replay = complete(once(&client, retry(transfer(100, "ACME-7"), &state)).await);
    assert_eq!(replay.is_error, Some(true), "{replay:?}");
    assert!(text(&replay).contains("already used"), "{replay:?}");
    assert_eq!(transfers(&client).await.len(), 1);

    // A new call, with its state replayed for other arguments, tampered, or by another user.
    let second = input_required(once(&client, transfer(5, "ACME-7")).await);
    let second = second.request_state.expect("state");
    let swapped = complete(once(&client, retry(transfer(1_000_000, "MALLORY"), &second)).await);
    assert!(text(&swapped).contains("different call"), "{swapped:?}");
    let mut tampered = second.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let forged = complete(once(&client, retry(transfer(5, "ACME-7"), &tampered)).await);
    assert!(text(&forged).contains("not valid"), "{forged:?}");
    let bob = s.token("bob").await;
    let bobs = s.connect(&bob, Agent::new(true, Prompt::Accept)).await;
    let stolen = complete(once(&bobs, retry(transfer(5, "ACME-7"), &second)).await);
    assert!(text(&stolen).contains("another caller"), "{stolen:?}");
    assert_eq!(transfers(&client).await.len(), 1, "none of them ran");

    // The audit trail: every round with the digest, never the arguments or the token.
    let approvals = s.approvals_at_least(8).await;
    let outcomes: Vec<String> = approvals
        .iter()
        .map(|a| {
            let list: Vec<&str> = a["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_str().unwrap())
                .collect();
            format!("{}:{}", list.join("+"), a["reason"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "requested:",
            "pending:",
            "granted+executed:",
            "replayed:",
            "requested:",
            "state_refused:state_other_call",
            "state_refused:state_unreadable",
            "state_refused:state_other_principal",
        ],
        "{approvals:?}"
    );
    assert!(
        approvals[..4]
            .iter()
            .all(|a| a["digest"] == digest.as_str())
    );
    let written = std::fs::read_to_string(&s.audit).expect("audit file");
    assert!(!written.contains("ACME-7") && !written.contains("MALLORY"));
    assert!(!written.contains(&alice) && !written.contains(auth_req_id));
}

#[tokio::test]
async fn rmcp_drives_the_rounds_until_the_person_decides() {
    let s = setup("rounds", 600).await;
    let alice = s.token("alice").await;

    // Approved while the client keeps asking: the call completes on its own.
    let agent = Agent::new(true, Prompt::Accept);
    let client = Arc::new(s.connect(&alice, agent.clone()).await);
    let (_, done) = decided(&s, &client, transfer(250, "ACME-9"), "approve").await;
    assert_ne!(done.is_error, Some(true), "{done:?}");
    assert!(text(&done).contains("\"amount\":250"), "{done:?}");
    assert!(!agent.prompts().is_empty(), "the prompt was shown");

    // Refused on the device: a tool error, and nothing ran.
    let (_, refused) = decided(&s, &client, transfer(999, "ACME-9"), "deny").await;
    assert_eq!(refused.is_error, Some(true), "{refused:?}");
    assert!(text(&refused).contains("refused"), "{refused:?}");
    assert_eq!(transfers(&client).await.len(), 1);

    // Dismissing the prompt in the client stops the rounds without running anything.
    let dismissing = s.connect(&alice, Agent::new(true, Prompt::Decline)).await;
    let dismissed = dismissing
        .call_tool(transfer(1, "ACME-9"))
        .await
        .expect("answers");
    assert!(text(&dismissed).contains("dismissed"), "{dismissed:?}");
    assert_eq!(transfers(&client).await.len(), 1);
}

#[tokio::test]
async fn a_client_without_elicitation_gets_state_only_rounds_and_expiry_is_reported() {
    let s = setup("state-only", 2).await;
    let alice = s.token("alice").await;
    let agent = Agent::new(false, Prompt::Accept);
    let client = Arc::new(s.connect(&alice, agent.clone()).await);

    // No prompt for a client that cannot show one: only the state.
    let first = input_required(once(&client, transfer(7, "ACME-1")).await);
    assert!(first.input_requests.is_none(), "{first:?}");
    let state = first.request_state.expect("state");

    // Nobody decides: once the issuer's request has expired, the retry says so.
    for _ in 0..200 {
        let all = s.ciba_requests("requests").await;
        if all.iter().any(|r| r["status"] == "expired") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expired = complete(once(&client, retry(transfer(7, "ACME-1"), &state)).await);
    assert!(text(&expired).contains("expired"), "{expired:?}");

    // Approved during the server's bounded wait: the client learns it without any prompt.
    let (_, done) = decided(&s, &client, transfer(8, "ACME-1"), "approve").await;
    assert!(text(&done).contains("\"amount\":8"), "{done:?}");
    assert!(agent.prompts().is_empty(), "no prompt was sent");
}

#[tokio::test]
async fn older_clients_and_batches_are_refused_before_anything_starts() {
    let s = setup("older", 600).await;
    let alice = s.token("alice").await;
    let call = |version: &str, body: Value| {
        s.http
            .post(&s.server.mcp_url)
            .bearer_auth(&alice)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version)
            .json(&body)
            .send()
    };
    let message = json!({
        "jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "transfer_funds", "arguments": {"amount": 1, "to": "ACME-2"}},
    });

    // A 2025-11-25 client cannot take part: a tool error saying so.
    let older: Value = call("2025-11-25", message.clone())
        .await
        .expect("server")
        .json()
        .await
        .expect("json");
    assert_eq!(older["id"], 4, "{older}");
    assert_eq!(older["result"]["isError"], true, "{older}");
    let said = older["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        said.contains("cannot take part") && said.contains("2026-07-28"),
        "{said}"
    );

    // A batch holding a gated call is refused whole.
    let batch = call(
        "2025-06-18",
        json!([message, {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}]),
    )
    .await
    .expect("server");
    assert_eq!(batch.status(), 400);
    let body: Value = batch.json().await.expect("json");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("batch"),
        "{body}"
    );
    assert!(
        s.ciba_requests("requests").await.is_empty(),
        "nothing was started"
    );
}

#[tokio::test]
async fn an_approval_granting_other_details_does_not_run_the_call() {
    let s = setup("details", 600).await;
    let (_, client) = s.alice().await;
    let first = input_required(once(&client, transfer(40, "ACME-3")).await);
    let state = first.request_state.expect("state");
    let request = s.pending_request().await;
    // The issuer grants details for another call (say, a person approving on a device that
    // showed something else): the digest differs, and the call does not run.
    let mut other = request["authorization_details"][0].clone();
    other["digest"] = json!("A".repeat(43));
    s.decide_with(
        &request,
        "approve",
        json!({"authorization_details": [other]}),
    )
    .await;
    let refused = complete(once(&client, retry(transfer(40, "ACME-3"), &state)).await);
    assert_eq!(refused.is_error, Some(true), "{refused:?}");
    assert!(text(&refused).contains("not for this call"), "{refused:?}");
    assert!(transfers(&client).await.is_empty());
    let approvals = s.approvals_at_least(2).await;
    assert_eq!(approvals[1]["reason"], "details_mismatch", "{approvals:?}");
}

#[tokio::test]
async fn replicas_open_each_others_state_and_share_which_approvals_were_used() {
    let redis = mcp_auth_testing::RedisServer::start().await;
    // 32-byte keys every replica has (from a secret store in production).
    let keys = "2026-11=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=";
    let shared = |options: protected_server::Options| protected_server::Options {
        redis: Some(redis.url()),
        approval_keys: Some(keys.into()),
        ..options
    };
    let s = setup_with("replicas", 600, shared).await;
    let other_audit = s.audit.with_extension("b.jsonl");
    let b = protected_server::start(shared(protected_server::Options {
        // Its own resource URL would change the call's digest: replicas serve one resource.
        resource: Some(s.server.mcp_url.clone()),
        ..replica_options(&s.provider, &other_audit)
    }))
    .await
    .expect("replica b starts");
    let alice = s.token("alice").await;
    let on_a = s.connect(&alice, Agent::new(true, Prompt::Accept)).await;
    let on_b = connect_to(
        &format!("http://{}/mcp", b.addr),
        &alice,
        Agent::new(true, Prompt::Accept),
    )
    .await;

    // Asked on replica a, approved, retried on replica b: b opens a's state and runs the call.
    let first = input_required(once(&on_a, transfer(60, "ACME-5")).await);
    let state = first.request_state.expect("state");
    let request = s.pending_request().await;
    s.decide(&request, "approve").await;
    let done = complete(once(&on_b, retry(transfer(60, "ACME-5"), &state)).await);
    assert_ne!(done.is_error, Some(true), "{done:?}");

    // The same state on replica a: it knows, through Redis, that the approval was used.
    let replay = complete(once(&on_a, retry(transfer(60, "ACME-5"), &state)).await);
    assert!(text(&replay).contains("already used"), "{replay:?}");
    assert!(
        transfers(&on_a).await.is_empty(),
        "nothing ran on replica a"
    );
    assert_eq!(transfers(&on_b).await.len(), 1);
}

/// Runs the TypeScript SDK v2 client fixture (2026-07-28, multi-round-trip driven by the SDK).
async fn ts_v2(url: &str, token: &str, arguments: Value, elicit: &str) -> Value {
    let output = tokio::process::Command::new("node")
        .arg("mcp-client-v2.mjs")
        .args(["--url", url, "--token", token, "--tool", "transfer_funds"])
        .args(["--args", &arguments.to_string(), "--elicit", elicit])
        .current_dir(mcp_auth_e2e::node_fixtures())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|_| {
        panic!(
            "no report: {stdout} / {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test]
async fn the_typescript_sdk_v2_client_takes_part_with_and_without_a_prompt() {
    let s = setup("ts-v2", 600).await;
    let alice = s.token("alice").await;
    for elicit in ["accept", "none"] {
        let calling = {
            let (url, token) = (s.server.mcp_url.clone(), alice.clone());
            tokio::spawn(async move {
                ts_v2(&url, &token, json!({"amount": 30, "to": "ACME-8"}), elicit).await
            })
        };
        let request = s.pending_request().await;
        s.decide(&request, "approve").await;
        let report = calling.await.expect("task");
        assert_eq!(report["ok"], true, "{elicit}: {report}");
        assert_ne!(report["result"]["isError"], true, "{elicit}: {report}");
        let ran = report["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(ran.contains("\"amount\":30"), "{elicit}: {report}");
        let prompts = report["prompts"].as_array().expect("prompts");
        let code = request["binding_message"].as_str().expect("code");
        if elicit == "accept" {
            assert!(
                prompts
                    .iter()
                    .any(|p| p.as_str().unwrap_or_default().contains(code)),
                "the prompt shows the code: {report}"
            );
        } else {
            assert!(
                prompts.is_empty(),
                "no prompt without the capability: {report}"
            );
        }
    }
}

#[tokio::test]
async fn the_gateway_holds_a_gated_call_before_a_python_server_sees_it() {
    let provider = ciba_provider(600).await;
    let upstream = mcp_auth_e2e::Upstream::start(
        mcp_auth_e2e::UpstreamSdk::Python,
        mcp_auth_e2e::UpstreamOptions::default(),
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp_url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let audit = std::env::temp_dir().join(format!(
        "mcp-auth-approval-gateway-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&audit);
    // SAFETY: a variable only this test reads, set before anything reads it.
    unsafe { std::env::set_var("APPROVAL_TEST_GATEWAY_SECRET", SERVER_CLIENT.1) };
    let _gateway = mcp_auth_e2e::gateway_on(
        listener,
        &format!(
            r#"
resource = "{mcp_url}"
[[issuers]]
issuer = "{issuer}"
[fetch]
allow_loopback = true
[upstream]
url = "{upstream}"
[approval]
tools = ["echo"]
client_id = "{client}"
client_secret_env = "APPROVAL_TEST_GATEWAY_SECRET"
round_wait_ms = 3000
acr_values = "{STRONG}"
[audit]
file = "{audit}"
"#,
            audit = audit.display(),
            issuer = provider.issuer,
            upstream = upstream.url,
            client = SERVER_CLIENT.0,
        ),
    )
    .await;
    let alice = provider
        .authorization_code_for(Some("alice"), APP, REDIRECT, &mcp_url, "mcp:read")
        .await;
    let client = connect_to(&mcp_url, &alice, Agent::new(true, Prompt::Accept)).await;
    let echo = || {
        CallToolRequestParams::new("echo").with_arguments(
            json!({"text": "move the money"})
                .as_object()
                .expect("object")
                .clone(),
        )
    };
    // The calls of `echo` the Python server received (2026-07-28 requests name their tool in
    // `Mcp-Name`).
    let echoes = || async {
        upstream
            .requests()
            .await
            .iter()
            .filter(|r| r["headers"]["mcp-name"] == "echo")
            .count()
    };

    let first = input_required(once(&client, echo()).await);
    let state = first.request_state.expect("state");
    assert_eq!(echoes().await, 0, "held at the gateway");
    let http = reqwest::Client::new();
    let pending: Value = http
        .get(format!("{}/test/ciba/pending", provider.issuer))
        .send()
        .await
        .expect("provider")
        .json()
        .await
        .expect("json");
    let id = pending["requests"][0]["auth_req_id"]
        .as_str()
        .expect("a pending request")
        .to_owned();
    assert_eq!(pending["requests"][0]["acr_values"], STRONG, "{pending}");
    http.post(format!("{}/test/ciba/{id}/approve", provider.issuer))
        .json(&json!({"acr": STRONG}))
        .send()
        .await
        .expect("approved");

    let done = complete(once(&client, retry(echo(), &state)).await);
    assert_eq!(text(&done), "move the money", "{done:?}");
    assert_eq!(echoes().await, 1, "the server ran it once");
    let replay = complete(once(&client, retry(echo(), &state)).await);
    assert!(text(&replay).contains("already used"), "{replay:?}");
    assert_eq!(echoes().await, 1);

    // The audit records how the person authenticated to approve.
    let mut granted = None;
    for _ in 0..100 {
        granted = std::fs::read_to_string(&audit)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|event| event.get("approval").cloned())
            .find(|a| a["outcomes"] == json!(["granted", "executed"]));
        if granted.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let granted = granted.expect("a granted approval in the audit");
    assert_eq!(granted["acr"], STRONG, "{granted}");
}
