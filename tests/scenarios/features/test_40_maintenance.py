"""Maintenance: playbooks/maintenance.yml state=on answers 503 with Retry-After without touching
the app (same MainPID and workers) while the health path, the health gate of a deploy and static
files still work; off: 200 again. nginx's own 502 and 504 get the collection's pages."""
from __future__ import annotations

import time

import pytest

from conftest import CSS, UNIT, row, run_deploy, wait_for, workers


def switch(state: str):
    began = time.monotonic()
    proc = run_deploy({"state": state}, playbook="maintenance.yml")
    return proc, time.monotonic() - began


@pytest.fixture
def maintenance_off():
    yield
    switch("off")


def test_maintenance_on_and_off(host, https, figures, maintenance_off):
    before = workers(host)
    proc, took = switch("on")
    assert proc.returncode == 0, proc.stdout[-3000:]
    status, headers, body = https("/")
    assert status == 503 and headers.get("retry-after") == "300", (status, headers)
    assert "maintenance" in body.lower() and "no-store" in headers.get("cache-control", "")
    assert https("/api/ping")[0] == 503
    health = https("/health")
    assert health[0] == 200 and '"status":"ok"' in health[2], health  # the app itself answers
    assert https(CSS)[0] == 200
    assert host.file("/var/lib/asgi-uvicorn-maintenance/sample.on").exists
    assert workers(host) == before, "maintenance touched the app"

    proc_off, took_off = switch("off")
    assert proc_off.returncode == 0, proc_off.stdout[-3000:]
    status, headers, _ = https("/")
    assert status != 503 and "retry-after" not in headers
    assert https("/pid")[0] == 200
    assert workers(host) == before, "maintenance touched the app"
    figures.append(row("maintenance on / off: playbook run",
                       f"{took:.1f} s / {took_off:.1f} s, MainPID {before[0]} kept"))


def test_a_deploy_in_maintenance_passes_its_health_gate_and_keeps_the_page(https, maintenance_off):
    assert switch("on")[0].returncode == 0
    proc = run_deploy({})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert https("/")[0] == 503


def test_nginx_own_502_gets_the_collection_page(host, https, figures):
    """With no upstream listening nginx answers 502 itself: the page, not nginx's default."""
    own = https("/status/502")  # the app's own 502 passes as the app wrote it
    assert own[0] == 502 and '"status":502' in own[2], own
    host.check_output(f"systemctl stop {UNIT}.socket {UNIT}.service")
    try:
        status, headers, body = https("/pid")
    finally:
        host.check_output(f"systemctl start {UNIT}.socket {UNIT}.service")
        wait_for(lambda: len(workers(host)[1]) == 2, "the service's workers")
    figures.append(row("nginx's own 502, no upstream", f"{status}, collection page: {'502 Bad Gateway' in body}"))
    assert status == 502 and "502 Bad Gateway" in body and "<center>nginx</center>" not in body, body
    assert "strict-transport-security" in headers


def test_nginx_own_504_gets_the_collection_page(https, figures):
    """An answer later than proxy_read_timeout (3 s here): nginx's own 504, with the page."""
    began = time.monotonic()
    status, headers, body = https("/sleep/6")
    took = time.monotonic() - began
    figures.append(row("nginx's own 504, answer too late",
                       f"{status} after {took:.1f} s, collection page: {'504 Gateway Timeout' in body}"))
    assert status == 504 and "504 Gateway Timeout" in body and "<center>nginx</center>" not in body, body
    assert "no-store" in headers.get("cache-control", "")

