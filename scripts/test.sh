#!/usr/bin/env bash
# Installs what the tests need and runs them all: unit, integration, doc and end-to-end tests
# (the latter against a real oidc-provider, the official MCP clients and redis-server on
# 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is required ($2)" >&2; exit 1; }; }
need cargo "install Rust from https://rustup.rs"
need node "install Node.js 20 or later"
need npm "install Node.js 20 or later"

echo "==> installing the Node fixtures (oidc-provider, @modelcontextprotocol/sdk)"
(cd tests/fixtures/node && npm ci --no-audit --no-fund --loglevel=error)

echo "==> installing the Python fixture (the MCP Python SDK) in a virtual environment"
need python3 "install Python 3.10 or later"
(cd tests/fixtures/python && { [ -x .venv/bin/python ] || python3 -m venv .venv; } \
  && .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt)

echo "==> installing redis-server (Debian package) for the shared-state tests"
if ! command -v redis-server >/dev/null 2>&1; then
  sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends redis-server
fi
need redis-server "apt-get install redis-server"

echo "==> cargo test"
cargo test --workspace --locked "$@"

echo "==> loadbench's own tests (its own workspace, lock file and target directory)"
(cd loadbench && CARGO_TARGET_DIR="$PWD/target" cargo test --locked --lib --bins)

echo "==> dependency checks (one crypto backend; licenses, bans and sources with cargo-deny)"
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny --version 0.20.2
bash scripts/check-deps.sh

echo "==> fuzzing every target briefly (scripts/fuzz.sh SECONDS for longer runs)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-15}"
