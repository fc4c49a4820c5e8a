//! Helpers that start real third-party components on 127.0.0.1 for the end-to-end tests: the
//! `oidc-provider` authorization server and the official MCP TypeScript client from
//! `fixtures/node` (installed by `npm ci` there), and the official MCP Python client from
//! `fixtures/python` (a virtual environment there). The project's test command installs both.
//!
//! oidc-provider has no RFC 8693 grant of its own: the token exchange it performs in these tests
//! is a custom grant written in `fixtures/node/provider.mjs`, so those tests prove our client
//! against oidc-provider's client authentication and token issuance, and against our reading of
//! RFC 8693, not against an independent implementation of the grant. Some tests here (hostile
//! clients, redaction) use the project's own `MockIssuer` rather than a third-party server.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The Node fixture directory.
pub fn node_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/node")
}

fn require_node_modules() {
    let modules = node_fixtures().join("node_modules");
    assert!(
        modules.join("oidc-provider").exists()
            && modules.join("@modelcontextprotocol/sdk").exists(),
        "the Node fixtures are not installed: run `npm ci` in {} (scripts/test.sh does it)",
        node_fixtures().display()
    );
}

/// An oidc-provider client (its metadata as the fixture's `clients` take it) that obtains
/// tokens for itself with the client-credentials grant, limited to `scope`.
pub fn client_credentials_client((id, secret): (&str, &str), scope: &str) -> Value {
    serde_json::json!({
        "client_id": id,
        "client_secret": secret,
        "grant_types": ["client_credentials"],
        "redirect_uris": [],
        "response_types": [],
        "scope": scope,
    })
}

/// A running oidc-provider. Dropping it stops the process.
pub struct Provider {
    /// Its issuer identifier.
    pub issuer: String,
    _child: Child,
}

impl Provider {
    /// Starts the provider with a configuration (see `fixtures/node/README.md`).
    ///
    /// # Panics
    /// If it does not start within 30 seconds.
    pub async fn start(config: Value) -> Provider {
        require_node_modules();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(node_fixtures())
            .env("PROVIDER_CONFIG", config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node provider.mjs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("oidc-provider did not start within 30 s")
            .expect("read provider stdout")
            .expect("oidc-provider exited before printing its issuer");
        let issuer = serde_json::from_str::<Value>(&line).expect("issuer line")["issuer"]
            .as_str()
            .expect("issuer")
            .to_owned();
        Provider {
            issuer,
            _child: child,
        }
    }

    /// Obtains an access token with the client-credentials grant.
    ///
    /// # Panics
    /// If the provider refuses.
    pub async fn client_credentials(
        &self,
        client: (&str, &str),
        resource: &str,
        scope: &str,
    ) -> String {
        let response = self
            .token_request(
                client,
                &[
                    ("grant_type", "client_credentials"),
                    ("resource", resource),
                    ("scope", scope),
                ],
            )
            .await;
        response["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {response}"))
            .to_owned()
    }

    /// Posts to the token endpoint with client_secret_basic and returns the JSON answer.
    pub async fn token_request(&self, (id, secret): (&str, &str), form: &[(&str, &str)]) -> Value {
        reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await
            .expect("token endpoint")
            .json()
            .await
            .expect("token response JSON")
    }
}

/// Runs the MCP Python client (`fixtures/python/mcp_client.py`, in its virtual environment)
/// and returns its one-line JSON report, the same contract as [`ts_client`].
///
/// # Panics
/// If the virtual environment is missing or the script prints no report within 60 seconds.
pub async fn py_client(args: &[&str]) -> Value {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/python");
    let python = dir.join(".venv/bin/python");
    assert!(
        python.exists(),
        "the Python fixture is not installed: run `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt` in {} (scripts/test.sh does it)",
        dir.display()
    );
    run_report(
        Command::new(python)
            .arg("mcp_client.py")
            .args(args)
            .current_dir(dir),
    )
    .await
}

async fn run_report(command: &mut Command) -> Value {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        command.stdin(Stdio::null()).kill_on_drop(true).output(),
    )
    .await
    .expect("the client did not finish within 60 s")
    .expect("run the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no report from the client; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    serde_json::from_str(line).expect("report JSON")
}

/// Runs the MCP TypeScript client (`fixtures/node/mcp-client.mjs`) and returns its one-line
/// JSON report: `{"ok", "result" | "error", "requests": [{method, url, status, www_authenticate}]}`.
///
/// # Panics
/// If the script cannot run or prints no report within 60 seconds.
pub async fn ts_client(args: &[&str]) -> Value {
    require_node_modules();
    run_report(
        Command::new("node")
            .arg("mcp-client.mjs")
            .args(args)
            .current_dir(node_fixtures()),
    )
    .await
}

/// Runs the DPoP client fixture (`fixtures/node/dpop-client.mjs`, built on `jose`): it obtains a
/// DPoP-bound token from `issuer` for `mcp_url` and calls it once per proof case, returning
/// `{"token_type", "cnf", "cases": {name: {"status", "challenge"}}}`.
///
/// # Panics
/// If the script cannot run or prints no report within 60 seconds.
pub async fn dpop_client(issuer: &str, client: (&str, &str), mcp_url: &str) -> Value {
    require_node_modules();
    run_report(
        Command::new("node")
            .arg("dpop-client.mjs")
            .args([issuer, client.0, client.1, mcp_url])
            .current_dir(node_fixtures()),
    )
    .await
}

/// The claims of a JWT, unverified (for assertions about what an issuer put in a token).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("claims JSON")
}

/// The text content of the first block of an MCP tool result.
pub fn tool_text(result: &Value) -> &str {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content in {result}"))
}
