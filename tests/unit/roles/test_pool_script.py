# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How roles/balancer/templates/usr/local/sbin/asgi-uvicorn-pool.j2 reads HAProxy's runtime API
(the scenario `cluster` runs the installed script against a real HAProxy). Its only Jinja is a
comment and the admin socket's path, so the template is the script."""

from __future__ import annotations

import os
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "roles", "balancer", "templates", "usr", "local", "sbin", "asgi-uvicorn-pool.j2")

# What HAProxy 2.6 answers (columns after srv_admin_state cut short): app1 up, app2 drained, app3
# failing its checks, app4 in maintenance; another site's backend beside it.
STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight
3 app 1 10.0.0.5:8000 10.0.0.5 2 0 1
3 app 2 10.0.0.6:8000 10.0.0.6 2 8 1
3 app 3 fd00::7:8000 fd00::7 0 0 1
3 app 4 10.0.0.8:8000 10.0.0.8 0 1 1
"""
STAT = """# pxname,svname,qcur,qmax,scur,smax
app,FRONTEND,,,3,9
app,10.0.0.5:8000,0,0,2,5
app,10.0.0.6:8000,0,0,1,4
app,fd00::7:8000,0,0,0,2
other,10.0.0.5:8000,0,0,7,9
app,BACKEND,0,0,3,9
"""


@pytest.fixture
def pool():
    """The script as the template renders it (without its first line, a Jinja comment), its API canned."""
    with open(SCRIPT) as f:
        first, _, source = f.read().partition("\n")
    assert first.startswith("{#") and first.endswith("#}")
    module = types.ModuleType("asgi_uvicorn_pool")
    exec(compile(source.replace("{{ balancer_admin_socket }}", "/nonexistent"), SCRIPT, "exec"), module.__dict__)
    module.sent = []

    def api(command: str) -> str:
        module.sent.append(command)
        return {"show servers state app": STATE, "show stat": STAT}.get(command, "")
    module.api = api
    return module


def test_servers_reads_state_and_requests_in_flight_of_the_site_only(pool):
    assert pool.servers("app") == {
        "10.0.0.5:8000": {"state": "up", "check_up": True, "sessions": 2},
        "10.0.0.6:8000": {"state": "drain", "check_up": True, "sessions": 1},
        "fd00::7:8000": {"state": "down", "check_up": False, "sessions": 0},
        "10.0.0.8:8000": {"state": "maint", "check_up": False, "sessions": 0},
    }


def test_up_readies_a_drained_server_by_its_name(pool, capsys):
    assert pool.main(["app", "10.0.0.6:8000", "up"]) == 0
    assert "set server app/10.0.0.6:8000 state ready" in pool.sent
    assert capsys.readouterr().out == "changed\n"


def test_an_ipv6_server_is_named_without_brackets(pool, capsys):
    assert pool.main(["app", "[fd00::7]:8000", "up"]) == 0
    assert "set server app/fd00::7:8000 state ready" in pool.sent
    assert capsys.readouterr().out == "unchanged\n"


def test_an_unknown_server_or_a_bad_name_changes_nothing(pool):
    for argv in (["app", "10.0.0.9:8000", "down"], ["app", "10.0.0.5:8000;x", "down"], ["App", "10.0.0.5:8000", "up"]):
        with pytest.raises(SystemExit):
            pool.main(argv)
    assert not [command for command in pool.sent if command.startswith("set ")]
