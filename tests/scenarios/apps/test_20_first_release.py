"""A first release that fails its health gate: the failure names the unit and shows the traceback
from its journal; the unit is stopped (no restart every second), the site answers 503 with its
maintenance page, the sample app beside it keeps serving; the next good deploy brings it up."""
from __future__ import annotations

import json

from conftest import HERE, deploy, deployed, get, unit_state

from scenario import app_release, load_through_nginx, play_failures

testinfra_hosts = ["ansible://asgi_uvicorn"]

APP = "broken"
UNIT = f"{APP}.service"
# What broken_app/main.py raises: only the unit's journal has it.
CAUSE = "apps-scenario: this release is broken on purpose"


def test_a_failed_first_release_explains_itself_and_leaves_a_clean_host(host, address, server_name, cacert,
                                                                         tmp_path, figures):
    with load_through_nginx(server_name, address, cacert, rate=20, concurrency=2, path="/health",
                            retry_reused=True) as load:
        proc = deploy(APP, app_source=str(HERE / "broken_app"), release_gate_timeout=30)
    assert proc.returncode != 0
    messages = play_failures(json.loads(proc.stdout))
    story = "\n".join(messages)
    print(f"the failed deploy says:\n{story}")
    assert "failed the health gate" in story and f"Last 20 lines of the journal of {UNIT}:" in story, story
    assert CAUSE in story, story
    assert f"journalctl -u {UNIT} -n 200 --no-pager" in story, story
    assert f"{UNIT} is inactive, disabled" in story, story

    state = unit_state(host, UNIT)
    assert (state["ActiveState"], state["UnitFileState"]) == ("inactive", "disabled"), state
    socket = unit_state(host, f"{APP}.socket")
    assert (socket["ActiveState"], socket["UnitFileState"]) == ("inactive", "disabled"), socket

    page = get(host, address, APP, "/", tmp_path)
    assert page.status == 503 and "Down for maintenance" in page.body, page
    assert "retry-after" in page.headers, page.headers
    assert load["failed"] == 0 and load["total"] > 0, load
    figures.append({"check": "failed first release",
                    "measured": f"unit {state['ActiveState']}/{state['UnitFileState']}; "
                                f"site {page.status}; sample app {load['failed']} failed of {load['total']}"})


def test_the_next_good_deploy_brings_it_up(host, address, tmp_path, figures):
    deployed(APP, app_source=app_release(tmp_path, "fixed"))
    state = unit_state(host, UNIT)
    assert (state["ActiveState"], state["UnitFileState"]) == ("active", "enabled"), state
    answer = get(host, address, APP, "/", tmp_path)
    assert answer.status == 200 and json.loads(answer.body)["version"] == "fixed", answer
    figures.append({"check": "next good deploy", "measured": f"unit {state['ActiveState']}; site {answer.status}"})
