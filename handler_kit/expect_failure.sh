#!/usr/bin/env bash
# Runs a test binary of the handler kit against a handler broken on purpose, and passes only if
# that test fails with the expected message: proof that the kit catches what it claims to.
#
#   expect_failure.sh <test binary> <extended regex the failure must print> [args...]
set -uo pipefail
binary=$1 expected=$2
shift 2
output=$("$binary" "$@" 2>&1)
status=$?
output+=$'\n'"status $status"  # so a regex can ask for a signal: "status (134|139)"
if [[ $status -eq 0 ]]; then
  echo "FAIL: $binary passed against a broken handler; its output:"
  echo "$output" | tail -n 40
  exit 1
fi
if ! grep -Eq -- "$expected" <<<"$output"; then
  echo "FAIL: $binary failed (status $status) but without /$expected/; its output:"
  echo "$output" | tail -n 40
  exit 1
fi
echo "ok: $binary failed as it should (status $status): $(grep -Em1 -- "$expected" <<<"$output")"
