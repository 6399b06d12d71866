#!/usr/bin/env bash
# Build the collection tarball the way a user or a Galaxy upload gets it, and install it, so
# that the reviewer's checks (ansible-test sanity, galaxy-importer, the docs site) look at what
# is shipped rather than at the checkout.
#
#   tools/collection-tarball.sh VENV DIR
#
# Uses VENV's ansible-galaxy (each ansible-core line builds and installs with its own).
# Writes DIR/dist/asgi-uvicorn-<version>.tar.gz, installs it (no dependencies: Galaxy is not
# reachable, and none of these checks needs them) into DIR/collections, afresh each time, and
# prints the tarball's path. The installed collection is
# DIR/collections/ansible_collections/asgi/uvicorn.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

[ $# -eq 2 ] || { echo "usage: $0 VENV DIR" >&2; exit 2; }
venv=$1
dir=$2
case $venv in /*) ;; *) venv=$root/$venv ;; esac
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
say() { echo "collection-tarball: $*" >&2; }

[ -x "$venv/bin/ansible-galaxy" ] || { say "ERROR: $venv/bin/ansible-galaxy not found: run tools/setup.sh"; exit 1; }

rm -rf "$dir/dist" "$dir/collections"
# DIR/collections is the only collections path here: a copy of asgi.uvicorn in ~/.ansible or
# in the venv must neither make the install a no-op ("already installed") nor be found instead.
export ANSIBLE_COLLECTIONS_PATH=$dir/collections ANSIBLE_NOCOLOR=1
"$venv/bin/ansible-galaxy" collection build --output-path "$dir/dist" "$root" >/dev/null
tarball=$(ls "$dir"/dist/asgi-uvicorn-*.tar.gz)
# A content file that galaxy.yml's build_ignore drops fails here, before anything uses the
# tarball: what git tracks (or would add) under the content directories must all be in it.
missing=$(comm -23 \
  <(cd "$root" && git ls-files --cached --others --exclude-standard -- meta plugins playbooks roles \
      | while IFS= read -r f; do [ -e "$f" ] && echo "$f"; done | grep -v '__pycache__' | sort) \
  <(tar -tzf "$tarball" | sort))
[ -z "$missing" ] || { say "ERROR: missing from the tarball (galaxy.yml build_ignore?): $(echo $missing)"; exit 1; }
"$venv/bin/ansible-galaxy" collection install --force --no-deps -p "$dir/collections" "$tarball" >/dev/null
[ -f "$dir/collections/ansible_collections/asgi/uvicorn/MANIFEST.json" ] \
  || { say "ERROR: $tarball did not install into $dir/collections"; exit 1; }
say "built and installed $(basename "$tarball") ($(tar -tzf "$tarball" | grep -vc '/$') files) with $(basename "$venv")"
echo "$tarball"
