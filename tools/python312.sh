#!/usr/bin/env bash
# Print the path of a Python 3.12 interpreter for the second controller of the test matrix
# (.venv-py312). Looks, in order, at python3.12 on PATH, pyenv's versions
# (machines of this project's kind ship pyenv with 3.12), /usr/bin and /usr/local/bin; when none
# runs, installs one with uv from PyPI (`uv python install 3.12`, into .cache/python), which
# needs uv's download host (GitHub) to be reachable.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "python312: $*" >&2; }
works() { [ -n "$1" ] && "$1" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }

candidates=("$(command -v python3.12 || true)")
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do candidates+=("$p"); done
candidates+=(/usr/bin/python3.12 /usr/local/bin/python3.12)
for p in "${candidates[@]}"; do
  if works "$p"; then
    echo "$p"
    exit 0
  fi
done

export UV_PYTHON_INSTALL_DIR=$PWD/.cache/python
uv=.cache/uv/bin/uv
if [ ! -x "$uv" ]; then
  say "no Python 3.12 found; installing uv from PyPI to fetch one"
  python3 -m venv .cache/uv >&2
  .cache/uv/bin/pip install -q --disable-pip-version-check uv 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
fi
if "$uv" python install 3.12 >&2 && p=$("$uv" python find 3.12 2>/dev/null) && works "$p"; then
  echo "$p"
  exit 0
fi
echo "python312: ERROR: no Python 3.12 here and 'uv python install 3.12' failed:" \
  "install Python 3.12 (python3.12 on PATH)" >&2
exit 1
