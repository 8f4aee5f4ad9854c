#!/usr/bin/env bash
# The matrix `make test` runs: every database / session engine / Django combination we
# support, each a full pytest run. Says what it ran and what it skipped; exits non-zero if
# any run failed, or (under CI=true) if any run had to be skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
MARIADB_URL=${MARIADB_URL:-mysql://root@127.0.0.1:3306/test}
REDIS_TEST_URL=${REDIS_TEST_URL:-redis://127.0.0.1:6379/15}
ENGINE=django.contrib.sessions.backends
PYTEST_ARGS=${PYTEST_ARGS:-}
ci=false
case "${CI:-}" in 1 | true | TRUE | yes) ci=true ;; esac

declare -a summary
failed=0

run() {  # run NAME PYTHON [ENV...] [-- PYTEST ARGS...]
  local name=$1 python=$2
  shift 2
  local -a environment=() arguments=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do environment+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  arguments=("$@")
  echo
  echo "=== $name"
  local log rc verdict
  log=$(mktemp)
  env "${environment[@]}" "$python" -m pytest -q -p no:cacheprovider $PYTEST_ARGS "${arguments[@]}" \
    2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  verdict=$(scripts/verdict.sh "$log" "$rc")
  rm -f "$log"
  case $verdict in
    passed) summary+=("passed   $name") ;;
    skipped)  # a run that tested nothing is not a pass
      summary+=("skipped  $name: no test ran, or every one was skipped")
      failed=1 ;;
    *) summary+=("FAILED   $name"); failed=1 ;;
  esac
}

skip() {  # skip NAME REASON
  summary+=("skipped  $1: $2")
  echo
  echo "=== $1: skipped, $2"
  if $ci; then failed=1; fi
}

py=.venv/bin/python
run "The demo site, with the browser tests (SQLite + db)" $py E2E=1 -- --ds=config.settings tests/demo
run "SQLite + db engine, with the host projects (Django $($py -c 'import django; print(django.__version__)'))" $py HOSTS=1 E2E=1
run "SQLite + file engine" $py SESSION_ENGINE=$ENGINE.file
run "PostgreSQL + db engine" $py DATABASE_URL="$PG_URL" SESSION_ENGINE=$ENGINE.db
run "PostgreSQL + cache engine on Redis" $py DATABASE_URL="$PG_URL" \
  REDIS_URL="$REDIS_TEST_URL" SESSION_ENGINE=$ENGINE.cache
run "PostgreSQL + cached_db engine on Redis" $py DATABASE_URL="$PG_URL" \
  REDIS_URL="$REDIS_TEST_URL" SESSION_ENGINE=$ENGINE.cached_db

# Django's own suites (sessions, auth, test client, views) with the app installed the
# README's way, once per engine: any failure but the deliberate differences fails the run.
echo
echo "=== Django's own test suites with the app installed (db, cache, cached_db, file)"
if scripts/django-suite.sh --session-engine all --strict; then
  summary+=("passed   Django's own test suites with the app installed (4 engines)")
else
  summary+=("FAILED   Django's own test suites with the app installed (4 engines)")
  failed=1
fi

# MariaDB needs mysqlclient, which compiles against libmariadb-dev (.ci/run installs it).
if $py -c 'import MySQLdb' 2>/dev/null \
  || $py -m pip install --quiet --disable-pip-version-check -e ".[mysql]" >/dev/null; then
  run "MariaDB + db engine" $py DATABASE_URL="$MARIADB_URL" SESSION_ENGINE=$ENGINE.db
else
  skip "MariaDB" "mysqlclient could not be installed (apt-get install libmariadb-dev)"
fi

if py6=$(scripts/django6-venv.sh); then
  run "SQLite + db engine on Django $($py6 -c 'import django, sys; print(django.__version__, "/ Python", sys.version.split()[0])')" "$py6"
else
  skip "Django 6.1" "no Python >= 3.12 found, or its venv could not be built"
fi

echo
echo "=== Summary"
printf '  %s\n' "${summary[@]}"
exit $failed
