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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
    pub async fn token_request(&self, client: (&str, &str), form: &[(&str, &str)]) -> Value {
        self.token_request_with_proof(client, form, None).await
    }

    /// Posts to the token endpoint with client_secret_basic and, when given, a DPoP proof
    /// (RFC 9449 §5: the provider then binds the token to the proof's key), and returns the JSON
    /// answer.
    pub async fn token_request_with_proof(
        &self,
        (id, secret): (&str, &str),
        form: &[(&str, &str)],
        dpop_proof: Option<&str>,
    ) -> Value {
        let mut request = reqwest::Client::new()
            .post(self.token_endpoint())
            .basic_auth(id, Some(secret))
            .form(form);
        if let Some(proof) = dpop_proof {
            request = request.header("dpop", proof);
        }
        request
            .send()
            .await
            .expect("token endpoint")
            .json()
            .await
            .expect("token response JSON")
    }

    /// The token exchanges the provider itself has seen so far, from its test-only
    /// `GET /test/counters`: `(requests that reached the grant, tokens it issued)`.
    ///
    /// # Panics
    /// If the provider does not answer.
    pub async fn token_exchanges(&self) -> (u64, u64) {
        let counters: Value = reqwest::get(format!("{}/test/counters", self.issuer))
            .await
            .expect("the provider's counters")
            .json()
            .await
            .expect("counters JSON");
        let count = |name: &str| {
            counters["token_exchange"][name]
                .as_u64()
                .unwrap_or_else(|| panic!("no token_exchange.{name} in {counters}"))
        };
        (count("requests"), count("issued"))
    }

    /// The token endpoint (`{issuer}/token`), e.g. the `htu` of a DPoP proof for it.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// Obtains an access token for `resource` with the authorization-code flow and PKCE (S256)
    /// as a public client, headless: the authorization request is followed through the
    /// provider's redirects and its `/interaction` pages (which, with `autoApprove`, log in
    /// `accountId` and grant what was asked), carrying the provider's cookies, up to the
    /// redirect URI (never contacted), whose code is then redeemed. `client_id` may be a Client
    /// ID Metadata Document URL (with `clientIdMetadataDocument` enabled the provider fetches
    /// it).
    ///
    /// # Panics
    /// If the provider stops the flow or refuses the code.
    pub async fn authorization_code(
        &self,
        client_id: &str,
        redirect_uri: &str,
        resource: &str,
        scope: &str,
    ) -> String {
        self.authorization_code_for(None, client_id, redirect_uri, resource, scope)
            .await
    }

    /// Like [`authorization_code`](Self::authorization_code), logging in `account` (one of the
    /// configuration's `accounts`, named in `login_hint`) instead of the default account.
    ///
    /// # Panics
    /// As [`authorization_code`](Self::authorization_code).
    pub async fn authorization_code_for(
        &self,
        account: Option<&str>,
        client_id: &str,
        redirect_uri: &str,
        resource: &str,
        scope: &str,
    ) -> String {
        use sha2::Digest as _;
        let verifier = random_hex(32);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let state = random_hex(8);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        let mut url = reqwest::Url::parse_with_params(
            &format!("{}/auth", self.issuer),
            account.map(|a| ("login_hint", a)).into_iter().chain([
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("scope", scope),
                ("resource", resource),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", &state),
            ]),
        )
        .expect("authorization URL");
        let mut cookies = BTreeMap::<String, String>::new();
        let mut code = None;
        for _ in 0..10 {
            let mut request = http.get(url.clone());
            if !cookies.is_empty() {
                let jar: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
                request = request.header("cookie", jar.join("; "));
            }
            let response = request.send().await.expect("authorization server");
            for set in response.headers().get_all("set-cookie") {
                let set = set.to_str().unwrap_or_default();
                let pair = set.split(';').next().unwrap_or_default();
                if let Some((name, value)) = pair.split_once('=') {
                    if value.is_empty() {
                        cookies.remove(name.trim());
                    } else {
                        cookies.insert(name.trim().to_owned(), value.to_owned());
                    }
                }
            }
            let status = response.status();
            let Some(location) = response.headers().get("location").cloned() else {
                let body = response.text().await.unwrap_or_default();
                panic!("the authorization flow stopped at {status}: {body}");
            };
            let next = url
                .join(location.to_str().expect("Location"))
                .expect("Location URL");
            if next.as_str().starts_with(redirect_uri) {
                let params: BTreeMap<String, String> = next.query_pairs().into_owned().collect();
                assert!(
                    !params.contains_key("error"),
                    "authorization refused: {params:?}"
                );
                assert_eq!(params.get("state"), Some(&state), "the state came back");
                code = params.get("code").cloned();
                break;
            }
            url = next;
        }
        let code = code.expect("the flow reached the redirect URI within 10 redirects");
        let response: Value = reqwest::Client::new()
            .post(self.token_endpoint())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", &verifier),
                ("client_id", client_id),
                ("resource", resource),
            ])
            .send()
            .await
            .expect("token endpoint")
            .json()
            .await
            .expect("token response JSON");
        match response["access_token"].as_str() {
            Some(token) => token.to_owned(),
            None => panic!("no token for the code: {response}"),
        }
    }
}

