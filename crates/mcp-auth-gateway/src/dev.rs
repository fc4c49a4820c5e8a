//! `--dev-issuer` (feature `dev-issuer`): an embedded development issuer, so that the gateway
//! can be tried with no identity provider. It signs whatever it is asked to; never use it for
//! anything but a local experiment.

use mcp_auth_gateway::Overrides;
use mcp_auth_testing::MockIssuer;

/// With `wanted`, starts the issuer for the gateway's resource (`--resource`, else its own
/// `http://<listen>/mcp`) and makes `overrides` trust it.
pub(crate) async fn apply(
    wanted: bool,
    mut overrides: Overrides,
    listen: std::net::SocketAddr,
) -> (Overrides, Option<(MockIssuer, String)>) {
    if !wanted {
        return (overrides, None);
    }
    let resource = overrides
        .resource
        .get_or_insert_with(|| format!("http://{listen}/mcp"))
        .clone();
    let issuer = start(&resource).await;
    overrides.issuer = Some(issuer.issuer().to_owned());
    (overrides, Some((issuer, resource)))
}

/// Starts the issuer for tokens whose audience is `resource`.
async fn start(resource: &str) -> MockIssuer {
    MockIssuer::builder().audience(resource).start().await
}

/// Prints tokens and a first request to try.
pub(crate) fn print_tokens(issuer: &MockIssuer, resource: &str) {
    let token = issuer
        .token()
        .scope("mcp:read mcp:write")
        .expires_in(std::time::Duration::from_secs(3600))
        .sign();
    println!(
        "\nDevelopment issuer: {} (the token below lasts one hour)",
        issuer.issuer()
    );
    println!("\nTOKEN={token}\n");
    println!("# list the tools of the server behind the gateway");
    println!(
        "curl -s {resource} -H \"authorization: Bearer $TOKEN\" \
         -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
         -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}}'\n"
    );
    println!("# no token: 401 and a challenge naming the metadata document");
    println!("curl -si {resource} -d '{{}}'\n");
}
