# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: source_archive
short_description: A gzip tar of an app's source directory on the controller, for one transfer
version_added: 0.3.0
description:
  - Packs the files that C(asgi.uvicorn.source_digest) digests (no C(__pycache__), no top C(.git),
    no C(*.pyc), no links) into C(<dir>/<digest>.tar.gz) on the controller, once per content,
    and returns that path.
  - The C(asgi.uvicorn.app) role sends it with M(ansible.builtin.unarchive) - a few round trips
    to the host whatever the number of files, where copying a directory makes several per file.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
options:
  _terms:
    description: Source directories on the controller.
    type: list
    elements: path
    required: true
  dir:
    description: Where the archives go on the controller.
    type: path
    default: ~/.ansible/tmp/asgi-uvicorn-sources
"""

EXAMPLES = r"""
- name: Unpack the app's code into the release
  ansible.builtin.unarchive:
    src: "{{ lookup('asgi.uvicorn.source_archive', '/home/me/src/myapp') }}"
    dest: /srv/myapp/releases/1/app
"""

RETURN = r"""
_raw:
  description: One archive path per directory.
  type: list
  elements: path
"""

import os
import tarfile
import tempfile

from ansible.plugins.lookup import LookupBase

from ansible_collections.asgi.uvicorn.plugins.lookup.source_digest import source_files, tree_digest


def source_archive(root: str, directory: str) -> str:
    path = os.path.join(directory, tree_digest(root) + ".tar.gz")
    if os.path.isfile(path):
        return path
    os.makedirs(directory, mode=0o700, exist_ok=True)
    # Written beside it and renamed: another host's lookup never reads half an archive.
    handle, partial = tempfile.mkstemp(dir=directory, suffix=".partial")
    with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for rel in source_files(root):
            tar.add(os.path.join(root, rel), arcname=rel, recursive=False)
    os.replace(partial, path)
    return path


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        directory = os.path.expanduser(self.get_option("dir"))
        return [source_archive(os.path.expanduser(str(term)), directory) for term in terms]
