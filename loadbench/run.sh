#!/usr/bin/env bash
# The loopback load benchmark in one command.
#
#   loadbench/run.sh            full run (3 rounds x 10 s per configuration, floods, 1M-token memory run)
#   loadbench/run.sh --quick    smoke run (about two minutes)
#
# Any other arguments go to `loadbench run` (see loadbench/README.md). Results land in
# loadbench/results/ (loadbench/results/quick/ for --quick). Needs Linux, two CPUs or more,
# cargo, and wrk + taskset + nginx (wrk and nginx are installed from the Debian packages when
# missing).
set -euo pipefail
cd "$(dirname "$0")"

# Installs a Debian package when its command is missing.
install_missing() {
    local command="$1" package="$2"
    command -v "$command" >/dev/null 2>&1 && return 0
    [ -x "/usr/sbin/$command" ] && return 0 # nginx, outside a non-root PATH
    echo "installing $package (Debian package)..." >&2
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y "$package" >/dev/null || { apt-get update >/dev/null && apt-get install -y "$package" >/dev/null; }
    else
        sudo apt-get install -y "$package" >/dev/null || { sudo apt-get update >/dev/null && sudo apt-get install -y "$package" >/dev/null; }
    fi
}

install_missing wrk wrk
# nginx is the plain reverse proxy the gateway is compared with. The benchmark runs its own
# nginx (generated configuration, in the foreground, in a scratch directory); the package's
# service, if the system starts one, is left alone. Not needed when --configs leaves nginx out.
case " $* " in
    *" --configs "*) case "$*" in *nginx*) install_missing nginx nginx ;; esac ;;
    *) install_missing nginx nginx ;;
esac
command -v taskset >/dev/null 2>&1 || { echo "taskset (util-linux) is required" >&2; exit 1; }

# Its own workspace, lock file and target directory: never the main workspace's.
export CARGO_TARGET_DIR="$PWD/target"
cargo build --release --locked

exec "$CARGO_TARGET_DIR/release/loadbench" run "$@"
