# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The service role's one decision: what a change needs from the running service."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.asgi.uvicorn.plugins.filter.service_action import service_action

RUNNING = {"supervised": True, "workers": 4}


@pytest.mark.parametrize(("changes", "action", "scale", "socket"), [
    ({}, "none", False, False),
    ({"started": True, "unit_changed": True, "release_changed": True}, "none", False, False),
    ({"release_changed": True}, "reload", False, False),
    ({"release_changed": True, "workers_changed": True}, "reload", True, False),
    ({"workers_changed": True}, "scale", True, False),
    ({"env_changed": True, "release_changed": True}, "restart", False, False),
    ({"unit_changed": True, "workers_changed": True}, "restart", False, False),
    ({"socket_changed": True}, "restart", False, True),
    ({"tls_changed": True}, "reload", False, False),
    ({"tls_changed": True, "unit_changed": True}, "restart", False, False),
], ids=["nothing", "just-started", "release", "release-and-count", "count", "env", "unit", "socket", "certificate",
        "certificate-and-unit"])
def test_supervised_service(changes, action, scale, socket):
    decision = service_action({**RUNNING, **changes})
    assert (decision["action"], decision["scale"], decision["restart_socket"]) == (action, scale, socket)
    assert decision["reason"]


def test_a_single_process_restarts_for_a_release_it_cannot_reload():
    assert service_action({"release_changed": True, "supervised": False, "workers": 1})["action"] == "restart"


def test_a_single_process_restarts_for_a_certificate():
    decision = service_action({"tls_changed": True, "supervised": False, "workers": 1})
    assert decision["action"] == "restart" and "certificate" in decision["reason"]


def test_crossing_one_worker_restarts():
    down = service_action({"workers_changed": True, "supervised": True, "workers": 1})
    up = service_action({"workers_changed": True, "supervised": False, "workers": 3})
    assert down["action"] == up["action"] == "restart"


def test_bad_input_is_refused():
    with pytest.raises(AnsibleFilterError, match="unknown keys"):
        service_action({"workers": 2, "relase_changed": True})
    with pytest.raises(AnsibleFilterError, match="integer 'workers'"):
        service_action({"release_changed": True})
    with pytest.raises(AnsibleFilterError, match="maybe"):
        service_action({"workers": 2, "supervised": "maybe"})
