//! The policy layer through `PolicyProbe`: roles, claims, arguments, clients, listings, step-up.

use mcp_auth_core::ResourceId;
use mcp_auth_testing::{MockMcpService, PolicyProbe};
use serde_json::json;

use crate::{CedarAuthorizer, CedarPolicies, ClaimMap, PolicyLayer};

const SCHEMA: &str = "namespace Mcp { type Arguments = { amount?: Long, project?: String }; }";

const EXPENSES: &str = r#"
// Managers approve up to 1000, the CFO any amount; interns never.
@id("cfo-any-amount")
permit(principal in Mcp::Role::"cfo", action == Mcp::Action::"tools/call",
       resource == Mcp::Tool::"approve_expense");

@id("managers-up-to-1000")
permit(principal in Mcp::Role::"manager", action == Mcp::Action::"tools/call",
       resource == Mcp::Tool::"approve_expense")
when { context.arguments has amount && context.arguments.amount <= 1000 };

@id("everyone-reads")
permit(principal, action == Mcp::Action::"tools/call", resource == Mcp::Tool::"list_expenses");

@id("finance-reports-need-scope")
permit(principal, action == Mcp::Action::"tools/call", resource == Mcp::Tool::"finance_report")
when { principal.scopes.contains("finance:read") };

@id("no-untrusted-clients")
@reason("this client may not approve expenses")
forbid(principal, action == Mcp::Action::"tools/call", resource == Mcp::Tool::"approve_expense")
when { context has client && context.client has host && context.client.host == "untrusted.example" };
"#;

fn policies() -> CedarPolicies {
    CedarPolicies::builder()
        .schema_source("expenses.cedarschema", SCHEMA)
        .source("expenses.cedar", EXPENSES)
        .build()
        .unwrap()
}

fn probe(roles: &[&str]) -> PolicyProbe<PolicyLayer> {
    let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
    let authorizer = CedarAuthorizer::new(policies()).step_up_scopes("finance:read mcp:admin");
    PolicyProbe::new(PolicyLayer::new(authorizer, &resource))
        .roles(roles.iter().copied())
        .server(
            MockMcpService::new()
                .tool("approve_expense")
                .tool("list_expenses")
                .tool("finance_report")
                .tool("delete_everything"),
        )
}

#[tokio::test]
async fn the_cfo_approves_any_amount_a_manager_up_to_1000_an_intern_nothing() {
    let (cfo, manager, intern) = (probe(&["cfo"]), probe(&["manager"]), probe(&["intern"]));
    let approve = |amount: i64| json!({"amount": amount});
    cfo.call_tool_with("", "approve_expense", approve(50_000))
        .await
        .assert_allowed();
    manager
        .call_tool_with("", "approve_expense", approve(1000))
        .await
        .assert_allowed();
    let over = manager
        .call_tool_with("", "approve_expense", approve(1001))
        .await;
    over.assert_forbidden();
    assert_eq!(over.body["error"], "access_denied", "{:?}", over.body);
    assert!(
        over.challenge_scope().is_none(),
        "no step-up: no scope helps"
    );
    intern
        .call_tool_with("", "approve_expense", approve(1))
        .await
        .assert_forbidden();
    // No amount at all is not "up to 1000".
    manager
        .call_tool_with("", "approve_expense", json!({}))
        .await
        .assert_forbidden();
}

#[tokio::test]
async fn an_argument_of_the_wrong_type_denies_rather_than_escapes_a_rule() {
    let manager = probe(&["manager"]);
    for sneaky in [
        json!({"amount": "5"}),
        json!({"amount": 5.5}),
        json!({"amount": null}),
        json!({"amount": {"__entity": {"type": "Mcp::Role", "id": "cfo"}}}),
        json!({"amount": {"__extn": {"fn": "decimal", "arg": "1.0"}}}),
    ] {
        manager
            .call_tool_with("", "approve_expense", sneaky.clone())
            .await
            .assert_forbidden();
    }
    // An escape in a role claim makes nobody the CFO either.
    let claims =
        probe(&[]).claims(json!({"roles": [{"__entity": {"type": "Mcp::Role", "id": "cfo"}}]}));
    claims
        .call_tool_with("", "approve_expense", json!({"amount": 1}))
        .await
        .assert_forbidden();
}

