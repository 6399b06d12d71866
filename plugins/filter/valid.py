# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: valid
short_description: "[INTERNAL] Whether a value may be written as it is into a unit file, an nginx site or a path"
version_added: 1.0.0
description:
  - B(Internal to the collection) (used by the roles' and playbooks' checks) - not part of the public API;
    it can change or go in any release, without deprecation.
  - One definition of each rule the roles' checks share. A value that passes is spliced into
    systemd units, nginx sites and paths with no quoting.
  - A list passes when every item does.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
options:
  _input:
    description: The value, or a list of values.
    type: raw
    required: true
  kind:
    description:
      - V(name) - an app, unit or site name, C(^[a-z][a-z0-9_-]{0,31}$).
      - V(account) - a system user or group name.
      - V(plain_path) - an absolute path of letters, digits, C(.), C(_), C(-) and C(/), without C(..).
      - V(dns_name) - a host name such as C(app.example.com), or a wildcard C(*.example.com).
      - V(ip_network) - an IPv4 or IPv6 address or CIDR network.
      - V(host) - an IPv4 or IPv6 address or a host name (no network, no wildcard).
      - V(nginx_size) - a number with an optional C(k), C(m) or C(g).
      - V(url_path) - a URL path for an nginx C(location), such as C(/static/) or C(/health) - C(/),
        then segments of letters, digits, C(.), C(_), C(~) and C(-), each ended by C(/) but the
        last; no empty, C(.) or C(..) segment.
      - V(nginx_rate) - a request rate for C(limit_req_zone), such as C(10r/s) or C(300r/m).
    type: str
    required: true
    choices: [name, account, plain_path, dns_name, ip_network, host, nginx_size, url_path, nginx_rate]
"""

EXAMPLES = r"""
- name: Check a name before it goes into a unit file
  ansible.builtin.assert:
    that: app_name | asgi.uvicorn.valid('name')
"""

RETURN = r"""
_value:
  description: Whether the value (every item of a list) is valid.
  type: bool
"""

import ipaddress
import re

from ansible.errors import AnsibleFilterError

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_ACCOUNT = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_PATH = re.compile(r"/[A-Za-z0-9._/-]+")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SIZE = re.compile(r"[0-9]+[kKmMgG]?")
_URL_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
_RATE = re.compile(r"[1-9][0-9]{0,5}r/[sm]")


def is_name(value) -> bool:
    """An app, unit or site name: lowercase letter first, then letters, digits, '-' or '_' (max 32)."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def is_account(value) -> bool:
    """A system user or group name."""
    return isinstance(value, str) and _ACCOUNT.fullmatch(value) is not None


def is_plain_path(value) -> bool:
    """An absolute path of letters, digits, '.', '_', '-' and '/', without '..' segments."""
    if not isinstance(value, str) or _PATH.fullmatch(value) is None:
        return False
    return ".." not in value.split("/")


def is_dns_name(value) -> bool:
    """A host name such as app.example.com, optionally a wildcard (*.example.com)."""
    if not isinstance(value, str) or not 0 < len(value) <= 253:
        return False
    labels = value.split(".")
    if labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]
    return all(_LABEL.fullmatch(label) for label in labels)


def is_ip_network(value) -> bool:
    """An IPv4 or IPv6 address or network in CIDR notation (10.0.0.2, 10.0.1.0/24, fd00::/8)."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def is_host(value) -> bool:
    """One host: an IPv4 or IPv6 address, or a host name without a wildcard."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return is_dns_name(value) and not value.startswith("*")


def is_nginx_size(value) -> bool:
    """A size in nginx's syntax: a number with an optional k, m or g."""
    return _SIZE.fullmatch(str(value)) is not None


def is_url_path(value) -> bool:
    """A URL path nginx may take as a location as it is: "/", or segments of letters, digits and
    ._~- separated by single slashes, with an optional trailing slash; no "." or ".." segment."""
    if not isinstance(value, str) or not value.startswith("/"):
        return False
    segments = value[1:].removesuffix("/").split("/") if value != "/" else []
    return all(_URL_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments)


def is_nginx_rate(value) -> bool:
    """A rate in limit_req_zone's syntax: requests per second or minute, such as 10r/s."""
    return isinstance(value, str) and _RATE.fullmatch(value) is not None


RULES = {
    "name": is_name,
    "account": is_account,
    "plain_path": is_plain_path,
    "dns_name": is_dns_name,
    "ip_network": is_ip_network,
    "host": is_host,
    "nginx_size": is_nginx_size,
    "url_path": is_url_path,
    "nginx_rate": is_nginx_rate,
}


def valid(value, kind: str) -> bool:
    if kind not in RULES:
        raise AnsibleFilterError("valid: unknown kind %r; use one of %s" % (kind, ", ".join(sorted(RULES))))
    values = value if isinstance(value, (list, tuple)) else [value]
    return all(RULES[kind](item) for item in values)


class FilterModule:
    def filters(self) -> dict:
        return {"valid": valid}
