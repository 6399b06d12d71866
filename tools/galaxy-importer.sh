#!/usr/bin/env bash
# `make galaxy-importer`: what Galaxy and Automation Hub run on an uploaded collection, run here
# on the tarball that `ansible-galaxy collection build` makes, with the settings of
# tests/galaxy-importer.cfg. The importer only logs its findings (as "WARNING: ..." and
# "ERROR: ..." lines, ansible-lint's among them) and exits 0 with warnings, so this script counts
# them and fails on any. Then `ansible-builder introspect` on the installed collection shows
# the execution-environment requirements that meta/execution-environment.yml declares.
set -euo pipefail
# shellcheck source=tools/tools-venv.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools-venv.sh"
work=$root/.cache/galaxy-importer
say() { echo "galaxy-importer: $*" >&2; }

tarball=$(tools/collection-tarball.sh "$venv" "$work")

# The importer writes importer_result.json to its working directory, and ansible's local temp
# (and ansible-lint's cache) under ansible_local_tmp: both stay under .cache/galaxy-importer.
# ANSIBLE_HOME too: its ansible-lint puts $ANSIBLE_HOME/collections (~/.ansible) first, where an
# installed copy of asgi.uvicorn would be linted against instead of the tarball.
mkdir -p "$work/run"
rc=0
(
  cd "$work/run"
  GALAXY_IMPORTER_CONFIG=$root/tests/galaxy-importer.cfg \
    GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=$work/ansible-tmp \
    ANSIBLE_HOME=$work/ansible-home \
    python -m galaxy_importer.main "$tarball"
) >"$work/importer.log" 2>&1 || rc=$?
cat "$work/importer.log"

version=$(python -c 'import importlib.metadata as m; print(m.version("galaxy-importer"))')
errors=$(grep -cE '^(ERROR|CRITICAL):' "$work/importer.log" || true)
warnings=$(grep -cE '^WARNING:' "$work/importer.log" || true)
completed=$(grep -c '^Importer processing completed successfully' "$work/importer.log" || true)
say "galaxy-importer $version on $(basename "$tarball"): exit $rc, $errors errors, $warnings warnings"
if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ] || [ "$warnings" -ne 0 ] || [ "$completed" -ne 1 ]; then
  say "FAILED: the import must complete with 0 errors and 0 warnings (log: $work/importer.log)"
  exit 1
fi

# The importer logs nothing when ansible-doc cannot parse a plugin's DOCUMENTATION: the plugin
# is imported without docs, and Galaxy shows an empty page. Its result must hold docs for every
# plugin, and a README for every role.
python - "$work/run/importer_result.json" <<'PY' || { say "FAILED: content without the docs Galaxy shows (above)"; exit 1; }
import json, sys
contents = json.load(open(sys.argv[1]))["docs_blob"]["contents"]
checked = [c for c in contents if c["content_type"] not in ("playbook", "module_utils", "doc_fragments")]
missing = [f"{c['content_type']} {c['content_name']}: no " + ("README" if c["content_type"] == "role" else "documentation")
           for c in checked
           if not (c.get("readme_html") if c["content_type"] == "role" else c.get("doc_strings"))]
for line in missing:
    print("galaxy-importer: ERROR: " + line, file=sys.stderr)
print(f"galaxy-importer: docs for {len(checked) - len(missing)} of {len(checked)} plugins and roles "
      f"({', '.join(c['content_type'] + ' ' + c['content_name'] for c in checked)})", file=sys.stderr)
sys.exit(1 if missing else 0)
PY

# The execution-environment requirements, as ansible-builder reads them from the installed
# collection: the file must be there, and what it names is printed (none, today).
[ -f "$work/collections/ansible_collections/asgi/uvicorn/meta/execution-environment.yml" ] \
  || { say "FAILED: meta/execution-environment.yml is not in the installed collection"; exit 1; }
ee=$(ansible-builder introspect --sanitize "$work/collections")
say "ansible-builder introspect (meta/execution-environment.yml): $(grep -c 'from collection asgi.uvicorn' <<<"$ee" || true) requirement(s) of asgi.uvicorn"
sed -n '/^python:/,$p' <<<"$ee" | sed 's/^/  /'
