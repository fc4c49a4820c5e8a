//! `mcp-auth`: the operator's command for mcp-auth.
//!
//! ```text
//! mcp-auth clients inspect URL     fetch and validate a client's metadata document, show who it claims to be
//! mcp-auth clients approve URL     record the client and its document digest in the registry file
//! mcp-auth clients list            list approved clients
//! mcp-auth clients revoke URL      remove a client from the registry
//! mcp-auth doctor --issuer URL --resource URL [--token T] [--server MCP_URL]
//!                                  why a token is refused, and whether clients can find their way
//! ```
//!
//! Exit codes: 0 success; 1 refused (invalid client id or document, not approved, not in the
//! registry; a doctor check failed); 2 usage (bad arguments, unreadable `--ca-file`); 3 unavailable (the document
//! could not be fetched now, or the registry file cannot be read or written).
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod cli;
mod commands;
mod doctor;
mod output;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Usage errors print the usage and exit 2; `--help` and `--version` exit 0.
    let matches = cli::command().get_matches();
    match commands::run(&matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) if failure.quiet => ExitCode::from(failure.code),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            if let Some(hint) = failure.hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(failure.code)
        }
    }
}
