#!/usr/bin/env bash
# The whole test suite: lint, format, types, tests (Label Studio integration included).
#   bash scripts/test.sh [pytest args]
source "$(dirname "$0")/_env.sh"

# The Label Studio server for the integration tests runs from its own virtual environment
# (its pins clash with ours); the session fixture in tests/fixtures/labelstudio.py starts
# it on a free port and stops it at the end. Installing takes a few minutes, once.
echo "== label studio" && datakit annotate install

echo "== ruff" && ruff check . && ruff format --check .
echo "== mypy" && mypy
echo "== pytest" && pytest "$@"
