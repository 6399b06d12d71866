#!/usr/bin/env bash
# Run `ansible-test` (sanity, units, ...) on this collection, offline but for PyPI.
#
#   tools/ansible-test.sh --tarball sanity  # what `make sanity` runs: the built tarball
#   tools/ansible-test.sh units             # what `make units` runs: a checkout copy
#   tools/ansible-test.sh sanity            # sanity on a copy of the checkout
#   ASGI_VENV=.venv-py312 tools/ansible-test.sh --tarball sanity   # another ansible-core
#
# - Uses the ansible-test and the Python of the virtualenv $ASGI_VENV (default .venv, made by
#   `make setup`), `--python` set to that Python's version. Extra arguments go to ansible-test.
# - ansible-test must run from a directory .../ansible_collections/asgi/uvicorn, and both its
#   delegation and its pytest plugin use physical paths, so the symlink under .cache/collections
#   does not do. The script copies the files git knows of (tracked and untracked, not ignored)
#   to .cache/ansible-test/<venv name>/ansible_collections/asgi/uvicorn, afresh on every run,
#   and runs there. Reports name files relative to the collection root, as in the checkout.
# - With --tarball it runs instead on what a user installs: the tarball that
#   `ansible-galaxy collection build` makes (galaxy.yml's build_ignore applied), installed by
#   that venv's `ansible-galaxy collection install` into .cache/ansible-test/<venv name>-tarball
#   (tools/collection-tarball.sh). tests/ is not shipped, so only sanity makes sense.
# - ansible-test keeps its caches and per-test virtualenvs under ~/.ansible/test. Here HOME is
#   a directory of this machine's cache, beside the project's virtualenvs (tools/setup.sh):
#   ~/.cache/asgi-uvicorn/ansible-test-home ($ASGI_ANSIBLE_TEST_HOME). What is in it depends
#   only on ansible-test's own pins, so every checkout and clean clone reuses it.
# - ansible-test bootstraps pip into each new virtualenv with a get-pip script it downloads from
#   ci-files.testing.ansible.com, which is not reachable here. This script puts an equivalent in
#   ansible-test's cache first: pip's own wheel (the version ansible-test pins), downloaded from
#   PyPI, run as `pip install` -- the same thing get-pip.py does with the wheel it embeds.
# - It runs with --local. For units, the interpreter is a small virtualenv of its own in that
#   home that sees the project venv's packages (a .pth file: the same
#   ansible-core, pytest, ...) and adds what `ansible-test units` needs on top (pytest-xdist,
#   pytest-mock, mock), so the pinned project venv is never changed. Sanity tests make their own
#   virtualenvs (pinned by ansible-test) from PyPI. All of it is cached: only the first run
#   downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

