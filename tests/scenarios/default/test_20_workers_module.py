"""asgi.uvicorn.workers against the real service: replacement, scaling signals, a stopped unit."""
from __future__ import annotations

import json

from conftest import host_python, main_pid, run_workers_module


def test_killed_worker_is_replaced_and_module_waits_for_it(host, app_name):
    failed, before = run_workers_module({"unit": app_name, "expected": 4, "timeout": 30})
    assert not failed, before.get("msg")
    # Timed on the host itself (the ansible round trip would hide it): kill one worker, then
    # poll the parent's spawned children until there are 4 again. That takes up to the unit's
    # --timeout-worker-healthcheck when the kill lands while the supervisor pings the worker.
    probe = json.loads(host_python(host, "probe.py", "kill-worker", app_name))
    victim, replaced_in = probe["victim"], probe["seconds"]
    assert victim in before["worker_pids"] and len(probe["after"]) == 4, probe
    failed, after = run_workers_module({"unit": app_name, "expected": 4, "timeout": 30})
    assert not failed, after.get("msg")
    assert victim not in after["worker_pids"]
    assert len(set(after["worker_pids"]) - set(before["worker_pids"])) == 1
    assert after["main_pid"] == before["main_pid"]
    print(f"worker {victim} killed: a new worker process was spawned after {replaced_in:.2f} s; "
          f"the module then confirmed 4 stable workers after waiting {after['waited']} s")


def test_ttin_adds_a_worker_and_the_module_counts_it(host, app_name):
    host.run(f"kill -TTIN {main_pid(host, app_name)}")
    try:
        failed, five = run_workers_module({"unit": app_name, "expected": 5, "timeout": 30})
        assert not failed, five.get("msg")
        assert five["worker_count"] == 5
        failed, result = run_workers_module({"unit": app_name, "expected": 4, "timeout": 0})
        assert failed
        message = result["msg"]
        assert f"unit {app_name}.service" in message
        assert "expected 4" in message and "found 5" in message
        assert str(five["worker_pids"][0]) in message
    finally:
        host.run(f"kill -TTOU {main_pid(host, app_name)}")
    failed, back = run_workers_module({"unit": app_name, "expected": 4, "timeout": 30})
    assert not failed, back.get("msg")


def test_stopped_service_fails_clearly(host, app_name):
    host.run(f"systemctl stop {app_name}")
    try:
        failed, result = run_workers_module({"unit": app_name, "expected": 4, "timeout": 0})
        assert failed
        assert "Traceback" not in str(result)
        assert f"{app_name}.service" in result["msg"]
        assert "inactive" in result["msg"]
    finally:
        host.run(f"systemctl start {app_name}")
    failed, result = run_workers_module({"unit": app_name, "expected": 4, "timeout": 60})
    assert not failed, result.get("msg")


def test_missing_unit_fails_clearly(host):
    failed, result = run_workers_module({"unit": "no-such-app", "expected": 1, "timeout": 0})
    assert failed
    assert "Traceback" not in str(result)
    assert "no-such-app.service" in result["msg"]
