# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.asgi.uvicorn.plugins.modules import workers
from ansible_collections.asgi.uvicorn.tests.unit.plugins.modules.utils import ExitJson, FailJson, patch_exits, run_main


@pytest.fixture
def run(monkeypatch, fake_proc):
    """Run workers.main() against the fake /proc and a scripted ``systemctl show``."""
    calls = []
    show = {"out": "MainPID=1234\nActiveState=active\nSubState=running\nLoadState=loaded\n", "rc": 0, "err": ""}

    def run_command(self, cmd, *args, **kwargs):
        calls.append(cmd)
        out = show["out"]() if callable(show["out"]) else show["out"]
        return show["rc"], out, show["err"]

    patch_exits(monkeypatch)
    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    monkeypatch.setattr(workers, "PROC_ROOT", str(fake_proc.root))
    monkeypatch.setattr(workers, "SETTLE_SECONDS", 0.02)
    monkeypatch.setattr(workers, "POLL_INTERVAL", 0.005)

    def _run(args, expect=ExitJson):
        return run_main(workers.main, args, expect)

    _run.calls = calls
    _run.show = show
    return _run


def test_reports_workers_of_unit(run, uvicorn_tree, argvs):
    result = run({"unit": "app"})
    assert run.calls == [["/usr/bin/systemctl", "show", "--property=MainPID,ActiveState,SubState,LoadState",
                          "--", "app.service"]]
    assert result["changed"] is False
    assert result["unit"] == "app.service"
    assert result["main_pid"] == 1234
    assert result["worker_pids"] == [1301, 1302, 1305]
    assert result["worker_count"] == 3
    assert result["expected"] is None
    assert result["active_state"] == "active" and result["sub_state"] == "running"
    assert result["waited"] == 0
    assert result["workers"][1] == {"pid": 1302, "rss_bytes": 51200 * 1024, "cmdline": " ".join(argvs.spawn(8)),
                                    "started_at": result["workers"][1]["started_at"],
                                    "started_epoch": result["workers"][1]["started_epoch"]}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", result["workers"][1]["started_at"])


def test_expected_matches_in_check_mode(run, uvicorn_tree):
    result = run({"unit": "app.service", "expected": 3, "timeout": 5, "_ansible_check_mode": True})
    assert result["changed"] is False
    assert result["worker_count"] == 3 and result["expected"] == 3
    assert 0.02 <= result["waited"] < 5  # waited for the settle period, not the timeout


def test_expected_mismatch_message(run, uvicorn_tree):
    result = run({"unit": "app", "expected": 4, "timeout": 0.05}, expect=FailJson)
    assert re.fullmatch(
        r"unit app\.service \(MainPID 1234\): expected 4 Uvicorn workers, found 3: \[1301, 1302, 1305\] "
        r"after waiting 0\.\d s", result["msg"]), result["msg"]
    # The return fields come with the failure too.
    assert result["worker_pids"] == [1301, 1302, 1305]
    assert result["worker_count"] == 3 and result["expected"] == 4 and result["main_pid"] == 1234
    assert result["active_state"] == "active"
    assert result["waited"] >= 0.05


def test_expected_mismatch_timeout_zero(run, uvicorn_tree):
    result = run({"unit": "app", "expected": 2, "timeout": 0}, expect=FailJson)
    assert result["msg"] == ("unit app.service (MainPID 1234): expected 2 Uvicorn workers, found 3: "
                             "[1301, 1302, 1305] (checked once, timeout 0)")
    assert len(run.calls) == 1


def test_missing_unit_fails_at_once(run, fake_proc):
    run.show["out"] = "MainPID=0\nActiveState=inactive\nSubState=dead\nLoadState=not-found\n"
    result = run({"unit": "nope", "expected": 2, "timeout": 30}, expect=FailJson)
    assert result["msg"] == "unit nope.service: does not exist (LoadState=not-found)"
    assert result["waited"] == 0 and len(run.calls) == 1
    assert result["worker_pids"] == [] and result["main_pid"] == 0
    assert result["active_state"] == "inactive"


def test_failed_unit_is_polled_until_timeout(run, fake_proc):
    run.show["out"] = "MainPID=0\nActiveState=failed\nSubState=failed\nLoadState=loaded\n"
    result = run({"unit": "app", "expected": 2, "timeout": 0.05}, expect=FailJson)
    assert result["msg"].startswith(
        "unit app.service: is not running (ActiveState=failed, SubState=failed, MainPID 0) after waiting 0.")
    assert result["msg"].endswith("; see journalctl -u app.service")
    assert len(run.calls) > 1
    assert result["sub_state"] == "failed"


def test_restarting_unit_comes_back(run, uvicorn_tree):
    states = iter(["MainPID=0\nActiveState=activating\nSubState=auto-restart\nLoadState=loaded\n"] * 3)
    up = "MainPID=1234\nActiveState=active\nSubState=running\nLoadState=loaded\n"
    run.show["out"] = lambda: next(states, up)
    result = run({"unit": "app", "expected": 3, "timeout": 5})
    assert result["worker_count"] == 3 and result["active_state"] == "active"
    assert len(run.calls) >= 4


def test_systemctl_error_is_reported(run, fake_proc):
    run.show.update(rc=1, out="", err="System has not been booted with systemd as init system (PID 1).\n")
    result = run({"unit": "app"}, expect=FailJson)
    assert result["msg"] == ("unit app.service: systemctl show failed (rc=1): "
                             "System has not been booted with systemd as init system (PID 1).")


def test_pid_option(run, uvicorn_tree):
    result = run({"pid": 1234, "expected": 3})
    assert result["worker_pids"] == [1301, 1302, 1305]
    assert result["unit"] is None and result["active_state"] is None
    assert run.calls == []


