# Sourced by scripts/demo.sh and scripts/test.sh: make .venv with datakit and its dev tools.
# Needs only Python 3.11+ and the package registry.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "datakit needs Python 3.11 or newer (found: $("$PY" --version 2>&1)); set PYTHON=..." >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv ..." >&2
  "$PY" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.datakit-installed
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
  echo "installing datakit and its dependencies into .venv ..." >&2
  # (grep drops pip's notes about this machine's local index locations, which are noise)
  .venv/bin/python -m pip install -q -e ".[dev,spark]" 2> >(grep -v "^WARNING: Location" >&2)
  cp pyproject.toml "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
