#!/usr/bin/env bash
# Controller set-up for `make`: the project virtualenv with the pinned tools, the collection
# made visible to Ansible from this checkout, and the systemd test host image.
# Each step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=${ASGI_VENV:-.venv}
python=${ASGI_PYTHON:-python3}
requirements=${ASGI_REQUIREMENTS:-tests/requirements.txt}
say() { echo "setup: $*" >&2; }

# 1. Virtualenv with the pinned controller tools (re-installed only when the pins change).
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "virtualenv $venv up to date"
else
  if [ ! -x "$venv/bin/python" ]; then
    say "creating virtualenv $venv with $python"
    "$python" -m venv "$venv" || {
      echo "setup: ERROR: '$python -m venv' failed; on Debian install python3-venv" >&2
      exit 1
    }
  fi
  say "installing pinned tools from $requirements (a few minutes the first time)"
  # (grep drops the noise of pip find-links entries that some machines configure but lack)
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" 2>&1 | { grep -v "^WARNING: Location" || true; }
  echo "$want" >"$stamp"
fi

# 2. This checkout as the collection asgi.uvicorn, so FQCNs resolve without a build.
link=.cache/collections/ansible_collections/asgi/uvicorn
if [ ! -L "$link" ]; then
  mkdir -p "$(dirname "$link")"
  ln -s ../../../.. "$link"
  say "linked the checkout as $link"
fi

# 3. Docker engine and the systemd test host image.
tests/helpers/testhost.sh "${ASGI_SUITE:-bookworm}" >/dev/null
