#!/usr/bin/env bash
# `make install-test`: build the collection tarball, install it into a temporary collections
# path, and deploy the sample app from a user's own project outside the checkout, with nothing
# but FQCNs (tests/install/deploy.yml), to a fresh systemd test host. Then check HTTPS from this
# machine and the workers (tests/install/check.py). A file missing from the tarball makes it fail.
#
#   ASGI_VENV=.venv               the tools (ansible-galaxy, ansible-playbook)
#   ASGI_SUITE=bookworm           the test host image (tools/testhost.sh SUITE)
#   ASGI_INSTALL_WORKERS=4        -e workers=N
#   ASGI_INSTALL_KEEP=1           keep the container and the temporary directory for a look
set -euo pipefail
start=$SECONDS
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"

venv=${ASGI_VENV:-.venv}
case $venv in /*) ;; *) venv=$root/$venv ;; esac
suite=${ASGI_SUITE:-bookworm}
workers=${ASGI_INSTALL_WORKERS:-4}
testhost() { python3 tests/lib/testhost.py "$@"; }
name=$(testhost name asgi-uvicorn-install)
server_name=shop.example.test

say() { echo "install-test: $*" >&2; }
die() { echo "install-test: ERROR: $*" >&2; exit 1; }

[ -x "$venv/bin/ansible-galaxy" ] || die "$venv/bin/ansible-galaxy not found: run 'make setup' first"
command -v curl >/dev/null || die "curl not found: install curl (apt-get install curl)"
export PATH=$venv/bin:$PATH ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
unset ANSIBLE_CONFIG ANSIBLE_ROLES_PATH ANSIBLE_PLAYBOOK_DIR

tmp=$(mktemp -d /tmp/asgi-uvicorn-install.XXXXXX)
cleanup() {
  local rc=$?
  if [ -n "${ASGI_INSTALL_KEEP:-}" ]; then
    say "kept $tmp and the container $name (docker rm -f $name; rm -rf $tmp)"
  else
    docker rm -f "$name" >/dev/null 2>&1 || true
    rm -rf "$tmp"
  fi
  say "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - start)) s"
}
trap cleanup EXIT

# 1. Build the tarball from the checkout (galaxy.yml's build_ignore decides what goes in).
version=$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
ansible-galaxy collection build --output-path "$tmp/build" >/dev/null
tarball=$tmp/build/asgi-uvicorn-$version.tar.gz
[ -f "$tarball" ] || die "the build did not produce $tarball"
say "built $(basename "$tarball"): $(tar -tzf "$tarball" | grep -vc '/$') files, $(du -k "$tarball" | cut -f1) KiB"
# Fail fast on a content file that build_ignore dropped (the deploy below proves the rest).
missing=$(comm -23 \
  <(git ls-files --cached --others --exclude-standard -- meta plugins playbooks roles \
      | while IFS= read -r f; do [ -e "$f" ] && echo "$f"; done | grep -v '__pycache__' | sort) \
  <(tar -tzf "$tarball" | sort))
[ -z "$missing" ] || die "missing from the tarball (galaxy.yml build_ignore?): $(echo $missing)"

# 2. Install it into a temporary collections path. The dependencies (community.crypto, ...)
#    come from the `ansible` package's collections in the venv; Galaxy is never asked.
ansible_pkg=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -f "$ansible_pkg/ansible_collections/community/crypto/MANIFEST.json" ] ||
  die "the ansible package's collections (community.crypto) are not in $ansible_pkg"
export ANSIBLE_COLLECTIONS_PATH=$tmp/collections:$ansible_pkg
ansible-galaxy collection install --offline -p "$tmp/collections" "$tarball" >/dev/null 2>"$tmp/install.err" ||
  { cat "$tmp/install.err" >&2; die "ansible-galaxy collection install failed"; }
found=$(ansible-galaxy collection list asgi.uvicorn 2>/dev/null | awk '/^# /{p=$2} /^asgi\.uvicorn /{print p}')
[ "$found" = "$tmp/collections/ansible_collections" ] ||
  die "asgi.uvicorn resolves to '${found//$'\n'/, }', not only to the temporary install"
say "installed into $tmp/collections (dependencies from $ansible_pkg)"

# 3. The user's project: their playbook, their inventory, their app. Nothing from the checkout.
project=$tmp/project
mkdir -p "$project"
cp tests/install/deploy.yml "$project/deploy.yml"
cp -r tests/sample_app "$project/app"
testhost inventory "$project/inventory.yml" "$name" app_name=shop app_source="$project/app" \
  proxy_server_name="$server_name" >/dev/null

# 4. A fresh systemd test host.
image=$(tools/testhost.sh "$suite" | tail -n1)
[ -n "$image" ] || die "tools/testhost.sh $suite printed no image name"
state=$(testhost start "$name" "$server_name" "$image") || die "the test host did not start"
say "test host $name ($image) is $state"

# 5. Deploy, as the user would, from their directory.
say "running in $project: ansible-playbook -i inventory.yml deploy.yml -e workers=$workers"
(cd "$project" && ansible-playbook -i inventory.yml deploy.yml -e "workers=$workers") >"$tmp/deploy.log" 2>&1 ||
  { tail -n 60 "$tmp/deploy.log" >&2; die "the deploy failed (log above)"; }
grep -E '^(PLAY RECAP|\S+ +: ok=)' "$tmp/deploy.log" | sed 's/^/  /'

# 6. The verdict, from this machine: the installed module's count and PIDs against ps in the
#    host, and /health over HTTPS with the host's certificate verified.
python3 tests/install/check.py "$project" "$name" shop "$server_name" "$workers" "$(cat tests/sample_app/VERSION)" ||
  die "the deployed app does not pass the checks (above)"