venv=${ASGI_VENV:-.venv}
case $venv in /*) ;; *) venv=$repo/$venv ;; esac
home=${ASGI_ANSIBLE_TEST_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/asgi-uvicorn/ansible-test-home}
venv_name=$(basename "$venv")
venv_name=${venv_name#.}
work=$repo/.cache/ansible-test/$venv_name
collection=$work/ansible_collections/asgi/uvicorn
say() { echo "ansible-test.sh: $*" >&2; }

from_tarball=
if [ "${1:-}" = --tarball ]; then
  from_tarball=1
  work=$work-tarball
  shift
fi
[ $# -ge 1 ] || { echo "usage: $0 [--tarball] sanity|units|... [ansible-test arguments]" >&2; exit 2; }
command=$1
shift

if [ ! -x "$venv/bin/ansible-test" ]; then
  say "ERROR: $venv/bin/ansible-test not found; run 'make setup' (or set ASGI_VENV)"
  exit 1
fi

# One run at a time (a second one waits): runs share ansible-test's home (its per-test
# virtualenvs, built on first use), and the runs of one venv share the copy and the runner venv.
mkdir -p "$work" "$home"
exec 9>"$home/.lock"
flock 9

python_version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# The pip version ansible-test bootstraps into new virtualenvs, from ansible-test itself.
pip_version=$("$venv/bin/python" - "$python_version" <<'EOF'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])
EOF
)

cache=$home/.ansible/test/cache
get_pip=$cache/get_pip_${pip_version//./_}.py
wheel=pip-$pip_version-py3-none-any.whl
marker="# asgi.uvicorn get-pip equivalent for pip $pip_version, v2"
if [ -f "$cache/$wheel" ] && [ -f "$get_pip" ] && [ "$(head -n1 "$get_pip")" = "$marker" ]; then
  :
else
  mkdir -p "$cache"
  say "downloading the pip $pip_version wheel from PyPI for ansible-test's pip bootstrap"
  "$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
    --only-binary :all: --dest "$cache" "pip==$pip_version" 2>&1 | { grep -v "^WARNING: Location" || true; }
  [ -f "$cache/$wheel" ] || { say "ERROR: $cache/$wheel was not downloaded"; exit 1; }
  cat >"$get_pip.$$" <<EOF
$marker
# (written by tools/ansible-test.sh). ansible-test runs this like get-pip.py:
# python get_pip_X_Y.py [pip options] pip==X.Y [--no-setuptools] [--no-wheel]
# It runs pip from its wheel (pip supports that) to install the requested packages.
import os
import sys

wheel = os.path.join(os.path.dirname(os.path.abspath(__file__)), "$wheel")
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if not any(a == "pip" or a.startswith(("pip=", "pip<", "pip>", "pip~")) for a in args):
    args.append("pip")
sys.path.insert(0, wheel)
from pip._internal.cli.main import main  # noqa: E402

# (the wheel's directory as a find-links source: no second download of the same pip)
sys.exit(main(["install", "--upgrade", "--force-reinstall", "--find-links", os.path.dirname(wheel)] + args))
EOF
  mv "$get_pip.$$" "$get_pip"
fi

# The interpreter ansible-test runs with: for units, the project venv plus the units
# requirements; sanity makes a virtualenv per test and needs nothing on top of the venv.
python=$venv/bin/python
if [ "$command" != sanity ]; then
  ansible_test_data=$("$venv/bin/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')
  # (the project venv where it was built: $venv is a link to it, tools/setup.sh)
  real_venv=$(readlink -f "$venv")
  site=$("$real_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  runner=$home/runner-$(basename "$real_venv")
  runner_stamp=$runner/.asgi-uvicorn.sha256
  runner_want=$(cat "$ansible_test_data/units.txt" <(echo "$site") | sha256sum | cut -d' ' -f1)
  if [ ! -f "$runner_stamp" ] || [ "$(cat "$runner_stamp")" != "$runner_want" ]; then
    say "preparing $runner (project venv + ansible-test's units requirements)"
    rm -rf "$runner"
    "$venv/bin/python" -m venv "$runner"
    runner_site=$("$runner/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$site" >"$runner_site/asgi-uvicorn-project-venv.pth"
    "$runner/bin/python" -m pip install -q --disable-pip-version-check \
      -r "$ansible_test_data/units.txt" -c "$ansible_test_data/constraints.txt" 2>&1 \
      | { grep -v "^WARNING: Location" || true; }
    echo "$runner_want" >"$runner_stamp"
  fi
  python=$runner/bin/python
fi

case $command in
  sanity|units|integration|network-integration|windows-integration)
    mode=(--local --python "$python_version") ;;
  *)
    mode=() ;;
esac

if [ -n "$from_tarball" ]; then
  # The shipped collection, built and installed afresh with this venv's ansible-galaxy.
  tarball=$(tools/collection-tarball.sh "$venv" "$work")
  collection=$work/collections/ansible_collections/asgi/uvicorn
else
  # A fresh copy of the collection (what git tracks or would add; deleted files skipped).
  rm -rf "$collection"
  mkdir -p "$collection"
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -C "$collection" -xf -
fi

cd "$collection"
export HOME=$home
export ANSIBLE_TEST_CONTENT_ROOT=$collection
core=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
on="a copy of the checkout"
[ -z "$from_tarball" ] || on="$(basename "$tarball") as installed"
what="$command with $(basename "$venv"): ansible-core $core, Python $python_version, on $on"
say "$what"
rc=0
"$python" "$venv/bin/ansible-test" "$command" "${mode[@]}" --color no "$@" || rc=$?
say "$what: $([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)")"
exit "$rc"
