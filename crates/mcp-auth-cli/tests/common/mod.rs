//! Running the built `mcp-auth` binary, shared by the CLI's test files.

use std::path::Path;

use tokio::process::Command;

/// What one run printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `mcp-auth ARGS` in `cwd`.
pub async fn mcp_auth(args: &[&str], cwd: &Path) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
        .args(args)
        .current_dir(cwd)
        .output()
        .await
        .expect("run mcp-auth");
    Run {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}
