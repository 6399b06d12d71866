# Sourced by the scripts that run the reviewer's tools (docs-site.sh, galaxy-importer.sh):
# the checkout as $root (and the working directory), and the tools venv (.venv-tools, made by
# `tools/setup.sh tools`) first on PATH.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
venv=$root/.venv-tools
[ -x "$venv/bin/antsibull-docs" ] || {
  echo "$(basename "$0"): ERROR: $venv has no reviewer's tools: run 'tools/setup.sh tools'" >&2
  exit 1
}
export PATH=$venv/bin:$PATH
