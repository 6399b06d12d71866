# Two commands matter (see README): `make demo` and `make test`. Everything they need is set up
# by tests/helpers/setup.sh, which skips what is already done.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
# Molecule 25+ also looks under extensions/molecule; this project keeps scenarios in molecule/.
export MOLECULE_GLOB := molecule/*/molecule.yml
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1

.PHONY: help setup demo test lint unit molecule requirements

help:
	@echo "make demo   deploy the sample app with 4 workers to a local systemd test host"
	@echo "make test   lint, unit tests and every molecule scenario"
	@echo "make setup  only the set-up both of them run first"

setup:
	@tests/helpers/setup.sh

demo: setup
	@tests/helpers/demo.sh

test: setup lint unit molecule

lint:
	ansible-lint --offline

unit:
	python -m pytest tests/unit

molecule:
	molecule test --all

# Re-pin the controller tools after editing tests/requirements.in.
requirements:
	rm -rf .cache/requirements-venv
	python3 -m venv .cache/requirements-venv
	.cache/requirements-venv/bin/pip install -q -r tests/requirements.in
	{ echo "# Generated from tests/requirements.in by 'make requirements' (pip freeze of a fresh venv)."; \
	  .cache/requirements-venv/bin/pip freeze; } > tests/requirements.txt
