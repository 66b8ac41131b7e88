#!/usr/bin/env bash
# The whole test suite: lint, format, types, tests (Label Studio integration included).
#   bash scripts/test.sh [pytest args]
source "$(dirname "$0")/_env.sh"

echo "== ruff" && ruff check . && ruff format --check .
echo "== mypy" && mypy
echo "== pytest" && pytest "$@"
