#!/usr/bin/env bash
# Controller set-up for `make`: the project virtualenv with the pinned tools, the collection
# made visible to Ansible from this checkout, and the systemd test host image.
# Each step is skipped when it is already done.
#
#   tools/setup.sh           .venv (python3, tests/requirements.txt), bookworm image
#   tools/setup.sh py312     .venv-py312 (Python 3.12, tests/requirements-py312.txt),
#                                    trixie image: the second leg of `make test`'s matrix
#   tools/setup.sh tools     .venv-tools (Python 3.12, tests/requirements-tools.txt):
#                                    galaxy-importer, antsibull-docs, ansible-builder
#   tools/setup.sh core2.20  .venv-core2.20 (Python 3.12, tests/requirements-core2.20.txt):
#                                    an ansible-core line tested by sanity only
#   tools/setup.sh sslyze    .venv-sslyze (python3, tests/requirements-sslyze.txt): the acme
#                                    scenario's TLS check
#   tools/setup.sh bench     .venv-bench (python3, tests/bench/requirements.txt): the
#                                    benchmark's plot
# All but the first two need no test host, so they build no image.
# ASGI_VENV, ASGI_PYTHON, ASGI_REQUIREMENTS and ASGI_SUITE override the chosen leg's values.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }
case "${1:-default}" in
  default) leg=(.venv python3 tests/requirements.txt bookworm) ;;
  py312) leg=(.venv-py312 "" tests/requirements-py312.txt trixie) ;;
  tools) leg=(.venv-tools "" tests/requirements-tools.txt "") ;;
  sslyze) leg=(.venv-sslyze python3 tests/requirements-sslyze.txt "") ;;
  bench) leg=(.venv-bench python3 tests/bench/requirements.txt "") ;;
  core[0-9]*)
    [ -f "tests/requirements-$1.txt" ] || { echo "setup: ERROR: no tests/requirements-$1.txt" >&2; exit 1; }
    leg=(".venv-$1" "" "tests/requirements-$1.txt" "") ;;
  *) echo "setup: ERROR: unknown leg '$1': use py312, tools, core<line>, sslyze, bench or nothing" >&2; exit 1 ;;
esac
venv=${ASGI_VENV:-${leg[0]}}
python=${ASGI_PYTHON:-${leg[1]}}
requirements=${ASGI_REQUIREMENTS:-${leg[2]}}
suite=${ASGI_SUITE:-${leg[3]}}

# 1. Virtualenv with the pinned controller tools. It is built once per machine for each set of
#    pins, in the user's cache beside pip's own ($ASGI_VENV_STORE, default
#    ~/.cache/asgi-uvicorn/venvs), and $venv links to it, so a new checkout or a clean clone
#    reuses it. A virtualenv cannot move: it stays where it was built, and new pins build anew.
store=${ASGI_VENV_STORE:-${XDG_CACHE_HOME:-$HOME/.cache}/asgi-uvicorn/venvs}
want=$(sha256sum "$requirements" | cut -d' ' -f1)
name=$(basename "$venv")
built=$store/${name#.}-${want:0:16}
if [ "$(readlink "$venv" || true)" = "$built" ] && [ "$(cat "$built/.requirements.sha256" 2>/dev/null)" = "$want" ]; then
  say "virtualenv $venv up to date"
else
  mkdir -p "$store"
  exec 8>"$store/.lock"
  flock 8  # two checkouts setting up at once build it once
  if [ "$(cat "$built/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    rm -rf "$built"
    [ -n "$python" ] || python=$(tools/python312.sh)
    say "creating virtualenv $built with $python"
    "$python" -m venv "$built" || {
      echo "setup: ERROR: '$python -m venv' failed; on Debian install python3-venv" >&2
      exit 1
    }
    say "installing pinned tools from $requirements (a few minutes the first time)"
    # (grep drops the noise of pip find-links entries that some machines configure but lack)
    "$built/bin/pip" install -q --disable-pip-version-check -r "$requirements" 2>&1 | { grep -v "^WARNING: Location" || true; }
    echo "$want" >"$built/.requirements.sha256"
  fi
  exec 8>&-
  # What was there (a virtualenv of its own, or a link to older pins) is this checkout's.
  rm -rf "$venv"
  ln -s "$built" "$venv"
  say "linked $venv to $built"
fi

# 2. This checkout as the collection asgi.uvicorn, so FQCNs resolve without a build.
link=.cache/collections/ansible_collections/asgi/uvicorn
if [ ! -L "$link" ]; then
  mkdir -p "$(dirname "$link")"
  ln -s ../../../.. "$link"
  say "linked the checkout as $link"
fi

# 3. Docker engine and the systemd test host image (not for the legs that start no host).
[ -z "$suite" ] || tools/testhost.sh "$suite" >/dev/null
