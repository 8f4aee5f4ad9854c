#!/usr/bin/env bash
# verdict.sh LOG RC: what one pytest run of the matrix did, from its exit status and the
# summary line of its output: "passed" (exit 0) only when at least one test passed;
# "skipped" (exit 3) when nothing failed but no test ran or every one was skipped;
# "FAILED" (exit 1) otherwise.
set -uo pipefail
log=$1 rc=$2
summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|skipped|deselected|error)|no tests ran' "$log" | tail -1)
if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then
  echo FAILED
  exit 1
fi
if echo "$summary" | grep -qE '[0-9]+ passed'; then
  echo passed
  exit 0
fi
echo skipped
exit 3
