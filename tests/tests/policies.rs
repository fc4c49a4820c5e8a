//! The example's intern, manager and CFO (`examples/protected-server/policies/expenses.cedar`)
//! with real parts: npm `oidc-provider` logs each of them in (the authorization request's
//! `login_hint`) and puts their `roles` claim in the JWT access token (its `extraTokenClaims`
//! hook), and the official MCP TypeScript client, authorising with the authorization-code flow,
//! calls `approve_expense` and lists the tools. The Cedar policies decide on the roles and the
//! amount: the CFO any amount, the manager up to 1000 (above: 403 with the policy's reason), the
//! intern never; no refusal asks for more scope.

use mcp_auth_e2e::{Provider, tool_text, ts_client};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:8976/callback";
const CLIENT: &str = "agent";
/// The `@reason` of `larger-expenses-go-to-the-cfo`.
const REASON: &str = "managers approve expenses of up to 1000; larger ones go to the CFO";

async fn provider() -> Provider {
    Provider::start(json!({
        "scopes": ["mcp:read", "mcp:write", "mcp:admin"],
        "accounts": {
            "ivy": {"roles": ["intern"]},
            "max": {"roles": ["manager"]},
            "cleo": {"roles": ["cfo"]},
        },
        "clients": [{
            // Allowed every scope, so that a step-up, had the server asked for one, would
            // succeed and show as a second authorization rather than fail at the provider.
            "client_id": CLIENT,
            "grant_types": ["authorization_code"],
            "redirect_uris": [REDIRECT],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "mcp:read mcp:write mcp:admin",
        }],
    }))
    .await
}

async fn server(provider: &Provider) -> protected_server::Server {
    protected_server::start(protected_server::Options {
        listen: ([127, 0, 0, 1], 0).into(),
        resource: None,
        issuer: Some(provider.issuer.clone()),
        ..Default::default()
    })
    .await
    .expect("server starts")
}

/// What one run of the TypeScript client as `user` did.
struct Run {
    report: Value,
    user: &'static str,
}

impl Run {
    /// The client, logged in as `user` (with `--login-hint`), asking for `mcp:read`, doing
    /// `operation` (`--tool …` or `--list`).
    async fn as_user(
        provider: &Provider,
        server: &protected_server::Server,
        user: &'static str,
        operation: &[&str],
    ) -> Run {
        let mut args = vec![
            "--url",
            &server.mcp_url,
            "--oauth",
            "authorization_code",
            "--client-id",
            CLIENT,
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "mcp:read",
            "--expected-issuer",
            &provider.issuer,
            "--login-hint",
            user,
        ];
        args.extend_from_slice(operation);
        let report = ts_client(&args).await;
        Run { report, user }
    }

    fn requests(&self) -> &[Value] {
        self.report["requests"].as_array().expect("requests")
    }

