#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: files
short_description: Make a list of files, directories and links as wanted, in one round trip
version_added: 1.0.0
description:
  - Compares each given path on the host with its wanted state - type, content, owner, group and
    mode - and makes only the paths that differ as wanted, in the order given.
  - A role hands it the whole list of what it writes (rendered by P(asgi.uvicorn.managed_files#filter)).
    On a host that is already as wanted, that costs one round trip instead of one task or more per path.
  - A new file is written beside the old one, checked with O(files[].validate) when given, and
    renamed over it, so a reader never sees half a file and a file that fails its check never
    replaces the old one.
  - A V(absent) path goes, a directory with everything it holds; a removal hands the paths a role
    wrote for an app, in reverse, as P(asgi.uvicorn.managed_files#filter) gives them with
    O(asgi.uvicorn.managed_files#filter:remove=true). A top-level directory such as C(/srv) is never removed.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
extends_documentation_fragment:
  - asgi.uvicorn._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The content of O(files[].private_content) is never shown.
  idempotent:
    support: full
  platform:
    platforms: posix
options:
  files:
    description: The paths and their wanted state, in the order to make them (a directory before what it holds).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path on the host; links are not followed.
        type: path
        required: true
      state:
        description:
          - V(file) (a regular file), V(directory), V(link) (a symbolic link to O(files[].src)), or
            V(absent) (removed; a directory with everything it holds, a link without what it points to).
        type: str
        choices: [file, directory, link, absent]
        default: file
      content:
        description: The wanted content of a V(file).
        type: str
      private_content:
        description:
          - Like O(files[].content), for secrets, in base64 (the form in which Ansible's masking of
            secrets finds it in every log line); never logged nor shown in a diff.
        type: str
      src:
        description: The target a V(link) must point to, exactly as written in the link.
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
      validate:
        description:
          - A command that must pass on a new V(file) before it replaces the old one, with C(%s) for the
            new file's path, for example V(/usr/sbin/visudo -cf %s). Run without a shell.
        type: str
      check_only:
        description:
          - Only compare this path and report it in RV(drifted); another task makes it (a key, a
            certificate, a link to a lineage the CA has yet to issue).
          - A V(file) without content is always only compared.
        type: bool
        default: false
"""

EXAMPLES = r"""
- name: Make the unit, its drop-in directory and the site link as wanted
  asgi.uvicorn.files:
    files:
      - path: /etc/systemd/system/myapp.service.d
        state: directory
        owner: root
        group: root
        mode: "0755"
      - path: /etc/systemd/system/myapp.service
        content: "{{ lookup('ansible.builtin.template', 'myapp.service.j2') }}"
        owner: root
        group: root
        mode: "0644"
      - path: /etc/nginx/sites-enabled/myapp.conf
        state: link
        src: /etc/nginx/sites-available/myapp.conf
  register: myapp_files

- name: Let systemd read the unit again when it changed
  ansible.builtin.systemd_service:
    daemon_reload: true
  when: "'/etc/systemd/system/myapp.service' in myapp_files.written"
"""

RETURN = r"""
written:
  description: The paths made or changed (in check mode, those that would be), in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/myapp.service]
drifted:
  description: Every path that differed from its wanted state, O(files[].check_only) ones included.
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/myapp.service]
removed:
  description: The V(absent) paths removed (in check mode, those that would be), in the order given; also in RV(written).
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/sites-enabled/myapp.conf]
reasons:
  description: For each path that differed, what differed.
  returned: always
  type: dict
  sample: {/etc/systemd/system/myapp.service: "content differs"}
"""

import base64
import contextlib
import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import tempfile
from dataclasses import dataclass

from ansible.module_utils.basic import AnsibleModule

OCTAL_MODE = re.compile(r"^0?[0-7]{3,4}$")


class Refused(Exception):
    """A path this module will not make as wanted (the message says why)."""


@dataclass(frozen=True)
class Wanted:
    path: str
    state: str = "file"
    content: str | None = None
    private_content: str | None = None
    src: str | None = None
    owner: str | None = None
    group: str | None = None
    mode: str | None = None
    validate: str | None = None
    check_only: bool = False

    @property
    def data(self) -> bytes | None:
        if self.private_content is not None:
            return base64.b64decode(self.private_content)
        return None if self.content is None else self.content.encode()


def _uid(owner: str) -> int | None:
    try:
        return int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid
    except KeyError:
        return None  # the user does not exist yet


def _gid(group: str) -> int | None:
    try:
        return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        return None


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


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
    if wanted.owner is not None and _uid(wanted.owner) != found.st_uid:
        return "owner differs"
    if wanted.group is not None and _gid(wanted.group) != found.st_gid:
        return "group differs"
    if wanted.mode is not None and int(wanted.mode, 8) != stat.S_IMODE(found.st_mode):
        return "mode differs"
    if wanted.data is not None and _read(wanted.path) != wanted.data:
        return "content differs"
    return None


def _set_attributes(wanted: Wanted, path: str) -> None:
    uid = -1 if wanted.owner is None else _uid(wanted.owner)
    gid = -1 if wanted.group is None else _gid(wanted.group)
    if uid is None or gid is None:
        raise Refused("%s: no such user or group on the host: %s:%s" % (wanted.path, wanted.owner, wanted.group))
    os.chown(path, uid, gid, follow_symlinks=False)
    if wanted.mode is not None:
        os.chmod(path, int(wanted.mode, 8))


def _write_file(module: AnsibleModule, wanted: Wanted) -> None:
    """The new content beside the old file, checked, then renamed over it."""
    directory, name = os.path.split(wanted.path)
    fd, candidate = tempfile.mkstemp(dir=directory, prefix=".%s." % name, suffix=".new")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(wanted.data or b"")
        _set_attributes(wanted, candidate)
        if wanted.validate:
            rc, out, err = module.run_command(shlex.split(wanted.validate.replace("%s", candidate)))
            if rc != 0:
                raise Refused("%s: the new file failed its check (%s): %s"
                              % (wanted.path, wanted.validate, (err or out).strip()))
        os.replace(candidate, wanted.path)
    finally:
        if os.path.exists(candidate):
            os.unlink(candidate)


def make(module: AnsibleModule, wanted: Wanted, reason: str) -> None:
    """Make one path as wanted, knowing what differs."""
    if wanted.state == "absent":
        if os.path.isdir(wanted.path) and not os.path.islink(wanted.path):
            shutil.rmtree(wanted.path)
        else:
            os.unlink(wanted.path)
    elif wanted.state == "link":
        if os.path.isdir(wanted.path) and not os.path.islink(wanted.path):
            raise Refused("%s: a directory is in the way of the link" % wanted.path)
        candidate = "%s.%d.new" % (wanted.path, os.getpid())
        with contextlib.suppress(FileNotFoundError):
            os.unlink(candidate)
        os.symlink(wanted.src, candidate)
        os.replace(candidate, wanted.path)  # the old link is replaced, never missing
    elif wanted.state == "directory":
        if reason == "missing":
            os.makedirs(wanted.path)  # with the directories above it, as the file module does
        elif reason.startswith("not a"):
            raise Refused("%s: something other than a directory is in the way" % wanted.path)
        _set_attributes(wanted, wanted.path)
    elif reason in ("missing", "content differs"):
        _write_file(module, wanted)
    elif reason.startswith("not a"):
        raise Refused("%s: something other than a regular file is in the way" % wanted.path)
    else:
        _set_attributes(wanted, wanted.path)


def diff(wanted: Wanted, reason: str) -> dict:
    """What diff mode shows for one path, read before it is made."""
    header = {"before_header": wanted.path, "after_header": wanted.path}
    if wanted.data is not None and wanted.private_content is None and reason in ("missing", "content differs"):
        before = "" if reason == "missing" else _read(wanted.path).decode(errors="replace")
        return dict(header, before=before, after=wanted.content)
    attributes = [("state", wanted.state), ("src", wanted.src), ("owner", wanted.owner),
                  ("group", wanted.group), ("mode", wanted.mode)]
    return dict(header, before="%s\n" % reason, after=" ".join("%s=%s" % a for a in attributes if a[1]) + "\n")


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    path=dict(type="path", required=True),
                    state=dict(type="str", choices=["file", "directory", "link", "absent"], default="file"),
                    content=dict(type="str"),
                    private_content=dict(type="str", no_log=True),
                    src=dict(type="str"),
                    owner=dict(type="str"),
                    group=dict(type="str"),
                    mode=dict(type="str"),
                    validate=dict(type="str"),
                    check_only=dict(type="bool", default=False),
                ),
                required_if=[("state", "link", ("src",))],
                mutually_exclusive=[("content", "private_content")],
            ),
        ),
        supports_check_mode=True,
    )
    wanted = [Wanted(**item) for item in module.params["files"]]
    for item in wanted:
        if not os.path.isabs(item.path):
            module.fail_json(msg="files: %r is not an absolute path" % item.path)
        if item.mode is not None and not OCTAL_MODE.match(item.mode):
            module.fail_json(msg="files: the mode of %s must be octal like '0644', got %r" % (item.path, item.mode))
        if item.state == "absent" and os.path.dirname(item.path.rstrip("/")) in ("/", ""):
            module.fail_json(msg="files: %s is a top-level directory, which is never removed" % item.path)
    reasons: dict[str, str] = {}
    written: list[str] = []
    removed: list[str] = []
    diffs: list[dict] = []
    for item in wanted:
        try:
            reason = difference(item)
        except OSError as error:
            module.fail_json(msg="%s cannot be read: %s" % (item.path, error), written=written)
        if reason is None:
            continue
        reasons[item.path] = reason
        if item.check_only or (item.state == "file" and item.data is None):
            continue
        if module._diff:
            diffs.append(diff(item, reason))
        if not module.check_mode:
            try:
                make(module, item, reason)
            except Refused as error:
                module.fail_json(msg=str(error), written=written, reasons=reasons)
            except OSError as error:
                module.fail_json(msg="%s: %s" % (item.path, error), written=written, reasons=reasons)
        written.append(item.path)
        if item.state == "absent":
            removed.append(item.path)
    result = dict(changed=bool(written), written=written, removed=removed, drifted=list(reasons), reasons=reasons)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
