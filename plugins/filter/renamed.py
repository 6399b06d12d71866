# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: renamed
short_description: "[INTERNAL] The values of variables still set under their old names, with a deprecation warning for each"
version_added: 1.0.0
description:
  - B(Internal to the collection) (used by the roles' checks) - not part of the public API;
    it can change or go in any release, without deprecation.
  - For each old name in O(_input) that the host's variables set, says (as a deprecation
    warning, removal in 2.0.0) which name replaces it, and returns the value to give the new
    name. When the new name is set too, the old one is ignored, and the warning says so.
  - The roles set the returned values as facts before their checks, so the old names keep
    working for one major version (docs/versioning.md).
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
options:
  _input:
    description: Old name to new name.
    type: dict
    required: true
  host_vars:
    description: The host's variables, C(hostvars[inventory_hostname]) (inventory and extra vars, facts).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Take the variables still set under their old names
  ansible.builtin.set_fact:
    "{{ item.name }}": "{{ item.value }}"
  loop: "{{ {'app_keep_releases': 'release_keep'} | asgi.uvicorn.renamed(hostvars[inventory_hostname]) }}"
"""

RETURN = r"""
_value:
  description: One C({name, value}) per old name set whose new name is not set.
  type: list
  elements: dict
"""

from collections.abc import Mapping
from typing import Any

from ansible.utils.display import Display


def renamed(renames: Mapping[str, str], host_vars: Mapping[str, Any]) -> list[dict[str, Any]]:
    taken = []
    for old, new in renames.items():
        if old not in host_vars:
            continue
        if new in host_vars:
            Display().deprecated(f"{old} is ignored: {new}, its new name, is set too. Remove {old}.",
                                 version="2.0.0", collection_name="asgi.uvicorn")
            continue
        Display().deprecated(f"{old} is renamed {new}; rename it in your inventory.",
                             version="2.0.0", collection_name="asgi.uvicorn")
        taken.append({"name": new, "value": host_vars[old]})
    return taken


class FilterModule:
    def filters(self) -> dict:
        return {"renamed": renamed}
