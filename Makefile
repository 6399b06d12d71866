# The doors (README, CONTRIBUTING.md): `make demo`, `make check`, `make scenario S=<name>`,
# `make test`. Each sets up what it needs first (tools/setup.sh, tools/testhost.sh), skipping
# what is already done.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
# Molecule 25+ also looks under extensions/molecule; this project keeps scenarios in molecule/.
export MOLECULE_GLOB := molecule/*/molecule.yml
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1
# make schedules the targets itself: three at a time (test hosts mostly wait on apt and pip
# inside them), each target's output printed whole when it ends, every target run even when one fails.
MAKEFLAGS += -j3 --keep-going --output-sync=target --no-print-directory

# Every scenario of molecule/, the longest first so that `make -j` ends them together.
SCENARIOS := cluster apps features acme trixie operations default
SCENARIOS += $(filter-out $(SCENARIOS),$(patsubst molecule/%/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))
S ?= default

.PHONY: help demo check test scenario bench docs-site requirements
.PHONY: lint sanity unit inputs docs-check docs-links compat sanity-py312 sanity-core2.20 unit-py312 inputs-py312 galaxy-importer docs-lint bench-smoke
.PHONY: $(addprefix scenario-,$(SCENARIOS)) venv venv-py312 venv-core2.20 venv-tools image-bookworm image-trixie

help:
	@echo "make demo              deploy the sample app with 4 workers to a local systemd test host"
	@echo "make check             every check that needs no test host (lint, sanity, unit, docs, inputs)"
	@echo "make scenario S=name   one Molecule scenario: $(SCENARIOS)"
	@echo "make test              check, the other ansible-core lines, the reviewer's tools, every scenario"
	@echo "make bench             the benchmark of docs/performance.md (5-9 minutes)"
	@echo "make docs-site         the collection's docs site in .cache/docs-site/build/html, its links checked"

# Set-up, each step skipped when already done: the venvs (tools/setup.sh) and the test host
# images (tools/testhost.sh, with the Docker engine).
venv:
	@tools/setup.sh
venv-py312 venv-core2.20 venv-tools: venv-%: | venv
	@tools/setup.sh $*
image-bookworm image-trixie: image-%:
	@tools/testhost.sh $* >/dev/null

demo: | venv image-bookworm
	@tools/demo.sh

check: lint sanity unit inputs docs-check docs-lint docs-links

# The virtualenvs first (seconds when present): a scenario whose virtualenv is not there yet
# gives its turn to the next one, and would end the suite alone.
test: venv venv-py312 venv-core2.20 venv-tools $(addprefix scenario-,$(SCENARIOS)) check compat bench-smoke

scenario:
	@$(MAKE) scenario-$(S)

# A scenario makes sure of its test host image in its recipe rather than as a prerequisite: make
# then starts the scenarios first (the prerequisites of `test` in order), not the short checks
# that would take every job slot while an image is looked for, and the suite ends on short checks.
$(addprefix scenario-,$(filter-out trixie,$(SCENARIOS))): scenario-%: | venv
	@tools/testhost.sh bookworm >/dev/null
	molecule test -s $*

# The second leg of the version matrix: Python 3.12 and the newest ansible-core, the default
# scenario's deploy and checks on a Debian 13 host, deploying the collection as a user gets it
# (the tarball this leg's ansible-galaxy builds, installed).
scenario-trixie: export PATH := $(CURDIR)/.venv-py312/bin:$(PATH)
scenario-trixie: export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/tarball-py312/collections
scenario-trixie: | venv-py312
	@tools/testhost.sh trixie >/dev/null
	tools/collection-tarball.sh .venv-py312 .cache/tarball-py312 >/dev/null
	molecule test -s trixie

# ansible-lint --offline puts $ANSIBLE_HOME/collections (~/.ansible) before the checkout; a
# copy of asgi.uvicorn installed there would be linted against instead of this one.
lint: | venv
	ANSIBLE_HOME=$(CURDIR)/.cache/ansible-lint-home ansible-lint --offline

sanity: | venv
	tools/ansible-test.sh .venv

unit: | venv
	python -m pytest -q tests/unit

# Every input rule of the roles' validation, on localhost (no test host).
inputs: | venv
	python -m pytest -q tests/inputs

# `ansible-doc` renders every plugin and role (the variable reference is the argument specs),
# and the changelog fragments lint.
DOCS := $(foreach f,$(wildcard plugins/modules/*.py plugins/filter/*.py plugins/lookup/*.py),\
  $(subst modules,module,$(word 2,$(subst /, ,$(f)))):asgi.uvicorn.$(basename $(notdir $(f)))) \
  $(patsubst roles/%/,role:asgi.uvicorn.%,$(wildcard roles/*/))
