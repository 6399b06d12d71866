# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each role's defaults/main.yml and meta/argument_specs.yml say the same thing.

The argument spec owns types, choices and defaults; defaults/main.yml must list exactly its
options, with the same literal defaults (a templated default, e.g. one that follows another
role's published fact, is documented in words and has no `default:` in the spec).
"""

from __future__ import annotations

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = sorted(os.listdir(os.path.join(ROOT, "roles")))


def load(role: str, path: str) -> dict:
    with open(os.path.join(ROOT, "roles", role, path)) as f:
        return yaml.safe_load(f) or {}


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_the_argument_spec(role):
    defaults = load(role, "defaults/main.yml")
    options = load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    required = {name for name, spec in options.items() if spec.get("required")}
    assert sorted(set(defaults) - set(options)) == [], "defaults without a documented option"
    assert sorted(set(options) - set(defaults) - required) == [], "options without a default"
    for name, spec in options.items():
        if name not in defaults:
            continue
        templated = "{{" in str(defaults[name])
        if templated:
            assert "default" not in spec, f"{name}: a templated default is described in words, not in the spec"
        else:
            assert spec.get("default") == defaults[name], f"{name}: spec says {spec.get('default')!r}"


@pytest.mark.parametrize("role", ROLES)
def test_every_entry_point_has_a_spec(role):
    specs = load(role, "meta/argument_specs.yml")["argument_specs"]
    internal = {"links.yml", "publish.yml", "decide.yml", "build.yml", "running.yml", "selfsigned.yml",
                "validate_source.yml"}
    tasks = sorted(name[:-4] for name in os.listdir(os.path.join(ROOT, "roles", role, "tasks"))
                   if name.endswith(".yml") and name not in internal
                   and not name.startswith(("source_", "place_", "tls_")))
    assert sorted(specs) == tasks
