#!/usr/bin/env bash
# Supply-chain checks that need no network:
# - exactly one crypto backend (aws-lc-rs) in every library crate's dependency tree: no ring,
#   no RustCrypto RSA/ECDSA/EdDSA, no OpenSSL, and jsonwebtoken without its `rust_crypto` backend
#   (it panics at run time when both backends are enabled);
# - licenses and duplicate major versions, by cargo-deny, when it is installed (deny.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

crates="mcp-auth-core mcp-auth-fetch mcp-auth-jwt mcp-auth-scope mcp-auth-cimd mcp-auth-obo mcp-auth-audit mcp-auth mcp-auth-testing mcp-auth-cli mcp-auth-redis"
forbidden="ring|rsa|p256|p384|ed25519-dalek|openssl|openssl-sys|native-tls"
status=0
for crate in $crates; do
  tree="$(cargo tree --locked -p "$crate" -e normal --all-features --prefix none --no-dedupe 2>/dev/null)"
  found="$(grep -E "^($forbidden) v" <<<"$tree" | sort -u || true)"
  if [ -n "$found" ]; then
    echo "error: $crate pulls in a second crypto backend: $found" >&2
    status=1
  fi
  if grep -q "^jsonwebtoken v" <<<"$tree"; then
    features="$(cargo tree --locked -p "$crate" -e features --all-features -i jsonwebtoken --prefix none 2>/dev/null)"
    if grep -q 'jsonwebtoken feature "rust_crypto"' <<<"$features"; then
      echo "error: $crate enables jsonwebtoken's rust_crypto backend" >&2
      status=1
    fi
  fi
done
[ "$status" -eq 0 ] && echo "one crypto backend (aws-lc-rs) in every library crate: ok"

if command -v cargo-deny >/dev/null 2>&1; then
  cargo deny --locked check licenses bans sources
else
  echo "cargo-deny is not installed: skipping the license and duplicate-version checks (cargo install cargo-deny)"
fi
exit "$status"
