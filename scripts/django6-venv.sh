#!/usr/bin/env bash
# Build (once) .venv-django6: Django 6.1 on Python 3.13 or 3.12, and print its python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-django6
stamp=$venv/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
  echo "$venv/bin/python"
  exit 0
fi
pick() {
  local candidate
  for candidate in python3.13 python3.12 \
    "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3 \
    "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
python=$(pick) || { echo "no Python >= 3.12 for Django 6" >&2; exit 1; }
"$python" -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check -e ".[demo,test,geo,device-bound]" "Django>=6.1,<6.2" >&2
touch "$stamp"
echo "$venv/bin/python"
