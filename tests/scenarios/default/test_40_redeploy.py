"""Re-deploys: a code-only change reloads (new workers, same parent); workers=2 scales down live."""
from __future__ import annotations

import json
import re
import shutil
import time

import pytest

from conftest import PROJECT, ps_children, run_deploy, run_workers_module

pytestmark = pytest.mark.first_leg_only


def wait_for_version(https, version: str, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        status, _, body = https("/")
        if status == 200 and json.loads(body)["version"] == version:
            return json.loads(body)
        assert time.monotonic() < deadline, f"still serving {body} after {seconds} s"
        time.sleep(0.5)


def test_code_only_change_reloads(host, app_name, https, tmp_path):
    failed, before = run_workers_module({"unit": app_name, "expected": 4, "timeout": 30})
    assert not failed, before.get("msg")
    source = tmp_path / "app"
    shutil.copytree(PROJECT / "tests" / "sample_app", source)
    (source / "VERSION").write_text("2\n")
    proc = run_deploy({"app_source": str(source)})
    assert proc.returncode == 0, proc.stdout[-3000:]
    # The service role's one decision, as it prints it.
    assert re.search(rf"\b{app_name}: reload \(the release changed", proc.stdout), proc.stdout[-3000:]
    assert not re.search(rf"\b{app_name}: restart \(", proc.stdout)
    wait_for_version(https, "2")
    failed, after = run_workers_module({"unit": app_name, "expected": 4, "timeout": 60})
    assert not failed, after.get("msg")
    assert after["main_pid"] == before["main_pid"], "a code-only change must not restart the parent"
    assert not set(after["worker_pids"]) & set(before["worker_pids"]), "every worker is replaced"


def test_redeploy_with_two_workers(host, app_name, https):
    _, before = run_workers_module({"unit": app_name, "expected": 4, "timeout": 30})
    proc = run_deploy({"workers": 2})
    assert proc.returncode == 0, proc.stdout[-3000:]
    failed, result = run_workers_module({"unit": app_name, "expected": 2, "timeout": 30})
    assert not failed, result.get("msg")
    assert result["main_pid"] == before["main_pid"], "4 -> 2 workers is applied live, without a restart"
    children = ps_children(host, result["main_pid"])
    assert children.workers == result["worker_pids"] and len(children.workers) == 2
    dropin = host.file(f"/etc/systemd/system/{app_name}.service.d/workers.conf").content_string
    assert "ASGI_UVICORN_WORKERS=2" in dropin, "the next start must use the new count too"
    assert https("/health")[0] == 200
