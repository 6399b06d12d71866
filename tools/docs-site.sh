#!/usr/bin/env bash
# `make docs-site`: the collection's docs as a reviewer or user reads them on docs.ansible.com,
# built here: antsibull-docs' `sphinx-init` layout for asgi.uvicorn (conf.py, build.sh, rst/),
# generated afresh in .cache/docs-site and built by its own build.sh (antsibull-docs renders
# the module and role pages from the tarball as installed, then Sphinx makes HTML), then every
# link in it checked (tools/docs-links.py --site).
#
# The guides (docs/*.md) are on it as the reStructuredText that tools/docs-rst.py makes of them
# (docs/docsite/rst/, listed in docs/docsite/extra-docs.yml).
#
# Open .cache/docs-site/build/html/index.html in a browser; `python3 -m http.server -d
# .cache/docs-site/build/html` serves it.
set -euo pipefail
# shellcheck source=tools/tools-venv.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools-venv.sh"
site=$root/.cache/docs-site
say() { echo "docs-site: $*" >&2; }

# The collection as shipped; community.crypto (for references) comes with the venv's `ansible`.
tools/collection-tarball.sh "$venv" "$root/.cache/docs-site-collection" >/dev/null
export ANSIBLE_COLLECTIONS_PATH=$root/.cache/docs-site-collection/collections

rm -rf "$site"
mkdir -p "$site"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error \
  --project asgi.uvicorn --copyright "asgi.uvicorn maintainers" \
  --title "asgi.uvicorn" --html-short-title asgi.uvicorn \
  --dest-dir "$site" asgi.uvicorn >/dev/null
# Sphinx fetches the inventories of the Python, Jinja and Ansible docs for intersphinx, but only
# the package registries are reachable here and the build treats warnings as errors. The pages
# link to labels of the Ansible docs (config settings, return values, two modules): a small local
# inventory of the Ansible docs with those labels resolves them to the real URLs. Links to other
# collections' plugins need none (antsibull-docs writes full URLs).
python3 - "$site/ansible_devel.inv" <<'INV'
import sys, zlib
labels = [
    ("ansible_configuration_settings", "reference_appendices/config.html#ansible-configuration-settings",
     "Ansible Configuration Settings"),
    ("common_return_values", "reference_appendices/common_return_values.html#common-return-values",
     "Return Values"),
    ("ansible_collections.ansible.builtin.template_module", "collections/ansible/builtin/template_module.html",
     "ansible.builtin.template"),
    ("ansible_collections.ansible.builtin.file_module", "collections/ansible/builtin/file_module.html",
     "ansible.builtin.file"),
    ("ansible_collections.ansible.builtin.unarchive_module", "collections/ansible/builtin/unarchive_module.html",
     "ansible.builtin.unarchive"),
]
body = "".join(f"{name} std:label -1 {uri} {title}\n" for name, uri, title in labels)
with open(sys.argv[1], "wb") as f:
    f.write(b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
            b"# The remainder of this file is compressed using zlib.\n")
    f.write(zlib.compress(body.encode()))
INV
cat >>"$site/conf.py" <<'CONF'

# Added by tools/docs-site.sh: built offline, with a local inventory of the Ansible docs.
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '../ansible_devel.inv'),
}
CONF
"$site/build.sh"
index=$site/build/html/index.html
[ -f "$index" ] || { say "ERROR: no $index"; exit 1; }
say "built $(find "$site/build/html" -name '*.html' | wc -l) pages: open $index"
# Every link within the site and to the repository's files resolves (external ones: offline).
python3 tools/docs-links.py --site "$site/build/html"