#[tokio::test]
async fn roles_come_from_the_claims_the_issuer_keeps_them_in() {
    let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
    let authorizer = CedarAuthorizer::new(policies())
        .claims_for("https://issuer.test", ClaimMap::keycloak("notes-mcp"));
    let probe = PolicyProbe::new(PolicyLayer::new(authorizer, &resource));
    let keycloak_cfo = probe
        .clone()
        .claims(json!({"resource_access": {"notes-mcp": {"roles": ["cfo"]}}}));
    keycloak_cfo
        .call_tool_with("", "approve_expense", json!({"amount": 9999}))
        .await
        .assert_allowed();
    // The generic `roles` claim is not where this issuer keeps roles.
    let elsewhere = probe.claims(json!({"roles": ["cfo"]}));
    elsewhere
        .call_tool_with("", "approve_expense", json!({"amount": 9999}))
        .await
        .assert_forbidden();
}

#[tokio::test]
async fn more_scope_is_asked_for_only_when_it_would_help() {
    let anyone = probe(&[]);
    let outcome = anyone.call_tool("mcp:read", "finance_report").await;
    outcome.assert_step_up("finance:read mcp:read");
    anyone
        .call_tool("mcp:read finance:read", "finance_report")
        .await
        .assert_allowed();
    // Nothing allows this tool at all: no scope would help, no challenge.
    let outcome = anyone.call_tool("mcp:read", "delete_everything").await;
    outcome.assert_forbidden();
    assert!(outcome.challenge_scope().is_none());
    assert!(
        outcome.body["error_description"]
            .as_str()
            .unwrap()
            .contains("delete_everything"),
        "{:?}",
        outcome.body
    );
}

#[tokio::test]
async fn listings_show_what_some_call_could_do() {
    let listed = |roles: &'static [&'static str]| async move {
        let mut names = probe(roles).list_tools("").await.listed();
        names.sort();
        names
    };
    assert_eq!(listed(&["cfo"]).await, ["approve_expense", "list_expenses"]);
    // Allowed for some amounts: listed.
    assert_eq!(
        listed(&["manager"]).await,
        ["approve_expense", "list_expenses"]
    );
    assert_eq!(listed(&["intern"]).await, ["list_expenses"]);
}

#[tokio::test]
async fn a_batch_goes_on_only_if_every_call_does() {
    let manager = probe(&["manager"]);
    let call = |id: i64, tool: &str, amount: i64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": tool, "arguments": {"amount": amount}}})
    };
    manager
        .send(
            "",
            json!([call(1, "list_expenses", 0), call(2, "approve_expense", 10)]),
        )
        .await
        .assert_allowed();
    manager
        .send(
            "",
            json!([
                call(1, "list_expenses", 0),
                call(2, "approve_expense", 5000)
            ]),
        )
        .await
        .assert_forbidden();
}

#[test]
fn bad_policies_name_the_file_the_line_and_the_fix() {
    let typo = CedarPolicies::builder()
        .schema_source("expenses.cedarschema", SCHEMA)
        .source(
            "expenses.cedar",
            "permit(principal, action, resource);\n\npermit(principal in Mcp::Role::\"cfo\", action == Mcp::Action::\"tools/call\", resource)\nwhen { context.arguments.amont <= 10 };\n",
        )
        .build()
        .unwrap_err();
    let text = typo.to_string();
    assert!(text.contains("expenses.cedar:4:"), "{text}");
    assert!(text.contains("amont"), "{text}");
    assert!(text.contains("fix:"), "{text}");

    let syntax = CedarPolicies::builder()
        .source(
            "broken.cedar",
            "permit(principal, action, resource)\nwhen { 1 + };",
        )
        .build()
        .unwrap_err();
    assert!(syntax.to_string().contains("broken.cedar:2:"), "{syntax}");

    let missing = CedarPolicies::builder()
        .file("/nonexistent/policies.cedar")
        .build()
        .unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/policies.cedar"),
        "{missing}"
    );
}