/// `bytes` random bytes as hex (PKCE verifiers, states), from the standard library's seeded
/// hasher: unpredictable enough for a test.
fn random_hex(bytes: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    while out.len() < bytes * 2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(bytes * 2);
    out
}

/// What one run of the `mcp-auth` command printed and how it exited.
#[derive(Debug)]
pub struct CliRun {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs the operator's command, `mcp-auth ARGS` (crates/mcp-auth-cli), in `cwd`. The binary of
/// another package is not built for this one's tests, so the first call builds it with the
/// cargo running the tests (in the same target directory; nothing to do when it is up to date).
///
/// # Panics
/// If it cannot be built or run.
pub async fn mcp_auth_cli(args: &[&str], cwd: &Path) -> CliRun {
    static BINARY: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    let binary = BINARY.get_or_init(build_cli).await;
    let output = Command::new(binary)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run mcp-auth");
    CliRun {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn build_cli() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds tests/");
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--locked",
            "--package",
            "mcp-auth-cli",
            "--bin",
            "mcp-auth",
            "--message-format=json",
        ])
        .current_dir(workspace)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build -p mcp-auth-cli failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "mcp-auth")
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported the mcp-auth executable")
}

/// Runs the MCP Python client (`fixtures/python/mcp_client.py`, in its virtual environment)
/// and returns its one-line JSON report, the same contract as [`ts_client`].
///
/// # Panics
/// If the virtual environment is missing or the script prints no report within 60 seconds.
pub async fn py_client(args: &[&str]) -> Value {
    let (dir, python) = python_fixture();
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

/// Which official MCP client fixture to run: [`ts_client`] or [`py_client`], same arguments and
/// report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdkClient {
    /// `fixtures/node/mcp-client.mjs`.
    TypeScript,
    /// `fixtures/python/mcp_client.py`.
    Python,
}

impl SdkClient {
    /// Both.
    pub const ALL: [SdkClient; 2] = [SdkClient::TypeScript, SdkClient::Python];

    /// Runs the client with `args` and returns its report.
    pub async fn run(self, args: &[&str]) -> Value {
        match self {
            SdkClient::TypeScript => ts_client(args).await,
            SdkClient::Python => py_client(args).await,
        }
    }
}

/// Which official SDK an upstream fixture is written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamSdk {
    /// `fixtures/node/mcp-upstream.mjs`: the TypeScript SDK's `McpServer` and
    /// `StreamableHTTPServerTransport` on `node:http`.
    TypeScript,
    /// `fixtures/python/mcp_upstream.py`: the Python SDK's `MCPServer` (formerly FastMCP) and
    /// its Streamable HTTP app, run by uvicorn.
    Python,
}

impl UpstreamSdk {
    /// Both, for tests that run against each.
    pub const ALL: [UpstreamSdk; 2] = [UpstreamSdk::TypeScript, UpstreamSdk::Python];
}

/// How an upstream fixture verifies the identity assertion the gateway sends it as
/// `Authorization: Bearer <jwt>`: signature against the JWKS at `jwks_url`, `iss`, `aud`, and an
/// `exp` must be present (and not past).
#[derive(Clone, Debug)]
pub struct AssertionCheck {
    /// The gateway's JWKS URL.
    pub jwks_url: String,
    /// The `iss` the assertion must carry.
    pub issuer: String,
    /// The `aud` the assertion must carry.
    pub audience: String,
}

/// How to start an upstream fixture. The default: stateless, no assertion check.
#[derive(Clone, Debug, Default)]
pub struct UpstreamOptions {
    /// Sessions (`Mcp-Session-Id`): the GET stream and DELETE work per session. Stateless
    /// otherwise (the TypeScript fixture then answers GET and DELETE with 405).
    pub stateful: bool,
    /// Verify every MCP request's bearer token as an identity assertion; the outcome is in the
    /// request records ([`Upstream::requests`]) and the `whoami` tool. Requests are served
    /// whatever it is.
    pub assertion: Option<AssertionCheck>,
}

