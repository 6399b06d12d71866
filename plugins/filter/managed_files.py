# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: managed_files
short_description: "[INTERNAL] A role's list of the files it writes, ready for asgi.uvicorn.files"
version_added: 1.0.0
description:
  - B(Internal to the collection) (used by every role for its list of files) - not part of the public API;
    it can change or go in any release, without deprecation.
  - Takes a role's C(__<role>_files) list and drops the entries whose C(when) is false.
  - With O(contents) (the templates of the remaining entries rendered once, in order, by
    C(query('ansible.builtin.template', ...))) it returns the entries as M(asgi.uvicorn.files) takes
    them - each C(template) replaced by its content (C(private_content), in base64, when the entry
    says C(no_log)), files and directories owned by C(root) unless they say, and the keys that are only
    for the role (C(scope)) left out.
  - With O(remove=true) it returns what removes an app instead - each C(scope=app) entry whatever
    its C(when) (whatever the deploy's variables were, nothing of the app stays), in reverse order
    (a link before what it points to, what a directory holds before the directory), once per path,
    with C(state=absent); C(scope=host) entries, shared by every app on the host, stay.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
options:
  _input:
    description: The entries, each with C(path) and optionally C(state), C(template), C(content), C(src),
      C(owner), C(group), C(mode), C(validate), C(check_only), C(when), C(no_log) and C(scope).
    type: list
    elements: dict
    required: true
  contents:
    description: The rendered templates of the entries kept, in their order.
    type: list
    elements: str
  remove:
    description: Return the C(scope=app) entries as V(absent), in reverse order, for a removal.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Make the role's files as wanted, each template rendered once
  asgi.uvicorn.files:
    files: "{{ files | asgi.uvicorn.managed_files(query('ansible.builtin.template', *templates)) }}"
  vars:
    templates: "{{ files | asgi.uvicorn.managed_files | selectattr('template', 'defined') | map(attribute='template') }}"

- name: Remove what the role wrote for the app, the other way round
  asgi.uvicorn.files:
    files: "{{ files | asgi.uvicorn.managed_files(remove=true) }}"
"""

RETURN = r"""
_value:
  description: The entries kept; with O(contents), in the form M(asgi.uvicorn.files) takes.
  type: list
  elements: dict
"""

import base64

from ansible.errors import AnsibleFilterError

# What asgi.uvicorn.files takes; the other keys are for the role (scope: what a removal walks).
FILES_KEYS = ("path", "state", "content", "src", "owner", "group", "mode", "validate", "check_only")


def _true(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def managed_files(entries: list[dict], contents: list[str] | None = None, remove: bool = False) -> list[dict]:
    if _true(remove):
        paths = [e["path"] for e in reversed(entries) if e.get("scope") == "app"]
        return [{"path": path, "state": "absent"} for path in dict.fromkeys(paths)]
    kept = [{k: v for k, v in e.items() if k != "when"} for e in entries if _true(e.get("when", True))]
    if contents is None:
        return kept
    templated = [e for e in kept if "template" in e]
    if len(templated) != len(contents):
        raise AnsibleFilterError("managed_files: %d templates but %d contents" % (len(templated), len(contents)))
    for entry, content in zip(templated, contents):
        entry["content"] = content
    wanted = []
    for entry in kept:
        if entry.get("state", "file") in ("file", "directory"):
            entry.setdefault("owner", "root")
            entry.setdefault("group", "root")
        item = {k: entry[k] for k in FILES_KEYS if k in entry}
        if _true(entry.get("no_log", False)) and "content" in item:
            item["private_content"] = base64.b64encode(item.pop("content").encode()).decode()
        wanted.append(item)
    return wanted


class FilterModule:
    def filters(self):
        return {"managed_files": managed_files}
