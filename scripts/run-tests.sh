#!/usr/bin/env bash
# Run pytest with everything the tests need started, and stopped after, even on failure.
# PostgreSQL and Redis are started by the test session itself (tests/servers.py).
set -euo pipefail
pytest=$1; shift
"$pytest" -p no:cacheprovider "$@"
