#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: drift
short_description: List which files and directories differ from what a role would write
version_added: 0.2.0
description:
  - Compares each given path on the host with its wanted state - type, content checksum, owner,
    group and mode - and returns the paths that differ, in one round trip.
  - A role asks this once, then runs its M(ansible.builtin.template) and M(ansible.builtin.file)
    tasks only for the paths returned. On a host that is already as wanted, that saves the
    several round trips each of those tasks makes just to find nothing to do.
  - Never changes anything.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing) when in diff mode.
    support: none
options:
  paths:
    description: The paths and their wanted state.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path on the host; links are not followed.
        type: path
        required: true
      state:
        description: V(file) (a regular file), V(directory), V(link) (a symbolic link to O(paths[].src)), or V(absent).
        type: str
        choices: [file, directory, link, absent]
        default: file
      src:
        description: The target a V(link) must point to, exactly as written in the link.
        type: str
      checksum:
        description:
          - SHA-1 of the wanted content, for example
            C(lookup('ansible.builtin.template', 'x.j2') | hash('sha1')).
          - Without it the content is not compared. Not logged (the digest of a file of secrets gives them away).
        type: str
      owner:
        description: Wanted owner, a name or a numeric UID.
        type: str
      group:
        description: Wanted group, a name or a numeric GID.
        type: str
      mode:
        description: Wanted permission bits in octal, for example V('0644').
        type: str
notes:
  - Linux and other POSIX hosts.
"""

EXAMPLES = r"""
- name: Find which of the unit files need writing
  asgi.uvicorn.drift:
    paths:
      - path: /etc/systemd/system/myapp.service
        checksum: "{{ lookup('ansible.builtin.template', 'myapp.service.j2') | hash('sha1') }}"
        owner: root
        group: root
        mode: "0644"
      - path: /etc/systemd/system/myapp.service.d
        state: directory
        mode: "0755"
  register: units

- name: Write the unit only when it differs
  ansible.builtin.template:
    src: myapp.service.j2
    dest: /etc/systemd/system/myapp.service
    owner: root
    group: root
    mode: "0644"
  when: "'/etc/systemd/system/myapp.service' in units.drifted"
"""

RETURN = r"""
drifted:
  description: The paths that differ from their wanted state, in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/myapp.service]
reasons:
  description: For each path that differs, what differs.
  returned: always
  type: dict
  sample: {/etc/systemd/system/myapp.service: "content differs"}
"""

import grp
import hashlib
import os
import pwd
import re
import stat
from dataclasses import dataclass

from ansible.module_utils.basic import AnsibleModule

OCTAL_MODE = re.compile(r"^0?[0-7]{3,4}$")


@dataclass(frozen=True)
class Wanted:
    path: str
    state: str = "file"
    src: str | None = None
    checksum: str | None = None
    owner: str | None = None
    group: str | None = None
    mode: str | None = None


def _sha1(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def _owner_matches(wanted: str, uid: int) -> bool:
    if wanted.isdigit():
        return int(wanted) == uid
    try:
        return pwd.getpwnam(wanted).pw_uid == uid
    except KeyError:
        return False  # the user does not exist yet: the task that follows creates or fails


def _group_matches(wanted: str, gid: int) -> bool:
    if wanted.isdigit():
        return int(wanted) == gid
    try:
        return grp.getgrnam(wanted).gr_gid == gid
    except KeyError:
        return False


def difference(wanted: Wanted) -> str | None:
    """What differs between the path on this host and its wanted state; None when nothing."""
    try:
        found = os.lstat(wanted.path)
    except FileNotFoundError:
        return None if wanted.state == "absent" else "missing"
    if wanted.state == "absent":
        return "present"
    if wanted.state == "link":
        if not stat.S_ISLNK(found.st_mode):
            return "not a link"
        return None if os.readlink(wanted.path) == wanted.src else "points elsewhere"
    is_wanted_type = stat.S_ISDIR(found.st_mode) if wanted.state == "directory" else stat.S_ISREG(found.st_mode)
    if not is_wanted_type:
        return "not a %s" % ("directory" if wanted.state == "directory" else "regular file")
    if wanted.owner is not None and not _owner_matches(wanted.owner, found.st_uid):
        return "owner differs"
    if wanted.group is not None and not _group_matches(wanted.group, found.st_gid):
        return "group differs"
    if wanted.mode is not None and int(wanted.mode, 8) != stat.S_IMODE(found.st_mode):
        return "mode differs"
    if wanted.checksum is not None and _sha1(wanted.path) != wanted.checksum.lower():
        return "content differs"
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    path=dict(type="path", required=True),
                    state=dict(type="str", choices=["file", "directory", "link", "absent"], default="file"),
                    src=dict(type="str"),
                    checksum=dict(type="str", no_log=True),
                    owner=dict(type="str"),
                    group=dict(type="str"),
                    mode=dict(type="str"),
                ),
                required_if=[("state", "link", ("src",))],
            ),
        ),
        supports_check_mode=True,
    )
    wanted = [Wanted(**item) for item in module.params["paths"]]
    for item in wanted:
        if not os.path.isabs(item.path):
            module.fail_json(msg="paths: %r is not an absolute path" % item.path)
        if item.mode is not None and not OCTAL_MODE.match(item.mode):
            module.fail_json(msg="paths: the mode of %s must be octal like '0644', got %r" % (item.path, item.mode))
    reasons = {}
    for item in wanted:
        try:
            reason = difference(item)
        except OSError as error:  # unreadable: let the task that follows try, and report why
            reason = "cannot be read: %s" % error
        if reason is not None:
            reasons[item.path] = reason
    module.exit_json(changed=False, drifted=list(reasons), reasons=reasons)


if __name__ == "__main__":
    main()
