#!/usr/bin/env bash
# Controller set-up for `make`: a pinned virtualenv, and this checkout made visible to
# Ansible as the collection. Each step is skipped when it is already done. The test host image
# is tools/testhost.sh's.
#
#   tools/setup.sh           .venv (python3, ansible-core 2.19, tests/requirements.txt): every
#                            tool of `make check`, the scenarios, `make demo` and `make bench`
#   tools/setup.sh py312     .venv-py312 (Python 3.12, ansible-core 2.21): the second leg
#   tools/setup.sh core2.20  .venv-core2.20 (Python 3.12, ansible-core 2.20): sanity only
#   tools/setup.sh tools     .venv-tools (Python 3.12): the reviewer's tools (galaxy-importer,
#                            antsibull-docs, ansible-builder)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }
case "${1:-default}" in
  default) venv=.venv python=python3 requirements=tests/requirements.txt ;;
  py312 | core2.20 | tools) venv=.venv-$1 python="" requirements=tests/requirements-$1.txt ;;
  *) echo "setup: ERROR: unknown leg '$1': use py312, core2.20, tools or nothing" >&2; exit 1 ;;
esac

# 1. Virtualenv with the pinned controller tools. It is built once per machine for each set of
#    pins, in the user's cache beside pip's own (~/.cache/asgi-uvicorn/venvs), and $venv
#    links to it, so a new checkout or a clean clone
#    reuses it. A virtualenv cannot move: it stays where it was built, and new pins build anew.
store=${XDG_CACHE_HOME:-$HOME/.cache}/asgi-uvicorn/venvs
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
