#!/usr/bin/env bash
# What `make test` needs besides Python, checked before anything runs: each missing piece
# is one line naming it and how to get it, and the run stops. `.ci/run` starts or installs
# all of them on a Debian machine; `make test-quick` (SQLite only) needs none of them.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-python3}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
MARIADB_URL=${MARIADB_URL:-mysql://root@127.0.0.1:3306/test}
REDIS_TEST_URL=${REDIS_TEST_URL:-redis://127.0.0.1:6379/15}
missing=0

need() {  # need WHAT HOW: one line, and the run will stop
  echo "make test needs $1: $2" >&2
  missing=1
}

reachable() {  # reachable URL: a TCP connection to its host and port within 3 s
  "$PY" - "$1" <<'PYTHON' 2>/dev/null
import socket, sys
from urllib.parse import urlsplit
url = urlsplit(sys.argv[1])
socket.create_connection((url.hostname, url.port), timeout=3).close()
PYTHON
}

reachable "$PG_URL" || need "PostgreSQL at $PG_URL" \
  "not reachable (start it, or set PG_URL; .ci/run starts it; make test-quick needs none)"
reachable "$MARIADB_URL" || need "MariaDB at $MARIADB_URL" \
  "not reachable (start it, or set MARIADB_URL; .ci/run starts it; make test-quick needs none)"
reachable "$REDIS_TEST_URL" || need "Redis at $REDIS_TEST_URL" \
  "not reachable (start it, or set REDIS_TEST_URL; .ci/run starts it; make test-quick needs none)"
[ -x /usr/bin/chromium ] || need "Chromium at /usr/bin/chromium" \
  "not installed (apt-get install chromium; .ci/run installs it)"
command -v npm >/dev/null || need "npm (Node.js)" \
  "not found, for axe-core from the npm registry (apt-get install npm)"
exit $missing
