#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), starting from the seed corpora in
# fuzz/corpus. New inputs go to a scratch directory, crashes to fuzz/artifacts/<target>/ (and the
# script fails). Longer runs: `scripts/fuzz.sh 3600`; one target: `scripts/fuzz.sh 600 jwks`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
only="${2:-}"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
# cargo-fuzz needs nightly-only flags; the stable toolchain accepts them with this switch.
export RUSTC_BOOTSTRAP=1

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cargo fuzz build --release --sanitizer none >/dev/null
for target in $(cargo fuzz list); do
  [ -n "$only" ] && [ "$target" != "$only" ] && continue
  mkdir -p "$scratch/$target"
  cp -r "corpus/$target/." "$scratch/$target/" 2>/dev/null || true
  echo "==> fuzzing $target for ${seconds}s"
  cargo fuzz run --release --sanitizer none "$target" "$scratch/$target" -- \
    -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -a -E "^(stat::number_of_executed_units|stat::new_units_added|==|INFO: seed corpus)|SUMMARY|panicked|Test unit written" || true
  if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
    echo "fuzz target $target found a failing input: see fuzz/artifacts/$target" >&2
    exit 1
  fi
done
echo "fuzzing done: no failures"
