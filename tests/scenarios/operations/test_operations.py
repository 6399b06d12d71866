"""Zero-downtime operations, each under continuous HTTPS load through nginx (GET /pid, 150 req/s).

The steps run in file order and build on each other: converge deployed release 1 (VERSION 1) with
4 workers; step 1 deploys VERSION 2; scaling leaves 2 workers; the bad releases must leave
VERSION 2 serving with its worker count; the rollback playbook at the end returns to VERSION 1.
"""
from __future__ import annotations

import json
import re
import time

import pytest
from conftest import app_release, host_python, run_deploy, run_workers_module, wait_for

import testhost

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BROKEN_STARTUP = '\nraise RuntimeError("this release fails at startup")\n'
def serving(https) -> dict:
    status, _, body = https("/health")
    assert status == 200, body
    return json.loads(body)


def no_failures(host, report: dict) -> str:
    """The assertion message for a load with failures: what the client saw and nginx's last errors."""
    errors = host.run("tail -n 15 /var/log/nginx/error.log").stdout
    return (f"{report['failed']} of {report['total']} requests failed: {report['failures']}\n"
            f"client: {report.get('failure_samples')}\nnginx error.log (last lines):\n{errors}")


def current_release(host, app_name: str) -> str:
    return host.file(f"/srv/{app_name}/current").linked_to


def workers(app_name: str, expected: int | None = None, timeout: float = 30) -> dict:
    args: dict = {"unit": app_name, "timeout": timeout}
    if expected is not None:
        args["expected"] = expected
    failed, result = run_workers_module(args)
    assert not failed, result.get("msg")
    return result


# What the host runs now: each deploy repeats these (else the inventory's app_source and
# workers would come back) and a successful one updates them.
LIVE: dict = {}


def deploy(extra: dict) -> tuple[object, float]:
    start = time.monotonic()
    proc = run_deploy({**LIVE, **extra})
    if proc.returncode == 0:
        LIVE.update(extra)
    return proc, time.monotonic() - start


def test_redeploy_of_a_code_change_reloads_without_failures(host, app_name, https, load, figures, tmp_path):
    before = workers(app_name, 4)
    with load() as report:
        proc, seconds = deploy({"app_source": app_release(tmp_path, "2")})
    assert proc.returncode == 0, proc.stdout[-3000:]
    after = workers(app_name, 4)
    assert serving(https)["version"] == "2"
    figures.append({"operation": "redeploy, code change (HUP rolling restart)", "load": report,
                    "measured": f"deploy {seconds:.0f} s; parent kept, {len(after['worker_pids'])} new workers"})
    assert after["main_pid"] == before["main_pid"], "a code-only change must not restart the parent"
    assert not set(after["worker_pids"]) & set(before["worker_pids"]), "every worker is replaced"
    assert report["failed"] == 0, no_failures(host, report)


def retried_on_fresh_connections(host) -> int:
    """How often nginx had no server left to try on pooled connections (its error log says "no
    live upstreams"); each such request went on to the retry location's fresh connection."""
    return int(host.run("grep -c 'no live upstreams' /var/log/nginx/error.log").stdout.strip() or 0)


def rolled(host, app_name: str, main_pid: int, old: list[int]):
    """A condition for wait_for: the parent `main_pid` runs as many workers as `old` and none of
    them (a rolling restart is over); its workers then."""
    def check() -> list[int]:
        pid, children = testhost.workers(host.backend.get_hostname(), app_name)
        now = children.workers
        return now if pid == main_pid and len(now) == len(old) and not set(now) & set(old) else []
    return check