def test_pid_gone_fails_without_waiting(run, fake_proc):
    result = run({"pid": 4321, "expected": 3, "timeout": 30}, expect=FailJson)
    assert result["msg"] == "PID 4321: process 4321 is not running"
    assert result["main_pid"] == 4321


def test_pidfile_option(run, uvicorn_tree, tmp_path):
    pidfile = tmp_path / "app.pid"
    pidfile.write_text("1234\n")
    result = run({"pidfile": str(pidfile), "expected": 2, "timeout": 0}, expect=FailJson)
    assert result["msg"].startswith("pidfile %s (PID 1234): expected 2 Uvicorn workers, found 3" % pidfile)
    result = run({"pidfile": str(tmp_path / "missing.pid"), "timeout": 0}, expect=FailJson)
    assert result["msg"] == "pidfile %s: does not exist (checked once, timeout 0)" % (tmp_path / "missing.pid")


@pytest.mark.parametrize("args, message", [
    ({}, "one of the following is required: unit, pid, pidfile"),
    ({"unit": "app", "pid": 1}, "parameters are mutually exclusive: unit|pid|pidfile"),
    ({"unit": "app", "expected": 0}, "expected must be at least 1, got 0"),
    ({"unit": "app", "timeout": -1}, "timeout must be 0 (check once) or more seconds, got -1.0"),
    ({"pid": 0}, "pid must be a positive integer, got 0"),
])
def test_argument_validation(run, args, message):
    result = run(args, expect=FailJson)
    assert result["msg"] == message
    assert run.calls == []


def test_documentation_matches_argument_spec():
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(workers.DOCUMENTATION)
    assert doc["module"] == "workers"
    assert set(doc["options"]) == {"unit", "pid", "pidfile", "expected", "timeout", "started_after", "scale"}
    assert doc["options"]["timeout"]["default"] == 30.0
    ret = yaml.safe_load(workers.RETURN)
    assert set(ret) == {"main_pid", "worker_pids", "worker_count", "expected", "workers", "unit",
                        "active_state", "sub_state", "waited", "scaled_from", "supervised"}
    yaml.safe_load(workers.EXAMPLES)


# --------------------------------------------------- started_after, scale ---

def test_started_after_passes_for_newer_workers(run, uvicorn_tree):
    # fake tree: btime 1700000000, workers started 50.2 s later
    result = run({"unit": "app", "expected": 3, "started_after": 1700000040.0, "timeout": 0})
    assert result["worker_count"] == 3


def test_started_after_fails_for_older_workers(run, uvicorn_tree):
    result = run({"unit": "app", "expected": 3, "started_after": 1700000100.0, "timeout": 0.05}, expect=FailJson)
    assert "3 of 3 started before: [1301, 1302, 1305]" in result["msg"]
    assert result["msg"].startswith("unit app.service (MainPID 1234): expected 3 Uvicorn workers started after")


def test_scale_needs_expected(run, uvicorn_tree):
    result = run({"unit": "app", "scale": True}, expect=FailJson)
    assert "expected" in result["msg"]


def test_scale_in_check_mode_sends_nothing(run, uvicorn_tree, monkeypatch):
    sent = []
    monkeypatch.setattr(workers.os, "kill", lambda pid, sig: sent.append((pid, sig)))
    result = run({"unit": "app", "expected": 5, "scale": True, "_ansible_check_mode": True})
    assert result["changed"] is True and result["scaled_from"] == 3
    assert result["worker_count"] == 3 and sent == []


def test_scale_unchanged_when_count_matches(run, uvicorn_tree):
    result = run({"unit": "app", "expected": 3, "scale": True, "timeout": 1})
    assert result["changed"] is False and result["scaled_from"] is None


def test_scale_signals_supervisor_until_count(run, uvicorn_tree, argvs, monkeypatch):
    sent = []

    def kill(pid, sig):
        sent.append((pid, sig))
        if sig == workers.signal.SIGTTIN:
            uvicorn_tree.add(1400 + len(sent), 1234, argvs.spawn(20 + len(sent)), starttime=6000 + len(sent))
    monkeypatch.setattr(workers.os, "kill", kill)
    result = run({"unit": "app", "expected": 5, "scale": True, "timeout": 2})
    assert sent == [(1234, workers.signal.SIGTTIN)] * 2
    assert result["changed"] is True and result["scaled_from"] == 3 and result["worker_count"] == 5


def test_scale_single_process_fails_clearly(run, fake_proc, argvs):
    fake_proc.add(1234, 1, argvs.supervisor(1), comm="uvicorn", starttime=5000, environ={})
    result = run({"unit": "app", "expected": 3, "scale": True, "timeout": 0.1}, expect=FailJson)
    assert "single process" in result["msg"] and "--workers 3" in result["msg"]


def test_scale_that_stops_half_way_reports_changed(run, uvicorn_tree, monkeypatch):
    sent = []
    monkeypatch.setattr(workers.os, "kill", lambda pid, sig: sent.append((pid, sig)))  # a deaf supervisor
    result = run({"unit": "app", "expected": 5, "scale": True, "timeout": 0.1}, expect=FailJson)
    assert result["msg"] == ("unit app.service: scaling from 3 to 5 workers stopped at 3 workers (steps: [3]): "
                             "a signal had no effect within 0.1 s")
    assert sent == [(1234, workers.signal.SIGTTIN)]
    assert result["changed"] is True and result["scaled_from"] == 3
    assert result["main_pid"] == 1234 and result["active_state"] == "active"
    assert result["worker_pids"] == [] and result["waited"] == 0.0
