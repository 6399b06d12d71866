# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: source_digest
short_description: SHA-256 digest of an app's source directory or file on the controller
version_added: 0.2.0
description:
  - For a directory, a digest of every regular file's relative path and content, in byte order
    of the paths, leaving out C(__pycache__) directories, C(.git) at the top and C(*.pyc) files.
    It equals C(find . -type f ... | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum).
  - For a file (a wheel or sdist), the SHA-256 of its content.
  - The C(asgi.uvicorn.app) role names a release by it, so unchanged code builds nothing new.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
options:
  _terms:
    description: Paths on the controller.
    type: list
    elements: path
    required: true
"""

EXAMPLES = r"""
- name: Name the release after the code
  ansible.builtin.debug:
    msg: "{{ lookup('asgi.uvicorn.source_digest', '/home/me/src/myapp') }}"
"""

RETURN = r"""
_raw:
  description: One hex digest per path.
  type: list
  elements: str
  sample: ["9f2c4d7e0b..."]
"""

import hashlib
import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

_CHUNK = 1 << 20


def file_digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            sha.update(chunk)
    return sha.hexdigest()


def source_files(root: str) -> list[str]:
    """Relative paths (as `find .` prints them) of the files that make up the source."""
    found = []
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (rel_dir == "." and d == ".git")]
        for name in files:
            path = os.path.join(directory, name)
            if name.endswith(".pyc") or os.path.islink(path) or not os.path.isfile(path):
                continue
            found.append("./" + os.path.normpath(os.path.join(rel_dir, name)))
    return sorted(found, key=os.fsencode)


def tree_digest(root: str) -> str:
    """The digest of `sha256sum` lines ("<hex>  ./path") over the source files."""
    listing = hashlib.sha256()
    for rel in source_files(root):
        listing.update(f"{file_digest(os.path.join(root, rel))}  {rel}\n".encode())
    return listing.hexdigest()


def source_digest(path: str) -> str:
    if os.path.isdir(path):
        return tree_digest(path)
    if os.path.isfile(path):
        return file_digest(path)
    raise AnsibleLookupError("source_digest: %s is neither a directory nor a file on the controller" % path)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return [source_digest(os.path.expanduser(str(term))) for term in terms]