#[test]
fn only_the_arguments_the_schema_declares_reach_the_engine() {
    let declared = policies().declared_arguments().cloned().unwrap();
    let mut names: Vec<_> = declared.into_iter().collect();
    names.sort();
    assert_eq!(names, ["amount", "project"]);
    // No fragment: the calls carry no argument a policy may read.
    let bare = CedarPolicies::builder()
        .source("p.cedar", "permit(principal, action, resource);")
        .build()
        .unwrap();
    assert_eq!(bare.declared_arguments().map(|d| d.len()), Some(0));
}

#[test]
fn a_policy_can_require_an_approved_client() {
    use crate::{Authorize, Call, Decision};
    use mcp_auth_core::record::ClientSummary;
    use mcp_auth_core::{BearerToken, Principal};
    let policies = CedarPolicies::builder()
        .source(
            "clients.cedar",
            r#"
            permit(principal, action == Mcp::Action::"tools/call", resource)
            when { context has client && context.client.approved };
            "#,
        )
        .build()
        .unwrap();
    let authorizer = CedarAuthorizer::new(policies);
    let principal = Principal::builder("https://idp", "alice", BearerToken::new("t")).build();
    let decide = |approved: bool| {
        let client = ClientSummary::new("https://client.example/doc.json")
            .metadata_document(true)
            .approved(approved);
        let call = Call::listing(&principal, Some(&client), crate::Action::CallTool, "x");
        let call = Call {
            arguments: Some(std::sync::Arc::new(serde_json::Value::Null)),
            ..call
        };
        match authorizer.authorize(&call) {
            Decision::Ready(verdict) => verdict.is_allowed(),
            Decision::Pending(_) => unreachable!(),
        }
    };
    assert!(decide(true));
    assert!(!decide(false));
}

#[tokio::test]
async fn a_permit_annotated_approval_marks_the_call_for_a_persons_approval() {
    use mcp_auth_core::mcp::McpRequest;
    use mcp_auth_core::record::ApprovalRequired;
    use mcp_auth_core::{BearerToken, Principal};
    use tower::ServiceExt;
    let policies = CedarPolicies::builder()
        .source(
            "transfers.cedar",
            r#"
            @id("small-transfers")
            permit(principal, action == Mcp::Action::"tools/call", resource == Mcp::Tool::"transfer");

            @id("reads")
            permit(principal, action == Mcp::Action::"tools/call", resource == Mcp::Tool::"balance");
            "#,
        )
        .source(
            "approval.cedar",
            r#"
            @id("transfers-need-approval")
            @approval("the account holder confirms each transfer")
            permit(principal, action == Mcp::Action::"tools/call", resource == Mcp::Tool::"transfer");
            "#,
        )
        .build()
        .unwrap();
    let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
    let layer = PolicyLayer::new(CedarAuthorizer::new(policies), &resource);
    let inner = tower::service_fn(|req: http::Request<String>| async move {
        let by = req
            .extensions()
            .get::<ApprovalRequired>()
            .map(|marked| marked.by.clone());
        Ok::<_, std::convert::Infallible>(http::Response::new(by.unwrap_or_default()))
    });
    let service = tower_layer::Layer::layer(&layer, inner);
    let principal = Principal::builder("https://idp", "alice", BearerToken::new("t")).build();
    let marked_by = |tool: &str| {
        let service = service.clone();
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#
        );
        let mut req = http::Request::post("/mcp").body(String::new()).unwrap();
        req.extensions_mut()
            .insert(McpRequest::parse(body.as_bytes(), &Default::default()).unwrap());
        req.extensions_mut().insert(principal.clone());
        async move {
            let response = service.oneshot(req).await.unwrap();
            use http_body_util::BodyExt as _;
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(bytes.to_vec()).unwrap()
        }
    };
    assert_eq!(marked_by("transfer").await, "transfers-need-approval");
    assert_eq!(
        marked_by("balance").await,
        "",
        "a plain permit marks nothing"
    );
}
