# Sourced by the scripts that run the reviewer's tools (docs-site.sh, galaxy-importer.sh):
# the checkout as $root (and the working directory), and the tools venv first on PATH.
#
#   ASGI_TOOLS_VENV=.venv-tools   the venv of tests/requirements-tools.txt (`setup.sh tools`)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
venv=${ASGI_TOOLS_VENV:-.venv-tools}
case $venv in /*) ;; *) venv=$root/$venv ;; esac
[ -x "$venv/bin/antsibull-docs" ] || {
  echo "$(basename "$0"): ERROR: $venv has no reviewer's tools: run 'tools/setup.sh tools'" >&2
  exit 1
}
export PATH=$venv/bin:$PATH