def test_rolling_restarts_under_heavy_load(host, app_name, load, figures):
    """Six rolling restarts under 4 times the load, each once the one before is over: with more
    idle pooled connections, a retiring worker can fail several of nginx's tries in a row; the
    retry on a fresh connection catches them."""
    before = workers(app_name, 4)
    retried_before = retried_on_fresh_connections(host)
    live = before["worker_pids"]
    with load(rate=600, concurrency=32) as report:
        for _ in range(6):
            host.check_output(f"systemctl reload {app_name}")
            live = wait_for(rolled(host, app_name, before["main_pid"], live), "a rolling restart replacing every worker")
    after = workers(app_name, 4, timeout=60)
    retried = retried_on_fresh_connections(host) - retried_before
    figures.append({"operation": "6 rolling restarts (HUP), 32 connections at up to 600 requests/s", "load": report,
                    "measured": f"nginx retried {retried} requests on a fresh connection"})
    assert after["main_pid"] == before["main_pid"]
    assert not set(after["worker_pids"]) & set(before["worker_pids"]), "every worker is replaced"
    assert report["failed"] == 0, no_failures(host, report)


@pytest.mark.parametrize("count", [6, 2])
def test_live_scaling_without_failures(host, app_name, https, load, figures, count):
    before = workers(app_name)
    with load() as report:
        proc, seconds = deploy({"workers": count})
    assert proc.returncode == 0, proc.stdout[-3000:]
    after = workers(app_name, count, timeout=0)
    dropin = host.file(f"/etc/systemd/system/{app_name}.service.d/workers.conf").content_string
    figures.append({"operation": f"scale {before['worker_count']} -> {count} workers live (TTIN/TTOU)",
                    "load": report, "measured": f"deploy {seconds:.0f} s; module: {after['worker_count']} workers, "
                    f"parent {'kept' if after['main_pid'] == before['main_pid'] else 'CHANGED'}"})
    assert after["main_pid"] == before["main_pid"], "scaling must not restart the parent"
    # Scaling adds or retires workers and keeps the others: a reload would replace them all.
    kept = set(after["worker_pids"]) & set(before["worker_pids"])
    assert len(kept) == min(count, before["worker_count"]), (before["worker_pids"], after["worker_pids"])
    assert f"ASGI_UVICORN_WORKERS={count}" in dropin, "the next start must use the new count"
    assert report["failed"] == 0, no_failures(host, report)


def test_killed_worker_is_replaced_and_fails_only_requests_in_flight(host, app_name, load, figures):
    """A request a worker is serving when it is killed may be lost (the product cannot answer it
    for the dead worker); no other may fail, and none once the new worker serves."""
    before = workers(app_name)
    with load(record=True) as report:
        probe = json.loads(host_python(host, "probe.py", "kill-worker", app_name, f"/run/{app_name}/uvicorn.sock"))
        after = workers(app_name, before["worker_count"])
    seconds, healthcheck = probe["seconds"], probe["healthcheck_timeout"]
    killed, served = probe["killed_at"], probe["served_at"]
    # [start, end, failed] of every request, on the clock of the probe (time.monotonic); not kept
    # in the figures.
    requests = report.pop("requests")
    in_flight = [r for r in requests if r[0] <= killed < r[1]]
    failed = [r for r in requests if r[2]]
    # Uvicorn's supervisor pings its workers in turn: a worker killed while its ping is
    # unanswered is noticed when that ping times out (docs/operations.md), and only then.
    during_ping = healthcheck <= seconds <= healthcheck + 3
    figures.append({"operation": "kill -9 of a worker", "load": report,
                    "measured": f"new worker after {seconds:.2f} s, serving after "
                    f"{served - killed if served else float('nan'):.2f} s (target <= 2 s"
                    + (f"; killed during a health-check ping of {healthcheck:.0f} s" if during_ping else "")
                    + f"); {len(in_flight)} requests in flight at the kill, {len(failed)} failed"})
    assert probe["victim"] not in after["worker_pids"] and after["main_pid"] == before["main_pid"]
    assert seconds <= 2 or during_ping, probe
    assert served is not None, f"the new worker never answered: {probe}"
    assert [r for r in failed if r[0] >= served] == [], no_failures(host, report)
    assert len(failed) <= len(in_flight), no_failures(host, report)


