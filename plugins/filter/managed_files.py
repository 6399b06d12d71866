# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: managed_files
short_description: A role's list of the files it writes, ready for asgi.uvicorn.drift and the writer
version_added: 0.3.0
description:
  - Takes a role's C(__<role>_files) list and drops the entries whose C(when) is false.
  - With O(contents) (the templates of the remaining entries rendered once, in order, by
    C(query('ansible.builtin.template', ...))) each entry with a C(template) gets its C(content);
    each entry with a C(content) (rendered, or given as such) gets its SHA-1 as C(checksum);
    files and directories get owner and group C(root) unless they say.
  - Each entry kept also gets C(drift), the keys of it that M(asgi.uvicorn.drift) compares.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
options:
  _input:
    description: The entries, each with C(path) and optionally C(state), C(template), C(src), C(owner),
      C(group), C(mode), C(validate), C(when), C(no_log) and C(scope).
    type: list
    elements: dict
    required: true
  contents:
    description: The rendered templates of the entries kept, in their order.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Render the templates once
  ansible.builtin.set_fact:
    wanted: "{{ files | asgi.uvicorn.managed_files(query('ansible.builtin.template', *templates)) }}"
  vars:
    templates: "{{ files | asgi.uvicorn.managed_files | selectattr('template', 'defined') | map(attribute='template') }}"
"""

RETURN = r"""
_value:
  description: The entries kept, with C(drift), and C(content) and C(checksum) when O(contents) is given.
  type: list
  elements: dict
"""

import hashlib

from ansible.errors import AnsibleFilterError

# What asgi.uvicorn.drift compares; the other keys are for the writer and for removal.
DRIFT_KEYS = ("path", "state", "src", "checksum", "owner", "group", "mode")


def _true(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def managed_files(entries: list[dict], contents: list[str] | None = None) -> list[dict]:
    kept = [{k: v for k, v in e.items() if k != "when"} for e in entries if _true(e.get("when", True))]
    if contents is None:
        return kept
    templated = [e for e in kept if "template" in e]
    if len(templated) != len(contents):
        raise AnsibleFilterError("managed_files: %d templates but %d contents" % (len(templated), len(contents)))
    for entry, content in zip(templated, contents):
        entry["content"] = content
    for entry in kept:
        if "content" in entry:
            entry["checksum"] = hashlib.sha1(entry["content"].encode()).hexdigest()
        if entry.get("state", "file") in ("file", "directory"):
            entry.setdefault("owner", "root")
            entry.setdefault("group", "root")
        entry["drift"] = {k: entry[k] for k in DRIFT_KEYS if k in entry}
    return kept


class FilterModule:
    def filters(self):
        return {"managed_files": managed_files}
