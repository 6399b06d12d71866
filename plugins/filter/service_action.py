# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: service_action
short_description: "[INTERNAL] What a change needs from a running Uvicorn service"
version_added: 1.0.0
description:
  - B(Internal to the collection) (used by the P(asgi.uvicorn.service#role) role) - not part of the public API;
    it can change or go in any release, without deprecation.
  - The one place that decides how the C(asgi.uvicorn.service) role applies a change to a running
    service - V(none), V(scale) (add or retire workers live), V(reload) (Uvicorn's rolling restart,
    after a live scale when the worker count changed too) or V(restart).
  - A single Uvicorn process has no supervisor - it can neither scale nor reload (it dies of
    C(SIGHUP)), so it restarts.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
options:
  _input:
    description: What changed and what runs.
    type: dict
    required: true
    suboptions:
      started:
        description: This run started the service; it already runs everything new.
        type: bool
        default: false
      unit_changed:
        description: The service's unit file changed.
        type: bool
        default: false
      socket_changed:
        description: The socket unit changed (restarting the socket stops the service).
        type: bool
        default: false
      workers_changed:
        description: The worker count changed.
        type: bool
        default: false
      env_changed:
        description: The env file changed.
        type: bool
        default: false
      release_changed:
        description: C(current) points to another release.
        type: bool
        default: false
      tls_changed:
        description: The TLS certificate, key or client CA changed (new workers load them, as a new release).
        type: bool
        default: false
      supervised:
        description: A Uvicorn supervisor runs (2 or more workers).
        type: bool
        default: false
      workers:
        description: The worker count the service must run.
        type: int
        required: true
"""

EXAMPLES = r"""
- name: Decide what the change needs
  ansible.builtin.set_fact:
    decision: "{{ {'release_changed': true, 'supervised': true, 'workers': 4} | asgi.uvicorn.service_action }}"
  # decision.action == 'reload', decision.scale == false
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    action:
      description: V(none), V(scale), V(reload) or V(restart).
      type: str
      sample: reload
    scale:
      description: Add or retire workers live (with V(scale), and before the rolling restart of V(reload)).
      type: bool
      sample: false
    restart_socket:
      description: Restart the socket unit first (with V(restart)).
      type: bool
      sample: false
    reason:
      description: Why, in words.
      type: str
      sample: the release changed; a rolling restart keeps serving
"""

from dataclasses import asdict, dataclass

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean


@dataclass(frozen=True)
class Changes:
    workers: int
    started: bool = False
    unit_changed: bool = False
    socket_changed: bool = False
    workers_changed: bool = False
    env_changed: bool = False
    release_changed: bool = False
    tls_changed: bool = False
    supervised: bool = False


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    scale: bool = False
    restart_socket: bool = False


def decide(changes: Changes) -> Decision:
    """Restart wins over reload, reload over scale; none when nothing needs the running service."""
    if changes.started:
        return Decision("none", "started by this run: it already runs the new unit, env and release")
    if changes.socket_changed:
        return Decision("restart", "the socket unit changed", restart_socket=True)
    if changes.unit_changed:
        return Decision("restart", "the unit changed")
    if changes.env_changed:
        return Decision("restart", "the env file changed")
    live = changes.supervised and changes.workers >= 2
    if changes.workers_changed and not live:
        return Decision("restart", f"{changes.workers} worker(s) cannot be reached without a supervisor")
    # Each new worker reads the code and the TLS files afresh.
    new = "the release" if changes.release_changed else "the certificate" if changes.tls_changed else ""
    if new and not changes.supervised:
        return Decision("restart", f"{new} changed and a single process cannot reload")
    if new:
        return Decision("reload", f"{new} changed; a rolling restart keeps serving", scale=changes.workers_changed)
    if changes.workers_changed:
        return Decision("scale", f"the worker count changed to {changes.workers}; applied live", scale=True)
    return Decision("none", "nothing changed")


def service_action(facts: dict) -> dict:
    if not isinstance(facts, dict):
        raise AnsibleFilterError("service_action takes a dict, got %s" % type(facts).__name__)
    unknown = set(facts) - set(Changes.__dataclass_fields__)
    if unknown:
        raise AnsibleFilterError("service_action: unknown keys %s" % ", ".join(sorted(unknown)))
    try:
        workers = int(facts["workers"])
    except (KeyError, TypeError, ValueError) as error:
        raise AnsibleFilterError("service_action needs an integer 'workers': %s" % error)
    try:
        flags = {k: boolean(v, strict=True) for k, v in facts.items() if k != "workers"}
    except TypeError as error:
        raise AnsibleFilterError("service_action: %s" % error)
    return asdict(decide(Changes(workers=workers, **flags)))


class FilterModule:
    def filters(self) -> dict:
        return {"service_action": service_action}
