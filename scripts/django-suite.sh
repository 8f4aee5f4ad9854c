#!/usr/bin/env bash
# Django's own test suites (sessions_tests, auth_tests, test_client, test_client_regress,
# view_tests), from the sdist of the installed Django, with sessions_mgmt installed the
# README's way (issue 21). Exits non-zero on any failure not in
# scripts/django_suite_expected.txt. See docs/DJANGO_SUITE.md; arguments: --help.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
exec "$PYTHON" scripts/django_suite.py --python "$PYTHON" "$@"
