#!/usr/bin/env bash
# The loopback load benchmark in one command.
#
#   loadbench/run.sh            full run (3 rounds x 10 s per configuration, floods, 1M-token memory run)
#   loadbench/run.sh --quick    smoke run (about two minutes)
#
# Any other arguments go to `loadbench run` (see loadbench/README.md). Results land in
# loadbench/results/ (loadbench/results/quick/ for --quick). Needs Linux, two CPUs or more,
# cargo, and wrk + taskset (wrk is installed from the Debian package when missing).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk (Debian package)..." >&2
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        sudo apt-get install -y wrk >/dev/null || { sudo apt-get update >/dev/null && sudo apt-get install -y wrk >/dev/null; }
    fi
fi
command -v taskset >/dev/null 2>&1 || { echo "taskset (util-linux) is required" >&2; exit 1; }

# Its own workspace, lock file and target directory: never the main workspace's.
export CARGO_TARGET_DIR="$PWD/target"
cargo build --release --locked

exec "$CARGO_TARGET_DIR/release/loadbench" run "$@"
