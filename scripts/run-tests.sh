#!/usr/bin/env bash
# Run pytest with everything the tests need started, and stopped after, even on failure.
#
# PostgreSQL and Redis for the unit tests are started by the test session
# itself (tests/servers.py). The Docker tests need an engine: when none
# answers, this script installs docker.io if it is missing, starts dockerd
# (vfs storage driver: works anywhere, no overlayfs needed) with its log in
# $ALFRED_DOCKERD_LOG, waits for it, builds the test images
# (scripts/build-test-images.sh, cached), runs pytest, and stops the dockerd it
# started (trap), whatever pytest's outcome. An engine that was already
# running is used and left alone. If no engine can be started the Docker
# tests skip, saying why.
#
# Usage: scripts/run-tests.sh PYTEST [PYTEST ARGS...]
set -euo pipefail
pytest=$1
shift
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG=${ALFRED_DOCKERD_LOG:-/tmp/alfred-tui-dockerd.log}
STATE=$(mktemp -d /tmp/alfred-tui-dockerd.XXXXXX)
dockerd_pid=""

say() { printf 'run-tests: %s\n' "$*" >&2; }

stop_dockerd() {
  [[ -n $dockerd_pid ]] || return 0
  say "stopping the dockerd this run started (pid $dockerd_pid)"
  kill -TERM "$dockerd_pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$dockerd_pid" 2>/dev/null || true
  dockerd_pid=""
}

cleanup() {
  stop_dockerd
  rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

start_engine() {
  if ! command -v dockerd >/dev/null 2>&1; then
    say "installing docker.io (dockerd is missing)"
    "${sudo_cmd[@]}" apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
      --no-install-recommends docker.io >&2 || return 1
  fi
  if [[ -n ${DOCKER_HOST:-} ]]; then
    say "DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local dockerd in its place"
    return 1
  fi
  say "no Docker engine answers; starting dockerd --storage-driver=vfs (log: $LOG)"
  # setsid: our own process group, so a Ctrl-C of the tests does not kill it mid-way.
  "${sudo_cmd[@]}" setsid dockerd --storage-driver=vfs \
    --pidfile "$STATE/dockerd.pid" >"$LOG" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 120); do
    if engine_answers; then
      say "dockerd is up"
      return 0
    fi
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
      say "dockerd exited; last lines of $LOG:"
      tail -5 "$LOG" >&2
      dockerd_pid=""
      return 1
    fi
    sleep 0.5
  done
  say "dockerd did not answer within 60 s; see $LOG"
  stop_dockerd
  return 1
}

if engine_answers || start_engine; then
  # The venv's pip (beside pytest) installs the Qdrant stand-in's packages.
  if ! PYTHON=${PYTHON:-$(dirname "$pytest")/python} "$ROOT/scripts/build-test-images.sh"; then
    say "building the test images failed: the Docker tests will try again and report it"
  fi
else
  say "no Docker engine could be started: the Docker tests will be skipped"
fi

set +e
# An unexpected skip fails the run (tests/expected_skips.py).
ALFRED_TUI_STRICT_SKIPS=${ALFRED_TUI_STRICT_SKIPS:-1} "$pytest" -p no:cacheprovider "$@"
status=$?
set -e
exit "$status"
