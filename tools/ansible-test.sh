#!/usr/bin/env bash
# `ansible-test sanity` on the collection as a user gets it: the tarball that
# `ansible-galaxy collection build` makes, installed (tools/collection-tarball.sh), with the
# ansible-core and Python of VENV.
#
#   tools/ansible-test.sh VENV      e.g. .venv (ansible-core 2.19), .venv-py312 (2.21)
#
# ansible-test keeps its per-test virtualenvs under ~/.ansible/test; HOME is a directory of this
# machine's cache instead (~/.cache/asgi-uvicorn/ansible-test-home), so every checkout and clean
# clone reuses them. It bootstraps pip into a new virtualenv with a get-pip script from
# ci-files.testing.ansible.com, which is not reachable here; when that download fails, it names
# the path where the script may be saved by hand. This script saves an equivalent there (pip
# from PyPI, through ensurepip) and runs ansible-test again.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ $# -eq 1 ] || { echo "usage: $0 VENV" >&2; exit 2; }
venv=$repo/$1
home=${XDG_CACHE_HOME:-$HOME/.cache}/asgi-uvicorn/ansible-test-home
work=$repo/.cache/ansible-test/$(basename "$venv" | sed 's/^\.//')
say() { echo "ansible-test.sh: $*" >&2; }
[ -x "$venv/bin/ansible-test" ] || { say "ERROR: $venv/bin/ansible-test not found: run tools/setup.sh"; exit 1; }

# One run at a time: the runs share ansible-test's home and its per-test virtualenvs.
mkdir -p "$work" "$home"
exec 9>"$home/.lock"
flock 9

tarball=$(tools/collection-tarball.sh "$venv" "$work")
cd "$work/collections/ansible_collections/asgi/uvicorn"
python_version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
core=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
what="sanity with ansible-core $core, Python $python_version, on $(basename "$tarball") as installed"
say "$what"
log=$work/sanity.log
for attempt in 1 2; do
  rc=0
  HOME=$home ANSIBLE_TEST_CONTENT_ROOT=$PWD "$venv/bin/ansible-test" sanity --local --python "$python_version" --color no 2>&1 | tee "$log" || rc=$?
  get_pip=$(sed -n 's/^The bootstrap script can be manually downloaded and saved to: //p' "$log")
  [ "$rc" -ne 0 ] && [ -n "$get_pip" ] && [ "$attempt" -eq 1 ] || break
  say "saving a pip bootstrap script at $get_pip"
  cat >"$get_pip" <<'PY'
# Written by tools/ansible-test.sh in place of get-pip.py: ansible-test runs it as
# `python get_pip_X_Y.py [pip options] pip==X.Y ... [--no-setuptools] [--no-wheel]`.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]))
PY
done
say "$what: $([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)")"
exit "$rc"
