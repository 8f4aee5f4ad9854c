#!/bin/sh
# Build the documentation site (mkdocs.yml, docs/) with warnings as errors, into a
# temporary directory that is removed afterwards: a broken link, a missing page or an
# unknown anchor fails the build. Run from anywhere; make test runs it.
set -eu
cd "$(dirname "$0")/.."
MKDOCS="${MKDOCS:-.venv/bin/mkdocs}"
site="$(mktemp -d)"
trap 'rm -rf "$site"' EXIT
"$MKDOCS" build --strict --site-dir "$site"