    /// `(status, WWW-Authenticate)` of every POST to the MCP endpoint, in order.
    fn mcp_posts(&self, server: &protected_server::Server) -> Vec<(u64, String)> {
        self.requests()
            .iter()
            .filter(|r| r["url"] == server.mcp_url.as_str() && r["method"] == "POST")
            .map(|r| {
                (
                    r["status"].as_u64().unwrap_or(0),
                    r["www_authenticate"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    /// One authorization request, as this user, redeemed once: nothing asked for more.
    fn assert_one_authorization(&self, provider: &Provider) {
        let report = &self.report;
        let authorizations: Vec<&str> = self
            .requests()
            .iter()
            .filter_map(|r| r["url"].as_str())
            .filter(|url| url.starts_with(&format!("{}/auth?", provider.issuer)))
            .collect();
        assert_eq!(
            authorizations.len(),
            1,
            "one authorization flow for {}, no step-up: {report}",
            self.user
        );
        assert!(
            authorizations[0].contains(&format!("login_hint={}", self.user)),
            "the user agent named {}: {report}",
            self.user
        );
        let tokens = self
            .requests()
            .iter()
            .filter(|r| r["method"] == "POST" && r["url"] == provider.token_endpoint().as_str())
            .count();
        assert_eq!(tokens, 1, "one token request for {}: {report}", self.user);
    }

    /// The call went through: its result names the amount and the approver.
    fn assert_approved(&self, server: &protected_server::Server, amount: u32) {
        let report = &self.report;
        assert_eq!(
            report["ok"], true,
            "{} may approve {amount}: {report}",
            self.user
        );
        assert_ne!(report["result"]["isError"], true, "{report}");
        let text = tool_text(&report["result"]);
        assert!(
            text.contains(&amount.to_string()) && text.contains(self.user),
            "the approval of {amount} by {}: {text}",
            self.user
        );
        assert_eq!(
            self.mcp_posts(server).last().map(|p| p.0),
            Some(200),
            "{report}"
        );
    }

    /// The call was refused with a plain 403 (not a step-up challenge) and the SDK reported it
    /// without retrying; returns the SDK's error message.
    fn assert_refused(&self, server: &protected_server::Server, amount: u32) -> &str {
        let report = &self.report;
        assert_eq!(
            report["ok"], false,
            "{} may not approve {amount}: {report}",
            self.user
        );
        let error = report["error"].as_str().expect("an error message");
        assert!(error.contains("(HTTP 403)"), "{error}");
        assert!(error.contains(r#""error":"access_denied""#), "{error}");
        let posts = self.mcp_posts(server);
        let refusals: Vec<&(u64, String)> = posts.iter().filter(|(s, _)| *s == 403).collect();
        assert_eq!(refusals.len(), 1, "one 403, not retried: {report}");
        assert!(
            !refusals[0].1.contains("insufficient_scope"),
            "no scope would help, so no step-up is asked for: {report}"
        );
        assert_eq!(posts.last().map(|p| p.0), Some(403), "{report}");
        error
    }

    /// The names of the listed tools.
    fn tools(&self) -> Vec<&str> {
        let report = &self.report;
        assert_eq!(report["ok"], true, "{} lists tools: {report}", self.user);
        report["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("no tools in {report}"))
            .iter()
            .map(|t| t["name"].as_str().expect("tool name"))
            .collect()
    }
}

fn approve(amount: u32) -> [String; 4] {
    [
        "--tool".to_owned(),
        "approve_expense".to_owned(),
        "--args".to_owned(),
        json!({ "amount": amount }).to_string(),
    ]
}

async fn approving(
    provider: &Provider,
    server: &protected_server::Server,
    user: &'static str,
    amount: u32,
) -> Run {
    let args = approve(amount);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = Run::as_user(provider, server, user, &args).await;
    run.assert_one_authorization(provider);
    run
}

async fn listing(
    provider: &Provider,
    server: &protected_server::Server,
    user: &'static str,
) -> Run {
    let run = Run::as_user(provider, server, user, &["--list"]).await;
    run.assert_one_authorization(provider);
    run
}

#[tokio::test]
async fn the_cfo_any_amount_the_manager_up_to_1000_the_intern_never_with_oidc_provider_roles() {
    let provider = provider().await;
    let server = server(&provider).await;

    // The CFO: both amounts.
    approving(&provider, &server, "cleo", 800)
        .await
        .assert_approved(&server, 800);
    approving(&provider, &server, "cleo", 5000)
        .await
        .assert_approved(&server, 5000);
    let cleo_tools = listing(&provider, &server, "cleo").await;
    assert!(
        cleo_tools.tools().contains(&"approve_expense"),
        "{}",
        cleo_tools.report
    );

    // The manager: 800, not 5000, and told why.
    approving(&provider, &server, "max", 800)
        .await
        .assert_approved(&server, 800);
    let refused = approving(&provider, &server, "max", 5000).await;
    let error = refused.assert_refused(&server, 5000);
    assert!(
        error.contains(&format!(r#""error_description":"{REASON}""#)),
        "the policy's reason: {error}"
    );
    let max_tools = listing(&provider, &server, "max").await;
    assert!(
        max_tools.tools().contains(&"approve_expense"),
        "{}",
        max_tools.report
    );

    // The intern: never, not for the manager's reason, and the tool is not listed.
    for amount in [800, 5000] {
        let refused = approving(&provider, &server, "ivy", amount).await;
        let error = refused.assert_refused(&server, amount);
        assert!(error.contains("approve_expense"), "{error}");
        assert!(!error.contains(REASON), "the intern is no manager: {error}");
    }
    let ivy_tools = listing(&provider, &server, "ivy").await;
    let names = ivy_tools.tools();
    assert!(!names.contains(&"approve_expense"), "{names:?}");
    assert!(
        names.contains(&"list_notes"),
        "the other tools stay the scopes' business: {names:?}"
    );
}