/// A running upstream MCP server fixture (see `fixtures/node/README.md` and
/// `fixtures/python/README.md`): no authentication of its own, tools `echo`, `write_note`,
/// `whoami` and `progress`, and a record of every request that reached its MCP endpoint.
/// Dropping it stops the process.
pub struct Upstream {
    /// Its MCP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// Its origin, `http://127.0.0.1:PORT`.
    pub base: String,
    _child: Child,
}

impl Upstream {
    /// Starts the fixture of `sdk` on an ephemeral port of 127.0.0.1.
    ///
    /// # Panics
    /// If the fixture is not installed, or does not print its URL within 30 seconds.
    pub async fn start(sdk: UpstreamSdk, options: UpstreamOptions) -> Upstream {
        let mut args: Vec<String> = Vec::new();
        if options.stateful {
            args.push("--stateful".into());
        }
        if let Some(check) = &options.assertion {
            args.extend([
                "--assertion-jwks".into(),
                check.jwks_url.clone(),
                "--assertion-issuer".into(),
                check.issuer.clone(),
                "--assertion-audience".into(),
                check.audience.clone(),
            ]);
        }
        let mut command = match sdk {
            UpstreamSdk::TypeScript => {
                require_node_modules();
                let mut command = Command::new("node");
                command.arg("mcp-upstream.mjs").current_dir(node_fixtures());
                command
            }
            UpstreamSdk::Python => {
                let (dir, python) = python_fixture();
                let mut command = Command::new(python);
                command.arg("mcp_upstream.py").current_dir(dir);
                command
            }
        };
        // A piped stdin: the fixture exits at its EOF, so it dies with the test process even
        // when nothing drops this value.
        let mut child = command
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start the {sdk:?} upstream fixture: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("the {sdk:?} upstream did not start within 30 s"))
            .expect("read the upstream's stdout")
            .unwrap_or_else(|| panic!("the {sdk:?} upstream exited before printing its URL"));
        let announced: Value = serde_json::from_str(&line).expect("the upstream's URL line");
        let field = |name: &str| {
            announced[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {line}"))
                .to_owned()
        };
        Upstream {
            url: field("url"),
            base: field("base"),
            _child: child,
        }
    }

    /// Every request its MCP endpoint has received so far, in arrival order, from its test-only
    /// `GET /_test/requests`: `{"method", "path", "headers": {lower-case name: value},
    /// "assertion": null | {"valid": true, "claims"} | {"valid": false, "error"}}`.
    ///
    /// # Panics
    /// If the fixture does not answer.
    pub async fn requests(&self) -> Vec<Value> {
        reqwest::get(format!("{}/_test/requests", self.base))
            .await
            .expect("the upstream's request records")
            .json()
            .await
            .expect("request records JSON")
    }
}

/// The Python fixture directory and its virtual environment's interpreter.
fn python_fixture() -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/python");
    let python = dir.join(".venv/bin/python");
    assert!(
        python.exists(),
        "the Python fixture is not installed: run `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt` in {} (scripts/test.sh does it)",
        dir.display()
    );
    (dir, python)
}

/// The POSTs a client fixture's report shows it made to `url`: each one's status (0 when no
/// answer came) and `WWW-Authenticate` challenge (empty when none).
pub fn posts_to(report: &Value, url: &str) -> Vec<(u64, String)> {
    report["requests"]
        .as_array()
        .expect("the report lists its requests")
        .iter()
        .filter(|r| r["url"] == url && r["method"] == "POST")
        .map(|r| {
            (
                r["status"].as_u64().unwrap_or(0),
                r["www_authenticate"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// A server with no auth that answers every `POST /mcp` with an empty JSON-RPC result; returns
/// its MCP URL.
pub async fn json_rpc_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = axum::Router::new().route(
        "/mcp",
        axum::routing::post(|| async { r#"{"jsonrpc":"2.0","id":1,"result":{}}"# }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/mcp")
}

/// Starts `mcp-auth-gateway` on `listener` (bound by the caller, who may need its address
/// first) with `config` as its TOML file, written to a fresh temporary file.
///
/// # Panics
/// If the gateway does not start.
pub async fn gateway_on(
    listener: tokio::net::TcpListener,
    config: &str,
) -> mcp_auth_gateway::Gateway {
    let addr = listener.local_addr().expect("address");
    let path = std::env::temp_dir().join(format!(
        "mcp-auth-gateway-{}-{}-{}.toml",
        std::process::id(),
        addr.port(),
        random_hex(4)
    ));
    std::fs::write(&path, config).expect("write the gateway's configuration");
    mcp_auth_gateway::Gateway::start_on(
        listener,
        mcp_auth_gateway::GatewayOptions {
            listen: addr,
            config: Some(path),
            overrides: mcp_auth_gateway::Overrides::default(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the gateway did not start: {e}"))
}
