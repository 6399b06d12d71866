# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: source
short_description: "[INTERNAL] Digest and archive of an app's source directory or file on the controller, in one walk"
version_added: 1.0.0
description:
  - B(Internal to the collection) (used by the P(asgi.uvicorn.app#role) role) - not part of the public API;
    it can change or go in any release, without deprecation.
  - For a directory, one walk lists the regular files that are not excluded (no links), in byte
    order of their paths; the digest is the SHA-256 of their C(sha256sum) lines
    (C(<hex>  ./path)), and the archive C(<dir>/<digest>.tar.gz) holds exactly those files. It is
    made once per content and returned as C(archive).
  - For a file (a wheel or sdist), the digest is the SHA-256 of its content and C(archive) is null.
  - The C(asgi.uvicorn.app) role names a release by the digest and sends the archive with
    M(ansible.builtin.unarchive) - a few round trips whatever the number of files.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
options:
  _terms:
    description: Paths on the controller.
    type: list
    elements: path
    required: true
  exclude:
    description:
      - Patterns left out besides the defaults (VCS folders, virtualenvs, C(.env) files, caches,
        C(__pycache__), C(*.pyc), C(node_modules); see C(DEFAULT_EXCLUDE) in the plugin).
      - A pattern without C(/) matches a file or directory name at any depth (shell wildcards); a
        pattern with C(/) matches the path from the top, for example C(docs/build) or C(/data). A
        trailing C(/) is ignored. An excluded directory is not walked.
    type: list
    elements: str
    default: []
  dir:
    description: Where the archives go on the controller.
    type: path
    default: ~/.ansible/tmp/asgi-uvicorn-sources
"""

EXAMPLES = r"""
- name: Name the release after the code and unpack the code into it
  ansible.builtin.unarchive:
    src: "{{ lookup('asgi.uvicorn.source', '/home/me/src/myapp', exclude=['local_data']).archive }}"
    dest: /srv/myapp/releases/1/app
"""

RETURN = r"""
_raw:
  description: One C({digest, archive}) per path.
  type: list
  elements: dict
  sample: [{"digest": "9f2c4d7e0b...", "archive": "/root/.ansible/tmp/asgi-uvicorn-sources/9f2c4d7e0b....tar.gz"}]
"""

import fnmatch
import hashlib
import os
import tarfile
import tempfile

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DEFAULT_EXCLUDE = (".git", ".hg", ".svn", ".bzr", ".venv", "venv", ".env", ".env.*", "__pycache__", "*.pyc",
                   "*.pyo", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox", "node_modules",
                   ".DS_Store")
_CHUNK = 1 << 20


def file_digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            sha.update(chunk)
    return sha.hexdigest()


def excluded(rel: str, patterns: list[str]) -> bool:
    """Whether a path relative to the top ("pkg/mod.py") matches one of the patterns."""
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p.lstrip("/")) if "/" in p else fnmatch.fnmatchcase(name, p) for p in patterns)


def source_files(root: str, exclude: list[str]) -> list[str]:
    """The walk: relative paths ("./pkg/mod.py") of the regular files that make up the source."""
    patterns = list(DEFAULT_EXCLUDE) + [p.rstrip("/") for p in exclude]
    found = []
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = [d for d in dirs if not excluded(prefix + d, patterns)]
        for name in files:
            path = os.path.join(directory, name)
            if not excluded(prefix + name, patterns) and not os.path.islink(path) and os.path.isfile(path):
                found.append("./" + prefix + name)
    return sorted(found, key=os.fsencode)


def source(path: str, exclude: list[str], directory: str) -> dict:
    if os.path.isfile(path):
        return {"digest": file_digest(path), "archive": None}
    if not os.path.isdir(path):
        raise AnsibleLookupError("source: %s is neither a directory nor a file on the controller" % path)
    files = source_files(path, exclude)
    listing = hashlib.sha256()
    for rel in files:
        listing.update(f"{file_digest(os.path.join(path, rel))}  {rel}\n".encode())
    archive = os.path.join(directory, listing.hexdigest() + ".tar.gz")
    if not os.path.isfile(archive):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # Written beside it and renamed: another host's lookup never reads half an archive.
        handle, partial = tempfile.mkstemp(dir=directory, suffix=".partial")
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for rel in files:
                tar.add(os.path.join(path, rel), arcname=rel, recursive=False)
        os.replace(partial, archive)
    return {"digest": listing.hexdigest(), "archive": archive}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        directory = os.path.expanduser(self.get_option("dir"))
        exclude = [str(p) for p in self.get_option("exclude")]
        return [source(os.path.expanduser(str(term)), exclude, directory) for term in terms]
