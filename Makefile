# Two commands matter (see README): `make demo` and `make test`. Everything they need is set up
# by tools/setup.sh, which skips what is already done.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# ASGI_COLLECTIONS_PATH_FIRST (the py312 leg's installed tarball, ending in ':') comes first: Molecule
# prepends the value it finds here to that of .config/molecule/config.yml, so both must agree.
export ANSIBLE_COLLECTIONS_PATH := $(ASGI_COLLECTIONS_PATH_FIRST)$(CURDIR)/.cache/collections
# Molecule 25+ also looks under extensions/molecule; this project keeps scenarios in molecule/.
export MOLECULE_GLOB := molecule/*/molecule.yml
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1
# ansible-core lines between the two scenario legs (README, "Supported versions"): each gets
# `ansible-test sanity` only, in a venv of its own (tests/requirements-core<line>.in).
SANITY_ONLY_CORES := 2.20
# The reviewer's tools (galaxy-importer, antsibull-docs, ansible-builder): tests/requirements-tools.in.
TOOLS := $(CURDIR)/.venv-tools/bin

.PHONY: help setup demo test lane-bookworm lane-trixie lane-more scenario lint sanity units unit molecule docs docs-check bench bench-smoke requirements test-py312 molecule-default
.PHONY: $(addprefix scenario-,$(OTHER_SCENARIOS)) sanity-lines galaxy-importer docs-lint docs-site requirements-extra $(addprefix sanity-,$(SANITY_ONLY_CORES))

help:
	@echo "make demo   deploy the sample app with 4 workers to a local systemd test host"
	@echo "make test   lint, sanity, reviewer checks, unit tests, every scenario (the py312 leg's from the tarball)"
	@echo "make bench  the benchmark of docs/performance.md (5-9 minutes)"
	@echo "make docs-site  the collection's docs site in .cache/docs-site/build/html"
	@echo "make setup  only the set-up both of them run first"

setup:
	@tools/setup.sh

demo: setup
	@tools/demo.sh

# Three lanes side by side, each a sequence; a lane's output is printed when it ends. Test hosts
# mostly wait on Ansible, apt and pip inside them, so three lanes keep the 2 cores of these
# machines busy without one starving another. The lanes are balanced by their measured times
# (README, "Development"):
#   lane-bookworm  the default scenario on Debian 12 with .venv, then the scenarios of
#                  BOOKWORM_LANE_SCENARIOS
#   lane-trixie    the checks of the source (lint, sanity, units, docs-check), the second leg
#                  of the version matrix (test-py312, its scenario from the installed tarball),
#                  sanity on the other core lines, what a Galaxy or Automation Hub reviewer
#                  runs on the built tarball with the tools venv (docs lint, galaxy-importer),
#                  then the scenarios of TRIXIE_LANE_SCENARIOS
#   lane-more      every other scenario, then the bench smoke
test: setup
	$(MAKE) --no-print-directory -j3 --output-sync=target lane-bookworm lane-trixie lane-more

# A lane is a sequence: one target per sub-make, so none of them runs beside its neighbours.
lane-bookworm:
	$(MAKE) --no-print-directory molecule-default
	for s in $(BOOKWORM_LANE_SCENARIOS); do $(MAKE) --no-print-directory scenario-$$s || exit; done

lane-trixie:
	for target in lint sanity units docs-check test-py312; do $(MAKE) --no-print-directory $$target || exit; done
	$(MAKE) --no-print-directory sanity-lines
	$(MAKE) --no-print-directory docs-lint
	$(MAKE) --no-print-directory galaxy-importer
	for s in $(TRIXIE_LANE_SCENARIOS); do $(MAKE) --no-print-directory scenario-$$s || exit; done

lane-more:
	for s in $(filter-out $(BOOKWORM_LANE_SCENARIOS) $(TRIXIE_LANE_SCENARIOS),$(OTHER_SCENARIOS)); do \
	  $(MAKE) --no-print-directory scenario-$$s || exit; \
	done
	$(MAKE) --no-print-directory bench-smoke

# ansible-lint --offline puts $ANSIBLE_HOME/collections (~/.ansible) before the checkout; a
# copy of asgi.uvicorn installed there would be linted against instead of this one.
lint:
	ANSIBLE_HOME=$(CURDIR)/.cache/ansible-lint-home ansible-lint --offline

# The same unit tests as `units`, quickly, with plain pytest: a developer's target, not part of
# `make test` (there `units` runs them the way a reviewer does, on both legs).
unit:
	python -m pytest tests/unit

molecule:
	molecule test --all

# Every scenario of molecule/ but default (which each leg runs as molecule-default).
OTHER_SCENARIOS := $(filter-out default,$(patsubst molecule/%/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))
# The ones lane-bookworm runs after the default scenario, and lane-trixie after its checks (on
# the Debian 12 host and .venv, as `make scenario` does), so the lanes end together.
BOOKWORM_LANE_SCENARIOS := cluster
TRIXIE_LANE_SCENARIOS := features

$(addprefix scenario-,$(OTHER_SCENARIOS)): scenario-%:
	molecule test -s $*

# One scenario by name, e.g. `make scenario S=operations` (the figures of docs/operations.md).
S ?= default
scenario: setup
	molecule test -s $(S)

# The second leg of the version matrix: Python 3.12 with the newest ansible-core
# (tests/requirements-py312.txt) and the default scenario on a Debian 13 host, without its
# checks marked first_leg_only (the certificate's renewal, the same code path on every leg).
# That scenario deploys the collection as a user gets it: the tarball that this leg's
# ansible-galaxy builds, installed (tools/collection-tarball.sh), found before the checkout.
# ansible-lint with that ansible-core runs in galaxy-importer (tools venv), not here again.
PY312 := ASGI_VENV=.venv-py312 ASGI_TESTHOST_IMAGE=asgi-uvicorn-testhost:trixie ASGI_TESTHOST_SUFFIX=-trixie \
  PYTEST_ADDOPTS="-m 'not first_leg_only'"
test-py312:
	@tools/setup.sh py312
	for target in sanity units; do $(PY312) $(MAKE) --no-print-directory VENV=.venv-py312 $$target || exit; done
	tools/collection-tarball.sh .venv-py312 .cache/tarball-py312 >/dev/null
	$(PY312) ASGI_COLLECTIONS_PATH_FIRST=$(CURDIR)/.cache/tarball-py312/collections: \
	  $(MAKE) --no-print-directory VENV=.venv-py312 molecule-default

# The default scenario alone; ASGI_TESTHOST_IMAGE chooses the host, ASGI_TESTHOST_PREFIX and
# ASGI_TESTHOST_SUFFIX the container's name (.config/molecule/config.yml). Molecule's state goes
# to a directory of that name, so runs with two names never collide.
molecule-default:
	name=$${ASGI_TESTHOST_PREFIX:-}asgi-uvicorn-default$${ASGI_TESTHOST_SUFFIX:-}; \
	  MOLECULE_EPHEMERAL_DIRECTORY=$(CURDIR)/.cache/molecule/$$name molecule test -s default

# ansible-test, offline but for PyPI (see the script). Sanity runs on the tarball that
# `ansible-galaxy collection build` makes, installed into a collections path of its own: what
# a user gets (tests/, the pytest and testinfra suites, is not shipped). Units run on a copy of
# the checkout, as they need tests/unit. ASGI_VENV=.venv-py312 runs both with that venv's
# Python and ansible-core; `make test-py312` does.
sanity:
	tools/ansible-test.sh --tarball sanity

units:
	tools/ansible-test.sh units

# Sanity on the ansible-core lines that have no scenario leg.
sanity-lines: $(addprefix sanity-,$(SANITY_ONLY_CORES))

$(addprefix sanity-,$(SANITY_ONLY_CORES)): sanity-%:
	@tools/setup.sh core$*
	ASGI_VENV=.venv-core$* tools/ansible-test.sh --tarball sanity

# galaxy-importer, as Galaxy and Automation Hub run it on an upload, on the built tarball, with
# tests/galaxy-importer.cfg; fails on any error or warning. Also checks what
# `ansible-builder introspect` reads from meta/execution-environment.yml.
galaxy-importer:
	@tools/setup.sh tools
	tools/galaxy-importer.sh

# antsibull-docs' linter of the collection's docs: plugin and role docs (markup, references,
# schema) and docs/docsite. The tools venv's ansible-core finds the collection through
# ANSIBLE_COLLECTIONS_PATH (the checkout) and community.crypto in its `ansible` package.
docs-lint:
	@tools/setup.sh tools
	PATH=$(TOOLS):$$PATH antsibull-docs lint-collection-docs --plugin-docs .
	@echo "docs-lint: antsibull-docs lint-collection-docs --plugin-docs: no findings"

# The collection's docs site as antsibull-docs and Sphinx render it (not in `make test`):
# .cache/docs-site/build/html/index.html. See tools/docs-site.sh.
docs-site:
	@tools/setup.sh tools
	tools/docs-site.sh

# README.md's table of role variables, generated from roles/*/meta/argument_specs.yml.
docs:
	python tools/role_docs.py