def test_killed_parent_is_restarted_by_systemd(host, app_name, server_name, load, figures):
    before = workers(app_name)
    with load() as report:
        probe = json.loads(host_python(host, "probe.py", "kill-parent", app_name, server_name))
        after = workers(app_name, before["worker_count"], timeout=60)
    figures.append({"operation": "kill -9 of the parent", "load": report,
                    "measured": f"new parent after {probe['seconds_to_new_parent']} s, serving again after "
                    f"{probe['seconds_to_serving']} s (target <= 5 s)"})
    assert after["main_pid"] == probe["new_main_pid"] != probe["old_main_pid"]
    # systemd's part (RestartSec=1) is asserted tightly. The rest is the new workers' start-up,
    # CPU-bound: on these 2 cores beside two other lanes it has taken from 1 to 4.6 s, so the
    # 5 s target is printed in the table and a bound of three times it is asserted.
    assert probe["seconds_to_new_parent"] is not None and probe["seconds_to_new_parent"] <= 2.5, probe
    assert probe["seconds_to_serving"] is not None and probe["seconds_to_serving"] <= 15, probe


def test_bad_release_is_rolled_back(host, app_name, https, load, figures, tmp_path):
    """A release whose workers never start. (One whose /health answers 500 is the cluster
    scenario's failed gate: the same gate, there on an app host of the rollout.)"""
    live = current_release(host, app_name)
    before = workers(app_name)
    with load() as report:
        # Workers that never come fail the gate after release_gate_timeout: 30 s instead of the
        # default 120 s gives the same failure sooner.
        proc, seconds = deploy({"app_source": app_release(tmp_path, "3", BROKEN_STARTUP), "release_gate_timeout": 30})
    assert proc.returncode != 0, "a release that fails at startup must fail the play"
    output = proc.stdout + proc.stderr
    message = re.search(r"Release (\w+) failed the health gate: (.*)", output)
    assert message, output[-3000:]
    assert "started before" in message.group(2), message.group(0)
    assert f"Rolled back to release {live.rsplit('/', 1)[1]}" in output, output[-2000:]
    assert current_release(host, app_name) == live
    assert serving(https)["version"] == "2"
    after = workers(app_name, before["worker_count"])
    figures.append({"operation": "release that fails at startup: gate fails, rolled back", "load": report,
                    "measured": f"play failed after {seconds:.0f} s; module: {after['worker_count']} workers "
                    f"(before: {before['worker_count']})"})
    assert after["worker_count"] == before["worker_count"]


def test_proxy_config_failing_nginx_t_keeps_the_old_one(host, app_name, https, load, figures):
    site = f"/etc/nginx/sites-available/{app_name}.conf"
    before = host.file(site).sha256sum
    with load() as report:
        proc, seconds = deploy({"proxy_upstream_servers": [f"unix:/run/{app_name}/uvicorn.sock",
                                                           "app-missing.invalid:8000"]})
    assert "proxy_upstream_servers" not in LIVE
    assert proc.returncode != 0, "a site that fails nginx -t must fail the play"
    assert "host not found in upstream" in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert host.file(site).sha256sum == before, "the live site file must not change"
    assert host.service("nginx").is_running
    assert serving(https)["version"] == "2"
    figures.append({"operation": "proxy config failing nginx -t", "load": report,
                    "measured": f"play failed after {seconds:.0f} s; old site file kept and serving"})
    assert report["failed"] == 0, no_failures(host, report)


def test_rollback_playbook_returns_to_the_previous_release(host, app_name, https, load, figures):
    live = current_release(host, app_name)
    previous = host.file(f"/srv/{app_name}/previous").linked_to
    before = workers(app_name)
    with load() as report:
        start = time.monotonic()
        proc = run_deploy({}, playbook="rollback.yml")
        seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert current_release(host, app_name) == previous
    assert host.file(f"/srv/{app_name}/previous").linked_to == live
    assert serving(https)["version"] == "1"
    after = workers(app_name, before["worker_count"])
    figures.append({"operation": "playbooks/rollback.yml (VERSION 2 -> 1)", "load": report,
                    "measured": f"{seconds:.0f} s; parent kept, {len(after['worker_pids'])} new workers"})
    assert after["main_pid"] == before["main_pid"]
    assert report["failed"] == 0, no_failures(host, report)