docs-check: | venv
	@for doc in $(DOCS); do \
	  out=$$(PAGER=cat ansible-doc -t "$${doc%%:*}" "$${doc#*:}") && grep -q "$${doc#*:}" <<<"$$out" \
	    || { echo "docs-check: 'ansible-doc -t $${doc/:/ }' failed or rendered nothing" >&2; exit 1; }; \
	  echo "docs-check: ansible-doc -t $${doc/:/ } renders ($$(wc -l <<<"$$out") lines)"; \
	done
	antsibull-changelog lint

# What needs no test host beyond `check`: sanity and the unit tests on the other ansible-core
# lines, and what a Galaxy or Automation Hub reviewer runs on the built tarball (galaxy-importer,
# and the docs site as docs.ansible.com builds it, with its links checked).
compat: sanity-py312 sanity-core2.20 unit-py312 inputs-py312 galaxy-importer docs-site

sanity-py312 sanity-core2.20: sanity-%: | venv-%
	tools/ansible-test.sh .venv-$*

unit-py312: | venv-py312
	.venv-py312/bin/python -m pytest -q tests/unit

# The input rules on the newest ansible-core: every good case, one bad case of each role's rules.
inputs-py312: | venv-py312
	PATH=$(CURDIR)/.venv-py312/bin:$$PATH python -m pytest -q -m 'not first_leg_only' tests/inputs

# galaxy-importer as Galaxy runs it on an upload (tests/galaxy-importer.cfg): 0 errors, 0 warnings.
galaxy-importer: | venv-tools
	tools/galaxy-importer.sh

# antsibull-docs' linter of the plugin and role docs and docs/docsite.
docs-lint: | venv-tools
	PATH=$(CURDIR)/.venv-tools/bin:$$PATH antsibull-docs lint-collection-docs --plugin-docs .
	@echo "docs-lint: antsibull-docs lint-collection-docs --plugin-docs: no findings"

# The guides' reStructuredText for the docs site is what tools/docs-rst.py makes from docs/*.md,
# and every relative link of the Markdown pages names a file (and heading) of the repository.
docs-links: | venv-tools
	.venv-tools/bin/python tools/docs-rst.py --check
	.venv-tools/bin/python tools/docs-links.py

# The site, then every link in it (tools/docs-links.py --site; external links are not fetched).
docs-site: | venv-tools
	tools/docs-site.sh

bench: | venv image-bookworm
	python3 tests/bench/bench.py --update-docs

bench-smoke: | venv image-bookworm
	python3 tests/bench/bench.py --smoke

# Re-pin the venvs after editing tests/requirements*.in (fresh venvs, then pip freeze).
requirements:
	@freeze() { rm -rf .cache/req-$$1 && "$$2" -m venv .cache/req-$$1 && .cache/req-$$1/bin/pip install -q -r "$$3" \
	  && { echo "# Generated from $$4 by 'make requirements' (pip freeze of a fresh venv)."; .cache/req-$$1/bin/pip freeze; } > "$$5"; }; \
	freeze venv python3 tests/requirements.in tests/requirements.in tests/requirements.txt; \
	{ grep -vE '^ansible==' tests/requirements.in; cat tests/requirements-py312.in; } > .cache/requirements-py312.in; \
	freeze py312 "$$(tools/python312.sh)" .cache/requirements-py312.in "tests/requirements.in with tests/requirements-py312.in" tests/requirements-py312.txt; \
	for leg in core2.20 tools; do \
	  freeze $$leg "$$(tools/python312.sh)" tests/requirements-$$leg.in tests/requirements-$$leg.in tests/requirements-$$leg.txt; \
	done
