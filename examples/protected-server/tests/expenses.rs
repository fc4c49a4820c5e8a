//! The example's "intern, manager and CFO" story (policies/expenses.cedar): the same scope,
//! different roles in the token's `roles` claim, decided by the policies on the call's amount.

use mcp_auth_testing::McpTestClient;
use protected_server::{Options, Server, start};
use serde_json::{Value, json};

fn as_role(server: &Server, subject: &str, role: &str) -> McpTestClient {
    let token = server
        .dev_issuer
        .as_ref()
        .unwrap()
        .token()
        .subject(subject)
        .scope("mcp:read")
        .claim("roles", json!([role]))
        .sign();
    McpTestClient::new(server.mcp_url.clone()).bearer(token)
}

async fn approve(client: &McpTestClient, amount: i64) -> (u16, Value) {
    let reply = client
        .call_tool("approve_expense", json!({"amount": amount, "text": "taxi"}))
        .await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn the_cfo_any_amount_a_manager_up_to_1000_the_intern_never() {
    let server = start(Options {
        listen: ([127, 0, 0, 1], 0).into(),
        ..Options::default()
    })
    .await
    .unwrap();
    let cfo = as_role(&server, "cleo", "cfo");
    let manager = as_role(&server, "max", "manager");
    let intern = as_role(&server, "ivy", "intern");

    let (status, body) = approve(&cfo, 50_000).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("50000"), "{body}");
    assert_eq!(approve(&manager, 1000).await.0, 200);

    let (status, body) = approve(&manager, 1001).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "access_denied");
    assert_eq!(
        body["error_description"],
        "managers approve expenses of up to 1000; larger ones go to the CFO"
    );
    let (status, body) = approve(&intern, 1).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("approve_expense"),
        "{body}"
    );

    // Other tools are the scopes' business: the intern may still read.
    assert_eq!(intern.call_tool("list_notes", json!({})).await.status, 200);

    let listed = |reply: mcp_auth_testing::McpReply| -> Vec<String> {
        reply.result()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let intern_tools = listed(intern.list_tools().await);
    assert!(
        !intern_tools.contains(&"approve_expense".to_owned()),
        "{intern_tools:?}"
    );
    assert!(
        intern_tools.contains(&"list_notes".to_owned()),
        "{intern_tools:?}"
    );
    let manager_tools = listed(manager.list_tools().await);
    assert!(
        manager_tools.contains(&"approve_expense".to_owned()),
        "{manager_tools:?}"
    );
}