# Fails when that table is stale, when ansible-doc cannot render the module or a role, or when
# the changelog fragments do not lint.
docs-check:
	python tools/role_docs.py --check
	@for doc in module:asgi.uvicorn.workers filter:asgi.uvicorn.service_action filter:asgi.uvicorn.valid \
	  lookup:asgi.uvicorn.source_digest $$(ls roles | sed 's/^/role:asgi.uvicorn./'); do \
	  out=$$(PAGER=cat ansible-doc -t "$${doc%%:*}" "$${doc#*:}") && grep -q "$${doc#*:}" <<<"$$out" \
	    || { echo "docs-check: 'ansible-doc -t $${doc/:/ }' failed or rendered nothing" >&2; exit 1; }; \
	  echo "docs-check: ansible-doc -t $${doc/:/ } renders ($$(wc -l <<<"$$out") lines)"; \
	done
	antsibull-changelog lint

# Owned by the issue-7 work (benchmark).
bench: setup
	python3 tests/bench/bench.py --update-docs

bench-smoke:
	@tools/setup.sh
	python3 tests/bench/bench.py --smoke

# Re-pin the controller tools after editing tests/requirements.in.
requirements:
	rm -rf .cache/requirements-venv
	python3 -m venv .cache/requirements-venv
	.cache/requirements-venv/bin/pip install -q -r tests/requirements.in
	{ echo "# Generated from tests/requirements.in by 'make requirements' (pip freeze of a fresh venv)."; \
	  .cache/requirements-venv/bin/pip freeze; } > tests/requirements.txt
	rm -rf .cache/requirements-venv-py312
	"$$(tools/python312.sh)" -m venv .cache/requirements-venv-py312
	{ grep -vE '^ansible==' tests/requirements.in; grep -vE '^\s*(#|$$)' tests/requirements-py312.in; } \
	  > .cache/requirements-py312.in
	.cache/requirements-venv-py312/bin/pip install -q -r .cache/requirements-py312.in
	{ echo "# Generated from tests/requirements.in with the ansible pin of tests/requirements-py312.in"; \
	  echo "# by 'make requirements' (pip freeze of a fresh Python 3.12 venv)."; \
	  .cache/requirements-venv-py312/bin/pip freeze; } > tests/requirements-py312.txt
	$(MAKE) --no-print-directory requirements-extra

# The venvs of their own (Python 3.12): the reviewer's tools and the sanity-only core lines.
requirements-extra:
	for leg in tools $(addprefix core,$(SANITY_ONLY_CORES)); do \
	  rm -rf .cache/requirements-venv-$$leg; \
	  "$$(tools/python312.sh)" -m venv .cache/requirements-venv-$$leg; \
	  .cache/requirements-venv-$$leg/bin/pip install -q -r tests/requirements-$$leg.in; \
	  { echo "# Generated from tests/requirements-$$leg.in by 'make requirements'"; \
	    echo "# (pip freeze of a fresh Python 3.12 venv)."; \
	    .cache/requirements-venv-$$leg/bin/pip freeze; } > tests/requirements-$$leg.txt; \
	done
